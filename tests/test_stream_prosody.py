"""Streamed prosody (:class:`helpers.stream_features.ProsodyStream`) against offline prosody.

Praat's pitch tracker reads the whole file, so a stream is not exact: these tests assert the
tolerance that ``docs/streaming.md`` ("Prosody") states, on the demo speaker's recordings and
on a synthetic tone sweep with silences.
"""

from pathlib import Path

import numpy as np
import pytest
import soundfile

from data_processing.audio import prosody, speech_features
from data_processing.files import PipelineError
from data_processing.kinematics import frame_count
from helpers.stream_features import (
    PROSODY_HISTORY,
    PROSODY_LOOKAHEAD,
    FeatureStream,
    ProsodyStream,
)

FPS = 20
CHUNKS_MS = (100, 37)
CLOSE = 0.02
"""A frame is close to offline within this fraction of the column's std over the file."""
FRACTION = np.array([1.0, 0.98, 0.95, 0.85])
"""Least fraction of close frames per column: energy, d energy, pitch, d pitch."""
MAX_ERROR = np.array([0.01, 5e-4, 0.2, 0.03])
"""Largest ``|stream - offline|`` per column, in the features' units."""
VOICED_AGREEMENT = 0.99
"""Least fraction of frames that stream and offline both call voiced (pitch > 0) or not."""


def assert_within_tolerance(frames: np.ndarray, offline: np.ndarray) -> None:
    """``frames`` ``(T, 4)`` meet the stated tolerance against ``offline`` ``(T, 4)``."""
    assert frames.shape == offline.shape
    error = np.abs(frames - offline)
    close = np.mean(error <= CLOSE * offline.std(axis=0), axis=0)
    assert (close >= FRACTION).all(), close
    assert (error.max(axis=0) <= MAX_ERROR).all(), error.max(axis=0)
    assert np.mean((frames[:, 2] > 0) == (offline[:, 2] > 0)) >= VOICED_AGREEMENT


def pushed(stream, signal: np.ndarray, chunk: int, n_frames: int | None = None) -> np.ndarray:
    """Everything ``stream`` gives for ``signal`` pushed ``chunk`` samples at a time.

    A :class:`FeatureStream` when ``n_frames`` is ``None``, else a :class:`ProsodyStream` told
    that ``n_frames`` frames exist.
    """
    if n_frames is None:
        out = [stream.push(signal[i : i + chunk]) for i in range(0, len(signal), chunk)]
        return np.concatenate([*out, stream.finish()])
    out = [stream.push(signal[i : i + chunk], n_frames) for i in range(0, len(signal), chunk)]
    return np.concatenate([*out, stream.finish(n_frames)])


def tone_sweep(sr: int, seconds: float) -> np.ndarray:
    """A voiced sweep of 50 to 250 Hz (and its octave), silent about a third of the time."""
    t = np.arange(int(sr * seconds)) / sr
    phase = 2 * np.pi * np.cumsum(150 + 100 * np.sin(2 * np.pi * 0.13 * t)) / sr
    envelope = (np.sin(2 * np.pi * 0.7 * t) > -0.2) * (0.2 + 0.15 * np.sin(2 * np.pi * 2.1 * t))
    noise = 0.002 * np.random.default_rng(0).standard_normal(len(t))
    return envelope * (np.sin(phase) + 0.3 * np.sin(2 * phase)) + noise


@pytest.fixture(scope="module")
def recordings(demo_raw):
    """Two demo recordings (12 s, 16 kHz): ``(signal, sr, offline prosody)``."""
    out = []
    for path in sorted(Path(demo_raw).rglob("*.wav"))[:2]:
        signal, sr = soundfile.read(path)
        out.append((signal, sr, prosody(signal, sr, fps=FPS)))
    return out


