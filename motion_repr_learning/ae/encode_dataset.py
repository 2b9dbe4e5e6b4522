"""Encode a dataset's motion with a trained representation: ``Y_*`` -> ``DIM/Y_*_encoded``.

Usage::

    python motion_repr_learning/ae/encode_dataset.py DATA_DIR --chkpt-dir DIR [--out OUT]

Writes ``OUT/Y_{train,dev,test}_encoded.npy`` (default ``OUT = DATA_DIR/DIM``) with exactly as
many rows as ``Y_{train,dev,test}.npy``, and ``OUT/encoding.json`` naming the representation
and fingerprinting the motion, which ``train.py`` records in the model it trains so that
``predict.py`` decodes through it. Datasets with the same motion (the same recordings and split,
other speech features) can share one encoding: ``train.py`` checks the fingerprint.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from data_processing.dataset import SPLITS, DatasetMeta
from data_processing.files import load_array, run_cli, save_array, write_json
from motion_repr_learning.ae.representation import (
    ENCODING_INFO,
    add_representation_args,
    check_compatible,
    load_representation,
    motion_fingerprint,
)


def encode_dataset(data_dir, chkpt_dir, out_dir=None) -> Path:
    """Encode every split; return the output directory."""
    meta = DatasetMeta.load(data_dir)
    representation = load_representation(chkpt_dir)
    check_compatible(representation, meta)
    out_dir = Path(out_dir or Path(data_dir) / str(representation.dim))
    for split in SPLITS:
        motion = load_array(Path(data_dir) / f"Y_{split}.npy", ndim=2)
        save_array(out_dir / f"Y_{split}_encoded.npy", representation.encode(motion))
    write_json(out_dir / ENCODING_INFO, {
        "representation": str(representation.path.resolve()), "kind": representation.kind,
        "dim": representation.dim, "dataset": str(Path(data_dir).resolve()),
        "motion_fingerprint": motion_fingerprint(data_dir),
    })
    return out_dir


def parse_args(argv=None) -> argparse.Namespace:
    """Command-line arguments."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_representation_args(parser)
    parser.add_argument("--out", default=None,
                        help="output directory (default DATA_DIR/DIM, as IVA'19)")
    return parser.parse_args(argv)


def main(argv=None) -> int:
    """Run the step."""
    args = parse_args(argv)
    out_dir = encode_dataset(args.data_dir, args.chkpt_dir, args.out)
    for split in SPLITS:
        shape = load_array(out_dir / f"Y_{split}_encoded.npy").shape
        print(f"{split}: {shape} -> {out_dir / f'Y_{split}_encoded.npy'}")
    return 0


if __name__ == "__main__":
    run_cli(main)
