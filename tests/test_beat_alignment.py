import csv
import math

import numpy as np
import pandas as pd
import pytest
import soundfile

from data_processing import create_vector, prepare_data
from data_processing.audio import load_audio
from data_processing.files import PipelineError
from data_processing.motion import Motion, load_sources
from evaluation import beat_alignment, beats, metrics, scoring

FPS = 20
SR = 16000
SECONDS = 12.0
# Audio onsets on frame times, 1.1 to 1.4 s apart.
ONSETS = np.array([0.8, 2.0, 3.1, 4.5, 5.6, 6.9, 8.0, 9.3, 10.4])


# -- known answers ------------------------------------------------------------------------------


def test_beat_alignment_known_answers():
    assert metrics.beat_alignment(ONSETS, ONSETS, sigma=0.1) == 1.0
    assert metrics.beat_alignment(ONSETS, ONSETS + 0.1, sigma=0.1) == pytest.approx(
        math.exp(-0.5))
    assert metrics.beat_alignment(ONSETS, ONSETS - 0.3, sigma=0.3) == pytest.approx(
        math.exp(-0.5))
    assert metrics.beat_alignment(ONSETS, [], sigma=0.1) == 0.0
    # The nearest beat counts, whatever the order of the beats.
    assert metrics.beat_alignment([1.0], [5.0, 1.05, 0.0], sigma=0.1) == pytest.approx(
        math.exp(-(0.05**2) / 0.02))
    assert metrics.beat_alignment([1.0, 3.0], [1.0], sigma=1.0) == pytest.approx(
        (1 + math.exp(-2.0)) / 2)
    with pytest.raises(ValueError, match="at least one audio onset"):
        metrics.beat_alignment([], [1.0])
    with pytest.raises(ValueError, match="sigma > 0"):
        metrics.beat_alignment([1.0], [1.0], sigma=0.0)


def test_motion_beats_are_the_speed_minima():
    t = np.arange(100) / FPS
    positions = np.zeros((100, 2, 3))
    positions[:, 1, 0] = np.cos(2 * np.pi * t)  # speed |sin(2 pi t)|: zero every 0.5 s
    np.testing.assert_allclose(metrics.motion_beats(positions, FPS), np.arange(1, 10) * 0.5)
    assert metrics.motion_beats(np.zeros((50, 2, 3)), FPS).size == 0  # still: no beats


def test_l1_div_known_answer():
    p = np.array([[1.0, -2.0, 0.5], [0.0, 3.0, -1.0]])  # 2 joints
    q = np.array([[2.0, 0.0, 0.0], [0.0, 0.0, 0.0]])
    assert metrics.l1_div(np.stack([p, -p])) == pytest.approx(np.abs(p).sum())
    assert metrics.l1_div(np.stack([p + 7.0, -p + 7.0]).reshape(2, 6)) == pytest.approx(7.5)
    # Several motions: each about its own mean pose, averaged over all frames (BEAT).
    both = [np.stack([p, -p]), np.stack([q, -q, q, -q])]
    assert metrics.l1_div(both) == pytest.approx((2 * 7.5 + 4 * 2.0) / 6)


# -- synthetic speech and motion ---------------------------------------------------------------


def clicks(times, seconds=SECONDS, sr=SR, seed=0):
    """Fricative-like noise bursts (5 ms attack, 60 ms decay) at the given times."""
    rng = np.random.default_rng(seed)
    signal = 1e-4 * rng.standard_normal(int(seconds * sr))
    t = np.arange(int(0.2 * sr)) / sr
    envelope = np.minimum(t / 0.005, 1.0) * np.exp(-t / 0.06)
    for onset in times:
        start = int(round(onset * sr))
        burst = rng.standard_normal(len(t)) * envelope
        signal[start : start + len(t)] += 0.5 * burst / np.abs(burst).max()
    return signal


