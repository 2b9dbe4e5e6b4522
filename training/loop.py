"""The one training loop of the project: every model family trains through :class:`Trainer`.

A model with one optimizer plugs in by implementing ``compute_losses(batch, training) -> dict``
whose ``"loss"`` entry is the total to minimise and whose other entries are reported by name
(TensorBoard, the progress bar, ``history.csv``)::

    Trainer(model, keras.optimizers.Adam(1e-3), run_dir).fit(batches, epochs=10)

A model trained by several optimizers in alternation (a generator and a discriminator, each
with its own learning rate, the discriminator skipped during a warm-up) passes one
:class:`SubStep` per optimizer instead. Every training step runs the active sub-steps in
order, each with its own forward pass, tape and update of its own variables only; sub-step
``name``'s losses are reported as ``<name>_<entry>``::

    Trainer(gan, [
        SubStep("discriminator", keras.optimizers.Adam(4e-4), gan.critic.trainable_variables,
                gan.discriminator_losses, start=500),  # skipped in the first 500 steps
        SubStep("generator", keras.optimizers.Adam(1e-4), gan.generator.trainable_variables,
                gan.generator_losses),
    ], run_dir).fit(batches, epochs=10, monitor="generator_loss")

The loop gives every model the same services:

* ``tf.function``-compiled steps written for ``tf.distribute``: the loss is divided by
  ``num_replicas_in_sync`` and the dataset is distributed, so the same code runs on one CPU
  here and on several GPUs unchanged (pass a strategy; build the model in its scope);
* several machines (``MultiWorkerMirroredStrategy``, :mod:`training.distribute`): every
  dataset of global batches is sharded by data (each replica takes its slice of every batch,
  so a step's global batch is the single-worker batch); losses are the mean of the replicas'
  means and the gradient is that of the global batch's mean when the batch splits evenly;
  the chief trains in ``RUN_DIR`` and the other workers in their private copies
  (``training.distribute.worker_run_dir``), and ``fit`` checks that every worker resumed from
  the same epoch;
* mixed precision: a model and optimizers prepared by :mod:`training.precision` (a
  ``LossScaleOptimizer`` for float16: the step scales the loss with ``optimizer.scale_loss``
  as Keras' own ``fit`` does);
* no host synchronisation per step: the losses are summed on the device and read once per
  epoch (the progress bar shows the running loss every :data:`POSTFIX_EVERY` steps);
* exact resume: a checkpoint after every epoch holds the model, every optimizer, the epoch
  and step counts, the early-stopping state and the state of every ``SeedGenerator`` of the
  model (dropout, noise, sampling); with a training order that is a pure function of the
  epoch (pass ``epoch -> tf.data.Dataset``, see :mod:`training.data`, or an infinite stream
  seeded by step), a killed and resumed run gives the weights and history of an uninterrupted
  one, bit for bit; ``fit`` says ``resumed from epoch N (RUN_DIR)``;
* determinism: :func:`set_seed` seeds every generator and enables TensorFlow's op
  determinism, so two runs with one seed on one machine are identical;
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

import functools
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import keras
import matplotlib
import numpy as np
import pandas as pd
import tensorflow as tf
from tqdm.auto import tqdm

from data_processing.files import PipelineError, atomic_path
from training.distribute import distribute_dataset, is_multi_worker

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

POSTFIX_EVERY = 20  # steps between two reads of the running loss for the progress bar


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


@dataclass(frozen=True)
class SubStep:
    """One optimizer's update in every training step (see the module docstring).

    Parameters
    ----------
    name : str
        Prefix of its loss entries (``"generator"``: ``generator_loss``, ...); empty for a
        single optimizer, whose entries keep their own names.
    optimizer : keras.optimizers.Optimizer
        With its own learning rate (schedule) and state.
    variables : list of keras.Variable
        What it updates, and nothing else.
    losses : callable
        ``(batch, training) -> dict`` of scalars; its ``"loss"`` entry is minimised.
    start : int
        First step (0-based, counted over the whole run) at which it runs: it is skipped
        during a warm-up of ``start`` steps.
    """

    name: str
    optimizer: Any
    variables: list
    losses: Callable
    start: int = 0

    def key(self, entry: str) -> str:
        """The name under which this sub-step reports its loss entry ``entry``."""
        return f"{self.name}_{entry}" if self.name else entry


def _substeps(model, optimizer) -> tuple[SubStep, ...]:
    """The sub-steps of a trainer: one for a plain optimizer, else the given ones, checked."""
    if isinstance(optimizer, keras.optimizers.Optimizer):
        if not hasattr(model, "compute_losses"):
            raise TypeError(f"Expected a model with compute_losses(). Received: {type(model)}")
        return (SubStep("", optimizer, model.trainable_variables, model.compute_losses),)
    substeps = tuple(optimizer)
    names = [s.name for s in substeps]
    if not substeps or len(set(names)) != len(names) or (len(names) > 1 and "" in names):
        raise ValueError(f"Expected sub-steps with distinct non-empty names. Received: {names}")
    if min(s.start for s in substeps) != 0:
        raise ValueError("Expected at least one sub-step that runs from step 0 (start=0).")
    return substeps


def seed_states(model: keras.Model) -> list:
    """The state variables of every ``keras.random.SeedGenerator`` in ``model``.

    Dropout, noise layers and the model's own sampling draw from them; Keras' weights (and
    ``tf.train.Checkpoint(model=...)``) leave them out, so the trainer checkpoints them itself.
    """
    weights = {id(w) for w in model.weights}
    return [v for v in model.variables if id(v) not in weights]


@tf.function
def _accumulate(sums: dict, losses: dict) -> dict:
    """``sums`` plus ``losses`` entry by entry, in float64 (new entries start at their value)."""
    added = {k: tf.cast(v, tf.float64) + sums[k] if k in sums else tf.cast(v, tf.float64)
             for k, v in losses.items()}
    return {**sums, **added}


class _LossSums:
    """Per-entry sums of loss dicts, kept on the device; read only by :meth:`means`."""

    def __init__(self):
        self.sums: dict = {}
        self.counts: dict[str, int] = {}  # also the entries' order of first appearance

    def add(self, losses: dict) -> None:
        self.sums = _accumulate(self.sums, losses)
        for k in losses:
            self.counts[k] = self.counts.get(k, 0) + 1

    def mean(self, key: str) -> float:
        return float(self.sums[key]) / self.counts[key]

    def means(self) -> dict[str, float]:
        return {k: self.mean(k) for k in self.counts}


class Trainer:
    """Train a model by a custom loop (see the module docstring).

    Parameters
    ----------
    model : keras.Model
        Built model; with a ``compute_losses(batch, training)`` method for a plain optimizer.
    optimizer : keras.optimizers.Optimizer or sequence of SubStep
        One optimizer for ``model.compute_losses``, or one sub-step per optimizer.
    run_dir : path-like
        Where checkpoints, logs and curves go.
    strategy : tf.distribute.Strategy, optional
        Default: the current (default) strategy.
    jit_compile : bool
        Compile the step with XLA (useful on GPU).
    """

    def __init__(self, model, optimizer: keras.optimizers.Optimizer | Sequence[SubStep],
                 run_dir, *, strategy=None, jit_compile: bool = False):
        self.model = model
        self.substeps = _substeps(model, optimizer)
        self.run_dir = Path(run_dir)
        self.strategy = strategy or tf.distribute.get_strategy()
        self.jit_compile = jit_compile
        with self.strategy.scope():
            for substep in self.substeps:
                substep.optimizer.build(substep.variables)
            self._epoch = tf.Variable(0, dtype=tf.int64, trainable=False)
            self._step = tf.Variable(0, dtype=tf.int64, trainable=False)
            self._best = tf.Variable(np.inf, dtype=tf.float64, trainable=False)
            self._best_epoch = tf.Variable(0, dtype=tf.int64, trainable=False)
            self._wait = tf.Variable(0, dtype=tf.int64, trainable=False)
        self._steps = 0  # host copy of ``_step``: picks the active sub-steps without a sync
        self._checkpoint = tf.train.Checkpoint(
            model=model, optimizers=[s.optimizer for s in self.substeps],
            seed_states=seed_states(model), epoch=self._epoch, step=self._step,
            best=self._best, best_epoch=self._best_epoch, wait=self._wait,
        )
        self._manager = tf.train.CheckpointManager(
            self._checkpoint, self.run_dir / "checkpoints", max_to_keep=2
        )
        self._train_steps: dict[tuple[int, ...], Callable] = {}
        self._eval_step = self._distributed(self._replica_eval_step)

    @property
    def optimizer(self) -> keras.optimizers.Optimizer:
        """The optimizer of a single-optimizer trainer."""
        if len(self.substeps) != 1:
            raise AttributeError("This trainer has several optimizers; see .substeps")
        return self.substeps[0].optimizer

    # -- steps -----------------------------------------------------------------------------

    def _losses(self, substep: SubStep, batch, training: bool) -> dict:
        losses = dict(substep.losses(batch, training=training))
        if self.model.losses:  # weight regularisers
            losses["regularization"] = tf.add_n(self.model.losses)
            losses["loss"] = losses["loss"] + losses["regularization"]
        return {substep.key(k): v for k, v in losses.items()}

    def _replica_train_step(self, active: tuple[int, ...], batch) -> dict:
        reported = {}
        for substep in (self.substeps[i] for i in active):
            with tf.GradientTape() as tape:
                losses = self._losses(substep, batch, training=True)
                scaled = substep.optimizer.scale_loss(  # LossScaleOptimizer: mixed precision
                    losses[substep.key("loss")] / self.strategy.num_replicas_in_sync)
            grads = tape.gradient(scaled, substep.variables)
            substep.optimizer.apply_gradients(
                [(g, v) for g, v in zip(grads, substep.variables) if g is not None]
            )
            reported.update(losses)
        return reported

    def _replica_eval_step(self, batch) -> dict:
        return {k: v for substep in self.substeps
                for k, v in self._losses(substep, batch, training=False).items()}

    def _distributed(self, replica_fn: Callable) -> Callable:
        """``replica_fn`` run on every replica, as one compiled step.

        Autograph is off: the steps have no tensor-dependent Python control flow, and
        converting them was a third of the time to trace the Audio2Gestures step (most of a
        short run's time). The step is traced for the batch shapes it meets (a smaller last
        batch adds one trace): with an unknown batch size in a signature the losses differ in
        their last bits, which on the demo speaker trained another Audio2Gestures baseline.
        """
        def step(batch):
            per_replica = self.strategy.run(replica_fn, args=(batch,))
            return {k: self.strategy.reduce(tf.distribute.ReduceOp.MEAN, v, axis=None)
                    for k, v in per_replica.items()}

        return tf.function(step, jit_compile=self.jit_compile, reduce_retracing=True,
                           autograph=False)

    def train_step(self, batch) -> dict:
        """One training step on a distributed batch: every active sub-step, in order.

        Returns the loss entries as device tensors (reading them syncs with the device).
        """
        active = tuple(i for i, s in enumerate(self.substeps) if self._steps >= s.start)
        if active not in self._train_steps:  # one compiled step per set of active sub-steps
            self._train_steps[active] = self._distributed(
                functools.partial(self._replica_train_step, active))
        self._steps += 1
        return self._train_steps[active](batch)

    # -- loop ------------------------------------------------------------------------------

    def restore(self) -> int:
        """Restore the latest checkpoint if there is one; return the epochs already done."""
        if self._manager.latest_checkpoint:
            self._checkpoint.restore(self._manager.latest_checkpoint).assert_existing_objects_matched()
        self._steps = int(self._step.numpy())
        return int(self._epoch.numpy())

    def _check_same_start(self, done: int) -> None:
        """Raise unless every worker restored ``done`` epochs (one all-reduce, multi-worker only).

        Workers that read different checkpoints would train different models and wait on each
        other forever; they agree when the run directory is on storage they all read.
        """
        if not is_multi_worker(self.strategy):
            return
        local = tf.constant([1.0, done, done * done], tf.float64)
        count, total, squares = tf.function(lambda: self.strategy.reduce(
            tf.distribute.ReduceOp.SUM, self.strategy.run(lambda: local), axis=None))().numpy()
        if count * squares != total * total:
            raise PipelineError(
                f"{self.run_dir}: the workers resumed from different epochs (this one from "
                f"{done}, their mean {total / count:g}): put RUN_DIR on storage every worker "
                "reads (training.distribute.worker_run_dir)")

    def evaluate(self, dataset) -> dict[str, float]:
        """Mean over the batches of a (finite) dataset of every loss entry."""
        sums = _LossSums()
        for batch in distribute_dataset(self.strategy, dataset):
            sums.add(self._eval_step(batch))
        return sums.means()

    def fit(self, train_dataset, *, epochs: int, steps_per_epoch: int | None = None,
            dev_dataset=None, patience: int | None = None, monitor: str = "loss",
            on_epoch_end: Callable[[int, dict], None] | None = None) -> TrainingResult:
        """Train until ``epochs`` (counting epochs done before an interruption) or early stop.

        Parameters
        ----------
        train_dataset : tf.data.Dataset or callable
            ``epoch -> tf.data.Dataset`` (0-based epoch): the batches of that epoch, in an
            order that depends only on the epoch, for an exact resume (:mod:`training.data`).
            Or a dataset re-iterated every epoch, or an infinite stream read
            ``steps_per_epoch`` batches at a time (a resumed run restarts these).
        epochs : int
            Total number of epochs of the run.
        steps_per_epoch : int, optional
            Batches per epoch (required for an infinite stream).
        dev_dataset : tf.data.Dataset, optional
            Evaluated after each epoch; its ``monitor`` entry selects the best epoch.
        patience : int, optional
            Stop after this many epochs without improvement of the monitored loss.
        monitor : str
            Entry of the loss dict that selects the best epoch and drives early stopping
            (its dev value when there is a dev dataset, else its train value).
        on_epoch_end : callable, optional
            Called with ``(epoch, row)`` after each epoch (its checkpoint is written).
        """
        done = self.restore()
        self._check_same_start(done)
        if done:
            print(f"resumed from epoch {done} ({self.run_dir})", flush=True)
        history = self._read_history(done)
        writer = tf.summary.create_file_writer(str(self.run_dir / "logs"))
        batches_of = self._epoch_batches(train_dataset, steps_per_epoch)
        stopped = False
        for epoch in range(done, epochs):
            train = self._train_epoch(batches_of(epoch), steps_per_epoch,
                                      f"epoch {epoch + 1}/{epochs}")
            row = {"epoch": epoch + 1, **{f"train_{k}": v for k, v in train.items()}}
            if dev_dataset is not None:
                row.update({f"dev_{k}": v for k, v in self.evaluate(dev_dataset).items()})
            self._end_epoch(epoch + 1, row.get(f"dev_{monitor}", row[f"train_{monitor}"]))
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

    def _epoch_batches(self, train_dataset, steps_per_epoch: int | None) -> Callable:
        """``epoch -> iterator`` over the distributed batches of that epoch."""
        distribute = functools.partial(distribute_dataset, self.strategy)
        if not isinstance(train_dataset, tf.data.Dataset):
            return lambda epoch: iter(distribute(train_dataset(epoch)))
        if steps_per_epoch:
            stream = iter(distribute(train_dataset))
            return lambda epoch: stream
        return lambda epoch: iter(distribute(train_dataset))

    def _train_epoch(self, batches, steps: int | None, description: str) -> dict[str, float]:
        """Run the training steps of one epoch; return the mean of every loss entry."""
        sums = _LossSums()
        bar = tqdm(total=steps, desc=description, unit="batch", leave=False)
        count = 0
        while steps is None or count < steps:
            batch = next(batches, None)
            if batch is None:
                break
            sums.add(self.train_step(batch))
            count += 1
            bar.update()
            if count % POSTFIX_EVERY == 0:
                bar.set_postfix({k: f"{sums.mean(k):.4g}" for k in sums.counts
                                 if k in {s.key("loss") for s in self.substeps}}, refresh=False)
        bar.close()
        if count == 0:
            raise ValueError("The training dataset produced no batches.")
        return sums.means()

    def _end_epoch(self, epoch: int, monitored: float) -> None:
        """Update the early-stopping state, keep the best weights, write the checkpoint."""
        if math.isfinite(monitored) and monitored < float(self._best.numpy()):
            self._best.assign(monitored)
            self._best_epoch.assign(epoch)
            self._wait.assign(0)
            with atomic_path(self.run_dir / "best.weights.h5") as tmp:
                self.model.save_weights(tmp)
        else:
            self._wait.assign_add(1)
        self._epoch.assign(epoch)
        self._step.assign(self._steps)
        self._manager.save()

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
    """Plot every ``train_*loss`` and ``dev_*loss`` column per epoch to a PNG (atomically)."""
    columns = [c for c in history if c.endswith("loss") and c.split("_")[0] in ("train", "dev")]
    fig, ax = plt.subplots(figsize=(6, 4))
    for column in columns:
        ax.plot(history["epoch"], history[column], marker=".", label=column[: -len("_loss")])
    ax.set_xlabel("epoch")
    ax.set_ylabel("loss")
    if (history[columns] > 0).all().all():
        ax.set_yscale("log")
    ax.legend()
    ax.grid(alpha=0.3)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=100)
    plt.close(fig)


def set_seed(seed: int) -> None:
    """Seed Python, numpy and TensorFlow, and make TensorFlow's ops deterministic.

    ``keras.utils.set_random_seed`` seeds the generators; ``enable_op_determinism`` then makes
    two runs with one seed on one machine give the same numbers (process-wide; an op without
    a deterministic implementation raises instead of running).
    """
    keras.utils.set_random_seed(seed)
    tf.config.experimental.enable_op_determinism()
