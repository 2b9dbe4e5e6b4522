"""Every animated BVH channel survives every representation (issue: GENEA's b_root)."""

import numpy as np
import pytest

from data_processing import motion as motion_io
from data_processing.bvh import read_bvh, write_bvh
from data_processing.representations import pos_vel, rot6d_size, rot6d_vector, to_positions

# A world root with rotations only, hips whose position channels move away from their
# OFFSET, a spine that translates along one axis only, and an arm with rotations only.
WORLD_BVH = """HIERARCHY
ROOT world
{
\tOFFSET 0.0 0.0 0.0
\tCHANNELS 3 Zrotation Xrotation Yrotation
\tJOINT hips
\t{
\t\tOFFSET 0.0 90.0 0.0
\t\tCHANNELS 6 Xposition Yposition Zposition Zrotation Xrotation Yrotation
\t\tJOINT spine
\t\t{
\t\t\tOFFSET 0.0 10.0 0.0
\t\t\tCHANNELS 4 Yposition Xrotation Yrotation Zrotation
\t\t\tJOINT arm
\t\t\t{
\t\t\t\tOFFSET 15.0 0.0 0.0
\t\t\t\tCHANNELS 3 Zrotation Xrotation Yrotation
\t\t\t\tEnd Site
\t\t\t\t{
\t\t\t\t\tOFFSET 25.0 0.0 0.0
\t\t\t\t}
\t\t\t}
\t\t}
\t}
}
MOTION
Frames: 3
Frame Time: 0.05
5.0 0.0 0.0 3.0 84.5 -2.0 10.0 5.0 0.0 12.5 0.0 0.0 20.0 30.0 0.0 0.0
5.0 0.0 0.0 -4.0 80.0 1.5 20.0 -5.0 15.0 7.25 10.0 5.0 -20.0 45.0 10.0 -10.0
0.0 0.0 0.0 0.5 99.0 6.0 -30.0 0.0 25.0 10.0 0.0 -15.0 5.0 0.0 20.0 -20.0
"""


def assert_same_fk(bvh, tolerance):
    vectors = rot6d_vector(bvh)
    assert vectors.shape == (bvh.n_frames, rot6d_size(bvh.skeleton))
    np.testing.assert_allclose(to_positions(vectors, bvh.skeleton, "rot6d"), bvh.positions(),
                               atol=tolerance)
    motion = motion_io.from_vectors(vectors, bvh.skeleton, bvh.fps)
    np.testing.assert_allclose(motion.positions, bvh.positions(), atol=tolerance)
    np.testing.assert_allclose(motion.vectors("rot6d"), vectors, atol=1e-9)
    positions = to_positions(pos_vel(bvh.positions(pin_root=True)), bvh.skeleton, "pos_vel")
    np.testing.assert_allclose(positions, bvh.positions(pin_root=True), atol=1e-12)
    return motion


def test_translating_joints_of_a_world_root(tmp_path):
    path = tmp_path / "world.bvh"
    path.write_text(WORLD_BVH)
    bvh = read_bvh(path)
    skel = bvh.skeleton
    assert [skel.names[j] for j in skel.translating] == ["world", "hips", "spine"]
    assert rot6d_size(skel) == 6 * 4 + 3 * 3
    translations = skel.translations(bvh.local_translations()[:, skel.translating])
    np.testing.assert_array_equal(translations, bvh.local_translations())
    np.testing.assert_allclose(translations[:, 2], [[0, 12.5, 0], [0, 7.25, 0], [0, 10, 0]])
    motion = assert_same_fk(bvh, 1e-12)

    # and back through the one BVH export path: the same channels, to print precision
    write_bvh(tmp_path / "back.bvh", motion.to_bvh().motion)
    back = read_bvh(tmp_path / "back.bvh")
    np.testing.assert_allclose(back.positions(), bvh.positions(), atol=1e-5)
    np.testing.assert_allclose(back.local_translations(), bvh.local_translations(), atol=1e-6)


def test_only_the_root_translates_in_the_demo_layout(tiny_bvh):
    bvh = read_bvh(tiny_bvh)
    assert bvh.skeleton.translating.tolist() == [bvh.skeleton.root]
    assert rot6d_size(bvh.skeleton) == 6 * 3 + 3
    assert_same_fk(bvh, 1e-12)


def test_genea_round_trip_is_exact(genea_bvh):
    bvh = read_bvh(genea_bvh)
    skel = bvh.skeleton
    hips = skel.names.index("b_root")
    moved = np.linalg.norm(bvh.local_translations()[:, hips] - skel.offsets[hips], axis=-1)
    assert moved.max() > 1.0  # b_root's channels are animated, not its OFFSET
    assert hips in skel.translating
    assert_same_fk(bvh, 1e-9)
    # float32 vectors, as a dataset stores them, stay within the file's printed precision
    vectors = rot6d_vector(bvh).astype(np.float32)
    error = np.linalg.norm(to_positions(vectors, skel, "rot6d") - bvh.positions(), axis=-1)
    assert error.max() == pytest.approx(0.0, abs=1e-4)
