import numpy as np
import pytest
import tensorflow as tf

from data_processing.rotations import axis_angle_to_matrix
from gesture_vae import losses


def const(x):
    return tf.constant(np.asarray(x, dtype=np.float32))


def test_geodesic_of_known_rotation_pairs():
    angles = np.array([0.0, 0.3, 1.2, 3.0])
    axis = np.array([1.0, 2.0, -0.5]) / np.linalg.norm([1.0, 2.0, -0.5])
    base = axis_angle_to_matrix(np.array([0.4, -0.2, 0.9]))
    rotated = base @ axis_angle_to_matrix(angles[:, None] * axis)
    got = losses.geodesic(const(rotated), const(np.broadcast_to(base, rotated.shape)))
    assert float(got) == pytest.approx(angles.mean(), abs=2e-3)
    assert float(losses.geodesic(const(base[None]), const(base[None]))) < 3e-3


def test_geodesic_gradient_is_finite_at_identity():
    eye = tf.Variable(np.broadcast_to(np.eye(3, dtype=np.float32), (2, 3, 3)))
    with tf.GradientTape() as tape:
        value = losses.geodesic(eye, tf.constant(np.eye(3, dtype=np.float32)))
    assert np.isfinite(tape.gradient(value, eye).numpy()).all()


def test_position_and_speed_l1():
    truth = np.zeros((2, 4, 3, 3))  # batch, frames, joints, xyz
    shifted = truth + 0.5  # constant offset: position error 0.5, speed error 0
    assert float(losses.position_l1(const(shifted), const(truth))) == pytest.approx(0.5)
    assert float(losses.speed_l1(const(shifted), const(truth))) == pytest.approx(0.0)
    moving = truth.copy()
    moving[:, :, 0, 0] = np.arange(4) * 0.3  # joint 0 moves 0.3 per frame in x
    # 1 coordinate of 9 per frame is off by 0.3 per frame.
    assert float(losses.speed_l1(const(moving), const(truth))) == pytest.approx(0.3 / 9)


def test_relaxed_position_counts_only_the_excess_over_rho():
    truth = np.zeros((1, 2, 2, 3))
    predicted = truth.copy()
    predicted[0, 0, 0] = [0.03, 0.04, 0.0]  # 5 cm away
    predicted[0, 1, 1] = [0.0, 0.01, 0.0]  # 1 cm away: within rho
    got = losses.relaxed_position(const(predicted), const(truth), rho=0.02)
    assert float(got) == pytest.approx((0.05 - 0.02) / 4, abs=1e-6)
    assert float(losses.relaxed_position(const(truth), const(truth), rho=0.02)) == 0.0


def test_code_l1_and_diversity():
    a, b = np.zeros((2, 3, 4)), np.full((2, 3, 4), 0.25)
    assert float(losses.code_l1(const(a), const(b))) == pytest.approx(0.25)
    reference = tf.Variable(np.zeros((1, 2, 1, 3), np.float32))
    random = tf.Variable(np.ones((1, 2, 1, 3), np.float32))
    with tf.GradientTape() as tape:
        value = losses.diversity(random, reference)
    assert float(value) == pytest.approx(-1.0)
    grad_random, grad_reference = tape.gradient(value, [random, reference])
    assert grad_reference is None  # the reference is detached
    np.testing.assert_allclose(grad_random.numpy(), -1.0 / 6)


def test_kl_normal():
    assert float(losses.kl_normal(const(np.zeros((2, 5, 16))), const(np.zeros((2, 5, 16))))) == 0
    # One crop of 3 frames, 2 channels; only frame 0 differs from N(0, 1).
    mu, logvar = np.zeros((1, 3, 2)), np.zeros((1, 3, 2))
    mu[0, 0], logvar[0, 0] = [1.0, 0.0], [0.0, np.log(2.0)]
    kl = np.array([0.5 * 1.0, 0.5 * (2.0 - 1.0 - np.log(2.0))])  # per channel of frame 0
    channels = losses.kl_normal(const(mu), const(logvar), "channels")
    assert float(channels) == pytest.approx(kl.sum() / 3, rel=1e-5)  # per frame
    time = losses.kl_normal(const(mu), const(logvar), "time")  # official: sum over time
    assert float(time) == pytest.approx(kl.mean(), rel=1e-5)  # per crop and channel


@pytest.mark.parametrize(("step", "expected"), [(0, 0.0), (25, 0.5), (50, 1.0), (99, 1.0),
                                                (100, 0.0), (125, 0.5), (399, 1.0)])
def test_cyclic_ramp(step, expected):
    # 400 steps in 4 cycles of 100 steps, ramping over the first half of each.
    assert float(losses.cyclic_ramp(step, 400, 4, 0.5)) == pytest.approx(expected)


@pytest.mark.parametrize(("step", "expected"), [(0, 1e-4), (50, 0.5), (99, 0.99), (100, 1e-4),
                                                (150, 0.5)])
def test_sawtooth_ramp_with_a_floor(step, expected):
    # The official shape scaled to a run: 400 steps in 4 periods, up over each whole period,
    # never below 1e-4.
    assert float(losses.cyclic_ramp(step, 400, 4, 1.0, 1e-4)) == pytest.approx(expected)


@pytest.mark.parametrize(("step", "expected"), [(0, 1.0), (250, 0.75), (1000, 0.0), (2000, 0.0)])
def test_linear_decay(step, expected):
    assert float(losses.linear_decay(step, 1000)) == pytest.approx(expected)
