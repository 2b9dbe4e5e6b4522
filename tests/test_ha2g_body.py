"""HA2G's body and motion vectors: bones, pose levels, the TED layout, dir_vec round trips."""

import numpy as np
import pytest

from data_processing.body import TED_JOINTS, TED_MAPS, derive_levels, kept_bones, make_body
from data_processing.bvh import Skeleton, read_bvh
from data_processing.demo_speaker import demo_skeleton
from data_processing.dir_vec import DirVec, directions, positions_from_directions, unit
from data_processing.files import PipelineError
from data_processing.kinematics import forward_kinematics
from data_processing.rotations import euler_to_matrix
from ha2g.config import HA2GConfig, make_config

OFFICIAL_TED_LEVELS = [{0, 1, 2, 3, 6}, {4, 7}, {5, 8}]


def levels_of(body):
    return [set(np.flatnonzero(body.levels == k).tolist()) for k in range(1, body.n_levels + 1)]


def named_skeleton(names, parents, offsets):
    rot = ("Zrotation", "Xrotation", "Yrotation")
    return Skeleton(tuple(names), np.array(parents), np.array(offsets, dtype=float),
                    tuple(("Xposition", "Yposition", "Zposition", *rot) if p < 0 else rot
                          for p in parents))


def smplx_upper_body():
    """An SMPL-X-named upper body (metres, Y up), as a BEAT2 BVH export names it."""
    joints = [("pelvis", -1, (0, 1.0, 0)), ("spine1", 0, (0, 0.1, 0)), ("spine2", 1, (0, 0.12, 0)),
              ("spine3", 2, (0, 0.05, 0)), ("neck", 3, (0, 0.2, 0)), ("head", 4, (0, 0.09, 0)),
              ("jaw", 5, (0, -0.02, 0.05))]
    for side, sign in (("left", 1), ("right", -1)):
        base = len(joints)
        joints += [(f"{side}_collar", 3, (0.07 * sign, 0.11, 0)),
                   (f"{side}_shoulder", base, (0.1 * sign, 0.03, 0)),
                   (f"{side}_elbow", base + 1, (0.26 * sign, 0, 0)),
                   (f"{side}_wrist", base + 2, (0.25 * sign, 0, 0))]
    return named_skeleton(*zip(*joints))


def test_demo_levels_run_torso_to_elbows_to_hands():
    body = make_body(demo_skeleton())
    names = dict(zip(body.bone_names(), body.levels))
    assert body.n_bones == 15
    assert body.n_levels == 3
    for side in ("Left", "Right"):
        assert names[f"{side}Shoulder"] == names[f"{side}Arm"] == 1  # clavicle, shoulder
        assert names[f"{side}ForeArm"] == 2  # the elbow
        assert names[f"{side}Hand"] == names[f"{side}Hand_End"] == 3  # wrist and hand
    assert {names[n] for n in ("Spine", "Chest", "Neck", "Head", "Head_End")} == {1}
    assert len(body.pairs) == 8  # consecutive arm bones, both sides


@pytest.mark.parametrize("skeleton", [demo_skeleton(), smplx_upper_body()], ids=["demo", "smplx"])
def test_ted_layout_has_the_official_bones_levels_and_angles(skeleton):
    body = make_body(skeleton, joints="ted")
    assert body.skeleton.names == TED_JOINTS
    assert body.n_bones == 9
    assert levels_of(body) == OFFICIAL_TED_LEVELS
    # the automatic derivation agrees with the official levels on the TED layout
    assert levels_of(make_body(body.skeleton)) == OFFICIAL_TED_LEVELS
    np.testing.assert_array_equal(body.pairs, [[3, 4], [4, 5], [6, 7], [7, 8]])
    np.testing.assert_allclose(body.skeleton.rest_positions()[4],
                               skeleton.rest_positions()[skeleton.names.index(body.sources[4])])


def test_ted_maps_find_the_joints_of_known_skeletons(genea_bvh):
    body = make_body(read_bvh(genea_bvh).skeleton, joints="ted")
    assert body.sources == tuple(options[0] for options in TED_MAPS["genea"])
    assert levels_of(body) == OFFICIAL_TED_LEVELS


