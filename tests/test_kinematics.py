import numpy as np
import pytest
import tensorflow as tf

from data_processing import kinematics, rotations, tf_geometry
from data_processing.bvh import BVHMotion, read_bvh
from data_processing.demo_speaker import demo_skeleton


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


# --------------------------------------------------------------------------------------------
# Inverse kinematics


def _random_local(rng, n_frames, n_joints, degrees=60.0):
    angles = rng.uniform(-degrees, degrees, size=(n_frames, n_joints, 3))
    return rotations.euler_to_matrix(angles, "ZXY")


def _fk(skel, local, root):
    translations = np.broadcast_to(skel.offsets, local.shape[:-2] + (3,)).copy()
    translations[..., skel.root, :] = root
    return kinematics.forward_kinematics(skel.parents, local, translations)


def test_swing_rotation_known_answers():
    x, y = np.array([1.0, 0.0, 0.0]), np.array([0.0, 2.0, 0.0])
    np.testing.assert_allclose(kinematics.swing_rotation(x, y),
                               rotations.euler_to_matrix(np.array([90.0]), "Z"), atol=1e-12)
    half = kinematics.swing_rotation(x, -3 * x)  # opposite: a half turn
    np.testing.assert_allclose(half @ x, -x, atol=1e-12)
    np.testing.assert_allclose(np.linalg.det(half), 1.0)
    np.testing.assert_allclose(kinematics.swing_rotation(x, np.zeros(3)), np.eye(3))


def test_swing_rotation_is_minimal(rng):
    a, b = rng.normal(size=(2, 50, 3))
    r = kinematics.swing_rotation(a, b)
    unit = b / np.linalg.norm(b, axis=-1, keepdims=True)
    np.testing.assert_allclose(np.einsum("nab,nb->na", r, a / np.linalg.norm(a, axis=-1,
                                                                             keepdims=True)),
                               unit, atol=1e-12)
    # the rotation angle equals the angle between a and b (no twist added)
    angle = np.linalg.norm(rotations.matrix_to_axis_angle(r), axis=-1)
    cos = np.sum(a * b, -1) / np.linalg.norm(a, axis=-1) / np.linalg.norm(b, axis=-1)
    np.testing.assert_allclose(angle, np.arccos(np.clip(cos, -1, 1)), atol=1e-9)


def test_best_fit_rotation_recovers_rotation_and_never_reflects(rng):
    truth = rotations.axis_angle_to_matrix(rng.normal(size=(8, 3)))
    rest = rng.normal(size=(8, 5, 3))
    rest[..., 2] = 0.0  # planar bones: the SVD alone could return a reflection
    target = np.einsum("nab,nmb->nma", truth, rest)
    got = kinematics.best_fit_rotation(rest, target)
    np.testing.assert_allclose(got, truth, atol=1e-10)
    np.testing.assert_allclose(np.linalg.det(got), 1.0)
    weights = np.ones((8, 5))
    weights[:, -1] = 0.0  # a zero weight ignores the pair, whatever its target
    target[:, -1] = 99.0
    np.testing.assert_allclose(kinematics.best_fit_rotation(rest, target, weights), truth,
                               atol=1e-10)


def test_ik_known_answer_bent_chain_has_no_added_twist():
    parents = np.array([-1, 0, 1])
    offsets = np.array([[0.0, 0.0, 0.0], [10.0, 0.0, 0.0], [5.0, 0.0, 0.0]])
    positions = np.array([[[1.0, 2.0, 3.0], [11.0, 2.0, 3.0], [11.0, 7.0, 3.0]]])
    fit = kinematics.positions_to_rotations(parents, offsets, positions)
    np.testing.assert_allclose(fit.local_rotations[0, 0], np.eye(3), atol=1e-12)
    np.testing.assert_allclose(fit.local_rotations[0, 1],  # bend to +Y: exactly Rz(90)
                               rotations.euler_to_matrix(np.array([90.0]), "Z"), atol=1e-12)
    np.testing.assert_allclose(fit.local_rotations[0, 2], np.eye(3))  # leaf: rest
    np.testing.assert_allclose(fit.translations[0, 0], [1.0, 2.0, 3.0])
    assert fit.error < 1e-12


def test_ik_round_trip_demo_skeleton_random_poses(rng):
    skel = demo_skeleton()
    local = _random_local(rng, 40, skel.n_joints)
    local[:, skel.end_site] = np.eye(3)
    positions = _fk(skel, local, rng.normal(size=(40, 3)) * 10)
    fit = kinematics.positions_to_rotations(skel.parents, skel.offsets, positions)
    assert fit.error < 1e-9
    assert fit.max_error < 1e-8
    np.testing.assert_allclose(_fk(skel, fit.local_rotations, positions[:, skel.root]),
                               positions, atol=1e-8)
    np.testing.assert_allclose(fit.positions, positions, atol=1e-8)
    # the chest (neck + both shoulders, not collinear) is fitted fully: twist included
    chest = skel.names.index("Chest")
    _, glob = kinematics.forward_kinematics(skel.parents, local, skel.offsets,
                                            return_rotations=True)
    _, fitted = kinematics.forward_kinematics(skel.parents, fit.local_rotations, skel.offsets,
                                              return_rotations=True)
    np.testing.assert_allclose(fitted[:, chest], glob[:, chest], atol=1e-9)


