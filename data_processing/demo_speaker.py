"""The built-in demo speaker: synthetic speech and gestures whose relations are known.

Real datasets cannot be downloaded here, so the whole pipeline runs on a generated speaker that
is built to make the science checkable:

* **Speech-like audio** (16 kHz): phrases of syllables separated by pauses. Each syllable is a
  glottal pulse train following a pitch contour (declining over the phrase, raised on stressed
  syllables), shaped by the formants of one of five vowels, with an amplitude envelope and
  sometimes a fricative onset burst.
* **Gestures** on an upper-body skeleton (60 fps, Euler ZXY, root translation): during a phrase
  the gesturing arm(s) rise into gesture space; every syllable onset drives a beat stroke of the
  forearm and hand whose size follows the syllable's loudness (stress) and the phrase's
  loudness; the head nods on stressed syllables; the trunk sways with slow noise. Timing and
  amplitude are therefore predictable from the audio.
* **A hidden gesture mode per phrase** -- ``right`` hand, ``left`` hand or ``both`` hands --
  drawn independently of the audio: the same kind of speech has several valid motions (the
  one-to-many mapping that Audio2Gestures models). A deterministic regressor can only average
  the modes; a model that samples should produce all of them.

The sidecar ``hidden_modes.json`` records every phrase (start, end, mode) and syllable, and
:func:`gesture_mode` tells the mode of any motion segment, generated or predicted.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import soundfile
from scipy import signal as sps

from data_processing.bvh import BVHMotion, Skeleton, write_bvh
from data_processing.files import atomic_path, check_range, write_json
from data_processing.kinematics import forward_kinematics
from data_processing.parallel import parallel_map
from data_processing.rotations import euler_to_matrix

FPS = 60
SAMPLE_RATE = 16000
MIN_SECONDS, MAX_SECONDS = 5.0, 3600.0  # a recording holds at least one phrase
MAX_FILES = 10000
GENERATION_COST = 0.025
"""Seconds of work per second of recording generated (measured: 4 files of 30 s in 2.9 s)."""
MODES = ("right", "left", "both")
ORDER = "ZXY"

# Vowel formants (F1, F2, F3) in Hz, after Peterson & Barney (1952).
VOWELS = np.array([[730, 1090, 2440], [270, 2290, 3010], [300, 870, 2240],
                   [530, 1840, 2480], [570, 840, 2410]], dtype=np.float64)
BANDWIDTHS = np.array([80.0, 100.0, 120.0])

# Arm poses as (Z, X, Y) Euler angles in degrees for the LEFT arm; the right arm mirrors them
# (Z and Y negated). "rest": hanging at the side; "raise": the added offset in gesture space;
# "beat": the added offset at the peak of a beat stroke.
ARM_REST = {"Arm": (-80.0, 0.0, -5.0), "ForeArm": (0.0, 0.0, -10.0), "Hand": (0.0, 0.0, 0.0)}
ARM_RAISE = {"Arm": (30.0, 0.0, -45.0), "ForeArm": (0.0, 0.0, -60.0), "Hand": (0.0, 0.0, -10.0)}
ARM_BEAT = {"Arm": (6.0, 0.0, 0.0), "ForeArm": (-25.0, 0.0, -10.0), "Hand": (-20.0, 0.0, 0.0)}
ARM_JOINTS = ("Shoulder", "Arm", "ForeArm", "Hand")


def demo_skeleton() -> Skeleton:
    """The demo speaker's upper-body skeleton (cm, Y up, facing +Z, End Sites included)."""
    joints = [  # name, parent, offset, channels
        ("Hips", None, (0, 95, 0), 6),
        ("Spine", "Hips", (0, 10, 0), 3),
        ("Chest", "Spine", (0, 22, 0), 3),
        ("Neck", "Chest", (0, 22, 0), 3),
        ("Head", "Neck", (0, 9, 0), 3),
        ("Head_End", "Head", (0, 16, 0), 0),
    ]
    for side, sign in (("Left", 1), ("Right", -1)):
        joints += [
            (f"{side}Shoulder", "Chest", (4 * sign, 18, 0), 3),
            (f"{side}Arm", f"{side}Shoulder", (14 * sign, 0, 0), 3),
            (f"{side}ForeArm", f"{side}Arm", (28 * sign, 0, 0), 3),
            (f"{side}Hand", f"{side}ForeArm", (25 * sign, 0, 0), 3),
            (f"{side}Hand_End", f"{side}Hand", (9 * sign, 0, 0), 0),
        ]
    names = [j[0] for j in joints]
    rot = ("Zrotation", "Xrotation", "Yrotation")
    return Skeleton(
        names=tuple(names),
        parents=np.array([-1 if p is None else names.index(p) for _, p, _, _ in joints]),
        offsets=np.array([o for _, _, o, _ in joints], dtype=np.float64),
        channels=tuple(
            ("Xposition", "Yposition", "Zposition", *rot) if c == 6 else rot if c == 3 else ()
            for *_, c in joints
        ),
        end_site=np.array([c == 0 for *_, c in joints]),
    )


