"""Motion vectors: the per-frame layouts that models learn, and the way back to positions.

``pos_vel`` (IVA'19)
    Per joint (End Sites included) ``[px, py, pz, vx, vy, vz]``: root-pinned global positions
    and their frame difference (velocity, 0 on the first frame). ``D = 6 J``.
``rot6d`` (Audio2Gestures)
    The 6D rotation of every rotating joint (End Sites have none), then the local translation
    of every translating joint (:attr:`~data_processing.bvh.Skeleton.translating`: the root,
    and any other joint with position channels, such as GENEA's ``b_root``):
    ``[r6d_0 ... r6d_{R-1}, t_0 ... t_{P-1}]``. ``D = 6 R + 3 P``; ``P = 1`` when only the
    root translates (the demo speaker: ``[..., tx, ty, tz]``). Forward kinematics of these
    vectors reproduces the BVH's own, every animated channel included.

Positions everywhere are ``(T, J, 3)`` arrays in the BVH's units, joints in skeleton order.
Motion *files* (predictions, exports) hold one of :data:`ARRAY_KINDS`, positions ``(T, 3 J)``
included; the width of a row tells which (:func:`array_kind`). They are read and written by
:mod:`data_processing.motion`.
"""

from __future__ import annotations

import numpy as np

from data_processing import rotations
from data_processing.bvh import BVHMotion, Skeleton
from data_processing.files import PipelineError
from data_processing.kinematics import forward_kinematics

REPRESENTATIONS = ("pos_vel", "rot6d")  # what datasets store
ARRAY_KINDS = ("positions", *REPRESENTATIONS)  # what motion files hold


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
    """A motion's ``rot6d`` vector ``(T, 6 R + 3 P)``."""
    return rot6d_from_rotations(motion.local_rotations(), motion.local_translations(),
                                motion.skeleton)


def rot6d_from_rotations(local: np.ndarray, translations: np.ndarray,
                         skeleton: Skeleton) -> np.ndarray:
    """Local rotations ``(T, J, 3, 3)`` and translations ``(T, J, 3)`` to ``(T, 6 R + 3 P)``."""
    rot6d = rotations.matrix_to_rot6d(local[:, skeleton.rotating])
    moving = translations[:, skeleton.translating]
    return np.concatenate([rot6d.reshape(len(local), -1), moving.reshape(len(local), -1)],
                          axis=1)


def rot6d_size(skeleton: Skeleton) -> int:
    """Width of the ``rot6d`` vector of a skeleton, ``6 R + 3 P``."""
    return 6 * len(skeleton.rotating) + 3 * len(skeleton.translating)


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
    """``rot6d`` vectors ``(T, 6 R + 3 P)`` to local rotations and translations.

    Returns
    -------
    local : np.ndarray [shape=(T, J, 3, 3)]
        Local rotations; joints without rotation channels get the identity.
    translations : np.ndarray [shape=(T, J, 3)]
        Local translations: the offsets, those of the translating joints from the vectors.
    """
    vectors = np.asarray(vectors, dtype=np.float64)
    n_rot = len(skeleton.rotating)
    local = np.broadcast_to(np.eye(3), (len(vectors), skeleton.n_joints, 3, 3)).copy()
    local[:, skeleton.rotating] = rotations.rot6d_to_matrix(
        vectors[:, : 6 * n_rot].reshape(len(vectors), n_rot, 6)
    )
    moving = vectors[:, 6 * n_rot :].reshape(len(vectors), len(skeleton.translating), 3)
    return local, skeleton.translations(moving)


def array_widths(skeleton: Skeleton) -> dict[str, int]:
    """Row width of each of :data:`ARRAY_KINDS` on ``skeleton``."""
    j = skeleton.n_joints
    return {"positions": 3 * j, "pos_vel": 6 * j, "rot6d": rot6d_size(skeleton)}


