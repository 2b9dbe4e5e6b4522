"""Streaming generation: features, networks and whole models streamed equal them offline.

The feature and network tests need no trained model; the model tests use the session's tiny
IVA'19, Audio2Gestures and HA2G runs (``tests/iva19_helpers.py``, ``tests/a2g_helpers.py``,
``tests/ha2g_fixtures.py``). The tiny Audio2Gestures run's output layer (zero-initialised,
trained 2 steps) still gives the mean pose, so it gets random weights: the motion then varies
from frame to frame (the property holds for any weights).
"""

import dataclasses
import io
import sys
import types
from pathlib import Path

import keras
import numpy as np
import pytest
import soundfile

import predict
import stream
from data_processing.audio import speech_features
from data_processing.dataset import DatasetMeta
from data_processing.files import PipelineError
from gesture_vae.layers import temporal_stack
from gesture_vae.model import interpolate_knots
from gesture_vae.run import build_model
from gesture_vae.sample import Sampler, frame_normals, lerp_knots
from helpers.families import load_model
from helpers.stream_features import FeatureStream
from helpers.streaming import ConvStage, open_stream, receptive_field
from tests import ha2g_fixtures, iva19_helpers
from tests.a2g_helpers import tiny_dataset, tiny_run, with_protocol

TOLERANCE = 1e-4


def speech_like(sr: int, seconds: float, seed: int = 0) -> np.ndarray:
    """A voiced tone with a syllable envelope plus noise."""
    t = np.arange(int(sr * seconds)) / sr
    noise = np.random.default_rng(seed).standard_normal(len(t))
    return 0.3 * np.sin(2 * np.pi * 180 * t) * (1 + np.sin(2 * np.pi * 3 * t)) + 0.03 * noise


def streamed(streamer, signal: np.ndarray, chunk: int) -> np.ndarray:
    """Everything a stream gives for ``signal`` pushed ``chunk`` samples at a time."""
    out = [streamer.push(signal[i : i + chunk]) for i in range(0, len(signal), chunk)]
    return np.concatenate([*out, streamer.finish()], axis=-2)


# --------------------------------------------------------------------------------------------
# Features


