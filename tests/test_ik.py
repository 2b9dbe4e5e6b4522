import numpy as np
import pytest

from data_processing import ik, kinematics, rotations
from data_processing.bvh import BVHMotion, read_bvh
from data_processing.demo_speaker import demo_skeleton


def _random_local(rng, n_frames, n_joints, degrees=60.0):
    angles = rng.uniform(-degrees, degrees, size=(n_frames, n_joints, 3))
    return rotations.euler_to_matrix(angles, "ZXY")


def _fk(skel, local, root):
    translations = np.broadcast_to(skel.offsets, local.shape[:-2] + (3,)).copy()
    translations[..., skel.root, :] = root
    return kinematics.forward_kinematics(skel.parents, local, translations)


def test_swing_rotation_known_answers():
    x, y = np.array([1.0, 0.0, 0.0]), np.array([0.0, 2.0, 0.0])
    np.testing.assert_allclose(ik.swing_rotation(x, y),
                               rotations.euler_to_matrix(np.array([90.0]), "Z"), atol=1e-12)
    half = ik.swing_rotation(x, -3 * x)  # opposite: a half turn
    np.testing.assert_allclose(half @ x, -x, atol=1e-12)
    np.testing.assert_allclose(np.linalg.det(half), 1.0)
    np.testing.assert_allclose(ik.swing_rotation(x, np.zeros(3)), np.eye(3))


def test_swing_rotation_is_minimal(rng):
    a, b = rng.normal(size=(2, 50, 3))
    r = ik.swing_rotation(a, b)
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
    got = ik.best_fit_rotation(rest, target)
    np.testing.assert_allclose(got, truth, atol=1e-10)
    np.testing.assert_allclose(np.linalg.det(got), 1.0)
    weights = np.ones((8, 5))
    weights[:, -1] = 0.0  # a zero weight ignores the pair, whatever its target
    target[:, -1] = 99.0
    np.testing.assert_allclose(ik.best_fit_rotation(rest, target, weights), truth,
                               atol=1e-10)


def test_ik_known_answer_bent_chain_has_no_added_twist():
    parents = np.array([-1, 0, 1])
    offsets = np.array([[0.0, 0.0, 0.0], [10.0, 0.0, 0.0], [5.0, 0.0, 0.0]])
    positions = np.array([[[1.0, 2.0, 3.0], [11.0, 2.0, 3.0], [11.0, 7.0, 3.0]]])
    fit = ik.positions_to_rotations(parents, offsets, positions)
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
    fit = ik.positions_to_rotations(skel.parents, skel.offsets, positions)
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
    flat = ik.positions_to_rotations(skel.parents, skel.offsets, positions)
    batched = ik.positions_to_rotations(skel.parents, skel.offsets,
                                                positions.reshape(3, 4, skel.n_joints, 3))
    np.testing.assert_allclose(batched.local_rotations.reshape(flat.local_rotations.shape),
                               flat.local_rotations, atol=1e-12)
    single = ik.positions_to_rotations(skel.parents, skel.offsets, positions[5])
    np.testing.assert_allclose(single.local_rotations, flat.local_rotations[5], atol=1e-12)


def test_ik_reference_rotations_give_back_the_rotations(rng):
    skel = demo_skeleton()
    local = _random_local(rng, 20, skel.n_joints)
    local[:, skel.end_site] = np.eye(3)
    positions = _fk(skel, local, np.zeros(3))
    fit = ik.positions_to_rotations(skel.parents, skel.offsets, positions,
                                            rest_rotations=local)
    np.testing.assert_allclose(fit.local_rotations, local, atol=1e-9)


def test_ik_looks_through_zero_length_bones(rng):
    # root -> a -> twist (zero offset) -> b -> end: "a" is aimed at "b" through "twist"
    parents = np.array([-1, 0, 1, 2, 3])
    offsets = np.array([[0, 0, 0], [0, 10, 0], [0, 0, 0], [8, 0, 0], [0, 0, 4]], dtype=float)
    local = _random_local(rng, 30, 5)
    local[:, 2] = np.eye(3)  # what a position can tell: the twist joint does nothing
    positions = kinematics.forward_kinematics(parents, local, offsets)
    fit = ik.positions_to_rotations(parents, offsets, positions)
    assert fit.max_error < 1e-9
    np.testing.assert_allclose(fit.local_rotations[:, 2], np.broadcast_to(np.eye(3), (30, 3, 3)),
                               atol=1e-12)
    bones = ik.bone_targets(parents, offsets)
    assert bones[1] == [ik.Bone(3, (2,))]
    assert bones[2] == [ik.Bone(3)]
    assert bones[4] == []
    # a reference rotation of the twist joint is kept, and "a" is aimed through it
    twisted = local.copy()
    twisted[:, 2] = _random_local(rng, 30, 1)[:, 0]
    reference = np.broadcast_to(np.eye(3), (30, 5, 3, 3)).copy()
    reference[:, 2] = twisted[:, 2]
    fit = ik.positions_to_rotations(
        parents, offsets, kinematics.forward_kinematics(parents, twisted, offsets),
        rest_rotations=reference)
    assert fit.max_error < 1e-9
    np.testing.assert_allclose(fit.local_rotations[:, 2], twisted[:, 2], atol=1e-9)


def test_ik_translating_joint_takes_its_translation():
    # a world root at the origin, hips that translate (GENEA's body_world -> b_root)
    parents = np.array([-1, 0, 1, 1])
    offsets = np.array([[0, 0, 0], [0, 90, 0], [0, 10, 0], [10, 0, 0]], dtype=float)
    positions = np.array([[[0, 0, 0], [3, 80, 1], [3, 90, 1], [3, 80, -9]]], dtype=float)
    without = ik.positions_to_rotations(parents, offsets, positions)
    assert without.error > 1.0  # the hips cannot move away from 90 cm without translation
    fit = ik.positions_to_rotations(parents, offsets, positions, translating=[1])
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
    fit = ik.positions_to_rotations(skel.parents, skel.offsets, clean, translating=hips,
                                            collinear_tolerance=0.01)
    assert fit.max_error < 1e-8
    # by default bones within ~6 degrees of each other (left shoulder -> delt + scapula, spine2
    # -> spine3 + navel) are aimed as one direction, twist from the rest pose: tiny errors
    fit = ik.positions_to_rotations(skel.parents, skel.offsets, clean, translating=hips)
    assert fit.error < 0.005
    assert fit.max_error < 0.3
    # the file itself: its position channels differ from the offsets by up to 0.005 cm
    fit = ik.positions_to_rotations(skel.parents, skel.offsets, motion.positions(),
                                            translating=hips)
    assert fit.error < 0.01
    assert fit.max_error < 0.5


def test_ik_rejects_bad_shapes():
    with pytest.raises(ValueError, match="Expected positions of shape"):
        ik.positions_to_rotations(np.array([-1, 0]), np.zeros((2, 3)), np.zeros((5, 3, 3)))
    with pytest.raises(ValueError, match="translating"):
        ik.positions_to_rotations(np.array([-1, 0]), np.ones((2, 3)), np.zeros((5, 2, 3)),
                                          translating=[7])
