"""Every HA2G loss term against a value worked out by hand."""

import math

import numpy as np
import pytest
import tensorflow as tf

from ha2g import losses


def c(values):
    return tf.constant(values, tf.float32)


def test_huber_is_quadratic_below_beta_and_linear_above():
    # |d| = 0.05 < 0.1: 0.5 * 0.05^2 / 0.1 = 0.0125; |d| = 0.3: 0.3 - 0.05 = 0.25
    value = losses.huber(c([[0.05, -0.3]]), c([[0.0, 0.0]]), beta=0.1)
    assert float(value) == pytest.approx((0.0125 + 0.25) / 2)


def test_adversarial_terms():
    assert float(losses.generator_adversarial(c([[0.5], [0.5]]))) == pytest.approx(math.log(2))
    both_half = losses.discriminator_adversarial(c([[0.5]]), c([[0.5]]))
    assert float(both_half) == pytest.approx(2 * math.log(2))
    assert float(losses.discriminator_adversarial(c([[1.0]]), c([[0.0]]))) == pytest.approx(0.0,
                                                                                          abs=1e-6)


def test_kl_of_a_unit_shift_is_one_half():
    assert float(losses.kl_normal(c([[0.0, 0.0]]), c([[0.0, 0.0]]))) == 0.0
    assert float(losses.kl_normal(c([[1.0, 1.0]]), c([[0.0, 0.0]]))) == pytest.approx(0.5)


def test_diversity_is_minus_motion_distance_per_code_distance_clamped():
    motion, other = tf.zeros((1, 2, 3)), tf.ones((1, 2, 3))
    # per element |d| = 1 > beta 0.05: 1 - 0.025; summed over 6 values: 5.85; codes 0.5 apart
    value = losses.diversity(motion, other, c([[0.0, 0.0]]), c([[0.5, -0.5]]), beta=0.05,
                             clamp=1000.0)
    assert float(value) == pytest.approx(-5.85 / (0.5 + 1e-5))
    same_code = losses.diversity(motion, other, c([[0.0, 0.0]]), c([[0.0, 0.0]]), beta=0.05,
                                 clamp=1000.0)
    assert float(same_code) == -1000.0
    with tf.GradientTape() as tape:
        tape.watch(other)
        value = losses.diversity(motion, other, c([[0.0]]), c([[1.0]]), beta=0.05, clamp=1e3)
    assert tape.gradient(value, other) is None  # the other motion is a fixed target


def test_contrastive_cross_entropy_over_inverse_distances():
    text = c([[1.0, 0.0], [0.0, 1.0]])
    audio = c([[2.0, 0.0], [-1.0, 0.0]])  # normalised: (1, 0) and (-1, 0)
    # text 0 sits on audio 0 (inverse distance ~1e6): loss 0; text 1 is sqrt(2) from both
    # (logits 1/sqrt(2) each): log 2
    assert float(losses.contrastive(text, audio)) == pytest.approx(math.log(2) / 2, rel=1e-5)


def test_physical_prior_of_right_angles():
    dirs = c([[[1.0, 0.0, 0.0], [0.0, 2.0, 0.0], [0.0, 0.0, 1.0]]])
    angles = losses.bone_angles(dirs, [[0, 1], [0, 0]])
    np.testing.assert_allclose(angles.numpy(), [[0.5, 0.0]], atol=1e-3)  # pi/2, 0 (in pi)
    # (0.5 - 0.3)^2 / (2 * 0.02) = 1
    assert float(losses.physical_prior(dirs, [[0, 1]], [0.3], [0.02])) == pytest.approx(1.0)
