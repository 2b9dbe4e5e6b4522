"""Step 2: speech features, motion vectors and context windows for every split.

Usage::

    python data_processing/create_vector.py DATA_DIR N_CONTEXT [--features MFCC] [--fps 20]
        [--motion pos_vel|rot6d] [--mel-preset iva19|a2g] [--mfcc-rate native|16k]
        [--tolerance 0.5] [--strict]

Reads ``DATA_DIR/gg-{train,dev,test}.csv`` (from ``prepare_data.py``), processes the files in
parallel, and writes the arrays listed in :mod:`data_processing.dataset`, ``meta.json`` last
(with the MFCC rate, :mod:`data_processing.audio`).
Transcripts listed in the tables are checked and recorded in ``meta.json`` (their words per
frame: :meth:`data_processing.dataset.DatasetMeta.words`).
``N_CONTEXT`` is the original's: 60 means 30 frames on each side, 61-frame windows padded
with the features of silence at both ends of a file.
"""

from __future__ import annotations

import argparse
import logging
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

import numpy as np
import pandas as pd

from data_processing import audio
from data_processing.audio import context_windows
from data_processing.bvh import BVHMotion, read_bvh
from data_processing.dataset import SPLITS, DatasetMeta
from data_processing.files import (
    PipelineError,
    PipelineErrors,
    attempt,
    check_range,
    directory_lock,
    finish_commit,
    run_cli,
    save_array,
    staged_outputs,
)
from data_processing.parallel import file_seconds
from data_processing.representations import REPRESENTATIONS, pos_vel, rot6d_vector
from data_processing.transcripts import read_transcript
from data_processing.validation import validate_all

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class VectorSettings:
    """How one (wav, bvh) pair becomes arrays.

    Parameters
    ----------
    features : str
        Feature set name.
    fps : float
        Frame rate of features and motion.
    mel_preset : str
        Log-mel preset.
    mfcc_rate : str
        MFCC sample rate: ``native`` (the original's) or ``16k`` (:data:`audio.MFCC_RATES`).
    tolerance : float
        Largest audio/motion duration difference (s) accepted without a warning.
    strict : bool
        Fail instead of warning and truncating when the durations differ more.
    """

    features: str = "MFCC"
    fps: float = 20.0
    mel_preset: str = "iva19"
    mfcc_rate: str = audio.MFCC_RATES[0]
    tolerance: float = 0.5
    strict: bool = False


MAX_CONTEXT = 400
"""Largest ``N_CONTEXT`` (20 s of context at 20 fps)."""


def check_settings(n_context: int, settings: VectorSettings, motion: str,
                   workers: int | None = None) -> None:
    """One-line errors for settings outside their range, before any file is read."""
    if not 0 <= n_context <= MAX_CONTEXT or n_context % 2:
        raise PipelineError(f"N_CONTEXT must be an even number from 0 to {MAX_CONTEXT}, "
                            f"got {n_context}")
    audio.check_fps(settings.fps)
    check_range("--tolerance", settings.tolerance, 0.0, 1e6)
    check_range("--workers", workers, 1, 1024)
    if motion not in REPRESENTATIONS:
        choices = ", ".join(REPRESENTATIONS)
        raise PipelineError(f"unknown motion representation {motion!r} (use {choices})")
    audio.feature_size(settings.features, mel_preset=settings.mel_preset)
    audio.check_mfcc_rate(settings.mfcc_rate)


def vectorise_pair(job: tuple[str, str, str, str, VectorSettings]) -> dict:
    """Features and motion arrays of one pair, at ``settings.fps`` and of equal length.

    The job is ``(id, wav, bvh, transcript, settings)``; a transcript (``""``: none) is read
    to check it.
    """
    seq_id, wav, bvh, transcript, settings = job
    errors: list[PipelineError] = []
    feats = attempt(errors, audio.file_features, wav, settings.features, fps=settings.fps,
                    mel_preset=settings.mel_preset, mfcc_rate=settings.mfcc_rate)
    motion = attempt(errors, read_bvh, bvh)
    if transcript:
        attempt(errors, read_transcript, transcript)
    if errors:
        raise PipelineErrors(errors)
    if motion.n_frames < 2:
        raise PipelineError(f"{bvh}: needs at least 2 frames, found {motion.n_frames}")
    source_fps = motion.fps
    motion = motion.resample(settings.fps)
    n_audio, n_motion = len(feats), motion.n_frames
    gap = abs(n_audio - n_motion) / settings.fps
    warning = None
    if gap > settings.tolerance:
        message = (f"{wav}: audio lasts {n_audio / settings.fps:.2f} s but {bvh} lasts "
                   f"{n_motion / settings.fps:.2f} s (difference {gap:.2f} s > "
                   f"{settings.tolerance} s)")
        if settings.strict:
            raise PipelineError(message + "; --strict")
        warning = message + "; truncated to the shorter"
    n = min(n_audio, n_motion)
    motion = BVHMotion(motion.skeleton, motion.frames[:n], motion.frame_time)
    arrays = {
        "audio": feats[:n],
        "pos_vel": pos_vel(motion.positions(pin_root=True)).astype(np.float32),
        "rot6d": rot6d_vector(motion).astype(np.float32),
        "positions": motion.positions().reshape(n, -1).astype(np.float32),
    }
    for name, array in arrays.items():
        if not np.isfinite(array).all():
            raise PipelineError(f"{wav if name == 'audio' else bvh}: the {name} vectors hold "
                                "values that are not finite")
    return {"id": seq_id, "bvh": bvh, "skeleton": motion.skeleton, "source_fps": source_fps,
            "warning": warning, **arrays}


