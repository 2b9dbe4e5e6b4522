"""How close each family's training step gets to this machine's peak: FLOP/s, bf16, XLA.

1. Peak: a large matrix product (``n x n`` by ``n x n``, ``2 n^3`` FLOPs) in float32 and in
   bfloat16, timed on all cores; the best of a few runs is the measured peak.
2. FLOPs per training step, counted from each model's layers (:mod:`training.flops`: every
   call of a Dense / Conv / GRU layer in the step's forward pass, times 3 for the backward
   pass) beside TensorFlow's own counts (its profiler, which does not see inside loops:
   HA2G's and IVA'19's GRUs) of the forward graph and of the whole step's graph.
3. Steps per second of :class:`training.loop.Trainer`'s step for every family, side by side:
   float32 (the current code), ``mixed_bfloat16`` (:mod:`training.precision`) and float32
   with XLA (``jit_compile``); achieved FLOP/s and the fraction of the float32 peak, timed
   again just before each setting (on a shared machine the load changes within a run).
4. Audio2Gestures input pipeline: batches per second of the ``tf.data`` stream
   (:func:`gesture_vae.data.training_dataset`) against the Python generator it replaced
   (:meth:`gesture_vae.data.SequenceSet.random_batches` through ``from_generator``).

Usage::

    python benchmarks/bench_speed.py [--steps 5] [--families iva19 a2g ha2g] [--size 2048]

Models are untrained at the paper's widths: IVA'19 at N_CONTEXT 60, batch 128 (the paper's
2056 is 16x the work per step); Audio2Gestures ``full``, batch 32 x 64 frames; HA2G ``full``
official sizes, batch 4 x 34 frames (its 256 is 64x the work). The data is the demo speaker.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import bench_a2g  # noqa: E402
import bench_ha2g  # noqa: E402
import bench_iva19  # noqa: E402
import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from gesture_vae.data import SequenceSet, training_dataset  # noqa: E402
from training.flops import TRAINING_FACTOR, forward_flops, tf_flops  # noqa: E402
from training.loop import Trainer, set_seed  # noqa: E402
from training.precision import set_precision, wrap_optimizer  # noqa: E402

SETTINGS = (("float32", False), ("mixed_bfloat16", False), ("float32", True))
HA2G_BATCH = 4  # the official 256 costs 8.8 TFLOP per step: minutes per step on 2 cores


def matmul_peaks(n: int, repeats: int, dtypes=(tf.float32, tf.bfloat16)) -> dict:
    """Best FLOP/s of ``n x n`` by ``n x n`` products of each of ``dtypes``.

    The dtypes are timed in turn, ``repeats`` times each, so that a machine whose load changes
    during the run loads them alike.
    """
    rng = np.random.default_rng(0)
    product = tf.function(tf.linalg.matmul)
    operands = {dtype: [tf.constant(rng.normal(size=(n, n)), dtype) for _ in range(2)]
                for dtype in dtypes}
    best = {}
    for round_ in range(repeats + 1):  # round 0 traces and warms up
        for dtype, (a, b) in operands.items():
            start = time.perf_counter()
            product(a, b).numpy()
            if round_:
                best[dtype] = min(best.get(dtype, np.inf), time.perf_counter() - start)
    return {dtype: 2 * n**3 / seconds for dtype, seconds in best.items()}


@dataclass
class Family:
    """How to build one family's model, trainer and batch for the benchmark."""

    name: str
    describe: str
    build: Callable  # precision, jit, run_dir -> (model, trainer)
    batch: dict | tuple
    forward: Callable  # model -> callable(batch): the forward passes of one training step


def iva19_family() -> Family:
    n_context, batch_size = 60, 128
    rng = np.random.default_rng(0)
    batch = (rng.normal(size=(batch_size, n_context + 1, bench_iva19.F)).astype(np.float32),
             rng.normal(size=(batch_size, bench_iva19.D)).astype(np.float32))

    def build(precision, jit, run_dir):
        model = set_precision(bench_iva19.make_model(n_context), precision)
        optimizer = wrap_optimizer(keras.optimizers.Adam(1e-3), precision)
        return model, Trainer(model, optimizer, run_dir, jit_compile=jit)

    return Family("IVA'19", f"N_CONTEXT {n_context}, batch {batch_size}", build, batch,
                  lambda model: lambda b: model.compute_losses(b, training=True))


