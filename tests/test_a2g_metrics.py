import copy
import dataclasses

import numpy as np
import pandas as pd
import pytest

from data_processing import demo_speaker
from data_processing.files import PipelineError
from evaluation import a2g_metrics, scoring
from evaluation.metrics import (
    body_scale,
    clips,
    diversity,
    l1,
    l1_distance,
    multimodality,
    pck,
    rest_span,
    sequence_diversity,
)
from tests.a2g_helpers import science_dataset, science_raw, science_run

# -- the metric math of evaluation.metrics, on hand-made motions -------------------------------


def still(*points):
    """A 2-frame motion whose joints stay at ``points``."""
    return np.repeat(np.array(points, dtype=float)[None], 2, axis=0)


def test_l1_and_pck_known_answers():
    truth = still([0, 0, 0], [0, 0, 0])
    predicted = still([1, 2, 3], [0.5, 0, 0])  # per joint L1 norms 6 and 0.5
    assert l1(predicted, truth) == pytest.approx((6 + 0.5) / 2)
    assert l1_distance(predicted, truth) == l1(predicted, truth)
    # Euclidean distances sqrt(14) = 3.74 and 0.5: one joint within 1.0, both within 4.
    assert pck(predicted, truth, threshold=1.0) == pytest.approx(0.5)
    assert pck(predicted, truth, threshold=4.0) == pytest.approx(1.0)
    assert l1(np.zeros((5, 2, 3)), np.ones((3, 2, 3))) == pytest.approx(3.0)  # shorter length


def test_clips_are_non_overlapping():
    motion = np.arange(120, dtype=float)[:, None, None] * np.ones((1, 2, 3))
    cut = clips(motion, 50)
    assert cut.shape == (2, 50, 2, 3)
    assert cut[1, 0, 0, 0] == 50  # the 20 frames after the second clip are dropped


def test_diversity_is_measured_within_a_sequence():
    # Two sequences of two 50-frame clips of one joint standing still.
    a = np.zeros((100, 1, 3))
    a[50:, 0, 0] = 4.0  # clips at x = 0 and x = 4
    c = np.zeros((100, 1, 3))
    c[50:, 0, 1] = 2.0  # clips at the origin and at y = 2
    assert sequence_diversity(a) == pytest.approx(4.0)
    assert diversity([a, c]) == pytest.approx((4.0 + 2.0) / 2)  # never a clip of a vs one of c
    # Far-apart sequences that are each still have no Diversity (pooled clips would say 10).
    still_a, still_b = np.zeros((100, 1, 3)), np.full((100, 1, 3), 10.0)
    assert diversity([still_a, still_b]) == 0.0
    assert np.isnan(sequence_diversity(np.zeros((99, 1, 3))))  # one clip only
    assert diversity([a, np.zeros((60, 1, 3))]) == pytest.approx(4.0)  # too short: left out
    with pytest.raises(ValueError, match="two clips"):
        diversity([np.zeros((60, 1, 3))])


def test_multimodality_known_answer():
    samples = np.zeros((3, 10, 2, 3))
    samples[1, :, 0, 0] = 1.0  # joint 0 moved by 1 in x in sample 1
    samples[2, :, 0, 0] = 3.0
    # Pairwise mean-per-joint L1: |0-1| / 2 joints, |0-3| / 2, |1-3| / 2.
    assert multimodality(samples) == pytest.approx((0.5 + 1.5 + 1.0) / 3)
    assert multimodality(np.repeat(samples[:1], 4, axis=0)) == 0.0


# -- the Audio2Gestures evaluation ---------------------------------------------------------


def test_body_scale_is_the_torso_not_the_arm_span():
    # Demo skeleton at rest: arms along x, 4 + 14 + 28 + 25 + 9 cm each side of the chest.
    skeleton = demo_speaker.demo_skeleton()
    assert body_scale(skeleton) == pytest.approx(54.0)  # hips to neck: 10 + 22 + 22 cm
    assert rest_span(skeleton) == pytest.approx(160.0)  # the T-pose's hand-to-hand span
    renamed = dataclasses.replace(skeleton, names=[n.replace("Neck", "Nape")
                                                   for n in skeleton.names])
    with pytest.raises(PipelineError, match="no joint named like 'neck'"):
        body_scale(renamed)


