import numpy as np
import pandas as pd
import pytest

from data_processing import create_vector, prepare_data
from data_processing.dataset import DatasetMeta
from data_processing.files import PipelineError
from data_processing.motion import load_split
from evaluation import intervals, report, scoring
from evaluation.fgd_extractor import noise_floor, train_extractor
from tests.test_fgd import TINY

RATIOS = (0.5, 0.17, 0.33)  # 6 recordings: 3 train, 1 dev, 2 test


@pytest.fixture(scope="module")
def iva19_data(demo_raw, tmp_path_factory):
    """The recordings as IVA'19 data: pos_vel at 20 fps."""
    out = tmp_path_factory.mktemp("report_iva19")
    prepare_data.prepare(demo_raw, out, ratios=RATIOS)
    assert create_vector.main([str(out), "0", "--workers", "1"]) == 0
    return out


@pytest.fixture(scope="module")
def a2g_data(demo_raw, tmp_path_factory):
    """The same recordings and split as Audio2Gestures data: rot6d at 30 fps."""
    out = tmp_path_factory.mktemp("report_a2g")
    prepare_data.prepare(demo_raw, out, ratios=RATIOS)
    settings = create_vector.VectorSettings(features="Spectro", fps=30.0, mel_preset="a2g")
    create_vector.create_vectors(out, 0, settings, motion="rot6d", workers=1)
    return out


def write_method(directory, data_dir, transform, key="positions"):
    """``<id>.npy`` of ``transform(array, rng)`` for every test sequence of a dataset."""
    meta = DatasetMeta.load(data_dir)
    directory.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for seq_id in meta.splits["test"]:
        array = meta.sequence("test", seq_id)[key]
        np.save(directory / f"{seq_id}.npy", transform(array.reshape(len(array), -1), rng))
    return directory


def row(reference, name, pred_dir, data_dir):
    method = report.load_method(name, pred_dir, data_dir, reference)
    return report.build_table(reference, [method]).loc[name]


def test_the_truth_itself_scores_as_the_ground_truth(iva19_data, tmp_path):
    reference = report.build_reference(f"{iva19_data}:test")
    assert len(reference.truth) == 2
    copy = write_method(tmp_path / "copy", iva19_data, lambda a, rng: a)
    table = report.build_table(reference, [report.load_method("copy", copy, iva19_data,
                                                              reference)])
    truth, same = table.loc[report.TRUTH], table.loc["copy"]
    assert same["ape"] == same["mae"] == same["l1"] == same["hellinger"] == 0.0
    assert same["pck"] == 1.0
    for column in ("acceleration", "jerk", "diversity", "beat_alignment", "l1div"):
        assert same[column] == pytest.approx(truth[column])
    assert np.isnan(same["multimodality"])  # one motion per file


def test_rotations_at_30_fps_and_positions_at_20_fps_agree(iva19_data, a2g_data, tmp_path):
    # Two independent paths to the same motion: slerp to 20 fps then FK (create_vector), and
    # FK of the 30 fps rot6d vectors then linear interpolation to 20 fps (the report).
    reference = report.build_reference(f"{iva19_data}:test")
    rot6d = write_method(tmp_path / "rot6d", a2g_data, lambda a, rng: a, key="rot6d")
    scores = row(reference, "rot6d", rot6d, a2g_data)
    assert scores["ape"] < 0.5  # cm, against a typical hand speed of several cm per frame
    assert scores["pck"] == 1.0


def test_errors_grow_with_noise(iva19_data, tmp_path):
    reference = report.build_reference(f"{iva19_data}:test")
    rows = [row(reference, f"noise{std}", write_method(
        tmp_path / f"noise{std}", iva19_data,
        lambda a, rng, s=std: a + rng.normal(0.0, s, a.shape)), iva19_data) for std in (0.5, 2.0)]
    low, high = rows
    for column in ("ape", "mae", "l1", "hellinger", "jerk"):
        assert 0.0 < low[column] < high[column], column
    assert high["pck"] <= low["pck"] <= 1.0


