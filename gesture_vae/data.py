"""Training data of Audio2Gestures: normalised sequences and seeded random crops.

A split's sequences are concatenated once into two arrays (audio and motion, z-scored with
the training statistics); a crop is a start index into them, drawn only where the whole crop
stays inside one sequence. A batch is one fancy-indexing gather, so no Python loop touches
frames. The crops of step ``s`` come from ``numpy.random.default_rng([seed, s])``: a run that
resumes at step ``s`` sees exactly the batches an uninterrupted run would have seen.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import tensorflow as tf

from data_processing.dataset import DatasetMeta
from data_processing.files import PipelineError


@dataclass
class Normalisation:
    """The z-scoring of audio features and motion vectors (training split statistics)."""

    audio_mean: np.ndarray
    audio_std: np.ndarray
    motion_mean: np.ndarray
    motion_std: np.ndarray

    @classmethod
    def from_meta(cls, meta: DatasetMeta) -> Normalisation:
        """The statistics saved by ``create_vector.py``."""
        return cls(*(meta.stat(name).astype(np.float32)
                     for name in ("audio_mean", "audio_std", "motion_mean", "motion_std")))

    def audio(self, features: np.ndarray) -> np.ndarray:
        """Normalised audio features (float32)."""
        return ((features - self.audio_mean) / self.audio_std).astype(np.float32)

    def motion(self, vectors: np.ndarray) -> np.ndarray:
        """Normalised motion vectors (float32)."""
        return ((vectors - self.motion_mean) / self.motion_std).astype(np.float32)


def check_rot6d(meta: DatasetMeta) -> None:
    """Fail with a one-line error unless the dataset was built with ``--motion rot6d``."""
    if meta.motion != "rot6d":
        raise PipelineError(
            f"{meta.root / 'meta.json'}: motion representation {meta.motion!r}; Audio2Gestures "
            "needs 6D rotations (create_vector.py ... --motion rot6d)"
        )


@dataclass
class SequenceSet:
    """The normalised sequences of one split, concatenated.

    Parameters
    ----------
    audio : np.ndarray [shape=(N, F)]
    motion : np.ndarray [shape=(N, D)]
    lengths : np.ndarray [shape=(S,)]
        Frames of each sequence, in order.
    """

    audio: np.ndarray
    motion: np.ndarray
    lengths: np.ndarray

    @classmethod
    def load(cls, meta: DatasetMeta, split: str, norm: Normalisation) -> SequenceSet:
        """Read and normalise every sequence of ``split``."""
        sequences = meta.sequences(split)
        if not sequences:
            raise PipelineError(f"{meta.root}: the {split} split has no sequences")
        return cls(np.concatenate([norm.audio(s["audio"]) for s in sequences]),
                   np.concatenate([norm.motion(s["motion"]) for s in sequences]),
                   np.array([len(s["motion"]) for s in sequences]))

    def crop_starts(self, frames: int) -> np.ndarray:
        """Every start index whose crop of ``frames`` stays inside one sequence."""
        ends = np.cumsum(self.lengths)
        starts = [np.arange(end - length, end - frames + 1)
                  for end, length in zip(ends, self.lengths) if length >= frames]
        if not starts:
            raise PipelineError(
                f"no sequence has {frames} frames (longest: {self.lengths.max()}); "
                "use shorter crops"
            )
        return np.concatenate(starts)

    def gather(self, starts: np.ndarray, frames: int) -> dict[str, np.ndarray]:
        """Crops ``(len(starts), frames, .)`` of audio and motion."""
        index = starts[:, None] + np.arange(frames)
        return {"audio": self.audio[index], "motion": self.motion[index]}

    def random_batches(self, frames: int, batch_size: int, *, seed: int, first_step: int = 0):
        """Endless batches of random crops; batch ``s`` is drawn with ``rng([seed, s])``."""
        starts = self.crop_starts(frames)
        step = first_step
        while True:
            yield self.gather(batch_starts(starts, batch_size, seed=seed, step=step), frames)
            step += 1

    def tiled(self, frames: int) -> dict[str, np.ndarray]:
        """Non-overlapping crops covering every sequence (the remainder of each is dropped)."""
        ends = np.cumsum(self.lengths)
        starts = np.concatenate([np.arange(end - length, end - frames + 1, frames)
                                 for end, length in zip(ends, self.lengths)])
        return self.gather(starts.astype(np.int64), frames)


def batch_starts(starts: np.ndarray, batch_size: int, *, seed: int, step) -> np.ndarray:
    """The crop starts ``(batch_size,)`` of step ``step``: ``rng([seed, step])`` picks them."""
    return np.random.default_rng([seed, int(step)]).choice(starts, batch_size).astype(np.int64)


def training_dataset(data: SequenceSet, *, frames: int, batch_size: int, seed: int,
                     first_step: int = 0) -> tf.data.Dataset:
    """An endless ``tf.data`` stream of random-crop batches, from step ``first_step`` on.

    The same batches as :meth:`SequenceSet.random_batches`, built inside ``tf.data``: a
    dataset of step numbers, each mapped to its ``batch_size`` crop starts (the one Python
    call per step: a few integers from :func:`batch_starts`) and then to its crops by a
    gather from the in-memory arrays, prefetched while the previous step trains. A run
    resumed at step ``s`` (the step counter is in its checkpoint) passes ``first_step=s``.

    Returns
    -------
    tf.data.Dataset
        Dicts of ``audio`` ``(batch_size, frames, F)`` and ``motion`` ``(batch_size, frames,
        D)``, float32.
    """
    starts = data.crop_starts(frames)
    offsets = tf.range(frames, dtype=tf.int64)
    arrays = {"audio": tf.constant(data.audio), "motion": tf.constant(data.motion)}

    def step_starts(step):
        drawn = tf.numpy_function(lambda s: batch_starts(starts, batch_size, seed=seed, step=s),
                                  [step], tf.int64, stateful=False)
        return tf.ensure_shape(drawn, (batch_size,))

    def crops(batch):
        index = batch[:, None] + offsets
        return {name: tf.gather(array, index) for name, array in arrays.items()}

    return (tf.data.Dataset.counter(first_step)
            .map(step_starts, num_parallel_calls=tf.data.AUTOTUNE)
            .map(crops, num_parallel_calls=tf.data.AUTOTUNE)
            .prefetch(tf.data.AUTOTUNE))


def evaluation_dataset(data: SequenceSet, *, frames: int, batch_size: int) -> tf.data.Dataset:
    """A finite dataset of the non-overlapping crops of every sequence."""
    crops = data.tiled(frames)
    if not len(crops["audio"]):
        raise PipelineError(f"no sequence has {frames} frames; use shorter crops")
    return tf.data.Dataset.from_tensor_slices(crops).batch(batch_size)
