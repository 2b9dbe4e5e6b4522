import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from data_processing.files import PipelineError
from data_processing.motion import motion_id
from evaluation import calc_distance, calc_errors, calc_jerk, collect_results, hellinger
from evaluation.iva19_cli import _positions as load_positions
from evaluation.iva19_cli import matched_positions
from evaluation.tables import read_table
from tests.conftest import REPO

J = 4  # joints of the synthetic motions


@pytest.fixture
def layout(tmp_path, rng):
    """data/original/gestureN.txt and data/predicted/model/X_test_audioN.txt, 2 ids."""
    original, predicted = tmp_path / "original", tmp_path / "predicted" / "model"
    original.mkdir(parents=True)
    predicted.mkdir(parents=True)
    truths = {}
    for n, frames in ((1094, 30), (1096, 25)):
        truth = rng.normal(size=(frames, 3 * J))
        truths[n] = truth
        np.savetxt(original / f"gesture{n}.txt", truth)
        shifted = truth.reshape(frames, J, 3) + np.array([3.0, 4.0, 0.0])
        np.savetxt(predicted / f"X_test_audio{n}.txt", shifted.reshape(frames, -1)[:-2])
    return tmp_path, truths


def common(root):
    return ["-o", str(root / "original"), "-p", str(root / "predicted"), "--out",
            str(root / "result")]


def test_ids_pair_predictions_with_ground_truth(layout):
    root, _ = layout
    assert motion_id("x/X_test_audio1094.npy") == motion_id("gesture1094.txt") == "1094"
    assert motion_id("demo_003.txt") == "demo_003"
    pairs = list(matched_positions(root / "original", root / "predicted" / "model"))
    assert [key for key, _, _ in pairs] == ["1094", "1096"]


def test_missing_and_extra_ids_are_errors(layout):
    root, _ = layout
    (root / "predicted" / "model" / "X_test_audio1096.txt").rename(
        root / "predicted" / "model" / "X_test_audio2000.txt")
    with pytest.raises(PipelineError, match="model \\(ground truth in .*original\\): no file for "
                                            "id.* 1096; no ground truth for id.* 2000"):
        list(matched_positions(root / "original", root / "predicted" / "model"))


def test_mismatched_ids_fail_in_one_line_without_output(layout):
    root, _ = layout
    (root / "predicted" / "model" / "X_test_audio1096.txt").unlink()
    done = subprocess.run([sys.executable, str(REPO / "evaluation/calc_errors.py"),
                           *common(root), "-g", "model"], capture_output=True, text=True)
    assert done.returncode == 1
    assert done.stderr.strip().count("\n") == 0
    assert done.stderr.startswith("error:")
    assert "no file for id(s) 1096" in done.stderr
    assert not (root / "result").exists()


def test_velocities_are_stripped_from_double_width(tmp_path, rng):
    vectors = rng.normal(size=(5, 6 * J))
    np.save(tmp_path / "a.npy", vectors)
    positions = load_positions(tmp_path / "a.npy", 3 * J)
    np.testing.assert_allclose(positions.reshape(5, -1)[:, :3], vectors[:, :3])
    with pytest.raises(PipelineError, match="expected joint positions with 9 columns"):
        load_positions(tmp_path / "a.npy", 9)


def test_ape_and_mae_known_values(layout, capsys):
    root, _ = layout
    assert calc_errors.main([*common(root), "-g", "model", "-m", "ape"]) == 0
    assert "APE: 5.00 cm" in capsys.readouterr().out
    table = read_table(root / "result" / "model" / "ape.csv")
    assert list(table.index) == ["1094", "1096", "Average"]
    np.testing.assert_allclose(table.to_numpy(), 5.0)
    assert "in cm" in (root / "result" / "model" / "ape.csv").read_text().splitlines()[0]
    assert calc_errors.main([*common(root), "-g", "model", "-m", "mae", "--units", "mm"]) == 0
    assert "MAE: 2.33 mm" in capsys.readouterr().out


