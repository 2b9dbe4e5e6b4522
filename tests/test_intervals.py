"""Bootstrap intervals over seeds and segments (evaluation/intervals.py), on hand-made scores."""

import numpy as np
import pytest

from data_processing.files import PipelineError
from evaluation import intervals
from evaluation.intervals import Bootstrap
from evaluation.scoring import Reference, Scores, hellinger_rows


def ratio(name, values, den=None):
    """Scores of one ratio metric ``ape`` with per-(seed, segment) values ``(K, S)``."""
    values = np.asarray(values, dtype=float)
    return Scores(name, {"ape": values}, {"ape": np.ones_like(values) if den is None else
                                          np.asarray(den, dtype=float)})


def test_constant_data_gives_a_point():
    flat = ratio("flat", np.full((3, 7), 2.5))
    assert Bootstrap(7, n_boot=200).interval(flat)["ape"] == (2.5, 2.5, 2.5)


def test_two_segments_known_percentiles():
    # One seed, segments 0 and 1: a replicate is the mean of two draws, 0, 0.5 or 1.
    boot = Bootstrap(2, n_boot=4000)
    mean, lo, hi = boot.interval(ratio("x", [[0.0, 1.0]]))["ape"]
    assert (mean, lo, hi) == (0.5, 0.0, 1.0)
    assert set(np.unique(boot.replicates(ratio("x", [[0.0, 1.0]]))["ape"])) == {0.0, 0.5, 1.0}


def test_ratio_metrics_pool_numerators_and_denominators():
    # Beat alignment style: 3 onsets scoring 1 in segment 0, 1 onset scoring 0 in segment 1.
    scores = ratio("beats", [[3.0, 0.0]], den=[[3.0, 1.0]])
    assert Bootstrap(2).point(scores)["ape"] == pytest.approx(0.75)  # not (1 + 0) / 2
    # A segment without onsets (den 0) is left out, not counted as 0.
    empty = ratio("beats", [[3.0, 0.0]], den=[[3.0, 0.0]])
    assert Bootstrap(2).point(empty)["ape"] == 1.0


def test_seeds_average_and_widen_the_interval():
    segments = np.linspace(0.0, 1.0, 20)
    one = ratio("one", segments[None])
    spread = ratio("spread", np.stack([segments, segments + 2.0]))  # seeds 1 -> 3 apart
    boot = Bootstrap(20, n_boot=1000)
    m1, lo1, hi1 = boot.interval(one)["ape"]
    m2, lo2, hi2 = boot.interval(spread)["ape"]
    assert m1 == pytest.approx(0.5)
    assert m2 == pytest.approx(1.5)
    assert hi2 - lo2 > 2 * (hi1 - lo1)  # seed-to-seed spread enters the interval


def test_paired_difference_of_identical_methods_is_zero():
    rng = np.random.default_rng(3)
    values = rng.normal(size=(3, 12))
    a, b = ratio("a", values), ratio("b", values.copy())
    assert Bootstrap(12).difference(a, b)["ape"] == (0.0, 0.0, 0.0)


def test_pairing_on_segments_removes_the_segment_spread():
    # B is A plus 0.1 on every segment: paired, the difference is exactly 0.1; A's own
    # interval is wide because its segments differ a lot.
    rng = np.random.default_rng(4)
    values = rng.normal(0.0, 5.0, size=(1, 30))
    a, b = ratio("a", values + 0.1), ratio("b", values)
    boot = Bootstrap(30)
    diff = boot.difference(a, b)["ape"]
    assert diff == pytest.approx((0.1, 0.1, 0.1))
    assert intervals.verdict(*diff[1:]) == "> 0"
    _, lo, hi = boot.interval(a)["ape"]
    assert lo < 0.1 < hi
    assert hi - lo > 1.0


