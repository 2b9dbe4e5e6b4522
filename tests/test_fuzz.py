"""Issue 15: seeded fuzzing of the BVH and audio readers.

Mutated copies of a small BVH, a demo-speaker BVH, the real GENEA samples (when present) and
two WAV files go through the readers. Every outcome must be either a one-line
:class:`PipelineError` that names the file, or an accepted input whose values are finite, in
range, and whose frame count is the one the file declares (for audio: the decoded length
equals the header's, and the features are finite). ``GESTURE_FUZZ_SCALE=K`` runs K times as
many cases; ``GESTURE_FUZZ_REPORT=FILE`` writes the counts as JSON.
"""

import contextlib
import io
import json
import os
import re
from collections import Counter

import numpy as np
import pytest
import soundfile

from data_processing import audio, bvh
from data_processing.bvh import read_bvh
from data_processing.files import PipelineError
from tests.conftest import GENEA_FILES, TINY_BVH

SEED = 15
SCALE = int(os.environ.get("GESTURE_FUZZ_SCALE", "1"))
CASES = {"tiny": 300, "demo": 150, "genea": 30, "wav": 120}  # per base file, at scale 1
GARBAGE = [b"nan", b"NaN", b"inf", b"-inf", b"Infinity", b"1e400", b"-1e400", b"1e-400", b"abc",
           b"1..2", b"--1", b"1e", b"0x10", b"", b"9" * 30, b"1,5", b"+", b"\xd9\xa3", b"1e+",
           b".", b"-", b"1e5000000000", b"\x00", b"1_0", b"1.5e3.2", b"1e308", b"5e-324"]
FRAME_TIMES = [b"inf", b"0", b"-0.01", b"1e-300", b"1e-320", b"100", b"3600", b"nan", b"0.5",
               b"0.0083333", b"abc", b"", b"0.04 0.04", b"1e400"]
NUMBER = re.compile(rb"(?<![\w.+-])[+-]?\d+(?:\.\d*)?(?:[eE][+-]?\d+)?(?![\w.])")

REPORT: dict[str, Counter] = {}


# -- BVH mutations ----------------------------------------------------------------------------


def _lines(raw: bytes) -> list[bytes]:
    return raw.split(b"\n")


def _motion_line(raw: bytes) -> int:
    return _lines(raw).index(b"MOTION") if b"MOTION" in _lines(raw) else 0


def truncate(raw, rng):
    return raw[: int(rng.integers(0, len(raw)))]


def garbage_number(raw, rng):
    numbers = list(NUMBER.finditer(raw, 0, min(len(raw), 200_000)))
    m = numbers[int(rng.integers(len(numbers)))]
    return raw[: m.start()] + GARBAGE[int(rng.integers(len(GARBAGE)))] + raw[m.end():]


def huge_number(raw, rng):
    numbers = list(NUMBER.finditer(raw, 0, min(len(raw), 200_000)))
    m = numbers[int(rng.integers(len(numbers)))]
    value = f"{rng.choice(['', '-'])}{rng.integers(1, 10)}e{rng.integers(5, 420)}".encode()
    return raw[: m.start()] + value + raw[m.end():]


def channel_count(raw, rng):
    counts = list(re.finditer(rb"CHANNELS (\d+)", raw))
    m = counts[int(rng.integers(len(counts)))]
    return raw[: m.start(1)] + str(int(rng.integers(-3, 10))).encode() + raw[m.end(1):]


def braces(raw, rng):
    lines = _lines(raw)
    idx = [i for i, line in enumerate(lines[: _motion_line(raw)]) if line.strip() in (b"{", b"}")]
    i = idx[int(rng.integers(len(idx)))]
    if rng.random() < 0.5:
        del lines[i]
    else:
        lines.insert(i, lines[i])
    return b"\n".join(lines)


def frame_count(raw, rng):
    m = re.search(rb"Frames:\s*(\d+)", raw)
    n = int(m.group(1))
    new = rng.choice([0, 1, n - 1, n + 1, 2 * n, 10**7, 10**12, -1])
    return raw[: m.start(1)] + str(new).encode() + raw[m.end(1):]


def frame_time(raw, rng):
    m = re.search(rb"Frame Time:[ \t]*(\S+)", raw)
    return raw[: m.start(1)] + FRAME_TIMES[int(rng.integers(len(FRAME_TIMES)))] + raw[m.end(1):]


def encoding(raw, rng):
    kind = int(rng.integers(6))
    if kind == 0:
        return b"\xef\xbb\xbf" + raw
    if kind == 1:
        return raw.decode().encode("utf-16")
    if kind == 2:
        return raw.replace(b"\n", b"\r\n")
    if kind == 3:
        return raw.replace(b"\n", b"\r")
    if kind == 4:
        return raw.replace(b"ROOT ", "ROOT Hüfte_".encode("latin-1"), 1)
    i = int(rng.integers(len(raw)))
    return raw[:i] + b"\x00" + raw[i:]


