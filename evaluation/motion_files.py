"""Directories of motion files for the IVA'19 evaluation: ids, pairing, joint names, tables.

Files are ``.txt`` (the original's format) or ``.npy`` arrays of joint positions ``(T, 3 J)``;
an array of twice the ground truth's width is taken as ``pos_vel`` vectors and its velocities
are stripped, as the original ``calc_errors.py`` did.

Predictions and ground truth are matched **by id**, never by sorted position: the id of a file
is its stem without an ``X_test_`` prefix, with the IVA'19 names ``audioN``/``gestureN``
reduced to ``N`` (as ``prepare_data.py`` pairs them). A missing or extra id is an error.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from data_processing.bvh import Skeleton
from data_processing.files import PipelineError, atomic_path, load_array
from data_processing.prepare_data import pairing_key
from data_processing.representations import strip_velocity

SUFFIXES = (".txt", ".npy")


def motion_id(path) -> str:
    """The id that pairs a prediction with its ground truth (see the module docstring)."""
    stem = Path(path).stem
    return pairing_key(stem.removeprefix("X_test_"))


def motion_files(directory) -> dict[str, Path]:
    """``id -> file`` for every motion file of a directory (one-line error if none or clashes)."""
    directory = Path(directory)
    if not directory.is_dir():
        raise PipelineError(f"{directory}: no such directory")
    files: dict[str, Path] = {}
    for path in sorted(p for p in directory.iterdir() if p.suffix in SUFFIXES and p.is_file()):
        key = motion_id(path)
        if key in files:
            raise PipelineError(f"{directory}: {files[key].name} and {path.name} have the same "
                                f"id {key!r}")
        files[key] = path
    if not files:
        raise PipelineError(f"{directory}: no .txt or .npy motion files")
    return files


def matched_files(original_dir, predicted_dir) -> list[tuple[str, Path, Path]]:
    """``(id, original, predicted)`` for every id, which both directories must hold."""
    original, predicted = motion_files(original_dir), motion_files(predicted_dir)
    missing, extra = sorted(set(original) - set(predicted)), sorted(set(predicted) - set(original))
    if missing or extra:
        problems = []
        if missing:
            problems.append(f"no prediction for id(s) {', '.join(missing)}")
        if extra:
            problems.append(f"no ground truth for id(s) {', '.join(extra)}")
        raise PipelineError(f"{predicted_dir}: {'; '.join(problems)} (ground truth in "
                            f"{original_dir})")
    return [(key, original[key], predicted[key]) for key in sorted(original)]


def load_positions(path, width: int | None = None) -> np.ndarray:
    """Positions ``(T, J, 3)`` of a file; ``pos_vel`` rows of width ``2 * width`` are stripped."""
    array = load_array(path, ndim=2)
    if width is not None and array.shape[1] == 2 * width:
        array = strip_velocity(array)
    if array.shape[1] % 3 or (width is not None and array.shape[1] != width):
        expected = f"{width} columns" if width else "a multiple of 3 columns"
        raise PipelineError(f"{path}: expected joint positions with {expected}, found "
                            f"{array.shape[1]} columns")
    return array.reshape(len(array), -1, 3)


def matched_positions(original_dir, predicted_dir):
    """``(id, original (T, J, 3), predicted (T', J, 3))`` per id (see :func:`matched_files`)."""
    for key, original_path, predicted_path in matched_files(original_dir, predicted_dir):
        original = load_positions(original_path)
        yield key, original, load_positions(predicted_path, original.shape[1] * 3)


def joint_names(n_joints: int, skeleton_path=None) -> list[str]:
    """Joint names from a ``skeleton.json`` (checked against ``n_joints``), else ``joint<k>``."""
    if skeleton_path is None:
        return [f"joint{k}" for k in range(n_joints)]
    names = Skeleton.load(skeleton_path).names
    if len(names) != n_joints:
        raise PipelineError(f"{skeleton_path}: {len(names)} joints, the motion has {n_joints}")
    return list(names)


def write_table(path, header: Sequence[str], rows: Sequence[Sequence], comment: str) -> Path:
    """Write a CSV table atomically, with a first ``# comment`` line stating its units."""
    buffer = io.StringIO()
    buffer.write(f"# {comment}\n")
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    writer.writerows([row[0], *(f"{v:.6g}" if isinstance(v, float) else v for v in row[1:])]
                     for row in rows)
    path = Path(path)
    with atomic_path(path) as tmp:
        tmp.write_text(buffer.getvalue())
    return path


def read_table(path):
    """Read a table written by :func:`write_table` (pandas DataFrame, first column as index)."""
    import pandas as pd

    path = Path(path)
    if not path.is_file():
        raise PipelineError(f"{path}: no such file")
    return pd.read_csv(path, comment="#", index_col=0)


def add_directory_args(parser, *, gesture: bool = True) -> None:
    """The original's ``--original``, ``--predicted``, ``--gesture``, ``--out`` arguments."""
    parser.add_argument("--original", "-o", default="data/original",
                        help="ground-truth positions directory (default data/original)")
    parser.add_argument("--predicted", "-p", default="data/predicted",
                        help="directory holding one sub-directory per model (default "
                             "data/predicted)")
    if gesture:
        parser.add_argument("--gesture", "-g", required=True, nargs="+",
                            help="sub-directory (or several) of --predicted to evaluate: the "
                                 "model's name")
    parser.add_argument("--out", default="result",
                        help="results go to OUT/<gesture>/ and OUT/original/ (default result)")
    parser.add_argument("--skeleton", default=None,
                        help="skeleton.json of the dataset, for joint names in the tables")
    parser.add_argument("--units", default="cm", help="unit of the positions (default cm)")