def test_multimodality_of_samples_has_a_known_answer(iva19_data, tmp_path):
    reference = report.build_reference(f"{iva19_data}:test")
    n_joints = DatasetMeta.load(iva19_data).skeleton.n_joints

    def two_samples(array, rng):
        shifted = array.reshape(len(array), -1, 3).copy()
        shifted[:, 1:, 0] += 3.0  # every joint but the root: the root-relative motion changes
        return np.stack([array, shifted.reshape(len(array), -1)])

    scores = row(reference, "two", write_method(tmp_path / "two", iva19_data, two_samples),
                 iva19_data)
    assert scores["multimodality"] == pytest.approx(3.0 * (n_joints - 1) / n_joints)
    assert scores["ape"] == 0.0  # sample 0 is the one scored against the truth


def test_missing_or_extra_ids_are_one_line_errors(iva19_data, tmp_path):
    reference = report.build_reference(f"{iva19_data}:test")
    pred = write_method(tmp_path / "pred", iva19_data, lambda a, rng: a)
    first = sorted(pred.iterdir())[0]
    first.rename(pred / "intruder.npy")
    with pytest.raises(PipelineError, match=r"pred \(method 'pred'\): no file for id\(s\) .*; "
                                            r"no ground truth for id\(s\) intruder"):
        report.load_method("pred", pred, iva19_data, reference)
    with pytest.raises(PipelineError, match="DATA_DIR:SPLIT"):
        report.build_reference(str(iva19_data))
    broken = write_method(tmp_path / "broken", iva19_data, lambda a, rng: a * np.nan)
    with pytest.raises(PipelineError, match=r"broken/.*\.npy: contains NaN"):
        report.load_method("broken", broken, iva19_data, reference)


