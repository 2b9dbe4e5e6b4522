"""SMPL-X motion (BEAT2 and AMASS-style ``.npz``): the 55-joint tree, rest offsets, rotations.

An SMPL-X motion file holds, per frame, the axis-angle rotation of each of the 55 joints
(``poses``, ``(T, 165)``: global orient, 21 body joints, jaw, two eyes, 15 joints per hand, in
the order of :data:`JOINT_NAMES`), the global translation ``trans`` ``(T, 3)`` in metres,
the body shape ``betas`` and the frame rate ``mocap_frame_rate`` (AMASS: ``mocap_framerate``).
BEAT2 adds ``expressions`` (face), which joint positions do not use here.

As a motion of this project (:func:`local_motion`): local rotations are exactly those of
``poses``; the pelvis translates by ``trans`` from its rest position; every other joint keeps
its rest offset from its parent. Positions are in centimetres (metres x 100), like the demo
speaker and GENEA, Y up, the body facing +Z.

Rest offsets come from the shape of the speaker:

* with the user's own SMPL-X model file (``SMPLX_NEUTRAL_2020.npz``; the model is licensed and
  never shipped): joints ``J = J_regressor (v_template + shapedirs[:, :, :S] betas[:S])``
  (:class:`SMPLXModel`), ``S`` shape components as the ``smplx`` package uses them (300 for
  a model with 300 shape and 100 expression components, else 10);
* otherwise the approximate template :data:`TEMPLATE_OFFSETS`: offsets of an adult of about
  1.7 m in the SMPL-X rest pose (T-pose, arms along X), set by hand from typical body
  proportions, within a few centimetres of a real fit. Rotations stay exact, but positions,
  and every metric of positions, are approximate (:data:`TEMPLATE_WARNING`).

Joint sets (:data:`JOINT_SETS`): ``all`` 55 joints, or ``body`` the first 22 (pelvis to the
wrists; fingers, jaw and eyes dropped). Names and parents are those of the public SMPL-X
kinematic tree (Pavlakos et al., CVPR'19; the ``smplx`` package's joint names); a skeleton
lists them depth-first, as its BVH file does (:func:`depth_first`).
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import NamedTuple

import numpy as np

from data_processing import rotations
from data_processing.bvh import Skeleton
from data_processing.files import PipelineError

_HAND = ("index", "middle", "pinky", "ring", "thumb")
JOINT_NAMES: tuple[str, ...] = (
    "pelvis", "left_hip", "right_hip", "spine1", "left_knee", "right_knee", "spine2",
    "left_ankle", "right_ankle", "spine3", "left_foot", "right_foot", "neck", "left_collar",
    "right_collar", "head", "left_shoulder", "right_shoulder", "left_elbow", "right_elbow",
    "left_wrist", "right_wrist", "jaw", "left_eye_smplhf", "right_eye_smplhf",
    *(f"{side}_{finger}{k}" for side in ("left", "right") for finger in _HAND for k in (1, 2, 3)),
)
"""The 55 SMPL-X joints in the order of ``poses``."""
PARENTS = np.array(
    [-1, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 9, 9, 12, 13, 14, 16, 17, 18, 19, 15, 15, 15,
     *(p for wrist in (20, 21) for f in range(5)
       for p in (wrist, 25 + 15 * (wrist - 20) + 3 * f, 26 + 15 * (wrist - 20) + 3 * f))],
    dtype=np.int64)
"""Parent of each joint (``-1`` for the pelvis); each finger is a chain of three."""
JOINT_SETS = {"all": 55, "body": 22}
"""Joints kept: the first ``n`` of :data:`JOINT_NAMES` (the body ends at the wrists)."""
UNITS_PER_METRE = 100.0
"""Positions and offsets are written in centimetres."""
FRAME_RATE_KEYS = ("mocap_frame_rate", "mocap_framerate")
SHAPE_SPACE = 300
"""Shape components of an SMPL-X model with 300 shape and 100 expression components."""
ROOT_CHANNELS = ("Xposition", "Yposition", "Zposition", "Zrotation", "Xrotation", "Yrotation")
JOINT_CHANNELS = ("Zrotation", "Xrotation", "Yrotation")

_LEFT_OFFSETS = {  # metres from the parent; right side by mirroring x
    "hip": (0.059, -0.087, -0.016), "knee": (0.043, -0.384, 0.002),
    "ankle": (-0.017, -0.425, -0.036), "foot": (0.038, -0.061, 0.126),
    "collar": (0.077, 0.113, -0.021), "shoulder": (0.118, 0.046, -0.014),
    "elbow": (0.257, -0.015, -0.026), "wrist": (0.267, 0.008, -0.004),
    "eye_smplhf": (0.031, 0.066, 0.076),
    "index1": (0.088, -0.006, 0.026), "index2": (0.032, 0.0, 0.002),
    "index3": (0.022, -0.002, 0.0), "middle1": (0.095, -0.004, 0.004),
    "middle2": (0.035, 0.0, -0.002), "middle3": (0.024, -0.002, -0.002),
    "pinky1": (0.077, -0.012, -0.038), "pinky2": (0.022, -0.002, -0.006),
    "pinky3": (0.018, -0.002, -0.004), "ring1": (0.088, -0.007, -0.018),
    "ring2": (0.030, -0.002, -0.005), "ring3": (0.022, -0.002, -0.003),
    "thumb1": (0.024, -0.016, 0.028), "thumb2": (0.028, -0.008, 0.022),
    "thumb3": (0.025, -0.004, 0.018),
}
_CENTRE_OFFSETS = {
    "pelvis": (0.0, -0.35, 0.01), "spine1": (0.0, 0.124, -0.038), "spine2": (0.0, 0.138, 0.027),
    "spine3": (0.0, 0.056, 0.003), "neck": (0.0, 0.212, -0.033), "head": (0.0, 0.089, 0.05),
    "jaw": (0.0, -0.015, 0.035),
}


def _template_offsets() -> np.ndarray:
    out = []
    for name in JOINT_NAMES:
        side, _, part = name.partition("_")
        if name in _CENTRE_OFFSETS:
            out.append(_CENTRE_OFFSETS[name])
        else:
            x, y, z = _LEFT_OFFSETS[part]
            out.append((x if side == "left" else -x, y, z))
    return np.array(out)


TEMPLATE_OFFSETS = _template_offsets()
"""Approximate rest offsets ``(55, 3)`` in metres (the pelvis': its rest position)."""
TEMPLATE_WARNING = ("no SMPL-X model given (--smplx-model): rest offsets come from an "
                    "approximate template, so positions and position metrics are approximate "
                    "(rotations are exact)")


class SMPLXMotion(NamedTuple):
    """The arrays of an SMPL-X motion file.

    Attributes
    ----------
    poses : np.ndarray [shape=(T, 55, 3)]
        Axis-angle rotation of every joint (radians), in :data:`JOINT_NAMES` order.
    trans : np.ndarray [shape=(T, 3)]
        Global translation in metres.
    betas : np.ndarray [shape=(B,)]
        Shape coefficients (zeros when the file has none).
    fps : float
        Frame rate.
    """

    poses: np.ndarray
    trans: np.ndarray
    betas: np.ndarray
    fps: float


class SMPLXModel(NamedTuple):
    """What an SMPL-X model file says about the joints: ``J(betas) = template + dirs betas``.

    Attributes
    ----------
    template : np.ndarray [shape=(55, 3)]
        ``J_regressor v_template`` (metres).
    directions : np.ndarray [shape=(55, 3, S)]
        ``J_regressor shapedirs[:, :, :S]``: joint motion per shape coefficient.
    """

    template: np.ndarray
    directions: np.ndarray

    def joints(self, betas: np.ndarray) -> np.ndarray:
        """Rest joint positions ``(55, 3)`` in metres for shape ``betas`` (extra ones unused)."""
        n = min(len(betas), self.directions.shape[-1])
        return self.template + self.directions[..., :n] @ np.asarray(betas[:n], dtype=np.float64)


def is_smplx(keys) -> bool:
    """Whether the arrays of an ``.npz`` (their names) are an SMPL-X motion."""
    return {"poses", "trans"} <= set(keys)


def read_smplx(path) -> SMPLXMotion:
    """Read an SMPL-X motion ``.npz`` (BEAT2's ``smplxflame_30/*.npz``).

    Raises
    ------
    PipelineError
        Missing arrays, wrong shapes, values that are not finite, no frame rate.
    """
    path = Path(path)
    arrays = _load_npz(path, "an SMPL-X motion", ("poses", "trans", "betas", *FRAME_RATE_KEYS))
    if not is_smplx(arrays):
        raise PipelineError(f"{path}: not an SMPL-X motion (needs the arrays 'poses' and "
                            "'trans')")
    poses = np.asarray(arrays["poses"], dtype=np.float64)
    n = len(poses)
    if poses.ndim == 2 and poses.shape[1] == 3 * len(JOINT_NAMES):
        poses = poses.reshape(n, len(JOINT_NAMES), 3)
    if poses.shape[1:] != (len(JOINT_NAMES), 3) or n < 1:
        raise PipelineError(f"{path}: 'poses' has shape {arrays['poses'].shape}, expected "
                            f"(frames, {3 * len(JOINT_NAMES)}) SMPL-X axis-angle rotations")
    trans = np.asarray(arrays["trans"], dtype=np.float64)
    if trans.shape != (n, 3):
        raise PipelineError(f"{path}: 'trans' has shape {trans.shape}, expected ({n}, 3)")
    betas = np.asarray(arrays.get("betas", np.zeros(0)), dtype=np.float64).reshape(-1)
    for name, values in (("poses", poses), ("trans", trans), ("betas", betas)):
        if not np.isfinite(values).all():
            raise PipelineError(f"{path}: '{name}' holds values that are not finite")
    return SMPLXMotion(poses, trans, betas, _frame_rate(path, arrays))


def _frame_rate(path: Path, arrays: dict) -> float:
    key = next((k for k in FRAME_RATE_KEYS if k in arrays), None)
    if key is None:
        raise PipelineError(f"{path}: no frame rate ('{FRAME_RATE_KEYS[0]}')")
    value = np.asarray(arrays[key]).reshape(-1)
    if value.size != 1 or value.dtype.kind not in "iuf":
        raise PipelineError(f"{path}: '{key}' must be one number, found {value[:3]!r}")
    fps = float(value[0])
    if not 1.0 <= fps <= 1000.0:
        raise PipelineError(f"{path}: frame rate {fps:g} is outside 1 to 1000 frames per second")
    return fps


def _load_npz(path: Path, what: str, keys) -> dict:
    """The arrays named ``keys`` that an ``.npz`` has (nothing else is read)."""
    if not path.is_file():
        raise PipelineError(f"{path}: no such file")
    try:
        with np.load(path, allow_pickle=False) as data:
            return {key: data[key] for key in keys if key in data.files}
    except (OSError, ValueError, EOFError) as error:
        raise PipelineError(f"{path}: not a readable .npz of {what} ({error})") from None


@lru_cache(maxsize=4)
def load_model(path) -> SMPLXModel:
    """The joint regression of an SMPL-X model ``.npz`` (read once per process).

    Raises
    ------
    PipelineError
        Not an SMPL-X model: missing ``v_template``, ``shapedirs`` or ``J_regressor``, shapes
        that disagree, or a ``kintree_table`` that is not the SMPL-X tree.
    """
    path = Path(path)
    arrays = _load_npz(path, "an SMPL-X model",
                       ("v_template", "shapedirs", "J_regressor", "kintree_table"))
    missing = [k for k in ("v_template", "shapedirs", "J_regressor") if k not in arrays]
    if missing:
        raise PipelineError(f"{path}: not an SMPL-X model (no {', '.join(missing)}; a .pkl "
                            "model must be converted to .npz with dense arrays)")
    v_template = np.asarray(arrays["v_template"], dtype=np.float64)
    shapedirs = np.asarray(arrays["shapedirs"], dtype=np.float64)
    regressor = np.asarray(arrays["J_regressor"], dtype=np.float64)
    n_vertices = len(v_template)
    if (v_template.shape != (n_vertices, 3) or shapedirs.ndim != 3
            or shapedirs.shape[:2] != (n_vertices, 3)
            or regressor.shape[1:] != (n_vertices,) or len(regressor) < len(JOINT_NAMES)):
        raise PipelineError(f"{path}: SMPL-X model arrays disagree (v_template "
                            f"{v_template.shape}, shapedirs {shapedirs.shape}, J_regressor "
                            f"{regressor.shape})")
    _check_tree(path, arrays.get("kintree_table"))
    n_shape = shapedirs.shape[-1]
    n_shape = SHAPE_SPACE if n_shape >= SHAPE_SPACE else min(n_shape, 10)
    regressor = regressor[: len(JOINT_NAMES)]
    return SMPLXModel(regressor @ v_template,
                      np.einsum("jv,vcs->jcs", regressor, shapedirs[..., :n_shape]))


def _check_tree(path: Path, kintree) -> None:
    if kintree is None:
        return
    parents = np.asarray(kintree)[0, 1 : len(JOINT_NAMES)].astype(np.int64)
    if not np.array_equal(parents, PARENTS[1:]):
        raise PipelineError(f"{path}: the model's kintree_table is not the SMPL-X joint tree")


def skeleton(rest: np.ndarray, joints: str = "all") -> Skeleton:
    """The SMPL-X skeleton of rest joint positions ``(55, 3)`` in metres (offsets in cm).

    Parameters
    ----------
    rest : np.ndarray [shape=(55, 3)]
        Rest positions of the joints (:meth:`SMPLXModel.joints`).
    joints : {"all", "body"}
        The joint set (:data:`JOINT_SETS`), in depth-first order (:func:`depth_first`).
    """
    parents = PARENTS[: len(rest)]
    offsets = rest - np.where(parents[:, None] >= 0, rest[np.maximum(parents, 0)], 0.0)
    return _skeleton(offsets, joints)


def template_skeleton(joints: str = "all") -> Skeleton:
    """The skeleton of the approximate template (:data:`TEMPLATE_OFFSETS`; see the warning)."""
    return _skeleton(TEMPLATE_OFFSETS, joints)


def depth_first(joints: str = "all") -> np.ndarray:
    """Indices into :data:`JOINT_NAMES` of a joint set in depth-first order.

    The order of a BVH file's hierarchy, so that a motion read from ``.npz`` and its BVH
    export list the joints alike (the left leg, the right leg, then the spine, head and arms).
    """
    n = _joint_count(joints)
    order, stack = [], [0]
    while stack:
        joint = stack.pop()
        order.append(joint)
        stack.extend(reversed(np.flatnonzero(PARENTS[:n] == joint).tolist()))
    return np.array(order)


def _skeleton(offsets: np.ndarray, joints: str) -> Skeleton:
    """The skeleton of a joint set from offsets ``(55, 3)`` in metres, depth-first."""
    order = depth_first(joints)
    position = np.empty(len(JOINT_NAMES), dtype=np.int64)
    position[order] = np.arange(len(order))
    parents = np.where(PARENTS[order] >= 0, position[np.maximum(PARENTS[order], 0)], -1)
    return Skeleton(tuple(JOINT_NAMES[j] for j in order), parents,
                    offsets[order] * UNITS_PER_METRE,
                    (ROOT_CHANNELS,) + (JOINT_CHANNELS,) * (len(order) - 1))


def _joint_count(joints: str) -> int:
    if joints not in JOINT_SETS:
        raise PipelineError(f"unknown SMPL-X joint set {joints!r} (use "
                            f"{' or '.join(JOINT_SETS)})")
    return JOINT_SETS[joints]


def local_motion(motion: SMPLXMotion, skel: Skeleton, *,
                 source: str = "motion") -> tuple[np.ndarray, np.ndarray]:
    """Local rotations ``(T, J, 3, 3)`` and translations ``(T, J, 3)`` on an SMPL-X skeleton.

    Parameters
    ----------
    motion : SMPLXMotion
    skel : Skeleton
        An SMPL-X skeleton (:func:`skeleton`), all 55 joints or a subset closed under parents
        (e.g. a dataset's ``body`` skeleton).
    source : str
        Named in error messages.
    """
    index = _joint_index(skel, source)
    local = rotations.axis_angle_to_matrix(motion.poses[:, index])
    root = motion.trans * UNITS_PER_METRE + skel.offsets[skel.root]
    return local, skel.translations(root)


def _joint_index(skel: Skeleton, source: str) -> np.ndarray:
    """Position of each of the skeleton's joints in :data:`JOINT_NAMES`."""
    unknown = [n for n in skel.names if n not in JOINT_NAMES]
    if unknown:
        raise PipelineError(f"{source}: the skeleton is not an SMPL-X skeleton (no SMPL-X "
                            f"joint {unknown[0]!r})")
    index = np.array([JOINT_NAMES.index(n) for n in skel.names])
    parents = np.where(skel.parents >= 0, index[np.maximum(skel.parents, 0)], -1)
    if not np.array_equal(parents, PARENTS[index]):
        raise PipelineError(f"{source}: the skeleton's joint tree is not the SMPL-X tree")
    return index
