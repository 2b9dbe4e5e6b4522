"""Forward kinematics and frame-rate conversion (numpy, all frames at once).

FK walks the tree one *depth level* at a time: every joint of a level is computed from its
(already computed) parent in one batched matrix product, so the work is a handful of numpy
calls per level, whatever the number of frames. The TensorFlow twin used in losses is
:func:`data_processing.tf_geometry.forward_kinematics`, tested to agree with this one.

Inverse kinematics (positions to rotations) is :mod:`data_processing.ik`.

Frames are samples at ``t = i / fps``; a clip of duration ``d`` seconds has
``round(d * fps)`` frames at ``fps`` (:func:`frame_count`), for motion and audio alike.
"""

from __future__ import annotations

import numpy as np

from data_processing import rotations


def frame_count(duration: float, fps: float) -> int:
    """Number of frames at ``fps`` covering ``duration`` seconds (the project-wide rule)."""
    return int(np.round(duration * fps + 1e-9))


def depth_levels(parents: np.ndarray) -> list[np.ndarray]:
    """Group joint indices by their depth in the tree (roots at depth 0).

    Parameters
    ----------
    parents : np.ndarray [shape=(J,), dtype=int]
        Parent of each joint, ``-1`` for roots; parents come before children.
    """
    parents = np.asarray(parents)
    depth = np.zeros(len(parents), dtype=np.int64)
    for j, p in enumerate(parents):  # J joints, not frames: the tree is tiny
        depth[j] = 0 if p < 0 else depth[p] + 1
    return [np.flatnonzero(depth == d) for d in range(depth.max() + 1)] if len(depth) else []


def forward_kinematics(
    parents: np.ndarray,
    local_rotations: np.ndarray,
    local_translations: np.ndarray,
    *,
    levels: list[np.ndarray] | None = None,
    return_rotations: bool = False,
):
    """Global joint positions from local rotations and translations.

    Parameters
    ----------
    parents : np.ndarray [shape=(J,), dtype=int]
        Parent of each joint, ``-1`` for roots.
    local_rotations : np.ndarray [shape=(..., J, 3, 3)]
        Rotation of each joint relative to its parent.
    local_translations : np.ndarray [shape=(..., J, 3)] or [shape=(J, 3)]
        Translation of each joint in its parent's frame (offsets, or position channels).
        For roots it is the global position.
    levels : list of np.ndarray, optional
        Precomputed :func:`depth_levels` of ``parents``.
    return_rotations : bool
        Also return the global rotations ``(..., J, 3, 3)``.

    Returns
    -------
    np.ndarray [shape=(..., J, 3)]
        Global positions (and global rotations when asked).
    """
    parents = np.asarray(parents)
    levels = depth_levels(parents) if levels is None else levels
    local_rotations = np.asarray(local_rotations, dtype=np.float64)
    translations = np.broadcast_to(local_translations, local_rotations.shape[:-1])
    global_rot = np.empty_like(local_rotations)
    global_pos = np.empty(local_rotations.shape[:-1])
    for level in levels:
        p = parents[level]
        if p[0] < 0:  # a level is either all roots (depth 0) or all children
            global_rot[..., level, :, :] = local_rotations[..., level, :, :]
            global_pos[..., level, :] = translations[..., level, :]
            continue
        parent_rot = global_rot[..., p, :, :]
        global_pos[..., level, :] = global_pos[..., p, :] + np.einsum(
            "...ab,...b->...a", parent_rot, translations[..., level, :]
        )
        global_rot[..., level, :, :] = parent_rot @ local_rotations[..., level, :, :]
    return (global_pos, global_rot) if return_rotations else global_pos


def _interpolation_grid(n_src: int, src_fps: float, dst_fps: float):
    """Source frames ``i0, i1`` and weight ``alpha`` of each output frame (frame rule, held end)."""
    n_dst = frame_count(n_src / src_fps, dst_fps)
    pos = np.minimum(np.arange(n_dst) * (src_fps / dst_fps), n_src - 1)
    i0 = np.floor(pos).astype(np.int64)
    return i0, np.minimum(i0 + 1, n_src - 1), pos - i0


def resample_linear(values: np.ndarray, src_fps: float, dst_fps: float) -> np.ndarray:
    """Resample frames ``(T, ...)`` (positions, translations) by linear interpolation.

    ``T' = frame_count(T / src_fps, dst_fps)``; samples past the last input frame hold it.
    """
    values = np.asarray(values, dtype=np.float64)
    if np.isclose(src_fps, dst_fps, rtol=1e-4):
        return values
    i0, i1, alpha = _interpolation_grid(len(values), src_fps, dst_fps)
    alpha = alpha.reshape(-1, *([1] * (values.ndim - 1)))
    return (1.0 - alpha) * values[i0] + alpha * values[i1]


def resample(
    local_rotations: np.ndarray,
    translations: np.ndarray,
    *,
    src_fps: float,
    dst_fps: float,
) -> tuple[np.ndarray, np.ndarray]:
    """Resample a motion to another frame rate by interpolation (never by dropping frames).

    Parameters
    ----------
    local_rotations : np.ndarray [shape=(T, J, 3, 3)]
        Rotations, interpolated by quaternion slerp.
    translations : np.ndarray [shape=(T, J, 3)]
        Translations, interpolated linearly.
    src_fps, dst_fps : float > 0
        Frame rates in and out.

    Returns
    -------
    tuple of np.ndarray
        Rotations ``(T', J, 3, 3)`` and translations ``(T', J, 3)`` with
        ``T' = frame_count(T / src_fps, dst_fps)``; samples past the last input frame hold it.
    """
    i0, i1, alpha = _interpolation_grid(len(local_rotations), src_fps, dst_fps)
    quats = rotations.matrix_to_quat(local_rotations)
    slerped = rotations.quat_slerp(quats[i0], quats[i1], alpha[:, None])
    a = alpha[:, None, None]
    lerped = (1.0 - a) * translations[i0] + a * translations[i1]
    return rotations.quat_to_matrix(slerped), lerped
