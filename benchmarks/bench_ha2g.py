"""HA2G speed on this machine: training steps per second, generation real-time factor.

1. Training: steps per second of the :class:`training.loop.Trainer` step (``tf.function``,
   optionally XLA) of the ``full`` model -- discriminator and generator sub-steps, every loss
   term of the preset -- on 34-frame clips, at the ``official`` sizes (the paper's networks,
   GAN, diversity term) and the ``demo`` sizes. The official batch is 256; the default here is
   32 (``--batch-size``). The first epoch (tracing) is not timed; the timed epoch includes its
   checkpoint.
2. Generation: real-time factor -- seconds of audio per second of compute -- of
   :meth:`ha2g.sample.Sampler.generate` on a 60 s WAV: speech features, the clip-by-clip
   cascade, positions from the bone directions; 1 and 10 samples.

Usage::

    python benchmarks/bench_ha2g.py [--steps 10] [--batch-size 32] [--presets official demo]

The models are untrained (speed does not depend on the weights); the data is the demo speaker
at 15 fps (the TED frame rate), on its own skeleton (15 bones in 3 levels).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import keras
import numpy as np
import soundfile
import tensorflow as tf

from data_processing.body import make_body
from data_processing.demo_speaker import SAMPLE_RATE, synthesize_audio, synthesize_session
from data_processing.dir_vec import DirVec
from ha2g.config import make_config
from ha2g.run import Run, build_model
from ha2g.sample import Sampler
from ha2g.train import build_trainer

FEATURES = 64  # a2g log-mel
FPS = 15.0


def demo_data(seconds: float = 60.0):
    """Body positions of the demo speaker at 15 fps, its skeleton and its timeline."""
    _, motion, timeline = synthesize_session(0, seconds)
    motion = motion.resample(FPS)
    return motion.positions(), motion.skeleton, timeline


def make_run(root: Path, config, data) -> Run:
    """The description of a (not trained) run on the demo data."""
    positions, skeleton, _ = data
    body = make_body(skeleton, n_levels=config.pose_levels)
    pairs = len(body.pairs)
    stats = {"audio_mean": np.zeros(FEATURES, np.float32),
             "audio_std": np.ones(FEATURES, np.float32),
             "silence": np.zeros(FEATURES, np.float32),
             "dir_mean": DirVec.fit([positions], body).mean,
             "angle_mean": np.full(pairs, 0.3, np.float32),
             "angle_variance": np.full(pairs, 0.01, np.float32)}
    return Run(root, config, {"fps": FPS, "features": "Spectro", "mel_preset": "a2g",
                              "feature_size": FEATURES}, body, stats, None, None)


def training_speed(preset: str, steps: int, batch_size: int, jit: bool, data) -> float:
    """Steps per second of the ``full`` model of ``preset``."""
    config = make_config(preset, batch_size=batch_size)
    rng = np.random.default_rng(0)
    marks = []
    with tempfile.TemporaryDirectory() as tmp:
        run = make_run(Path(tmp), config, data)
        clips = run.representation.encode(data[0][: config.clip_frames])
        batch = {"audio": rng.normal(size=(batch_size, config.clip_frames, FEATURES)),
                 "motion": np.repeat(clips[None], batch_size, axis=0)}
        stream = tf.data.Dataset.from_tensors(
            {k: v.astype(np.float32) for k, v in batch.items()}).repeat()
        model = build_model(run)
        optimizers = tuple(keras.optimizers.Adam(lr, beta_1=config.beta_1)
                           for lr in (config.learning_rate, config.discriminator_learning_rate))
        trainer = build_trainer(model, tmp, optimizers, warmup_steps=0, jit_compile=jit)
        trainer.fit(stream, epochs=2, steps_per_epoch=steps, monitor="generator_loss",
                    on_epoch_end=lambda *_: marks.append(time.perf_counter()))
    return steps / (marks[1] - marks[0])


def generation_speed(data, seconds: float = 60.0, samples: tuple[int, ...] = (1, 10)) -> dict:
    """Real-time factor of generating for a ``seconds`` WAV (official and demo sizes)."""
    out = {}
    with tempfile.TemporaryDirectory() as tmp:
        wav = Path(tmp) / "speech.wav"
        audio = synthesize_audio(data[2], seconds, np.random.default_rng(0))
        soundfile.write(wav, audio.astype(np.float32), SAMPLE_RATE)
        for preset in ("official", "demo"):
            run = make_run(Path(tmp), make_config(preset), data)
            sampler = Sampler(build_model(run), run)
            for n in samples:
                sampler.sample(sampler.features(wav)[:100], samples=n)  # warm up (tracing)
                start = time.perf_counter()
                motions = sampler.generate(wav, samples=n, seed=1)
                out[(preset, n)] = seconds / (time.perf_counter() - start)
                assert motions[0].n_frames == round(seconds * FPS)
    return out


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=10, help="timed training steps")
    parser.add_argument("--batch-size", type=int, default=32, help="clips per step (paper 256)")
    parser.add_argument("--presets", nargs="+", default=["official", "demo"],
                        help="model presets to time (default official demo)")
    parser.add_argument("--jit", action="store_true", help="compile the step with XLA")
    args = parser.parse_args(argv)
    data = demo_data()
    print(f"training, full model, batch {args.batch_size} x 34 frames"
          f"{', XLA' if args.jit else ''}:")
    for preset in args.presets:
        speed = training_speed(preset, args.steps, args.batch_size, args.jit, data)
        print(f"  {preset:8s} {speed:7.2f} steps/s")
    print("generating for a 60 s file (features + cascade clip by clip + positions), "
          "real-time factor:")
    for (preset, n), rtf in generation_speed(data).items():
        print(f"  {preset:8s} {n:2d} sample(s) {rtf:8.1f}x real time")


if __name__ == "__main__":
    main()
