"""Learn a motion representation (IVA'19 denoising autoencoder, or PCA) on a dataset.

Usage::

    python motion_repr_learning/ae/learn_dataset_encoding.py DATA_DIR --chkpt-dir DIR --dim DIM
        [--kind dae|pca] [--epochs 20] [--batch-size 128] [--learning-rate 1e-4] [--seed 0]
        [--normalisation iva19|centred] [--l2 L2]

The original's spellings ``-chkpt_dir=DIR`` and ``-layer1_width=DIM`` are accepted. Training
checkpoints every epoch into ``DIR``; running the same command again after an interruption
resumes where it stopped. The layout of ``DIR`` and the normalisations are described in
:mod:`motion_repr_learning.ae.representation`.
"""

from __future__ import annotations

import argparse

from data_processing.dataset import DatasetMeta
from data_processing.files import run_cli
from motion_repr_learning.ae.representation import (
    CENTRED_WEIGHT_DECAY,
    KINDS,
    NORMALISATIONS,
    ORIGINAL_WEIGHT_DECAY,
    DAESettings,
    add_representation_args,
    fit_pca,
    learn_dae,
    reconstruction_errors,
)

DEFAULTS = DAESettings()


def parse_args(argv=None) -> argparse.Namespace:
    """Command-line arguments."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_representation_args(parser)
    parser.add_argument("--dim", "-layer1_width", type=int, required=True,
                        help="width DIM of the representation (325 in the IVA'19 paper)")
    parser.add_argument("--kind", choices=KINDS, default="dae",
                        help="denoising autoencoder (default) or the PCA reference")
    parser.add_argument("--epochs", type=int, default=DEFAULTS.epochs,
                        help=f"most training epochs (default {DEFAULTS.epochs})")
    parser.add_argument("--batch-size", type=int, default=DEFAULTS.batch_size,
                        help=f"mini-batch size (default {DEFAULTS.batch_size})")
    parser.add_argument("--learning-rate", type=float, default=DEFAULTS.learning_rate,
                        help=f"Adam learning rate (default {DEFAULTS.learning_rate:g})")
    parser.add_argument("--dropout", type=float, default=DEFAULTS.dropout,
                        help=f"dropout rate before each layer (default {DEFAULTS.dropout})")
    parser.add_argument("--noise", type=float, default=DEFAULTS.noise_ratio,
                        help="input noise std as a fraction of the normalised data's std "
                             f"(default {DEFAULTS.noise_ratio})")
    parser.add_argument("--normalisation", choices=NORMALISATIONS, default=None,
                        help="motion normalisation: iva19 = the original's (scale max|Y_train| "
                             "of the uncentred data, DAE loss in data units; the DAE's "
                             "default), centred = ours (scale max|Y_train - mean|, loss in "
                             "normalised units; the PCA's default)")
    parser.add_argument("--l2", type=float, default=None,
                        help="L2 penalty l2 * sum(W^2) on both weight matrices (default "
                             f"{ORIGINAL_WEIGHT_DECAY:g} with iva19, the original's 0.5 x "
                             f"tf.nn.l2_loss; {CENTRED_WEIGHT_DECAY:g} with centred)")
    parser.add_argument("--patience", type=int, default=DEFAULTS.patience,
                        help="early stopping after this many epochs without dev improvement "
                             f"(default {DEFAULTS.patience})")
    parser.add_argument("--seed", type=int, default=DEFAULTS.seed, help="random seed")
    return parser.parse_args(argv)


def main(argv=None) -> int:
    """Run the step."""
    args = parse_args(argv)
    meta = DatasetMeta.load(args.data_dir)
    if args.kind == "pca":
        representation = fit_pca(meta, args.chkpt_dir, args.dim, seed=args.seed,
                                 normalisation=args.normalisation or "centred")
    else:
        settings = DAESettings(epochs=args.epochs, batch_size=args.batch_size,
                               learning_rate=args.learning_rate, dropout=args.dropout,
                               noise_ratio=args.noise, l2=args.l2, patience=args.patience,
                               seed=args.seed,
                               normalisation=args.normalisation or DEFAULTS.normalisation)
        representation = learn_dae(meta, args.chkpt_dir, args.dim, settings)
    split = "dev" if meta.splits["dev"] else "train"
    errors = reconstruction_errors(representation, meta, split)
    print(f"{args.kind} DIM {args.dim} -> {args.chkpt_dir}")
    print(f"{split} APE: reconstruction {errors['reconstruction']:.3f}, mean pose "
          f"{errors['mean_pose']:.3f} (dataset units)")
    return 0


if __name__ == "__main__":
    run_cli(main)