def test_ted_preset_on_an_unknown_skeleton_is_a_one_line_error():
    skeleton = named_skeleton(["root", "a", "b"], [-1, 0, 1], [(0, 0, 0), (0, 1, 0), (1, 0, 0)])
    with pytest.raises(PipelineError) as error:
        make_body(skeleton, joints="ted", source="skel.json")
    message = str(error.value)
    assert "\n" not in message
    assert message.startswith("skel.json: the TED preset needs 10")
    assert "--joint-map" in message
    with pytest.raises(PipelineError, match="not found: Neck"):
        make_body(skeleton, joints="ted", joint_map=("root", "Neck", *"abababab"))


def test_a_given_joint_map_and_levels_are_used():
    skeleton = demo_skeleton()
    joint_map = ("Spine", "Neck", "Head", "Head_End", "LeftArm", "LeftForeArm", "LeftHand_End",
                 "RightArm", "RightForeArm", "RightHand_End")
    assert make_body(skeleton, joints="ted", joint_map=joint_map).sources == joint_map
    bones = make_body(skeleton).bone_names()
    body = make_body(skeleton, levels=(bones[:10], bones[10:]))
    assert levels_of(body) == [set(range(10)), set(range(10, 15))]
    with pytest.raises(PipelineError, match="missing: RightHand_End"):
        make_body(skeleton, levels=(bones[:-1],))


def test_holistic_is_one_level_and_every_config_is_checked():
    assert make_body(demo_skeleton(), n_levels=1).n_levels == 1
    assert make_config("ted").joints == "ted"
    assert make_config("ted").fps == 15.0
    assert make_config(ablation="holistic").pose_levels == 1
    with pytest.raises(PipelineError, match="ablation='deep'"):
        HA2GConfig(ablation="deep")
    with pytest.raises(PipelineError, match="seed_frames=40"):
        HA2GConfig(seed_frames=40)
    config = make_config("demo", levels=(("a", "b"), ("c",)))
    assert HA2GConfig.from_dict(config.to_dict()) == config


def test_zero_length_bones_and_world_translations_are_not_bones(genea_bvh):
    skeleton = read_bvh(genea_bvh).skeleton
    bones = {skeleton.names[b] for b in kept_bones(skeleton)}
    assert "b_root" not in bones  # the world node's translating child
    assert "b_r_arm_twist" not in bones  # zero offset from its parent
    assert {"b_r_forearm", "b_r_wrist", "b_spine0"} <= bones
    assert derive_levels(skeleton, kept_bones(skeleton), 3).max() == 3


def random_pose_positions(skeleton, rng, frames=5):
    """Positions of random rotations with the rest bone lengths, root at its rest offset."""
    rotations = euler_to_matrix(rng.uniform(-60, 60, (frames, skeleton.n_joints, 3)), "ZXY")
    translations = np.broadcast_to(skeleton.offsets, (frames, skeleton.n_joints, 3))
    return forward_kinematics(skeleton.parents, rotations, translations)


@pytest.mark.parametrize("joints", ["all", "ted"])
def test_directions_positions_directions_round_trip(joints, rng):
    body = make_body(demo_skeleton(), joints=joints)
    positions = random_pose_positions(body.skeleton, rng)
    dirs = directions(positions, body)
    np.testing.assert_allclose(np.linalg.norm(dirs, axis=-1), 1.0, atol=1e-12)
    np.testing.assert_allclose(positions_from_directions(dirs, body), positions, atol=1e-9)
    random_dirs = unit(rng.normal(size=(2, 3, body.n_bones, 3)))  # any leading dimensions
    again = directions(positions_from_directions(random_dirs, body), body)
    np.testing.assert_allclose(again, random_dirs, atol=1e-9)


def test_dir_vec_subtracts_the_training_mean(rng):
    body = make_body(demo_skeleton())
    positions = random_pose_positions(body.skeleton, rng, frames=8)
    rep = DirVec.fit([positions[:4], positions[4:]], body)
    vectors = rep.encode(positions)
    assert vectors.shape == (8, 45)
    assert vectors.dtype == np.float32
    np.testing.assert_allclose(vectors.mean(axis=0), 0.0, atol=1e-6)
    np.testing.assert_allclose(rep.decode(vectors), positions, atol=1e-4)
    np.testing.assert_allclose(rep.decode(vectors[None])[0], rep.decode(vectors))  # batched
