"""Every HA2G loss term, each a small function with a known answer (official code's formulas).

Shapes: motion vectors ``(B, T, D)`` (``D = 3 bones``), bone directions ``(..., B, 3)``,
style codes ``(B, Z)``, per-frame features ``(N, C)``, discriminator outputs ``(B, 1)``
probabilities. Unless a docstring says otherwise a term is a mean over its elements, so it does
not depend on the batch size.
"""

from __future__ import annotations

import math

import tensorflow as tf

GAN_EPSILON = 1e-8  # inside the logarithms of the adversarial terms
DIVERSITY_EPSILON = 1e-5  # added to the style-code distance
ANGLE_CLIP = 1e-7  # cosines are clipped to [-1 + c, 1 - c] before arccos


def huber(predicted: tf.Tensor, truth: tf.Tensor, beta: float) -> tf.Tensor:
    """Mean Huber loss with threshold ``beta`` (``smooth_l1(p / beta, t / beta) * beta``).

    ``0.5 d^2 / beta`` for ``|d| < beta``, ``|d| - 0.5 beta`` beyond.
    """
    distance = tf.abs(predicted - truth)
    return tf.reduce_mean(tf.where(distance < beta, 0.5 * tf.square(distance) / beta,
                                   distance - 0.5 * beta))


def generator_adversarial(fake_score: tf.Tensor) -> tf.Tensor:
    """Non-saturating GAN loss of the generator: ``-mean log D(fake)``."""
    return -tf.reduce_mean(tf.math.log(fake_score + GAN_EPSILON))


def discriminator_adversarial(real_score: tf.Tensor, fake_score: tf.Tensor) -> tf.Tensor:
    """GAN loss of the discriminator: ``-mean(log D(real) + log(1 - D(fake)))``."""
    return -tf.reduce_mean(tf.math.log(real_score + GAN_EPSILON)
                           + tf.math.log(1.0 - fake_score + GAN_EPSILON))


def kl_normal(mu: tf.Tensor, logvar: tf.Tensor) -> tf.Tensor:
    """KL divergence of ``N(mu, exp(logvar))`` from ``N(0, I)``, *averaged* over the channels.

    ``-0.5 mean(1 + logvar - mu^2 - exp(logvar))`` (the official normalisation).
    """
    return -0.5 * tf.reduce_mean(1.0 + logvar - tf.square(mu) - tf.exp(logvar))


def diversity(motion: tf.Tensor, other: tf.Tensor, z: tf.Tensor, other_z: tf.Tensor, *,
              beta: float, clamp: float) -> tf.Tensor:
    """Diversity regulariser: minus the motion distance per style-code distance, clamped.

    Per clip, ``pose = sum over frames and values of huber(motion, other)`` (no gradient through
    ``other``) and ``code = mean |z - other_z|`` (no gradient); the term is the clip mean of
    ``max(-pose / (code + 1e-5), -clamp)``: lowering it spreads the motions of other codes.

    Parameters
    ----------
    motion, other : tf.Tensor [shape=(B, T, D)]
        Motions of the same inputs with two style codes.
    z, other_z : tf.Tensor [shape=(B, Z)]
        The two style codes.
    beta : float
        Huber threshold of the motion distance (0.05).
    clamp : float
        Lowest value per clip is ``-clamp`` (1000).
    """
    distance = tf.abs(motion - tf.stop_gradient(other))
    elementwise = tf.where(distance < beta, 0.5 * tf.square(distance) / beta,
                           distance - 0.5 * beta)
    pose = tf.reduce_sum(elementwise, axis=[1, 2])
    code = tf.reduce_mean(tf.abs(tf.stop_gradient(z) - tf.stop_gradient(other_z)), axis=-1)
    return tf.reduce_mean(tf.maximum(-pose / (code + DIVERSITY_EPSILON), -clamp))


def _unit_rows(x: tf.Tensor) -> tf.Tensor:
    return x / tf.maximum(tf.norm(x, axis=-1, keepdims=True), 1e-12)


def contrastive(text: tf.Tensor, audio: tf.Tensor) -> tf.Tensor:
    """Softmax contrastive loss: each text frame must be closest to its own audio frame.

    Rows are L2-normalised; the logits of text frame ``i`` are ``1 / (|t_i - a_j| + 1e-8)``
    over every audio frame ``j`` of the batch, and the loss is the cross-entropy of label
    ``i`` (``SoftmaxContrastiveLoss``).

    Parameters
    ----------
    text, audio : tf.Tensor [shape=(N, C)]
        Per-frame features, frames of all clips of the batch stacked.
    """
    t, a = _unit_rows(text), _unit_rows(audio)
    squared = (tf.reduce_sum(tf.square(t), -1)[:, None] + tf.reduce_sum(tf.square(a), -1)[None]
               - 2.0 * tf.matmul(t, a, transpose_b=True))
    logits = tf.maximum(1.0 / (tf.sqrt(tf.maximum(squared, 0.0) + 1e-12) + 1e-8), 1e-8)
    labels = tf.range(tf.shape(logits)[0])
    return tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels, logits))


def bone_angles(dirs: tf.Tensor, pairs) -> tf.Tensor:
    """Angles ``(..., P)`` between bone pairs, in units of pi (0: aligned, 1: opposite).

    Parameters
    ----------
    dirs : tf.Tensor [shape=(..., B, 3)]
        Bone directions (any length; normalised here).
    pairs : array [shape=(P, 2)]
        Bone indices.
    """
    unit = _unit_rows(dirs)
    first, second = (tf.gather(unit, [p[k] for p in pairs], axis=-2) for k in (0, 1))
    cosine = tf.clip_by_value(tf.reduce_sum(first * second, -1), -1.0 + ANGLE_CLIP,
                              1.0 - ANGLE_CLIP)
    return tf.acos(cosine) / math.pi


def physical_prior(dirs: tf.Tensor, pairs, mean, variance) -> tf.Tensor:
    """Gaussian prior on limb angles: ``sum_p mean((angle_p - mean_p)^2 / (2 variance_p))``.

    Parameters
    ----------
    dirs : tf.Tensor [shape=(..., B, 3)]
        Bone directions (the generated vectors plus the mean direction).
    pairs : array [shape=(P, 2)]
    mean, variance : array [shape=(P,)]
        Training-split statistics of :func:`bone_angles`.
    """
    deviation = bone_angles(dirs, pairs) - tf.constant(mean, tf.float32)
    per_pair = tf.reduce_mean(tf.reshape(tf.square(deviation), (-1, len(mean))), axis=0)
    return tf.reduce_sum(per_pair / (2.0 * tf.constant(variance, tf.float32)))
