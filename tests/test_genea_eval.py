import numpy as np
import pytest

from data_processing.files import PipelineError
from data_processing.motion import Motion
from evaluation import genea, genea_eval, metrics

FPS = 30.0


def line_motion(values: np.ndarray, fps: float = FPS, name: str = "m", joints: int = 2):
    """A motion whose joints all move along x by ``values`` (T,) cm."""
    positions = np.zeros((len(values), joints, 3))
    positions[:, :, 0] = values[:, None]
    positions[:, 1, 1] = 10.0  # a second joint 10 cm above the first
    return Motion(positions, fps, name=name)


def smooth_motion(rng, frames=300, joints=3, name="m"):
    """A smooth random motion (T, J, 3): sums of slow sines, in cm."""
    t = np.arange(frames) / FPS
    freq = rng.uniform(0.2, 2.0, size=(4, joints, 3))
    phase = rng.uniform(0, 2 * np.pi, size=(4, joints, 3))
    positions = (10 * np.sin(2 * np.pi * freq * t[:, None, None, None] + phase)).sum(axis=1)
    return Motion(positions, FPS, name=name)


# -- known answers -------------------------------------------------------------------------


def test_jerk_and_acceleration_follow_genea_scaling():
    t = np.arange(90) / FPS
    cubic = genea.positions([line_motion(t**3)])  # x = t^3 cm: jerk 6 cm/s^3
    quadratic = genea.positions([line_motion(t**2)])  # acceleration 2 cm/s^2
    assert genea.derivative_average(cubic, FPS, 3) == pytest.approx((6.0, 0.0), abs=1e-6)
    assert genea.derivative_average(quadratic, FPS, 2) == pytest.approx((2.0, 0.0), abs=1e-6)
    # A 60 fps motion is resampled to 30 fps first: the same jerk (its frames fall on 30 fps).
    t60 = np.arange(180) / 60.0
    resampled = genea.positions([line_motion(t60**3, fps=60.0)])
    assert len(resampled[0]) == 90
    assert genea.derivative_average(resampled, FPS, 3)[0] == pytest.approx(6.0, abs=1e-6)
    # Mean and std over sequences: one sequence twice as jerky.
    both = cubic + genea.positions([line_motion(2 * t**3)])
    assert genea.derivative_average(both, FPS, 3) == pytest.approx((9.0, 3.0), abs=1e-6)


def test_speed_histograms_and_hellinger_known_answers():
    t = np.arange(60) / FPS
    slow = genea.positions([line_motion(10.025 * t)])  # 10.025 cm/s (mid-bin), every joint
    fast = genea.positions([line_motion(20.025 * t)])
    bins = genea.Options().bins
    hist = genea.histogram(slow, FPS, bins)
    assert hist.sum() == 59 * 2  # every joint and frame pair counted once (summed over joints)
    assert hist[np.searchsorted(bins, 10.025) - 1] == 118  # all in the bin [10, 10.05) cm/s
    assert metrics.hellinger(hist, hist) == 0.0
    assert metrics.hellinger(hist, genea.histogram(fast, FPS, bins)) == pytest.approx(1.0)
    # Above the last edge (49 cm/s) nothing is counted, as GENEA's np.histogram.
    assert genea.histogram(genea.positions([line_motion(60.0 * t)]), FPS, bins).sum() == 0
    accelerating = genea.positions([line_motion(1.0125 * t**2)])  # 2.025 cm/s^2 (mid-bin)
    acc = genea.histogram(accelerating, FPS, bins, "acceleration")
    assert acc.sum() == 58 * 2
    assert acc[np.searchsorted(bins, 2.025) - 1] == 116


