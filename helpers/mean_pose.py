"""The static mean-pose reference: the training split's mean motion vector on every frame.

Usage::

    python helpers/mean_pose.py DATA_DIR OUT [--split test] [--format txt|npy]

Writes ``OUT/<id>.txt`` for every recording of the split, as many frames as the recording has
at the dataset fps, each frame the saved ``motion_mean``. A model that does not beat it on APE has
learned nothing from the speech.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from data_processing.dataset import DatasetMeta
from data_processing.files import PipelineError, atomic_path, run_cli, save_array


def write_mean_pose(data_dir, out_dir, *, split: str = "test", fmt: str = "txt") -> list[Path]:
    """Write the mean pose for every id of ``split``, one frame per frame of the id."""
    meta = DatasetMeta.load(data_dir)
    ids = meta.splits.get(split)
    if not ids:
        raise PipelineError(f"{meta.root / 'meta.json'}: no {split} recordings")
    mean = meta.stat("motion_mean")
    out_dir = Path(out_dir)
    with atomic_path(out_dir) as tmp:
        tmp.mkdir()
        for seq_id in ids:
            frames = len(meta.sequence(split, seq_id)["audio"])
            save_array(tmp / f"{seq_id}.{fmt}", np.broadcast_to(mean, (frames, len(mean))))
    return [out_dir / f"{seq_id}.{fmt}" for seq_id in ids]


def parse_args(argv=None) -> argparse.Namespace:
    """Command-line arguments."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("data_dir", help="dataset directory written by create_vector.py")
    parser.add_argument("out", help="output directory")
    parser.add_argument("--split", default="test", choices=("train", "dev", "test"),
                        help="which recordings (default test)")
    parser.add_argument("--format", choices=("txt", "npy"), default="txt",
                        help="output format (default txt)")
    return parser.parse_args(argv)


def main(argv=None) -> int:
    """Run the step."""
    args = parse_args(argv)
    written = write_mean_pose(args.data_dir, args.out, split=args.split, fmt=args.format)
    print(f"mean pose for {len(written)} files -> {args.out}")
    return 0


if __name__ == "__main__":
    run_cli(main)
