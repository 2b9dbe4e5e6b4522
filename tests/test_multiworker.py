"""Training beyond one machine: two worker processes on 127.0.0.1 under TF_CONFIG.

The cluster trains the linear toy of ``tests/test_training_loop.py`` through the project's
:class:`Trainer` (``MultiWorkerMirroredStrategy``, one CPU replica per worker, ring all-reduce
over gRPC), once for one epoch and then, as a new trainer on the same ``RUN_DIR`` (what a
relaunched job does), for a second one. Its weights are compared with a single-process run of
the same global batch. The families' CLIs are checked to take their strategy and run directory
from :mod:`training.distribute`; running one of them under two workers would cost each
process a trace of a real model.
"""

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import keras
import numpy as np
import pandas as pd
import pytest
import tensorflow as tf

import train as iva19_cli
from data_processing.files import PipelineError
from gesture_vae import train as a2g_train
from ha2g import train as ha2g_train
from tests.conftest import REPO
from tests.test_training_loop import Linear
from training import distribute
from training.data import shuffled_batches
from training.loop import Trainer, set_seed

BATCH = 32  # the global batch: 16 examples per worker
DEADLINE = 600  # s for the whole cluster on a loaded machine; it normally takes about 60 s


def toy_data(n=208, seed=0):
    """208 examples: 6 batches of 32 and one of 16, each split evenly between two replicas."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 3)).astype("float32")
    return x, x @ np.array([[1.0], [-2.0], [0.5]], "f4")


def train_linear(run_dir, epochs, strategy=None):
    """Train (or resume) the toy in ``run_dir``; return its weights and the trainer's history."""
    set_seed(0)
    strategy = strategy or tf.distribute.get_strategy()
    with strategy.scope():
        model = Linear()
        model(np.zeros((1, 3), "float32"))
        optimizer = keras.optimizers.Adam(0.05)
    x, y = toy_data()
    result = Trainer(model, optimizer, run_dir, strategy=strategy).fit(
        shuffled_batches((x, y), batch_size=BATCH, seed=4), epochs=epochs,
        dev_dataset=tf.data.Dataset.from_tensor_slices((x[:48], y[:48])).batch(BATCH))
    return {"weights": model.get_weights()[0].ravel().tolist(),
            "steps": int(optimizer.iterations.numpy()),
            "train_loss": result.history.train_loss.tolist(),
            "dev_loss": result.history.dev_loss.tolist(), "run_dir": str(run_dir)}


WORKER = """
import json, sys, tempfile
from training.distribute import is_chief, strategy_from_environment, worker_run_dir
strategy = strategy_from_environment()  # before any other TensorFlow op
import tensorflow as tf
from data_processing.files import PipelineError
from tests.test_multiworker import train_linear

run_dir = sys.argv[1]
with worker_run_dir(run_dir) as mine:
    first = train_linear(mine, 1, strategy)
one = strategy.run(lambda: tf.constant(1.0))
strategy.reduce("SUM", one, axis=None)  # barrier: the chief has written epoch 1
with worker_run_dir(run_dir) as mine:  # a relaunched job: a new trainer, the chief's files
    second = train_linear(mine, 2, strategy)
try:  # a worker that does not see the chief's files: all stop before their first step
    train_linear(run_dir if is_chief() else tempfile.mkdtemp(), 3, strategy)
except PipelineError as error:
    mismatch = str(error)
print(json.dumps({"replicas": strategy.num_replicas_in_sync, "first": first, "second": second,
                  "mismatch": mismatch}))
"""


