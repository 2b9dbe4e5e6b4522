"""Issue 15, defects 1-3, 5-7: bad inputs are one-line errors, valid ones are read.

Each test names the defect it covers (``test_d<N>_...``).
"""

import logging
import subprocess
import sys
import tracemalloc

import numpy as np
import pytest
import soundfile

from data_processing import audio, bvh
from data_processing.bvh import read_bvh
from data_processing.files import PipelineError
from tests.conftest import REPO, TINY_BVH

NAN_BVH = ("HIERARCHY\nROOT a\n{\nOFFSET 0 nan 0\nCHANNELS 3 Xposition Yposition Zposition\n}\n"
           "MOTION\nFrames: 2\nFrame Time: inf\n1e400 0 0\n0 0 0\n")
HANG_BVH = ("HIERARCHY\nROOT a\n{\nOFFSET 0 0 0\nCHANNELS -2\n}\nMOTION\nFrames: 1\n"
            "Frame Time: 0.01\n\n")


def one_line_error(path, match):
    """``read_bvh(path)`` fails with one line that names the file and matches ``match``."""
    with pytest.raises(PipelineError, match=match) as info:
        read_bvh(path)
    message = str(info.value)
    assert message.startswith(str(path))
    assert "\n" not in message
    return message


def write(tmp_path, text, name="x.bvh"):
    path = tmp_path / name
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    return path


def tone(sr=16000, seconds=1.0, channels=1):
    t = np.arange(int(sr * seconds)) / sr
    x = 0.3 * np.sin(2 * np.pi * 220 * t)
    return np.stack([x] * channels, axis=1) if channels > 1 else x


# -- 1. NaN and inf ---------------------------------------------------------------------------


@pytest.mark.parametrize("token", ["nan", "inf", "-inf", "Infinity", "1e400", "NaN", "1_0"])
def test_d1_offset_must_be_a_finite_number(tmp_path, token):
    path = write(tmp_path, TINY_BVH.replace("OFFSET 0.0 10.0 0.5", f"OFFSET 0.0 {token} 0.5"))
    one_line_error(path, "OFFSET")


def test_d1_overflowing_motion_value(tmp_path):
    path = write(tmp_path, TINY_BVH.replace("1.5 90.5 -2.5", "1.5 1e400 -2.5"))
    assert ":25: value inf in column 2" in one_line_error(path, "out of range")


def test_d1_the_issue_file(tmp_path):
    one_line_error(write(tmp_path, NAN_BVH), "OFFSET")
    no_offset = NAN_BVH.replace("OFFSET 0 nan 0", "OFFSET 0 0 0")
    assert ":9: Frame Time 'inf' is not" in one_line_error(write(tmp_path, no_offset), "Frame")


@pytest.mark.parametrize("value", ["inf", "1e400", "1e-300", "1e-320", "100", "3600", "0",
                                   "-0.01", "nan", "0.0001"])
def test_d1_frame_time_out_of_range(tmp_path, value):
    path = write(tmp_path, TINY_BVH.replace("Frame Time: 0.04", f"Frame Time: {value}"))
    message = one_line_error(path, "Frame Time")
    assert message.startswith(f"{path}:23:")


# -- 2. the hang --------------------------------------------------------------------------------


def test_d2_negative_channel_count_fails_instead_of_hanging(tmp_path):
    path = write(tmp_path, HANG_BVH)
    code = f"from data_processing.bvh import read_bvh; read_bvh({str(path)!r})"
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True,
                          text=True)
    assert "PipelineError" in done.stderr
    assert f"{path}:5: CHANNELS needs a count, got '-2'" in done.stderr


@pytest.mark.parametrize(("count", "problem"), [("7", "above 6"), ("+3", "needs a count"),
                                                ("٣", "needs a count")])
def test_d2_channel_count_range(tmp_path, count, problem):
    path = write(tmp_path, TINY_BVH.replace("CHANNELS 3 Xrotation", f"CHANNELS {count} Xrotation"))
    one_line_error(path, problem)


# -- 3. allocation from a header ------------------------------------------------------------------


def test_d3_huge_frame_count_is_bounded_by_the_bytes(tmp_path):
    path = write(tmp_path, TINY_BVH.replace("Frames: 3", "Frames: 10000000000"))
    tracemalloc.start()
    try:
        message = one_line_error(path, "truncated")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 10_000_000
    assert message.startswith(f"{path}:22:")
    assert "hold at most" in message


def test_d3_huge_frame_count_on_a_real_file(genea_bvh, tmp_path):
    text = genea_bvh.read_bytes()
    start = text.index(b"Frames:")
    end = text.index(b"\n", start)
    path = write(tmp_path, text[:start] + b"Frames: 10000000" + text[end:])
    tracemalloc.start()
    try:
        one_line_error(path, "truncated")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 20 * len(text)