@pytest.fixture(scope="module")
def streamed(recordings):
    """Streamed prosody by chunk size (ms): both recordings in 100 ms chunks, the first in 37."""
    return {chunk_ms: [pushed(FeatureStream("Pros", sr, fps=FPS), signal, sr * chunk_ms // 1000)
                       for signal, sr, _ in recordings[:count]]
            for chunk_ms, count in zip(CHUNKS_MS, (2, 1))}


@pytest.mark.parametrize("chunk_ms", CHUNKS_MS)
def test_streamed_prosody_within_tolerance(recordings, streamed, chunk_ms):
    """Chunks of 100 and 37 ms (whose frames are the same, bit for bit: the next test)."""
    for (_, _, offline), frames in zip(recordings, streamed[chunk_ms]):
        assert_within_tolerance(frames, offline)


def test_tone_sweep_within_tolerance():
    sr = 44100
    signal = tone_sweep(sr, 6.0)
    frames = pushed(FeatureStream("Pros", sr, fps=FPS), signal, sr // 10)
    assert_within_tolerance(frames, prosody(signal, sr, fps=FPS))


def test_prosody_does_not_depend_on_the_chunks(streamed):
    """The windows are placed by sample positions, not chunks: the same frames, bit for bit."""
    np.testing.assert_array_equal(streamed[37][0], streamed[100][0])


@pytest.mark.parametrize(("seconds", "fps"), [
    (0.1, FPS), (0.52, FPS), (1.23, FPS), (3.0 - 1 / 16000, FPS),
    (3.2, 2),  # 6 frames, the last one's window in before the end: finish has none left
])
def test_frame_count_is_offline(seconds, fps):
    sr = 16000
    signal = tone_sweep(sr, seconds)
    frames = pushed(FeatureStream("Pros", sr, fps=fps), signal, 997)
    assert len(frames) == frame_count(len(signal) / sr, fps) == len(prosody(signal, sr, fps=fps))


@pytest.mark.parametrize("feature_set", ["MFCC+Pros", "Spectro+Pros", "MFCC+Spectro+Pros"])
def test_sets_with_prosody_stream(recordings, feature_set):
    """The other columns equal offline; the prosody columns (the last 4) meet the tolerance.

    On the first 3 s of a recording (a log-mel stream costs more than the prosody).
    """
    signal, sr, _ = recordings[0]
    signal = signal[: 3 * sr]
    offline_prosody = prosody(signal, sr, fps=FPS)
    offline = speech_features(signal, sr, feature_set, fps=FPS)
    frames = pushed(FeatureStream(feature_set, sr, fps=FPS), signal, sr // 10)
    assert frames.shape == offline.shape
    assert np.abs(frames[:, :-4] - offline[:, :-4]).max() <= 1e-4
    np.testing.assert_array_equal(offline[:, -4:], offline_prosody.astype(np.float32))
    assert_within_tolerance(frames[:, -4:].astype(np.float64), offline_prosody)


def test_prosody_lookahead():
    """Frame ``i`` comes out one frame and ``PROSODY_LOOKAHEAD`` after ``i / fps`` (150 ms).

    With the 1 ms chunk that completes its window.
    """
    sr, step = 16000, 16
    stream, signal, lags, emitted = FeatureStream("Pros", sr, fps=FPS), tone_sweep(sr, 1.0), [], 0
    for i in range(0, len(signal), step):
        new = len(stream.push(signal[i : i + step]))
        lags += [(i + step) / sr - k / FPS for k in range(emitted, emitted + new)]
        emitted += new
    lookahead = 1 / FPS + PROSODY_LOOKAHEAD
    assert lookahead <= min(lags) <= max(lags) <= lookahead + 0.001 + 1e-9


def test_history_is_bounded(recordings):
    """After each push the stream holds less than one window: history, a frame, lookahead."""
    signal, sr, _ = recordings[0]
    signal = signal[: 4 * sr]
    n_frames = frame_count(len(signal) / sr, FPS)
    stream, chunk, held = ProsodyStream(sr, FPS), sr // 10, []
    window = (PROSODY_HISTORY + 1 / FPS + PROSODY_LOOKAHEAD) * sr + 1
    for i in range(0, len(signal), chunk):
        stream.push(signal[i : i + chunk], n_frames)
        held.append(len(stream.buffer.samples))
        start, stop = stream.window(stream.emitted)
        assert stop - start <= window
    assert max(held) < window
    assert stream.emitted >= n_frames - (PROSODY_LOOKAHEAD + 0.1) * FPS - 1


def test_prosody_stream_errors():
    with pytest.raises(PipelineError, match="shorter than Praat's analysis reach"):
        ProsodyStream(16000, FPS, lookahead=0.02)
    stream = FeatureStream("Pros", 16000, fps=FPS)
    stream.push(tone_sweep(16000, 0.08))
    with pytest.raises(PipelineError, match="prosody needs at least"):
        stream.finish()
