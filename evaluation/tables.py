"""Result tables of the evaluation steps: one CSV row per run, appended."""

from __future__ import annotations

import csv
import io
from pathlib import Path

from data_processing.files import atomic_path


def append_csv(path, row: dict) -> Path:
    """Append ``row`` to a CSV table, creating it with a header when missing.

    Columns new to an existing table are added at the end (earlier rows leave them empty);
    the table is rewritten atomically, so an interrupted step never leaves half a row.
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
    with atomic_path(path) as tmp:
        tmp.write_text(buffer.getvalue())
    return path
