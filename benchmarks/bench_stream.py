"""Streaming generation on this machine: latency and compute per chunk, per model family.

For each family (``stream.py``, :mod:`helpers.streaming`), on the demo speaker's speech at
16 kHz:

1. Latency: how much audio after ``t = i / fps`` had to arrive before motion frame ``i`` came
   out (the largest over the frames before the end), pushed in 10 ms chunks: the algorithmic
   lookahead (the features' windows, the resampler's filter, the model's future frames) to
   within 10 ms. With 100 ms chunks a frame waits up to one more chunk.
2. Compute per 100 ms chunk: CPU time of the process during each push
   (``time.process_time``; BLAS and TensorFlow limited to one thread: one core's work,
   whatever else runs), mean, median, 95th percentile and largest; and the median wall-clock
   time, which a busy machine inflates. HA2G's compute comes in bursts: a push that completes
   a clip's features runs the clip (every 30 frames, 2 s at 15 fps), the others only the
   features.

The models are untrained (the compute does not depend on the weights) at the published sizes:
IVA'19 (MFCC, 20 fps, ``n_context`` 60 and the demo's 10; and 60 on MFCC+Pros, whose prosody
streams within a tolerance), Audio2Gestures ``full``
(a2g log-mel, 30 fps) at the ``paper`` and ``demo`` widths, and at the ``demo`` widths with a
bounded lookahead of 8 and 0 (causal) future frames per temporal stack (``lookahead``), and
HA2G ``full`` (a2g log-mel, 15 fps, the demo speaker's skeleton) at the ``official`` and
``demo`` sizes.

Usage::

    python benchmarks/bench_stream.py [--seconds 20]
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import numpy as np
import tensorflow as tf
from threadpoolctl import threadpool_limits

from data_processing import demo_speaker
from data_processing.audio import feature_size
from data_processing.body import make_body
from gesture_vae.config import make_config
from gesture_vae.data import Normalisation
from gesture_vae.run import Run, build_model
from gesture_vae.sample import Sampler
from ha2g import config as ha2g_config
from ha2g import run as ha2g_run
from ha2g import sample as ha2g_sample
from helpers.families import load_model
from helpers.streaming import open_stream
from speech_encoder.model import ModelCard, SpeechToMotion, build_network, save_model

SR = demo_speaker.SAMPLE_RATE
LATENCY_CHUNK_MS, COMPUTE_CHUNK_MS = 10, 100


def iva19_model(workdir: Path, n_context: int, feature_set: str = "MFCC"):
    """An untrained IVA'19 model directory of the paper's shape, loaded."""
    features, width = feature_size(feature_set), 96
    network = build_network(window=n_context + 1, feature_size=features, output_size=width,
                            audio_mean=np.zeros(features), audio_std=np.ones(features), seed=0)
    card = ModelCard(predicts="motion", output_size=width, motion="pos_vel", motion_size=width,
                     features=feature_set, mel_preset="iva19", fps=20.0, n_context=n_context,
                     feature_size=features, dataset="synthetic", mfcc_rate="native")
    path = workdir / f"iva19_{n_context}_{feature_set}"
    save_model(SpeechToMotion(network, np.zeros(width, np.float32), np.ones(width, np.float32)),
               card, path, demo_speaker.demo_skeleton())
    return load_model(path)


def a2g_sampler(workdir: Path, preset: str, lookahead: int | None = None) -> Sampler:
    """An untrained Audio2Gestures ``full`` sampler at ``preset``'s widths."""
    skeleton = demo_speaker.demo_skeleton()
    width = 6 * len(skeleton.rotating) + 3 * len(skeleton.translating)
    norm = Normalisation(np.zeros(64, np.float32), np.ones(64, np.float32),
                         np.zeros(width, np.float32), np.ones(width, np.float32))
    config = make_config(preset, variant="full", lookahead=lookahead)
    run = Run(workdir, config, {"fps": 30.0, "features": "Spectro", "mel_preset": "a2g",
                                "feature_size": 64, "mfcc_rate": "native"}, skeleton, norm)
    stats = (np.zeros((8, config.code_size), np.float32),
             np.ones((8, config.code_size), np.float32))
    return Sampler(build_model(run), run, stats)


