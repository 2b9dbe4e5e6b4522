"""Body layouts over a skeleton: joints, bones, pose levels along the kinematic chain, limb angles.

HA2G's pose cascade (:mod:`ha2g`) and the TED Gesture FGD protocol
(:mod:`evaluation.fgd_extractor`) share them.

A *bone* is a joint and its parent; its direction is what the model predicts (see
:mod:`data_processing.dir_vec`). Bones are named by their child joint, in skeleton order.

Two bodies (``HA2GConfig.joints``):

``all``
    The dataset's own skeleton: every joint with a parent is a bone, except bones of zero rest
    length (a twist joint on its parent) and the translation of a world node's child (GENEA's
    ``b_root``): HA2G's motion is root-relative.
``ted``
    The TED Gesture layout of the official code (Liu et al., CVPR'22; Yoon et al., 2020): 10
    joints -- spine, neck, nose, head, left shoulder, elbow, wrist, right shoulder, elbow,
    wrist -- and 9 bones ``(0, 1) (1, 2) (2, 3) (1, 4) (4, 5) (5, 6) (1, 7) (7, 8) (8, 9)``,
    found on the dataset's skeleton by a joint-name map (:data:`TED_MAPS`: the demo speaker,
    GENEA, SMPL-X) or one given in the configuration.

Pose levels (coarse to fine) are derived from the kinematic tree (:func:`derive_levels`) unless
the configuration lists them: the *core* (root to head) is level 1; a *limb* is a subtree
that leaves the core beside a mirror-image twin of about the same length (left and right arm,
leg or eye);
a limb bone's level follows where its midpoint lies along the limb's longest chain, in equal
thirds for three levels: shoulders, then elbows, then wrists and hands. On the TED layout this
gives the official levels exactly: bones {0, 1, 2, 3, 6}, then {4, 7}, then {5, 8}.

The physical prior constrains the angle between consecutive bones of a limb (:attr:`Body.pairs`);
on the TED layout these are the official four arm angles (3, 4), (4, 5), (6, 7), (7, 8).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from data_processing.bvh import Skeleton
from data_processing.files import PipelineError
from data_processing.motion import default_translating

TED_JOINTS = ("spine", "neck", "nose", "head", "left_shoulder", "left_elbow", "left_wrist",
              "right_shoulder", "right_elbow", "right_wrist")
TED_PARENTS = (-1, 0, 1, 2, 1, 4, 5, 1, 7, 8)
TED_LEVELS = (1, 1, 1, 1, 2, 3, 1, 2, 3)  # per bone: {0, 1, 2, 3, 6}, {4, 7}, {5, 8}

# Per known skeleton, the candidate names of each TED joint (the first present is used).
TED_MAPS: dict[str, tuple[tuple[str, ...], ...]] = {
    "demo": (("Chest", "Spine2", "Spine1"), ("Neck",), ("Head",),
             ("Head_End", "HeadTop_End", "HeadEnd"),
             ("LeftArm",), ("LeftForeArm",), ("LeftHand",),
             ("RightArm",), ("RightForeArm",), ("RightHand",)),
    "genea": (("b_spine2",), ("b_neck0",), ("b_head",), ("b_head_null",),
              ("b_l_arm",), ("b_l_forearm",), ("b_l_wrist",),
              ("b_r_arm",), ("b_r_forearm",), ("b_r_wrist",)),
    "smplx": (("spine3",), ("neck",), ("head",), ("head_End", "head_end", "jaw"),
              ("left_shoulder",), ("left_elbow",), ("left_wrist",),
              ("right_shoulder",), ("right_elbow",), ("right_wrist",)),
}
TWIN_TOLERANCE = 0.1  # sibling subtrees whose longest chains differ by less are a left/right pair
ROOT_CHANNELS = ("Xposition", "Yposition", "Zposition", "Zrotation", "Xrotation", "Yrotation")


@dataclass(frozen=True, eq=False)
class Body:
    """Joints, bones and pose levels of the motion HA2G generates.

    Parameters
    ----------
    skeleton : Skeleton
        The skeleton of the generated motion (the dataset's, or the 10-joint TED skeleton).
    sources : tuple of str
        For each joint of ``skeleton``, the dataset joint whose positions it takes.
    bones : np.ndarray [shape=(B,), dtype=int]
        Child joint of each bone (its parent is ``skeleton.parents[child]``), in joint order.
    levels : np.ndarray [shape=(B,), dtype=int]
        Pose level of each bone, 1 (coarsest) to :attr:`n_levels`, every level present.
    pairs : np.ndarray [shape=(P, 2), dtype=int]
        Bone indices (parent bone, child bone) of the angles the physical prior constrains.
    """

    skeleton: Skeleton
    sources: tuple[str, ...]
    bones: np.ndarray
    levels: np.ndarray
    pairs: np.ndarray

    def __post_init__(self):
        for name in ("bones", "levels"):
            object.__setattr__(self, name, np.asarray(getattr(self, name), dtype=np.int64))
        object.__setattr__(self, "pairs",
                           np.asarray(self.pairs, dtype=np.int64).reshape(-1, 2))
        present = sorted(set(self.levels.tolist()))
        if len(self.bones) == 0 or present != list(range(1, len(present) + 1)):
            raise PipelineError(f"pose levels {present} of {len(self.bones)} bones: expected "
                                "levels 1, 2, ... with at least one bone each")

    @property
    def n_bones(self) -> int:
        """Number of bones ``B``; the motion vector has ``3 B`` values per frame."""
        return len(self.bones)

    @property
    def n_levels(self) -> int:
        """Number of pose levels of the cascade."""
        return int(self.levels.max())

    @property
    def lengths(self) -> np.ndarray:
        """Rest length ``(B,)`` of each bone, in the skeleton's units."""
        return np.linalg.norm(self.skeleton.offsets[self.bones], axis=-1)

    def level_bones(self, level: int) -> np.ndarray:
        """Indices of the bones that generator ``level`` (1-based) outputs: levels ``<= level``."""
        return np.flatnonzero(self.levels <= level)

    def bone_names(self) -> list[str]:
        """Name of each bone (its child joint)."""
        return [self.skeleton.names[b] for b in self.bones]

    def to_dict(self) -> dict:
        """A JSON-ready description (the skeleton is saved on its own)."""
        return {"sources": list(self.sources), "bones": self.bone_names(),
                "levels": self.levels.tolist(), "pairs": self.pairs.tolist()}

    @classmethod
    def from_dict(cls, skeleton: Skeleton, data: dict) -> Body:
        """Inverse of :meth:`to_dict` on the saved skeleton."""
        index = {n: i for i, n in enumerate(skeleton.names)}
        return cls(skeleton, tuple(data["sources"]), [index[n] for n in data["bones"]],
                   data["levels"], data["pairs"])


# --------------------------------------------------------------------------------------------
# Bones and levels of a kinematic tree


def kept_bones(skeleton: Skeleton) -> np.ndarray:
    """Child joints of the bones with a direction: rest length > 0, not a world node's child."""
    translating = set(default_translating(skeleton))
    lengths = np.linalg.norm(skeleton.offsets, axis=-1)
    return np.array([j for j in range(skeleton.n_joints) if skeleton.parents[j] >= 0
                     and lengths[j] > 0 and j not in translating], dtype=np.int64)


def _reach(skeleton: Skeleton, bones: np.ndarray) -> np.ndarray:
    """Longest chain (sum of bone lengths) below every joint ``(J,)``."""
    length = np.zeros(skeleton.n_joints)
    length[bones] = np.linalg.norm(skeleton.offsets[bones], axis=-1)
    reach = np.zeros(skeleton.n_joints)
    for j in range(skeleton.n_joints - 1, 0, -1):  # children come after parents
        p = skeleton.parents[j]
        if p >= 0:
            reach[p] = max(reach[p], reach[j] + length[j])
    return reach, length


def _mirrored(a: np.ndarray, b: np.ndarray) -> bool:
    """Whether two offsets mirror each other: one axis negated, the others equal (10%)."""
    tolerance = TWIN_TOLERANCE * max(np.linalg.norm(a), np.linalg.norm(b))
    return any(abs(a[k]) > tolerance and abs(a[k] + b[k]) <= tolerance
               and np.all(np.abs(np.delete(a - b, k)) <= tolerance) for k in range(3))


def _twins(skeleton: Skeleton, children: np.ndarray, chain: np.ndarray) -> set[int]:
    """The children whose subtree has a mirror-image sibling with about the same longest chain."""
    offsets = skeleton.offsets
    return {int(a) for a in children for b in children if a != b and chain[a] > 0
            and abs(chain[a] - chain[b]) <= TWIN_TOLERANCE * max(chain[a], chain[b])
            and _mirrored(offsets[a], offsets[b])}


def _limbs(skeleton: Skeleton, bones: np.ndarray):
    """Where every joint's bone lies in its limb.

    Returns
    -------
    start, total, length : np.ndarray [shape=(J,)]
        Distance along the limb from its first joint to the bone's parent end; the limb's
        longest chain (0 on the core); the bone's own length (0 for joints without a bone).
    """
    reach, length = _reach(skeleton, bones)
    chain = reach + length  # longest chain through each joint's own bone
    start, total = np.zeros(skeleton.n_joints), np.zeros(skeleton.n_joints)
    for p in range(skeleton.n_joints):
        children = skeleton.children(p)
        twins = _twins(skeleton, children, chain) if total[p] == 0 else set()
        for c in children:
            if total[p] > 0:  # inside a limb
                start[c], total[c] = start[p] + length[p], total[p]
            elif c in twins:  # a limb starts here
                total[c] = chain[c]
    return start, total, length


def derive_levels(skeleton: Skeleton, bones: np.ndarray, n_levels: int) -> np.ndarray:
    """Pose level ``(B,)`` of each bone (see the module docstring).

    Parameters
    ----------
    skeleton : Skeleton
    bones : np.ndarray [shape=(B,)]
        Child joints of the bones.
    n_levels : int >= 1
        Levels of the cascade (1: holistic).
    """
    start, total, length = (a[bones] for a in _limbs(skeleton, bones))
    middle = np.divide(start + 0.5 * length, total, out=np.zeros(len(bones)), where=total > 0)
    level = np.where(total > 0, np.minimum(n_levels, np.floor(n_levels * middle) + 1), 1)
    return _compact(level.astype(np.int64))


def _compact(levels: np.ndarray) -> np.ndarray:
    """Renumber levels 1, 2, ... without gaps (a level may have no bone)."""
    return np.searchsorted(np.unique(levels), levels) + 1


def limb_pairs(skeleton: Skeleton, bones: np.ndarray) -> np.ndarray:
    """Consecutive bone pairs ``(P, 2)`` (parent bone, child bone) inside limbs."""
    in_limb = _limbs(skeleton, bones)[1] > 0
    position = {int(b): i for i, b in enumerate(bones)}
    pairs = [(position[int(skeleton.parents[child])], i) for i, child in enumerate(bones)
             if int(skeleton.parents[child]) in position and in_limb[child]
             and in_limb[skeleton.parents[child]]]
    return np.array(pairs, dtype=np.int64).reshape(-1, 2)


# --------------------------------------------------------------------------------------------
# The TED layout on a dataset skeleton


def ted_joint_names(skeleton: Skeleton, joint_map: tuple[str, ...] | None = None,
                    source: str = "skeleton") -> tuple[str, ...]:
    """The dataset joints of the 10 TED joints, by ``joint_map`` or the first known map that fits.

    Raises
    ------
    PipelineError
        One line naming the joints the closest known map (or the given map) lacks.
    """
    names = set(skeleton.names)
    if joint_map is not None:
        missing = [n for n in joint_map if n not in names]
        if len(joint_map) != len(TED_JOINTS) or missing:
            raise PipelineError(f"{source}: the joint map needs {len(TED_JOINTS)} joints of the "
                                f"skeleton ({', '.join(TED_JOINTS)}); not found: "
                                f"{', '.join(missing) or len(joint_map)}")
        return tuple(joint_map)
    best: tuple[int, str, list[str]] | None = None
    for key, candidates in TED_MAPS.items():
        found = [next((n for n in options if n in names), None) for options in candidates]
        missing = [options[0] for options, n in zip(candidates, found) if n is None]
        if not missing:
            return tuple(found)
        if best is None or len(missing) < best[0]:
            best = (len(missing), key, missing)
    _, key, missing = best
    raise PipelineError(f"{source}: the TED preset needs 10 joints and no known joint map fits "
                        f"({', '.join(TED_MAPS)}; closest, {key}, lacks {', '.join(missing)}); "
                        "give them with --joint-map")


def ted_skeleton(skeleton: Skeleton, sources: tuple[str, ...]) -> Skeleton:
    """The 10-joint TED skeleton on the rest pose of ``skeleton`` (offsets: rest differences).

    The head and the wrists are leaves (End Sites); the spine is the root.
    """
    rest = skeleton.rest_positions()[[skeleton.names.index(n) for n in sources]]
    parents = np.array(TED_PARENTS)
    offsets = np.where(parents[:, None] < 0, rest, rest - rest[np.maximum(parents, 0)])
    leaf = np.array([j not in parents for j in range(len(parents))])
    rotation = ROOT_CHANNELS[3:]
    channels = tuple(ROOT_CHANNELS if p < 0 else () if end else rotation
                     for p, end in zip(parents, leaf))
    return Skeleton(TED_JOINTS, parents, offsets, channels, leaf)


def make_body(skeleton: Skeleton, *, joints: str = "all", joint_map=None, levels=None,
              n_levels: int = 3, source: str = "skeleton") -> Body:
    """The body of a configuration on a dataset skeleton.

    Parameters
    ----------
    skeleton : Skeleton
        The dataset's skeleton.
    joints : {"all", "ted"}
        The dataset's own joints, or the 10-joint TED layout.
    joint_map : tuple of str, optional
        Dataset joints of the TED joints (default: the first of :data:`TED_MAPS` that fits).
    levels : sequence of sequence of str, optional
        Bone names (child joints) per pose level, coarse to fine, every bone once; default
        derived (:func:`derive_levels`; the official levels on the TED layout).
    n_levels : int >= 1
        Levels of the derived cascade.
    source : str
        Named in errors.
    """
    if joints == "ted":
        sources = ted_joint_names(skeleton, joint_map, source)
        body_skeleton = ted_skeleton(skeleton, sources)
        bones = np.arange(1, len(TED_JOINTS))
        default = np.minimum(TED_LEVELS, n_levels)
    elif joints == "all":
        body_skeleton, sources = skeleton, skeleton.names
        bones = kept_bones(skeleton)
        default = derive_levels(skeleton, bones, n_levels) if len(bones) else bones
    else:
        raise PipelineError(f"unknown joints {joints!r} (use all or ted)")
    if len(bones) == 0:
        raise PipelineError(f"{source}: the skeleton has no bone of non-zero length")
    bone_levels = default if levels is None else _listed_levels(body_skeleton, bones, levels,
                                                                source)
    bone_levels = _compact(np.asarray(bone_levels))
    return Body(body_skeleton, tuple(sources), bones, bone_levels,
                limb_pairs(body_skeleton, bones))


def _listed_levels(skeleton: Skeleton, bones: np.ndarray, levels, source: str) -> np.ndarray:
    """Levels ``(B,)`` from bone names per level (each bone exactly once)."""
    names = [skeleton.names[b] for b in bones]
    listed = [n for level in levels for n in level]
    unknown = sorted(set(listed) - set(names))
    missing = [n for n in names if n not in listed]
    twice = sorted({n for n in listed if listed.count(n) > 1})
    if unknown or missing or twice:
        problems = [f"not bones: {', '.join(unknown)}" if unknown else "",
                    f"missing: {', '.join(missing)}" if missing else "",
                    f"listed twice: {', '.join(twice)}" if twice else ""]
        raise PipelineError(f"{source}: the pose levels must list every bone once "
                            f"({'; '.join(p for p in problems if p)})")
    level_of = {n: k + 1 for k, level in enumerate(levels) for n in level}
    return np.array([level_of[n] for n in names])
