"""FGD: the Fréchet Gesture Distance, with a feature extractor whose training we ship.

FGD (Yoon et al. 2020, used by HA2G) embeds clips of real and of generated motion with the
frozen encoder of a motion autoencoder and measures the Fréchet distance between the two
Gaussians fitted to the embeddings (:func:`evaluation.metrics.frechet_distance`). Papers'
FGD numbers cannot be reproduced because their autoencoder, its training script and seed
were never published; here all three are: ``train`` is this script, the seed is a flag, and
``OUT_DIR`` holds the weights with a ``config.json`` that says everything needed to rebuild
and reload them. Our numbers are therefore comparable with each other, never with papers'.

Usage::

    python evaluation/fgd.py train DATA_DIR OUT_DIR [--seed 0] [--clip-frames 34]
        [--stride 10] [--epochs 20] [--patience 5] [--joints NAME,NAME,...]
    python evaluation/fgd.py score EXTRACTOR_DIR --real SRC [SRC ...] --generated SRC [...]
        [--fps F] [--representation positions|pos_vel|rot6d] [--name NAME] [--out CSV]

A ``SRC`` is a motion file, a directory of them or ``DATA_DIR:SPLIT``
(:func:`data_processing.motion.load_sources`). From Python::

    from evaluation.fgd_extractor import FeatureExtractor, fgd
    extractor = FeatureExtractor.load("demo/fgd_extractor")
    result = fgd(extractor, real_positions, generated_positions)   # FGDResult
    result.fgd

The motion feature
    Per frame, the unit direction ``(p_child - p_parent) / |p_child - p_parent|`` of every
    bone, from global joint positions (TED Gesture's direction vectors, generalised to any
    skeleton): invariant to bone lengths (speaker size, units) and to where the speaker
    stands, sensitive to everything a gesture is made of. A bone joins a selected joint to
    its nearest selected ancestor, so a joint subset (``--joints``) still gives a chain; bones
    of zero rest length are left out. The training split's mean feature is subtracted
    (:func:`data_processing.representations.bone_directions`).

The extractor
    A 1-D convolutional autoencoder over clips of ``clip_frames`` frames: encoder
    ``Conv1D(c0, 3)`` then ``Conv1D(c, 4, stride 2)`` per further channel count, flatten,
    ``Dense(hidden)``, ``Dense(embedding_dim)``; the decoder mirrors it with upsampling. It is
    deterministic (no sampling): the embedding is the encoder's output, the "mean" in VAE
    terms. Loss: mean squared reconstruction error; Adam; early stopping on the dev split
    through :class:`training.loop.Trainer` (:mod:`evaluation.fgd_model`,
    :mod:`evaluation.fgd_extractor`).

Frame rate
    The extractor works at the frame rate of its training data (``config.fps``). Motions at
    another rate are resampled to it by interpolation when they are read (BVH and dataset
    sequences by slerp, arrays linearly: :meth:`data_processing.motion.Motion.resample`), so
    FGD can compare a 30 fps model with 20 fps ground truth. A motion shorter than one clip is an
    error naming it.

``OUT_DIR`` after ``train``: see :mod:`evaluation.fgd_extractor` (``config.json`` of kind
``fgd_extractor``).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import tensorflow as tf

from data_processing.files import PipelineError, run_cli
from data_processing.motion import load_sources
from data_processing.representations import ARRAY_KINDS
from evaluation.fgd_extractor import SETTINGS, FeatureExtractor, fgd, train_extractor
from evaluation.tables import append_csv


def parse_args(argv=None) -> argparse.Namespace:
    """Command-line arguments of ``train`` and ``score``."""
    parser = argparse.ArgumentParser(
        description="Train the FGD feature extractor, or score generated motion with it.")
    sub = parser.add_subparsers(dest="command", required=True)

    train = sub.add_parser("train", help="train the feature extractor on a prepared dataset")
    train.add_argument("data_dir", type=Path, help="dataset made by create_vector.py")
    train.add_argument("out_dir", type=Path, help="where the extractor is saved")
    train.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    train.add_argument("--clip-frames", type=int, default=34,
                       help="frames per clip (default: 34, as TED Gesture)")
    train.add_argument("--stride", type=int, default=10,
                       help="frames between clip starts when scoring (default: 10, as TED "
                            "Gesture)")
    train.add_argument("--train-stride", type=int, default=5,
                       help="frames between training and dev clip starts (default: 5)")
    train.add_argument("--epochs", type=int, default=20, help="most epochs (default: 20)")
    train.add_argument("--patience", type=int, default=5,
                       help="stop after this many epochs without a better dev loss (default: 5)")
    train.add_argument("--batch-size", type=int, default=64, help="clips per batch (default: 64)")
    train.add_argument("--learning-rate", type=float, default=1e-3,
                       help="Adam learning rate (default: 1e-3)")
    train.add_argument("--embedding-dim", type=int, default=32,
                       help="embedding size (default: 32)")
    train.add_argument("--channels", type=int, nargs="+", default=[64, 128, 128],
                       help="encoder conv channels (default: 64 128 128)")
    train.add_argument("--hidden", type=int, default=256, help="dense width (default: 256)")
    train.add_argument("--joints", type=lambda s: [j for j in s.split(",") if j],
                       help="comma-separated joints to use (default: all)")
    train.add_argument("--overwrite", action="store_true",
                       help="replace an extractor with other settings in OUT_DIR")
    train.add_argument("--deterministic", action="store_true",
                       help="enable TensorFlow op determinism (bitwise-equal weights on GPU "
                            "too; CPU runs are reproducible without it)")

    score_ = sub.add_parser("score", help="FGD between real and generated motion")
    score_.add_argument("extractor_dir", type=Path, help="OUT_DIR of fgd.py train")
    score_.add_argument("--real", nargs="+", required=True,
                        help="real motion: files, directories or DATA_DIR:SPLIT")
    score_.add_argument("--generated", nargs="+", required=True,
                        help="generated motion: files, directories or DATA_DIR:SPLIT")
    score_.add_argument("--fps", type=float,
                        help="frame rate of array files (default: the extractor's); "
                             "motions are resampled to the extractor's frame rate")
    score_.add_argument("--representation", choices=ARRAY_KINDS,
                        help="kind of array files when their width fits several")
    score_.add_argument("--stride", type=int,
                        help="frames between clip starts (default: the extractor's)")
    score_.add_argument("--name", default="", help="label of the row in --out")
    score_.add_argument("--out", type=Path, help="append a row to this CSV table")
    return parser.parse_args(argv)


def main(argv=None) -> int:
    """Run ``train`` or ``score``."""
    args = parse_args(argv)
    if args.command == "train":
        if args.deterministic:
            tf.config.experimental.enable_op_determinism()
        settings = {k: v for k, v in vars(args).items() if k in SETTINGS}
        extractor = train_extractor(args.data_dir, args.out_dir, joints=args.joints,
                                    overwrite=args.overwrite, **settings)
        t = extractor.config.training
        print(f"extractor -> {args.out_dir} (best epoch {t.get('best_epoch')} of "
              f"{t.get('epochs_run')}, {t.get('fit_seconds')} s of training)")
        return 0

    if args.stride is not None and args.stride < 1:
        raise PipelineError(f"--stride must be >= 1, got {args.stride}")
    extractor = FeatureExtractor.load(args.extractor_dir)
    fps = args.fps or extractor.config.fps
    sides = {side: load_sources(getattr(args, side), skeleton=extractor.skeleton, fps=fps,
                                target_fps=extractor.config.fps,
                                kind=args.representation or "auto")
             for side in ("real", "generated")}
    result = fgd(extractor, sides["real"], sides["generated"], stride=args.stride)
    print(f"FGD: {result.fgd:.3f}")
    print(f"({result.real_clips} real and {result.generated_clips} generated clips of "
          f"{extractor.config.clip_frames} frames at {extractor.config.fps:g} fps)",
          file=sys.stderr)
    if args.out:
        append_csv(args.out, {
            "name": args.name, "fgd": f"{result.fgd:.6f}", "real_clips": result.real_clips,
            "generated_clips": result.generated_clips,
            "clip_frames": extractor.config.clip_frames,
            "stride": args.stride or extractor.config.stride, "fps": extractor.config.fps,
            "extractor": str(args.extractor_dir), "real": " ".join(args.real),
            "generated": " ".join(args.generated)})
    return 0


if __name__ == "__main__":
    run_cli(main)