def test_phrase_modes_counts_distinct_modes():
    _, motion, timeline = demo_speaker.synthesize_session(4, 12.0)
    variants = []
    for mode in ("right", "left", "right"):
        forced = copy.deepcopy(timeline)
        for phrase in forced["phrases"]:
            phrase["mode"] = mode
        rng = np.random.default_rng(0)
        variants.append(demo_speaker.synthesize_motion(forced, 12.0, rng).positions())
    counts = a2g_metrics.phrase_modes(np.stack(variants), timeline["phrases"],
                                      demo_speaker.FPS, motion.skeleton)
    assert counts == [2] * len(timeline["phrases"])
    assert a2g_metrics.phrase_modes(np.stack(variants[:1]), timeline["phrases"],
                                    demo_speaker.FPS, motion.skeleton) == [1] * len(counts)


def test_summarise_best_direction():
    frame = pd.DataFrame({"l1": [3.0, 2.0, 4.0], "pck": [0.5, 0.7, 0.6],
                          "diversity": [1.0, 3.0, 2.0], "multimodality": [0.0, 0.1, 0.2]})
    summary = scoring.summarise(frame)
    assert summary["l1_avg"] == pytest.approx(3.0)
    assert summary["l1_best"] == 2.0  # lower is better
    assert summary["pck_best"] == 0.7
    assert summary["multimodality_best"] == 0.2
    assert "modes_avg" not in summary


def test_cli_writes_the_table(tmp_path_factory, tmp_path, capsys):
    data = science_dataset(tmp_path_factory)
    import predict

    methods = []
    for variant in ("baseline", "full"):
        run = science_run(tmp_path_factory, variant)
        dirs = [tmp_path / variant / f"run{r}" for r in range(2)]  # two sampling runs
        for r, pred in enumerate(dirs):
            assert predict.main([str(run), str(data / "test" / "inputs"), str(pred),
                                 "--format", "npy", "--samples", "3", "--seed", str(r)]) == 0
        methods += ["--method", variant, *map(str, dirs)]
    sidecar = science_raw(tmp_path_factory) / "hidden_modes.json"
    out = tmp_path / "a2g_table"
    assert a2g_metrics.main([str(data), *methods, "--out", str(out),
                             "--modes", str(sidecar)]) == 0
    table = pd.read_csv(out.with_suffix(".csv"), index_col=0)
    assert list(table.index) == [*scoring.REFERENCES, "baseline", "full"]
    assert table.loc["full", "multimodality_avg"] > 0.0
    assert table.loc["full", "l1_best"] <= table.loc["full", "l1_avg"]
    assert np.isnan(table.loc["ground truth", "multimodality_avg"])
    assert table.loc["ground truth", "l1_avg"] == 0.0
    assert table.loc["mismatched truth", "l1_avg"] > table.loc["full", "l1_lo"]
    assert table.loc["full", "l1_lo"] <= table.loc["full", "l1_avg"] <= table.loc["full",
                                                                                  "l1_hi"]
    assert table.loc["full", "multimodality_lo"] > 0.0
    assert table.loc["mismatched truth", "pck_hi"] < 1.0  # the ceiling is the truth's alone
    text = out.with_suffix(".md").read_text()
    assert "| variant | L1 | PCK | Diversity" in text
    assert "| full |" in text
    assert "PCK at 0.2 × the rest pose's torso length (10.8 units)" in text
    compared = pd.read_csv(out.with_name("a2g_table_comparisons.csv"))
    assert compared.loc[0, "a"] == "ground truth"
    assert compared.loc[0, "b"] == "mismatched truth"
    assert "wrote" in capsys.readouterr().out


def test_a_missing_sampling_run_file_is_a_one_line_error(tmp_path_factory, tmp_path):
    data = science_dataset(tmp_path_factory)
    reference = scoring.build_reference(f"{data}:test", protocol="a2g")
    (tmp_path / "run0").mkdir()
    np.save(tmp_path / "run0" / "intruder.npy", np.zeros((2, 10, 9)))
    with pytest.raises(PipelineError, match="run0 \\(method 'v'\\): no file for id"):
        a2g_metrics.evaluate_runs("v", [tmp_path / "run0"], data, reference)