def a2g_family() -> Family:
    from gesture_vae.config import make_config
    from gesture_vae.run import build_model

    data = bench_a2g.demo_motion(20.0)
    config = make_config("paper", variant="full", batch_size=32, crop_frames=64, steps=10**6)
    rng = np.random.default_rng(0)
    sequences = SequenceSet(rng.normal(size=(len(data[0]), bench_a2g.FEATURES)).astype(
        np.float32), data[2].motion(data[0]), np.array([len(data[0])]))
    batch = {k: tf.constant(v) for k, v in next(sequences.random_batches(64, 32, seed=0)).items()}

    def build(precision, jit, run_dir):
        model = set_precision(build_model(bench_a2g.make_run(Path(run_dir), config, data)),
                              precision)
        optimizer = wrap_optimizer(keras.optimizers.Adam(config.learning_rate), precision)
        model.use_step_counter(optimizer.iterations)
        return model, Trainer(model, optimizer, run_dir, jit_compile=jit)

    return Family("Audio2Gestures", "paper widths, full, batch 32 x 64 frames", build, batch,
                  lambda model: lambda b: model.compute_losses(b, training=True))


def ha2g_family() -> Family:
    from ha2g.config import make_config
    from ha2g.run import build_model
    from ha2g.train import build_trainer

    data = bench_ha2g.demo_data(20.0)
    config = make_config("official", batch_size=HA2G_BATCH)
    run = bench_ha2g.make_run(Path("unused"), config, data)
    clips = run.representation.encode(data[0][: config.clip_frames])
    rng = np.random.default_rng(0)
    shape = (HA2G_BATCH, config.clip_frames, bench_ha2g.FEATURES)
    batch = {"audio": tf.constant(rng.normal(size=shape), tf.float32),
             "motion": tf.constant(np.repeat(clips[None], HA2G_BATCH, axis=0), tf.float32)}

    def build(precision, jit, run_dir):
        model = set_precision(build_model(run), precision)
        optimizers = tuple(wrap_optimizer(keras.optimizers.Adam(lr, beta_1=config.beta_1),
                                          precision)
                           for lr in (config.learning_rate, config.discriminator_learning_rate))
        return model, build_trainer(model, run_dir, optimizers, warmup_steps=0, jit_compile=jit)

    def forward(model):
        return lambda b: (model.discriminator_losses(b, training=True),
                          model.generator_losses(b, training=True))

    return Family("HA2G", f"official sizes, full, batch {HA2G_BATCH} x 34 frames", build, batch,
                  forward)


FAMILIES = {"iva19": iva19_family, "a2g": a2g_family, "ha2g": ha2g_family}


def steps_per_second(family: Family, precision: str, jit: bool, steps: int) -> float:
    """Steps/s of the compiled training step, after two untimed steps (tracing, compiling)."""
    set_seed(0)
    with tempfile.TemporaryDirectory() as run_dir:
        _, trainer = family.build(precision, jit, run_dir)
        for _ in range(2):
            float(trainer.train_step(family.batch)[trainer.substeps[-1].key("loss")])
        start = time.perf_counter()
        for _ in range(steps):
            losses = trainer.train_step(family.batch)
        float(losses[trainer.substeps[-1].key("loss")])
        return steps / (time.perf_counter() - start)


def gradients(trainer: Trainer) -> Callable:
    """The training step's forward and backward passes (no update): ``batch -> gradients``."""
    def step(batch):
        grads = []
        for substep in trainer.substeps:
            with tf.GradientTape() as tape:
                loss = substep.losses(batch, training=True)["loss"]
            grads += tape.gradient(loss, substep.variables)
        return [g for g in grads if g is not None]

    return step


