"""Motion vectors: the per-frame layouts that models learn, and the way back to positions.

``pos_vel`` (IVA'19)
    Per joint (End Sites included) ``[px, py, pz, vx, vy, vz]``: root-pinned global positions
    and their frame difference (velocity, 0 on the first frame). ``D = 6 J``.
``rot6d`` (Audio2Gestures)
    The 6D rotation of every rotating joint (End Sites have none), then the root translation:
    ``[r6d_0 ... r6d_{R-1}, tx, ty, tz]``. ``D = 6 R + 3``.

Positions everywhere are ``(T, J, 3)`` arrays in the BVH's units, joints in skeleton order.
"""

from __future__ import annotations

import numpy as np

from data_processing import rotations
from data_processing.bvh import BVHMotion, Skeleton
from data_processing.kinematics import forward_kinematics

REPRESENTATIONS = ("pos_vel", "rot6d")


def pos_vel(positions: np.ndarray) -> np.ndarray:
    """Positions ``(T, J, 3)`` to the IVA'19 vector ``(T, 6 J)``."""
    velocity = np.diff(positions, axis=0, prepend=positions[:1])
    return np.concatenate([positions, velocity], axis=-1).reshape(len(positions), -1)


def strip_velocity(vectors: np.ndarray) -> np.ndarray:
    """IVA'19 ``(T, 6 J)`` vectors to positions ``(T, 3 J)``: the columns ``[6k, 6k + 3)``."""
    vectors = np.asarray(vectors)
    if vectors.shape[-1] % 6:
        raise ValueError(
            f"Expected a pos_vel vector with a multiple of 6 columns. Received: {vectors.shape}"
        )
    return vectors.reshape(*vectors.shape[:-1], -1, 6)[..., :3].reshape(*vectors.shape[:-1], -1)


def rot6d_vector(motion: BVHMotion) -> np.ndarray:
    """A motion's ``rot6d`` vector ``(T, 6 R + 3)``."""
    skel = motion.skeleton
    rot6d = rotations.matrix_to_rot6d(motion.local_rotations()[:, skel.rotating])
    return np.concatenate([rot6d.reshape(motion.n_frames, -1), motion.root_translation()], axis=1)


def rot6d_size(skeleton: Skeleton) -> int:
    """Width of the ``rot6d`` vector of a skeleton."""
    return 6 * len(skeleton.rotating) + 3


def vector_size(skeleton: Skeleton, representation: str) -> int:
    """Width of a motion vector of the given representation."""
    if representation == "pos_vel":
        return 6 * skeleton.n_joints
    if representation == "rot6d":
        return rot6d_size(skeleton)
    raise ValueError(
        f"Expected a representation in {REPRESENTATIONS}. Received: {representation!r}"
    )


def rot6d_to_rotations(vectors: np.ndarray, skeleton: Skeleton) -> tuple[np.ndarray, np.ndarray]:
    """``rot6d`` vectors ``(T, 6 R + 3)`` to local rotations ``(T, J, 3, 3)`` and root ``(T, 3)``.

    Joints without rotation channels get the identity.
    """
    vectors = np.asarray(vectors, dtype=np.float64)
    n_rot = len(skeleton.rotating)
    local = np.broadcast_to(np.eye(3), (len(vectors), skeleton.n_joints, 3, 3)).copy()
    local[:, skeleton.rotating] = rotations.rot6d_to_matrix(
        vectors[:, : 6 * n_rot].reshape(len(vectors), n_rot, 6)
    )
    return local, vectors[:, 6 * n_rot : 6 * n_rot + 3]


def rot6d_to_motion(vectors: np.ndarray, skeleton: Skeleton, fps: float) -> BVHMotion:
    """``rot6d`` vectors to a :class:`BVHMotion` on ``skeleton``."""
    local, root = rot6d_to_rotations(vectors, skeleton)
    return BVHMotion.from_rotations(skeleton, local, root, 1.0 / fps)


def to_positions(vectors: np.ndarray, skeleton: Skeleton, representation: str) -> np.ndarray:
    """Motion vectors of either representation to positions ``(T, J, 3)``.

    ``pos_vel`` gives the root-pinned positions it stores; ``rot6d`` goes through FK with
    the root translation; ``(T, 3 J)`` arrays are taken as positions already.
    """
    vectors = np.asarray(vectors)
    expected = vector_size(skeleton, representation)
    if vectors.ndim == 2 and vectors.shape[1] == expected:
        if representation == "pos_vel":
            return strip_velocity(vectors).reshape(len(vectors), -1, 3)
        local, root = rot6d_to_rotations(vectors, skeleton)
        shape = (len(vectors), skeleton.n_joints, 3)
        translations = np.broadcast_to(skeleton.offsets, shape).copy()
        translations[:, skeleton.root] = root
        return forward_kinematics(skeleton.parents, local, translations, levels=skeleton.levels)
    if vectors.ndim == 2 and vectors.shape[1] == 3 * skeleton.n_joints:
        return vectors.reshape(len(vectors), -1, 3)  # positions already (velocities stripped)
    raise ValueError(
        f"Expected {representation} vectors of width {expected} (or positions of width "
        f"{3 * skeleton.n_joints}). Received: shape {vectors.shape}"
    )
