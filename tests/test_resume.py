"""A killed and resumed run gives the weights and history of an uninterrupted one, bit for bit.

Each family is trained twice into two directories: once without a stop (the session's shared
run), once stopped after an epoch (an exception after its checkpoint is written, as a kill
would leave it) and started again on the same directory, as a new process would. Since the
first epochs of the two runs are computed from scratch, these tests also show that two
identical runs give identical weights (``tests/test_determinism.py``).
"""

import functools

import numpy as np
import pandas as pd
import pytest

import train as iva19_train
from gesture_vae import train as a2g_train
from gesture_vae.config import make_config
from gesture_vae.run import load_model
from tests import iva19_helpers
from tests.a2g_helpers import TINY, tiny_dataset, tiny_run
from tests.conftest import eager_functions
from tests.test_training_loop import assert_same, two_part_trainer
from training.data import shuffled_batches
from training.loop import Trainer


class Killed(Exception):
    """Stands for SIGKILL after a checkpoint."""


def stop_after(monkeypatch, epoch):
    """Make every ``Trainer.fit`` raise :class:`Killed` once ``epoch`` is checkpointed."""
    def kill(done, row):
        if done == epoch:
            raise Killed

    monkeypatch.setattr(Trainer, "fit", functools.partialmethod(Trainer.fit, on_epoch_end=kill))


def toy_data(n=200, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 3)).astype("float32")
    return x, x @ np.array([[1.0], [-2.0], [0.5]], "f4")


def toy_run(run_dir, *, kill_after=None):
    """The two-optimizer toy (dropout, warm-up ending in epoch 2): weights after each epoch."""
    trainer = two_part_trainer(run_dir, warm_up=10)
    snapshots = {}

    def record(epoch, row):
        snapshots[epoch] = [v.numpy().copy() for v in trainer.model.variables]  # seeds too
        if epoch == kill_after:
            raise Killed

    trainer.fit(shuffled_batches(toy_data(), batch_size=32, seed=4, drop_remainder=True),
                epochs=4, monitor="generator_loss", dev_dataset=None, on_epoch_end=record)
    return snapshots, pd.read_csv(run_dir / "history.csv")


def test_the_generic_loop_resumes_exactly(tmp_path, capsys):
    whole, whole_history = toy_run(tmp_path / "whole")
    with pytest.raises(Killed):
        toy_run(tmp_path / "resumed", kill_after=1)
    resumed, resumed_history = toy_run(tmp_path / "resumed")
    assert f"resumed from epoch 1 ({tmp_path / 'resumed'})" in capsys.readouterr().out
    assert sorted(resumed) == [2, 3, 4]
    for epoch in (2, 3, 4):
        assert_same(resumed[epoch], whole[epoch])
    pd.testing.assert_frame_equal(resumed_history, whole_history, check_exact=True)


def iva19_baseline(tmp_path_factory, model_dir=None):
    """The session's IVA'19 baseline, or (``model_dir``) the arguments that train it there."""
    if model_dir is None:
        return iva19_helpers.speech_model(tmp_path_factory)
    return [str(model_dir), str(iva19_helpers.EPOCHS), str(iva19_helpers.dataset(tmp_path_factory)),
            "26", "False", "--batch-size", str(iva19_helpers.BATCH),
            "--seed", str(iva19_helpers.SEED), *iva19_helpers.NETWORK]


def assert_same_iva19_runs(a, b):
    import keras

    assert_same(keras.models.load_model(a / "model.keras").get_weights(),
                keras.models.load_model(b / "model.keras").get_weights())
    pd.testing.assert_frame_equal(pd.read_csv(a / "history.csv"), pd.read_csv(b / "history.csv"),
                                  check_exact=True)


def test_iva19_resumes_exactly(tmp_path_factory, tmp_path, monkeypatch, capsys):
    whole = iva19_baseline(tmp_path_factory)  # trained without a stop
    args = iva19_baseline(tmp_path_factory, tmp_path / "resumed")
    with monkeypatch.context() as patch:
        stop_after(patch, 2)
        with pytest.raises(Killed):
            iva19_train.main(args)
    assert iva19_train.main(args) == 0
    assert "resumed from epoch 2" in capsys.readouterr().out
    assert_same_iva19_runs(tmp_path / "resumed", whole)


def a2g_tiny(tmp_path_factory, demo_raw):
    """The tiny dataset, the session's tiny ``full`` run and the configuration it was made with."""
    data = tiny_dataset(tmp_path_factory, demo_raw)
    return data, tiny_run(tmp_path_factory, data, "full"), make_config("demo", variant="full",
                                                                       **TINY)


def assert_same_a2g_runs(a, b):
    pd.testing.assert_frame_equal(pd.read_csv(a / "history.csv"), pd.read_csv(b / "history.csv"),
                                  check_exact=True)  # dev losses of the last weights included
    assert_same(load_model(a)[0].get_weights(), load_model(b)[0].get_weights())
    for name in ("code_mean.npy", "code_std.npy"):
        np.testing.assert_array_equal(np.load(a / "stats" / name), np.load(b / "stats" / name))


A2G_CLI = ["--preset", "demo", "--variant", "full",
           *(arg for key, value in TINY.items()
             for arg in (f"--{key.replace('_', '-')}", str(value)))]
"""The command line of :data:`tests.a2g_helpers.TINY` (the session's tiny ``full`` run)."""


def test_a2g_resumes_exactly(tmp_path_factory, demo_raw, tmp_path, monkeypatch, capsys):
    data, whole, config = a2g_tiny(tmp_path_factory, demo_raw)  # 2 epochs of 1 step
    run = tmp_path / "resumed"
    with monkeypatch.context() as patch, eager_functions():  # as the shared run was made
        stop_after(patch, 1)
        with pytest.raises(Killed):
            a2g_train.train(data, run, config)
    assert not (run / "stats" / "code_mean.npy").exists()  # written once training ends
    with eager_functions():
        assert a2g_train.main([str(data), str(run), *A2G_CLI]) == 0  # the same command resumes
    out = capsys.readouterr().out
    assert "resumed from epoch 1" in out
    assert "full: 2 epochs" in out
    assert_same_a2g_runs(run, whole)

    weights = (run / "best.weights.h5").read_bytes()  # the command again: a finished run stays
    assert a2g_train.main([str(data), str(run), *A2G_CLI]) == 0
    assert (run / "best.weights.h5").read_bytes() == weights
    assert len(pd.read_csv(run / "history.csv")) == 2
