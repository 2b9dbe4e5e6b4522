"""IVA'19 windows formed on the fly equal the stored ones; create_vector.py's streamed outputs."""

import shutil

import keras
import numpy as np
import pytest

from data_processing import create_vector, prepare_data
from data_processing.audio import context_windows
from data_processing.dataset import SPLITS, DatasetMeta
from data_processing.files import PipelineError
from speech_encoder import windows as source
from speech_encoder.config import NetworkConfig
from speech_encoder.model import build_model, motion_targets, window_dataset
from speech_encoder.windows import SequenceWindows, split_windows
from training.loop import Trainer, set_seed

N_CONTEXT = 4


def random_sequences(rng, lengths, width):
    return [rng.normal(size=(n, width)).astype(np.float32) for n in lengths]


@pytest.mark.parametrize("n_context", [0, 2, 10])
def test_sequence_windows_equal_stored_windows(rng, n_context):
    features = random_sequences(rng, [1, 3, 17, 40], 3)
    silence = rng.normal(size=3).astype(np.float32)
    stored = np.concatenate([context_windows(f, silence, n_context) for f in features])
    formed = SequenceWindows(features, silence, n_context)
    assert formed.shape == stored.shape == (61, n_context + 1, 3)
    np.testing.assert_array_equal(formed[np.arange(len(formed))], stored)
    index = np.sort(rng.choice(len(stored), 9, replace=False))
    np.testing.assert_array_equal(formed[index], stored[index])


def test_window_dataset_batches_are_identical(rng):
    features = random_sequences(rng, [30, 7, 51], 4)
    silence = np.zeros(4, np.float32)
    stored = np.concatenate([context_windows(f, silence, 6) for f in features])
    formed = SequenceWindows(features, silence, 6)
    targets = rng.normal(size=(len(stored), 5)).astype(np.float32)
    for options in ({"shuffle": True, "seed": 3, "epoch": 0}, {"shuffle": True, "seed": 3,
                                                              "epoch": 1}, {}):
        a = list(window_dataset(stored, targets, batch_size=16, **options))
        b = list(window_dataset(formed, targets, batch_size=16, **options))
        assert len(a) == len(b) > 1
        for (xa, ya), (xb, yb) in zip(a, b):
            np.testing.assert_array_equal(xa.numpy(), xb.numpy())
            np.testing.assert_array_equal(ya.numpy(), yb.numpy())


@pytest.mark.parametrize("width", [4, 26, 64, 96])
@pytest.mark.parametrize("order", ["C", "F"])  # F: the log-mel features' layout
def test_streamed_statistics_equal_those_of_the_stack(rng, tmp_path, monkeypatch, width, order):
    parts = [np.asarray(p * rng.uniform(0.1, 50) + 7, order=order)
             for p in random_sequences(rng, [600, 7, 1, 333], width)]
    paths = []
    for i, part in enumerate(parts):
        paths.append(tmp_path / f"{i}.npz")
        np.savez(paths[-1], audio=part)
    stack = np.concatenate(parts)
    monkeypatch.setattr(create_vector, "STATS_BLOCK_BYTES", 1)  # blocks of 8 columns
    mean, std, absmax = create_vector.column_stats(paths, "audio", len(stack))
    np.testing.assert_array_equal(mean, stack.mean(axis=0))  # the statistics of before
    np.testing.assert_array_equal(std, stack.std(axis=0))
    np.testing.assert_array_equal(absmax, np.abs(stack - stack.mean(axis=0)).max(axis=0))


@pytest.fixture(scope="module")
def data(demo_raw, tmp_path_factory):
    out = tmp_path_factory.mktemp("windows") / "data"
    prepare_data.prepare(demo_raw, out)
    create_vector.create_vectors(out, N_CONTEXT, create_vector.VectorSettings(), workers=1)
    return out


def test_a_dataset_trains_from_either_source(data):
    meta = DatasetMeta.load(data)
    for split in SPLITS:
        stored = np.load(data / f"X_{split}.npy")
        formed = split_windows(meta, split, len(stored), "sequences")
        assert isinstance(formed, SequenceWindows)
        np.testing.assert_array_equal(formed[np.arange(len(formed))], stored)
        assert isinstance(split_windows(meta, split, len(stored)), np.memmap)  # auto: stored
    first = meta.splits["test"][0]
    test_inputs = np.load(data / "test_inputs" / f"X_test_{first}.npy")
    np.testing.assert_array_equal(test_inputs, np.load(data / "X_test.npy")[:len(test_inputs)])
    with pytest.raises(PipelineError, match=r"sequences/dev: 240 frames, but the targets"):
        split_windows(meta, "dev", 7, "sequences")


def test_large_windows_are_formed_from_the_sequences(data, tmp_path, monkeypatch):
    meta = DatasetMeta.load(data)
    n_train = len(motion_targets(meta).train)
    monkeypatch.setattr(source, "STORED_WINDOWS_LIMIT", 1000)
    assert isinstance(split_windows(meta, "train", n_train), SequenceWindows)  # auto: too big
    copy = tmp_path / "data"
    shutil.copytree(data, copy)
    create_vector.create_vectors(copy, N_CONTEXT, create_vector.VectorSettings(), workers=1,
                                 windows_limit=1000)
    assert not [p.name for p in copy.glob("X_*.npy")]  # none written, the old ones removed
    for name in ("Y_train.npy", "stats/audio_mean.npy", "sequences/train"):
        assert (copy / name).exists()
    big = DatasetMeta.load(copy)
    np.testing.assert_array_equal(split_windows(big, "train", n_train)[np.arange(n_train)],
                                  np.load(data / "X_train.npy"))
    assert sorted(p.name for p in (copy / "test_inputs").iterdir()) == sorted(
        p.name for p in (data / "test_inputs").iterdir())
    with pytest.raises(PipelineError, match="X_train.npy: no such file .* --windows sequences"):
        split_windows(big, "train", n_train, "stored")


@pytest.mark.slow
def test_training_gives_the_same_weights_from_either_source(data, tmp_path):
    """train.py's loop (a narrow network, one epoch) on the stored and the formed windows."""
    meta = DatasetMeta.load(data)
    targets = motion_targets(meta)

    def weights(windows: str):
        x_train, x_dev = (split_windows(meta, split, len(y), windows)
                          for split, y in (("train", targets.train), ("dev", targets.dev)))
        set_seed(0)
        model = build_model(meta, targets, config=NetworkConfig(units=8, blocks=1, gru_units=8),
                            seed=0)
        Trainer(model, keras.optimizers.Adam(1e-3), tmp_path / windows).fit(
            lambda epoch: window_dataset(x_train, targets.train, batch_size=64, shuffle=True,
                                         seed=0, epoch=epoch), epochs=1,
            dev_dataset=window_dataset(x_dev, targets.dev, batch_size=128))
        return model.get_weights()

    for a, b in zip(weights("stored"), weights("sequences"), strict=True):
        np.testing.assert_array_equal(a, b)