def test_jerk_and_acceleration_per_frame_and_per_second(tmp_path):
    t = np.arange(20.0)[:, None]
    motion = np.hstack([t**2, np.zeros((20, 2))])  # one joint, x = t^2
    for d in ("original", "predicted/model"):
        (tmp_path / d).mkdir(parents=True)
        np.savetxt(tmp_path / d / "a.txt", motion)
    _, truth, predicted = calc_jerk.compute_measure(tmp_path / "original",
                                                    tmp_path / "predicted" / "model",
                                                    "acceleration")
    np.testing.assert_allclose(predicted, [[2.0]])
    _, _, per_second = calc_jerk.compute_measure(tmp_path / "original",
                                                 tmp_path / "predicted" / "model",
                                                 "acceleration", fps=20.0)
    np.testing.assert_allclose(per_second, [[2.0 * 20**2]])
    assert calc_jerk.main([*common(tmp_path), "-g", "model", "-m", "jerk", "--fps", "20"]) == 0
    for who in ("original", "model"):
        text = (tmp_path / "result" / who / "aj.csv").read_text()
        assert "cm/s^3" in text.splitlines()[0]
        assert read_table(tmp_path / "result" / who / "aj.csv").loc["Average"].iloc[0] == \
            pytest.approx(0.0, abs=1e-9)


def test_speed_histograms_and_hellinger(tmp_path):
    t = np.arange(41.0)[:, None]
    slow = np.hstack([0.12 * t, np.zeros((41, 2))])  # 0.12 cm/frame: bin [0.1, 0.15)
    fast = np.hstack([0.52 * t, np.zeros((41, 2))])
    for d, motion in (("original", slow), ("predicted/same", slow), ("predicted/fast", fast)):
        (tmp_path / d).mkdir(parents=True)
        np.savetxt(tmp_path / d / "a.txt", motion)
    assert calc_distance.main([*common(tmp_path), "-g", "same", "fast", "-w", "0.05"]) == 0
    table = read_table(tmp_path / "result" / "same" / "hmd_vel_0.05.csv")
    assert table.loc[0.1, "Total"] == 40
    assert table["Total"].sum() == 40
    assert hellinger.main(["--result-dir", str(tmp_path / "result")]) == 0
    distances = read_table(tmp_path / "result" / "hellinger_distances.csv")["distance"]
    assert distances["same"] == pytest.approx(0.0, abs=1e-9)
    assert distances["fast"] == pytest.approx(1.0)
    first = (tmp_path / "result" / "hellinger_distances.csv").read_text().splitlines()[0]
    assert "Hellinger (IVA'19 bins)" in first  # the name says the convention
    assert "arange(0, 1 + w, w) in units/frame" in first


def test_results_rows_and_table(layout, tmp_path):
    root, _ = layout
    args = [*common(root), "-g", "model"]
    for main, extra in ((calc_errors.main, ["-m", "ape"]), (calc_errors.main, ["-m", "mae"]),
                        (calc_jerk.main, ["-m", "jerk"]), (calc_jerk.main, ["-m", "acceleration"])):
        assert main([*args, *extra]) == 0
    results = tmp_path / "results.csv"
    assert collect_results.main(["append", str(root / "result"), "model", str(results),
                                 "features=MFCC", "dim=8"]) == 0
    row = pd.read_csv(results).iloc[0]
    assert (row["features"], row["dim"], row["APE"]) == ("MFCC", 8, pytest.approx(5.0))
    labels = tmp_path / "labels.csv"
    labels.write_text("name,model\nmodel,baseline\n")
    assert collect_results.main(["table", str(root / "result"), str(labels),
                                 str(tmp_path / "t.csv"), str(tmp_path / "t.md"),
                                 "--title", "T"]) == 0
    markdown = (tmp_path / "t.md").read_text().splitlines()
    assert markdown[0] == "# T"
    assert markdown[2].startswith("| model | APE | MAE | AA | AJ |")
    assert markdown[-1].startswith("| ground truth |")
    with pytest.raises(PipelineError, match="key=value"):
        collect_results.parse_labels(["oops"])

