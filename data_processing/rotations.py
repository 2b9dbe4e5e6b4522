"""Rotation conversions, vectorised over any leading batch dimensions (numpy).

Glossary (the conventions of the whole project):

============  ==============  =====================================================================
name          shape           meaning
============  ==============  =====================================================================
``euler``     ``(..., 3)``    angles in the axis order of a string such as ``"ZXY"``; upper case
                              means *intrinsic* rotations, the BVH convention: channels listed
                              ``Zrotation Xrotation Yrotation`` give ``R = Rz @ Rx @ Ry``.
                              Degrees unless ``degrees=False``.
``matrix``    ``(..., 3, 3)`` rotation matrix acting on column vectors: ``v_parent = R @ v_local``.
``rot6d``     ``(..., 6)``    Zhou et al. (CVPR'19): the first two *columns* of the matrix,
                              ``[R[:, 0], R[:, 1]]`` concatenated; back by Gram-Schmidt.
``quat``      ``(..., 4)``    unit quaternion, scalar last ``(x, y, z, w)`` as in scipy.
``axis_angle`` ``(..., 3)``   rotation vector: unit axis times angle in radians.
============  ==============  =====================================================================

Conversions from matrices go through :class:`scipy.spatial.transform.Rotation`; Euler angles and
quaternions to matrices are element-wise closed forms (the hot path of BVH reading). All
functions accept any leading batch dimensions. TensorFlow twins of the 6D conversion
live in :mod:`data_processing.tf_geometry`.
"""

from __future__ import annotations

import warnings

import numpy as np
from scipy.spatial.transform import Rotation

__all__ = [
    "axis_angle_to_matrix",
    "euler_to_matrix",
    "euler_to_quat",
    "matrix_to_axis_angle",
    "matrix_to_euler",
    "matrix_to_quat",
    "matrix_to_rot6d",
    "quat_slerp",
    "quat_to_matrix",
    "rot6d_to_matrix",
]


def _flat(x: np.ndarray, tail: int) -> tuple[np.ndarray, tuple[int, ...]]:
    x = np.asarray(x, dtype=np.float64)
    lead = x.shape[: x.ndim - tail]
    return x.reshape((-1,) + x.shape[x.ndim - tail :]), lead


def euler_to_quat(euler: np.ndarray, order: str, *, degrees: bool = True) -> np.ndarray:
    """Intrinsic Euler angles ``(..., len(order))`` to unit quaternions ``(..., 4)``.

    Composes the per-axis half-angle quaternions element-wise (``q = q1 * q2 * q3`` for the
    axes in ``order``), which is several times faster than a generic conversion and is the hot
    path of reading BVH motion.
    """
    half = np.asarray(euler, dtype=np.float64) * (np.pi / 360.0 if degrees else 0.5)
    cos, sin = np.cos(half), np.sin(half)
    w = np.ones(half.shape[:-1])
    x, y, z = np.zeros_like(w), np.zeros_like(w), np.zeros_like(w)
    for k, axis in enumerate(order):
        c, s = cos[..., k], sin[..., k]
        if axis in "Xx":
            w, x, y, z = w * c - x * s, x * c + w * s, y * c + z * s, z * c - y * s
        elif axis in "Yy":
            w, x, y, z = w * c - y * s, x * c - z * s, y * c + w * s, z * c + x * s
        elif axis in "Zz":
            w, x, y, z = w * c - z * s, x * c + y * s, y * c - x * s, z * c + w * s
        else:
            raise ValueError(f"Expected Euler axes X, Y or Z. Received: order={order!r}")
    return np.stack([x, y, z, w], axis=-1)


def quat_to_matrix(quat: np.ndarray) -> np.ndarray:
    """Quaternions ``(..., 4)`` (x, y, z, w; normalised here) to matrices ``(..., 3, 3)``."""
    quat = np.asarray(quat, dtype=np.float64)
    x, y, z, w = np.moveaxis(quat / np.linalg.norm(quat, axis=-1, keepdims=True), -1, 0)
    return np.stack(
        [
            np.stack([1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)], -1),
            np.stack([2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)], -1),
            np.stack([2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)], -1),
        ],
        axis=-2,
    )


