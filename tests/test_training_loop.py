import keras
import numpy as np
import pandas as pd
import pytest
import tensorflow as tf

from training.loop import SubStep, Trainer, set_seed


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
from tests.test_training_loop import Linear, data
from training.loop import Trainer, set_seed
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
                          capture_output=True, text=True,
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


class TwoPart(keras.Model):
    """A generator g(x) = dropout(x) w_g and a critic c(y) = y w_c: each loss reaches both."""

    def __init__(self):
        super().__init__()
        self.generator = keras.layers.Dense(1, use_bias=False)
        self.critic = keras.layers.Dense(1, use_bias=False)
        self.dropout = keras.layers.Dropout(0.3, seed=1)  # a random stream to checkpoint
        self.critic(self.generator(np.zeros((1, 3), "float32")))
        self.built = True

    def generator_losses(self, batch, training=False):
        x, y = batch
        fake = self.generator(self.dropout(x, training=training))
        return {"loss": tf.reduce_mean(tf.square(fake - y)) + tf.reduce_mean(self.critic(fake)),
                "fit": tf.reduce_mean(tf.abs(fake - y))}

    def critic_losses(self, batch, training=False):
        x, y = batch  # no stop_gradient: the critic's loss has a gradient for the generator too
        return {"loss": tf.reduce_mean(tf.square(self.critic(y) - 1))
                + tf.reduce_mean(tf.square(self.critic(self.generator(x))))}


def two_part_trainer(run_dir, *, generator_lr=0.05, critic_lr=0.05, warm_up=0):
    set_seed(0)
    model = TwoPart()
    return Trainer(model, [
        SubStep("critic", keras.optimizers.SGD(critic_lr), model.critic.trainable_variables,
                model.critic_losses, start=warm_up),
        SubStep("generator", keras.optimizers.Adam(generator_lr),
                model.generator.trainable_variables, model.generator_losses),
    ], run_dir)


def weights(layer):
    return [w.numpy().copy() for w in layer.weights]


def assert_same(a, b):
    assert len(a) == len(b)
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x, y)


def moved(before, after):
    return any(not np.array_equal(x, y) for x, y in zip(before, after))


@pytest.mark.parametrize("frozen", ["critic", "generator"])
def test_each_optimizer_updates_only_its_own_variables(tmp_path, frozen):
    trainer = two_part_trainer(tmp_path, **{f"{frozen}_lr": 0.0})
    model = trainer.model
    other = "generator" if frozen == "critic" else "critic"
    before = {part: weights(getattr(model, part)) for part in ("critic", "generator")}
    trainer.fit(data().batch(32), epochs=2, monitor="generator_loss")
    # best.weights.h5 is reloaded at the end; either epoch moved what a live optimizer owns
    assert_same(weights(getattr(model, frozen)), before[frozen])
    assert moved(before[other], weights(getattr(model, other)))
    for substep in trainer.substeps:
        assert int(substep.optimizer.iterations.numpy()) == 16  # 2 epochs of 8 batches


def test_warm_up_skips_the_second_optimizer(tmp_path):
    trainer = two_part_trainer(tmp_path, warm_up=8)  # the whole first epoch
    model = trainer.model
    critic, generator = trainer.substeps[0].optimizer, trainer.substeps[1].optimizer
    start = weights(model.critic)
    rows = {}
    trainer.fit(data().batch(32), epochs=3, monitor="generator_loss",
                on_epoch_end=lambda epoch, row: rows.update({epoch: (row, weights(model.critic))}))
    assert_same(rows[1][1], start)  # never moved during the warm-up
    assert moved(start, rows[2][1])
    assert int(critic.iterations.numpy()) == 16
    assert int(generator.iterations.numpy()) == 24
    assert "train_critic_loss" not in rows[1][0]
    assert {"train_critic_loss", "train_generator_loss", "train_generator_fit"} <= set(rows[2][0])
    history = pd.read_csv(tmp_path / "history.csv")
    assert np.isnan(history.train_critic_loss[0])
    assert history.train_critic_loss[1:].notna().all()
    with pytest.raises(AttributeError, match="several optimizers"):
        trainer.optimizer  # noqa: B018


def test_sub_steps_are_checked(tmp_path):
    model = TwoPart()
    step = SubStep("a", keras.optimizers.SGD(0.1), model.critic.trainable_variables,
                   model.critic_losses, start=5)
    with pytest.raises(ValueError, match="from step 0"):
        Trainer(model, [step], tmp_path)
    with pytest.raises(ValueError, match="distinct non-empty names"):
        Trainer(model, [SubStep("a", keras.optimizers.SGD(0.1), step.variables, step.losses),
                        SubStep("a", keras.optimizers.SGD(0.1), step.variables, step.losses)],
                tmp_path)
    with pytest.raises(TypeError, match="compute_losses"):
        Trainer(model, keras.optimizers.SGD(0.1), tmp_path)


def test_a_loss_scale_optimizer_trains(tmp_path):
    set_seed(0)
    model = Linear()
    model(np.zeros((1, 3), "float32"))
    optimizer = keras.optimizers.LossScaleOptimizer(keras.optimizers.Adam(0.05))
    result = Trainer(model, optimizer, tmp_path).fit(data().batch(32), epochs=4)
    assert result.history.train_loss.iloc[-1] < 0.1 * result.history.train_loss.iloc[0]