def strokes(beat_times, seconds=SECONDS, fps=FPS):
    """A hand moving back and forth (smoothstep) whose speed is zero exactly at the beats."""
    knots = np.concatenate([[0.0], beat_times, [seconds]])
    t = np.arange(int(round(seconds * fps))) / fps
    segment = np.clip(np.searchsorted(knots, t, side="right") - 1, 0, len(knots) - 2)
    u = (t - knots[segment]) / (knots[segment + 1] - knots[segment])
    s = u * u * (3 - 2 * u)
    x = np.where(segment % 2 == 0, s, 1 - s) * 20.0
    positions = np.zeros((len(t), 2, 3))
    positions[:, 0] = [0.0, 100.0, 0.0]  # the root stands still
    positions[:, 1] = positions[:, 0] + np.stack([x, np.full_like(x, 30.0), 0 * x], axis=1)
    return positions


@pytest.fixture
def synthetic(tmp_path):
    """take1.wav with bursts on ONSETS; take1.npy moving on them, and shifted by 0.5 s."""
    audio, aligned, shifted = (tmp_path / d for d in ("audio", "aligned", "shifted"))
    for d in (audio, aligned, shifted):
        d.mkdir()
    soundfile.write(audio / "take1.wav", clicks(ONSETS), SR, subtype="PCM_16")
    np.save(aligned / "take1.npy", strokes(ONSETS).reshape(-1, 6))
    np.save(shifted / "take1.npy", strokes(ONSETS + 0.5).reshape(-1, 6))
    return tmp_path


def test_onsets_of_the_synthetic_speech_are_found(synthetic):
    signal, sr = load_audio(synthetic / "audio" / "take1.wav")
    found = beats.audio_onsets(signal, sr)
    distance = np.abs(found[:, None] - ONSETS[None])
    assert distance.min(axis=0).max() < 0.05  # every burst is found (hop 512: 32 ms)...
    assert distance.min(axis=1).max() < 0.1  # ... and nothing else (at most a hop late)
    backtracked = beats.audio_onsets(signal, sr, backtrack=True)
    assert np.all(backtracked <= found)


def test_aligned_motion_scores_clearly_higher_than_shifted(synthetic, capsys):
    table = synthetic / "beats.csv"
    scores = {}
    for name in ("aligned", "shifted"):
        assert beat_alignment.main(["--motion", str(synthetic / name), "--audio",
                                    str(synthetic / "audio"), "--fps", str(FPS), "--name", name,
                                    "--out", str(table),
                                    "--per-file", str(synthetic / f"{name}.csv")]) == 0
        lines = capsys.readouterr().out.splitlines()
        assert lines[0].startswith("Beat alignment: ")
        assert "sigma 0.1 s" in lines[0]  # HA2G's tolerance by default
        scores[name] = float(lines[0].split()[2])
    # Onsets are found to a hop (32 ms) and beats to a frame: exp(-0.035^2 / (2 * 0.1^2)) = 0.94.
    assert scores["aligned"] > 0.9
    assert scores["shifted"] < 0.01  # beats 0.5 s from onsets: exp(-0.5^2 / (2 * 0.1^2)) ~ 0
    with table.open() as f:
        rows = list(csv.DictReader(f))
    assert [r["name"] for r in rows] == ["aligned", "shifted"]
    assert float(rows[0]["beat_alignment"]) == pytest.approx(scores["aligned"], abs=1e-3)
    assert rows[0]["sigma"] == "0.1"
    per_file = pd.read_csv(synthetic / "aligned.csv")
    assert per_file.loc[0, "audio"].endswith("take1.wav")
    assert per_file.loc[0, "motion_beats"] == len(ONSETS)
    # L1div of the hand's back-and-forth relative to the root, as metrics.l1_div gives it.
    positions = strokes(ONSETS)
    expected = metrics.l1_div(positions - positions[:, :1])
    assert float(rows[0]["l1div"]) == pytest.approx(expected, rel=1e-5)


