import itertools

import numpy as np
import pytest

from data_processing.dataset import DatasetMeta
from data_processing.files import PipelineError
from gesture_vae.data import (
    Normalisation,
    SequenceSet,
    check_rot6d,
    evaluation_dataset,
    training_dataset,
)


@pytest.fixture
def sequences():
    """Three sequences of 10, 4 and 7 frames; audio column 0 = sequence id, 1 = frame."""
    lengths = np.array([10, 4, 7])
    ids = np.repeat(np.arange(3), lengths)
    frame = np.concatenate([np.arange(n) for n in lengths])
    audio = np.stack([ids, frame], axis=1).astype(np.float32)
    return SequenceSet(audio, -audio, lengths)


def test_crops_never_cross_sequences(sequences):
    starts = sequences.crop_starts(5)
    np.testing.assert_array_equal(starts, [0, 1, 2, 3, 4, 5, 14, 15, 16])  # 4-frame one skipped
    crops = sequences.gather(starts, 5)
    assert crops["audio"].shape == (9, 5, 2)
    assert (crops["audio"][:, :, 0] == crops["audio"][:, :1, 0]).all()  # one sequence each
    assert (np.diff(crops["audio"][:, :, 1], axis=1) == 1).all()  # consecutive frames
    np.testing.assert_array_equal(crops["motion"], -crops["audio"])
    with pytest.raises(PipelineError, match="shorter crops"):
        sequences.crop_starts(11)


def test_random_batches_are_seeded_and_resume_exactly(sequences):
    def take(first_step, count, seed=3):
        stream = sequences.random_batches(5, 4, seed=seed, first_step=first_step)
        return [b["audio"] for b in itertools.islice(stream, count)]

    full = take(0, 6)
    resumed = take(4, 2)  # a run interrupted after 4 steps sees the same next batches
    for a, b in zip(full[4:], resumed):
        np.testing.assert_array_equal(a, b)
    assert not np.array_equal(take(0, 1)[0], take(0, 1, seed=4)[0])
    assert not np.array_equal(full[0], full[1])


def test_tiled_crops(sequences):
    crops = sequences.tiled(3)
    starts = crops["audio"][:, 0]
    np.testing.assert_array_equal(starts, [[0, 0], [0, 3], [0, 6], [1, 0], [2, 0], [2, 3]])


def test_tf_datasets(sequences):
    stream = training_dataset(sequences, frames=4, batch_size=3, seed=0)
    first = next(iter(stream))
    assert first["audio"].shape == (3, 4, 2)
    assert first["motion"].dtype.name == "float32"
    batches = list(evaluation_dataset(sequences, frames=4, batch_size=2))
    assert sum(len(b["audio"]) for b in batches) == 2 + 1 + 1


def test_normalisation():
    norm = Normalisation(np.array([1.0, 2.0]), np.array([2.0, 4.0]), np.array([0.0]),
                         np.array([0.5]))
    np.testing.assert_allclose(norm.audio(np.array([[3.0, 2.0]])), [[1.0, 0.0]])
    np.testing.assert_allclose(norm.motion(np.array([[1.0]])), [[2.0]])
    assert norm.audio(np.zeros((1, 2))).dtype == np.float32


def test_needs_rot6d_dataset(tmp_path):
    meta = DatasetMeta(fps=20.0, features="MFCC", mel_preset="iva19", feature_size=26,
                       n_context=60, motion="pos_vel", output_size=96, source_fps=60.0,
                       splits={}, files={}, root=tmp_path)
    with pytest.raises(PipelineError, match="--motion rot6d"):
        check_rot6d(meta)
