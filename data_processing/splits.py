"""Train/dev/test splits of a dataset's recordings.

By ratios, by the IVA'19 Trinity ranges, or by the dataset's own split table (BEAT2's
``train_test_split.csv``).
"""

from __future__ import annotations

import csv
import logging
from pathlib import Path

import numpy as np

from data_processing.dataset import SPLITS
from data_processing.files import PipelineError
from data_processing.motion import pairing_key

log = logging.getLogger(__name__)

SPLIT_FILE = "train_test_split.csv"
"""BEAT2's split table in ``RAW_DIR``: columns ``id`` (a recording's stem) and ``type``."""
SPLIT_TYPES = {"train": "train", "val": "dev", "dev": "dev", "test": "test",
               "additional": None}
"""``type`` of the split table -> split (``additional``: extra data EMAGE leaves out by default)."""
SPLIT_METHODS = ("auto", "ratio", "iva19", "file")
IVA19_RANGES = {"train": range(20, 1092), "test": range(1092, 1183, 2), "dev": range(1093, 1182, 2)}


def read_split_file(path) -> dict[str, str | None]:
    """``key -> split`` of a split table (``id,type``; :data:`SPLIT_TYPES`); ``None``: left out.

    Raises
    ------
    PipelineError
        A missing file, a missing column or an unknown ``type``, naming the line.
    """
    path = Path(path)
    if not path.is_file():
        raise PipelineError(f"{path}: no such file")
    with open(path, newline="", encoding="utf-8-sig") as f:
        reader = csv.DictReader(f)
        if not {"id", "type"} <= set(reader.fieldnames or []):
            raise PipelineError(f"{path}:1: expected the columns id,type")
        out = {}
        for row in reader:
            kind = (row["type"] or "").strip().lower()
            if kind not in SPLIT_TYPES:
                raise PipelineError(f"{path}:{reader.line_num}: unknown type {row['type']!r} "
                                    f"(expected {', '.join(SPLIT_TYPES)})")
            out[pairing_key((row["id"] or "").strip())] = SPLIT_TYPES[kind]
    return out


def split_from_file(keys: list[str], path) -> dict[str, list[str]]:
    """Assign keys to train/dev/test by a split table (:func:`read_split_file`).

    Recordings the table does not list are skipped with a warning; ``additional`` ones are
    left out (logged).
    """
    table = read_split_file(path)
    out: dict[str, list[str]] = {s: [] for s in SPLITS}
    for key in keys:
        if table.get(key):
            out[table[key]].append(key)
    unlisted = [k for k in keys if k not in table]
    if unlisted:
        log.warning("%s: %d recording(s) not listed, skipped (first: %s)", path, len(unlisted),
                    unlisted[0])
    left_out = sum(1 for k in keys if k in table and table[k] is None)
    if left_out:
        log.info("%s: %d 'additional' recording(s) left out", path, left_out)
    return out


def split_keys(keys: list[str], *, method: str = "ratio", ratios=(0.8, 0.1, 0.1),
               seed: int = 0) -> dict[str, list[str]]:
    """Assign keys to train/dev/test deterministically.

    ``ratio`` shuffles the sorted keys with ``seed`` and cuts by ``ratios`` (at least one file
    in dev and test when there are three or more); ``iva19`` uses the Trinity id ranges
    (train 20-1091, test 1092-1182 even, dev 1093-1181 odd).
    """
    if method == "iva19":
        out = {s: [] for s in SPLITS}
        for key in keys:
            split = next((s for s, r in IVA19_RANGES.items() if key.isdigit() and int(key) in r),
                         None)
            if split is None:
                log.warning("%s: outside the IVA'19 id ranges; skipped", key)
            else:
                out[split].append(key)
        return {s: sorted(v, key=int) for s, v in out.items()}
    if method != "ratio":
        raise PipelineError(f"unknown split method {method!r} (use ratio or iva19)")
    ratios = np.asarray(ratios, dtype=float)
    if ratios.shape != (3,) or not np.isfinite(ratios).all() or (ratios < 0).any() \
            or ratios.sum() <= 0:
        raise PipelineError(f"--ratios needs three non-negative numbers, got {ratios.tolist()}")
    order = [keys[i] for i in np.random.default_rng(seed).permutation(len(keys))]
    n = len(keys)
    n_dev, n_test = (int(round(r * n / ratios.sum())) for r in ratios[1:])
    if n >= 3:
        n_dev, n_test = max(n_dev, 1 if ratios[1] else 0), max(n_test, 1 if ratios[2] else 0)
    n_train = n - n_dev - n_test
    parts = {"train": order[:n_train], "dev": order[n_train : n_train + n_dev],
             "test": order[n_train + n_dev :]}
    return {s: sorted(v) for s, v in parts.items()}


def choose_splits(keys: list[str], raw_dir: Path, *, split: str, ratios, seed: int,
                  split_file=None) -> dict[str, list[str]]:
    """Keys per split by ``split`` (:data:`SPLIT_METHODS`; ``auto``: the split file if any)."""
    if split not in SPLIT_METHODS:
        raise PipelineError(f"unknown split method {split!r} (use {', '.join(SPLIT_METHODS)})")
    split_file = Path(split_file) if split_file is not None else raw_dir / SPLIT_FILE
    if split == "auto":
        split = "file" if split_file.is_file() else "ratio"
    if split == "file":
        return split_from_file(keys, split_file)
    return split_keys(keys, method=split, ratios=ratios, seed=seed)
