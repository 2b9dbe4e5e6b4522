"""Ground truth for the evaluation: BVH files to joint positions with the vectors' FK and layout.

Usage::

    python helpers/convert_original.py -d LABELS -o OUT [--fps 20] [--format txt|npy]

Every ``LABELS/*.bvh`` is resampled to ``--fps`` (slerp, as ``create_vector.py``) and written
to ``OUT/<stem>.txt`` as root-pinned joint positions ``(T, 3 J)`` in the BVH's units: exactly
the position columns of the IVA'19 ``pos_vel`` vectors (``strip_velocity(Y)``). ``--data-dir``
takes the frame rate from a dataset's ``meta.json`` instead.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from data_processing.bvh import read_bvh
from data_processing.dataset import DatasetMeta
from data_processing.files import PipelineError, list_inputs, run_cli, save_array


def bvh_positions(path, fps: float):
    """Root-pinned positions ``(T, 3 J)`` of a BVH file at ``fps``."""
    motion = read_bvh(path).resample(fps)
    return motion.positions(pin_root=True).reshape(motion.n_frames, -1)


def convert(labels_dir, out_dir, *, fps: float, fmt: str = "txt") -> list[Path]:
    """Convert every BVH of ``labels_dir``; return the written files."""
    labels_dir, out_dir = Path(labels_dir), Path(out_dir)
    files = list_inputs(labels_dir, [".bvh"]) if labels_dir.is_dir() else []
    if not files:
        raise PipelineError(f"{labels_dir}: no .bvh files")
    return [save_array(out_dir / f"{path.stem}.{fmt}", bvh_positions(path, fps))
            for path in files]


def parse_args(argv=None) -> argparse.Namespace:
    """Command-line arguments."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", "-d", required=True, help="directory of .bvh files")
    parser.add_argument("--out", "-o", required=True, help="output directory")
    rate = parser.add_mutually_exclusive_group()
    rate.add_argument("--fps", type=float, default=None, help="frame rate (default 20)")
    rate.add_argument("--data-dir", default=None, help="take the frame rate from this dataset")
    parser.add_argument("--format", choices=("txt", "npy"), default="txt",
                        help="output format (default txt)")
    return parser.parse_args(argv)


def main(argv=None) -> int:
    """Run the step."""
    args = parse_args(argv)
    fps = DatasetMeta.load(args.data_dir).fps if args.data_dir else (args.fps or 20.0)
    written = convert(args.data, args.out, fps=fps, fmt=args.format)
    print(f"{len(written)} files at {fps:g} fps -> {args.out}")
    return 0


if __name__ == "__main__":
    run_cli(main)