def array_kind(width: int, skeleton: Skeleton | None, *, source: str = "motion",
               representation: str = "auto", preferred: str | None = None) -> str:
    """Which of :data:`ARRAY_KINDS` a motion array with rows of ``width`` values is.

    Parameters
    ----------
    width : int
        Values per frame.
    skeleton : Skeleton or None
        The skeleton the array is on; without one only positions (a multiple of 3) are known.
    source : str
        Named in error messages (usually the file).
    representation : {"auto", "positions", "pos_vel", "rot6d"}
        Force a kind (the width must still fit it).
    preferred : str, optional
        The kind chosen when a width fits two (usually the dataset's representation).

    Raises
    ------
    PipelineError
        The width fits no kind (or not the forced one), or fits two and nothing chooses.
    """
    if representation != "auto" and representation not in ARRAY_KINDS:
        raise PipelineError(
            f"unknown representation {representation!r} (use auto, {', '.join(ARRAY_KINDS)})"
        )
    if skeleton is None:
        if width % 3 or representation not in ("auto", "positions"):
            raise PipelineError(f"{source}: {width} values per frame; without the dataset's "
                                "skeleton only positions (a multiple of 3) can be read")
        return "positions"
    widths = array_widths(skeleton)
    kinds = [kind for kind, size in widths.items() if size == width]
    if representation != "auto":
        if representation not in kinds:
            raise PipelineError(f"{source}: {width} values per frame, expected "
                                f"{widths[representation]} for {representation} on the "
                                f"skeleton of {skeleton.n_joints} joints")
        return representation
    if not kinds:
        raise PipelineError(
            f"{source}: {width} values per frame, expected {widths['positions']} (positions), "
            f"{widths['pos_vel']} (pos_vel) or {widths['rot6d']} (rot6d) for the skeleton of "
            f"{skeleton.n_joints} joints"
        )
    if len(kinds) > 1:
        if preferred in kinds:
            return preferred
        raise PipelineError(f"{source}: {width} values per frame fit {' and '.join(kinds)} "
                            "(give --representation)")
    return kinds[0]


def to_positions(vectors: np.ndarray, skeleton: Skeleton, kind: str) -> np.ndarray:
    """Motion arrays ``(T, D)`` to positions ``(T, J, 3)``.

    The width tells the kind (:func:`array_kind`); ``kind`` settles widths that fit two.
    ``pos_vel`` gives the root-pinned positions it stores, ``rot6d`` goes through FK with its
    translations, positions ``(T, 3 J)`` (velocities stripped) are reshaped.
    """
    vectors = np.asarray(vectors)
    if vectors.ndim != 2:
        raise PipelineError(f"expected motion vectors (frames, values), found {vectors.shape}")
    kind = array_kind(vectors.shape[1], skeleton, preferred=kind)
    if kind == "rot6d":
        local, translations = rot6d_to_rotations(vectors, skeleton)
        return forward_kinematics(skeleton.parents, local, translations, levels=skeleton.levels)
    flat = strip_velocity(vectors) if kind == "pos_vel" else vectors
    return flat.reshape(len(flat), -1, 3)


# --------------------------------------------------------------------------------------------
# Bone directions (the FGD feature; TED Gesture's and HA2G's direction vectors)

MIN_BONE_LENGTH = 1e-6  # rest length (file units) below which a bone has no direction


def skeleton_bones(skeleton: Skeleton, joints=None) -> tuple[list[str], list[list[str]]]:
    """Joints and bones of the bone-direction feature (:func:`bone_directions`) on a skeleton.

    Parameters
    ----------
    skeleton : Skeleton
    joints : list of str, optional
        Joints to use (default: all). Each joint is joined to its nearest used ancestor;
        bones whose rest length is below :data:`MIN_BONE_LENGTH` are left out.

    Returns
    -------
    joints : list of str
        The joints, in skeleton order.
    bones : list of [str, str]
        ``[parent, child]`` names.
    """
    names = list(skeleton.names)
    wanted = names if joints is None else list(joints)
    unknown = [j for j in wanted if j not in names]
    if unknown:
        raise PipelineError(f"no joint(s) {', '.join(unknown)} in the skeleton "
                            f"(it has {', '.join(names)})")
    used = [n for n in names if n in set(wanted)]
    rest = skeleton.rest_positions()
    bones = []
    for child in used:
        parent = skeleton.parents[names.index(child)]
        while parent >= 0 and names[parent] not in used:
            parent = skeleton.parents[parent]
        c = names.index(child)
        if parent >= 0 and np.linalg.norm(rest[c] - rest[parent]) > MIN_BONE_LENGTH:
            bones.append([names[parent], child])
    if not bones:
        raise PipelineError(f"no bones between the joints {', '.join(used)}")
    return used, bones


def bone_directions(positions: np.ndarray, parents: np.ndarray, children: np.ndarray,
                    eps: float = 1e-8) -> np.ndarray:
    """Unit direction of every bone ``(..., B, 3)`` from positions ``(..., J, 3)``.

    ``parents`` and ``children`` index the joints of each bone; a bone of zero length in a
    frame gets the zero vector.
    """
    vectors = positions[..., children, :] - positions[..., parents, :]
    norms = np.linalg.norm(vectors, axis=-1, keepdims=True)
    return vectors / np.maximum(norms, eps)
