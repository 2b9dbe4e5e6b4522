"""Decode codes back to motion vectors with a trained representation (dropout off).

Usage::

    python motion_repr_learning/ae/decode.py DATA_DIR ENCODED OUT --chkpt-dir DIR

``ENCODED`` is a ``(T, DIM)`` ``.npy`` or ``.txt`` file; ``OUT`` (``.npy`` or ``.txt``) gets
``(T, D)`` motion vectors, exactly one frame per input row. ``DATA_DIR`` is the dataset the
motion belongs to; its motion representation and width must match the representation's.
"""

from __future__ import annotations

import argparse

from data_processing.dataset import DatasetMeta
from data_processing.files import load_array, run_cli, save_array
from motion_repr_learning.ae.representation import (
    add_representation_args,
    check_compatible,
    load_representation,
)


def parse_args(argv=None) -> argparse.Namespace:
    """Command-line arguments."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_representation_args(parser)
    parser.add_argument("encoded", help="codes (T, DIM), .npy or .txt")
    parser.add_argument("out", help="motion vectors (T, D), .npy or .txt")
    return parser.parse_args(argv)


def main(argv=None) -> int:
    """Run the step."""
    args = parse_args(argv)
    representation = load_representation(args.chkpt_dir)
    check_compatible(representation, DatasetMeta.load(args.data_dir))
    codes = load_array(args.encoded, ndim=2)
    motion = representation.decode(codes)
    save_array(args.out, motion)
    print(f"decoded {codes.shape} -> {motion.shape} {args.out}")
    return 0


if __name__ == "__main__":
    run_cli(main)
