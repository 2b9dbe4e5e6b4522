"""Motions to evaluate, as joint positions: files, directories and dataset splits.

The evaluation steps (``fgd.py``, ``beat_alignment.py``) take their motions as *sources*:

* a motion file: ``.bvh`` (its own skeleton and frame rate), or an array ``.npy``/``.txt`` on
  a given skeleton and frame rate holding positions ``(T, 3 J)`` or ``(T, J, 3)``, ``pos_vel``
  vectors ``(T, 6 J)`` or ``rot6d`` vectors ``(T, 6 R + 3)`` (see
  :mod:`data_processing.representations`; the width tells which, ``representation`` settles
  the rare widths that fit two);
* a directory: every ``.bvh``, ``.npy`` and ``.txt`` file in it, sorted by name (not
  recursive);
* ``DATA_DIR:SPLIT`` (e.g. ``demo/iva19:test``): the ground truth of every sequence of a
  prepared dataset split, with its speech file.

Frame rates: a motion is brought to the frame rate the caller asks for (``target_fps``) by
interpolation, never by dropping frames: BVH files and dataset sequences by quaternion slerp
of their joint rotations (:meth:`data_processing.bvh.BVHMotion.resample`), arrays of
positions or ``pos_vel`` vectors linearly per coordinate, ``rot6d`` arrays by slerp.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from data_processing.bvh import Skeleton, read_bvh
from data_processing.dataset import SPLITS, DatasetMeta
from data_processing.files import PipelineError
from data_processing.kinematics import resample_linear
from data_processing.representations import (
    load_vectors,
    rot6d_to_motion,
    to_positions,
)

MOTION_SUFFIXES = (".bvh", ".npy", ".txt")


@dataclass
class Motion:
    """One motion to evaluate.

    Parameters
    ----------
    name : str
        Where it came from (a path, or ``DATA_DIR:SPLIT/<id>``); error messages name it.
    positions : np.ndarray [shape=(T, J, 3)]
        Global joint positions in the source's units.
    fps : float
        Frame rate of ``positions``.
    joint_names : tuple of str, optional
        Names of the ``J`` joints (``None`` for arrays read without a skeleton).
    audio : pathlib.Path, optional
        The speech that goes with the motion (known for dataset sequences).
    """

    name: str
    positions: np.ndarray
    fps: float
    joint_names: tuple[str, ...] | None = None
    audio: Path | None = None

    @property
    def stem(self) -> str:
        """The file stem (or sequence id) of :attr:`name`."""
        return Path(self.name).stem

    def select(self, names) -> np.ndarray:
        """Positions ``(T, len(names), 3)`` of the named joints, in the order given."""
        if self.joint_names is None:
            raise PipelineError(f"{self.name}: joint names unknown (give the dataset skeleton)")
        index = {n: i for i, n in enumerate(self.joint_names)}
        missing = [n for n in names if n not in index]
        if missing:
            raise PipelineError(f"{self.name}: no joint(s) {', '.join(missing[:5])} "
                                f"(it has {len(self.joint_names)} joints)")
        return self.positions[:, [index[n] for n in names]]


def load_motion(path, *, skeleton: Skeleton | None = None, fps: float | None = None,
                target_fps: float | None = None, representation: str | None = None) -> Motion:
    """Read one motion file as positions.

    Parameters
    ----------
    path : path-like
        A ``.bvh``, ``.npy`` or ``.txt`` file.
    skeleton : Skeleton, optional
        The skeleton of array files (required for ``pos_vel`` and ``rot6d``; positions read
        without one have no joint names).
    fps : float, optional
        Frame rate of array files (required for them); a BVH has its own.
    target_fps : float, optional
        Frame rate to bring the motion to (default: its own).
    representation : str, optional
        One of :data:`ARRAY_KINDS`, for array widths that fit more than one
        (:func:`data_processing.representations.array_kind`).
    """
    path = Path(path)
    if path.suffix == ".bvh":
        motion = read_bvh(path)
        if target_fps is not None:
            motion = motion.resample(target_fps)
        if motion.n_frames < 1:
            raise PipelineError(f"{path}: no frames")
        return Motion(str(path), motion.positions(), motion.fps, motion.skeleton.names)
    if path.suffix not in MOTION_SUFFIXES:
        raise PipelineError(f"{path}: not a motion file (use {', '.join(MOTION_SUFFIXES)})")
    if fps is None:
        raise PipelineError(f"{path}: the frame rate of array files is needed (give --fps)")
    array, kind = load_vectors(path, skeleton, representation=representation or "auto")
    names = skeleton.names if skeleton is not None else None
    target = fps if target_fps is None else target_fps
    if kind == "rot6d":
        positions = rot6d_to_motion(array, skeleton, fps).resample(target).positions()
    else:
        positions = resample_linear(to_positions(array, skeleton, kind), fps, target)
    return Motion(str(path), positions, float(target), names)


def parse_split_source(source: str) -> tuple[Path, str] | None:
    """``(DATA_DIR, split)`` when ``source`` reads ``DATA_DIR:SPLIT``, else ``None``."""
    head, sep, split = str(source).rpartition(":")
    if not sep or split not in SPLITS or not head:
        return None
    return Path(head), split


def _sequence_audio(meta: DatasetMeta, split: str, seq_id: str) -> Path | None:
    """The speech file of a dataset sequence: the recorded path, else the split's inputs."""
    candidates = [Path(meta.files.get(seq_id, {}).get("wav", "")),
                  meta.root / split / "inputs" / f"{seq_id}.wav"]
    return next((p for p in candidates if p.name and p.is_file()), None)


