"""Beat alignment and L1div of motions against their speech (BEAT conventions).

Usage::

    python evaluation/beat_alignment.py --motion SRC [SRC ...] [--audio WAV_OR_DIR ...]
        [--data DATA_DIR] [--fps F] [--sigma 0.3] [--order 2] [--backtrack]
        [--joints NAME,...] [--name NAME] [--out CSV] [--per-file CSV]

A ``SRC`` is a motion file, a directory of them or ``DATA_DIR:SPLIT`` (ground truth, which
brings its own speech); see :mod:`evaluation.motion_inputs`. Array files need the dataset
(``--data``: skeleton and frame rate) or at least ``--fps`` for plain positions. Every motion
file is paired with the ``--audio`` file of the same id (the stem without an ``X_test_``
prefix; the IVA'19 ``audioN.wav`` goes with ``gestureN``/``audioN``/``N``), as the IVA'19
evaluation pairs files; a single motion with a single WAV pair directly.

Definitions (BEAT, Liu et al. 2022; the numbers are in :mod:`evaluation.metrics`)
    *Audio onsets*: ``librosa.onset.onset_detect`` on the WAV at its own sample rate (hop 512,
    librosa's defaults otherwise), in seconds; ``--backtrack`` moves each onset back to the
    preceding minimum of the RMS energy (BEAT's first release). Onsets after the end of the
    motion are ignored.
    *Motion beats*: local minima of the mean joint speed (central differences), strict over
    ``--order`` frames on each side (BEAT: 2), in seconds (:func:`metrics.motion_beats`).
    *Beat alignment*: for every audio onset ``exp(-d^2 / (2 sigma^2))`` with ``d`` the
    distance to the nearest motion beat, averaged over the onsets of a file, then over files.
    ``sigma`` is in seconds, 0.3 s by default (BEAT; HA2G's beat consistency used 0.1 s).
    *L1div*: per frame the L1 distance (summed over all joint coordinates) from the motion's
    mean pose, averaged over all frames of all files (:func:`metrics.l1_div`); in the data's
    units (cm for the demo speaker).

Positions are taken relative to the root joint (joint 0) by default, as IVA'19's root-pinned
``pos_vel`` outputs are, so that models with and without root translation compare on equal
terms; ``--keep-root`` uses global positions.

From Python::

    from evaluation import beat_alignment
    result = beat_alignment.evaluate(motions, audio=[wav, ...], sigma=0.3)
    result.beat_alignment, result.l1div, result.per_file    # pandas.DataFrame per file
"""

from __future__ import annotations

import argparse
import logging
from dataclasses import dataclass
from pathlib import Path

import librosa
import numpy as np
import pandas as pd

from data_processing.audio import load_audio
from data_processing.dataset import DatasetMeta
from data_processing.files import PipelineError, atomic_path, run_cli
from data_processing.prepare_data import pairing_key
from data_processing.representations import ARRAY_KINDS
from evaluation import metrics
from evaluation.motion_files import motion_id
from evaluation.motion_inputs import Motion, load_sources
from evaluation.tables import append_csv

log = logging.getLogger(__name__)

SIGMA = 0.3  # seconds (BEAT)
ORDER = 2  # frames on each side of a motion beat (BEAT)
HOP_LENGTH = 512  # samples between onset-strength frames (librosa's default, BEAT's)


def audio_onsets(signal: np.ndarray, sr: int, *, backtrack: bool = False,
                 hop_length: int = HOP_LENGTH) -> np.ndarray:
    """Onset times (s) of a speech signal by librosa's onset detector.

    Parameters
    ----------
    signal : np.ndarray [shape=(n,)]
        Mono audio.
    sr : int > 0
        Its sample rate.
    backtrack : bool
        Move each onset back to the preceding minimum of the RMS energy.
    hop_length : int > 0
        Samples between onset-strength frames.
    """
    envelope = librosa.onset.onset_strength(y=signal, sr=sr, hop_length=hop_length)
    frames = librosa.onset.onset_detect(onset_envelope=envelope, sr=sr, hop_length=hop_length)
    if backtrack and len(frames):
        rms = librosa.feature.rms(y=signal, hop_length=hop_length)[0]
        frames = librosa.onset.onset_backtrack(frames, rms)
    return librosa.frames_to_time(frames, sr=sr, hop_length=hop_length)


