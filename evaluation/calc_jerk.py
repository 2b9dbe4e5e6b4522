"""Average jerk (AJ) or acceleration (AA) per joint of predicted and ground-truth motion.

Usage::

    python evaluation/calc_jerk.py -g NAME [NAME ...] [-m jerk|acceleration] [--fps 20]
        [-o ORIGINAL] [-p PREDICTED] [--out result] [--skeleton DATA_DIR/skeleton.json] [--units cm]

The mean norm of the third (jerk) or second (acceleration) frame difference, per joint, in
``units/frame^3`` / ``units/frame^2`` like the original, or per second with ``--fps``. Each
prediction is paired with its ground truth by id and both are truncated to the shorter. Writes
``OUT/NAME/aj.csv`` and ``OUT/original/aj.csv`` (``aa.csv`` for acceleration).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from data_processing.files import run_cli
from evaluation import metrics
from evaluation.iva19_cli import add_directory_args, joint_names, matched_positions
from evaluation.tables import write_table

MEASURES = {"jerk": (metrics.jerk, "aj", 3), "acceleration": (metrics.acceleration, "aa", 2)}


def measure_unit(units: str, order: int, fps: float | None) -> str:
    """``cm/frame^3``, ``cm/s^2``... for a difference of ``order``."""
    return f"{units}/{'s' if fps else 'frame'}^{order}"


def compute_measure(original_dir, predicted_dir, measure: str, fps: float | None = None):
    """Ids and per-joint values ``(n_ids, J)`` of the ground truth and of the predictions."""
    function = MEASURES[measure][0]
    ids, originals, predictions = [], [], []
    for key, original, predicted in matched_positions(original_dir, predicted_dir):
        n = min(len(original), len(predicted))
        ids.append(key)
        originals.append(function(original[:n], fps))
        predictions.append(function(predicted[:n], fps))
    return ids, np.stack(originals), np.stack(predictions)


def parse_args(argv=None) -> argparse.Namespace:
    """Command-line arguments."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_directory_args(parser)
    parser.add_argument("--measure", "-m", choices=sorted(MEASURES), default="jerk",
                        help="jerk (aj.csv) or acceleration (aa.csv); default jerk")
    parser.add_argument("--fps", type=float, default=None,
                        help="frame rate: report per second instead of per frame")
    return parser.parse_args(argv)


def main(argv=None) -> int:
    """Run the step."""
    args = parse_args(argv)
    _, short, order = MEASURES[args.measure]
    unit = measure_unit(args.units, order, args.fps)
    for gesture in args.gesture:
        ids, originals, predictions = compute_measure(
            args.original, Path(args.predicted) / gesture, args.measure, args.fps)
        names = joint_names(originals.shape[1], args.skeleton)
        for name, values in (("original", originals), (gesture, predictions)):
            rows = [(key, *v) for key, v in zip(ids, values)] + [("Average", *values.mean(0))]
            write_table(Path(args.out) / name / f"{short}.csv", ["file", *names], rows,
                        f"{short.upper()}: mean {args.measure} per joint, in {unit}")
        print(f"{short.upper()} ({unit}), {gesture}:")
        print(f"original: {originals.mean():.2f}")
        print(f"predicted: {predictions.mean():.2f}")
    return 0


if __name__ == "__main__":
    run_cli(main)