def euler_to_matrix(euler: np.ndarray, order: str, *, degrees: bool = True) -> np.ndarray:
    """Intrinsic Euler angles ``(..., len(order))`` to matrices ``(..., 3, 3)``."""
    return quat_to_matrix(euler_to_quat(euler, order, degrees=degrees))


def matrix_to_euler(matrix: np.ndarray, order: str, *, degrees: bool = True) -> np.ndarray:
    """Matrices ``(..., 3, 3)`` to intrinsic Euler angles ``(..., 3)`` in ``order``."""
    flat, lead = _flat(matrix, 2)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Gimbal lock detected")
        angles = Rotation.from_matrix(flat).as_euler(order, degrees=degrees)
    return angles.reshape(lead + (3,))


def matrix_to_quat(matrix: np.ndarray) -> np.ndarray:
    """Matrices ``(..., 3, 3)`` to unit quaternions ``(..., 4)`` (x, y, z, w)."""
    flat, lead = _flat(matrix, 2)
    return Rotation.from_matrix(flat).as_quat().reshape(lead + (4,))


def matrix_to_axis_angle(matrix: np.ndarray) -> np.ndarray:
    """Matrices ``(..., 3, 3)`` to rotation vectors ``(..., 3)`` (radians)."""
    flat, lead = _flat(matrix, 2)
    return Rotation.from_matrix(flat).as_rotvec().reshape(lead + (3,))


def axis_angle_to_matrix(axis_angle: np.ndarray) -> np.ndarray:
    """Rotation vectors ``(..., 3)`` (radians) to matrices ``(..., 3, 3)``."""
    flat, lead = _flat(axis_angle, 1)
    return Rotation.from_rotvec(flat).as_matrix().reshape(lead + (3, 3))


def matrix_to_rot6d(matrix: np.ndarray) -> np.ndarray:
    """Matrices ``(..., 3, 3)`` to the 6D representation ``(..., 6)``: the first two columns."""
    matrix = np.asarray(matrix)
    return np.concatenate([matrix[..., :, 0], matrix[..., :, 1]], axis=-1)


def rot6d_to_matrix(rot6d: np.ndarray) -> np.ndarray:
    """6D representation ``(..., 6)`` to matrices ``(..., 3, 3)`` by Gram-Schmidt.

    Any 6-vector whose two halves are not parallel maps to a proper rotation, so network
    outputs can be decoded without constraints.
    """
    rot6d = np.asarray(rot6d, dtype=np.float64)
    a1, a2 = rot6d[..., :3], rot6d[..., 3:]
    b1 = a1 / np.linalg.norm(a1, axis=-1, keepdims=True)
    a2 = a2 - np.sum(b1 * a2, axis=-1, keepdims=True) * b1
    b2 = a2 / np.linalg.norm(a2, axis=-1, keepdims=True)
    b3 = np.cross(b1, b2)
    return np.stack([b1, b2, b3], axis=-1)


def quat_slerp(q0: np.ndarray, q1: np.ndarray, t: np.ndarray) -> np.ndarray:
    """Spherical linear interpolation between unit quaternions, element-wise.

    Parameters
    ----------
    q0, q1 : np.ndarray [shape=(..., 4)]
        Start and end quaternions (x, y, z, w).
    t : np.ndarray [shape=(...)]
        Interpolation weights in [0, 1], broadcast against the leading dimensions.

    Returns
    -------
    np.ndarray [shape=(..., 4)]
        Unit quaternions on the shorter arc from ``q0`` to ``q1``.
    """
    t = np.asarray(t, dtype=np.float64)[..., None]
    dot = np.sum(q0 * q1, axis=-1, keepdims=True)
    q1 = np.where(dot < 0.0, -q1, q1)  # the shorter of the two arcs
    dot = np.clip(np.abs(dot), 0.0, 1.0)
    theta = np.arccos(dot)
    sin_theta = np.sin(theta)
    near = sin_theta < 1e-6  # nearly equal: linear interpolation is exact enough and stable
    safe = np.where(near, 1.0, sin_theta)
    w0 = np.where(near, 1.0 - t, np.sin((1.0 - t) * theta) / safe)
    w1 = np.where(near, t, np.sin(t * theta) / safe)
    out = w0 * q0 + w1 * q1
    return out / np.linalg.norm(out, axis=-1, keepdims=True)
