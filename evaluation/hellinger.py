"""Hellinger distance with the IVA'19 original's binning ("Hellinger, IVA'19 bins").

Usage::

    python evaluation/hellinger.py [--result-dir result] [-f hmd_vel_0.05.csv] [-g NAME ...]
        [--joints Total] [--out result]

Reads ``RESULT_DIR/original/FILE`` and ``RESULT_DIR/<name>/FILE`` for every other
sub-directory holding ``FILE`` (or only the ``-g`` names), both written by
``calc_distance.py``, sums the selected joint columns (default ``Total``), and writes
``OUT/hellinger_distances.csv`` (``name,distance``): ``H = sqrt(1 - sum(sqrt(p q)))`` of the
normalised histograms, 0 for identical distributions and 1 for disjoint ones.

Its convention is the original's (:data:`NAME`, :data:`CONVENTION`): the histograms of
``calc_distance.py`` (IVA'19 ``evaluation/calc_distance.py``, ``bins = np.arange(0, 1 + w, w)``:
20 bins of 0.05 units/frame up to 1 unit/frame by default; faster frames are not counted),
pooled over the test files and summed over the selected joints. The comparison report
(``evaluation/report.py``) computes another Hellinger distance, with its own binning (20 bins
from 0 to the truth's 99th percentile of the speed in units/s, faster frames in the last
bin): the two are different numbers under different names.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from data_processing.files import PipelineError, is_temporary, run_cli
from evaluation import metrics
from evaluation.tables import HELLINGER_TABLE as OUTPUT
from evaluation.tables import read_table, write_table

NAME = "Hellinger (IVA'19 bins)"
"""The name of this distance, which says its convention (see :data:`CONVENTION`)."""

CONVENTION = ("speed histograms of calc_distance.py, IVA'19 bins arange(0, 1 + w, w) in "
              "units/frame, faster frames not counted, joints summed")
"""The binning, in words (written into every output)."""


def histogram(path: Path, joints: list[str]) -> np.ndarray:
    """Counts per bin summed over the selected joint columns of a ``calc_distance`` table."""
    table = read_table(path)
    missing = [j for j in joints if j not in table.columns]
    if missing:
        raise PipelineError(f"{path}: no column(s) {', '.join(missing)}")
    return table[joints].to_numpy(dtype=np.float64).sum(axis=1)


def hellinger_distances(result_dir, filename: str, names: list[str] | None = None,
                        joints: tuple[str, ...] = ("Total",)) -> dict[str, float]:
    """``name -> distance`` for every model (see the module docstring)."""
    result_dir = Path(result_dir)
    original = histogram(result_dir / "original" / filename, list(joints))
    if names is None:
        names = sorted(p.name for p in result_dir.iterdir() if not is_temporary(p)
                       and p.name != "original" and (p / filename).is_file())
    if not names:
        raise PipelineError(f"{result_dir}: no model directory holds {filename}")
    distances = {}
    for name in names:
        predicted = histogram(result_dir / name / filename, list(joints))
        if predicted.shape != original.shape:
            raise PipelineError(f"{result_dir / name / filename}: {len(predicted)} bins, the "
                                f"ground truth has {len(original)}")
        distances[name] = metrics.hellinger(original, predicted)
    return distances


def parse_args(argv=None) -> argparse.Namespace:
    """Command-line arguments."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--result-dir", default="result",
                        help="directory written by calc_distance.py (default result)")
    parser.add_argument("--file", "-f", default="hmd_vel_0.05.csv",
                        help="histogram file name (default hmd_vel_0.05.csv)")
    parser.add_argument("--gesture", "-g", nargs="+", default=None,
                        help="models to compare (default: every sub-directory)")
    parser.add_argument("--joints", "-s", nargs="+", default=["Total"],
                        help="joint columns to sum (default Total)")
    parser.add_argument("--out", default=None, help="output directory (default RESULT_DIR)")
    return parser.parse_args(argv)


def main(argv=None) -> int:
    """Run the step."""
    args = parse_args(argv)
    distances = hellinger_distances(args.result_dir, args.file, args.gesture, tuple(args.joints))
    out = Path(args.out or args.result_dir) / OUTPUT
    write_table(out, ["name", "distance"], list(distances.items()),
                f"{NAME} (dimensionless) of {args.file} to the ground truth, joints "
                f"{'+'.join(args.joints)}: {CONVENTION}")
    print(f"{NAME}, {CONVENTION}:")
    for name, distance in distances.items():
        print(f"  {name}: {distance:.4f}")
    print(f"written to {out}")
    return 0


if __name__ == "__main__":
    run_cli(main)
