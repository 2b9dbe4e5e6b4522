"""The shared command line of the original IVA'19 evaluation scripts (``calc_*.py``).

Each step compares ``PREDICTED/<name>/<id>.txt`` (or ``.npy``) with ``ORIGINAL/<id>.txt``:
joint positions ``(T, 3 J)``, read by :func:`data_processing.motion.load_motion` and matched
by id (:func:`data_processing.motion.match_ids`; a missing or extra id is an error). A
prediction of twice the ground truth's width is taken as ``pos_vel`` vectors and its
velocities are stripped, as the original ``calc_errors.py`` did.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np

from data_processing.bvh import Skeleton
from data_processing.files import PipelineError
from data_processing.motion import load_motion, match_ids, motion_files
from data_processing.representations import strip_velocity

SUFFIXES = (".txt", ".npy")
FRAME_FPS = 1.0  # the IVA'19 steps count in frames unless given --fps


def _positions(path: Path, width: int | None = None) -> np.ndarray:
    """Positions ``(T, J, 3)`` of a file; ``pos_vel`` rows of width ``2 * width`` are stripped."""
    flat = load_motion(path, fps=FRAME_FPS, kind="positions").positions
    flat = flat.reshape(len(flat), -1)
    if width is not None and flat.shape[1] == 2 * width:
        flat = strip_velocity(flat)
    if width is not None and flat.shape[1] != width:
        raise PipelineError(f"{path}: expected joint positions with {width} columns, found "
                            f"{flat.shape[1]} columns")
    return flat.reshape(len(flat), -1, 3)


def matched_positions(original_dir, predicted_dir) -> Iterator[tuple[str, np.ndarray,
                                                                     np.ndarray]]:
    """``(id, original (T, J, 3), predicted (T', J, 3))`` per id, in id order."""
    originals = motion_files(original_dir, SUFFIXES)
    ids = sorted(originals)
    predicted = match_ids(ids, motion_files(predicted_dir, SUFFIXES),
                          f"{predicted_dir} (ground truth in {original_dir})")
    for key, path in zip(ids, predicted):
        original = _positions(originals[key])
        yield key, original, _positions(path, original.shape[1] * 3)


def joint_names(n_joints: int, skeleton_path=None) -> list[str]:
    """Joint names from a ``skeleton.json`` (checked against ``n_joints``), else ``joint<k>``."""
    if skeleton_path is None:
        return [f"joint{k}" for k in range(n_joints)]
    names = Skeleton.load(skeleton_path).names
    if len(names) != n_joints:
        raise PipelineError(f"{skeleton_path}: {len(names)} joints, the motion has {n_joints}")
    return list(names)


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
