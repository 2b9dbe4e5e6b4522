"""The one table writer of the evaluation steps: CSV tables and their markdown form.

* :func:`write_table` / :func:`read_table`: a CSV table with a first ``# comment`` line that
  states its units (the IVA'19 steps ``calc_errors``, ``calc_jerk``, ``calc_distance``,
  ``hellinger``);
* :func:`append_csv`: one row appended to a CSV table of runs (``collect_results``, ``fgd``,
  ``beat_alignment``);
* :func:`markdown_table` and :func:`write_frame`: a pandas table as CSV and as markdown
  (``report``, ``a2g_metrics``, ``collect_results``).

Every file is written atomically: an interrupted step never leaves half a table.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from data_processing.files import PipelineError, atomic_path

HELLINGER_TABLE = "hellinger_distances.csv"
"""Written by ``hellinger.py`` in each result directory, read by ``collect_results.py``."""


def _write_text(path, text: str) -> Path:
    path = Path(path)
    with atomic_path(path) as tmp:
        tmp.write_text(text)
    return path


def write_table(path, header: Sequence[str], rows: Sequence[Sequence], comment: str) -> Path:
    """Write a CSV table with a first ``# comment`` line stating its units.

    Parameters
    ----------
    path : path-like
        The CSV file.
    header : sequence of str
        Column names.
    rows : sequence of sequence
        One row per line: a label, then values (floats written with 6 significant digits).
    comment : str
        What the numbers are and their units.
    """
    buffer = io.StringIO()
    buffer.write(f"# {comment}\n")
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    writer.writerows([row[0], *(f"{v:.6g}" if isinstance(v, float) else v for v in row[1:])]
                     for row in rows)
    return _write_text(path, buffer.getvalue())


def read_table(path) -> pd.DataFrame:
    """A table written by :func:`write_table` (first column as index)."""
    path = Path(path)
    if not path.is_file():
        raise PipelineError(f"{path}: no such file")
    return pd.read_csv(path, comment="#", index_col=0)


def append_csv(path, row: dict) -> Path:
    """Append ``row`` to a CSV table, creating it with a header when missing.

    Columns new to an existing table are added at the end (earlier rows leave them empty).
    """
    path = Path(path)
    columns, rows = list(row), []
    if path.is_file():
        with path.open(newline="") as f:
            reader = csv.DictReader(f)
            rows = list(reader)
            existing = list(reader.fieldnames or [])
        columns = existing + [c for c in row if c not in existing]
    rows.append(dict(row))
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return _write_text(path, buffer.getvalue())


def number_cell(value, digits: int = 3) -> str:
    """A number for a markdown cell: ``-`` when missing, ``digits`` decimals below 100."""
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        return str(value)
    if pd.isna(value):
        return "-"
    return f"{value:.{digits}f}" if abs(value) < 100 else f"{value:.1f}"


def markdown_table(titles: Sequence[str], rows: Sequence[Sequence[str]], *,
                   align: str = "---") -> str:
    """A markdown table of formatted cells; the first column is the row label.

    Parameters
    ----------
    titles : sequence of str
        Column titles, the label column's first.
    rows : sequence of sequence of str
        One cell per title.
    align : str
        Markdown alignment of the columns after the first (``---`` or ``---:``).
    """
    lines = ["| " + " | ".join(titles) + " |", "|---|" + f"{align}|" * (len(titles) - 1)]
    lines += ["| " + " | ".join(cells) + " |" for cells in rows]
    return "\n".join(lines) + "\n"


def write_frame(frame: pd.DataFrame, out, markdown: str, *, float_format: str = "%.5g",
                index: bool = True) -> tuple[Path, Path]:
    """Write ``OUT.md`` (``markdown``) and ``OUT.csv`` (the numbers of ``frame``)."""
    out = Path(out)
    with atomic_path(out.with_suffix(".csv")) as tmp:
        frame.to_csv(tmp, float_format=float_format, index=index)
    return _write_text(out.with_suffix(".md"), markdown), out.with_suffix(".csv")
