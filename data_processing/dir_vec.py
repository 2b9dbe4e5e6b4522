"""HA2G's motion vectors (``dir_vec``): unit bone directions minus their training mean.

Conventions (the official code's, Liu et al., CVPR'22):

* a frame is the unit direction ``(p_child - p_parent) / |p_child - p_parent|`` of every bone of
  the :class:`~data_processing.body.Body`, flattened to ``3 B`` values, bone after bone;
* the model sees ``dir_vec - mean_dir_vec``, the mean over every frame of the training split;
  its outputs are not renormalised (the FGD of the official code scores them as they are);
* positions come back from directions and the skeleton's rest bone lengths, root at its rest
  position: the motion is root-relative, bone lengths are those of the skeleton.

Every function takes any leading batch dimensions (``(..., J, 3)``, ``(..., B, 3)``).
"""

from __future__ import annotations

import numpy as np

from data_processing.body import Body
from data_processing.bvh import Skeleton
from data_processing.kinematics import depth_levels

EPSILON = 1e-8


def unit(vectors: np.ndarray) -> np.ndarray:
    """Vectors ``(..., 3)`` scaled to unit length (zero vectors stay zero)."""
    norm = np.linalg.norm(vectors, axis=-1, keepdims=True)
    return vectors / np.maximum(norm, EPSILON)


def body_positions(positions: np.ndarray, skeleton: Skeleton, body: Body) -> np.ndarray:
    """The body's joints ``(..., J_body, 3)`` of dataset positions ``(..., J, 3)``/``(..., 3 J)``.

    Parameters
    ----------
    positions : np.ndarray
        Joint positions on the dataset's ``skeleton``.
    skeleton : Skeleton
        The dataset's skeleton (its joint names locate :attr:`Body.sources`).
    body : Body
    """
    positions = np.asarray(positions)
    if positions.shape[-1] != 3:
        positions = positions.reshape(*positions.shape[:-1], -1, 3)
    return positions[..., [skeleton.names.index(n) for n in body.sources], :]


def directions(positions: np.ndarray, body: Body) -> np.ndarray:
    """Unit bone directions ``(..., B, 3)`` of body joint positions ``(..., J, 3)``."""
    parents = body.skeleton.parents[body.bones]
    return unit(positions[..., body.bones, :] - positions[..., parents, :])


def positions_from_directions(dirs: np.ndarray, body: Body) -> np.ndarray:
    """Joint positions ``(..., J, 3)`` from bone directions ``(..., B, 3)`` (renormalised).

    The root stands at its rest offset; a bone's child at its parent plus the bone's rest
    length along its direction; a joint without a bone (zero length, a world node's child) at
    its parent plus its rest offset.
    """
    skeleton = body.skeleton
    dirs = np.asarray(dirs, dtype=np.float64)
    steps = np.broadcast_to(skeleton.offsets, (*dirs.shape[:-2], skeleton.n_joints, 3)).copy()
    steps[..., body.bones, :] = unit(dirs) * body.lengths[:, None]
    out = np.zeros_like(steps)
    for level in depth_levels(skeleton.parents):
        parents = skeleton.parents[level]
        base = np.where((parents < 0)[:, None], 0.0, out[..., np.maximum(parents, 0), :])
        out[..., level, :] = base + steps[..., level, :]
    return out


class DirVec:
    """The ``dir_vec`` representation of a body: positions <-> mean-removed vectors.

    Parameters
    ----------
    body : Body
    mean : np.ndarray [shape=(3 B,)]
        Mean unit direction of every bone over the training frames (``mean_dir_vec``).
    """

    def __init__(self, body: Body, mean: np.ndarray):
        mean = np.asarray(mean, dtype=np.float32)
        if mean.shape != (3 * body.n_bones,):
            raise ValueError(f"Expected a mean of shape ({3 * body.n_bones},) for "
                             f"{body.n_bones} bones. Received: {mean.shape}")
        self.body, self.mean = body, mean

    @classmethod
    def fit(cls, positions: list[np.ndarray], body: Body) -> DirVec:
        """The representation with the mean direction of body positions ``[(T, J, 3), ...]``."""
        frames = np.concatenate([directions(p, body).reshape(len(p), -1) for p in positions])
        return cls(body, frames.mean(axis=0))

    @property
    def size(self) -> int:
        """Values per frame, ``3 B``."""
        return len(self.mean)

    def encode(self, positions: np.ndarray) -> np.ndarray:
        """Body positions ``(..., J, 3)`` -> vectors ``(..., 3 B)`` (float32)."""
        dirs = directions(positions, self.body)
        return (dirs.reshape(*dirs.shape[:-2], -1) - self.mean).astype(np.float32)

    def decode(self, vectors: np.ndarray) -> np.ndarray:
        """Vectors ``(..., 3 B)`` -> body positions ``(..., J, 3)``."""
        raw = np.asarray(vectors, dtype=np.float64) + self.mean
        return positions_from_directions(raw.reshape(*raw.shape[:-1], -1, 3), self.body)
