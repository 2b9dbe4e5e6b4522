import math

import numpy as np
import pytest

from data_processing.dataset import DatasetMeta
from data_processing.files import PipelineError
from data_processing.representations import strip_velocity
from helpers import apply_filters, convert_original, mean_pose, remove_velocity
from tests import iva19_helpers as shared

# -- remove_velocity ----------------------------------------------------------------------------


def test_remove_velocity_keeps_positions(tmp_path, rng):
    vectors = rng.normal(size=(7, 12))
    np.savetxt(tmp_path / "a.txt", vectors)
    np.save(tmp_path / "b.npy", vectors)
    assert remove_velocity.main(["-g", str(tmp_path)]) == 0
    expected = vectors[:, [0, 1, 2, 6, 7, 8]]
    np.testing.assert_allclose(np.loadtxt(tmp_path / "no_vel" / "a.txt"), expected, atol=1e-6)
    np.testing.assert_allclose(np.load(tmp_path / "no_vel" / "b.npy"), expected)


def test_remove_velocity_checks_every_file_first(tmp_path, rng):
    np.savetxt(tmp_path / "a.txt", rng.normal(size=(3, 12)))
    np.savetxt(tmp_path / "b.txt", rng.normal(size=(3, 9)))
    with pytest.raises(PipelineError, match="b.txt: expected pos_vel.*found 9 columns"):
        remove_velocity.remove_velocity(tmp_path)
    assert not (tmp_path / "no_vel").exists()


# -- filters ------------------------------------------------------------------------------------


def one_euro_reference(column, freq=20.0, mincutoff=0.1, beta=0.08, dcutoff=1.0):
    """The original algorithm (Casiez et al.) on ONE column, written plainly."""

    def alpha(cutoff):
        return 1.0 / (1.0 + (1.0 / (2 * math.pi * cutoff)) * freq)

    out, previous_raw, filtered, dx_filtered = [], None, None, 0.0
    for value in column:
        if previous_raw is None:
            filtered = value
        else:
            dx = (value - previous_raw) * freq
            dx_filtered = alpha(dcutoff) * dx + (1 - alpha(dcutoff)) * dx_filtered
            a = alpha(mincutoff + beta * abs(dx_filtered))
            filtered = a * value + (1 - a) * filtered
        previous_raw = value
        out.append(filtered)
    return np.array(out)


def test_one_euro_has_one_state_per_column(rng):
    signal = np.cumsum(rng.normal(size=(50, 3)), axis=0) + np.array([0.0, 100.0, -40.0])
    filtered = apply_filters.one_euro(signal)
    for c in range(3):
        np.testing.assert_allclose(filtered[:, c], one_euro_reference(signal[:, c]), rtol=1e-12)
    np.testing.assert_allclose(apply_filters.one_euro(np.full((10, 2), 3.0)), 3.0)


def test_moving_average_shrinks_at_the_edges():
    x = np.array([[0.0], [1.0], [2.0], [3.0], [10.0]])
    np.testing.assert_allclose(apply_filters.moving_average(x, 3)[:, 0],
                               [0.5, 1.0, 2.0, 5.0, 6.5])
    np.testing.assert_allclose(apply_filters.moving_average(x, 1), x)
    with pytest.raises(ValueError, match="window=4"):
        apply_filters.moving_average(x, 4)


def test_savgol_keeps_a_cubic():
    t = np.linspace(-1, 1, 30)[:, None]
    cubic = np.hstack([t**3 - t, 2 * t**2])
    np.testing.assert_allclose(apply_filters.savgol(cubic, 9, 3), cubic, atol=1e-9)


def test_apply_filters_writes_the_original_directories(tmp_path, rng):
    motion = np.cumsum(rng.normal(size=(40, 6)), axis=0)
    np.savetxt(tmp_path / "a.txt", motion)
    assert apply_filters.main(["-g", str(tmp_path), "-w", "5"]) == 0
    outputs = {d: np.loadtxt(tmp_path / d / "a.txt") for d in
               ("euro", "sma5", "euro_sma5", "savgol9")}
    assert all(o.shape == motion.shape for o in outputs.values())
    np.testing.assert_allclose(outputs["euro_sma5"],
                               apply_filters.moving_average(outputs["euro"], 5), atol=1e-4)
    with pytest.raises(PipelineError, match="odd window"):
        apply_filters.apply_filters(tmp_path, window=4)


# -- ground truth and the mean pose --------------------------------------------------------------


def test_convert_original_matches_the_vectors(tmp_path_factory, tmp_path):
    data = shared.dataset(tmp_path_factory)
    meta = DatasetMeta.load(data)
    assert convert_original.main(["-d", str(data / "test" / "labels"), "-o", str(tmp_path),
                                  "--data-dir", str(data)]) == 0
    for seq_id in meta.splits["test"]:
        bvh = next((data / "test" / "labels").glob(f"{seq_id}*.bvh"))
        positions = np.loadtxt(tmp_path / f"{bvh.stem}.txt")
        expected = strip_velocity(meta.sequence("test", seq_id)["motion"])
        assert positions.shape[1] == expected.shape[1] == 3 * meta.skeleton.n_joints
        n = len(expected)
        np.testing.assert_allclose(positions[:n], expected, atol=1e-3)


def test_convert_original_without_bvh(tmp_path):
    with pytest.raises(PipelineError, match="no .bvh files"):
        convert_original.convert(tmp_path, tmp_path / "out", fps=20.0)


def test_mean_pose_has_the_length_of_each_recording(tmp_path_factory, tmp_path):
    data = shared.dataset(tmp_path_factory)
    meta = DatasetMeta.load(data)
    written = mean_pose.write_mean_pose(data, tmp_path / "mean", fmt="npy")
    assert [p.stem for p in written] == meta.splits["test"]
    for path, seq_id in zip(written, meta.splits["test"]):
        frames = np.load(path)
        assert len(frames) == len(meta.sequence("test", seq_id)["motion"])
        np.testing.assert_allclose(frames, np.tile(meta.stat("motion_mean"), (len(frames), 1)))