def free_ports(n):
    sockets = [socket.socket() for _ in range(n)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


def run_cluster(run_dir, logs):
    """Start the two workers; return each one's report and stdout (both killed on failure)."""
    cluster = {"worker": [f"127.0.0.1:{port}" for port in free_ports(2)]}
    procs, files = [], []
    try:
        for index in range(2):
            out, err = logs / f"worker{index}.out", logs / f"worker{index}.err"
            files.append((out, err))
            env = {"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin", "TF_CPP_MIN_LOG_LEVEL": "2",
                   "TF_NUM_INTRAOP_THREADS": "1", "CUDA_VISIBLE_DEVICES": "",
                   "TF_CONFIG": json.dumps({"cluster": cluster,
                                            "task": {"type": "worker", "index": index}})}
            with out.open("w") as stdout, err.open("w") as stderr:
                procs.append(subprocess.Popen([sys.executable, "-c", WORKER, str(run_dir)],
                                              cwd=REPO, env=env, stdout=stdout, stderr=stderr))
        end = time.monotonic() + DEADLINE
        while any(p.poll() is None for p in procs) and time.monotonic() < end:
            if any(p.returncode not in (None, 0) for p in procs):
                break  # the other worker would wait for it forever
            time.sleep(0.5)
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()  # SIGKILL: a worker waiting on its peer outlives SIGTERM
            p.wait()
    for p, (out, err) in zip(procs, files):
        assert p.returncode == 0, f"{out.name}: exit {p.returncode}\n{err.read_text()[-3000:]}"
    return [(json.loads(out.read_text().splitlines()[-1]), out.read_text()) for out, _ in files]


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    logs = tmp_path_factory.mktemp("multiworker")
    return logs / "run", run_cluster(logs / "run", logs)


@pytest.fixture(scope="module")
def alone(tmp_path_factory):
    """The same training in this process, one replica: after epoch 1, then resumed to 2."""
    run_dir = tmp_path_factory.mktemp("alone")
    return train_linear(run_dir, 1), train_linear(run_dir, 2)


def assert_same_training(ours, alone):
    # Two half-batch gradients halved and summed by the all-reduce round differently from the
    # mean over the whole batch: a few float32 ulps per step (3e-8 measured after 14 steps),
    # far below an Adam step (lr 0.05); 1e-6 would still catch a wrong batch or scaling.
    for key in ("weights", "train_loss", "dev_loss"):
        np.testing.assert_allclose(ours[key], alone[key], rtol=1e-6, atol=1e-6, err_msg=key)
    assert ours["steps"] == alone["steps"]  # one step per global batch of 32


@pytest.mark.slow
def test_two_workers_train_as_one_with_the_same_global_batch(cluster, alone):
    _, reports = cluster
    for report, _ in reports:
        assert report["replicas"] == 2
        assert_same_training(report["first"], alone[0])
        assert_same_training(report["second"], alone[1])
    (chief, _), (other, _) = reports
    assert chief["second"]["weights"] == other["second"]["weights"]  # one all-reduced model


@pytest.mark.slow
def test_the_chief_writes_the_run_and_every_worker_resumes_from_it(cluster):
    run_dir, ((chief, chief_log), (other, other_log)) = cluster
    assert chief["second"]["run_dir"] == str(run_dir)
    assert sorted(p.name for p in run_dir.iterdir()) == [
        "best.weights.h5", "checkpoints", "history.csv", "logs", "loss_curve.png"]
    assert any((run_dir / "logs").iterdir())
    assert list(pd.read_csv(run_dir / "history.csv").epoch) == [1, 2]
    copies = [Path(other[phase]["run_dir"]) for phase in ("first", "second")]
    assert not any(run_dir in p.parents or p.parent.exists() for p in copies)  # deleted
    for log in (chief_log, other_log):  # the second trainer of each worker restored epoch 1
        assert log.count("resumed from epoch 1 (") == 1


@pytest.mark.slow
def test_workers_that_resume_from_different_epochs_stop_at_once(cluster):
    _, ((chief, _), (other, _)) = cluster
    assert chief["mismatch"].endswith("the workers resumed from different epochs (this one from "
                                      "2, their mean 1): put RUN_DIR on storage every worker "
                                      "reads (training.distribute.worker_run_dir)")
    assert "(this one from 0, their mean 1)" in other["mismatch"]


def two_workers(index, chief=False):
    cluster = {"worker": ["a:1", "b:2"], **({"chief": ["c:3"]} if chief else {})}
    return json.dumps({"cluster": cluster, "task": {"type": "worker", "index": index}})


def test_tf_config_names_the_workers_and_the_chief(monkeypatch):
    monkeypatch.delenv("TF_CONFIG", raising=False)
    assert (distribute.worker_count(), distribute.is_chief()) == (0, True)
    monkeypatch.setenv("TF_CONFIG", two_workers(0))
    assert (distribute.worker_count(), distribute.is_chief()) == (2, True)
    monkeypatch.setenv("TF_CONFIG", two_workers(1))
    assert not distribute.is_chief()
    monkeypatch.setenv("TF_CONFIG", two_workers(0, chief=True))  # a chief task: worker 0 is not
    assert (distribute.worker_count(), distribute.is_chief()) == (3, False)


@pytest.mark.parametrize(("text", "message"), [
    ("{not json", "TF_CONFIG: not JSON"), ("[1]", "TF_CONFIG: expected a JSON object"),
    ('{"cluster": {"worker": ["a:1"]}}', "TF_CONFIG: names a cluster but no 'task'")])
def test_a_bad_tf_config_is_one_line(monkeypatch, text, message):
    monkeypatch.setenv("TF_CONFIG", text)
    with pytest.raises(PipelineError, match=message):
        distribute.strategy_from_environment()


def test_one_worker_keeps_the_default_strategy(monkeypatch):
    monkeypatch.setenv("TF_CONFIG", json.dumps({"cluster": {"worker": ["a:1"]},
                                                "task": {"type": "worker", "index": 0}}))
    strategy = distribute.strategy_from_environment()
    assert strategy is tf.distribute.get_strategy()
    assert not distribute.is_multi_worker(strategy)


def test_a_worker_trains_in_a_deleted_copy_of_the_chief_run(monkeypatch, tmp_path):
    run_dir = tmp_path / "run"
    (run_dir / "checkpoints").mkdir(parents=True)
    (run_dir / "checkpoints" / "checkpoint").write_text("chief")
    (run_dir / "logs").mkdir()
    (run_dir / ".partial-1-history.csv").write_text("unfinished")
    monkeypatch.setenv("TF_CONFIG", two_workers(0))
    with distribute.worker_run_dir(run_dir) as mine:
        assert mine == run_dir
    monkeypatch.setenv("TF_CONFIG", two_workers(1))
    seen = {}

    def failing_run():
        with distribute.worker_run_dir(run_dir) as mine:
            seen.update(mine=mine, files=sorted(p.name for p in mine.iterdir()),
                        checkpoint=(mine / "checkpoints" / "checkpoint").read_text())
            raise RuntimeError  # a failed run: the copy goes all the same

    with pytest.raises(RuntimeError):
        failing_run()
    assert seen["files"] == ["checkpoints"]
    assert seen["checkpoint"] == "chief"
    assert seen["mine"].name == "run"
    assert run_dir not in seen["mine"].parents
    assert not seen["mine"].parent.exists()


@pytest.fixture
def non_chief(monkeypatch, tmp_path):
    """TF_CONFIG of worker 1 of two, a RUN_DIR holding the chief's file, a fake strategy."""
    monkeypatch.setenv("TF_CONFIG", two_workers(1))
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    (run_dir / "run_settings.json").write_text("{}")
    return run_dir, SimpleNamespace(name="strategy from TF_CONFIG")


@pytest.mark.parametrize("family", [a2g_train, ha2g_train])
def test_the_family_clis_train_under_the_environment_strategy(monkeypatch, non_chief, family):
    run_dir, strategy = non_chief
    seen = {}

    def fake_train(data_dir, run, config, *, strategy, **options):
        seen.update(run=run, strategy=strategy, files=sorted(p.name for p in run.iterdir()))
        return SimpleNamespace(history=[{}], best_epoch=1), SimpleNamespace(root=run)

    monkeypatch.setattr(family, "strategy_from_environment", lambda: strategy)
    monkeypatch.setattr(family, "train", fake_train)
    assert family.main(["data", str(run_dir), "--preset", "demo"]) == 0
    assert seen["strategy"] is strategy
    assert seen["run"] != run_dir
    assert seen["files"] == ["run_settings.json"]
    assert not seen["run"].exists()


def test_iva19_builds_its_strategy_before_reading_data(monkeypatch, non_chief):
    run_dir, _ = non_chief

    class Built(Exception):
        pass

    def fake(*, mirrored):
        raise Built(mirrored)

    monkeypatch.setattr(iva19_cli, "strategy_from_environment", fake)
    with pytest.raises(Built, match="True"):  # before DATA_DIR (absent) is read
        iva19_cli.main([str(run_dir / "model"), "1", str(run_dir / "absent"), "26", "False",
                          "--mirrored"])
    assert os.listdir(run_dir) == ["run_settings.json"]
