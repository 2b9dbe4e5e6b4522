"""Train HA2G (Liu et al., CVPR'22) on a dataset prepared by ``create_vector.py``.

Usage::

    python ha2g/train.py DATA_DIR RUN_DIR [--preset official|ted|demo]
        [--ablation full|no_contrastive|no_hal|holistic] [--epochs N] [--batch-size B]
        [--text auto|on|off] [--speaker-pattern REGEX] [--joint-map A,B,...]
        [--levels "A,B;C;D,E"] [--seed K]

Any dataset serves (``--motion pos_vel`` or ``rot6d``, any skeleton, any frame rate; the ``ted``
preset needs one made with ``--fps 15``). Every recording of the training split is cut into
clips of 34 frames every 10 frames; each epoch visits them in an order drawn from
``(seed, epoch)``. Every step of :class:`training.loop.Trainer` (a ``tf.function`` written for
``tf.distribute``) updates the discriminator (after ``warmup_epochs``) and then the generator
side (audio learner, text encoders, the cascade), each with its own Adam. A checkpoint after
every epoch holds both optimizers and the state of the style-code noise and the dropout: an
interrupted run resumes exactly when the same command is run again (a finished run is left as
it is). Every loss term goes to TensorBoard (``RUN_DIR/logs``) and ``history.csv``; the weights
of the epoch with the lowest dev Huber loss are kept. ``RUN_DIR`` layout: :mod:`ha2g.run`.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from data_processing.dataset import DatasetMeta
from data_processing.files import run_cli
from ha2g.config import ABLATIONS, JOINTS, PRESETS, TEXT_MODES, HA2GConfig, make_config
from training.distribute import strategy_from_environment, worker_run_dir
from training.precision import PRECISIONS

if TYPE_CHECKING:  # TensorFlow is loaded where it is used: --help without it
    import keras
    import tensorflow as tf

    from ha2g.model import HA2G
    from ha2g.run import Run
    from training.loop import Trainer, TrainingResult

MONITOR = "generator_huber"  # dev Huber loss of the cascade, summed over the levels


def _optimizer(learning_rate: float, config: HA2GConfig) -> keras.optimizers.Optimizer:
    import keras

    return keras.optimizers.Adam(learning_rate, beta_1=config.beta_1, beta_2=config.beta_2)


def build_trainer(model: HA2G, run_dir, optimizers: tuple, *, warmup_steps: int,
                  strategy: tf.distribute.Strategy | None = None,
                  jit_compile: bool = False) -> Trainer:
    """The trainer of a model: the discriminator (from ``warmup_steps``), then the generator.

    ``optimizers`` are the generator side's and the discriminator's. Without a GAN weight the
    discriminator is not trained at all.
    """
    from training.loop import SubStep, Trainer

    generator, critic = optimizers
    model.use_step_counter(generator.iterations, warmup_steps)
    substeps = [SubStep("generator", generator, model.generator_variables,
                        model.generator_losses)]
    if model.config.gan_weight:  # the discriminator first, as in the official step
        substeps.insert(0, SubStep("discriminator", critic,
                                   model.discriminator.trainable_variables,
                                   model.discriminator_losses, start=warmup_steps))
    return Trainer(model, substeps, run_dir, strategy=strategy, jit_compile=jit_compile)


def train(data_dir, run_dir, config: HA2GConfig, *, jit_compile: bool = False,
          strategy: tf.distribute.Strategy | None = None,
          precision: str = "float32") -> tuple[TrainingResult, Run]:
    """Train (or resume) a run; return the history and the run.

    Parameters
    ----------
    data_dir : path-like
        Dataset from ``create_vector.py``.
    run_dir : path-like
        Output directory (see :mod:`ha2g.run`).
    config : HA2GConfig
    jit_compile : bool
        Compile the steps with XLA.
    strategy : tf.distribute.Strategy, optional
        Default: the current strategy (one device).
    precision : str
        Number format of the networks (:mod:`training.precision`), recorded in
        ``config.json``.
    """
    import tensorflow as tf

    from ha2g.data import make_clips
    from ha2g.run import build_model, new_run, save_run
    from training.data import shuffled_batches
    from training.loop import set_seed
    from training.precision import record_precision, set_precision, wrap_optimizer

    meta = DatasetMeta.load(data_dir)
    run, recordings = new_run(run_dir, config, meta)
    save_run(run)
    record_precision(run.root, precision)
    set_seed(config.seed)
    clips = make_clips(recordings, run.representation, frames=config.clip_frames,
                       stride=config.clip_stride, vocabulary=run.vocabulary,
                       speakers=run.speakers)
    # Full batches only (the last partial one is another each epoch): one compiled step.
    drop = len(clips["audio"]) >= config.batch_size
    steps_per_epoch = len(clips["audio"]) // config.batch_size if drop else 1
    strategy = strategy or tf.distribute.get_strategy()
    with strategy.scope():
        model = set_precision(build_model(run), precision)
        generator = wrap_optimizer(_optimizer(config.learning_rate, config), precision)
        critic = wrap_optimizer(_optimizer(config.discriminator_learning_rate, config),
                                precision)
    trainer = build_trainer(model, run.root, (generator, critic),
                            warmup_steps=config.warmup_epochs * steps_per_epoch,
                            strategy=strategy, jit_compile=jit_compile)
    batches = shuffled_batches(clips, batch_size=config.batch_size, seed=config.seed,
                               drop_remainder=drop)
    result = trainer.fit(batches, epochs=config.epochs, dev_dataset=_dev(meta, run),
                         monitor=MONITOR)
    return result, run


def _dev(meta: DatasetMeta, run: Run) -> tf.data.Dataset | None:
    """The dev split's clips (recordings of known speakers), or ``None`` when there are none."""
    import tensorflow as tf

    from ha2g.data import load_recordings, make_clips

    config = run.config
    recordings = [r for r in load_recordings(meta, "dev", run.body,
                                             audio_mean=run.stats["audio_mean"],
                                             audio_std=run.stats["audio_std"],
                                             speaker_pattern=config.speaker_pattern)
                  if len(r.audio) >= config.clip_frames
                  and (run.speakers is None or r.speaker in run.speakers)]
    if not recordings:
        return None
    clips = make_clips(recordings, run.representation, frames=config.clip_frames,
                       stride=config.clip_stride, vocabulary=run.vocabulary,
                       speakers=run.speakers)
    return tf.data.Dataset.from_tensor_slices(clips).batch(config.batch_size)