def test_python_api_with_a_narrower_sigma(synthetic):
    motions = load_sources([synthetic / "aligned" / "take1.npy"], fps=FPS)
    wide = beats.evaluate(motions, audio=[synthetic / "audio"], sigma=0.3)
    narrow = beats.evaluate(motions, audio=[synthetic / "audio"], sigma=0.01)
    assert narrow.beat_alignment < wide.beat_alignment
    assert list(wide.per_file.columns) == ["name", "audio", "seconds", "onsets", "motion_beats",
                                           "beat_alignment", "l1div"]


def test_the_cli_pools_onsets_as_the_scoring_does(synthetic):
    """One convention: the CLI's beat alignment is the report's, pooled over all onsets."""
    audio, aligned = synthetic / "audio", synthetic / "aligned"
    few = ONSETS[:4]  # a second file with fewer onsets, its beats 0.15 s late
    soundfile.write(audio / "take2.wav", clicks(few, seed=1), SR, subtype="PCM_16")
    np.save(aligned / "take2.npy", strokes(few + 0.15).reshape(-1, 6))
    table, per_file = synthetic / "beats.csv", synthetic / "files.csv"
    assert beat_alignment.main(["--motion", str(aligned), "--audio", str(audio), "--fps",
                                str(FPS), "--out", str(table), "--per-file", str(per_file)]) == 0
    cli = float(pd.read_csv(table).loc[0, "beat_alignment"])

    truth = [Motion(m.root_relative(), m.fps, m.skeleton, name=m.name,
                    audio=audio / f"{m.stem}.wav") for m in load_sources([aligned], fps=FPS)]
    protocol = scoring.Protocol("beats", True, ("beat_alignment",), "root-relative positions")
    reference = scoring.Reference(truth, protocol, 0.0, segments=scoring.segment_counts(truth),
                                  onsets=[scoring.truth_onsets(t) for t in truth])
    scored = scoring.segment_scores([t.positions for t in truth], reference).point(reference)
    assert cli == pytest.approx(scored["beat_alignment"], abs=1e-6)
    files = pd.read_csv(per_file)
    pooled = (files["beat_alignment"] * files["onsets"]).sum() / files["onsets"].sum()
    assert cli == pytest.approx(pooled, abs=1e-6)
    assert abs(cli - files["beat_alignment"].mean()) > 0.05  # the per-file mean would differ


def test_unpaired_motion_and_bad_settings_fail_with_one_line(synthetic):
    other = synthetic / "aligned" / "take2.npy"
    np.save(other, strokes(ONSETS).reshape(-1, 6))
    with pytest.raises(PipelineError, match="take2.npy: no speech file for id 'take2'"):
        beat_alignment.main(["--motion", str(synthetic / "aligned"), "--audio",
                             str(synthetic / "audio"), "--fps", str(FPS)])
    with pytest.raises(PipelineError, match="--sigma must be > 0"):
        beat_alignment.main(["--motion", str(other), "--audio", str(synthetic / "audio"),
                             "--fps", str(FPS), "--sigma", "0"])
    with pytest.raises(PipelineError, match="take2.npy: the frame rate of array files"):
        beat_alignment.main(["--motion", str(other), "--audio", str(synthetic / "audio")])


def test_dataset_split_brings_its_own_speech(demo_raw, tmp_path, capsys):
    data = tmp_path / "data"
    prepare_data.prepare(demo_raw, data)
    assert create_vector.main([str(data), "0", "--workers", "1"]) == 0
    capsys.readouterr()
    assert beat_alignment.main(["--motion", f"{data}:dev", f"{data}:test",
                                "--joints", "LeftHand,RightHand",
                                "--per-file", str(tmp_path / "files.csv")]) == 0
    out = capsys.readouterr().out
    assert "(sigma 0.1 s, 2 files)" in out
    per_file = pd.read_csv(tmp_path / "files.csv")
    assert per_file["audio"].str.endswith(".wav").all()
    assert per_file["onsets"].gt(10).all()
    assert per_file["motion_beats"].gt(10).all()
    assert per_file["beat_alignment"].between(0, 1).all()