def pair_audio(motions: list[Motion], audio_sources) -> list[Path]:
    """The speech file of every motion: its own (dataset splits), else one of ``audio_sources``.

    ``audio_sources`` are WAV files or directories of them, matched by id (the stem without an
    ``X_test_`` prefix, ``audioN``/``gestureN`` reduced to ``N``:
    :func:`evaluation.motion_files.motion_id`); one motion and one WAV pair directly.
    """
    wavs: list[Path] = []
    for source in audio_sources or []:
        path = Path(source)
        if path.is_dir():
            wavs.extend(sorted(path.glob("*.wav")))
        elif path.is_file():
            wavs.append(path)
        else:
            raise PipelineError(f"{path}: no such file or directory")
    by_key: dict[str, Path] = {}
    for wav in wavs:
        by_key.setdefault(pairing_key(wav.stem), wav)
    out = []
    for motion in motions:
        if motion.audio is not None and not wavs:
            out.append(Path(motion.audio))
        elif len(motions) == 1 and len(wavs) == 1:
            out.append(wavs[0])
        else:
            wav = by_key.get(motion_id(motion.name))
            if wav is None:
                raise PipelineError(f"{motion.name}: no speech file for id "
                                    f"{motion_id(motion.name)!r} among --audio")
            out.append(wav)
    return out


@dataclass
class BeatResult:
    """Beat alignment and L1div of a set of motions.

    Parameters
    ----------
    beat_alignment : float
        Mean over files of the per-file beat alignment (files without onsets left out).
    l1div : float
        L1div over all frames of all files.
    per_file : pandas.DataFrame
        One row per motion: ``name, audio, seconds, onsets, motion_beats, beat_alignment,
        l1div``.
    """

    beat_alignment: float
    l1div: float
    per_file: pd.DataFrame


def evaluate(motions: list[Motion], *, audio=None, sigma: float = SIGMA, order: int = ORDER,
             backtrack: bool = False, joints=None, pin_root: bool = True) -> BeatResult:
    """Beat alignment and L1div of motions against their speech.

    Parameters
    ----------
    motions : list of Motion
        The motions (see :func:`evaluation.motion_inputs.load_sources`).
    audio : list of path-like, optional
        WAV files or directories to pair with the motions (see :func:`pair_audio`).
    sigma : float > 0
        Tolerance of the beat alignment score, in seconds.
    order : int > 0
        Frames on each side of a motion beat.
    backtrack : bool
        Backtrack audio onsets to the preceding RMS minimum.
    joints : list of str, optional
        Joints whose mean speed gives the motion beats (default: all).
    pin_root : bool
        Use positions relative to the root joint (joint 0).
    """
    if not sigma > 0:
        raise PipelineError(f"--sigma must be > 0 seconds, got {sigma}")
    if order < 1:
        raise PipelineError(f"--order must be >= 1, got {order}")
    wavs = pair_audio(motions, audio)
    rows, positions = [], []
    for motion, wav in zip(motions, wavs):
        pos = motion.positions - motion.positions[:, :1] if pin_root else motion.positions
        positions.append(pos)
        seconds = len(pos) / motion.fps
        signal, sr = load_audio(wav)
        onsets = audio_onsets(signal, sr, backtrack=backtrack)
        onsets = onsets[onsets <= seconds]
        if joints:
            pos = Motion(motion.name, pos, motion.fps, motion.joint_names).select(joints)
        beats = metrics.motion_beats(pos, motion.fps, order=order)
        if len(onsets) == 0:
            log.warning("%s: no audio onsets within the motion's %.2f s; left out of the "
                        "beat alignment", wav, seconds)
        score = metrics.beat_alignment(onsets, beats, sigma) if len(onsets) else np.nan
        rows.append({"name": motion.name, "audio": str(wav), "seconds": round(seconds, 3),
                     "onsets": len(onsets), "motion_beats": len(beats), "beat_alignment": score,
                     "l1div": metrics.l1_div(positions[-1])})
    per_file = pd.DataFrame(rows)
    if per_file["beat_alignment"].isna().all():
        raise PipelineError("no audio onsets in any file: beat alignment is undefined")
    return BeatResult(float(per_file["beat_alignment"].mean()), metrics.l1_div(positions),
                      per_file)