def test_cli_writes_the_report_with_fgd_plots_seeds_and_comparisons(iva19_data, a2g_data,
                                                                    tmp_path):
    extractor = tmp_path / "extractor"
    train_extractor(iva19_data, extractor, seed=0, **TINY)
    copy = write_method(tmp_path / "copy", iva19_data, lambda a, rng: a)
    noisy = write_method(tmp_path / "noisy", iva19_data,
                         lambda a, rng: a + rng.normal(0.0, 3.0, a.shape))
    noisy2 = write_method(tmp_path / "noisy2", iva19_data,
                          lambda a, rng: a + rng.normal(0.0, 3.0, a.shape) + 0.5)
    rot6d = write_method(tmp_path / "rot6d", a2g_data, lambda a, rng: a, key="rot6d")
    out = tmp_path / "results" / "report"
    assert report.main(["--truth", f"{iva19_data}:test", "--fgd", str(extractor),
                        "--out", str(out), "--boot", "300",
                        "--method", "copy", str(copy), str(iva19_data),
                        "--method", "noisy", str(noisy), str(iva19_data),
                        "--method", "noisy", str(noisy2), str(iva19_data),  # a second seed
                        "--method", "A2G data", str(rot6d), str(a2g_data),
                        "--compare", "noisy", "copy"]) == 0
    table = pd.read_csv(out.with_suffix(".csv"), index_col="method")
    assert list(table.index) == [*scoring.REFERENCES, report.FLOOR, "copy", "noisy", "A2G data"]
    assert table.loc["noisy", "seeds"] == 2
    assert table.loc["copy", "seeds"] == 1
    # The noise floor: FGD between two halves of the truth, a value without seeds or interval.
    floor = noise_floor(extractor, load_split(iva19_data, "test"))
    assert table.loc[report.FLOOR, "fgd"] == pytest.approx(floor[0], rel=1e-4)
    assert table.loc[report.FLOOR, ["seeds", "fgd_lo", "ape"]].isna().all()
    assert table.loc[report.TRUTH, "fgd"] == pytest.approx(0.0, abs=1e-6)
    assert table.loc["copy", "fgd"] == pytest.approx(0.0, abs=1e-6)
    assert table.loc["noisy", "fgd"] > 10 * table.loc["A2G data", "fgd"]
    assert table.loc["noisy", "ape_lo"] <= table.loc["noisy", "ape"] <= table.loc["noisy",
                                                                                  "ape_hi"]
    assert table.loc["noisy", "ape_lo"] < table.loc["noisy", "ape_hi"]  # two seeds differ
    compared = pd.read_csv(out.with_name("report_comparisons.csv"))
    first = compared.iloc[0]
    assert (first["a"], first["b"]) == (scoring.TRUTH, scoring.MISMATCHED)
    ape = compared[(compared["a"] == "noisy") & (compared["metric"] == "ape")].iloc[0]
    assert ape["verdict"] == "> 0"
    assert ape["better"] == "copy"
    text = out.with_suffix(".md").read_text()
    assert "| method | seeds | APE | MAE |" in text
    assert "| noisy | 2 |" in text
    assert "mismatched truth" in text
    assert "torso length" in text
    assert "sigma 0.1 s" in text
    assert "| noisy − copy | APE |" in text
    assert f"| {report.FLOOR} | - | - |" in text
    assert f"FGD noise floor (row `{report.FLOOR}`): {floor[0]:.3f}" in text
    for suffix in ("_metrics.png", "_speed.png"):
        png = out.with_name("report" + suffix)
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert f"]({png.name})" in text
    assert not list(out.parent.glob(".partial-*"))
    with pytest.raises(PipelineError, match="given twice"):
        report.main(["--truth", f"{iva19_data}:test", "--method", "a", str(copy), str(iva19_data),
                     "--method", "a", str(copy), str(iva19_data)])
    with pytest.raises(PipelineError, match="reference row"):
        report.main(["--truth", f"{iva19_data}:test", "--method", scoring.MISMATCHED, str(copy),
                     str(iva19_data)])
    with pytest.raises(PipelineError, match="--compare: no method 'nobody'"):
        report.main(["--truth", f"{iva19_data}:test", "--method", "a", str(copy), str(iva19_data),
                     "--compare", "a", "nobody", "--out", str(tmp_path / "x")])


def test_reference_rows_are_the_floor_and_the_ceiling(iva19_data):
    reference = report.build_reference(f"{iva19_data}:test")
    rows = {m.name: scoring.score_method(m, reference)
            for m in scoring.reference_methods(reference)}
    truth, other, still = (rows[name] for name in scoring.REFERENCES)
    assert truth == pytest.approx(scoring.truth_row(reference), nan_ok=True)
    assert truth["ape"] == 0.0
    assert truth["pck"] == 1.0
    # Another file's truth: natural motion, so the same motion statistics (the two test files
    # swapped, equal lengths), but far from this file's truth and out of step with its speech.
    assert other["ape"] > 1.0
    assert other["pck"] < 1.0
    for column in ("acceleration", "jerk", "diversity", "l1div"):
        assert other[column] == pytest.approx(truth[column]), column
    assert other["hellinger"] == pytest.approx(0.0, abs=1e-9)
    # The still training mean pose: no motion at all, no motion beats.
    for column in ("jerk", "diversity", "l1div"):
        assert still[column] == pytest.approx(0.0, abs=1e-9), column
    assert still["beat_alignment"] == 0.0
    assert still["ape"] > 0.0