def load_split(data_dir, split: str, *, target_fps: float | None = None) -> list[Motion]:
    """The ground-truth motions of a prepared dataset split (with their speech files)."""
    meta = DatasetMeta.load(data_dir)
    if split not in meta.splits:
        raise PipelineError(f"{Path(data_dir) / 'meta.json'}: no split {split!r}")
    if not meta.splits[split]:
        raise PipelineError(f"{data_dir}:{split}: the split has no sequences")
    motions = []
    for seq_id in meta.splits[split]:
        seq = meta.sequence(split, seq_id)
        name = f"{data_dir}:{split}/{seq_id}"
        if target_fps is None or np.isclose(target_fps, meta.fps, rtol=1e-4):
            positions, fps = seq["positions"].reshape(len(seq["positions"]), -1, 3), meta.fps
        else:
            bvh = rot6d_to_motion(seq["rot6d"], meta.skeleton, meta.fps).resample(target_fps)
            positions, fps = bvh.positions(), target_fps
        motions.append(Motion(name, np.asarray(positions, dtype=np.float64), float(fps),
                              meta.skeleton.names, _sequence_audio(meta, split, seq_id)))
    return motions


def expand_sources(sources) -> list[str | Path]:
    """Sources with directories replaced by their motion files (``DATA_DIR:SPLIT`` kept)."""
    out: list[str | Path] = []
    for source in sources:
        if parse_split_source(source) is not None:
            out.append(str(source))
            continue
        path = Path(source)
        if path.is_dir():
            files = sorted(p for p in path.iterdir()
                           if p.suffix in MOTION_SUFFIXES and p.is_file())
            if not files:
                raise PipelineError(f"{path}: no motion files ({', '.join(MOTION_SUFFIXES)})")
            out.extend(files)
        elif not path.exists():
            raise PipelineError(f"{path}: no such file or directory")
        else:
            out.append(path)
    return out


def load_sources(sources, *, skeleton: Skeleton | None = None, fps: float | None = None,
                 target_fps: float | None = None,
                 representation: str | None = None) -> list[Motion]:
    """Every motion of the sources (see the module docstring), in the order given.

    Parameters are those of :func:`load_motion`; dataset splits use their own skeleton and
    frame rate.
    """
    motions = []
    for source in expand_sources(sources):
        split = parse_split_source(source) if isinstance(source, str) else None
        if split is not None:
            motions.extend(load_split(*split, target_fps=target_fps))
        else:
            motions.append(load_motion(source, skeleton=skeleton, fps=fps,
                                       target_fps=target_fps, representation=representation))
    if not motions:
        raise PipelineError("no motions given")
    return motions