def _names(text: str | None) -> tuple[str, ...] | None:
    return None if text is None else tuple(n.strip() for n in text.split(",") if n.strip())


def _levels(text: str | None) -> tuple[tuple[str, ...], ...] | None:
    return None if text is None else tuple(_names(level) for level in text.split(";"))


def parse_args(argv=None) -> argparse.Namespace:
    """Command-line arguments."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("data_dir", help="dataset directory (create_vector.py)")
    parser.add_argument("run_dir", help="output directory; rerun the command to resume")
    parser.add_argument("--preset", default="official", choices=list(PRESETS),
                        help="official: the paper's model; ted: its 10-joint 15 fps protocol; "
                             "demo: narrow and short (default official)")
    parser.add_argument("--ablation", default="full", choices=list(ABLATIONS),
                        help="row of the paper's ablation (default full)")
    parser.add_argument("--joints", choices=JOINTS, help="the dataset's skeleton or the TED "
                                                         "layout (default: the preset's)")
    parser.add_argument("--joint-map", help="the 10 dataset joints of the TED layout, "
                                            "comma-separated (default: a known map)")
    parser.add_argument("--levels", help="bones per pose level, coarse to fine: "
                                         "'A,B;C;D,E' (default: derived from the skeleton)")
    parser.add_argument("--text", choices=TEXT_MODES,
                        help="text branch: auto uses transcripts when every training "
                             "recording has one (default auto)")
    parser.add_argument("--speaker-pattern", help="regex whose first group of a recording id "
                                                  "names its speaker (default: one speaker)")
    parser.add_argument("--epochs", type=int, help="epochs (default: the preset's)")
    parser.add_argument("--warmup-epochs", type=int, help="epochs before the GAN loss")
    parser.add_argument("--batch-size", type=int, help="clips per step (default: the preset's)")
    parser.add_argument("--learning-rate", type=float, help="Adam learning rate (generator)")
    parser.add_argument("--seed", type=int, default=0, help="seed of weights, order, noise")
    parser.add_argument("--jit", action="store_true", help="compile the steps with XLA")
    parser.add_argument("--precision", default="float32", choices=PRECISIONS,
                        help="number format of the networks (default float32; mixed_bfloat16 "
                             "pays off only with bf16 hardware: README, Speed)")
    return parser.parse_args(argv)


def main(argv=None) -> int:
    """Run the step."""
    args = parse_args(argv)
    config = make_config(args.preset, ablation=args.ablation, joints=args.joints,
                         joint_map=_names(args.joint_map), levels=_levels(args.levels),
                         text=args.text, speaker_pattern=args.speaker_pattern,
                         epochs=args.epochs, warmup_epochs=args.warmup_epochs,
                         batch_size=args.batch_size, learning_rate=args.learning_rate,
                         seed=args.seed)
    strategy = strategy_from_environment()  # TF_CONFIG: several workers (docs/distributed.md)
    with worker_run_dir(args.run_dir) as run_dir:  # the chief's, or a worker's private copy
        result, run = train(args.data_dir, run_dir, config, jit_compile=args.jit,
                            strategy=strategy, precision=args.precision)
    print(f"{config.ablation}: {len(result.history)} epochs, best epoch {result.best_epoch} "
          f"-> {run.root / 'best.weights.h5'}")
    return 0


if __name__ == "__main__":
    run_cli(main)
