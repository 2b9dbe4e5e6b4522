import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from data_processing import motion as motion_io
from data_processing.bvh import Skeleton, read_bvh
from data_processing.dataset import DatasetMeta
from data_processing.demo_speaker import demo_skeleton
from data_processing.files import PipelineError
from data_processing.representations import array_kind, pos_vel, rot6d_size, rot6d_vector
from data_processing.rotations import euler_to_matrix, matrix_to_rot6d
from helpers import to_bvh

REPO = Path(__file__).resolve().parents[1]


def make_data_dir(root: Path, skeleton: Skeleton, *, fps: float, motion: str) -> Path:
    """A prepared-dataset directory holding only what export needs: skeleton and meta."""
    root.mkdir(parents=True, exist_ok=True)
    skeleton.save(root / "skeleton.json")
    size = 6 * skeleton.n_joints if motion == "pos_vel" else rot6d_size(skeleton)
    DatasetMeta(fps=fps, features="MFCC", mel_preset="iva19", feature_size=26, n_context=0,
                motion=motion, output_size=size, source_fps=fps, splits={}, files={},
                root=root).save()
    return root


def position_error(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.linalg.norm(a - b, axis=-1).mean())


@pytest.fixture
def demo_motion(demo_raw):
    """A demo speaker recording at the IVA'19 rate (20 fps)."""
    return read_bvh(sorted((demo_raw / "motion").glob("*.bvh"))[0]).resample(20.0)


def test_pos_vel_round_trip_on_the_demo_speaker(demo_motion, tmp_path, capsys):
    skel = demo_motion.skeleton
    data = make_data_dir(tmp_path / "iva19", skel, fps=20.0, motion="pos_vel")
    positions = demo_motion.positions(pin_root=True)  # IVA'19 outputs are root-pinned
    np.save(tmp_path / "pred.npy", pos_vel(positions).astype(np.float32))
    assert to_bvh.main([str(tmp_path / "pred.npy"), str(tmp_path / "out.bvh"),
                        "--data", str(data)]) == 0
    assert "IK fit: mean position error" in capsys.readouterr().out
    back = read_bvh(tmp_path / "out.bvh")
    assert back.skeleton.n_joints == skel.n_joints
    assert back.skeleton.names == skel.names
    assert back.n_frames == demo_motion.n_frames
    assert back.frame_time == pytest.approx(0.05, abs=1e-8)
    # the pinned root stands at its rest offset (the hips' height), the rest is exact
    standing = positions + skel.offsets[skel.root]
    assert skel.offsets[skel.root][1] > 50.0
    assert position_error(back.positions(), standing) < 1e-4  # float32 input, 6 decimals out


def test_only_a_pinned_root_is_stood_up(demo_motion, rng):
    skel = demo_motion.skeleton
    offset = skel.offsets[skel.root]
    pinned = demo_motion.positions(pin_root=True)
    wobbly = pinned + rng.normal(0.0, 0.1, pinned.shape)  # a prediction of a pinned root
    np.testing.assert_allclose(motion_io.stand_pinned_root(wobbly, skel), wobbly + offset)
    moving = demo_motion.positions()
    np.testing.assert_array_equal(motion_io.stand_pinned_root(moving, skel), moving)


def test_positions_txt_and_3d_arrays_are_accepted(demo_motion, tmp_path):
    skel = demo_motion.skeleton
    data = make_data_dir(tmp_path / "iva19", skel, fps=20.0, motion="pos_vel")
    positions = demo_motion.positions(pin_root=True)[:30]
    np.savetxt(tmp_path / "pred.txt", positions.reshape(30, -1))
    np.save(tmp_path / "pred3d.npy", positions)
    for name in ("pred.txt", "pred3d.npy"):
        export = to_bvh.export_bvh(tmp_path / name, tmp_path / f"{name}.bvh", data)
        assert export.fit is not None
        assert export.fit.error < 1e-4
        back = read_bvh(tmp_path / f"{name}.bvh")
        assert position_error(back.positions(), positions + skel.offsets[skel.root]) < 1e-4


def test_round_trip_on_genea(genea_bvh, tmp_path):
    motion = read_bvh(genea_bvh)
    skel = motion.skeleton
    data = make_data_dir(tmp_path / "genea", skel, fps=motion.fps, motion="pos_vel")
    for pin_root in (False, True):
        positions = motion.positions(pin_root=pin_root)[::3]
        np.save(tmp_path / "pred.npy", positions.reshape(len(positions), -1))
        export = to_bvh.export_bvh(tmp_path / "pred.npy", tmp_path / "out.bvh", data)
        back = read_bvh(tmp_path / "out.bvh")
        assert back.skeleton.n_joints == skel.n_joints == 110
        assert len(back.skeleton.rotating) == 83
        assert back.n_frames == len(positions)
        assert back.frame_time == pytest.approx(motion.frame_time, abs=1e-7)
        # the hips (b_root) translate under the world node; the fit is exact up to the file's
        # own bone-length noise (position channels differ from the offsets by <= 0.005 cm)
        assert motion_io.default_translating(skel) == [skel.names.index("b_root")]
        assert export.fit.error < 0.01
        assert position_error(back.positions(), positions) < 0.01