def test_ik_batched_equals_unbatched(rng):
    skel = demo_skeleton()
    positions = _fk(skel, _random_local(rng, 12, skel.n_joints), np.zeros(3))
    flat = kinematics.positions_to_rotations(skel.parents, skel.offsets, positions)
    batched = kinematics.positions_to_rotations(skel.parents, skel.offsets,
                                                positions.reshape(3, 4, skel.n_joints, 3))
    np.testing.assert_allclose(batched.local_rotations.reshape(flat.local_rotations.shape),
                               flat.local_rotations, atol=1e-12)
    single = kinematics.positions_to_rotations(skel.parents, skel.offsets, positions[5])
    np.testing.assert_allclose(single.local_rotations, flat.local_rotations[5], atol=1e-12)


def test_ik_reference_rotations_give_back_the_rotations(rng):
    skel = demo_skeleton()
    local = _random_local(rng, 20, skel.n_joints)
    local[:, skel.end_site] = np.eye(3)
    positions = _fk(skel, local, np.zeros(3))
    fit = kinematics.positions_to_rotations(skel.parents, skel.offsets, positions,
                                            rest_rotations=local)
    np.testing.assert_allclose(fit.local_rotations, local, atol=1e-9)


def test_ik_looks_through_zero_length_bones(rng):
    # root -> a -> twist (zero offset) -> b -> end: "a" is aimed at "b" through "twist"
    parents = np.array([-1, 0, 1, 2, 3])
    offsets = np.array([[0, 0, 0], [0, 10, 0], [0, 0, 0], [8, 0, 0], [0, 0, 4]], dtype=float)
    local = _random_local(rng, 30, 5)
    local[:, 2] = np.eye(3)  # what a position can tell: the twist joint does nothing
    positions = kinematics.forward_kinematics(parents, local, offsets)
    fit = kinematics.positions_to_rotations(parents, offsets, positions)
    assert fit.max_error < 1e-9
    np.testing.assert_allclose(fit.local_rotations[:, 2], np.broadcast_to(np.eye(3), (30, 3, 3)),
                               atol=1e-12)
    bones = kinematics.bone_targets(parents, offsets)
    assert bones[1] == [kinematics.Bone(3, (2,))]
    assert bones[2] == [kinematics.Bone(3)]
    assert bones[4] == []
    # a reference rotation of the twist joint is kept, and "a" is aimed through it
    twisted = local.copy()
    twisted[:, 2] = _random_local(rng, 30, 1)[:, 0]
    reference = np.broadcast_to(np.eye(3), (30, 5, 3, 3)).copy()
    reference[:, 2] = twisted[:, 2]
    fit = kinematics.positions_to_rotations(
        parents, offsets, kinematics.forward_kinematics(parents, twisted, offsets),
        rest_rotations=reference)
    assert fit.max_error < 1e-9
    np.testing.assert_allclose(fit.local_rotations[:, 2], twisted[:, 2], atol=1e-9)


def test_ik_translating_joint_takes_its_translation():
    # a world root at the origin, hips that translate (GENEA's body_world -> b_root)
    parents = np.array([-1, 0, 1, 1])
    offsets = np.array([[0, 0, 0], [0, 90, 0], [0, 10, 0], [10, 0, 0]], dtype=float)
    positions = np.array([[[0, 0, 0], [3, 80, 1], [3, 90, 1], [3, 80, -9]]], dtype=float)
    without = kinematics.positions_to_rotations(parents, offsets, positions)
    assert without.error > 1.0  # the hips cannot move away from 90 cm without translation
    fit = kinematics.positions_to_rotations(parents, offsets, positions, translating=[1])
    assert fit.max_error < 1e-12
    np.testing.assert_allclose(fit.translations[0, 1], [3, 80, 1])
    np.testing.assert_allclose(fit.local_rotations[0, 0], np.eye(3))  # nothing to aim at


def test_ik_genea_round_trip(genea_bvh):
    motion = read_bvh(genea_bvh)
    motion = BVHMotion(motion.skeleton, motion.frames[::4], motion.frame_time)
    skel = motion.skeleton
    hips = [skel.names.index("b_root")]
    # exact on a motion whose bone lengths are the skeleton's offsets
    translations = np.broadcast_to(skel.offsets, (motion.n_frames, skel.n_joints, 3)).copy()
    translations[:, [skel.root, *hips]] = motion.local_translations()[:, [skel.root, *hips]]
    clean = kinematics.forward_kinematics(skel.parents, motion.local_rotations(), translations)
    fit = kinematics.positions_to_rotations(skel.parents, skel.offsets, clean, translating=hips,
                                            collinear_tolerance=0.01)
    assert fit.max_error < 1e-8
    # by default bones within ~6 degrees of each other (left shoulder -> delt + scapula, spine2
    # -> spine3 + navel) are aimed as one direction, twist from the rest pose: tiny errors
    fit = kinematics.positions_to_rotations(skel.parents, skel.offsets, clean, translating=hips)
    assert fit.error < 0.005
    assert fit.max_error < 0.3
    # the file itself: its position channels differ from the offsets by up to 0.005 cm
    fit = kinematics.positions_to_rotations(skel.parents, skel.offsets, motion.positions(),
                                            translating=hips)
    assert fit.error < 0.01
    assert fit.max_error < 0.5


def test_ik_rejects_bad_shapes():
    with pytest.raises(ValueError, match="Expected positions of shape"):
        kinematics.positions_to_rotations(np.array([-1, 0]), np.zeros((2, 3)), np.zeros((5, 3, 3)))
    with pytest.raises(ValueError, match="translating"):
        kinematics.positions_to_rotations(np.array([-1, 0]), np.ones((2, 3)), np.zeros((5, 2, 3)),
                                          translating=[7])