def ha2g_sampler(workdir: Path, preset: str) -> ha2g_sample.Sampler:
    """An untrained HA2G ``full`` sampler at ``preset``'s sizes on the demo skeleton."""
    config = ha2g_config.make_config(preset)
    body = make_body(demo_speaker.demo_skeleton(), n_levels=config.pose_levels)
    pairs = len(body.pairs)
    stats = {"audio_mean": np.zeros(64, np.float32), "audio_std": np.ones(64, np.float32),
             "silence": np.zeros(64, np.float32),
             "dir_mean": np.zeros(3 * body.n_bones, np.float32),
             "angle_mean": np.full(pairs, 0.3, np.float32),
             "angle_variance": np.full(pairs, 0.01, np.float32)}
    run = ha2g_run.Run(workdir, config, {"fps": 15.0, "features": "Spectro", "mel_preset": "a2g",
                                         "feature_size": 64}, body, stats, None, None)
    return ha2g_sample.Sampler(ha2g_run.build_model(run), run)


def measure(model, audio: np.ndarray, chunk_ms: float):
    """Stream ``audio`` in ``chunk_ms`` chunks; the stream (its :class:`Timing`)."""
    stream, size = open_stream(model, SR), int(SR * chunk_ms / 1000)
    for start in range(0, len(audio), size):
        stream.push(audio[start : start + size])
    stream.finish()
    return stream


def report(name: str, model, audio: np.ndarray) -> str:
    """One table row: lookahead frames, latency, compute per 100 ms chunk."""
    latency = measure(model, audio[: 8 * SR], LATENCY_CHUNK_MS)
    chunks = measure(model, audio, COMPUTE_CHUNK_MS)
    cpu = np.asarray(chunks.timing.compute[1:]) * 1000  # the first push warms caches up
    wall = np.median(chunks.timing.wall[1:]) * 1000
    return (f"| {name} | {latency.lookahead_frames} | "
            f"{latency.timing.latency(model.fps) * 1000:.0f} | {cpu.mean():.1f} | "
            f"{np.median(cpu):.1f} | {np.percentile(cpu, 95):.1f} | {cpu.max():.1f} | "
            f"{wall:.1f} |")


def main(argv=None) -> int:
    """Run the benchmark and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=20.0, help="speech streamed")
    args = parser.parse_args(argv)
    tf.config.threading.set_intra_op_parallelism_threads(1)  # before TensorFlow starts
    tf.config.threading.set_inter_op_parallelism_threads(1)
    audio, _, _ = demo_speaker.synthesize_session(0, max(args.seconds, 8.0))
    audio = np.asarray(audio, np.float64)
    print("| family | lookahead (frames) | latency, 10 ms chunks (ms) | CPU per 100 ms chunk, "
          "mean (ms) | median (ms) | p95 (ms) | max (ms) | wall, median (ms) |")
    print("|---|---|---|---|---|---|---|---|")
    with threadpool_limits(1), tempfile.TemporaryDirectory() as tmp:
        for n_context in (60, 10):
            print(report(f"IVA'19, n_context {n_context} (20 fps)",
                         iva19_model(Path(tmp), n_context), audio), flush=True)
        print(report("IVA'19, n_context 60, MFCC+Pros (20 fps)",
                     iva19_model(Path(tmp), 60, "MFCC+Pros"), audio), flush=True)
        for preset, lookahead in (("paper", None), ("demo", None), ("demo", 8), ("demo", 0)):
            bounded = "" if lookahead is None else f", lookahead {lookahead} per stack"
            print(report(f"Audio2Gestures full, {preset} widths{bounded} (30 fps)",
                         a2g_sampler(Path(tmp), preset, lookahead), audio), flush=True)
        for preset in ("official", "demo"):
            print(report(f"HA2G full, {preset} sizes (15 fps)", ha2g_sampler(Path(tmp), preset),
                         audio), flush=True)
    return 0


if __name__ == "__main__":
    main()