def test_rot6d_is_written_exactly(demo_raw, tmp_path):
    motion = read_bvh(sorted((demo_raw / "motion").glob("*.bvh"))[1]).resample(30.0)
    data = make_data_dir(tmp_path / "a2g", motion.skeleton, fps=30.0, motion="rot6d")
    vectors = rot6d_vector(motion)
    np.save(tmp_path / "a2g.npy", vectors)
    export = to_bvh.export_bvh(tmp_path / "a2g.npy", tmp_path / "out.bvh", data)
    assert export.fit is None
    back = read_bvh(tmp_path / "out.bvh")
    assert back.n_frames == motion.n_frames
    assert back.frame_time == pytest.approx(1 / 30, abs=1e-8)
    np.testing.assert_allclose(rot6d_vector(back), vectors, atol=1e-6)  # 6 decimals in the file
    np.testing.assert_allclose(back.positions(), motion.positions(), atol=1e-4)


def test_wrong_width_is_a_one_line_error_and_writes_nothing(demo_motion, tmp_path):
    data = make_data_dir(tmp_path / "iva19", demo_motion.skeleton, fps=20.0, motion="pos_vel")
    np.save(tmp_path / "bad.npy", np.zeros((10, 50)))
    with pytest.raises(PipelineError, match=r"bad\.npy: 50 values per frame, expected 48 "
                                            r"\(positions\), 96 \(pos_vel\) or 81 \(rot6d\)"):
        to_bvh.main([str(tmp_path / "bad.npy"), str(tmp_path / "out.bvh"), "--data", str(data)])
    assert not (tmp_path / "out.bvh").exists()
    assert list(tmp_path.glob("*.bvh")) == []


def test_cli_exit_status_from_any_directory(demo_motion, tmp_path):
    data = make_data_dir(tmp_path / "iva19", demo_motion.skeleton, fps=20.0, motion="pos_vel")
    np.save(tmp_path / "bad.npy", np.zeros((10, 50)))
    result = subprocess.run([sys.executable, str(REPO / "helpers" / "to_bvh.py"), "bad.npy",
                             "out.bvh", "--data", str(data)],
                            cwd=tmp_path, capture_output=True, text=True, check=False)
    assert result.returncode == 1
    assert result.stderr.strip().count("\n") == 0
    assert result.stderr.startswith("error: bad.npy: 50 values per frame")
    assert not (tmp_path / "out.bvh").exists()


def test_ambiguous_width_uses_the_dataset_representation():
    # a root with two End Sites: 3 J = 9 = 6 R + 3
    skel = Skeleton(names=("Root", "Root_End", "Root_End_"), parents=np.array([-1, 0, 0]),
                    offsets=np.array([[0, 0, 0], [1.0, 0, 0], [0, 1.0, 0]]),
                    channels=(("Xposition", "Yposition", "Zposition", "Zrotation", "Xrotation",
                               "Yrotation"), (), ()),
                    end_site=np.array([False, True, True]))
    assert array_kind(9, skel, preferred="rot6d") == "rot6d"
    assert array_kind(9, skel, preferred="pos_vel", representation="positions") == \
        "positions"
    with pytest.raises(PipelineError, match="fit positions and rot6d"):
        array_kind(9, skel)
    with pytest.raises(PipelineError, match="expected 18 for pos_vel"):
        array_kind(9, skel, representation="pos_vel")


def test_export_of_a_degenerate_pose_on_a_bare_skeleton():
    skel = demo_skeleton()
    with pytest.raises(PipelineError, match="frame rate"):
        motion_io.from_vectors(np.zeros((4, skel.n_joints, 3)), skel, 0.0)
    export = motion_io.from_vectors(np.zeros((4, 3 * skel.n_joints)), skel, 20.0).to_bvh()
    assert export.motion.n_frames == 4  # a degenerate (all-zero) pose still gives a motion
    assert np.isfinite(export.motion.frames).all()


def test_euler_angles_are_continuous_over_time(tmp_path):
    skel = demo_skeleton()
    turn = np.linspace(0.0, 400.0, 81)  # the hips turn past 180 and 360 degrees
    local = np.broadcast_to(np.eye(3), (81, skel.n_joints, 3, 3)).copy()
    local[:, skel.root] = euler_to_matrix(turn[:, None], "Y")
    six = matrix_to_rot6d(local[:, skel.rotating]).reshape(81, -1)
    vectors = np.concatenate([six, np.zeros((81, 3))], axis=1)
    export = motion_io.from_vectors(vectors, skel, 20.0).to_bvh()
    yaw = export.motion.frames[:, 5]  # Hips: X Y Z position, then Z X Y rotation
    assert np.abs(np.diff(yaw)).max() < 10.0
    np.testing.assert_allclose(yaw, turn, atol=1e-9)
    np.testing.assert_allclose(export.motion.local_rotations(), local, atol=1e-12)


