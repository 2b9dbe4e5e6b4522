import numpy as np
import pytest

from data_processing import bvh as bvh_mod
from data_processing.bvh import BVHMotion, read_bvh, write_bvh
from data_processing.demo_speaker import demo_skeleton
from data_processing.files import PipelineError
from data_processing.rotations import euler_to_matrix


def test_tiny_bvh_structure(tiny_bvh):
    motion = read_bvh(tiny_bvh)
    skel = motion.skeleton
    assert skel.names == ("Hips", "Spine", "Arm", "Arm_End")
    assert skel.parents.tolist() == [-1, 0, 1, 2]
    assert skel.end_site.tolist() == [False, False, False, True]
    assert skel.rotation_order(0) == "YXZ"
    assert skel.rotation_order(2) == "ZXY"
    assert skel.rotating.tolist() == [0, 1, 2]
    assert motion.n_frames == 3
    assert motion.frame_time == pytest.approx(0.04)
    np.testing.assert_allclose(skel.offsets[1], [0.0, 10.0, 0.5])
    np.testing.assert_allclose(motion.root_translation()[1], [1.5, 90.5, -2.5])


def test_round_trip_tiny(tiny_bvh, tmp_path):
    first = read_bvh(tiny_bvh)
    write_bvh(tmp_path / "again.bvh", first)
    second = read_bvh(tmp_path / "again.bvh")
    assert second.skeleton.to_dict() == first.skeleton.to_dict()
    np.testing.assert_array_equal(second.frames, first.frames)
    assert second.frame_time == pytest.approx(first.frame_time)


def test_round_trip_genea(genea_bvh, tmp_path):
    first = read_bvh(genea_bvh)
    skel = first.skeleton
    assert len(skel.rotating) == 83
    assert all(len(skel.channels[j]) == 6 for j in skel.rotating)
    assert first.fps == pytest.approx(30.0, rel=1e-3)
    write_bvh(tmp_path / "genea.bvh", first)
    second = read_bvh(tmp_path / "genea.bvh")
    np.testing.assert_allclose(second.frames, first.frames, atol=5e-7)
    np.testing.assert_allclose(second.skeleton.offsets, skel.offsets, atol=5e-7)
    assert second.skeleton.names == skel.names


@pytest.mark.parametrize("order", ["XYZ", "XZY", "YXZ", "YZX", "ZXY", "ZYX"])
def test_any_euler_order_round_trips_rotations(order, rng, tmp_path):
    names = ("Root", "Child", "Child_End")
    channels = (("Xposition", "Yposition", "Zposition") + tuple(f"{a}rotation" for a in order),
                tuple(f"{a}rotation" for a in order), ())
    skel = bvh_mod.Skeleton(names, np.array([-1, 0, 1]),
                            np.array([[0, 1, 0], [0, 2, 0], [0, 3, 0]], float), channels,
                            np.array([False, False, True]))
    rotations = euler_to_matrix(rng.uniform(-170, 170, size=(5, 3, 3)), "XYZ")
    rotations[:, 2] = np.eye(3)
    motion = BVHMotion.from_rotations(skel, rotations, rng.normal(size=(5, 3)), 1 / 60)
    write_bvh(tmp_path / "o.bvh", motion)
    back = read_bvh(tmp_path / "o.bvh")
    np.testing.assert_allclose(back.local_rotations(), rotations, atol=1e-5)
    np.testing.assert_allclose(back.positions(), motion.positions(), atol=1e-4)


def test_demo_skeleton_round_trip(tmp_path):
    skel = demo_skeleton()
    rotations = np.broadcast_to(np.eye(3), (2, skel.n_joints, 3, 3))
    motion = BVHMotion.from_rotations(skel, rotations, None, 1 / 60)
    write_bvh(tmp_path / "d.bvh", motion)
    assert read_bvh(tmp_path / "d.bvh").skeleton.to_dict() == skel.to_dict()


def test_skeleton_json_round_trip(tiny_bvh, tmp_path):
    skel = read_bvh(tiny_bvh).skeleton
    skel.save(tmp_path / "skeleton.json")
    assert bvh_mod.Skeleton.load(tmp_path / "skeleton.json").to_dict() == skel.to_dict()


def _corrupt(tiny_bvh, old, new):
    text = tiny_bvh.read_text()
    assert old in text
    tiny_bvh.write_text(text.replace(old, new, 1))
    return tiny_bvh


@pytest.mark.parametrize(
    ("old", "new", "line", "problem"),
    [
        ("Yrotation Xrotation Zrotation", "Yrotation Wrotation Zrotation", 5, "unknown channel"),
        ("\t\t\t}\n\t\t}\n\t}\n}", "\t\t\t}\n\t\t}\n\t}\n", 19, "not closed"),
        ("OFFSET 12.0 0.0 0.0", "OFFSET 12.0 zero 0.0", 12, "OFFSET needs three numbers"),
        ("Frames: 3", "Frames: three", 22, "Frames"),
        ("1.5 90.5 -2.5", "1.5 abc -2.5", 25, "not a number"),
        ("-5.0 10.0 20.0 30.0 45.0", "-5.0 10.0", 25, "expected 12 channel values, found 9"),
        ("0.0 20.0 -20.0\n", "0.0 20.0\n", 26, "truncated: the last frame has 11 of 12"),
        ("Frames: 3", "Frames: 5", 27, "truncated"),
    ],
)
def test_malformed_bvh_names_file_and_line(tiny_bvh, old, new, line, problem):
    path = _corrupt(tiny_bvh, old, new)
    with pytest.raises(PipelineError, match=problem) as info:
        read_bvh(path)
    message = str(info.value)
    assert message.startswith(f"{path}:{line}:")
    assert "\n" not in message


def test_not_a_bvh(tmp_path):
    path = tmp_path / "x.bvh"
    path.write_text("hello")
    with pytest.raises(PipelineError, match="no MOTION section"):
        read_bvh(path)
    with pytest.raises(PipelineError, match="no such file"):
        read_bvh(tmp_path / "missing.bvh")


def test_write_failure_leaves_nothing(tiny_bvh, tmp_path, monkeypatch):
    motion = read_bvh(tiny_bvh)

    def broken(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(bvh_mod.Path, "write_text", broken)
    out = tmp_path / "out"
    out.mkdir()
    with pytest.raises(OSError, match="disk full"):
        write_bvh(out / "motion.bvh", motion)
    assert list(out.iterdir()) == []


def test_motion_numbers_parse_exactly_like_float(tiny_bvh, rng):
    text = tiny_bvh.read_text()
    header = text[: text.index("1.0 90.0")]
    values = rng.normal(scale=100, size=(3, 12))
    formats = ["%.6f", "%.2f", "%g", "%.3e", "%+.4f", "%.17g", "%.1E"]
    rows = [" ".join(formats[(i + j) % len(formats)] % v for j, v in enumerate(row))
            for i, row in enumerate(values)]
    rows[1] = rows[1].replace(" ", "\t ", 3) + "  "  # tabs and trailing blanks are fine
    tiny_bvh.write_text(header + "\n".join(rows) + "\r\n")
    expected = np.array([[float(t) for t in row.split()] for row in rows])
    np.testing.assert_array_equal(read_bvh(tiny_bvh).frames, expected)


@pytest.mark.parametrize("token", [".5", "5.", "-0", "+3", "1e3", "12345.6789012345678901234"])
def test_number_forms(tiny_bvh, token):
    path = _corrupt(tiny_bvh, "1.5 90.5 -2.5", f"1.5 {token} -2.5")
    assert read_bvh(path).frames[1, 1] == float(token)