def read_split_table(data_dir: Path, split: str) -> list[tuple[str, str, str, str]]:
    """``(id, wav, bvh, transcript)`` rows of ``gg-<split>.csv``.

    The id is the wav stem (as IVA'19); the transcript is ``""`` when the table has none.
    """
    path = data_dir / f"gg-{split}.csv"
    if not path.is_file():
        raise PipelineError(f"{path}: no such file (run data_processing/prepare_data.py first)")
    try:
        table = pd.read_csv(path, dtype=str, keep_default_na=False)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as error:
        raise PipelineError(f"{path}: not a CSV table ({error})") from None
    missing = {"wav_filename", "bvh_filename"} - set(table.columns)
    if missing:
        raise PipelineError(f"{path}: missing column(s) {', '.join(sorted(missing))}")
    transcripts = table.get("transcript_filename", pd.Series([""] * len(table)))
    rows = []
    for wav, bvh, transcript in zip(table["wav_filename"], table["bvh_filename"], transcripts):
        wav, bvh, transcript = (p if not p or Path(p).is_absolute() else str(data_dir / p)
                                for p in (wav, bvh, transcript))
        rows.append((Path(wav).stem, wav, bvh, transcript))
    return rows


def vectorise_all(jobs: list, *, workers: int | None) -> list[dict]:
    """:func:`vectorise_pair` on every job: the validation pass that reads each pair once.

    Raises
    ------
    PipelineErrors
        Listing every bad file with its reason (nothing has been written).
    """
    return validate_all(vectorise_pair, jobs, workers=workers, desc="vectorising",
                        work_seconds=file_seconds(p for job in jobs for p in job[1:4]))


