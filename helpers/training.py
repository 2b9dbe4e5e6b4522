"""The one training loop of the project: every model trains through :class:`Trainer`.

A model plugs in by implementing ``compute_losses(batch, training) -> dict`` whose ``"loss"``
entry is the total to minimise and whose other entries are reported by name (TensorBoard,
the progress bar, ``history.csv``). The loop gives every model the same services:

* a ``tf.function``-compiled step written for ``tf.distribute``: the loss is divided by
  ``num_replicas_in_sync`` and the dataset is distributed, so the same code runs on one CPU
  here and on several GPUs unchanged (pass a strategy; build the model in its scope);
* a checkpoint (model, optimizer, epoch, early-stopping state) after every epoch, restored
  automatically so an interrupted run resumes where it stopped;
* early stopping on the dev loss (or another monitored entry) with the best weights kept
  in ``best.weights.h5``;
* TensorBoard scalars in ``RUN_DIR/logs``, ``history.csv`` and a ``loss_curve.png``.

``RUN_DIR`` layout::

    checkpoints/        tf.train.CheckpointManager files (resume)
    best.weights.h5     weights of the best epoch (dev loss, else train loss)
    history.csv         one row per epoch: train_<loss>, dev_<loss>
    loss_curve.png      train and dev loss per epoch
    logs/               TensorBoard
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import keras
import matplotlib
import numpy as np
import pandas as pd
import tensorflow as tf
from tqdm.auto import tqdm

from data_processing.files import atomic_path

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


@dataclass
class TrainingResult:
    """What a :meth:`Trainer.fit` call did.

    Parameters
    ----------
    history : pandas.DataFrame
        One row per epoch (all epochs of the run, resumed ones included).
    best_epoch : int
        1-based epoch whose weights are in ``best.weights.h5`` (and in the model on return).
    stopped_early : bool
        Whether early stopping ended the run.
    """

    history: pd.DataFrame
    best_epoch: int
    stopped_early: bool


class Trainer:
    """Train a model with ``compute_losses`` by a custom loop (see the module docstring).

    Parameters
    ----------
    model : keras.Model
        Built model with a ``compute_losses(batch, training)`` method.
    optimizer : keras.optimizers.Optimizer
    run_dir : path-like
        Where checkpoints, logs and curves go.
    strategy : tf.distribute.Strategy, optional
        Default: the current (default) strategy.
    jit_compile : bool
        Compile the step with XLA (useful on GPU).
    """

    def __init__(self, model, optimizer, run_dir, *, strategy=None, jit_compile: bool = False):
        if not hasattr(model, "compute_losses"):
            raise TypeError(f"Expected a model with compute_losses(). Received: {type(model)}")
        self.model = model
        self.optimizer = optimizer
        self.run_dir = Path(run_dir)
        self.strategy = strategy or tf.distribute.get_strategy()
        self.jit_compile = jit_compile
        with self.strategy.scope():
            self.optimizer.build(model.trainable_variables)
            self._epoch = tf.Variable(0, dtype=tf.int64, trainable=False)
            self._best = tf.Variable(np.inf, dtype=tf.float64, trainable=False)
            self._best_epoch = tf.Variable(0, dtype=tf.int64, trainable=False)
            self._wait = tf.Variable(0, dtype=tf.int64, trainable=False)
        self._checkpoint = tf.train.Checkpoint(
            model=model, optimizer=optimizer, epoch=self._epoch, best=self._best,
            best_epoch=self._best_epoch, wait=self._wait,
        )
        self._manager = tf.train.CheckpointManager(
            self._checkpoint, self.run_dir / "checkpoints", max_to_keep=2
        )
        self._train_step = self._distributed(self._replica_train_step)
        self._eval_step = self._distributed(self._replica_eval_step)

    # -- steps -----------------------------------------------------------------------------

    def _losses(self, batch, training: bool) -> dict:
        losses = dict(self.model.compute_losses(batch, training=training))
        if self.model.losses:  # weight regularisers
            losses["regularization"] = tf.add_n(self.model.losses)
            losses["loss"] = losses["loss"] + losses["regularization"]
        return losses

    def _replica_train_step(self, batch):
        with tf.GradientTape() as tape:
            losses = self._losses(batch, training=True)
            scaled = losses["loss"] / self.strategy.num_replicas_in_sync
        variables = self.model.trainable_variables
        grads = tape.gradient(scaled, variables)
        self.optimizer.apply_gradients(
            [(g, v) for g, v in zip(grads, variables) if g is not None]
        )
        return losses

    def _replica_eval_step(self, batch):
        return self._losses(batch, training=False)

    def _distributed(self, replica_fn: Callable) -> Callable:
        def step(batch):
            per_replica = self.strategy.run(replica_fn, args=(batch,))
            return {k: self.strategy.reduce(tf.distribute.ReduceOp.MEAN, v, axis=None)
                    for k, v in per_replica.items()}

        return tf.function(step, jit_compile=self.jit_compile, reduce_retracing=True)

    # -- loop ------------------------------------------------------------------------------

    def restore(self) -> int:
        """Restore the latest checkpoint if there is one; return the epochs already done."""
        if self._manager.latest_checkpoint:
            self._checkpoint.restore(self._manager.latest_checkpoint).assert_existing_objects_matched()
        return int(self._epoch.numpy())

    def evaluate(self, dataset) -> dict[str, float]:
        """Mean of every loss over a (finite) dataset."""
        totals: dict[str, float] = {}
        count = 0
        for batch in self.strategy.experimental_distribute_dataset(dataset):
            for k, v in self._eval_step(batch).items():
                totals[k] = totals.get(k, 0.0) + float(v)
            count += 1
        return {k: v / max(count, 1) for k, v in totals.items()}

    def fit(self, train_dataset, *, epochs: int, steps_per_epoch: int | None = None,
            dev_dataset=None, patience: int | None = None, monitor: str = "loss",
            on_epoch_end: Callable[[int, dict], None] | None = None) -> TrainingResult:
        """Train until ``epochs`` (counting epochs done before an interruption) or early stop.

        Parameters
        ----------
        train_dataset : tf.data.Dataset
            Batches; re-iterated every epoch (shuffle it with ``reshuffle_each_iteration``),
            or an infinite stream read ``steps_per_epoch`` batches at a time.
        epochs : int
            Total number of epochs of the run.
        steps_per_epoch : int, optional
            Batches per epoch (required for an infinite dataset).
        dev_dataset : tf.data.Dataset, optional
            Evaluated after each epoch; its ``monitor`` entry selects the best epoch.
        patience : int, optional
            Stop after this many epochs without improvement of the monitored loss.
        monitor : str
            Entry of the loss dict that selects the best epoch and drives early stopping
            (its dev value when there is a dev dataset, else its train value).
        on_epoch_end : callable, optional
            Called with ``(epoch, row)`` after each epoch.
        """
        done = self.restore()
        history = self._read_history(done)
        writer = tf.summary.create_file_writer(str(self.run_dir / "logs"))
        stream = iter(self.strategy.experimental_distribute_dataset(train_dataset)) \
            if steps_per_epoch else None
        stopped = False
        for epoch in range(done, epochs):
            batches = stream or iter(self.strategy.experimental_distribute_dataset(train_dataset))
            totals, count = {}, 0
            bar = tqdm(total=steps_per_epoch, desc=f"epoch {epoch + 1}/{epochs}", unit="batch",
                       leave=False)
            while steps_per_epoch is None or count < steps_per_epoch:
                batch = next(batches, None)
                if batch is None:
                    break
                for k, v in self._train_step(batch).items():
                    totals[k] = totals.get(k, 0.0) + float(v)
                count += 1
                bar.update()
                bar.set_postfix(loss=f"{totals['loss'] / count:.4g}", refresh=False)
            bar.close()
            if count == 0:
                raise ValueError("The training dataset produced no batches.")
            row = {"epoch": epoch + 1, **{f"train_{k}": v / count for k, v in totals.items()}}
            if dev_dataset is not None:
                row.update({f"dev_{k}": v for k, v in self.evaluate(dev_dataset).items()})
            monitored = row.get(f"dev_{monitor}", row[f"train_{monitor}"])
            improved = math.isfinite(monitored) and monitored < float(self._best.numpy())
            if improved:
                self._best.assign(monitored)
                self._best_epoch.assign(epoch + 1)
                self._wait.assign(0)
                with atomic_path(self.run_dir / "best.weights.h5") as tmp:
                    self.model.save_weights(tmp)
            else:
                self._wait.assign_add(1)
            self._epoch.assign(epoch + 1)
            self._manager.save()
            history = pd.concat([history, pd.DataFrame([row])], ignore_index=True)
            self._write_logs(writer, row, history)
            print(" ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}"
                           for k, v in row.items()), flush=True)
            if on_epoch_end is not None:
                on_epoch_end(epoch + 1, row)
            if patience is not None and int(self._wait.numpy()) >= patience:
                stopped = True
                break
        if (self.run_dir / "best.weights.h5").is_file():
            self.model.load_weights(self.run_dir / "best.weights.h5")
        return TrainingResult(history, int(self._best_epoch.numpy()), stopped)

    # -- records ---------------------------------------------------------------------------

    def _read_history(self, done: int) -> pd.DataFrame:
        path = self.run_dir / "history.csv"
        if done and path.is_file():
            return pd.read_csv(path).iloc[:done]
        return pd.DataFrame()

    def _write_logs(self, writer, row: dict, history: pd.DataFrame) -> None:
        with writer.as_default():
            for k, v in row.items():
                if k != "epoch":
                    split, name = k.split("_", 1)
                    tf.summary.scalar(f"{name}/{split}", v, step=row["epoch"])
        writer.flush()
        with atomic_path(self.run_dir / "history.csv") as tmp:
            history.to_csv(tmp, index=False)
        plot_loss_curve(history, self.run_dir / "loss_curve.png")


def plot_loss_curve(history: pd.DataFrame, path) -> None:
    """Plot ``train_loss`` and ``dev_loss`` per epoch to a PNG (written atomically)."""
    fig, ax = plt.subplots(figsize=(6, 4))
    for column in ("train_loss", "dev_loss"):
        if column in history:
            ax.plot(history["epoch"], history[column], marker=".", label=column.split("_")[0])
    ax.set_xlabel("epoch")
    ax.set_ylabel("loss")
    if (history.filter(like="_loss") > 0).all().all():
        ax.set_yscale("log")
    ax.legend()
    ax.grid(alpha=0.3)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=100)
    plt.close(fig)


def set_seed(seed: int) -> None:
    """Seed Python, numpy and TensorFlow (``keras.utils.set_random_seed``)."""
    keras.utils.set_random_seed(seed)
