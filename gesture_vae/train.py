"""Train an Audio2Gestures variant on a dataset prepared with ``--motion rot6d``.

Usage::

    python gesture_vae/train.py DATA_DIR RUN_DIR [--variant full] [--preset paper|demo]
        [--protocol official|paper|project] [--steps N] [--batch-size B] [--seed K]
        [--lookahead FRAMES]

Random crops of ``crop_frames`` frames (those of step ``s`` drawn from ``(seed, s)``) feed a
``tf.function`` step of :class:`training.loop.Trainer` (written for ``tf.distribute``); a
checkpoint (with the state of the sampling noise and dropout) is written every
``epoch_steps`` steps and an interrupted run resumes exactly, with the weights and history of
an uninterrupted run, when the same command is run again (a finished run is left as it is).
Every loss term goes to TensorBoard (``RUN_DIR/logs``) and ``history.csv``. After training,
the per-channel mean and std of the motion-specific code over each training clip
(non-overlapping crops) are saved in ``RUN_DIR/stats`` for sampling. ``best.weights.h5``
holds the weights the protocol keeps (``config.checkpoint``): the last epoch's (official), or
those of the lowest dev audio->motion L1 (project). ``RUN_DIR`` layout: :mod:`gesture_vae.run`.
"""

from __future__ import annotations

import argparse
import math
from typing import TYPE_CHECKING

import numpy as np

from data_processing.dataset import DatasetMeta
from data_processing.files import atomic_path, run_cli
from gesture_vae.config import PRESETS, PROTOCOLS, VARIANTS, A2GConfig, make_config
from training.distribute import strategy_from_environment, worker_run_dir
from training.precision import PRECISIONS

if TYPE_CHECKING:  # TensorFlow is loaded where it is used: --help without it
    import tensorflow as tf

    from gesture_vae.data import SequenceSet
    from gesture_vae.model import GestureVAE
    from gesture_vae.run import Run
    from training.loop import Trainer, TrainingResult

MONITOR = "audio_position"  # dev L1 position error of the audio->motion output (m)


def code_statistics(model: GestureVAE, data: SequenceSet,
                    frames: int) -> tuple[np.ndarray, np.ndarray]:
    """Per-clip, per-channel mean and std over time of the motion-specific code.

    The training sequences are cut into non-overlapping clips of ``frames`` frames (the
    training crop length); each clip is encoded (posterior means) and summarised.

    Returns
    -------
    tuple of np.ndarray [shape=(n_clips, code_size)]
        Means and standard deviations.
    """
    clips = data.tiled(frames)["motion"]
    codes = model.encode_motion(clips)["specific"][0].numpy()
    return codes.mean(axis=1), codes.std(axis=1)


def keep_last_epoch(trainer: Trainer, model: GestureVAE, run: Run) -> None:
    """``checkpoint = "last"``: put the latest checkpoint's weights in ``best.weights.h5``.

    ``Trainer.fit`` keeps (and returns with) the epoch its monitor prefers; this restores the
    final epoch's state into ``model`` and writes its weights over that choice (only when they
    differ, so a finished run that is run again stays as it is).
    """
    from gesture_vae.run import WEIGHTS

    chosen = model.get_weights()
    trainer.restore()
    if any(not np.array_equal(a, b) for a, b in zip(chosen, model.get_weights())):
        with atomic_path(run.root / WEIGHTS) as tmp:
            model.save_weights(tmp)


def train(data_dir, run_dir, config: A2GConfig, *, jit_compile: bool = False,
          strategy: tf.distribute.Strategy | None = None,
          precision: str = "float32") -> tuple[TrainingResult, Run]:
    """Train (or resume) a run and save the code statistics; return the history and the run.

    Parameters
    ----------
    data_dir : path-like
        Dataset from ``create_vector.py ... --motion rot6d``.
    run_dir : path-like
        Output directory (see :mod:`gesture_vae.run`).
    config : A2GConfig
    jit_compile : bool
        Compile the step with XLA: steps about 1.5x faster on CPU, but about 20 s of
        compilation, so it pays off only for runs of more than a few hundred steps.
    strategy : tf.distribute.Strategy, optional
        Default: the current strategy (one device).
    precision : str
        Number format of the networks (:mod:`training.precision`), recorded in
        ``config.json``.
    """
    import keras
    import tensorflow as tf

    from gesture_vae.data import SequenceSet, check_rot6d, training_dataset
    from gesture_vae.run import build_model, create_run
    from training.loop import Trainer, set_seed
    from training.precision import record_precision, set_precision, wrap_optimizer

    meta = DatasetMeta.load(data_dir)
    check_rot6d(meta)
    run = create_run(run_dir, config, meta)
    record_precision(run.root, precision)
    set_seed(config.seed)
    strategy = strategy or tf.distribute.get_strategy()
    with strategy.scope():
        model = set_precision(build_model(run), precision)
        optimizer = wrap_optimizer(keras.optimizers.Adam(config.learning_rate), precision)
    model.use_step_counter(optimizer.iterations)
    trainer = Trainer(model, optimizer, run.root, strategy=strategy, jit_compile=jit_compile)
    train_data = SequenceSet.load(meta, "train", run.norm)
    steps_per_epoch = min(config.epoch_steps, config.steps)

    def epoch_batches(epoch: int) -> tf.data.Dataset:
        return training_dataset(train_data, frames=config.crop_frames,
                                batch_size=config.batch_size, seed=config.seed,
                                first_step=epoch * steps_per_epoch)

    result = trainer.fit(epoch_batches, epochs=math.ceil(config.steps / steps_per_epoch),
                         steps_per_epoch=steps_per_epoch, dev_dataset=_dev(meta, run, config),
                         monitor=MONITOR)
    if config.checkpoint == "last":
        keep_last_epoch(trainer, model, run)
    if config.components.split:
        run.save_code_stats(*code_statistics(model, train_data, config.crop_frames))
    return result, run