def step_flops(family: Family) -> tuple[int, int, int]:
    """FLOPs of one training step: analytic, and TensorFlow's counts of the forward passes and
    of the whole step (forward and backward), both outside loops."""
    with tempfile.TemporaryDirectory() as run_dir:
        model, trainer = family.build("float32", False, run_dir)
        forward = family.forward(model)
        analytic = sum(forward_flops(model, forward, family.batch).values())
        return (TRAINING_FACTOR * analytic, tf_flops(forward, family.batch),
                tf_flops(gradients(trainer), family.batch))


def input_pipeline(batches: int = 200) -> tuple[float, float]:
    """Batches/s of the tf.data stream and of the generator it replaced (A2G, 32 x 64)."""
    data = bench_a2g.demo_motion(60.0)
    rng = np.random.default_rng(0)
    sequences = SequenceSet(rng.normal(size=(len(data[0]), bench_a2g.FEATURES)).astype(
        np.float32), data[2].motion(data[0]), np.array([len(data[0])]))
    signature = {k: tf.TensorSpec((None, 64, v.shape[1]), tf.float32)
                 for k, v in (("audio", sequences.audio), ("motion", sequences.motion))}
    generator = tf.data.Dataset.from_generator(
        lambda: sequences.random_batches(64, 32, seed=0), output_signature=signature).prefetch(2)
    rates = []
    for stream in (training_dataset(sequences, frames=64, batch_size=32, seed=0), generator):
        it = iter(stream)
        next(it)
        start = time.perf_counter()
        for _ in range(batches):
            next(it)
        rates.append(batches / (time.perf_counter() - start))
    return rates[0], rates[1]


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=5, help="timed steps per setting")
    parser.add_argument("--families", nargs="+", default=list(FAMILIES), choices=FAMILIES)
    parser.add_argument("--size", type=int, default=2048, help="n of the peak's n x n product")
    args = parser.parse_args(argv)
    peaks = matmul_peaks(args.size, 3)
    fp32, bf16 = peaks[tf.float32], peaks[tf.bfloat16]
    print(f"peak, {args.size}x{args.size} matmul (2 n^3 FLOPs, best of 3 runs each, in turn, "
          f"{os.cpu_count()} cores, TensorFlow's default threads): float32 "
          f"{fp32 / 1e9:.1f} GFLOP/s, bfloat16 {bf16 / 1e9:.1f} GFLOP/s "
          f"({bf16 / fp32:.2f}x float32)")
    print("training step: FLOPs = 3 x the forward pass's Dense/Conv/GRU multiply-adds "
          "(an upper bound: training/flops.py)")
    for key in args.families:
        family = FAMILIES[key]()
        flops, tf_forward, tf_step = step_flops(family)
        print(f"{family.name} ({family.describe}): {flops / 1e9:.2f} GFLOP per step, forward "
              f"{flops / TRAINING_FACTOR / 1e9:.2f}; TensorFlow's profiler, outside loops: "
              f"forward {tf_forward / 1e9:.2f}, step {tf_step / 1e9:.2f}")
        reference = None
        for precision, jit in SETTINGS:
            peak = matmul_peaks(args.size, 2, (tf.float32,))[tf.float32]  # the load of now
            rate = steps_per_second(family, precision, jit, args.steps)
            reference = reference or rate
            name = f"{precision}{' + XLA' if jit else ''}"
            print(f"  {name:16s} {rate:7.2f} steps/s  {rate / reference:5.2f}x  "
                  f"{rate * flops / 1e9:6.1f} GFLOP/s  {100 * rate * flops / peak:5.1f}% of "
                  f"the float32 peak measured just before ({peak / 1e9:.1f} GFLOP/s)")
    ours, generator = input_pipeline()
    print(f"Audio2Gestures input, batch 32 x 64 frames: tf.data {ours:.0f} batches/s, "
          f"generator {generator:.0f} batches/s ({ours / generator:.1f}x)")


if __name__ == "__main__":
    main()
