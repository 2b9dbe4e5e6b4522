"""Audio2Gestures speed on this machine: training steps per second, sampling real-time factor.

1. Training: steps per second of the :class:`training.loop.Trainer` step (``tf.function``,
   optionally XLA) at batch 32 with 64-frame crops, for the ``full`` variant (the most work
   per step) of each preset: ``paper`` (the paper's widths) and ``demo`` (a quarter of them).
   The first epoch (tracing) is not timed; the timed epoch includes its checkpoint.
2. Sampling: real-time factor -- seconds of audio per second of compute -- of
   :meth:`gesture_vae.sample.Sampler.sample` on a 60 s file: speech features from the WAV,
   one pass of the networks over the whole file, forward kinematics; 1 and 20 samples.

Usage::

    python benchmarks/bench_a2g.py [--steps 20] [--presets paper demo] [--jit]

The models are untrained (speed does not depend on the weights); the data is the demo speaker.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import keras
import numpy as np
import soundfile

from data_processing.demo_speaker import SAMPLE_RATE, synthesize_audio, synthesize_session
from data_processing.representations import rot6d_vector
from gesture_vae.config import make_config
from gesture_vae.data import Normalisation, SequenceSet, training_dataset
from gesture_vae.run import Run, build_model
from gesture_vae.sample import Sampler
from training.loop import Trainer

FEATURES = 64  # a2g log-mel
FPS = 30.0


def demo_motion(seconds: float = 60.0):
    """rot6d vectors of the demo speaker at 30 fps, their skeleton and statistics."""
    _, motion, timeline = synthesize_session(0, seconds)
    vectors = rot6d_vector(motion.resample(FPS)).astype(np.float32)
    std = vectors.std(axis=0)
    norm = Normalisation(np.zeros(FEATURES, np.float32), np.ones(FEATURES, np.float32),
                         vectors.mean(axis=0), np.where(std > 1e-6, std, 1.0).astype(np.float32))
    return vectors, motion.skeleton, norm, timeline


def make_run(root: Path, config, data) -> Run:
    """The description of a (not trained) run on the demo data."""
    _, skeleton, norm, _ = data
    return Run(root, config, {"fps": FPS, "features": "Spectro", "mel_preset": "a2g",
                              "feature_size": FEATURES}, skeleton, norm)


def training_speed(preset: str, steps: int, jit: bool, data) -> float:
    """Steps per second of the ``full`` variant of ``preset`` at batch 32."""
    vectors, _, norm, _ = data
    config = make_config(preset, variant="full", batch_size=32, crop_frames=64, steps=10**6)
    rng = np.random.default_rng(0)
    sequences = SequenceSet(rng.normal(size=(len(vectors), FEATURES)).astype(np.float32),
                            norm.motion(vectors), np.array([len(vectors)]))
    stream = training_dataset(sequences, frames=64, batch_size=32, seed=0)
    marks = []
    with tempfile.TemporaryDirectory() as tmp:
        model = build_model(make_run(Path(tmp), config, data))
        optimizer = keras.optimizers.Adam(config.learning_rate)
        model.use_step_counter(optimizer.iterations)
        trainer = Trainer(model, optimizer, tmp, jit_compile=jit)
        trainer.fit(stream, epochs=2, steps_per_epoch=steps,
                    on_epoch_end=lambda *_: marks.append(time.perf_counter()))
    return steps / (marks[1] - marks[0])


def sampling_speed(data, seconds: float = 60.0, samples: tuple[int, ...] = (1, 20)) -> dict:
    """Real-time factor of sampling a ``seconds`` WAV (paper and demo widths)."""
    _, _, _, timeline = data
    out = {}
    with tempfile.TemporaryDirectory() as tmp:
        wav = Path(tmp) / "speech.wav"
        audio = synthesize_audio(timeline, seconds, np.random.default_rng(0))
        soundfile.write(wav, audio.astype(np.float32), SAMPLE_RATE)
        for preset in ("paper", "demo"):
            config = make_config(preset)
            stats = (np.zeros((8, config.code_size), np.float32),
                     np.ones((8, config.code_size), np.float32))
            run = make_run(Path(tmp), config, data)
            sampler = Sampler(build_model(run), run, stats)
            for n in samples:
                sampler.sample(sampler.features(wav)[:100], samples=n)  # warm up
                start = time.perf_counter()
                sampler.sample(sampler.features(wav), samples=n, seed=1)
                out[(preset, n)] = seconds / (time.perf_counter() - start)
    return out


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=20, help="timed training steps")
    parser.add_argument("--presets", nargs="+", default=["paper", "demo"],
                        help="model presets to time (default paper demo)")
    parser.add_argument("--jit", action="store_true", help="compile the step with XLA")
    args = parser.parse_args(argv)
    data = demo_motion()
    print(f"training, full variant, batch 32 x 64 frames{', XLA' if args.jit else ''}:")
    for preset in args.presets:
        print(f"  {preset:6s} {training_speed(preset, args.steps, args.jit, data):7.2f} steps/s")
    print("sampling a 60 s file (features + networks + FK), real-time factor:")
    for (preset, n), rtf in sampling_speed(data).items():
        print(f"  {preset:6s} {n:2d} sample(s) {rtf:8.1f}x real time")


if __name__ == "__main__":
    main()
