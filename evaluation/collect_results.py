"""Collect evaluation results into tables: append one model's row, or build a whole table.

Usage::

    python evaluation/collect_results.py append RESULT_DIR NAME RESULTS_CSV [key=value ...]
    python evaluation/collect_results.py table RESULT_DIR LABELS_CSV OUT_CSV OUT_MD [--title T]

A model's row holds its labels (``key=value`` words, or the columns of ``LABELS_CSV`` whose
``name`` column names the model), then the ``Average`` of ``RESULT_DIR/NAME/{ape,mae,aa,aj}.csv``
(``calc_errors.py``, ``calc_jerk.py``) averaged over joints, the ground truth's AA and AJ from
``RESULT_DIR/original/``, and NAME's Hellinger distance from
``RESULT_DIR/hellinger_distances.csv`` when present. ``append`` adds the row to
``RESULTS_CSV``; ``table`` writes one row per line of ``LABELS_CSV`` to ``OUT_CSV`` and as a
markdown table, with a last row for the ground truth's acceleration and jerk, to ``OUT_MD``.

Runs of one method trained with several seeds (names ``ID_seedK``, as the experiment
runner of ``make demo`` names them) are also summarised: ``OUT_MD`` ends with a table
of each method's mean over its seeds with a 95% percentile-bootstrap interval over the seeds
only (:mod:`evaluation.intervals`; the IVA'19 scripts keep one average per run, so held-out
segments cannot be resampled here -- ``evaluation/report.py`` gives the intervals over seeds
and segments of the same methods). ``OUT_CSV`` stays one row per run.
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path

import numpy as np
import pandas as pd

from data_processing.files import PipelineError, atomic_path, run_cli
from evaluation.tables import HELLINGER_TABLE as HELLINGER
from evaluation.tables import append_csv, markdown_table, read_table

METRICS = ("ape", "mae", "aa", "aj")
SEED_SUFFIX = re.compile(r"_seed\d+$")
SCORING_KEYS = {"APE": "ape", "MAE": "mae", "AA": "acceleration", "AJ": "jerk",
                "H vel": "hellinger"}  # table column -> evaluation.scoring metric


def _average(path: Path) -> float:
    table = read_table(path)
    if "Average" not in table.index:
        raise PipelineError(f"{path}: no Average row")
    return round(float(table.loc["Average"].mean()), 4)


def result_row(result_dir, name: str, labels: dict) -> dict:
    """One row: labels, the model's metrics, the ground truth's AA/AJ, the Hellinger distance."""
    result_dir = Path(result_dir)
    row = dict(labels)
    row.update({metric.upper(): _average(result_dir / name / f"{metric}.csv")
                for metric in METRICS})
    row.update({f"{metric.upper()} original": _average(result_dir / "original" / f"{metric}.csv")
                for metric in ("aa", "aj")})
    hellinger = result_dir / HELLINGER
    if hellinger.is_file():
        distances = read_table(hellinger)["distance"]
        if name in distances.index:
            row["H vel"] = round(float(distances[name]), 4)
    return row


def results_markdown(table: pd.DataFrame) -> str:
    """Rows as a markdown table (numbers to 3 decimals), plus the ground-truth AA/AJ row."""
    shown = table.drop(columns=[c for c in table.columns if c.endswith(" original")])
    rows = [[_cell(v) for v in row] for row in shown.itertuples(index=False)]
    if {"AA original", "AJ original"} <= set(table.columns):
        truth = {"AA": table["AA original"].mean(), "AJ": table["AJ original"].mean()}
        rows.append([_cell(truth[c]) if c in truth else ("ground truth" if i == 0 else "")
                     for i, c in enumerate(shown.columns)])
    return markdown_table(list(shown.columns), rows)


def seed_summary(table: pd.DataFrame, *, n_boot: int | None = None) -> pd.DataFrame:
    """Mean over seeds and its 95% bootstrap interval over seeds, per method and metric.

    Rows of ``table`` (indexed by run name; :data:`METRICS` in upper case and ``H vel``) are
    grouped by name without its ``_seedK`` suffix; columns ``method, seeds, M, M_lo, M_hi``.
    """
    from evaluation import intervals
    from evaluation.scoring import Scores

    keys = {c: k for c, k in SCORING_KEYS.items() if c in table}  # scoring's metric names
    groups = table.assign(method=table.index.str.replace(SEED_SUFFIX, "", regex=True))
    boot = intervals.Bootstrap(1, **({"n_boot": n_boot} if n_boot else {}))
    rows = []
    for method, group in groups.groupby("method", sort=False):
        values = {k: group[c].astype(float).to_numpy()[:, None] for c, k in keys.items()}
        scores = Scores(method, values, {k: np.ones_like(v) for k, v in values.items()})
        row = {"method": method, "seeds": len(group)}
        found = boot.interval(scores)
        for column, key in keys.items():
            mean, lo, hi = found[key]
            row.update({column: mean, f"{column}_lo": lo, f"{column}_hi": hi})
        rows.append(row)
    return pd.DataFrame(rows)


def summary_markdown(summary: pd.DataFrame) -> str:
    """The seed summary as markdown: ``mean [lo, hi]`` cells."""
    from evaluation import intervals

    columns = [c for c in summary.columns if c not in ("method", "seeds")
               and not c.endswith(("_lo", "_hi"))]
    rows = [[row["method"], str(row["seeds"]),
             *(intervals.cell(row[c], row[f"{c}_lo"], row[f"{c}_hi"]) for c in columns)]
            for _, row in summary.iterrows()]
    return ("\nMean over training seeds [95% percentile-bootstrap interval over seeds only]:\n\n"
            + markdown_table(["method", "seeds", *columns], rows))


def _cell(value) -> str:
    if isinstance(value, float):
        return "" if pd.isna(value) else f"{value:.3f}"
    return str(value)


def parse_labels(pairs: list[str]) -> dict[str, str]:
    """``key=value`` arguments to a dict, in order."""
    labels = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise PipelineError(f"expected a key=value label, got {pair!r}")
        labels[key] = value
    return labels


def build_table(result_dir, labels_csv) -> pd.DataFrame:
    """One row per line of ``labels_csv``, indexed by its ``name`` column (the run's name)."""
    labels_csv = Path(labels_csv)
    if not labels_csv.is_file():
        raise PipelineError(f"{labels_csv}: no such file")
    labels = pd.read_csv(labels_csv, dtype=str, keep_default_na=False)
    if "name" not in labels.columns:
        raise PipelineError(f"{labels_csv}: no 'name' column")
    records = labels.to_dict("records")
    names = [row.pop("name") for row in records]
    return pd.DataFrame([result_row(result_dir, name, row) for name, row in zip(names, records)],
                        index=pd.Index(names, name="name"))


def parse_args(argv=None) -> argparse.Namespace:
    """Command-line arguments."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    append = commands.add_parser("append", help="append a model's row to a results CSV")
    append.add_argument("result_dir", help="evaluation output directory (calc_*.py --out)")
    append.add_argument("name", help="the model's sub-directory name")
    append.add_argument("results_csv", help="results table to append to")
    append.add_argument("labels", nargs="*", help="key=value columns put first")
    table = commands.add_parser("table", help="build a results table from a labels CSV")
    table.add_argument("result_dir", help="evaluation output directory (calc_*.py --out)")
    table.add_argument("labels_csv", help="CSV with a 'name' column and label columns")
    table.add_argument("out_csv", help="the table as CSV")
    table.add_argument("out_md", help="the table as markdown")
    table.add_argument("--title", default=None, help="heading above the markdown table")
    return parser.parse_args(argv)


def main(argv=None) -> int:
    """Run the step."""
    args = parse_args(argv)
    if args.command == "append":
        row = result_row(args.result_dir, args.name, parse_labels(args.labels))
        append_csv(args.results_csv, row)
        print(", ".join(f"{k}={v}" for k, v in row.items()))
        return 0
    table = build_table(args.result_dir, args.labels_csv)
    text = results_markdown(table)
    if table.index.str.contains(SEED_SUFFIX).any():
        text += summary_markdown(seed_summary(table))
    if args.title:
        text = f"# {args.title}\n\n{text}"
    with atomic_path(args.out_csv) as tmp:
        table.to_csv(tmp, index=False)
    with atomic_path(args.out_md) as tmp:
        tmp.write_text(text)
    print(text, end="")
    return 0


if __name__ == "__main__":
    run_cli(main)
