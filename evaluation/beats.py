"""Beat alignment and L1div of motions against their speech (BEAT conventions).

Definitions (BEAT, Liu et al. 2022; the numbers are in :mod:`evaluation.metrics`)
    *Audio onsets*: ``librosa.onset.onset_detect`` on the speech at its own sample rate (hop 512,
    librosa's defaults otherwise), in seconds; ``backtrack`` moves each onset back to the
    preceding minimum of the RMS energy (BEAT's first release). Onsets after the end of the
    motion are ignored.
    *Motion beats*: local minima of the mean joint speed (central differences), strict over
    ``order`` frames on each side (BEAT: 2), in seconds (:func:`metrics.motion_beats`).
    *Beat alignment*: for every audio onset ``exp(-d^2 / (2 sigma^2))`` with ``d`` the
    distance to the nearest motion beat, averaged over all onsets of all files (pooled, as
    :mod:`evaluation.scoring` and the report score it: a file counts by its onsets).
    ``sigma`` is in seconds, 0.1 s by default (HA2G's beat consistency, Liu et al. CVPR 2022);
    BEAT's 0.3 s (:data:`BEAT_SIGMA`) saturates: motion beats at random, 5 per second, already
    score 0.91, so the project reports every beat alignment beside a mismatched-truth row
    (:mod:`evaluation.scoring`).
    *L1div*: per frame the L1 distance (summed over all joint coordinates) from the motion's
    mean pose, averaged over all frames of all files (:func:`metrics.l1_div`); in the data's
    units (cm for the demo speaker).

Positions are taken relative to the skeleton's root joint by default, as IVA'19's root-pinned
``pos_vel`` outputs are, so that models with and without root translation compare on equal
terms; ``pin_root=False`` uses global positions.

From Python::

    from evaluation import beats
    result = beats.evaluate(motions, audio=[wav, ...], sigma=0.1)
    result.beat_alignment, result.l1div, result.per_file    # pandas.DataFrame per file
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import librosa
import numpy as np
import pandas as pd

from data_processing.audio import load_audio
from data_processing.files import AUDIO_SUFFIXES, PipelineError, list_inputs
from data_processing.motion import Motion, motion_id
from evaluation import metrics

log = logging.getLogger(__name__)

SIGMA = 0.1  # seconds (HA2G's beat consistency score)
BEAT_SIGMA = 0.3  # seconds (BEAT's, saturated on the demo speaker; an option only)
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


def speech_onsets(wav, seconds: float, *, backtrack: bool = False) -> np.ndarray:
    """Onset times (s) of a speech file within the first ``seconds`` (the motion's length).

    Parameters
    ----------
    wav : path-like
        The speech (any of :data:`data_processing.files.AUDIO_SUFFIXES`).
    seconds : float
        Onsets after it are dropped.
    backtrack : bool
        See :func:`audio_onsets`.
    """
    signal, sr = load_audio(wav)
    onsets = audio_onsets(signal, sr, backtrack=backtrack)
    return onsets[onsets <= seconds]


def pair_audio(motions: list[Motion], audio_sources) -> list[Path]:
    """The speech file of every motion: its own (dataset splits), else one of ``audio_sources``.

    ``audio_sources`` are audio files (any of :data:`data_processing.files.AUDIO_SUFFIXES`) or
    directories of them, matched by id (the stem without an ``X_test_`` prefix,
    ``audioN``/``gestureN`` reduced to ``N``: :func:`data_processing.motion.motion_id`); one
    motion and one audio file pair directly.
    """
    wavs: list[Path] = []
    for source in audio_sources or []:
        path = Path(source)
        if path.is_dir():
            wavs.extend(list_inputs(path, AUDIO_SUFFIXES))
        elif path.is_file():
            wavs.append(path)
        else:
            raise PipelineError(f"{path}: no such file or directory")
    by_key: dict[str, Path] = {}
    for wav in wavs:
        by_key.setdefault(motion_id(wav), wav)
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
        Mean over the onsets of all files (pooled; files without onsets add nothing).
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
        The motions (see :func:`data_processing.motion.load_sources`).
    audio : list of path-like, optional
        Audio files or directories to pair with the motions (see :func:`pair_audio`).
    sigma : float > 0
        Tolerance of the beat alignment score, in seconds.
    order : int > 0
        Frames on each side of a motion beat.
    backtrack : bool
        Backtrack audio onsets to the preceding RMS minimum.
    joints : list of str, optional
        Joints whose mean speed gives the motion beats (default: all).
    pin_root : bool
        Use positions relative to the skeleton's root joint (:meth:`Motion.root_relative`).
    """
    if not sigma > 0:
        raise PipelineError(f"--sigma must be > 0 seconds, got {sigma}")
    if order < 1:
        raise PipelineError(f"--order must be >= 1, got {order}")
    wavs = pair_audio(motions, audio)
    rows, positions, scores = [], [], []
    for motion, wav in zip(motions, wavs):
        pos = motion.root_relative() if pin_root else motion.positions
        positions.append(pos)
        seconds = len(pos) / motion.fps
        onsets = speech_onsets(wav, seconds, backtrack=backtrack)
        if joints:
            pos = Motion(pos, motion.fps, motion.skeleton, name=motion.name).select(joints)
        beats = metrics.motion_beats(pos, motion.fps, order=order)
        if len(onsets) == 0:
            log.warning("%s: no audio onsets within the motion's %.2f s; left out of the "
                        "beat alignment", wav, seconds)
        scores.append(metrics.beat_scores(onsets, beats, sigma))
        rows.append({"name": motion.name, "audio": str(wav), "seconds": round(seconds, 3),
                     "onsets": len(onsets), "motion_beats": len(beats),
                     "beat_alignment": scores[-1].mean() if len(onsets) else np.nan,
                     "l1div": metrics.l1_div(positions[-1])})
    pooled = np.concatenate(scores)
    if pooled.size == 0:
        raise PipelineError("no audio onsets in any file: beat alignment is undefined")
    return BeatResult(float(pooled.mean()), metrics.l1_div(positions), pd.DataFrame(rows))
