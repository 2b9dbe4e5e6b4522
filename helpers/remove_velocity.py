"""Strip the velocities from IVA'19 motion vectors: ``(T, 6 J)`` -> positions ``(T, 3 J)``.

Usage::

    python helpers/remove_velocity.py -g DIR [-o OUT]

Every ``.txt`` and ``.npy`` file of ``DIR`` is written, in the same format, to ``OUT`` (default
``DIR/no_vel``) with the columns ``[6k, 6k + 3)`` of every joint ``k``, as the original.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from data_processing.files import PipelineError, load_array, run_cli, save_array
from data_processing.motion import ARRAY_SUFFIXES, motion_files
from data_processing.representations import strip_velocity


def remove_velocity(in_dir, out_dir=None) -> Path:
    """Write the positions of every motion file of ``in_dir`` to ``out_dir``; return it."""
    files = motion_files(in_dir, ARRAY_SUFFIXES).values()
    out_dir = Path(out_dir) if out_dir else Path(in_dir) / "no_vel"
    arrays = {}
    for path in files:  # check all before writing any
        vectors = load_array(path, ndim=2)
        if vectors.shape[1] % 6:
            raise PipelineError(f"{path}: expected pos_vel vectors (a multiple of 6 columns), "
                                f"found {vectors.shape[1]} columns")
        arrays[path.name] = strip_velocity(vectors)
    for name, positions in arrays.items():
        save_array(out_dir / name, positions)
    return out_dir


def parse_args(argv=None) -> argparse.Namespace:
    """Command-line arguments."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--gesture", "-g", required=True, help="directory of motion vectors")
    parser.add_argument("--out", "-o", default=None, help="output directory (default DIR/no_vel)")
    return parser.parse_args(argv)


def main(argv=None) -> int:
    """Run the step."""
    args = parse_args(argv)
    out_dir = remove_velocity(args.gesture, args.out)
    print(f"positions -> {out_dir}")
    return 0


if __name__ == "__main__":
    run_cli(main)
