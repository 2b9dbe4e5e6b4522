"""Inverse kinematics: local joint rotations whose forward kinematics reproduce joint positions.

:func:`positions_to_rotations` walks the tree one depth level at a time, like
:func:`data_processing.kinematics.forward_kinematics`: each joint's rotation is fitted to the
directions of its bones, the smallest rotation from the rest pose for one bone (so the twist
about it is the rest pose's) and the least-squares rotation of all bones (Wahba's problem, by
SVD) for several that are not collinear.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from data_processing import rotations
from data_processing.kinematics import depth_levels


class IKResult(NamedTuple):
    """Rotations fitted to joint positions by :func:`positions_to_rotations`.

    Attributes
    ----------
    local_rotations : np.ndarray [shape=(..., J, 3, 3)]
        Rotation of each joint relative to its parent.
    translations : np.ndarray [shape=(..., J, 3)]
        Local translations for FK: the offsets; roots and translating joints: fitted to the
        targets.
    positions : np.ndarray [shape=(..., J, 3)]
        FK of the fitted rotations (what a BVH written from them shows).
    error : float
        Mean Euclidean distance between ``positions`` and the target positions, over all
        frames and joints (in the positions' units).
    max_error : float
        The largest such distance.
    """

    local_rotations: np.ndarray
    translations: np.ndarray
    positions: np.ndarray
    error: float
    max_error: float


class Bone(NamedTuple):
    """A bone that determines a joint's rotation (see :func:`bone_targets`).

    Attributes
    ----------
    target : int
        The joint at the far end.
    through : tuple of int
        Zero-length joints looked through on the way, nearest first (usually none).
    """

    target: int
    through: tuple[int, ...] = ()


def bone_targets(parents: np.ndarray, offsets: np.ndarray, *,
                 min_bone_length: float | None = None, translating=()) -> list[list[Bone]]:
    """The bones that determine each joint's rotation.

    A joint's bones go to its children. A child at (nearly) zero offset -- a twist joint, or
    an End Site on top of its parent -- says nothing about the rotation, so it is looked
    through: its own children become targets too (the zero-length joint then adds no rotation
    of its own where its parent's fit is exact). A translating child (its own position
    channels move it) says nothing either and is left out.

    Parameters
    ----------
    parents : np.ndarray [shape=(J,), dtype=int]
        Parent of each joint, ``-1`` for roots; parents before children.
    offsets : np.ndarray [shape=(J, 3)]
        Rest offset of each joint in its parent's frame.
    min_bone_length : float, optional
        Offsets shorter than this count as zero; default ``1e-6`` times the longest offset.
    translating : sequence of int
        Joints whose translation is free (not bones of their parent).

    Returns
    -------
    list of list of Bone
        The bones of every joint, in joint order.
    """
    parents = np.asarray(parents)
    lengths = np.linalg.norm(np.asarray(offsets, dtype=np.float64), axis=-1)
    if min_bone_length is None:
        min_bone_length = 1e-6 * max(float(lengths.max(initial=0.0)), 1e-12)
    free = {int(j) for j in translating}
    children: list[list[int]] = [[] for _ in parents]
    for j, p in enumerate(parents):
        if p >= 0:
            children[p].append(j)
    out = []
    for j in range(len(parents)):
        bones = []
        stack = [(c, ()) for c in reversed(children[j])]
        while stack:
            c, through = stack.pop()
            if c in free:
                continue
            if lengths[c] > min_bone_length:
                bones.append(Bone(c, through))
            else:  # zero-length bone: look through it
                stack.extend((g, (*through, c)) for g in reversed(children[c]))
        out.append(bones)
    return out


class _Group(NamedTuple):
    """Joints of one level fitted the same way; per joint ``M`` bone slots (padded)."""

    index: np.ndarray    # (G,) positions within the level
    targets: np.ndarray  # (G, M) far joint of each bone (0 in padding)
    weights: np.ndarray  # (G, M) weight (sign for swing groups) of each bone, 0 in padding
    through: np.ndarray  # (G, M, D) looked-through joints, nearest first, -1 in padding


def _group(rows: list[tuple[int, list[Bone], np.ndarray]]) -> _Group:
    width = max((len(bones) for _, bones, _ in rows), default=0)
    depth = max((len(b.through) for _, bones, _ in rows for b in bones), default=0)
    targets = np.zeros((len(rows), width), dtype=np.int64)
    weights = np.zeros((len(rows), width))
    through = np.full((len(rows), width, depth), -1, dtype=np.int64)
    for i, (_, bones, signs) in enumerate(rows):
        weights[i, : len(bones)] = signs
        for m, bone in enumerate(bones):
            targets[i, m] = bone.target
            through[i, m, : len(bone.through)] = bone.through
    return _Group(np.array([k for k, _, _ in rows], dtype=np.int64), targets, weights, through)


def _plan(parents, offsets, levels, min_bone_length, collinear_tolerance, translating):
    """Per level: the single-direction and the best-fit groups (a loop over joints, not frames).

    Bone directions at rest are taken through looked-through joints with identity rotation;
    that is only to classify joints as collinear or not.
    """
    bones = bone_targets(parents, offsets, min_bone_length=min_bone_length,
                         translating=translating)
    plans = []
    for level in levels:
        swing, best = [], []
        for k, j in enumerate(level):
            if not bones[j]:
                continue  # leaf, End Site or only zero-length bones: keeps its rest rotation
            vectors = np.array([offsets[[*b.through, b.target]].sum(0) for b in bones[j]])
            lengths = np.linalg.norm(vectors, axis=-1)
            singular = np.linalg.svd(vectors / lengths[:, None], compute_uv=False)
            if len(vectors) == 1 or singular[1] < collinear_tolerance * singular[0]:
                # one direction: add the bones up, those pointing backwards negated
                signs = np.where(vectors @ vectors[np.argmax(lengths)] >= 0.0, 1.0, -1.0)
                swing.append((k, bones[j], signs))
            else:
                best.append((k, bones[j], np.ones(len(vectors))))
        plans.append((level, _group(swing), _group(best)))
    return plans


def _rest_vectors(group: _Group, offsets: np.ndarray, rest: np.ndarray) -> np.ndarray:
    """Rest bone vectors ``(n, G, M, 3)`` in each joint's frame, through zero-length joints."""
    vectors = np.broadcast_to(offsets[group.targets], (len(rest), *group.targets.shape, 3))
    for d in reversed(range(group.through.shape[-1])):
        joint = group.through[..., d]
        inner = offsets[joint] + np.einsum("ngmab,ngmb->ngma", rest[:, joint], vectors)
        vectors = np.where((joint >= 0)[None, ..., None], inner, vectors)
    return vectors


def swing_rotation(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The smallest rotation taking direction ``a`` to direction ``b`` (no twist about them).

    Parameters
    ----------
    a, b : np.ndarray [shape=(..., 3)]
        Directions (any non-zero length). Where either is zero the identity is returned;
        opposite directions give a half turn about an axis perpendicular to ``a``.

    Returns
    -------
    np.ndarray [shape=(..., 3, 3)]
        Matrices ``R`` with ``R @ a / |a| = b / |b|``.
    """
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    a, b = np.broadcast_arrays(a, b)
    norm_a = np.linalg.norm(a, axis=-1, keepdims=True)
    norm_b = np.linalg.norm(b, axis=-1, keepdims=True)
    degenerate = (norm_a[..., 0] < 1e-12) | (norm_b[..., 0] < 1e-12)
    a = a / np.where(norm_a < 1e-12, 1.0, norm_a)
    b = b / np.where(norm_b < 1e-12, 1.0, norm_b)
    # Half-way quaternion: (a x b, 1 + a.b), normalised, rotates a onto b by the shortest arc.
    w = 1.0 + np.sum(a * b, axis=-1, keepdims=True)
    xyz = np.cross(a, b)
    opposite = w[..., 0] < 1e-10
    helper = np.eye(3)[np.argmin(np.abs(a), axis=-1)]  # the axis least aligned with a
    perpendicular = np.cross(a, helper)
    xyz = np.where(opposite[..., None], perpendicular, xyz)
    w = np.where(opposite[..., None], 0.0, w)
    quat = np.concatenate([xyz, w], axis=-1)
    quat = np.where(degenerate[..., None], [0.0, 0.0, 0.0, 1.0], quat)
    return rotations.quat_to_matrix(quat)


def best_fit_rotation(rest: np.ndarray, target: np.ndarray,
                      weights: np.ndarray | None = None) -> np.ndarray:
    """The rotation that best maps rest vectors onto target vectors (Wahba's problem, by SVD).

    Minimises ``sum_i w_i |R @ rest_i - target_i|^2`` over proper rotations (Kabsch without
    centring: the vectors are bones from a common joint).

    Parameters
    ----------
    rest : np.ndarray [shape=(..., N, 3)]
        Vectors before the rotation.
    target : np.ndarray [shape=(..., N, 3)]
        Vectors after it.
    weights : np.ndarray [shape=(..., N)], optional
        Non-negative weight of each pair (0 ignores it); default 1.

    Returns
    -------
    np.ndarray [shape=(..., 3, 3)]
        Proper rotations (determinant +1); the identity where all targets vanish.
    """
    rest = np.asarray(rest, dtype=np.float64)
    target = np.asarray(target, dtype=np.float64)
    if weights is not None:
        target = target * np.asarray(weights, dtype=np.float64)[..., None]
    cross = np.einsum("...ni,...nj->...ij", target, rest)  # sum_i target_i rest_i^T
    u, _, vt = np.linalg.svd(cross)
    sign = np.sign(np.linalg.det(u @ vt))
    sign = np.where(sign == 0.0, 1.0, sign)
    u[..., :, 2] *= sign[..., None]  # reflections become the nearest rotation
    rotation = u @ vt
    empty = np.abs(cross).max(axis=(-2, -1)) < 1e-12
    return np.where(empty[..., None, None], np.eye(3), rotation)


def positions_to_rotations(
    parents: np.ndarray,
    offsets: np.ndarray,
    positions: np.ndarray,
    *,
    rest_rotations: np.ndarray | None = None,
    translating=(),
    levels: list[np.ndarray] | None = None,
    min_bone_length: float | None = None,
    collinear_tolerance: float = 0.05,
) -> IKResult:
    """Inverse kinematics: local joint rotations whose FK reproduces given joint positions.

    The tree is walked one depth level at a time, like :func:`forward_kinematics`, every
    level in a few batched numpy calls over all frames. Each joint is rotated to point its
    bones (from where FK has put the joint so far to the *target* positions of its children,
    so errors do not accumulate down the chain):

    * one bone, or several collinear ones: the smallest rotation (:func:`swing_rotation`)
      from the rest direction to the target, taken in the parent's frame, so the twist about
      the bone is the rest pose's (``rest_rotations``, identity by default: the skeleton's
      offsets);
    * several non-collinear bones (chest, hips, wrist, head): the least-squares rotation of
      all of them (:func:`best_fit_rotation`), which fixes the twist too;
    * no bone (End Sites, leaves, joints whose bones all have zero length): the rest rotation.

    Bones of zero length are looked through (:func:`bone_targets`). Roots, and the joints
    listed in ``translating``, take the target positions as translation (expressed in the
    parent's frame). Bone lengths are the skeleton's: positions whose bone lengths
    differ (predictions) are fitted in direction, and :attr:`IKResult.error` says how far
    the result is from them.

    Parameters
    ----------
    parents : np.ndarray [shape=(J,), dtype=int]
        Parent of each joint, ``-1`` for roots; parents before children.
    offsets : np.ndarray [shape=(J, 3)]
        Rest offset of each joint from its parent.
    positions : np.ndarray [shape=(..., J, 3)]
        Target global positions (any leading dimensions, usually frames).
    rest_rotations : np.ndarray [shape=(J, 3, 3)] or [shape=(..., J, 3, 3)], optional
        Local rotations that define the rest twist (e.g. a reference motion); identity by
        default. Single-bone joints rotate minimally away from them.
    translating : sequence of int
        Non-root joints whose local translation is free, fitted to the target like a root's
        (e.g. GENEA's ``b_root`` below the ``body_world`` node); every other joint keeps its
        offset.
    levels : list of np.ndarray, optional
        Precomputed :func:`depth_levels` of ``parents``.
    min_bone_length : float, optional
        Shorter offsets count as zero (see :func:`bone_targets`).
    collinear_tolerance : float in (0, 1)
        Bones of a joint whose rest directions span less than this (ratio of the second to
        the first singular value of the unit directions, about ``tan(angle / 2)``) are
        treated as one direction.

    Returns
    -------
    IKResult
        Local rotations, translations, fitted positions and the mean position error.
    """
    parents = np.asarray(parents)
    offsets = np.asarray(offsets, dtype=np.float64)
    positions = np.asarray(positions, dtype=np.float64)
    n_joints = len(parents)
    if positions.shape[-2:] != (n_joints, 3):
        raise ValueError(
            f"Expected positions of shape (..., {n_joints}, 3). Received: {positions.shape}"
        )
    if not 0.0 < collinear_tolerance < 1.0:
        raise ValueError(
            f"Expected 0 < collinear_tolerance < 1. Received: {collinear_tolerance=}"
        )
    lead = positions.shape[:-2]
    target = positions.reshape(-1, n_joints, 3)
    n = len(target)
    if rest_rotations is None:
        rest = np.broadcast_to(np.eye(3), (n, n_joints, 3, 3))
    else:
        rest = np.broadcast_to(rest_rotations, lead + (n_joints, 3, 3)).reshape(n, n_joints, 3, 3)
    levels = depth_levels(parents) if levels is None else levels
    translating = np.unique(np.asarray(translating, dtype=np.int64))
    if np.any((translating < 0) | (translating >= n_joints)):
        raise ValueError(
            f"Expected translating joints in [0, {n_joints}). Received: {translating.tolist()}"
        )
    free = np.zeros(n_joints, dtype=bool)
    free[translating] = True
    free[parents < 0] = True
    plans = _plan(parents, offsets, levels, min_bone_length, collinear_tolerance, translating)
    translations = np.broadcast_to(offsets, (n, n_joints, 3)).copy()

    local = np.array(rest, dtype=np.float64)
    global_rot = np.empty((n, n_joints, 3, 3))
    fitted = np.empty((n, n_joints, 3))
    for level, swing, best in plans:
        p = parents[level]
        if p[0] < 0:  # a level is either all roots or all children
            parent_rot = np.broadcast_to(np.eye(3), (n, len(level), 3, 3))
            fitted[:, level] = target[:, level]
        else:
            parent_rot = global_rot[:, p]
            fitted[:, level] = fitted[:, p] + np.einsum("...ab,...b->...a", parent_rot,
                                                        offsets[level])
            moving = free[level]
            if moving.any():  # free translation: the target, in the parent's frame
                joints = level[moving]
                fitted[:, joints] = target[:, joints]
                translations[:, joints] = np.einsum(
                    "...ba,...b->...a", parent_rot[:, moving],
                    target[:, joints] - fitted[:, parents[joints]])
        if len(swing.index):
            joints = level[swing.index]
            bones = target[:, swing.targets] - fitted[:, joints, None]  # (n, S, M, 3)
            direction = np.einsum("sm,nsmi->nsi", swing.weights, bones)
            in_parent = np.einsum("nsba,nsb->nsa", parent_rot[:, swing.index], direction)
            reference = rest[:, joints]
            rest_dir = np.einsum("sm,nsmi->nsi", swing.weights,
                                 _rest_vectors(swing, offsets, rest))
            rest_dir = np.einsum("nsab,nsb->nsa", reference, rest_dir)
            local[:, joints] = swing_rotation(rest_dir, in_parent) @ reference
        if len(best.index):
            joints = level[best.index]
            bones = target[:, best.targets] - fitted[:, joints, None]  # (n, K, M, 3)
            world = best_fit_rotation(_rest_vectors(best, offsets, rest), bones, best.weights)
            local[:, joints] = np.swapaxes(parent_rot[:, best.index], -1, -2) @ world
        global_rot[:, level] = parent_rot @ local[:, level]

    roots = np.flatnonzero(parents < 0)
    translations[:, roots] = target[:, roots]
    distance = np.linalg.norm(fitted - target, axis=-1)
    return IKResult(
        local_rotations=local.reshape(lead + (n_joints, 3, 3)),
        translations=translations.reshape(lead + (n_joints, 3)),
        positions=fitted.reshape(lead + (n_joints, 3)),
        error=float(distance.mean()) if distance.size else 0.0,
        max_error=float(distance.max()) if distance.size else 0.0,
    )