# --------------------------------------------------------------------------------------------
# The timeline: phrases, syllables and hidden modes


def _timeline(rng: np.random.Generator, seconds: float) -> dict:
    """Draw phrases (with loudness and hidden mode) and their syllables."""
    phrases, syllables = [], []
    t = rng.uniform(0.4, 0.9)
    while True:
        length = rng.uniform(1.6, 3.6)
        if t + length > seconds - 0.4:
            break
        loudness = rng.uniform(0.6, 1.0)
        phrases.append({"start": round(t, 4), "end": round(t + length, 4),
                        "mode": MODES[rng.integers(len(MODES))], "loudness": round(loudness, 4)})
        s = t
        while True:
            dur = rng.uniform(0.14, 0.26)
            if s + dur > t + length:
                break
            stressed = bool(rng.random() < 0.3)
            syllables.append({
                "start": round(s, 4), "end": round(s + dur, 4), "phrase": len(phrases) - 1,
                "vowel": int(rng.integers(len(VOWELS))), "stressed": stressed,
                "amplitude": round(loudness * (1.0 if stressed else rng.uniform(0.35, 0.55)), 4),
                "burst": bool(rng.random() < 0.5),
            })
            s += dur + rng.uniform(0.01, 0.05)
        t += length + rng.uniform(0.45, 1.1)
    return {"phrases": phrases, "syllables": syllables}


# --------------------------------------------------------------------------------------------
# Audio


def _formant_filter(formants: np.ndarray, sr: int) -> tuple[np.ndarray, np.ndarray]:
    """Cascade of 2-pole resonators as one IIR filter (b, a) with unit gain at DC."""
    r = np.exp(-np.pi * BANDWIDTHS / sr)
    a = np.array([1.0])
    for f, rk in zip(formants, r):
        a = np.convolve(a, [1.0, -2 * rk * np.cos(2 * np.pi * f / sr), rk * rk])
    return np.array([a.sum()]), a


def synthesize_audio(timeline: dict, seconds: float, rng: np.random.Generator,
                     sr: int = SAMPLE_RATE) -> np.ndarray:
    """Render the timeline as speech-like audio ``(round(seconds * sr),)`` in [-1, 1]."""
    n = int(round(seconds * sr))
    t = np.arange(n) / sr
    syl = timeline["syllables"]
    starts = np.array([s["start"] for s in syl])
    ends = np.array([s["end"] for s in syl])
    idx = np.clip(np.searchsorted(starts, t, side="right") - 1, 0, None)
    inside = (t >= starts[idx]) & (t < ends[idx])
    u = np.clip((t - starts[idx]) / (ends[idx] - starts[idx]), 0.0, 1.0)

    # Pitch: declination over each phrase plus a rise on stressed syllables.
    phrase = np.array([s["phrase"] for s in syl])[idx]
    p_start = np.array([p["start"] for p in timeline["phrases"]])[phrase]
    p_end = np.array([p["end"] for p in timeline["phrases"]])[phrase]
    progress = np.clip((t - p_start) / (p_end - p_start), 0.0, 1.0)
    stressed = np.array([s["stressed"] for s in syl])[idx]
    f0 = 105.0 + 35.0 * (1.0 - progress) + 30.0 * stressed * np.sin(np.pi * u)
    phase = np.cumsum(f0 / sr)
    source = sps.lfilter([1.0], [1.0, -0.9], 2.0 * (phase % 1.0) - 1.0)  # tilted sawtooth

    vowel = np.array([s["vowel"] for s in syl])[idx]
    voiced = np.zeros(n)
    for v, formants in enumerate(VOWELS):
        mask = inside & (vowel == v)
        if mask.any():
            b, a = _formant_filter(formants, sr)
            voiced[mask] = sps.lfilter(b, a, source)[mask]
    voiced /= np.max(np.abs(voiced)) + 1e-9

    amplitude = np.array([s["amplitude"] for s in syl])[idx]
    envelope = inside * amplitude * np.sin(np.pi * u) ** 0.6
    burst_on = np.array([s["burst"] for s in syl])[idx] & inside & (t - starts[idx] < 0.04)
    hiss = sps.lfilter(*sps.butter(2, 3000, "highpass", fs=sr), rng.standard_normal(n))
    audio = envelope * voiced + 0.08 * burst_on * amplitude * hiss / (np.std(hiss) + 1e-9)
    audio += 1e-3 * rng.standard_normal(n)  # room noise
    return 0.6 * audio / np.max(np.abs(audio))


# --------------------------------------------------------------------------------------------
# Motion


