"""Train the IVA'19 speech encoder: speech windows to motion vectors (baseline) or to codes.

Usage (the original's positional form, plus options)::

    python train.py MODEL EPOCHS DATA_DIR N_INPUT ENCODE [DIM]
        [--batch-size 2056] [--learning-rate 1e-3] [--seed 0] [--patience P]
        [--windows auto|stored|sequences]

``ENCODE`` ``False`` regresses the motion vectors ``Y_*.npy`` (the baseline); ``True``
regresses the codes ``DATA_DIR/DIM/Y_*_encoded.npy`` written by
``motion_repr_learning/ae/encode_dataset.py`` (the proposed model). ``N_INPUT`` is checked
against ``meta.json``, which also gives the context size and feature set. ``MODEL`` is a
directory (:mod:`speech_encoder.model`): ``config.json`` (what the model predicts,
through which representation, from which features), ``model.keras``, ``skeleton.json``, and the
training loop's checkpoints, TensorBoard logs, ``history.csv`` and ``loss_curve.png``;
rerunning the same command after an interruption resumes training.
``--windows`` chooses where the speech windows come from (:mod:`speech_encoder.windows`):
``X_*.npy`` or formed on the fly from ``sequences/``, identical batches either way.
"""

from __future__ import annotations

import argparse
import logging
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING

from data_processing.dataset import STORED_WINDOWS_LIMIT, DatasetMeta
from data_processing.files import PipelineError, check_range, claim_run, file_sha256, run_cli
from motion_repr_learning.ae.representation import ENCODING_INFO
from speech_encoder.config import NetworkConfig, TrainSettings
from speech_encoder.windows import SOURCES, split_windows
from training.distribute import strategy_from_environment, worker_run_dir
from training.precision import PRECISIONS

if TYPE_CHECKING:
    from speech_encoder.model import ModelCard, Targets

log = logging.getLogger(__name__)
DEFAULTS = TrainSettings()
NETWORK = NetworkConfig()
TRUE, FALSE = ("true", "1", "yes"), ("false", "0", "no")


def boolean(text: str) -> bool:
    """``True``/``False`` (any case), ``1``/``0``, ``yes``/``no``."""
    if text.lower() in TRUE + FALSE:
        return text.lower() in TRUE
    raise argparse.ArgumentTypeError(f"expected True or False, got {text!r}")


