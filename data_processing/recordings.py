"""The recordings of a raw dataset folder: speech paired with motion and transcripts, checked.

Layouts: ``speech/`` + ``motion/`` (this project and IVA'19), ``wav/`` + ``bvh/`` (GENEA),
``wave16k/`` + ``smplxflame_30/`` + ``textgrid/`` (BEAT2), or all kinds side by side. Files pair
by :func:`data_processing.motion.pairing_key`; ``prepare_data.py`` is the step that uses this.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import NamedTuple

from data_processing import audio, smplx
from data_processing.bvh import Skeleton, read_bvh
from data_processing.files import (
    AUDIO_SUFFIXES,
    PipelineError,
    PipelineErrors,
    attempt,
    complete_interrupted_commit,
    list_inputs,
)
from data_processing.motion import from_smplx, pairing_key
from data_processing.parallel import file_seconds
from data_processing.transcripts import TRANSCRIPT_SUFFIXES, read_transcript
from data_processing.validation import validate_all

log = logging.getLogger(__name__)

SPEECH_DIRS = ("speech", "wav", "audio", "wave16k")
MOTION_DIRS = ("motion", "bvh", "gesture", "smplxflame_30")
TRANSCRIPT_DIRS = ("textgrid", "transcripts", "transcript")
MOTION_SUFFIXES = (".bvh", ".npz")
DURATION_TOLERANCE = 0.5  # seconds of audio/motion difference reported (create_vector's default)


class Recording(NamedTuple):
    """The files of one recording (``recording[0]`` is the speech, ``[1]`` the motion)."""

    speech: Path
    motion: Path
    transcript: Path | None = None


class MotionSettings(NamedTuple):
    """How SMPL-X motion files become motion (BVH files need none of it).

    Attributes
    ----------
    smplx_model : pathlib.Path or None
        The user's SMPL-X model file (rest offsets from each file's ``betas``).
    smplx_joints : {"all", "body"}
        Joint set (:data:`data_processing.smplx.JOINT_SETS`).
    template : Skeleton or None
        The approximate skeleton used when no model is given.
    """

    smplx_model: Path | None = None
    smplx_joints: str = "all"
    template: Skeleton | None = None


def _folder(raw_dir: Path, names: tuple[str, ...]) -> Path | None:
    """The first of ``names`` that is a folder of ``raw_dir`` (any letter case), or ``None``.

    Any case: GENEA 2020 ships ``Audio/`` and ``Motion/``.
    """
    folders = {p.name.lower(): p for p in sorted(raw_dir.iterdir()) if p.is_dir()}
    return next((folders[n] for n in names if n in folders), None)


def _find_files(raw_dir: Path, names: tuple[str, ...], suffixes, what: str) -> list[Path]:
    """The ``suffixes`` files of the first of ``names`` that exists, else of ``raw_dir``."""
    folder = _folder(raw_dir, names)
    if folder is not None:
        return list_inputs(folder, suffixes)
    files = list_inputs(raw_dir, suffixes)
    if not files:
        raise PipelineError(f"{raw_dir}: no {what} files ({', '.join(suffixes[:4])}, ...; looked "
                            f"in {', '.join(names)} and itself)")
    return files


def _by_key(files: list[Path], what: str) -> dict[str, Path]:
    """``key -> file``; two files of one key are an error."""
    out: dict[str, Path] = {}
    for path in files:
        key = pairing_key(path.stem)
        if key in out:
            raise PipelineError(f"{path}: {out[key].name} is the {what} of recording {key!r} "
                                "too; keep one")
        out[key] = path
    return out


def find_pairs(raw_dir, *, strict: bool = False) -> dict[str, Recording]:
    """Pair speech with motion by :func:`pairing_key`, report the unpaired, add transcripts.

    Returns
    -------
    dict
        ``key -> Recording``, sorted by key.

    Raises
    ------
    PipelineError
        No pairs; an unpaired file with ``strict``; transcripts for some recordings only.
    """
    raw_dir = Path(raw_dir)
    if not raw_dir.is_dir():
        raise PipelineError(f"{raw_dir}: no such directory")
    complete_interrupted_commit(raw_dir)  # e.g. make_demo_dataset.py killed while committing
    speech = _by_key(_find_files(raw_dir, SPEECH_DIRS, AUDIO_SUFFIXES, "speech"), "speech")
    motion = _by_key(_find_files(raw_dir, MOTION_DIRS, MOTION_SUFFIXES, "motion"), "motion")
    unpaired = [(speech[k], "motion") for k in speech.keys() - motion.keys()]
    unpaired += [(motion[k], "speech") for k in motion.keys() - speech.keys()]
    for path, missing in sorted(unpaired):
        message = f"{path}: no {missing} file to pair with"
        if strict:
            raise PipelineError(message + " (--strict)")
        log.warning("%s; skipped", message)
    keys = sorted(speech.keys() & motion.keys())
    if not keys:
        raise PipelineError(f"{raw_dir}: no speech/motion pairs found")
    transcripts = _find_transcripts(raw_dir, {k: speech[k] for k in keys},
                                    [motion[k] for k in keys])
    return {k: Recording(speech[k], motion[k], transcripts.get(k)) for k in keys}


def _find_transcripts(raw_dir: Path, speech: dict[str, Path],
                      motion: list[Path]) -> dict[str, Path]:
    """``key -> transcript`` of the recordings: all of them, or none."""
    folders = [f for f in [_folder(raw_dir, TRANSCRIPT_DIRS)] if f is not None]
    if not folders:  # beside the speech or motion files
        folders = list(dict.fromkeys([*(p.parent for p in speech.values()),
                                      *(p.parent for p in motion), raw_dir]))
    found: dict[str, Path] = {}
    for folder in folders:
        files = list_inputs(folder, TRANSCRIPT_SUFFIXES)
        files.sort(key=lambda p: TRANSCRIPT_SUFFIXES.index(p.suffix.lower()))
        for path in files:
            key = pairing_key(path.stem)
            if key in speech:
                found.setdefault(key, path)
    missing = [k for k in speech if k not in found]
    if found and missing:
        raise PipelineError(
            f"{speech[missing[0]]}: no transcript, but {len(found)} of {len(speech)} "
            f"recordings have one (give each a {', '.join(TRANSCRIPT_SUFFIXES)} file in "
            f"{folders[0]}, or none)")
    return found


def motion_settings(recordings, *, smplx_model=None, smplx_joints: str = "all") -> MotionSettings:
    """The SMPL-X settings for these recordings, checked before any file is read.

    The model file is read here (a bad one is an error at once); without one, the approximate
    template is used and :data:`data_processing.smplx.TEMPLATE_WARNING` logged once when any
    motion is SMPL-X.
    """
    template = smplx.template_skeleton(smplx_joints)  # an unknown joint set is an error here
    if smplx_model is not None:
        smplx.load_model(Path(smplx_model))  # and so is a bad model file
        return MotionSettings(Path(smplx_model), smplx_joints)
    if any(r.motion.suffix.lower() == ".npz" for r in recordings):
        log.warning(smplx.TEMPLATE_WARNING)
    return MotionSettings(None, smplx_joints, template)


def read_motion(path: Path, settings: MotionSettings):
    """A recording's motion: a :class:`~data_processing.bvh.BVHMotion` or an SMPL-X Motion."""
    if path.suffix.lower() == ".npz":
        return from_smplx(path, skeleton=settings.template, model=settings.smplx_model,
                          joints=settings.smplx_joints)
    return read_bvh(path)