@pytest.mark.parametrize(("sr", "feature_set", "fps", "preset", "rate"), [
    (16000, "MFCC", 20, "iva19", "native"),
    (44100, "MFCC", 30, "iva19", "16k"),  # resampled, hop not a whole number at 44.1 kHz
    (16000, "Spectro", 30, "a2g", "native"),  # resampled to 15 990 Hz
    (16000, "Spectro", 15, "a2g", "native"),  # HA2G's: hop 1067 at 16 005 Hz > n_fft 1024
    (22050, "MFCC+Spectro", 20, "iva19", "native"),
])
def test_features_streamed_equal_offline(sr, feature_set, fps, preset, rate):
    signal = speech_like(sr, 1.23)
    offline = speech_features(signal, sr, feature_set, fps=fps, mel_preset=preset,
                              mfcc_rate=rate)
    for chunk in (sr // 10, 997):
        features = FeatureStream(feature_set, sr, fps=fps, mel_preset=preset, mfcc_rate=rate)
        frames = streamed(features, signal, chunk)
        assert frames.shape == offline.shape
        assert np.abs(frames - offline).max() <= TOLERANCE


@pytest.mark.parametrize(("sr", "feature_set", "fps", "preset", "lookahead"), [
    (16000, "MFCC", 20, "iva19", 0.060),  # 4 sub-frame steps of 10 ms + a 20 ms window
    (15990, "Spectro", 30, "a2g", 512 / 15990),  # n_fft / 2 (no resampling at 15 990 Hz)
])
def test_features_emitted_once_final(sr, feature_set, fps, preset, lookahead):
    """Each frame comes out with the 1 ms chunk that completes its window, not later."""
    features = FeatureStream(feature_set, sr, fps=fps, mel_preset=preset)
    signal, step, emitted, lags = speech_like(sr, 0.5), sr // 1000, 0, []
    for i in range(0, len(signal), step):
        new = len(features.push(signal[i : i + step]))
        lags += [(i + step) / sr - k / fps for k in range(emitted, emitted + new)]
        emitted += new
    assert lookahead <= max(lags) <= lookahead + 0.001 + 1e-9


def test_unknown_feature_set_cannot_stream():
    """Every feature set streams (prosody: ``tests/test_stream_prosody.py``); others do not."""
    with pytest.raises(PipelineError, match="unknown feature set 'Pitch'"):
        FeatureStream("Pitch", 16000, fps=20)


# --------------------------------------------------------------------------------------------
# Networks and noise


@pytest.mark.parametrize(("lookahead", "future"), [(None, 14), (0, 0), (5, 5)])
def test_conv_stage_equals_the_whole_sequence(lookahead, future):
    """Chunks of any size give the frames of one call on the whole sequence, ends included.

    A TCN ("same" padding, causal, or 5 future frames), then a causal convolution beside a
    per-frame head (two outputs).
    """
    inputs = keras.Input((None, 5))
    x = temporal_stack(inputs, (8, 8, 6), kernel_size=3, dropout=0.0, seed=1,
                       lookahead=lookahead)
    outputs = [keras.layers.Conv1D(4, 3, dilation_rate=2, padding="causal")(x),
               keras.layers.Dense(3)(x)]
    network = keras.Model(inputs, outputs)
    sequence = np.random.default_rng(0).standard_normal((2, 50, 5)).astype(np.float32)
    offline = np.concatenate([np.asarray(o) for o in network(sequence)], -1)
    stage = ConvStage(network)
    # 2 convs per block, d = 1, 2, 4: 28 frames of reach, `future` of them ahead
    assert (stage.left, stage.right) == (28 - future + 4, future)
    out = []
    for start, stop in [(0, 1), (1, 9), (9, 9), (9, 30), (30, 50)]:
        stage.push(sequence[:, start:stop])
        out.append(stage.pull())
    out.append(stage.pull(final=True))
    assert np.abs(np.concatenate(out, 1) - offline).max() <= TOLERANCE


def test_frame_noise_is_indexed_by_frame():
    whole = frame_normals(7, 0, 1, 0, 200, 4)
    assert np.array_equal(frame_normals(7, 0, 1, 63, 130, 4), whole[63:130])
    knots = np.stack([whole, frame_normals(7, 0, 2, 0, 200, 4)])
    reference = np.asarray(interpolate_knots(knots, 150, 30, keep_variance=True))
    span = lerp_knots(lambda k0, k1: knots[:, k0:k1], 40, 101, 30, keep_variance=True)
    assert np.abs(span - reference[:, 40:101]).max() <= 1e-6


# --------------------------------------------------------------------------------------------
# Models


@pytest.fixture(scope="module")
def a2g(tmp_path_factory, demo_raw):
    """The tiny full run, its output layer random (so that the motion varies)."""
    sampler = Sampler.load(tiny_run(tmp_path_factory, tiny_dataset(tmp_path_factory, demo_raw),
                                    "full"))
    output = sampler.model.decoder.get_layer("motion")
    kernel, bias = output.get_weights()
    output.set_weights([np.random.default_rng(0).normal(0.0, 1.0, kernel.shape), bias])
    return sampler


@pytest.fixture(scope="module")
def wav(tmp_path_factory, demo_raw):
    """6 s of one demo recording."""
    signal, sr = soundfile.read(sorted(Path(demo_raw).rglob("*.wav"))[0])
    path = tmp_path_factory.mktemp("stream") / "speech.wav"
    soundfile.write(path, signal[: 6 * sr], sr, subtype="PCM_16")
    return path


@pytest.mark.slow
@pytest.mark.parametrize("protocol", ["official", "project"])
def test_a2g_streamed_equals_offline(a2g, wav, protocol):
    """Both protocols: white noise and posterior draws; smooth noise, clips per crop, means."""
    sampler = a2g if protocol == "official" else with_protocol(a2g, protocol)
    signal, sr = soundfile.read(wav)
    offline = sampler.sample(sampler.features(wav), samples=2, seed=5, noise="frame").motion
    motion = streamed(open_stream(sampler, sr, samples=2, seed=5), signal, sr // 10)
    assert motion.shape == offline.shape
    assert offline.std(axis=1).mean() > 0.05  # the motion moves
    assert np.abs(motion - offline).max() <= TOLERANCE
    if protocol == "official":  # the lookahead, from the layers: 2 convs per block, d = 2^i
        reach = 2 * sum(2**i for i in range(len(sampler.run.config.audio_channels)))
        assert receptive_field(sampler.model.audio_encoder) == (reach, reach)


@pytest.mark.slow
def test_a2g_bounded_lookahead_streams_with_its_latency(a2g, wav):
    """3 future frames per stack (block 0 split 1 + 1, block 1 1 + 0, the rest causal):
    streamed == offline, and the stream waits for ``2 lookahead`` frames (audio encoder, then
    decoder) instead of 124.

    The tiny run's weights in the bounded architecture (the same weights fit it) stand for a
    model trained that way: the equality holds for any weights.
    """
    lookahead = 3
    run = dataclasses.replace(a2g.run, config=dataclasses.replace(a2g.run.config,
                                                                  lookahead=lookahead))
    model = build_model(run)
    model.set_weights(a2g.model.get_weights())
    sampler = Sampler(model, run, (a2g.code_mean, a2g.code_std))
    signal, sr = soundfile.read(wav)
    offline = sampler.sample(sampler.features(wav), samples=2, seed=5, noise="frame").motion
    streamer = open_stream(sampler, sr, samples=2, seed=5)
    motion = streamed(streamer, signal, sr // 10)
    assert np.abs(motion - offline).max() <= TOLERANCE
    assert streamer.lookahead_frames == 2 * lookahead
    # + the log-mel window (32 ms), the resampler (~55 ms) and one 100 ms chunk
    assert streamer.timing.latency(sampler.fps) <= 2 * lookahead / sampler.fps + 0.2


@pytest.fixture(scope="module")
def iva19(tmp_path_factory):
    """The session's IVA'19 baseline (MFCC, n_context 10): its directory, loaded."""
    model_dir = iva19_helpers.speech_model(tmp_path_factory)
    return model_dir, load_model(model_dir)


@pytest.mark.slow
def test_iva19_streamed_equals_offline(iva19, wav, tmp_path, capsys):
    model_dir, model = iva19
    signal, sr = soundfile.read(wav)
    streamer = open_stream(model, sr)
    motion = streamed(streamer, signal, sr // 10)[0]
    assert np.abs(motion - model.from_features(model.features(wav))).max() <= TOLERANCE
    # n_context / 2 future frames, 60 ms of MFCC window, one 100 ms chunk
    lookahead = (iva19_helpers.N_CONTEXT // 2) / model.fps + 0.060 + 0.100
    assert streamer.timing.latency(model.fps) <= lookahead + 1e-9
    assert stream.main([str(model_dir), str(wav), str(tmp_path / "streamed.npy")]) == 0
    assert "latency" in capsys.readouterr().err
    predict.predict_file(model, wav, tmp_path / "offline.npy")
    difference = np.load(tmp_path / "streamed.npy") - np.load(tmp_path / "offline.npy")
    assert np.abs(difference).max() <= TOLERANCE


@pytest.mark.slow
def test_stream_cli_reads_pcm_on_stdin(iva19, wav, monkeypatch, capsys):
    model_dir, model = iva19
    pcm, sr = soundfile.read(wav, dtype="int16")
    monkeypatch.setattr(sys, "stdin", types.SimpleNamespace(buffer=io.BytesIO(pcm.tobytes())))
    assert stream.main([str(model_dir), "-", "-", "--pcm-rate", str(sr)]) == 0
    lines = capsys.readouterr().out.splitlines()
    offline = model.from_features(model.features(wav))
    frames = np.array([[float(v) for v in line.split()[1:]] for line in lines])
    assert [int(line.split()[0]) for line in lines] == list(range(len(offline)))
    assert np.abs(frames - offline).max() <= 1e-3 * np.abs(offline).max()  # 6 digits printed


@pytest.fixture(scope="module")
def ha2g(tmp_path_factory, demo_raw):
    """The session's tiny HA2G run (15 fps, 34-frame clips every 30), loaded, and a held-out
    recording of its dataset (12 s)."""
    run_dir = ha2g_fixtures.tiny_run(tmp_path_factory, demo_raw)
    meta = DatasetMeta.load(ha2g_fixtures.tiny_dataset(tmp_path_factory, demo_raw))
    wav = meta.root / "test" / "inputs" / f"{meta.splits['test'][0]}.wav"
    return run_dir, load_model(run_dir), wav


@pytest.mark.slow
@pytest.mark.parametrize(("seconds", "chunks_ms", "early", "cli"), [
    (None, (100, 62.3, 1000), 150, False),  # 180 frames, a multiple of the stride: 6 clips
    (4.87, (100,), 60, True),  # 73 frames: the last clip (60 to 94) placed by the length
    (1.4, (100,), 0, False),  # 21 frames: one clip, at the end
])
def test_ha2g_streamed_equals_offline(ha2g, seconds, chunks_ms, early, cli, tmp_path, capsys,
                                     monkeypatch):
    """Each clip runs once its features are in; its frames come out once no later clip's
    cross-fade can change them (``early`` of them before the end); streamed == generate, and
    ``stream.py`` writes ``predict.py``'s file (the loaded run handed to it: no new trace)."""
    run_dir, sampler, wav = ha2g
    if seconds is not None:
        signal, sr = soundfile.read(wav)
        wav = tmp_path / "speech.wav"
        soundfile.write(wav, signal[: round(seconds * sr)], sr, subtype="PCM_16")
    signal, sr = soundfile.read(wav)
    offline = np.stack([m.positions.reshape(m.n_frames, -1)
                        for m in sampler.generate(wav, samples=2, seed=3)])
    assert offline.std(axis=1).mean() > 1.0  # the motion moves (cm)
    lag = (sampler.run.config.clip_frames - 1) / sampler.fps  # frame k s waits for clip k
    for chunk_ms in chunks_ms:
        streamer = open_stream(sampler, sr, samples=2, seed=3)
        motion = streamed(streamer, signal, round(sr * chunk_ms / 1000))
        assert motion.shape == offline.shape
        assert np.abs(motion - offline).max() <= TOLERANCE
        assert streamer.timing.final.count(False) == early
        if early:  # + the log-mel window (32 ms), the resampler (~55 ms), one chunk
            assert lag <= streamer.timing.latency(sampler.fps) <= lag + 0.1 + chunk_ms / 1000
    assert streamer.lookahead_frames == sampler.run.config.clip_frames - 1
    if cli:
        out = tmp_path / "streamed.npy"
        monkeypatch.setattr(stream, "load_model", lambda path: sampler)
        assert stream.main([str(run_dir), str(wav), str(out), "--samples", "2", "--seed", "3"]) == 0
        assert "latency" in capsys.readouterr().err
        predict.predict_file(sampler, wav, tmp_path / "offline.npy", samples=2, seed=3)
        assert np.abs(np.load(out) - np.load(tmp_path / "offline.npy")).max() <= TOLERANCE


def test_stream_errors(tmp_path):
    with pytest.raises(PipelineError, match="--pcm-rate"):
        stream.main(["model", "-", "-"])
    with pytest.raises(PipelineError, match="cannot stream"):
        open_stream(types.SimpleNamespace(kind="iva19_original", path=tmp_path), 16000)
    with pytest.raises(PipelineError, match="expected -, or an output"):
        stream.main(["model", "in.wav", "out.mp4"])