def parse_args(argv=None) -> argparse.Namespace:
    """Command-line arguments."""
    parser = argparse.ArgumentParser(
        description="Beat alignment and L1div (BEAT conventions) of motions and their speech.")
    parser.add_argument("--motion", nargs="+", required=True,
                        help="motion files, directories or DATA_DIR:SPLIT")
    parser.add_argument("--audio", nargs="+",
                        help="WAV files or directories, paired with motions by stem "
                             "(not needed for DATA_DIR:SPLIT)")
    parser.add_argument("--data", type=Path,
                        help="dataset whose skeleton and frame rate array files use")
    parser.add_argument("--fps", type=float,
                        help="frame rate of array files (default: the dataset's)")
    parser.add_argument("--representation", choices=ARRAY_KINDS,
                        help="kind of array files when their width fits several")
    parser.add_argument("--sigma", type=float, default=SIGMA,
                        help=f"beat alignment tolerance in seconds (default: {SIGMA}, BEAT)")
    parser.add_argument("--order", type=int, default=ORDER,
                        help=f"frames on each side of a motion beat (default: {ORDER}, BEAT)")
    parser.add_argument("--backtrack", action="store_true",
                        help="move audio onsets back to the preceding RMS minimum")
    parser.add_argument("--joints", type=lambda s: [j for j in s.split(",") if j],
                        help="comma-separated joints for the motion beats (default: all)")
    parser.add_argument("--keep-root", action="store_true",
                        help="use global positions (default: relative to the root joint)")
    parser.add_argument("--name", default="", help="label of the row in --out")
    parser.add_argument("--out", type=Path, help="append a summary row to this CSV table")
    parser.add_argument("--per-file", type=Path, help="write one row per motion to this CSV")
    return parser.parse_args(argv)


def main(argv=None) -> int:
    """Score the motions and print ``Beat alignment`` and ``L1div``."""
    args = parse_args(argv)
    skeleton, fps = None, args.fps
    if args.data is not None:
        meta = DatasetMeta.load(args.data)
        skeleton, fps = meta.skeleton, fps or meta.fps
    motions = load_sources(args.motion, skeleton=skeleton, fps=fps,
                           representation=args.representation)
    result = evaluate(motions, audio=args.audio, sigma=args.sigma, order=args.order,
                      backtrack=args.backtrack, joints=args.joints, pin_root=not args.keep_root)
    print(f"Beat alignment: {result.beat_alignment:.3f} (sigma {args.sigma:g} s, "
          f"{len(motions)} files)")
    print(f"L1div: {result.l1div:.3f}")
    if args.per_file:
        with atomic_path(args.per_file) as tmp:
            result.per_file.to_csv(tmp, index=False, float_format="%.6f")
    if args.out:
        append_csv(args.out, {
            "name": args.name, "beat_alignment": f"{result.beat_alignment:.6f}",
            "l1div": f"{result.l1div:.6f}", "sigma": args.sigma, "order": args.order,
            "backtrack": args.backtrack, "pin_root": not args.keep_root,
            "files": len(motions), "onsets": int(result.per_file["onsets"].sum()),
            "motion_beats": int(result.per_file["motion_beats"].sum()),
            "motion": " ".join(args.motion)})
    return 0


if __name__ == "__main__":
    run_cli(main)