def parse_args(argv=None) -> argparse.Namespace:
    """Command-line arguments."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("model_dir", help="output model directory (config.json, model.keras, "
                                          "checkpoints, logs)")
    parser.add_argument("epochs", type=int, help="most training epochs (100 in IVA'19)")
    parser.add_argument("data_dir", help="dataset directory written by create_vector.py")
    parser.add_argument("n_input", type=int,
                        help="number of speech features (checked against meta.json)")
    parser.add_argument("encode", type=boolean,
                        help="True: regress DIM codes (proposed); False: motion (baseline)")
    parser.add_argument("dim", type=int, nargs="?", default=None,
                        help="width of the codes (required when ENCODE is True)")
    parser.add_argument("--encoded-dir", default=None,
                        help="directory of Y_*_encoded.npy (default DATA_DIR/DIM)")
    parser.add_argument("--batch-size", type=int, default=DEFAULTS.batch_size,
                        help=f"mini-batch size (default {DEFAULTS.batch_size}, as IVA'19)")
    parser.add_argument("--learning-rate", type=float, default=DEFAULTS.learning_rate,
                        help=f"Adam learning rate (default {DEFAULTS.learning_rate:g})")
    parser.add_argument("--patience", type=int, default=DEFAULTS.patience,
                        help="early stopping after this many epochs without dev improvement "
                             "(default: train all epochs, keep the best dev epoch)")
    parser.add_argument("--seed", type=int, default=DEFAULTS.seed, help="random seed")
    parser.add_argument("--units", type=int, default=NETWORK.units,
                        help=f"width of the dense layers (default {NETWORK.units}, as IVA'19)")
    parser.add_argument("--gru-units", type=int, default=NETWORK.gru_units,
                        help=f"width of the GRU (default {NETWORK.gru_units}, as IVA'19)")
    parser.add_argument("--mirrored", action="store_true",
                        help="train under tf.distribute.MirroredStrategy (all local GPUs); "
                             "TF_CONFIG with several workers: MultiWorkerMirroredStrategy "
                             "(docs/distributed.md)")
    parser.add_argument("--windows", default="auto", choices=SOURCES,
                        help="speech windows: stored X_*.npy, formed on the fly from "
                             "sequences/, or auto (default: stored up to "
                             f"{STORED_WINDOWS_LIMIT / 2**30:g} GiB per split; same batches)")
    parser.add_argument("--precision", default="float32", choices=PRECISIONS,
                        help="number format of the network (default float32; mixed_bfloat16 "
                             "pays off only with bf16 hardware: README, Speed)")
    args = parser.parse_args(argv)
    if args.encode and args.dim is None:
        parser.error("ENCODE True needs DIM")
    return args


def load_targets(meta: DatasetMeta, args: argparse.Namespace) -> Targets:
    """Motion (ENCODE False) or codes (ENCODE True), after checking N_INPUT."""
    if args.n_input != meta.feature_size:
        raise PipelineError(
            f"{Path(args.data_dir) / 'meta.json'}: N_INPUT is {args.n_input} but the dataset has "
            f"{meta.feature_size} {meta.features} features"
        )
    from speech_encoder.model import encoded_targets, motion_targets

    if not args.encode:
        return motion_targets(meta)
    return encoded_targets(meta, args.encoded_dir or Path(args.data_dir) / str(args.dim), args.dim)


MAX_SEED = 2**31 - 1


def check_arguments(args: argparse.Namespace) -> None:
    """One-line errors for arguments outside their range, before anything is read."""
    check_range("EPOCHS", args.epochs, 1)
    check_range("N_INPUT", args.n_input, 1)
    check_range("DIM", args.dim, 1)
    check_range("--batch-size", args.batch_size, 1)
    check_range("--learning-rate", args.learning_rate, 1e-12, 10.0)
    check_range("--patience", args.patience, 1)
    check_range("--seed", args.seed, 0, MAX_SEED)
    check_range("--units", args.units, 1)
    check_range("--gru-units", args.gru_units, 1)


def run_settings(args: argparse.Namespace, meta: DatasetMeta) -> dict:
    """What makes a training run: a rerun resumes only a run with the same settings."""
    encoded = Path(args.encoded_dir or Path(args.data_dir) / str(args.dim)) / ENCODING_INFO
    return {
        "dataset": str(Path(meta.root).resolve()),
        "dataset_meta_sha256": file_sha256(Path(meta.root) / "meta.json"),
        "encode": args.encode, "dim": args.dim,
        "encoding_sha256": file_sha256(encoded) if args.encode else None,
        "epochs": args.epochs, "batch_size": args.batch_size,
        "learning_rate": args.learning_rate, "patience": args.patience, "seed": args.seed,
        "units": args.units, "gru_units": args.gru_units,
    }


def train(args: argparse.Namespace) -> tuple[Path, ModelCard]:
    """Train and save a model; return its path and card."""
    check_arguments(args)
    strategy = strategy_from_environment(mirrored=args.mirrored)  # before any other TF op
    import keras

    from speech_encoder.model import (
        EVAL_BATCH,
        ModelCard,
        build_model,
        check_model_dir,
        save_model,
        window_dataset,
    )
    from training.loop import Trainer, set_seed
    from training.precision import set_precision, wrap_optimizer

    meta = DatasetMeta.load(args.data_dir)
    targets = load_targets(meta, args)
    x_train = split_windows(meta, "train", len(targets.train), args.windows)
    x_dev = split_windows(meta, "dev", len(targets.dev), args.windows)
    settings = TrainSettings(epochs=args.epochs, batch_size=args.batch_size,
                             learning_rate=args.learning_rate, patience=args.patience,
                             seed=args.seed)
    config = NetworkConfig(units=args.units, gru_units=args.gru_units)
    set_seed(args.seed)
    with strategy.scope():
        model = set_precision(build_model(meta, targets, config=config, seed=args.seed),
                              args.precision)
        optimizer = wrap_optimizer(keras.optimizers.Adam(args.learning_rate), args.precision)
    run_dir = check_model_dir(args.model_dir)
    claim_run(run_dir, run_settings(args, meta))
    trainer = Trainer(model, optimizer, run_dir, strategy=strategy)
    dev = window_dataset(x_dev, targets.dev, batch_size=EVAL_BATCH) if len(x_dev) else None
    result = trainer.fit(lambda epoch: window_dataset(
        x_train, targets.train, batch_size=args.batch_size, shuffle=True, seed=args.seed,
        epoch=epoch), epochs=args.epochs, dev_dataset=dev, patience=args.patience)
    card = ModelCard.describe(meta, targets, network=config, training={
        **asdict(settings), "best_epoch": result.best_epoch, "epochs_run": len(result.history),
        "precision": args.precision})
    set_precision(model, "float32")  # model.keras holds float32 layers, whatever the training's
    return save_model(model, card, run_dir, meta.skeleton), card


def main(argv=None) -> int:
    """Run the step."""
    args = parse_args(argv)
    with worker_run_dir(args.model_dir) as model_dir:  # the chief's, or a worker's private copy
        args.model_dir = str(model_dir)
        path, card = train(args)
    what = (f"DIM-{card.dim} codes ({card.representation_kind} {card.representation})"
            if card.predicts == "encoding" else f"{card.motion} motion (D {card.motion_size})")
    print(f"saved {path}: {card.features} -> {what}, best epoch {card.training['best_epoch']}")
    return 0


if __name__ == "__main__":
    run_cli(main)