def header(raw, rng):
    kind = int(rng.integers(6))
    swaps = [(b"HIERARCHY", b"HIERACHY"), (b"MOTION\n", b"MOTION\nMOTION\n"),
             (b"ROOT", b"JOINT"), (b"OFFSET", b"OFFSETS"), (b"Frame Time", b"FrameTime"),
             (b"End Site", b"End Sight")]
    old, new = swaps[kind]
    return raw.replace(old, new, 1)


def line_edit(raw, rng):
    lines = _lines(raw)
    i = int(rng.integers(len(lines)))
    kind = int(rng.integers(5))
    if kind == 0:
        del lines[i]
    elif kind == 1:
        lines.insert(i, lines[i])
    elif kind == 2:
        lines.insert(i, b" \t ")
    elif kind == 3:
        j = int(rng.integers(len(lines)))
        lines[i], lines[j] = lines[j], lines[i]
    else:
        lines[i] = lines[i] + b" 0.0" if rng.random() < 0.5 else lines[i].rsplit(b" ", 1)[0]
    return b"\n".join(lines)


def byte_flips(raw, rng):
    data = bytearray(raw)
    for _ in range(int(rng.integers(1, 4))):
        data[int(rng.integers(len(data)))] = int(rng.integers(256))
    return bytes(data)


BVH_MUTATIONS = [truncate, garbage_number, huge_number, channel_count, braces, frame_count,
                 frame_time, encoding, header, line_edit, byte_flips]


def check_accepted_bvh(path, raw: bytes) -> None:
    """An accepted file: finite, in range, as many frames as it declares and holds."""
    motion = read_bvh(path)
    text = raw.decode("utf-16") if raw[:2] in bvh.UTF16_BOMS else raw.decode("utf-8", "replace")
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    motion_block = text[re.search(r"^[ \t]*MOTION[ \t]*$", text, re.MULTILINE).end():]
    declared = int(re.search(r"Frames\s*:\s*(\d+)", motion_block).group(1))
    values = motion_block[re.search(r"Frame\s+Time\s*:[^\n]*", motion_block).end():]
    rows = [line for line in values.split("\n") if line.strip()]
    assert motion.n_frames == declared == len(rows)
    assert np.isfinite(motion.frames).all()
    assert np.isfinite(motion.skeleton.offsets).all()
    assert np.abs(motion.frames).max(initial=0) <= bvh.MAX_MAGNITUDE
    low, high = bvh.FRAME_TIME_RANGE
    assert low <= motion.frame_time <= high
    if motion.n_frames * motion.skeleton.n_joints < 200_000:
        assert np.isfinite(motion.positions()).all()


def reason(error: PipelineError, path) -> str:
    """The kind of problem: the message without file, line, numbers and quoted tokens."""
    message = str(error)
    assert message.startswith(str(path)), message
    assert "\n" not in message, message
    text = message[len(str(path)):].lstrip(":0123456789 ")
    text = re.sub(r"'[^']*'|\"[^\"]*\"|\([^)]*\)", "…", text)
    text = re.sub(r"[-+]?\d[\d.e+-]*(?: s)?", "N", text)
    return " ".join(text.split()[:6])


def fuzz(name: str, base: bytes, mutations, n_cases: int, check, tmp_path, suffix: str):
    """Apply ``n_cases`` seeded mutations to ``base``; tally the outcomes."""
    rng = np.random.default_rng([SEED, *name.encode()])
    counts = REPORT.setdefault(name, Counter())
    failures = []
    for case in range(n_cases):
        mutate = mutations[int(rng.integers(len(mutations)))]
        raw = base
        for _ in range(int(rng.integers(1, 3))):
            inapplicable = (ValueError, IndexError, AttributeError, UnicodeError, RuntimeError)
            with contextlib.suppress(*inapplicable):  # a mutation that does not fit the input
                raw = mutate(raw, rng)
        path = tmp_path / f"{name}_{case}{suffix}"
        path.write_bytes(raw)
        counts["tried"] += 1
        try:
            check(path, raw)
            counts["accepted"] += 1
        except PipelineError as error:
            counts[f"rejected: {reason(error, path)}"] += 1
        except Exception as error:  # noqa: BLE001 - every other outcome is a failure
            failures.append(f"case {case} ({mutate.__name__}): {type(error).__name__}: {error}")
        path.unlink()
    assert not failures, "\n".join(failures[:20])
    assert counts["accepted"] > 0
    assert counts["tried"] > counts["accepted"]


@pytest.fixture(scope="module", autouse=True)
def report():
    yield
    out = os.environ.get("GESTURE_FUZZ_REPORT")
    if out:
        with open(out, "w") as f:
            json.dump({k: dict(v.most_common()) for k, v in REPORT.items()}, f, indent=1)


