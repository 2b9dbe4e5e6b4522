"""IVA'19 speed: speech-encoder training throughput and prediction real-time factor.

Usage::

    python benchmarks/bench_iva19.py [--n-context 60 10] [--batch-size 2056 128] [--steps 10]
        [--seconds 60] [--workdir DIR]

* Training throughput: context windows per second through the project's training step
  (``training.loop.Trainer`` with the IVA'19 network, MFCC features, D = 96), for every
  combination of context size and batch size, after one warm-up step (the tf.function trace).
* Prediction: ``predict.py``'s work on ``--seconds`` of speech (the demo speaker's voice) with a
  model of the paper's shape, in process, so without interpreter start-up and imports: model
  loading, MFCC features, windows and the network, and writing the output. Reported as a
  real-time factor (processing time / audio duration; below 1 is faster than real time).
"""

from __future__ import annotations

import argparse
import os
import runpy
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import soundfile  # noqa: E402

from data_processing import demo_speaker  # noqa: E402
from speech_encoder.model import (  # noqa: E402
    ModelCard,
    SpeechToMotion,
    build_network,
    save_model,
    window_dataset,
)
from training.loop import Trainer, set_seed  # noqa: E402

FEATURES, F, D = "MFCC", 26, 96
PREDICT = Path(__file__).resolve().parents[1] / "predict.py"


def make_model(n_context: int) -> SpeechToMotion:
    network = build_network(window=n_context + 1, feature_size=F, output_size=D,
                            audio_mean=np.zeros(F), audio_std=np.ones(F), seed=0)
    return SpeechToMotion(network, np.zeros(D, np.float32), np.ones(D, np.float32))


def training_throughput(n_context: int, batch_size: int, steps: int, workdir: Path) -> float:
    """Windows per second of the training step (after one warm-up step)."""
    rng = np.random.default_rng(0)
    windows = rng.normal(size=(batch_size * (steps + 1), n_context + 1, F)).astype(np.float32)
    targets = rng.normal(size=(len(windows), D)).astype(np.float32)
    model = make_model(n_context)
    trainer = Trainer(model, keras.optimizers.Adam(1e-3), workdir / f"run_{n_context}_{batch_size}")
    batches = iter(window_dataset(windows, targets, batch_size=batch_size))
    float(trainer.train_step(next(batches))["loss"])  # trace
    start = time.perf_counter()
    for batch in batches:
        float(trainer.train_step(batch)["loss"])
    return steps * batch_size / (time.perf_counter() - start)


def prediction_rtf(seconds: float, n_context: int, workdir: Path) -> tuple[float, float]:
    """Real-time factors of predict (with model loading, and of the prediction alone)."""
    audio, _, _ = demo_speaker.synthesize_session(0, seconds)
    wav = workdir / "speech.wav"
    soundfile.write(wav, audio, demo_speaker.SAMPLE_RATE)
    model_path = workdir / "model"
    card = ModelCard(predicts="motion", output_size=D, motion="pos_vel", motion_size=D,
                     features=FEATURES, mel_preset="iva19", fps=20.0, n_context=n_context,
                     feature_size=F, dataset="synthetic")
    save_model(make_model(n_context), card, model_path, demo_speaker.demo_skeleton())
    predict = runpy.run_path(str(PREDICT))  # predict.py's functions, imported beforehand
    start = time.perf_counter()
    model = predict["load_model"](model_path)
    loaded = time.perf_counter()
    predict["predict_file"](model, wav, workdir / "motion.npy")
    done = time.perf_counter()
    return (done - start) / seconds, (done - loaded) / seconds


def parse_args(argv=None) -> argparse.Namespace:
    """Command-line arguments."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n-context", type=int, nargs="+", default=[60, 10],
                        help="context sizes (60: IVA'19; 10: the demo)")
    parser.add_argument("--batch-size", type=int, nargs="+", default=[2056, 128],
                        help="batch sizes (2056: IVA'19; 128: the demo)")
    parser.add_argument("--steps", type=int, default=10, help="timed training steps")
    parser.add_argument("--seconds", type=float, default=60.0, help="audio length to predict")
    parser.add_argument("--workdir", default=None, help="scratch directory (default: temporary)")
    return parser.parse_args(argv)


def main(argv=None) -> int:
    """Run the benchmarks and print the figures."""
    args = parse_args(argv)
    set_seed(0)
    with tempfile.TemporaryDirectory() as scratch:
        workdir = Path(args.workdir or scratch)
        print(f"IVA'19 speech encoder, {FEATURES} ({F}) -> D {D}, {os.cpu_count()} CPUs")
        for n_context in args.n_context:
            for batch_size in args.batch_size:
                rate = training_throughput(n_context, batch_size, args.steps, workdir)
                print(f"training  N_CONTEXT {n_context:3d} batch {batch_size:5d}: "
                      f"{rate:8.0f} windows/s")
        for n_context in args.n_context:
            total, alone = prediction_rtf(args.seconds, n_context, workdir)
            print(f"predict   N_CONTEXT {n_context:3d}, {args.seconds:g} s of speech: real-time "
                  f"factor {total:.3f} (with model loading), {alone:.3f} (features + network)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