def _dev(meta: DatasetMeta, run: Run, config: A2GConfig):
    """Non-overlapping crops of the dev split, or ``None`` when it has none long enough."""
    from gesture_vae.data import SequenceSet, evaluation_dataset

    if not meta.splits.get("dev"):
        return None
    dev = SequenceSet.load(meta, "dev", run.norm)
    if dev.lengths.max() < config.crop_frames:
        return None
    return evaluation_dataset(dev, frames=config.crop_frames, batch_size=config.batch_size)


def parse_args(argv=None) -> argparse.Namespace:
    """Command-line arguments."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("data_dir", help="dataset directory (create_vector.py --motion rot6d)")
    parser.add_argument("run_dir", help="output directory; rerun the command to resume")
    parser.add_argument("--variant", default="full", choices=list(VARIANTS),
                        help="ablation variant, paper Table 2 (default full)")
    parser.add_argument("--preset", default="paper", choices=list(PRESETS),
                        help="paper: the paper's model; demo: narrow, short (default paper)")
    parser.add_argument("--protocol", default="official", choices=list(PROTOCOLS),
                        help="official: the official code's sampling, KL, speed weights 1/1/5, "
                             "last checkpoint; paper: speed weight 5 everywhere; project: this "
                             "project's earlier choices (default official)")
    parser.add_argument("--steps", type=int, help="training steps (default: the preset's)")
    parser.add_argument("--batch-size", type=int, help="crops per step (default: the preset's)")
    parser.add_argument("--crop-frames", type=int, help="frames per crop (default: the preset's)")
    parser.add_argument("--learning-rate", type=float, help="Adam learning rate")
    parser.add_argument("--epoch-steps", type=int,
                        help="steps between checkpoints (default: the preset's)")
    parser.add_argument("--lookahead", type=int,
                        help="future frames each temporal stack reads (0: causal; default: "
                             "'same' padding, the paper's; docs/streaming.md)")
    parser.add_argument("--seed", type=int, default=0, help="seed of weights, crops, noise")
    parser.add_argument("--jit", action="store_true",
                        help="compile the step with XLA (faster steps, ~20 s to compile)")
    parser.add_argument("--precision", default="float32", choices=PRECISIONS,
                        help="number format of the networks (default float32; mixed_bfloat16 "
                             "pays off only with bf16 hardware: README, Speed)")
    return parser.parse_args(argv)


def main(argv=None) -> int:
    """Run the step."""
    args = parse_args(argv)
    from gesture_vae.run import WEIGHTS  # loads TensorFlow, after --help

    config = make_config(args.preset, args.protocol, variant=args.variant, steps=args.steps,
                         batch_size=args.batch_size, crop_frames=args.crop_frames,
                         learning_rate=args.learning_rate, epoch_steps=args.epoch_steps,
                         lookahead=args.lookahead, seed=args.seed)
    strategy = strategy_from_environment()  # TF_CONFIG: several workers (docs/distributed.md)
    with worker_run_dir(args.run_dir) as run_dir:  # the chief's, or a worker's private copy
        result, run = train(args.data_dir, run_dir, config, jit_compile=args.jit,
                            strategy=strategy, precision=args.precision)
    kept = (f"last epoch {len(result.history)}" if config.checkpoint == "last"
            else f"best epoch {result.best_epoch}")
    print(f"{config.variant}: {len(result.history)} epochs, {kept} -> {run.root / WEIGHTS} "
          f"(protocol {config.protocol['name']})")
    return 0


if __name__ == "__main__":
    run_cli(main)