def check_pair(job: tuple[Recording, MotionSettings]) -> dict:
    """Read one recording in full; the facts the cross-file checks need.

    Returns
    -------
    dict
        ``bvh`` (the motion file), ``skeleton``, ``warning`` (durations that differ, or
        ``None``).

    Raises
    ------
    PipelineError
        The problems of the recording (one line per file).
    """
    recording, settings = job
    errors: list[PipelineError] = []
    loaded = attempt(errors, audio.load_audio, recording.speech)
    motion = attempt(errors, read_motion, recording.motion, settings)
    words = attempt(errors, read_transcript, recording.transcript) if recording.transcript \
        else []
    if errors:
        raise PipelineErrors(errors)
    signal, sr = loaded
    if motion.n_frames < 2:
        raise PipelineError(f"{recording.motion}: needs at least 2 frames, found "
                            f"{motion.n_frames}")
    duration = len(signal) / sr
    warnings = []
    if abs(duration - motion.duration) > DURATION_TOLERANCE:
        warnings.append(f"{recording.speech}: audio lasts {duration:.2f} s but "
                        f"{recording.motion} lasts {motion.duration:.2f} s")
    if words and words[-1].end > duration + DURATION_TOLERANCE:
        warnings.append(f"{recording.transcript}: the last word ends at {words[-1].end:.2f} s, "
                        f"after the audio ({duration:.2f} s)")
    return {"bvh": recording.motion, "skeleton": motion.skeleton,
            "warning": "; ".join(warnings) or None}


def check_pairs(pairs: dict[str, Recording], settings: MotionSettings, *,
                workers: int | None = None) -> None:
    """The validation pass (:func:`data_processing.validation.validate_all`) over the pairs."""
    validate_all(check_pair, [(r, settings) for r in pairs.values()], workers=workers,
                 work_seconds=file_seconds(p for r in pairs.values() for p in r),
                 desc="checking")