def _smooth(x: np.ndarray, seconds: float, fps: float) -> np.ndarray:
    """Smooth along time with a Hann window of the given length."""
    width = max(3, int(round(seconds * fps)) | 1)
    window = np.hanning(width)
    return sps.convolve(x, window[:, None] / window.sum() if x.ndim == 2 else window / window.sum(),
                        mode="same")


def _slow_noise(rng: np.random.Generator, n: int, dims: int, seconds: float, fps: float):
    noise = _smooth(rng.standard_normal((n, dims)), seconds, fps)
    return noise / (noise.std(axis=0, keepdims=True) + 1e-9)


def gesture_signals(timeline: dict, n_frames: int, fps: float = FPS) -> dict[str, np.ndarray]:
    """Per-frame drivers of the motion: arm activation per side, beat strokes, nods."""
    t = np.arange(n_frames) / fps
    active = {"Left": np.zeros(n_frames), "Right": np.zeros(n_frames)}
    for p in timeline["phrases"]:
        inside = (t >= p["start"] - 0.15) & (t < p["end"] + 0.1)
        for side in ("Left", "Right"):
            if p["mode"] == "both" or p["mode"] == side.lower():
                active[side][inside] = 1.0
    active = {side: np.clip(_smooth(a, 0.5, fps), 0.0, 1.0) for side, a in active.items()}

    # Beat strokes: an impulse per syllable onset, shaped by a stroke kernel peaking ~80 ms later.
    impulses, nods = np.zeros(n_frames), np.zeros(n_frames)
    for s in timeline["syllables"]:
        k = int(round(s["start"] * fps))
        if k < n_frames:
            impulses[k] += s["amplitude"]
            nods[k] += s["amplitude"] * s["stressed"]
    kt = np.arange(int(0.4 * fps)) / fps
    kernel = np.sin(np.pi * np.clip(kt / 0.3, 0, 1)) ** 2 * (kt < 0.3)
    beat = np.convolve(impulses, kernel)[:n_frames]
    nod = np.convolve(nods, kernel)[:n_frames]
    return {"active_Left": active["Left"], "active_Right": active["Right"],
            "beat": beat, "nod": nod}


def _arm_angles(active: np.ndarray, beat: np.ndarray, mirror: bool) -> dict[str, np.ndarray]:
    """Euler angles ``(T, 3)`` of one arm's joints from its activation and the beat signal."""
    sign = np.array([-1.0, 1.0, -1.0]) if mirror else np.ones(3)
    out = {}
    for joint in ("Arm", "ForeArm", "Hand"):
        angles = (np.array(ARM_REST[joint])
                  + active[:, None] * np.array(ARM_RAISE[joint])
                  + (active * beat)[:, None] * np.array(ARM_BEAT[joint]))
        out[joint] = angles * sign
    return out


def synthesize_motion(timeline: dict, seconds: float, rng: np.random.Generator,
                      fps: float = FPS) -> BVHMotion:
    """Render the timeline as motion on :func:`demo_skeleton` (``round(seconds * fps)`` frames)."""
    skel = demo_skeleton()
    n = int(round(seconds * fps))
    drive = gesture_signals(timeline, n, fps)
    sway = _slow_noise(rng, n, 8, 1.5, fps)
    euler = np.zeros((n, skel.n_joints, 3))  # (Z, X, Y) per joint
    j = {name: i for i, name in enumerate(skel.names)}
    speaking = np.maximum(drive["active_Left"], drive["active_Right"])
    euler[:, j["Spine"]] = np.stack([1.5 * sway[:, 0], 2.0 * sway[:, 1] + 3.0 * speaking,
                                     2.0 * sway[:, 2]], axis=1)
    euler[:, j["Chest"], 1] = 1.0 * sway[:, 3]
    euler[:, j["Neck"], 1] = 2.0 * sway[:, 4]
    euler[:, j["Head"]] = np.stack([2.0 * sway[:, 5], 9.0 * drive["nod"] + 2.0 * sway[:, 6],
                                    4.0 * sway[:, 7]], axis=1)
    for side, mirror in (("Left", False), ("Right", True)):
        arm = _arm_angles(drive[f"active_{side}"], drive["beat"], mirror)
        for joint, angles in arm.items():
            euler[:, j[f"{side}{joint}"]] = angles
        euler[:, j[f"{side}Shoulder"], 0] = (-1 if mirror else 1) * 4.0 * (
            drive[f"active_{side}"] * drive["beat"])
    rotations = euler_to_matrix(euler, ORDER)
    root = np.broadcast_to(skel.offsets[0], (n, 3)).copy()
    root[:, 0] += 1.5 * _slow_noise(rng, n, 1, 3.0, fps)[:, 0]
    return BVHMotion.from_rotations(skel, rotations, root, 1.0 / fps)


