"""Position errors of predicted motion against the ground truth: APE or MAE per joint.

Usage::

    python evaluation/calc_errors.py -g NAME [NAME ...] [-m ape|mae] [-o ORIGINAL] [-p PREDICTED]
        [--out result] [--skeleton DATA_DIR/skeleton.json] [--units cm]

Compares ``PREDICTED/NAME/<id>.txt`` with ``ORIGINAL/<id>.txt`` (matched by id, see
:mod:`evaluation.iva19_cli`), each pair truncated to the shorter, and writes
``OUT/NAME/ape.csv`` (or ``mae.csv``): one row per id and an ``Average`` row, one column per
joint, in the positions' units. Prints ``APE: x.xx cm`` (for each NAME).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from data_processing.files import run_cli
from evaluation import metrics
from evaluation.iva19_cli import add_directory_args, joint_names, matched_positions
from evaluation.tables import write_table

METRICS = {"ape": metrics.ape, "mae": metrics.mae}
DESCRIPTIONS = {"ape": "average position error (Euclidean distance)",
                "mae": "mean absolute error per coordinate"}


def compute_errors(original_dir, predicted_dir, metric: str) -> tuple[list[str], np.ndarray]:
    """Ids and per-joint errors ``(n_ids, J)`` of every matched pair."""
    ids, errors = [], []
    for key, original, predicted in matched_positions(original_dir, predicted_dir):
        ids.append(key)
        errors.append(METRICS[metric](predicted, original))
    return ids, np.stack(errors)


def parse_args(argv=None) -> argparse.Namespace:
    """Command-line arguments."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_directory_args(parser)
    parser.add_argument("--metric", "-m", choices=sorted(METRICS), default="ape",
                        help="error metric (default ape)")
    return parser.parse_args(argv)


def main(argv=None) -> int:
    """Run the step."""
    args = parse_args(argv)
    for name in args.gesture:
        ids, errors = compute_errors(args.original, Path(args.predicted) / name, args.metric)
        names = joint_names(errors.shape[1], args.skeleton)
        rows = [(key, *e) for key, e in zip(ids, errors)] + [("Average", *errors.mean(axis=0))]
        path = write_table(Path(args.out) / name / f"{args.metric}.csv", ["file", *names], rows,
                           f"{args.metric.upper()}: {DESCRIPTIONS[args.metric]} per joint, in "
                           f"{args.units}")
        print(f"More detailed result was written to the file: {path}")
        print(f"{args.metric.upper()}: {errors.mean():.2f} {args.units}")
    return 0


if __name__ == "__main__":
    run_cli(main)
