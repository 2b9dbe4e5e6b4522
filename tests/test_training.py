import keras
import numpy as np
import pandas as pd
import tensorflow as tf

from helpers.training import Trainer, set_seed


class Linear(keras.Model):
    """y = x w: the smallest model with compute_losses."""

    def __init__(self):
        super().__init__()
        self.dense = keras.layers.Dense(1, use_bias=False)

    def call(self, x, training=False):
        return self.dense(x)

    def compute_losses(self, batch, training=False):
        x, y = batch
        error = tf.reduce_mean(tf.square(self(x, training=training) - y))
        return {"loss": error, "abs": tf.reduce_mean(tf.abs(self(x) - y))}


def data(n=256, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 3)).astype("float32")
    return tf.data.Dataset.from_tensor_slices((x, x @ np.array([[1.0], [-2.0], [0.5]], "f4")))


def make(run_dir, lr=0.05):
    set_seed(0)
    model = Linear()
    model(np.zeros((1, 3), "float32"))
    return Trainer(model, keras.optimizers.Adam(lr), run_dir)


def test_learns_and_records(tmp_path):
    trainer = make(tmp_path)
    result = trainer.fit(data().batch(32), epochs=6, dev_dataset=data(64, 1).batch(32))
    history = pd.read_csv(tmp_path / "history.csv")
    assert list(history.epoch) == [1, 2, 3, 4, 5, 6]
    assert history.dev_loss.iloc[-1] < 0.1 * history.dev_loss.iloc[0]
    assert {"train_abs", "dev_abs"} <= set(history.columns)
    assert (tmp_path / "loss_curve.png").stat().st_size > 1000
    assert (tmp_path / "best.weights.h5").is_file()
    assert any((tmp_path / "logs").iterdir())
    assert result.best_epoch == int(history.dev_loss.idxmin()) + 1


def test_resumes_after_interruption(tmp_path):
    first = make(tmp_path)
    first.fit(data().batch(32), epochs=2)
    steps_after_two = int(first.optimizer.iterations.numpy())
    weights_after_two = first.model.get_weights()[0].copy()

    second = make(tmp_path)  # a new process would start exactly like this
    assert second.restore() == 2
    np.testing.assert_array_equal(second.model.get_weights()[0], weights_after_two)
    assert int(second.optimizer.iterations.numpy()) == steps_after_two
    result = second.fit(data().batch(32), epochs=4)
    assert list(result.history.epoch) == [1, 2, 3, 4]
    assert int(second.optimizer.iterations.numpy()) == 2 * steps_after_two


def test_early_stopping_keeps_best_weights(tmp_path):
    trainer = make(tmp_path, lr=5.0)  # diverging: the dev loss stops improving at once
    result = trainer.fit(data().batch(32), epochs=30, dev_dataset=data(64, 1).batch(64),
                         patience=2)
    assert result.stopped_early
    assert len(result.history) < 30
    best = result.history.dev_loss.min()
    assert abs(trainer.evaluate(data(64, 1).batch(64))["loss"] - best) < 1e-4 * max(1, best)


def test_infinite_stream_with_steps_per_epoch(tmp_path):
    trainer = make(tmp_path)
    result = trainer.fit(data().repeat().batch(16), epochs=2, steps_per_epoch=5)
    assert int(trainer.optimizer.iterations.numpy()) == 10
    assert len(result.history) == 2


MIRRORED = """
import tensorflow as tf
cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
import keras, numpy as np, sys
from tests.test_training import Linear, data
from helpers.training import Trainer, set_seed
set_seed(0)
strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
with strategy.scope():
    model = Linear()
    model(np.zeros((1, 3), "float32"))
    optimizer = keras.optimizers.Adam(0.05)
result = Trainer(model, optimizer, sys.argv[1], strategy=strategy).fit(
    data().batch(32), epochs=5, dev_dataset=data(64, 1).batch(32))
assert strategy.num_replicas_in_sync == 2
assert result.history.dev_loss.iloc[-1] < 0.5 * result.history.dev_loss.iloc[0]
print("ok")
"""


def test_runs_under_a_mirrored_strategy(tmp_path):
    import subprocess
    import sys

    from tests.conftest import REPO

    done = subprocess.run([sys.executable, "-c", MIRRORED, str(tmp_path)], cwd=REPO,
                          capture_output=True, text=True, timeout=300,
                          env={"PYTHONPATH": str(REPO), "TF_CPP_MIN_LOG_LEVEL": "2",
                               "PATH": "/usr/bin:/bin"})
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip().endswith("ok")


class Inverted(Linear):
    """Reports ``worse`` = minus the loss: lowest when the loss is highest."""

    def compute_losses(self, batch, training=False):
        losses = super().compute_losses(batch, training=training)
        return {**losses, "worse": -losses["loss"]}


def test_monitor_picks_the_best_epoch_by_another_entry(tmp_path):
    set_seed(0)
    model = Inverted()
    model(np.zeros((1, 3), "float32"))
    trainer = Trainer(model, keras.optimizers.Adam(0.05), tmp_path)
    result = trainer.fit(data().batch(32), epochs=4, dev_dataset=data(64, 1).batch(32),
                         monitor="worse")
    assert result.history.dev_loss.is_monotonic_decreasing
    assert result.best_epoch == 1  # the highest dev loss is the lowest "worse"