def test_a_method_equal_to_the_truth_has_the_truth_row(iva19_data, tmp_path):
    reference = report.build_reference(f"{iva19_data}:test")
    copies = [report.load_method("copy", write_method(tmp_path / f"copy{k}", iva19_data,
                                                      lambda a, rng: a), iva19_data, reference)
              for k in range(2)]  # two seeds, both the truth
    scores = scoring.score_rows(reference, {"copy": copies})
    boot = intervals.Bootstrap(reference.n_segments, n_boot=200, reference=reference)
    table = intervals.interval_table(scores, boot)
    columns = [c for c in table.columns if c != "seeds" and not c.startswith("multimodality")]
    np.testing.assert_allclose(table.loc["copy", columns].to_numpy(dtype=float),
                               table.loc[report.TRUTH, columns].to_numpy(dtype=float))
    compared = intervals.comparisons(scores, [("copy", report.TRUTH)], boot)
    same = compared[compared["a"] == "copy"]
    assert (same["difference"] == 0.0).all()
    assert (same["verdict"] == "includes 0").all()


def test_body_scale_is_the_torso_and_segments_cut_the_files(iva19_data):
    reference = report.build_reference(f"{iva19_data}:test", segment=4.0)
    assert reference.segments == [3, 3]  # 12-s files, 4-s segments
    assert reference.n_segments == 6
    assert reference.threshold == pytest.approx(0.2 * 54.0)  # root to neck, not the arm span
    assert scoring.frame_segments(7, 3).tolist() == [0, 0, 0, 1, 1, 2, 2]


def test_the_two_protocols_agree_on_root_pinned_motion(iva19_data, tmp_path):
    # IVA'19 positions are root-pinned: global and root-relative positions are the same, so
    # the report's and the Audio2Gestures protocol give the same L1/PCK/Diversity/MM.
    def two_samples(array, rng):
        def noise():
            values = rng.normal(0.0, 1.0, array.shape)
            values[:, :6] = 0.0  # pos_vel of the root (joint 0): it stays pinned
            return values

        noisy = array + noise()
        return np.stack([noisy, noisy + noise()])

    pred = write_method(tmp_path / "pred", iva19_data, two_samples)
    rows = {}
    for protocol in scoring.PROTOCOLS:
        reference = report.build_reference(f"{iva19_data}:test", protocol=protocol)
        rows[protocol] = report.build_table(reference, [report.load_method(
            "pred", pred, iva19_data, reference)]).loc["pred"]
    for column in ("l1", "pck", "multimodality"):
        assert rows["a2g"][column] == pytest.approx(rows["report"][column], rel=1e-9), column
    assert "ape" not in rows["a2g"]


def test_the_a2g_protocol_keeps_the_root_translation(a2g_data, tmp_path):
    # The same motion shifted rigidly: no error root-relative, an error of the shift globally.
    shift = write_method(tmp_path / "shift", a2g_data, lambda a, rng: a + 2.0)  # positions
    scores = {}
    for protocol in scoring.PROTOCOLS:
        reference = report.build_reference(f"{a2g_data}:test", protocol=protocol)
        scores[protocol] = row(reference, "shift", shift, a2g_data)
    assert scores["report"]["l1"] == pytest.approx(0.0, abs=1e-6)
    assert scores["a2g"]["l1"] == pytest.approx(6.0)  # |2| + |2| + |2| per joint


def test_unknown_protocol_is_a_one_line_error(iva19_data):
    with pytest.raises(PipelineError, match="unknown protocol 'paper' \\(use report, a2g\\)"):
        report.build_reference(f"{iva19_data}:test", protocol="paper")


def test_the_same_inputs_give_bit_identical_tables(iva19_data, tmp_path):
    noisy = write_method(tmp_path / "noisy", iva19_data,
                         lambda a, rng: a + rng.normal(0.0, 1.0, a.shape))
    outs = [tmp_path / f"out{k}" / "report" for k in range(2)]
    for out in outs:
        assert report.main(["--truth", f"{iva19_data}:test", "--out", str(out), "--boot", "200",
                            "--method", "noisy", str(noisy), str(iva19_data)]) == 0
    for suffix in (".csv", "_comparisons.csv"):
        first, second = (out.with_name("report" + suffix).read_bytes() for out in outs)
        assert first == second, suffix