def test_cca_of_a_motion_with_itself_is_one_and_invariant_to_linear_maps(rng):
    motion = smooth_motion(rng).positions
    assert genea.cca_score(motion, motion) == pytest.approx(1.0, abs=1e-6)
    rotation = np.linalg.qr(rng.normal(size=(3, 3)))[0]
    moved = 2.5 * motion @ rotation.T + np.array([100.0, -3.0, 7.0])
    assert genea.cca_score(moved, motion) == pytest.approx(1.0, abs=1e-6)
    noise = rng.normal(size=motion.shape)
    assert genea.cca_score(noise, motion) < 0.5
    # Constant dimensions are dropped; no variation at all gives NaN.
    still = np.zeros_like(motion)
    assert np.isnan(genea.cca_score(still, motion))


# -- the evaluation ------------------------------------------------------------------------


def test_evaluate_natural_against_itself_and_ids(rng):
    natural = [smooth_motion(rng, name=f"dir/{i}.npy") for i in range(3)]
    noisy = [Motion(m.positions + rng.normal(0, 2.0, m.positions.shape), FPS,
                    name=f"gen/X_test_{i}.npy") for i, m in enumerate(natural)][::-1]
    row = genea.evaluate(natural, natural)
    assert set(genea.NAMES) <= set(row)
    assert row["hellinger_speed_genea"] == 0.0
    # GENEA's acceleration bins end at 49 cm/s^2: these motions never accelerate that slowly.
    assert np.isnan(row["hellinger_acceleration_genea"])
    wide = genea.Options(acc_top=5000.0)
    assert genea.evaluate(natural, natural, options=wide)["hellinger_acceleration_genea"] == 0.0
    assert row["cca_genea"] == pytest.approx(1.0, abs=1e-6)
    assert row["cca_global_genea"] == pytest.approx(1.0, abs=1e-6)
    other = genea.evaluate(noisy, natural)  # paired by id (X_test_ prefix dropped), any order
    assert other["jerk_genea"] > 10 * row["jerk_genea"]
    assert other["hellinger_speed_genea"] > 0.5
    assert 0.5 < other["cca_genea"] < 1.0
    with pytest.raises(PipelineError, match="^gen: no motion for id\\(s\\) 2$"):
        genea.evaluate(noisy[1:], natural, source="gen")


def test_cli_table_with_the_natural_row(rng, tmp_path, capsys):
    natural, method, sampled = tmp_path / "natural", tmp_path / "method", tmp_path / "sampled"
    for d in (natural, method, sampled):
        d.mkdir()
    for i in range(2):
        m = smooth_motion(rng).positions
        np.save(natural / f"{i}.npy", m.reshape(len(m), -1))
        np.save(method / f"{i}.npy", (m + rng.normal(0, 1.0, m.shape)).reshape(len(m), -1))
        # (N, T, D): three samples, the first the natural motion itself (it is the one scored)
        np.save(sampled / f"{i}.npy", np.stack([m, m + 5.0, m - 5.0]).reshape(3, len(m), -1))
    out = tmp_path / "genea"
    assert genea_eval.main(["--natural", str(natural), "--method", "noisy", str(method),
                            "--method", "sampled", str(sampled), "--fps", "30",
                            "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "hellinger_speed_genea" in printed
    assert "| natural |" in printed
    table = np.genfromtxt(out.with_suffix(".csv"), delimiter=",", names=True, dtype=None,
                          encoding=None)
    assert list(table["method"]) == ["natural", "noisy", "sampled"]
    assert table["cca_genea"][0] == pytest.approx(1.0, abs=1e-5)
    assert table["hellinger_speed_genea"][1] > 0.0
    assert table["hellinger_speed_genea"][2] == pytest.approx(0.0, abs=1e-6)
    assert table["cca_genea"][2] == pytest.approx(1.0, abs=1e-5)
    with pytest.raises(SystemExit):  # NAME SRC [DATA_DIR]
        genea_eval.main(["--natural", str(natural), "--method", "x"])
    with pytest.raises(PipelineError, match="--bin-width must be > 0"):
        genea_eval.main(["--natural", str(natural), "--method", "x", str(method), "--fps", "30",
                         "--bin-width", "0"])
