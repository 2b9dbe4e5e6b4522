"""Every Audio2Gestures loss term and schedule, each a small function with a known answer.

Shapes: rotations ``(..., R, 3, 3)``, positions ``(..., frames, J, 3)`` in metres, codes
``(..., frames, C)``. Every term is a mean over all leading axes (batch, frames, joints), so
its value does not depend on the batch size or the crop length.
"""

from __future__ import annotations

import tensorflow as tf

EPSILON = 1e-6


def geodesic(predicted: tf.Tensor, truth: tf.Tensor) -> tf.Tensor:
    """Mean rotation angle (radians) between two sets of rotation matrices.

    ``angle = arccos((trace(P^T T) - 1) / 2)``; the cosine is clipped just inside [-1, 1] so
    the gradient stays finite at 0 and pi.
    """
    trace = tf.reduce_sum(predicted * truth, axis=[-2, -1])  # trace(P^T T)
    cosine = tf.clip_by_value((trace - 1.0) / 2.0, -1.0 + EPSILON, 1.0 - EPSILON)
    return tf.reduce_mean(tf.acos(cosine))


def position_l1(predicted: tf.Tensor, truth: tf.Tensor) -> tf.Tensor:
    """Mean absolute coordinate error (metres)."""
    return tf.reduce_mean(tf.abs(predicted - truth))


def speed_l1(predicted: tf.Tensor, truth: tf.Tensor) -> tf.Tensor:
    """Mean absolute error of the frame-to-frame displacement (metres per frame).

    Positions are ``(..., frames, J, 3)``; the difference is taken along the frame axis.
    """
    return position_l1(predicted[..., 1:, :, :] - predicted[..., :-1, :, :],
                       truth[..., 1:, :, :] - truth[..., :-1, :, :])


def relaxed_position(predicted: tf.Tensor, truth: tf.Tensor, rho: float) -> tf.Tensor:
    """Relaxed position loss: mean of ``max(|p - t| - rho, 0)`` over joints and frames.

    ``|p - t|`` is the Euclidean distance of a joint to its target (metres); only the part of
    an error beyond ``rho`` (metres) counts, so a motion that differs from the ground truth
    by less than ``rho`` everywhere costs nothing.
    """
    distance = tf.sqrt(tf.reduce_sum(tf.square(predicted - truth), axis=-1) + EPSILON**2)
    return tf.reduce_mean(tf.nn.relu(distance - rho))


def code_l1(a: tf.Tensor, b: tf.Tensor) -> tf.Tensor:
    """Mean absolute difference of two codes (shared-code alignment and bicycle terms)."""
    return tf.reduce_mean(tf.abs(a - b))


def diversity(random_positions: tf.Tensor, reference_positions: tf.Tensor) -> tf.Tensor:
    """Diversity loss: minus the L1 distance to the reference, which gets no gradient (m)."""
    return -position_l1(random_positions, tf.stop_gradient(reference_positions))


def kl_normal(mu: tf.Tensor, logvar: tf.Tensor, sum_over: str = "time") -> tf.Tensor:
    """KL divergence of ``N(mu, exp(logvar))`` from ``N(0, I)`` (nats).

    Parameters
    ----------
    mu, logvar : tf.Tensor [shape=(..., frames, C)]
        A diagonal Gaussian posterior per frame.
    sum_over : {"time", "channels"}
        ``"time"``: summed over the frames, averaged over the other axes (the official code's
        ``VAE.kl_divergence``: nats per crop and channel). ``"channels"``: summed over the
        channels, averaged over the other axes (nats per frame).
    """
    per_channel = 0.5 * (tf.exp(logvar) + tf.square(mu) - 1.0 - logvar)
    return tf.reduce_mean(tf.reduce_sum(per_channel, axis=-2 if sum_over == "time" else -1))


def cyclic_ramp(step: tf.Tensor, total_steps: int, cycles: int, ramp: float,
                floor: float = 0.0) -> tf.Tensor:
    """Cyclic KL annealing factor in [floor, 1] (Fu et al., 2019).

    The run is cut into ``cycles`` equal cycles; in each the factor rises linearly from 0 to 1
    over the first ``ramp`` fraction and then holds at 1, and is never below ``floor``.
    ``ramp = 1, floor = 1e-4`` is the official code's sawtooth (there with a period of 100k
    steps: ``max((step // 10) % 10000 * 1e-4, 1e-4)``).
    """
    cycle = max(total_steps / cycles, 1.0)
    phase = tf.math.floormod(tf.cast(step, tf.float32), cycle) / cycle
    return tf.maximum(tf.minimum(phase / ramp, 1.0), floor)


def linear_decay(step: tf.Tensor, total_steps: int) -> tf.Tensor:
    """Factor falling linearly from 1 at step 0 to 0 at ``total_steps`` (and 0 after)."""
    return tf.maximum(1.0 - tf.cast(step, tf.float32) / max(total_steps, 1), 0.0)
