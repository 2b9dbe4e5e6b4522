"""Stream speech through a trained model: motion frames out as soon as they are final.

Usage::

    python stream.py MODEL INPUT OUTPUT [--chunk-ms 100] [--realtime] [--pcm-rate SR]
        [--samples N] [--seed K]

``MODEL`` is an IVA'19 model, an Audio2Gestures run or an HA2G run
(:data:`helpers.streaming.STREAMABLE`).
``INPUT`` is an audio file, read ``--chunk-ms`` at a time (with ``--realtime`` no faster than
it plays), or ``-``: raw 16-bit little-endian mono PCM at ``--pcm-rate`` Hz on standard input.
``OUTPUT`` ``-`` writes each frame to standard output as it becomes final, one line per frame:
the frame index, then the ``N x D`` values (sample after sample; ``pos_vel`` for IVA'19,
``rot6d`` for Audio2Gestures, joint positions for HA2G); a ``.npy``, ``.txt`` or ``.bvh`` path
gets the whole motion at the end, as ``predict.py`` writes it. Audio2Gestures draws its noise by
frame (the ``noise = "frame"`` mode of ``gesture_vae/sample.py``), so its frames equal the
offline ones of that mode; HA2G's frames are the offline ones (it generates clip by clip, and a
frame comes out once its clip and the next have run). The latency and the compute per chunk go
to standard error.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import soundfile

from data_processing.audio import SAMPLE_RATE_RANGE
from data_processing.files import PipelineError, run_cli
from data_processing.motion import from_vectors, save_motion
from helpers.families import load_model

if TYPE_CHECKING:
    from helpers.streaming import MotionStream

PCM_BYTES = 2  # 16-bit samples


def file_chunks(path, chunk_ms: float) -> tuple[int, Iterator[np.ndarray]]:
    """The rate of an audio file and its mono samples, ``chunk_ms`` at a time."""
    path = Path(path)
    if not path.is_file():
        raise PipelineError(f"{path}: no such file")
    try:
        sr = soundfile.info(path).samplerate
    except (soundfile.SoundFileError, RuntimeError) as error:
        raise PipelineError(f"{path}: not a readable audio file ({error})") from None
    size = max(1, round(sr * chunk_ms / 1000))
    blocks = soundfile.blocks(path, blocksize=size, dtype="float64", always_2d=True)
    return sr, (block.mean(axis=1) for block in blocks)


def pcm_chunks(stream, sr: int, chunk_ms: float) -> Iterator[np.ndarray]:
    """Raw 16-bit little-endian mono PCM from a binary stream, as floats in ``[-1, 1)``."""
    size = PCM_BYTES * max(1, round(sr * chunk_ms / 1000))
    pending = b""
    while data := stream.read(size - len(pending)):
        pending += data
        if len(pending) == size:
            yield np.frombuffer(pending, "<i2") / 32768.0
            pending = b""
    if len(pending) % PCM_BYTES:
        raise PipelineError(f"standard input: {len(pending)} trailing bytes are not whole "
                            "16-bit samples")
    if pending:
        yield np.frombuffer(pending, "<i2") / 32768.0


def run_stream(stream: MotionStream, chunks, *, sr: int, realtime: bool = False,
               emit=None) -> np.ndarray:
    """Push every chunk (paced at ``sr`` with ``realtime``), emit frames; all ``(S, T, D)``."""
    begin, pushed, out = time.monotonic(), 0, []
    for chunk in chunks:
        if not np.isfinite(chunk).all():
            raise PipelineError("the audio contains NaN or infinite samples")
        pushed += len(chunk)
        if realtime:
            time.sleep(max(0.0, begin + pushed / sr - time.monotonic()))
        out.append(stream.push(chunk))
        if emit:
            emit(out[-1])
    out.append(stream.finish())
    if emit:
        emit(out[-1])
    return np.concatenate(out, axis=1)


def line_writer():
    """``emit`` of :func:`run_stream` that prints ``index values...`` lines, flushed."""
    written = 0

    def emit(frames: np.ndarray) -> None:
        nonlocal written
        for t in range(frames.shape[1]):
            values = " ".join(f"{v:.6g}" for v in frames[:, t].ravel())
            sys.stdout.write(f"{written} {values}\n")
            written += 1
        sys.stdout.flush()

    return emit


def summary(stream: MotionStream, n_frames: int, chunk_ms: float) -> str:
    """One line: frames, the latency (and the model's lookahead), the compute per chunk."""
    timing, fps = stream.timing, stream.fps
    compute = np.asarray(timing.compute or [0.0]) * 1000
    return (f"{n_frames} frames at {fps:g} fps; latency {timing.latency(fps) * 1000:.0f} ms "
            f"(model lookahead {stream.lookahead_frames} frames); compute per {chunk_ms:g} ms "
            f"chunk: median {np.median(compute):.1f} ms, max {compute.max():.1f} ms")


def parse_args(argv=None) -> argparse.Namespace:
    """Command-line arguments."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("model", help="IVA'19 model, Audio2Gestures or HA2G run directory")
    parser.add_argument("input", help="an audio file, or - for raw 16-bit PCM on stdin")
    parser.add_argument("output", help="- (frames on stdout as they become final), or a "
                                       ".npy, .txt or .bvh file written at the end")
    parser.add_argument("--chunk-ms", type=float, default=100.0,
                        help="milliseconds of audio per chunk (default 100)")
    parser.add_argument("--realtime", action="store_true",
                        help="read an audio file no faster than it plays")
    parser.add_argument("--pcm-rate", type=int, help="sample rate of PCM on stdin (Hz)")
    parser.add_argument("--samples", type=int, default=1, help="motions to draw (default 1)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the noise (default 0)")
    return parser.parse_args(argv)


def _chunks(args) -> tuple[int, Iterator[np.ndarray]]:
    if args.chunk_ms <= 0:
        raise PipelineError(f"--chunk-ms must be > 0, got {args.chunk_ms:g}")
    if args.input != "-":
        return file_chunks(args.input, args.chunk_ms)
    low, high = SAMPLE_RATE_RANGE
    if args.pcm_rate is None or not low <= args.pcm_rate <= high:
        raise PipelineError(f"raw PCM on standard input needs --pcm-rate between {low} and "
                            f"{high} Hz")
    return args.pcm_rate, pcm_chunks(sys.stdin.buffer, args.pcm_rate, args.chunk_ms)


def main(argv=None) -> int:
    """Run the step."""
    args = parse_args(argv)
    from helpers.streaming import open_stream  # loads TensorFlow: not for --help

    if args.output != "-" and Path(args.output).suffix not in (".npy", ".txt", ".bvh"):
        raise PipelineError(f"{args.output}: expected -, or an output ending in .npy, .txt "
                            "or .bvh")
    sr, chunks = _chunks(args)
    model = load_model(args.model)
    stream = open_stream(model, sr, samples=args.samples, seed=args.seed)
    emit = line_writer() if args.output == "-" else None
    motion = run_stream(stream, chunks, sr=sr, realtime=args.realtime, emit=emit)
    if args.output != "-":
        motions = [from_vectors(v, model.skeleton, model.fps, kind=model.representation,
                                name=f"sample {k}") for k, v in enumerate(motion)]
        save_motion(Path(args.output), motions, kind=model.representation, precision=4)
    print(summary(stream, motion.shape[1], args.chunk_ms), file=sys.stderr)
    return 0


if __name__ == "__main__":
    run_cli(main)
