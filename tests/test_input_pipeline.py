"""The tf.data input pipelines: the same batches as the reference generators, resumable."""

import itertools

import numpy as np
import pytest
import tensorflow as tf

from gesture_vae.data import SequenceSet, training_dataset


@pytest.fixture
def sequences():
    """Three sequences of 40, 9 and 25 frames with distinct random features."""
    rng = np.random.default_rng(0)
    lengths = np.array([40, 9, 25])
    return SequenceSet(rng.normal(size=(74, 3)).astype(np.float32),
                       rng.normal(size=(74, 5)).astype(np.float32), lengths)


def reference(sequences, first_step, count, seed=7):
    """The generator pipeline's batches (``SequenceSet.random_batches``)."""
    return list(itertools.islice(
        sequences.random_batches(8, 6, seed=seed, first_step=first_step), count))


def assert_same(ours, theirs):
    assert len(ours) == len(theirs)
    for a, b in zip(ours, theirs):
        for key in ("audio", "motion"):
            np.testing.assert_array_equal(np.asarray(a[key]), b[key])  # bit for bit


def test_a2g_stream_matches_the_generator_bit_for_bit(sequences):
    stream = training_dataset(sequences, frames=8, batch_size=6, seed=7)
    assert_same(list(stream.take(12)), reference(sequences, 0, 12))


def test_a2g_stream_resumes_at_first_step(sequences):
    full = list(training_dataset(sequences, frames=8, batch_size=6, seed=7).take(10))
    resumed = list(training_dataset(sequences, frames=8, batch_size=6, seed=7,
                                    first_step=6).take(4))
    assert_same(resumed, [{k: np.asarray(v) for k, v in b.items()} for b in full[6:]])
    assert_same(resumed, reference(sequences, 6, 4))


def test_a2g_stream_under_a_mirrored_strategy(sequences):
    strategy = tf.distribute.MirroredStrategy(["/cpu:0"])
    stream = training_dataset(sequences, frames=8, batch_size=6, seed=7, first_step=3)
    batches = iter(strategy.experimental_distribute_dataset(stream))
    ours = [{k: strategy.experimental_local_results(v)[0] for k, v in next(batches).items()}
            for _ in range(3)]
    assert_same(ours, reference(sequences, 3, 3))