def test_seed_indices_are_matched_by_count_and_reproducible():
    boot, again = Bootstrap(5, seed=1), Bootstrap(5, seed=1)
    np.testing.assert_array_equal(boot.segments, again.segments)
    np.testing.assert_array_equal(boot.seeds(3), again.seeds(3))
    assert boot.seeds(3) is boot.seeds(3)
    assert not np.array_equal(boot.seeds(3)[:, :2], boot.seeds(2))  # own stream per count
    assert not np.array_equal(Bootstrap(5, seed=2).segments, boot.segments)
    rng = np.random.default_rng(0)
    scores = ratio("r", rng.normal(size=(3, 5)))
    first = boot.interval(scores)["ape"]
    assert first == again.interval(scores)["ape"]  # bit for bit


def test_hellinger_is_recomputed_from_resampled_histograms():
    truth_hist = np.array([[4.0, 0.0], [0.0, 4.0]])  # segment 0 slow, segment 1 fast
    reference = Reference(truth=[], protocol=None, threshold=1.0, segment_histograms=truth_hist)
    same = Scores("same", {}, {}, histograms=truth_hist[None].copy())
    swapped = Scores("swapped", {}, {}, histograms=truth_hist[::-1][None].copy())
    boot = Bootstrap(2, n_boot=500, reference=reference)
    assert boot.interval(same)["hellinger"] == (0.0, 0.0, 0.0)
    # Pooled over both segments the swapped histograms equal the truth's: H = 0 ...
    mean, lo, hi = boot.interval(swapped)["hellinger"]
    assert mean == pytest.approx(0.0)
    # ... but a replicate drawing segment 0 twice compares slow with fast: H = 1.
    assert hi == pytest.approx(1.0)
    assert lo == pytest.approx(0.0)
    assert hellinger_rows([[1.0, 0.0]], [[0.0, 1.0]])[0] == pytest.approx(1.0)


def test_fgd_is_resampled_over_seeds_only():
    scores = Scores("f", {}, {}, whole={"fgd": np.array([1.0, 1.0, 1.0])})
    assert Bootstrap(9).interval(scores)["fgd"] == (1.0, 1.0, 1.0)
    varied = Scores("f", {}, {}, whole={"fgd": np.array([1.0, 2.0, 3.0])})
    mean, lo, hi = Bootstrap(9).interval(varied)["fgd"]
    assert mean == 2.0
    assert 1.0 <= lo < 2.0 < hi <= 3.0


def test_bad_input_is_a_one_line_error():
    with pytest.raises(PipelineError, match="scored on \\[4\\] segments, the table on 5"):
        Bootstrap(5).interval(ratio("x", np.zeros((1, 4))))
    with pytest.raises(PipelineError, match="bootstrap: expected"):
        Bootstrap(0)


def test_cells_and_verdicts():
    assert intervals.cell(1.23456, 1.0, 1.5) == "1.235 [1.000, 1.500]"
    assert intervals.cell(float("nan"), 0, 0) == "-"
    assert intervals.verdict(-2.0, -1.0) == "< 0"
    assert intervals.verdict(-1.0, 1.0) == "includes 0"
    assert intervals.verdict(float("nan"), 1.0) == "-"


def test_the_iva19_table_summarises_seeds_over_seeds_only():
    import pandas as pd

    from evaluation.collect_results import seed_summary, summary_markdown

    names = pd.Index(["mean_pose", "dae_seed0", "dae_seed1", "dae_seed2"], name="name")
    table = pd.DataFrame({"APE": [9.0, 5.0, 6.0, 7.0], "MAE": [1.0, 1.0, 1.0, 1.0]}, index=names)
    summary = seed_summary(table, n_boot=2000).set_index("method")
    assert summary.loc["dae", "seeds"] == 3
    assert summary.loc["dae", "APE"] == pytest.approx(6.0)
    assert (summary.loc["dae", "APE_lo"], summary.loc["dae", "APE_hi"]) == (5.0, 7.0)
    assert summary.loc["mean_pose", "APE_lo"] == summary.loc["mean_pose", "APE_hi"] == 9.0
    assert "| dae | 3 | 6.000 [5.000, 7.000] | 1.000 [1.000, 1.000] |" in summary_markdown(
        summary.reset_index())
