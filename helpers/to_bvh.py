"""Export a motion output as BVH on the dataset's skeleton (Blender, MotionBuilder).

Usage::

    python helpers/to_bvh.py INPUT OUT.bvh --data DATA_DIR [--representation auto]
        [--fps FPS] [--translating JOINT ...]

``INPUT`` is a ``.npy`` or ``.txt`` array, one row per frame, at the dataset's frame rate:

* ``rot6d`` vectors ``(T, 6 R + 3)`` (Audio2Gestures, ``rot6d`` datasets): the rotations are
  written as they are (:func:`data_processing.representations.rot6d_to_motion`);
* ``pos_vel`` vectors ``(T, 6 J)`` or positions ``(T, 3 J)`` / ``(T, J, 3)`` (IVA'19): joint
  rotations are fitted to the bone directions
  (:func:`data_processing.kinematics.positions_to_rotations`, twist from the rest pose) and
  the mean position error of the fit is printed. A root pinned at the origin (IVA'19) is
  placed at its rest offset, so the figure stands on its hips' height
  (:func:`stand_pinned_root`).

Euler angles are unwrapped over time (no 360-degree jumps between frames).

The width of a row tells the representation; ``--representation`` settles widths that fit
two (the dataset's own representation wins otherwise). A row of any other width is an error
naming the file, what was expected and what was found; nothing is written then.
"""

from __future__ import annotations

import argparse
from typing import NamedTuple

import numpy as np

from data_processing.bvh import BVHMotion, Skeleton, write_bvh
from data_processing.dataset import DatasetMeta
from data_processing.files import PipelineError, run_cli
from data_processing.kinematics import IKResult, positions_to_rotations
from data_processing.representations import (
    ARRAY_KINDS,
    array_kind,
    load_vectors,
    rot6d_to_motion,
    to_positions,
)

PINNED_TOLERANCE = 0.02  # of the root's offset length: how far a predicted pinned root wobbles


def default_translating(skeleton: Skeleton) -> list[int]:
    """Non-root joints that carry their own translation, by the layout of the skeleton.

    A root at zero offset (GENEA's ``body_world``) is a world node: its children with position
    channels (GENEA's ``b_root``, the hips) translate. Every other joint keeps its offset.
    """
    out = []
    for root in np.flatnonzero(skeleton.parents < 0):
        if np.linalg.norm(skeleton.offsets[root]) > 0.0:
            continue
        for child in skeleton.children(int(root)):
            if any(c.endswith("position") for c in skeleton.channels[child]):
                out.append(int(child))
    return out


def stand_pinned_root(positions: np.ndarray, skeleton: Skeleton,
                      tolerance: float = PINNED_TOLERANCE) -> np.ndarray:
    """Move a motion whose root is pinned at the origin so that the root is at its rest offset.

    IVA'19 positions are root-pinned (the hips at the origin), which in an animation tool puts
    the hips on the floor. A root that stays within ``tolerance`` times its offset length of
    the origin in every frame counts as pinned (a model's prediction of a pinned root wobbles a
    little); the whole motion is then shifted by the root's rest offset. Other motions, and
    roots with a zero offset (GENEA's world node), are returned unchanged.
    """
    offset = skeleton.offsets[skeleton.root]
    length = float(np.linalg.norm(offset))
    root = positions[:, skeleton.root]
    if length == 0.0 or np.linalg.norm(root, axis=-1).max() > tolerance * length:
        return positions
    return positions + offset


def joint_indices(skeleton: Skeleton, names) -> list[int]:
    """Indices of named joints, with a one-line error for an unknown name."""
    index = {name: i for i, name in enumerate(skeleton.names)}
    missing = [n for n in names if n not in index]
    if missing:
        raise PipelineError(f"no joint named {missing[0]!r} in the skeleton "
                            f"({', '.join(skeleton.names[:6])}, ...)")
    return [index[n] for n in names]


def unwrap_euler(motion: BVHMotion) -> BVHMotion:
    """Make every rotation channel continuous over time (add multiples of 360 degrees).

    Conversion from matrices gives angles in (-180, 180] frame by frame, so a joint turning
    past 180 degrees jumps by 360; the rotations are the same, but animation tools would
    interpolate the long way round between the two keys.
    """
    skel = motion.skeleton
    columns = [int(skel.channel_start[j]) + k for j in range(skel.n_joints)
               for k, c in enumerate(skel.channels[j]) if c.endswith("rotation")]
    frames = motion.frames.copy()
    frames[:, columns] = np.unwrap(frames[:, columns], period=360.0, axis=0)
    return BVHMotion(skel, frames, motion.frame_time)


class BVHExport(NamedTuple):
    """What :func:`motion_to_bvh` made.

    Attributes
    ----------
    motion : BVHMotion
        The motion on the dataset's skeleton.
    kind : str
        The input's kind (:data:`ARRAY_KINDS`).
    fit : IKResult or None
        The inverse-kinematics fit (positions inputs); ``fit.error`` is the mean position
        error in the skeleton's units.
    """

    motion: BVHMotion
    kind: str
    fit: IKResult | None


