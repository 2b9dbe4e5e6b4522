import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from data_processing import rotations as R

ORDERS = ["XYZ", "XZY", "YXZ", "YZX", "ZXY", "ZYX", "ZX", "Y"]


@pytest.mark.parametrize("order", ORDERS)
def test_euler_to_matrix_matches_scipy(order, rng):
    angles = rng.uniform(-180, 180, size=(4, 5, len(order)))
    expected = Rotation.from_euler(order, angles.reshape(-1, len(order)), degrees=True)
    np.testing.assert_allclose(R.euler_to_matrix(angles, order).reshape(-1, 3, 3),
                               expected.as_matrix(), atol=1e-12)


@pytest.mark.parametrize("order", ORDERS[:6])
def test_euler_round_trip(order, rng):
    m = R.euler_to_matrix(rng.uniform(-180, 180, size=(50, 3)), "XYZ")
    np.testing.assert_allclose(R.euler_to_matrix(R.matrix_to_euler(m, order), order), m, atol=1e-9)


def test_known_answer_intrinsic_order():
    # BVH "Zrotation Xrotation Yrotation" = Rz @ Rx @ Ry: a 90 deg turn about Z, then about the
    # new X, maps the local Y axis onto the global -X ... checked by composing by hand.
    rz = np.array([[0.0, -1, 0], [1, 0, 0], [0, 0, 1]])
    rx = np.array([[1.0, 0, 0], [0, 0, -1], [0, 1, 0]])
    np.testing.assert_allclose(R.euler_to_matrix(np.array([90.0, 90.0, 0.0]), "ZXY"), rz @ rx,
                               atol=1e-12)


def test_rot6d_round_trip_and_layout(rng):
    m = R.axis_angle_to_matrix(rng.normal(size=(3, 7, 3)))
    six = R.matrix_to_rot6d(m)
    assert six.shape == (3, 7, 6)
    np.testing.assert_allclose(six[..., :3], m[..., :, 0])
    np.testing.assert_allclose(six[..., 3:], m[..., :, 1])
    np.testing.assert_allclose(R.rot6d_to_matrix(six), m, atol=1e-12)


def test_rot6d_gram_schmidt_gives_rotations(rng):
    m = R.rot6d_to_matrix(rng.normal(size=(100, 6)))
    np.testing.assert_allclose(m @ np.swapaxes(m, -1, -2), np.broadcast_to(np.eye(3), m.shape),
                               atol=1e-12)
    np.testing.assert_allclose(np.linalg.det(m), 1.0)


def test_axis_angle_and_quat_round_trips(rng):
    aa = rng.normal(size=(10, 3))
    aa *= (np.pi * 0.9 / np.linalg.norm(aa, axis=1, keepdims=True)) * rng.uniform(size=(10, 1))
    m = R.axis_angle_to_matrix(aa)
    np.testing.assert_allclose(R.matrix_to_axis_angle(m), aa, atol=1e-10)
    np.testing.assert_allclose(R.quat_to_matrix(R.matrix_to_quat(m)), m, atol=1e-12)


def test_batched_equals_unbatched(rng):
    angles = rng.uniform(-90, 90, size=(6, 4, 3))
    batched = R.euler_to_matrix(angles, "ZXY")
    for i in range(6):
        for j in range(4):
            np.testing.assert_allclose(batched[i, j], R.euler_to_matrix(angles[i, j], "ZXY"))


def test_slerp_halves_the_angle():
    q0 = R.matrix_to_quat(np.eye(3))
    q1 = R.matrix_to_quat(R.axis_angle_to_matrix(np.array([0.0, 0.0, 2.0])))
    mid = R.quat_slerp(q0, q1, np.array(0.5))
    np.testing.assert_allclose(R.matrix_to_axis_angle(R.quat_to_matrix(mid)), [0, 0, 1.0],
                               atol=1e-12)
    end = R.quat_slerp(q0, -q1, np.array(1.0))  # -q1 is the same rotation as q1
    np.testing.assert_allclose(R.quat_to_matrix(end), R.quat_to_matrix(q1), atol=1e-12)
    np.testing.assert_allclose(R.quat_slerp(q0, q0, np.array(0.3)), q0, atol=1e-12)
