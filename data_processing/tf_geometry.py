"""TensorFlow twins of the numpy geometry, for losses that need positions from rotations.

Same conventions as :mod:`data_processing.rotations` (6D = first two matrix columns, column
vectors) and the same level-by-level algorithm as
:func:`data_processing.kinematics.forward_kinematics`; ``tests/test_kinematics.py`` checks
that both agree. Everything is differentiable and works on any leading batch dimensions.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from data_processing.kinematics import depth_levels


def rot6d_to_matrix(rot6d: tf.Tensor) -> tf.Tensor:
    """6D rotations ``(..., 6)`` to matrices ``(..., 3, 3)`` by Gram-Schmidt."""
    a1, a2 = rot6d[..., :3], rot6d[..., 3:]
    b1 = tf.math.l2_normalize(a1, axis=-1, epsilon=1e-12)
    b2 = tf.math.l2_normalize(a2 - tf.reduce_sum(b1 * a2, axis=-1, keepdims=True) * b1,
                              axis=-1, epsilon=1e-12)
    b3 = tf.linalg.cross(b1, b2)
    return tf.stack([b1, b2, b3], axis=-1)


def matrix_to_rot6d(matrix: tf.Tensor) -> tf.Tensor:
    """Matrices ``(..., 3, 3)`` to 6D rotations ``(..., 6)``."""
    return tf.concat([matrix[..., :, 0], matrix[..., :, 1]], axis=-1)


def forward_kinematics(
    parents: np.ndarray,
    local_rotations: tf.Tensor,
    local_translations: tf.Tensor,
) -> tf.Tensor:
    """Global joint positions ``(..., J, 3)`` from local rotations ``(..., J, 3, 3)``.

    ``local_translations`` is ``(..., J, 3)`` or ``(J, 3)`` (the skeleton's offsets, with the
    roots' global positions). Joints are processed one depth level at a time; each level is
    appended to a running stack and a final gather restores the joint order.
    """
    parents = np.asarray(parents)
    local_rotations = tf.convert_to_tensor(local_rotations)
    local_translations = tf.cast(local_translations, local_rotations.dtype)
    translations = tf.broadcast_to(local_translations, tf.shape(local_rotations)[:-1])
    slot = np.empty(len(parents), dtype=np.int64)  # position of each joint in the stack
    done = 0
    stack_rot = stack_pos = None
    for level in depth_levels(parents):
        rot = tf.gather(local_rotations, level, axis=-3)
        trans = tf.gather(translations, level, axis=-2)
        if parents[level[0]] >= 0:
            parent_rot = tf.gather(stack_rot, slot[parents[level]], axis=-3)
            parent_pos = tf.gather(stack_pos, slot[parents[level]], axis=-2)
            # Products written as broadcast multiply-sums: XLA (jit_compile) mis-compiles
            # batched matmuls on these gathered tensors, and the sums are faster on CPU too.
            trans = parent_pos + tf.reduce_sum(parent_rot * trans[..., None, :], axis=-1)
            rot = tf.reduce_sum(parent_rot[..., :, :, None] * rot[..., None, :, :], axis=-2)
        stack_rot = rot if stack_rot is None else tf.concat([stack_rot, rot], axis=-3)
        stack_pos = trans if stack_pos is None else tf.concat([stack_pos, trans], axis=-2)
        slot[level] = np.arange(done, done + len(level))
        done += len(level)
    return tf.gather(stack_pos, slot, axis=-2)
