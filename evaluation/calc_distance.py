"""Histograms of moving distance: per-joint speed (or acceleration) counts per bin.

Usage::

    python evaluation/calc_distance.py -g NAME [NAME ...] [-m velocity|acceleration] [-w 0.05]
        [--fps F] [-o ORIGINAL] [-p PREDICTED] [--out result] [--skeleton DATA_DIR/skeleton.json]

Bins are ``arange(0, 1 + w, w)`` (IVA'19) in ``units/frame`` (``units/frame^2`` for
acceleration), or per second with ``--fps``; values beyond the last bin are not counted.
Writes ``OUT/NAME/hmd_vel_<w>.csv`` and ``OUT/original/hmd_vel_<w>.csv`` (``hmd_acc`` for
acceleration): one row per bin (its lower edge), one column per joint and a ``Total`` column.
``evaluation/hellinger.py`` compares them.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from data_processing.files import PipelineError, run_cli
from evaluation import metrics
from evaluation.iva19_cli import add_directory_args, joint_names, matched_positions
from evaluation.tables import write_table

MEASURES = {"velocity": (metrics.speed, 1), "acceleration": (metrics.acceleration_norms, 2)}


def histogram_name(measure: str, width: float) -> str:
    """``hmd_vel_0.05.csv`` / ``hmd_acc_0.05.csv``, the original's file names."""
    return f"hmd_{measure[:3]}_{width:g}.csv"


def histograms(original_dir, predicted_dir, measure: str, width: float,
               fps: float | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Bin edges and per-joint counts ``(n_bins, J)`` of the ground truth and predictions."""
    function = MEASURES[measure][0]
    originals, predictions = [], []
    for _, original, predicted in matched_positions(original_dir, predicted_dir):
        n = min(len(original), len(predicted))
        originals.append(function(original[:n], fps))
        predictions.append(function(predicted[:n], fps))
    bins = metrics.histogram_bins(width)
    return (bins, metrics.speed_histogram(np.concatenate(originals), bins),
            metrics.speed_histogram(np.concatenate(predictions), bins))


def parse_args(argv=None) -> argparse.Namespace:
    """Command-line arguments."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_directory_args(parser)
    parser.add_argument("--measure", "-m", choices=sorted(MEASURES), default="velocity",
                        help="velocity (default) or acceleration")
    parser.add_argument("--width", "-w", type=float, default=0.05,
                        help="bin width (default 0.05)")
    parser.add_argument("--fps", type=float, default=None,
                        help="frame rate: values per second instead of per frame")
    return parser.parse_args(argv)


def main(argv=None) -> int:
    """Run the step."""
    args = parse_args(argv)
    if args.width <= 0:
        raise PipelineError(f"--width must be positive, got {args.width}")
    order = MEASURES[args.measure][1]
    unit = f"{args.units}/{'s' if args.fps else 'frame'}" + (f"^{order}" if order > 1 else "")
    filename = histogram_name(args.measure, args.width)
    for gesture in args.gesture:
        bins, original, predicted = histograms(args.original, Path(args.predicted) / gesture,
                                               args.measure, args.width, args.fps)
        names = joint_names(original.shape[1], args.skeleton)
        for name, counts in (("original", original), (gesture, predicted)):
            rows = [(f"{edge:g}", *row, int(row.sum())) for edge, row in zip(bins[:-1], counts)]
            write_table(Path(args.out) / name / filename, ["bin", *names, "Total"], rows,
                        f"counts of {args.measure} per bin (lower edge, in {unit}) and joint")
        print(f"HMD ({args.measure}, {unit}), {gesture}:")
        print(f"original: {original.sum(axis=1).tolist()}")
        print(f"predicted: {predicted.sum(axis=1).tolist()}")
    return 0


if __name__ == "__main__":
    run_cli(main)
