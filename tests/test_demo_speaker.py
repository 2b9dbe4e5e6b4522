import copy

import numpy as np

from data_processing import demo_speaker as demo
from data_processing import make_demo_dataset
from data_processing.audio import load_audio
from data_processing.bvh import read_bvh
from data_processing.files import read_json


def test_session_is_deterministic_and_aligned():
    a1, m1, t1 = demo.synthesize_session(3, 10.0)
    a2, m2, t2 = demo.synthesize_session(3, 10.0)
    np.testing.assert_array_equal(a1, a2)
    np.testing.assert_array_equal(m1.frames, m2.frames)
    assert t1 == t2
    assert len(a1) == 10 * demo.SAMPLE_RATE
    assert m1.n_frames == 10 * demo.FPS


def test_files_and_sidecar(demo_raw):
    sidecar = read_json(demo_raw / "hidden_modes.json")
    assert sorted(sidecar["files"]) == [f"demo_{i:03d}" for i in range(6)]
    for stem in sidecar["files"]:
        signal, sr = load_audio(demo_raw / "speech" / f"{stem}.wav")
        motion = read_bvh(demo_raw / "motion" / f"{stem}.bvh")
        assert sr == 16000
        assert abs(motion.fps - 60) < 1e-3
        assert abs(len(signal) / sr - motion.duration) < 1e-3


def test_gesture_mode_recovers_hidden_modes():
    modes_seen, correct, total = set(), 0, 0
    for seed in range(4):
        _, motion, timeline = demo.synthesize_session(seed, 30.0)
        positions = motion.positions(pin_root=True)
        for p in timeline["phrases"]:
            segment = positions[int(p["start"] * demo.FPS) : int(p["end"] * demo.FPS)]
            correct += demo.gesture_mode(segment) == p["mode"]
            total += 1
            modes_seen.add(p["mode"])
    assert modes_seen == set(demo.MODES)
    assert correct / total > 0.97


def test_pauses_are_rest_and_the_average_of_modes_is_one_mode():
    _, motion, timeline = demo.synthesize_session(11, 30.0)
    positions = motion.positions(pin_root=True)
    first = timeline["phrases"][0]
    assert demo.gesture_mode(positions[: int((first["start"] - 0.2) * demo.FPS)]) == "rest"
    # What a deterministic regressor learns is the average over the equally likely modes:
    # it reads as a single mode ("both") on every phrase.
    variants = []
    for mode in demo.MODES:
        forced = copy.deepcopy(timeline)
        for p in forced["phrases"]:
            p["mode"] = mode
        rng = np.random.default_rng(0)
        variants.append(demo.synthesize_motion(forced, 30.0, rng).positions(pin_root=True))
    average = np.mean(variants, axis=0)
    for p in timeline["phrases"]:
        segment = average[int(p["start"] * demo.FPS) : int(p["end"] * demo.FPS)]
        assert demo.gesture_mode(segment) == "both"


def test_modes_are_independent_of_the_audio():
    counts = dict.fromkeys(demo.MODES, 0)
    loud = {m: [] for m in demo.MODES}
    for seed in range(10):
        for p in demo.synthesize_session(seed, 30.0)[2]["phrases"]:
            counts[p["mode"]] += 1
            loud[p["mode"]].append(p["loudness"])
    total = sum(counts.values())
    assert all(0.2 < c / total < 0.47 for c in counts.values())
    means = [np.mean(v) for v in loud.values()]
    assert max(means) - min(means) < 0.08


def test_beats_follow_the_audio():
    audio, motion, timeline = demo.synthesize_session(5, 30.0)
    positions = motion.positions(pin_root=True)
    hands = [motion.skeleton.names.index(n) for n in ("LeftHand", "RightHand")]
    hand_speed = np.linalg.norm(np.diff(positions[:, hands], axis=0), axis=-1).max(axis=1)
    onset_frames = [int(s["start"] * demo.FPS) for s in timeline["syllables"]]
    after_onset = np.mean([hand_speed[f + 3 : f + 12].max() for f in onset_frames])
    quiet = np.ones(len(hand_speed), bool)
    for p in timeline["phrases"]:
        quiet[int((p["start"] - 0.5) * demo.FPS) : int((p["end"] + 0.6) * demo.FPS)] = False
    assert after_onset > 5 * hand_speed[quiet].mean()
    stressed = [s for s in timeline["syllables"] if s["stressed"]]
    weak = [s for s in timeline["syllables"] if not s["stressed"]]

    def peak(sylls):
        return np.mean([hand_speed[int(s["start"] * demo.FPS) + 3:
                                   int(s["start"] * demo.FPS) + 12].max() for s in sylls])

    assert peak(stressed) > peak(weak)  # louder syllables, bigger strokes


def test_cli_writes_dataset(tmp_path, capsys):
    assert make_demo_dataset.main([str(tmp_path / "raw"), "--files", "2", "--seconds", "6",
                                   "--workers", "1"]) == 0
    assert len(list((tmp_path / "raw" / "speech").glob("*.wav"))) == 2
    assert len(list((tmp_path / "raw" / "motion").glob("*.bvh"))) == 2
    assert "hidden modes" in capsys.readouterr().out