def test_fuzz_tiny_bvh(tmp_path):
    fuzz("tiny", TINY_BVH.encode(), BVH_MUTATIONS, CASES["tiny"] * SCALE, check_accepted_bvh,
         tmp_path, ".bvh")


def test_fuzz_demo_bvh(demo_raw, tmp_path):
    base = (demo_raw / "motion" / "demo_000.bvh").read_bytes()
    fuzz("demo", base, BVH_MUTATIONS, CASES["demo"] * SCALE, check_accepted_bvh, tmp_path,
         ".bvh")


@pytest.mark.skipif(not GENEA_FILES, reason="GENEA samples not available (../shared/data)")
def test_fuzz_genea_bvh(tmp_path):
    for path in GENEA_FILES:
        fuzz(f"genea_{path.stem}", path.read_bytes(), BVH_MUTATIONS, CASES["genea"] * SCALE,
             check_accepted_bvh, tmp_path, ".bvh")


# -- audio mutations ---------------------------------------------------------------------------


def _patch(raw: bytes, offset: int, value: int, size: int) -> bytes:
    return raw[:offset] + (value % 2 ** (8 * size)).to_bytes(size, "little") + raw[offset + size:]


def wav_truncate(raw, rng):
    return raw[: int(rng.integers(0, len(raw)))]


def wav_sample_rate(raw, rng):
    return _patch(raw, 24, int(rng.choice([0, 1, 100, 3999, 8000, 44100, 10**6, 2**32 - 1])), 4)


def wav_channels(raw, rng):
    return _patch(raw, 22, int(rng.choice([0, 2, 3, 255, 65535])), 2)


def wav_bits(raw, rng):
    return _patch(raw, 34, int(rng.choice([0, 1, 7, 12, 24, 64, 65535])), 2)


def wav_sizes(raw, rng):
    offset = int(rng.choice([4, raw.find(b"data") + 4]))
    return _patch(raw, offset, int(rng.choice([0, 1, 2**32 - 1, len(raw) * 2, len(raw) // 3])), 4)


def wav_tags(raw, rng):
    old = [b"RIFF", b"WAVE", b"fmt ", b"data"][int(rng.integers(4))]
    return raw.replace(old, [b"RIFX", b"JUNK", b"RF64", b"\x00\x00\x00\x00"][int(rng.integers(4))],
                       1)


def wav_samples(raw, rng):
    """New sample values: a float WAV (NaN, inf, huge, silent, opposite phase, short)."""
    data, sr = soundfile.read(_as_file(raw), always_2d=True)
    kind = int(rng.integers(6))
    if kind == 0:
        data[int(rng.integers(len(data)))] = rng.choice([np.nan, np.inf, 1e30, 1e300, -20.0])
    elif kind == 1:
        data[:] = 0.0
    elif kind == 2:
        data = np.concatenate([data, -data], axis=1)
    elif kind == 3:
        data = data[: int(rng.integers(0, 3000))]
    elif kind == 4:
        data *= 1e-5
    else:
        data = data * 8.0
    out = _as_file(b"")
    soundfile.write(out, data, sr, format="WAV", subtype=rng.choice(["FLOAT", "DOUBLE"]))
    return out.getvalue()


def _as_file(raw: bytes) -> io.BytesIO:
    return io.BytesIO(raw)


WAV_MUTATIONS = [wav_truncate, wav_sample_rate, wav_channels, wav_bits, wav_sizes, wav_tags,
                 wav_samples, byte_flips]


def check_accepted_wav(path, raw: bytes) -> None:
    """An accepted file: finite, in range, the declared length, finite features."""
    signal, sr = audio.load_audio(path)
    assert soundfile.info(path).frames == len(signal)
    assert np.isfinite(signal).all()
    assert np.abs(signal).max() <= audio.MAX_PEAK
    low, high = audio.SAMPLE_RATE_RANGE
    assert low <= sr <= high
    feats = audio.file_features(path, "MFCC+Spectro+Pros", fps=20)
    assert np.isfinite(feats).all()


@pytest.mark.parametrize("kind", ["pcm16_mono", "float_stereo"])
def test_fuzz_wav(kind, tmp_path):
    rng = np.random.default_rng(SEED)
    t = np.arange(16000) / 16000
    x = 0.3 * np.sin(2 * np.pi * 180 * t) * (np.sin(2 * np.pi * 2 * t) > 0)
    x += 0.01 * rng.standard_normal(len(t))
    out = _as_file(b"")
    if kind == "pcm16_mono":
        soundfile.write(out, x, 16000, format="WAV", subtype="PCM_16")
    else:
        soundfile.write(out, np.stack([x, 0.5 * x], axis=1), 22050, format="WAV",
                        subtype="FLOAT")
    fuzz(f"wav_{kind}", out.getvalue(), WAV_MUTATIONS, CASES["wav"] * SCALE // 2,
         check_accepted_wav, tmp_path, ".wav")