@pytest.mark.parametrize("rate", [1, 100, 3999, 1_000_000])
def test_d3_sample_rate_out_of_range(tmp_path, rate):
    path = tmp_path / "a.wav"
    soundfile.write(path, tone(8000), 8000, subtype="PCM_16")
    raw = bytearray(path.read_bytes())
    raw[24:28] = rate.to_bytes(4, "little")  # fmt chunk: sample rate
    path.write_bytes(bytes(raw))
    with pytest.raises(PipelineError, match=f"sample rate {rate} Hz is outside"):
        audio.load_audio(path)


# -- 5. tracebacks where a one-line error is promised ---------------------------------------------


def test_d5_inf_in_a_rotation_channel(tmp_path):
    path = write(tmp_path, TINY_BVH.replace("10.0 20.0 30.0 45.0", "10.0 1e999 30.0 45.0"))
    one_line_error(path, "out of range")


def test_d5_float_wav_with_a_huge_sample(tmp_path):
    x = tone()
    x[100] = 1e300
    path = tmp_path / "f.wav"
    soundfile.write(path, x, 16000, subtype="DOUBLE")
    with pytest.raises(PipelineError, match="sample magnitude 1e\\+300 is beyond"):
        audio.file_features(path, "Spectro", fps=20)


def test_d5_no_frame_at_a_low_fps(tmp_path):
    path = tmp_path / "short.wav"
    soundfile.write(path, tone(seconds=0.2), 16000)
    with pytest.raises(PipelineError, match="make no frame at 2 fps"):
        audio.file_features(path, "MFCC", fps=2)


# -- 6. valid files that were rejected -------------------------------------------------------------


@pytest.mark.parametrize("variant", ["bom", "tab", "spaces", "blank", "crlf", "cr", "utf16"])
def test_d6_valid_variants_are_read(tmp_path, variant):
    text = {
        "bom": "\ufeff" + TINY_BVH,
        "tab": TINY_BVH.replace("Frame Time:", "Frame\tTime:"),
        "spaces": TINY_BVH.replace("Frame Time:", "Frame  Time:"),
        "blank": TINY_BVH.replace("MOTION\n", "MOTION\n  \t \n").replace("Frames: 3\n",
                                                                         "Frames: 3\n \n"),
        "crlf": TINY_BVH.replace("\n", "\r\n"),
        "cr": TINY_BVH.replace("\n", "\r"),
        "utf16": TINY_BVH,
    }[variant]
    raw = text.encode("utf-16") if variant == "utf16" else text.encode()
    motion = read_bvh(write(tmp_path, raw))
    reference = read_bvh(write(tmp_path, TINY_BVH, "ref.bvh"))
    np.testing.assert_array_equal(motion.frames, reference.frames)
    assert motion.frame_time == reference.frame_time


def test_d6_opposite_phase_stereo_uses_one_channel(tmp_path, caplog):
    left = tone()
    path = tmp_path / "s.wav"
    soundfile.write(path, np.stack([left, -left], axis=1), 16000, subtype="FLOAT")
    with caplog.at_level(logging.WARNING):
        signal, _ = audio.load_audio(path)
    assert "opposite phase" in caplog.text
    np.testing.assert_allclose(np.abs(signal), np.abs(left), atol=1e-6)


# -- 7. truncated audio that is not RIFF -----------------------------------------------------------


@pytest.mark.parametrize(("fmt", "subtype", "ext"), [("RF64", "PCM_16", "wav"),
                                                     ("AIFF", "PCM_16", "aiff"),
                                                     ("W64", "PCM_16", "w64"),
                                                     ("MP3", "MPEG_LAYER_III", "mp3")])
def test_d7_truncated_audio_of_any_container(tmp_path, fmt, subtype, ext):
    path = tmp_path / f"a.{ext}"
    soundfile.write(path, tone(seconds=2.0), 16000, format=fmt, subtype=subtype)
    full, _ = audio.load_audio(path)
    assert abs(len(full) - 32000) < 2000
    raw = path.read_bytes()
    path.write_bytes(raw[: len(raw) // 2])
    with pytest.raises(PipelineError, match="truncated"):
        audio.load_audio(path)


def test_d7_float_samples_beyond_full_scale(tmp_path):
    x = tone()
    x[10] = 1e30
    path = tmp_path / "f.wav"
    soundfile.write(path, x.astype(np.float32), 16000, subtype="FLOAT")
    with pytest.raises(PipelineError, match="beyond"):
        audio.load_audio(path)


def test_magnitude_limit_is_the_documented_one():
    assert bvh.MAX_MAGNITUDE == 1e6
    assert audio.MAX_PEAK == 10.0