# -- the one motion loader ------------------------------------------------------------------------


def test_samples_of_one_sequence_and_single_motions(demo_raw, tmp_path):
    bvh = read_bvh(sorted((demo_raw / "motion").glob("*.bvh"))[0]).resample(30.0)
    data = make_data_dir(tmp_path / "a2g", bvh.skeleton, fps=30.0, motion="rot6d")
    vectors = rot6d_vector(bvh)[:40]
    np.save(tmp_path / "three.npy", np.stack([vectors] * 3))
    samples = motion_io.load_samples(tmp_path / "three.npy", dataset=DatasetMeta.load(data))
    assert len(samples) == 3
    np.testing.assert_allclose(samples[2].positions, bvh.positions()[:40], atol=1e-9)
    np.testing.assert_allclose(samples[0].vectors("rot6d"), vectors, atol=1e-12)
    with pytest.raises(PipelineError, match="3 samples, expected one motion"):
        motion_io.load_motion(tmp_path / "three.npy", dataset=DatasetMeta.load(data))


def test_rotations_resample_like_the_bvh_and_root_relative_uses_the_root(demo_raw):
    bvh = read_bvh(sorted((demo_raw / "motion").glob("*.bvh"))[0])
    motion = motion_io.from_bvh(bvh)
    np.testing.assert_allclose(motion.positions, bvh.positions(), atol=1e-9)
    np.testing.assert_allclose(motion.resample(30.0).positions, bvh.resample(30.0).positions(),
                               atol=1e-9)
    np.testing.assert_allclose(motion.root_relative(), bvh.positions(pin_root=True), atol=1e-9)
    assert motion.resample(bvh.fps) is motion


def test_skeleton_rest_pose_and_translations(tiny_bvh):
    skel = read_bvh(tiny_bvh).skeleton
    np.testing.assert_allclose(skel.rest_positions(),
                               [[0, 90, 0], [0, 100, 0.5], [12, 100, 0.5], [32, 100, 0.5]])
    root = np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    translations = skel.translations(root)
    assert translations.shape == (2, 4, 3)
    np.testing.assert_array_equal(translations[:, skel.root], root)
    np.testing.assert_array_equal(translations[1, 1:], skel.offsets[1:])


def test_directories_match_by_id_and_skip_unfinished_writes(tmp_path):
    for name in ("X_test_audio7.npy", "demo_002.txt", ".partial-123-demo_003.npy", "notes.md"):
        (tmp_path / name).write_text("")
    files = motion_io.motion_files(tmp_path)
    assert sorted(files) == ["7", "demo_002"]
    assert motion_io.match_ids(["demo_002", "7"], files, tmp_path) == \
        [tmp_path / "demo_002.txt", tmp_path / "X_test_audio7.npy"]
    with pytest.raises(PipelineError, match=r"no file for id\(s\) 8; no ground truth for "
                                            r"id\(s\) demo_002"):
        motion_io.match_ids(["7", "8"], files, tmp_path)
    (tmp_path / "gesture7.bvh").write_text("")
    with pytest.raises(PipelineError, match="have the same id '7'"):
        motion_io.motion_files(tmp_path)


def test_save_motion_writes_arrays_and_one_bvh_per_sample(demo_raw, tmp_path):
    bvh = read_bvh(sorted((demo_raw / "motion").glob("*.bvh"))[0])
    motion = motion_io.from_bvh(bvh).crop(20)
    assert motion_io.save_motion(tmp_path / "m.bvh", [motion, motion]) == \
        [tmp_path / "m_sample0.bvh", tmp_path / "m_sample1.bvh"]
    np.testing.assert_allclose(read_bvh(tmp_path / "m_sample1.bvh").positions(),
                               motion.positions, atol=1e-4)
    motion_io.save_motion(tmp_path / "m.npy", motion, kind="pos_vel")
    np.testing.assert_allclose(np.load(tmp_path / "m.npy"), pos_vel(motion.positions),
                               atol=1e-4)
    with pytest.raises(PipelineError, match="do not fit a .txt"):
        motion_io.save_motion(tmp_path / "m.txt", [motion, motion], kind="positions")
    positions_only = motion_io.Motion(motion.positions, motion.fps, motion.skeleton)
    with pytest.raises(PipelineError, match="cannot be written as rot6d"):
        positions_only.vectors("rot6d")