def _stats(frames: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    mean = frames.mean(axis=0)
    std = frames.std(axis=0)
    return mean.astype(np.float32), np.where(std > 1e-6, std, 1.0).astype(np.float32)


def _versions() -> dict:
    names = ("numpy", "scipy", "librosa", "python_speech_features", "praat-parselmouth",
             "soundfile", "speech-gestures")
    out = {}
    for name in names:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = None
    return out


def create_vectors(data_dir, n_context: int, settings: VectorSettings, *,
                   motion: str = "pos_vel", workers: int | None = None) -> DatasetMeta:
    """Build every array of a dataset directory and return its description.

    Every pair is read and checked first (:func:`vectorise_all`); the outputs are then
    written to a staging directory and committed together (``meta.json`` last), so that a
    failure or a kill leaves the previous dataset complete. The directory is locked for the
    whole run.
    """
    data_dir = Path(data_dir)
    check_settings(n_context, settings, motion, workers)
    with directory_lock(data_dir, "create_vector.py"):
        finish_commit(data_dir)
        tables = {split: read_split_table(data_dir, split) for split in SPLITS}
        if not tables["train"]:
            raise PipelineError(f"{data_dir / 'gg-train.csv'}: no training files")
        jobs = [(*row, settings) for split in SPLITS for row in tables[split]]
        results = vectorise_all(jobs, workers=workers)
        by_split, start = {}, 0
        for split in SPLITS:
            by_split[split] = results[start : start + len(tables[split])]
            start += len(tables[split])
        with staged_outputs(data_dir, invalidate=["meta.json"], last=["meta.json"]) as stage:
            meta = _write_dataset(stage, by_split, n_context, settings, motion)
            meta.files = {r["id"]: _source_files(*job[1:4]) for r, job in zip(results, jobs)}
            meta.save(stage)
    meta.root = data_dir
    return meta


def _source_files(wav: str, bvh: str, transcript: str) -> dict[str, str]:
    """The ``meta.json`` record of one sequence's files (absolute paths)."""
    files = {"wav": wav, "bvh": bvh, **({"transcript": transcript} if transcript else {})}
    return {kind: str(Path(path).resolve()) for kind, path in files.items()}


def _write_dataset(out: Path, by_split: dict, n_context: int, settings: VectorSettings,
                   motion: str) -> DatasetMeta:
    """Write the statistics, skeleton and arrays of ``by_split`` under ``out``."""
    train_audio = np.concatenate([r["audio"] for r in by_split["train"]])
    train_motion = np.concatenate([r[motion] for r in by_split["train"]])
    silence = audio.silence_frame(settings.features, fps=settings.fps,
                                  mel_preset=settings.mel_preset)
    _write_stats(out / "stats", train_audio, train_motion, silence)
    by_split["train"][0]["skeleton"].save(out / "skeleton.json")
    width = n_context + 1
    for split, rows in by_split.items():
        windows = [context_windows(r["audio"], silence, n_context) for r in rows]
        save_array(out / f"X_{split}.npy", np.concatenate(
            windows or [np.zeros((0, width, train_audio.shape[1]), np.float32)]))
        save_array(out / f"Y_{split}.npy", np.concatenate(
            [r[motion] for r in rows] or [np.zeros((0, train_motion.shape[1]), np.float32)]))
        if split == "test":
            (out / "test_inputs").mkdir()
            for r, x in zip(rows, windows):
                save_array(out / "test_inputs" / f"X_test_{r['id']}.npy", x)
        (out / "sequences" / split).mkdir(parents=True)
        for r in rows:
            np.savez(out / "sequences" / split / f"{r['id']}.npz", audio=r["audio"],
                     motion=r[motion], rot6d=r["rot6d"], positions=r["positions"])
    return DatasetMeta(
        fps=float(settings.fps), features=settings.features, mel_preset=settings.mel_preset,
        feature_size=int(train_audio.shape[1]), n_context=n_context, motion=motion,
        output_size=int(train_motion.shape[1]),
        source_fps=float(by_split["train"][0]["source_fps"]),
        splits={split: [r["id"] for r in rows] for split, rows in by_split.items()},
        files={}, versions=_versions(), mfcc_rate=settings.mfcc_rate, root=out,
    )


def _write_stats(out: Path, train_audio: np.ndarray, train_motion: np.ndarray,
                 silence: np.ndarray) -> None:
    """``stats/*.npy`` from the training split (see :mod:`data_processing.dataset`)."""
    audio_mean, audio_std = _stats(train_audio)
    motion_mean, motion_std = _stats(train_motion)
    absmax = np.abs(train_motion - motion_mean).max(axis=0)
    stats = {"audio_mean": audio_mean, "audio_std": audio_std, "motion_mean": motion_mean,
             "motion_std": motion_std, "silence": silence,
             "motion_absmax": np.where(absmax > 1e-6, absmax, 1.0).astype(np.float32)}
    for name, value in stats.items():
        save_array(out / f"{name}.npy", value)


def parse_args(argv=None) -> argparse.Namespace:
    """Command-line arguments."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("data_dir", help="dataset directory written by prepare_data.py")
    parser.add_argument("n_context", type=int,
                        help="context frames (even): 60 = 30 on each side, 61-frame windows")
    parser.add_argument("--features", default="MFCC", choices=sorted(audio.FEATURE_SETS),
                        help="speech feature set (default MFCC)")
    parser.add_argument("--fps", type=float, default=20.0,
                        help="frame rate of features and motion (20 for IVA'19, 30 for A2G)")
    parser.add_argument("--motion", default="pos_vel", choices=REPRESENTATIONS,
                        help="Y layout: IVA'19 positions+velocities or A2G 6D rotations+root")
    parser.add_argument("--mel-preset", default="iva19", choices=sorted(audio.MEL_PRESETS),
                        help="log-mel settings for the Spectro features")
    parser.add_argument("--mfcc-rate", default=audio.MFCC_RATES[0], choices=audio.MFCC_RATES,
                        help="MFCC sample rate: native = the file's own, as the original "
                             "(default); 16k = resampled to 16 kHz first")
    parser.add_argument("--tolerance", type=float, default=0.5,
                        help="audio/motion duration difference (s) accepted silently")
    parser.add_argument("--strict", action="store_true",
                        help="fail when durations differ by more than --tolerance")
    parser.add_argument("--workers", type=int, default=None,
                        help="parallel processes (default: one, or one per core when the "
                             "files are large enough to repay the workers' start-up)")
    return parser.parse_args(argv)


def main(argv=None) -> int:
    """Run the step."""
    args = parse_args(argv)
    settings = VectorSettings(features=args.features, fps=args.fps, mel_preset=args.mel_preset,
                              mfcc_rate=args.mfcc_rate, tolerance=args.tolerance,
                              strict=args.strict)
    meta = create_vectors(args.data_dir, args.n_context, settings, motion=args.motion,
                          workers=args.workers)
    root = Path(args.data_dir)
    for split in SPLITS:
        x = np.load(root / f"X_{split}.npy", mmap_mode="r")
        y = np.load(root / f"Y_{split}.npy", mmap_mode="r")
        print(f"{split}: {len(meta.splits[split])} files, X {x.shape}, Y {y.shape}")
    print(f"wrote {root / 'meta.json'} ({meta.features}, {meta.fps:g} fps, {meta.motion})")
    return 0


if __name__ == "__main__":
    run_cli(main)