# --------------------------------------------------------------------------------------------
# Telling the mode of a motion segment


def _pose_hands(skeleton: Skeleton, active_left: float, active_right: float) -> np.ndarray:
    """Hand positions (2, 3) [left, right], root pinned, of a still pose at given activations."""
    euler = np.zeros((skeleton.n_joints, 3))
    idx = {name: i for i, name in enumerate(skeleton.names)}
    for side, a, mirror in (("Left", active_left, False), ("Right", active_right, True)):
        for joint, angles in _arm_angles(np.array([a]), np.zeros(1), mirror).items():
            euler[idx[f"{side}{joint}"]] = angles[0]
    offsets = skeleton.offsets.copy()
    offsets[skeleton.root] = 0.0
    pos = forward_kinematics(skeleton.parents, euler_to_matrix(euler, ORDER), offsets)
    return pos[[idx["LeftHand"], idx["RightHand"]]]


def hand_activation(positions: np.ndarray, skeleton: Skeleton | None = None) -> np.ndarray:
    """How far each hand is raised into gesture space, per frame ``(T, 2)`` [left, right].

    0 is the rest pose, 1 the full gesture-space pose; computed from root-pinned positions
    ``(T, J, 3)`` of the demo skeleton (any model output converted to positions).
    """
    skeleton = skeleton or demo_skeleton()
    rest = _pose_hands(skeleton, 0.0, 0.0)
    full = _pose_hands(skeleton, 1.0, 1.0)
    idx = [skeleton.names.index("LeftHand"), skeleton.names.index("RightHand")]
    hands = np.asarray(positions)[:, idx] - positions[:, [skeleton.root]]
    span = full - rest
    return np.sum((hands - rest) * span, axis=-1) / np.sum(span * span, axis=-1)


def gesture_mode(positions: np.ndarray, skeleton: Skeleton | None = None,
                 threshold: float = 0.5) -> str:
    """Tell the gesture mode of a motion segment: ``right``, ``left``, ``both`` or ``rest``.

    Parameters
    ----------
    positions : np.ndarray [shape=(T, J, 3)]
        Joint positions of the segment on the demo skeleton (e.g. one phrase).
    threshold : float
        Mean activation above which a hand counts as gesturing.
    """
    left, right = hand_activation(positions, skeleton).mean(axis=0) > threshold
    return {(True, True): "both", (True, False): "left", (False, True): "right",
            (False, False): "rest"}[(bool(left), bool(right))]


# --------------------------------------------------------------------------------------------
# Writing a dataset


def synthesize_session(seed: int | np.random.SeedSequence, seconds: float):
    """One recording: ``(audio, motion, timeline)`` for a seed."""
    rng = np.random.default_rng(seed)
    timeline = _timeline(rng, seconds)
    audio = synthesize_audio(timeline, seconds, rng)
    motion = synthesize_motion(timeline, seconds, rng)
    return audio, motion, timeline


def _write_session(job: tuple[Path, str, np.random.SeedSequence, float]) -> dict:
    out_dir, stem, seed, seconds = job
    audio, motion, timeline = synthesize_session(seed, seconds)
    with atomic_path(out_dir / "speech" / f"{stem}.wav") as tmp:
        soundfile.write(tmp, audio.astype(np.float32), SAMPLE_RATE, subtype="PCM_16", format="WAV")
    write_bvh(out_dir / "motion" / f"{stem}.bvh", motion, precision=4)
    return timeline


def check_size(files: int, seconds: float) -> None:
    """One-line errors for a file count or a length outside the generator's range."""
    check_range("--files", files, 1, MAX_FILES)
    check_range("--seconds", seconds, MIN_SECONDS, MAX_SECONDS)


def write_demo_dataset(out_dir, *, files: int = 24, seconds: float = 30.0, seed: int = 0,
                       workers: int | None = None) -> dict:
    """Write ``OUT_DIR/speech/demo_NNN.wav``, ``OUT_DIR/motion/demo_NNN.bvh`` and the sidecar.

    Files are generated in parallel; the same seed gives the same files. Returns the sidecar
    content (also written to ``OUT_DIR/hidden_modes.json``).
    """
    check_size(files, seconds)
    out_dir = Path(out_dir)
    stems = [f"demo_{i:03d}" for i in range(files)]
    jobs = [(out_dir, stem, s, seconds)
            for stem, s in zip(stems, np.random.SeedSequence(seed).spawn(files))]
    timelines = parallel_map(_write_session, jobs, workers=workers, desc="demo speaker",
                             work_seconds=files * seconds * GENERATION_COST)
    sidecar = {"fps": FPS, "sample_rate": SAMPLE_RATE, "modes": list(MODES), "seed": seed,
               "seconds": seconds, "files": dict(zip(stems, timelines))}
    write_json(out_dir / "hidden_modes.json", sidecar)
    return sidecar
