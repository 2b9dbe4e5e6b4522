"""Training orders that are a pure function of ``(seed, epoch)``, so a resumed run sees them.

``tf.data``'s ``shuffle(reshuffle_each_iteration=True)`` keeps its per-epoch state inside the
iterator, which no checkpoint holds: a run resumed at epoch ``e`` would replay epoch 1's order.
Here epoch ``e``'s order is ``numpy.random.default_rng([seed, e]).permutation(n)``, and
:class:`training.loop.Trainer` accepts a callable ``epoch -> tf.data.Dataset``.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np


def epoch_order(n: int, *, seed: int, epoch: int) -> np.ndarray:
    """The shuffled order ``(n,)`` of epoch ``epoch`` (0-based) of a run seeded with ``seed``."""
    return np.random.default_rng([seed, epoch]).permutation(n)


def shuffled_batches(data, *, batch_size: int, seed: int,
                     drop_remainder: bool = False) -> Callable[[int], object]:
    """Per-epoch shuffled batches of in-memory arrays, for :meth:`Trainer.fit`.

    Parameters
    ----------
    data : np.ndarray [shape=(N, ...)] or tuple or dict of them
        Training examples (rows; every array has the same ``N``).
    batch_size : int
    seed : int
    drop_remainder : bool
        Drop the last partial batch (a different one each epoch).

    Returns
    -------
    callable
        ``epoch -> tf.data.Dataset`` of batches ``(batch_size, ...)`` in :func:`epoch_order`.
    """
    import tensorflow as tf

    def epoch_batches(epoch: int) -> tf.data.Dataset:
        order = epoch_order(len(tf.nest.flatten(data)[0]), seed=seed, epoch=epoch)
        shuffled = tf.nest.map_structure(lambda array: array[order], data)
        return tf.data.Dataset.from_tensor_slices(shuffled).batch(
            batch_size, drop_remainder=drop_remainder)

    return epoch_batches
