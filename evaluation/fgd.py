"""FGD: the Fréchet Gesture Distance, with feature extractors whose training we ship.

FGD (Yoon et al. 2020, "Speech gesture generation from the trimodal context of text, audio,
and speaker identity"; used by HA2G, Liu et al. CVPR 2022, and GENEA 2022) embeds clips of
real and of generated motion with the frozen encoder of a motion autoencoder and measures the
Fréchet distance between the two Gaussians fitted to the embeddings
(:func:`evaluation.metrics.frechet_distance`). ``score`` reports it in the embedding space and
in the raw space of the clips (GENEA 2022), each beside its noise floor (two disjoint halves
of the real motions).

Two protocols of one code (``--protocol``, :data:`evaluation.fgd_extractor.PROTOCOLS`):

``ours`` (default)
    Unit directions of every bone of the dataset skeleton at the dataset's frame rate, our
    convolutional autoencoder, MSE, Adam 1e-3, early stopping on the dev split.
``ted``
    The TED Gesture / HA2G evaluator: the 10-joint TED layout's 9 direction vectors minus
    their training mean, 15 fps, 34-frame clips, stride 10, the official ``PoseEncoderConv``
    / ``PoseDecoderConv``, L1 + velocity L1, Adam 5e-4 betas (0.5, 0.999), batch 128,
    500 epochs keeping the best dev epoch (HA2G's ``scripts/train_feature_extractor.py`` and
    ``config/gesture_autoencoder.yml``, ``alvinliu0/HA2G``; the model from
    ``ai4r/Gesture-Generation-from-Trimodal-Context``). Trained here on the given dataset
    with a seed, so its numbers are comparable with ours, not with the paper's (HA2G's TED
    Gesture extractor was trained on Human3.6M).

Either way ``OUT_DIR/config.json`` records the seed, the data fingerprint and everything else
needed to rebuild and reload the extractor (:mod:`evaluation.fgd_extractor`).

Usage::

    python evaluation/fgd.py train DATA_DIR OUT_DIR [--protocol ours|ted] [--seed 0]
        [--clip-frames N] [--stride N] [--epochs N] [--patience N] [--joints NAME,...]
        [--joint-map NAME,... (ted: the dataset joints of the 10 TED joints)]
    python evaluation/fgd.py score EXTRACTOR_DIR --real SRC [SRC ...] --generated SRC [...]
        [--fps F] [--representation positions|pos_vel|rot6d] [--name NAME] [--out CSV]

Training flags left out take the protocol's defaults. A ``SRC`` is a motion file, a directory
of them or ``DATA_DIR:SPLIT`` (:func:`data_processing.motion.load_sources`). From Python::

    from evaluation.fgd_extractor import FeatureExtractor, fgd
    extractor = FeatureExtractor.load("demo/fgd_extractor")
    result = fgd(extractor, real_positions, generated_positions)   # FGDResult
    result.fgd, result.fgd_raw, result.noise_floor, result.noise_floor_raw

Frame rate
    The extractor works at its own frame rate (``config.fps``: the dataset's, or 15 fps for
    ``ted``). Motions at another rate are resampled to it by interpolation when they are read
    (BVH and dataset sequences by slerp, arrays linearly:
    :meth:`data_processing.motion.Motion.resample`). A motion shorter than one clip is an
    error naming it.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from data_processing.files import PipelineError, run_cli
from data_processing.motion import load_sources
from data_processing.representations import ARRAY_KINDS
from evaluation.fgd_extractor import (
    PROTOCOLS,
    SETTINGS,
    FeatureExtractor,
    fgd,
    train_extractor,
)
from evaluation.tables import append_csv


def joint_names(text: str) -> list[str]:
    """Comma-separated joint names."""
    return [j for j in text.split(",") if j]


def parse_args(argv=None) -> argparse.Namespace:
    """Command-line arguments of ``train`` and ``score``."""
    parser = argparse.ArgumentParser(
        description="Train the FGD feature extractor, or score generated motion with it.")
    sub = parser.add_subparsers(dest="command", required=True)

    train = sub.add_parser("train", help="train the feature extractor on a prepared dataset")
    train.add_argument("data_dir", type=Path, help="dataset made by create_vector.py")
    train.add_argument("out_dir", type=Path, help="where the extractor is saved")
    train.add_argument("--protocol", choices=list(PROTOCOLS), default="ours",
                       help="ours (default) or ted: the TED Gesture/HA2G evaluator; flags "
                            "left out take the protocol's defaults")
    train.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    train.add_argument("--clip-frames", type=int,
                       help="frames per clip (both protocols: 34, as TED Gesture)")
    train.add_argument("--stride", type=int,
                       help="frames between clip starts when scoring (both: 10, as TED)")
    train.add_argument("--train-stride", type=int,
                       help="frames between training and dev clip starts (ours 5, ted 10)")
    train.add_argument("--epochs", type=int, help="most epochs (ours 20, ted 500)")
    train.add_argument("--patience", type=int,
                       help="stop after this many epochs without a better dev loss (ours 5; "
                            "ted: never)")
    train.add_argument("--batch-size", type=int, help="clips per batch (ours 64, ted 128)")
    train.add_argument("--learning-rate", type=float,
                       help="Adam learning rate (ours 1e-3, ted 5e-4)")
    train.add_argument("--beta-1", type=float, help="Adam beta_1 (ours 0.9, ted 0.5)")
    train.add_argument("--embedding-dim", type=int, help="embedding size (both: 32)")
    train.add_argument("--channels", type=int, nargs="+",
                       help="ours: encoder conv channels (default: 64 128 128)")
    train.add_argument("--hidden", type=int, help="ours: dense width (default: 256)")
    train.add_argument("--joints", type=joint_names,
                       help="ours: comma-separated joints to use (default: all)")
    train.add_argument("--joint-map", type=joint_names,
                       help="ted: the 10 dataset joints of spine, neck, nose, head, left "
                            "shoulder, elbow, wrist, right shoulder, elbow, wrist (default: a "
                            "known map: the demo speaker, GENEA, SMPL-X)")
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
            import tensorflow as tf  # after parse_args: --help never loads TensorFlow

            tf.config.experimental.enable_op_determinism()
        settings = {k: v for k, v in vars(args).items() if k in SETTINGS and v is not None}
        extractor = train_extractor(args.data_dir, args.out_dir, protocol=args.protocol,
                                    joints=args.joints, joint_map=args.joint_map,
                                    overwrite=args.overwrite, **settings)
        t = extractor.config.training
        floor = t.get("noise_floor") or {}
        print(f"extractor ({args.protocol}) -> {args.out_dir} (best epoch {t.get('best_epoch')} "
              f"of {t.get('epochs_run')}, {t.get('fit_seconds')} s of training)")
        if floor.get("between"):
            print(f"noise floor ({floor['between']}): FGD {floor['fgd']:.3f}, raw "
                  f"{floor['fgd_raw']:.3f}")
        return 0

    if args.stride is not None and args.stride < 1:
        raise PipelineError(f"--stride must be >= 1, got {args.stride}")
    extractor = FeatureExtractor.load(args.extractor_dir)
    config = extractor.config
    fps = args.fps or config.fps
    sides = {side: load_sources(getattr(args, side), skeleton=extractor.skeleton, fps=fps,
                                target_fps=config.fps, kind=args.representation or "auto")
             for side in ("real", "generated")}
    result = fgd(extractor, sides["real"], sides["generated"], stride=args.stride)
    print(f"FGD: {result.fgd:.3f}")
    print(f"FGD (raw space): {result.fgd_raw:.3f}")
    print(f"noise floor (real halves, {result.floor_clips[0]} + {result.floor_clips[1]} "
          f"clips): {result.noise_floor:.3f}, raw {result.noise_floor_raw:.3f}")
    print(f"({config.protocol} protocol: {result.real_clips} real and "
          f"{result.generated_clips} generated clips of {config.clip_frames} frames at "
          f"{config.fps:g} fps)", file=sys.stderr)
    if args.out:
        append_csv(args.out, {
            "name": args.name, "fgd": f"{result.fgd:.6f}", "fgd_raw": f"{result.fgd_raw:.6f}",
            "noise_floor": f"{result.noise_floor:.6f}",
            "noise_floor_raw": f"{result.noise_floor_raw:.6f}", "protocol": config.protocol,
            "real_clips": result.real_clips, "generated_clips": result.generated_clips,
            "clip_frames": config.clip_frames, "stride": args.stride or config.stride,
            "fps": config.fps, "extractor": str(args.extractor_dir),
            "real": " ".join(args.real), "generated": " ".join(args.generated)})
    return 0


if __name__ == "__main__":
    run_cli(main)