def motion_to_bvh(vectors: np.ndarray, dataset: DatasetMeta | Skeleton, *,
                  fps: float | None = None, representation: str = "auto",
                  translating=None, source: str = "motion") -> BVHExport:
    """A motion array as a :class:`BVHMotion` on the dataset's skeleton.

    Parameters
    ----------
    vectors : np.ndarray [shape=(T, D)] or [shape=(T, J, 3)]
        ``rot6d``, ``pos_vel`` or positions, one row per frame.
    dataset : DatasetMeta or Skeleton
        The dataset (its skeleton, frame rate and representation) or just a skeleton.
    fps : float, optional
        Frame rate of the rows; default the dataset's (required with a bare skeleton).
    representation : {"auto", "positions", "pos_vel", "rot6d"}
        Kind of the rows; ``auto`` tells it from the width.
    translating : sequence of int, optional
        Non-root joints whose translation is fitted (positions inputs); default
        :func:`default_translating`.
    source : str
        Named in error messages.
    """
    if isinstance(dataset, DatasetMeta):
        skeleton, preferred = dataset.skeleton, dataset.motion
        fps = dataset.fps if fps is None else fps
    else:
        skeleton, preferred = dataset, None
    if fps is None or not fps > 0:
        raise PipelineError(f"{source}: expected a frame rate > 0, found {fps}")
    vectors = np.asarray(vectors, dtype=np.float64)
    if vectors.ndim == 3 and vectors.shape[-1] == 3:
        vectors = vectors.reshape(len(vectors), -1)
    if vectors.ndim != 2 or len(vectors) < 1:
        raise PipelineError(f"{source}: expected a (frames, values) array, found shape "
                            f"{vectors.shape}")
    kind = array_kind(vectors.shape[1], skeleton, source=source, representation=representation,
                      preferred=preferred)
    if kind == "rot6d":
        return BVHExport(unwrap_euler(rot6d_to_motion(vectors, skeleton, fps)), kind, None)
    positions = stand_pinned_root(to_positions(vectors, skeleton, kind), skeleton)
    if translating is None:
        translating = default_translating(skeleton)
    fit = positions_to_rotations(skeleton.parents, skeleton.offsets, positions,
                                 translating=translating, levels=skeleton.levels)
    motion = BVHMotion.from_rotations(skeleton, fit.local_rotations, None, 1.0 / fps,
                                      translations=fit.translations)
    return BVHExport(unwrap_euler(motion), kind, fit)


def export_bvh(input_path, out_path, data_dir, *, representation: str = "auto",
               fps: float | None = None, translating_names=None) -> BVHExport:
    """Read an array file, convert it (:func:`motion_to_bvh`) and write ``out_path``."""
    meta = DatasetMeta.load(data_dir)
    skeleton = meta.skeleton
    vectors, kind = load_vectors(input_path, skeleton, representation=representation,
                                 preferred=meta.motion)
    translating = None
    if translating_names is not None:
        translating = joint_indices(skeleton, translating_names)
        still = [skeleton.names[j] for j in translating
                 if not any(c.endswith("position") for c in skeleton.channels[j])]
        if still:
            raise PipelineError(f"joint {still[0]!r} has no position channels to translate")
    export = motion_to_bvh(vectors, meta, fps=fps, representation=kind, translating=translating,
                           source=str(input_path))
    write_bvh(out_path, export.motion)
    return export


def parse_args(argv=None) -> argparse.Namespace:
    """Command-line arguments."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("input", help="motion array .npy/.txt: rot6d, pos_vel or positions")
    parser.add_argument("output", help="the BVH file to write")
    parser.add_argument("--data", required=True, metavar="DATA_DIR",
                        help="prepared dataset (meta.json, skeleton.json) the motion is on")
    parser.add_argument("--representation", default="auto", choices=("auto", *ARRAY_KINDS),
                        help="kind of the rows (default: told by the width)")
    parser.add_argument("--fps", type=float, default=None,
                        help="frame rate of the rows (default: the dataset's)")
    parser.add_argument("--translating", nargs="*", default=None, metavar="JOINT",
                        help="non-root joints whose translation is fitted from positions "
                             "(default: the hips below a zero-offset world root, as in GENEA; "
                             "give none for roots only)")
    return parser.parse_args(argv)


def main(argv=None) -> int:
    """Run the step."""
    args = parse_args(argv)
    export = export_bvh(args.input, args.output, args.data, representation=args.representation,
                        fps=args.fps, translating_names=args.translating)
    motion = export.motion
    print(f"wrote {args.output}: {motion.n_frames} frames at {motion.fps:g} fps, "
          f"{motion.skeleton.n_joints} joints, from {export.kind}")
    if export.fit is not None:
        print(f"IK fit: mean position error {export.fit.error:.4g}, max "
              f"{export.fit.max_error:.4g} (skeleton units)")
    return 0


if __name__ == "__main__":
    run_cli(main)
