import numpy as np
import pytest
import tensorflow as tf

from data_processing import kinematics, rotations, tf_geometry
from data_processing.bvh import BVHMotion, read_bvh


def slow_positions(motion: BVHMotion) -> np.ndarray:
    """Independent reference: per frame, per joint, quaternions from each Euler channel."""
    skel = motion.skeleton
    out = np.zeros((motion.n_frames, skel.n_joints, 3))
    for f in range(motion.n_frames):
        glob = [None] * skel.n_joints
        for j in range(skel.n_joints):
            local = np.eye(3)
            translation = skel.offsets[j].copy()
            for k, channel in enumerate(skel.channels[j]):
                value = motion.frames[f, skel.channel_start[j] + k]
                if channel.endswith("rotation"):
                    axis = np.eye(3)["XYZ".index(channel[0])]
                    local = local @ rotations.axis_angle_to_matrix(np.radians(value) * axis)
                else:
                    translation["XYZ".index(channel[0])] = value
            parent = skel.parents[j]
            if parent < 0:
                glob[j], out[f, j] = local, translation
            else:
                glob[j] = glob[parent] @ local
                out[f, j] = out[f, parent] + glob[parent] @ translation
    return out


def test_fk_matches_slow_reference_on_genea(genea_bvh):
    motion = read_bvh(genea_bvh)
    motion = BVHMotion(motion.skeleton, motion.frames[::40], motion.frame_time)
    np.testing.assert_allclose(motion.positions(), slow_positions(motion), atol=1e-8)


def test_fk_matches_slow_reference_tiny(tiny_bvh):
    motion = read_bvh(tiny_bvh)
    np.testing.assert_allclose(motion.positions(), slow_positions(motion), atol=1e-10)


def test_tf_fk_agrees_with_numpy(genea_bvh):
    motion = read_bvh(genea_bvh)
    skel = motion.skeleton
    local = motion.local_rotations()[::10]
    translations = motion.local_translations()[::10]
    expected = kinematics.forward_kinematics(skel.parents, local, translations)
    six = tf.constant(rotations.matrix_to_rot6d(local), tf.float32)
    got = tf_geometry.forward_kinematics(skel.parents, tf_geometry.rot6d_to_matrix(six),
                                         tf.constant(translations, tf.float32)).numpy()
    scale = np.abs(expected).max()
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-4 * scale)


def test_tf_rot6d_agrees_with_numpy(rng):
    six = rng.normal(size=(4, 5, 6))
    np.testing.assert_allclose(tf_geometry.rot6d_to_matrix(tf.constant(six)).numpy(),
                               rotations.rot6d_to_matrix(six), atol=1e-10)
    m = rotations.rot6d_to_matrix(six)
    np.testing.assert_allclose(tf_geometry.matrix_to_rot6d(tf.constant(m)).numpy(),
                               rotations.matrix_to_rot6d(m))


def test_fk_known_answer_chain():
    parents = np.array([-1, 0, 1])
    offsets = np.array([[1.0, 2.0, 3.0], [0.0, 1.0, 0.0], [0.0, 1.0, 0.0]])
    local = np.broadcast_to(np.eye(3), (1, 3, 3, 3)).copy()
    local[0, 1] = rotations.euler_to_matrix(np.array([-90.0]), "Z")  # bend the chain to +X
    pos = kinematics.forward_kinematics(parents, local, offsets)
    np.testing.assert_allclose(pos[0], [[1, 2, 3], [1, 3, 3], [2, 3, 3]], atol=1e-12)


def test_frame_count_rule():
    assert kinematics.frame_count(30.0, 20) == 600
    assert kinematics.frame_count(759 * 0.03333, 30) == 759  # GENEA's rounded frame time
    assert kinematics.frame_count(1800 / 60, 30) == 900


def test_resample_interpolates_instead_of_dropping():
    n, fps = 61, 60.0
    angles = np.linspace(0, 60, n)[:, None]  # uniform rotation about Z: 1 degree per frame
    local = rotations.euler_to_matrix(angles, "Z")[:, None]
    trans = np.linspace(0, 6, n)[:, None, None] * np.ones((1, 1, 3))
    rots, moved = kinematics.resample(local, trans, src_fps=fps, dst_fps=40.0)
    assert len(rots) == kinematics.frame_count(n / fps, 40.0) == 41
    got = rotations.matrix_to_euler(rots[:, 0], "ZXY")[:, 0]
    np.testing.assert_allclose(got[:40], np.arange(40) * 1.5, atol=1e-9)  # 1.5 = 60/40 frames
    np.testing.assert_allclose(moved[:40, 0, 0], np.arange(40) * 0.15, atol=1e-12)


def test_resample_up_and_down_is_exact_on_the_common_grid(genea_bvh):
    original = read_bvh(genea_bvh)
    motion = BVHMotion(original.skeleton, original.frames, 1 / 30)
    back = motion.resample(60.0).resample(30.0)
    assert back.n_frames == motion.n_frames
    np.testing.assert_allclose(back.positions(), motion.positions(), atol=1e-6)


@pytest.mark.parametrize("fps", [20.0, 30.0])
def test_resample_keeps_duration(tiny_bvh, fps):
    motion = read_bvh(tiny_bvh)
    assert motion.resample(fps).n_frames == kinematics.frame_count(motion.duration, fps)
