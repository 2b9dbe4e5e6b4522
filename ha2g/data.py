"""HA2G's training data: recordings, clips, words and speakers from a prepared dataset.

Any dataset of ``create_vector.py`` serves (``pos_vel`` or ``rot6d``): HA2G reads each
sequence's speech features (z-scored with the dataset's training statistics) and its joint
positions, which :mod:`data_processing.dir_vec` turns into bone directions. A recording becomes
clips of ``clip_frames`` frames every ``clip_stride`` frames (the official 34 and 10).

Words (text mode): per frame, the word spoken at that frame (``""`` for none), from the
recording's transcript (:meth:`data_processing.dataset.DatasetMeta.words`). The vocabulary is
built from the training split; id 0 is "no word", id 1 an unknown word.

Speakers: a regular expression (``speaker_pattern``) whose first group of a recording id names
its speaker; without one the data is one speaker.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass

import numpy as np

from data_processing.body import Body
from data_processing.dataset import DatasetMeta
from data_processing.dir_vec import DirVec, body_positions, directions
from data_processing.files import PipelineError
from ha2g.losses import ANGLE_CLIP

NO_WORD, UNKNOWN = "", "<unk>"


def normalise_word(word: str) -> str:
    """Lower case, surrounding punctuation and spaces removed."""
    return word.strip().strip(".,;:!?\"'()[]").lower()


def sequence_words(meta: DatasetMeta, split: str, seq_id: str) -> list[str] | None:
    """The normalised per-frame words ``[T]`` of one recording (``None``: no transcript)."""
    words = meta.words(split, seq_id)
    return None if words is None else [normalise_word(w) for w in words]


class Vocabulary:
    """Word <-> id; id 0 is "no word", id 1 an unknown word.

    Parameters
    ----------
    words : list of str
        The known words (ids 2, 3, ...).
    """

    def __init__(self, words):
        self.words = [NO_WORD, UNKNOWN, *words]
        self.index = {w: i for i, w in enumerate(self.words)}

    @classmethod
    def build(cls, frames: list[list[str]], min_count: int = 1) -> Vocabulary:
        """The words seen at least ``min_count`` times (in frames) in the training split."""
        counts = Counter(w for words in frames for w in words if w)
        return cls(sorted(w for w, n in counts.items() if n >= min_count))

    def __len__(self) -> int:
        return len(self.words)

    def ids(self, words: list[str]) -> np.ndarray:
        """Ids ``(T,)`` int32 of per-frame words."""
        return np.array([self.index.get(w, 1) if w else 0 for w in words], dtype=np.int32)


def speaker_of(seq_id: str, pattern: str) -> str:
    """The speaker named by the first group of ``pattern`` in a recording id."""
    match = re.search(pattern, seq_id)
    if match is None or not match.groups():
        raise PipelineError(f"recording {seq_id!r}: the speaker pattern {pattern!r} does not "
                            "match it (or has no group)")
    return match.group(1)


@dataclass
class Recording:
    """One recording as HA2G reads it.

    Parameters
    ----------
    seq_id : str
    audio : np.ndarray [shape=(T, F)]
        Normalised speech features.
    positions : np.ndarray [shape=(T, J, 3)]
        Positions of the body's joints.
    words : list of str or None
        Per-frame words (text mode).
    speaker : str or None
    """

    seq_id: str
    audio: np.ndarray
    positions: np.ndarray
    words: list[str] | None
    speaker: str | None


def load_recordings(meta: DatasetMeta, split: str, body: Body, *, audio_mean: np.ndarray,
                    audio_std: np.ndarray, speaker_pattern: str | None = None) -> list[Recording]:
    """Every recording of a split, audio z-scored with the given statistics."""
    out = []
    for seq_id in meta.splits.get(split, []):
        seq = meta.sequence(split, seq_id)
        audio = ((seq["audio"] - audio_mean) / audio_std).astype(np.float32)
        out.append(Recording(seq_id, audio,
                             body_positions(seq["positions"], meta.skeleton, body),
                             sequence_words(meta, split, seq_id),
                             None if speaker_pattern is None else speaker_of(seq_id,
                                                                              speaker_pattern)))
    return out


def clip_starts(n_frames: int, frames: int, stride: int) -> np.ndarray:
    """Starts of the clips of ``frames`` frames every ``stride`` frames that fit in a recording."""
    return np.arange(0, n_frames - frames + 1, stride)


def make_clips(recordings: list[Recording], rep: DirVec, *, frames: int, stride: int,
               vocabulary: Vocabulary | None = None,
               speakers: list[str] | None = None) -> dict[str, np.ndarray]:
    """Training clips of every recording.

    Returns
    -------
    dict
        ``audio`` ``(N, frames, F)``, ``motion`` ``(N, frames, 3 B)``; ``words``
        ``(N, frames)`` int32 with a vocabulary; ``speaker`` ``(N,)`` int32 with speakers.
    """
    parts: dict[str, list] = {"audio": [], "motion": [], "words": [], "speaker": []}
    for rec in recordings:
        starts = clip_starts(len(rec.audio), frames, stride)
        index = starts[:, None] + np.arange(frames)
        parts["audio"].append(rec.audio[index])
        parts["motion"].append(rep.encode(rec.positions)[index])
        if vocabulary is not None:  # a held-out recording may have no transcript: no words
            words = rec.words if rec.words is not None else [NO_WORD] * len(rec.audio)
            parts["words"].append(vocabulary.ids(words)[index])
        if speakers is not None:
            parts["speaker"].append(np.full(len(starts), speakers.index(rec.speaker), np.int32))
    clips = {k: np.concatenate(v) for k, v in parts.items() if v}
    if not len(clips["audio"]):
        raise PipelineError(f"no recording has {frames} frames (the longest has "
                            f"{max(len(r.audio) for r in recordings)}); use shorter clips")
    return clips


def angle_statistics(recordings: list[Recording], body: Body,
                     min_variance: float) -> tuple[np.ndarray, np.ndarray]:
    """Mean and variance ``(P,)`` of the physical prior's angles (units of pi) over the frames.

    The variance is floored at ``min_variance``: a joint that never bends in the data would
    otherwise make the prior infinitely stiff.
    """
    if not len(body.pairs):
        return np.zeros(0, np.float32), np.zeros(0, np.float32)
    dirs = np.concatenate([directions(r.positions, body) for r in recordings])
    first, second = dirs[:, body.pairs[:, 0]], dirs[:, body.pairs[:, 1]]
    cosine = np.clip(np.sum(first * second, axis=-1), -1 + ANGLE_CLIP, 1 - ANGLE_CLIP)
    angles = np.arccos(cosine) / np.pi
    return (angles.mean(axis=0).astype(np.float32),
            np.maximum(angles.var(axis=0), min_variance).astype(np.float32))
