"""Step 2: speech features, motion vectors and context windows for every split.

Usage::

    python data_processing/create_vector.py DATA_DIR N_CONTEXT [--features MFCC] [--fps 20]
        [--motion pos_vel|rot6d] [--mel-preset iva19|a2g] [--mfcc-rate native|16k]
        [--tolerance 0.5] [--strict]

Reads ``DATA_DIR/gg-{train,dev,test}.csv`` (from ``prepare_data.py``), processes the files in
parallel, and writes the arrays listed in :mod:`data_processing.dataset`, ``meta.json`` last
(with the MFCC rate, :mod:`data_processing.audio`); ``X_<split>.npy`` only up to
:data:`~data_processing.dataset.STORED_WINDOWS_LIMIT` (``train.py`` forms larger ones from
``sequences/``). Memory is bounded by one recording and a block of the statistics
(:func:`column_stats`), whatever the dataset's size: each recording is saved as soon as it is
read, and the statistics and ``X``/``Y`` are computed from those files.
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
from data_processing.audio import context_window_view
from data_processing.bvh import BVHMotion, read_bvh
from data_processing.dataset import (
    SPLITS,
    STORED_WINDOWS_LIMIT,
    DatasetMeta,
    stored_windows_bytes,
)
from data_processing.files import (
    PipelineError,
    PipelineErrors,
    atomic_path,
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


def vectorise_to_file(job: tuple) -> dict:
    """:func:`vectorise_pair`, its arrays saved to ``sequences/<split>/<id>.npz``.

    The job is :func:`vectorise_pair`'s plus the motion representation stored as ``motion``
    and the ``.npz`` path; only a small record is returned (id, ``bvh``, skeleton, source fps,
    warning, ``frames``), so the arrays of the whole dataset are never in memory together.
    """
    *pair, motion, path = job
    r = vectorise_pair(tuple(pair))
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez(path, audio=r["audio"], motion=r[motion], rot6d=r["rot6d"], positions=r["positions"])
    return {"id": r["id"], "bvh": r["bvh"], "skeleton": r["skeleton"],
            "source_fps": r["source_fps"], "warning": r["warning"], "frames": len(r["audio"])}


def vectorise_all(jobs: list, *, workers: int | None) -> list[dict]:
    """:func:`vectorise_to_file` on every job: the validation pass that reads each pair once.

    Raises
    ------
    PipelineErrors
        Listing every bad file with its reason (nothing has been committed).
    """
    return validate_all(vectorise_to_file, jobs, workers=workers, desc="vectorising",
                        work_seconds=file_seconds(p for job in jobs for p in job[1:4]))


def _read(path: Path, key: str) -> np.ndarray:
    """One array of a sequence file (only that one is read)."""
    with np.load(path) as data:
        return data[key]


STATS_BLOCK_BYTES = 16 * 2**20
"""Memory of one block of columns in :func:`column_stats` (at least 8 columns at a time)."""


def column_stats(paths: list[Path], key: str,
                 rows: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-column mean, std and max ``|x - mean|`` of the ``key`` rows of every file, stacked.

    ``rows`` is the files' total. Computed a block of columns at a time
    (:data:`STATS_BLOCK_BYTES`), one file in memory besides the block. numpy's summation
    order depends on the stack's layout (row by row for C-ordered rows, pairwise down each
    column for the column-major log-mel), which a block of several columns keeps, so the
    results equal those of the whole stack bit for bit: the statistics of the datasets built
    before.

    Returns
    -------
    mean, std, absmax : np.ndarray [shape=(D,)]
        float32; ``std`` and ``absmax`` of at most 1e-6 are replaced by 1.
    """
    block = max(8, STATS_BLOCK_BYTES // (4 * rows))
    mean, std, absmax = [], [], []
    for start in range(0, _read(paths[0], key).shape[1], block):
        stack = np.concatenate([_read(p, key)[:, start : start + block] for p in paths])
        mean.append(stack.mean(axis=0))
        std.append(stack.std(axis=0))
        absmax.append(np.abs(stack - mean[-1]).max(axis=0))
    mean, std, absmax = (np.concatenate(x).astype(np.float32) for x in (mean, std, absmax))
    return (mean, np.where(std > 1e-6, std, 1.0).astype(np.float32),
            np.where(absmax > 1e-6, absmax, 1.0).astype(np.float32))


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


STALE = [f"X_{split}.npy" for split in SPLITS]
"""Windows a rebuild may not write (above the limit): removed with the old ``meta.json``."""


def create_vectors(data_dir, n_context: int, settings: VectorSettings, *,
                   motion: str = "pos_vel", workers: int | None = None,
                   windows_limit: int = STORED_WINDOWS_LIMIT) -> DatasetMeta:
    """Build every array of a dataset directory and return its description.

    Every pair is read, checked and saved to a staging directory (:func:`vectorise_all`);
    the other outputs are then written there from those files, one sequence in memory at a
    time, and committed together (``meta.json`` last), so that a failure or a kill leaves the
    previous dataset complete. ``X_<split>.npy`` is written when it holds at most
    ``windows_limit`` bytes. The directory is locked for the whole run.
    """
    data_dir = Path(data_dir)
    check_settings(n_context, settings, motion, workers)
    with directory_lock(data_dir, "create_vector.py"):
        finish_commit(data_dir)
        tables = {split: read_split_table(data_dir, split) for split in SPLITS}
        if not tables["train"]:
            raise PipelineError(f"{data_dir / 'gg-train.csv'}: no training files")
        with staged_outputs(data_dir, invalidate=["meta.json", *STALE],
                            last=["meta.json"]) as stage:
            jobs = [(*row, settings, motion, stage / "sequences" / split / f"{row[0]}.npz")
                    for split in SPLITS for row in tables[split]]
            results = vectorise_all(jobs, workers=workers)
            by_split, start = {}, 0
            for split in SPLITS:
                by_split[split] = results[start : start + len(tables[split])]
                start += len(tables[split])
            meta = _write_dataset(stage, by_split, n_context, settings, motion, windows_limit)
            meta.files = {r["id"]: _source_files(*job[1:4]) for r, job in zip(results, jobs)}
            meta.save(stage)
    meta.root = data_dir
    return meta


def _source_files(wav: str, bvh: str, transcript: str) -> dict[str, str]:
    """The ``meta.json`` record of one sequence's files (absolute paths)."""
    files = {"wav": wav, "bvh": bvh, **({"transcript": transcript} if transcript else {})}
    return {kind: str(Path(path).resolve()) for kind, path in files.items()}


def _save_rows(path: Path, shape: tuple, chunks) -> None:
    """A float32 ``.npy`` of ``shape`` written chunk by chunk, as ``np.save`` would write it."""
    header = {"descr": np.lib.format.dtype_to_descr(np.dtype(np.float32)),
              "fortran_order": False, "shape": tuple(shape)}
    with atomic_path(path) as tmp, open(tmp, "wb") as file:
        np.lib.format.write_array_header_1_0(file, header)
        for chunk in chunks:
            np.ascontiguousarray(chunk, np.float32).tofile(file)


WINDOW_CHUNK = 4096
"""Windows copied at a time when writing ``X`` files (a long recording's are never whole)."""


def _window_chunks(path: Path, silence: np.ndarray, n_context: int):
    windows = context_window_view(_read(path, "audio"), silence, n_context)
    for start in range(0, len(windows), WINDOW_CHUNK):
        yield windows[start : start + WINDOW_CHUNK]


def _write_dataset(out: Path, by_split: dict, n_context: int, settings: VectorSettings,
                   motion: str, windows_limit: int) -> DatasetMeta:
    """Write the statistics, skeleton, ``X``/``Y`` and test windows from the staged sequences."""
    paths = {split: [out / "sequences" / split / f"{r['id']}.npz" for r in rows]
             for split, rows in by_split.items()}
    silence = audio.silence_frame(settings.features, fps=settings.fps,
                                  mel_preset=settings.mel_preset)
    rows = sum(r["frames"] for r in by_split["train"])
    audio_mean, audio_std, _ = column_stats(paths["train"], "audio", rows)
    motion_mean, motion_std, motion_absmax = column_stats(paths["train"], "motion", rows)
    stats = {"audio_mean": audio_mean, "audio_std": audio_std, "motion_mean": motion_mean,
             "motion_std": motion_std, "motion_absmax": motion_absmax, "silence": silence}
    for name, value in stats.items():
        save_array(out / "stats" / f"{name}.npy", value)
    by_split["train"][0]["skeleton"].save(out / "skeleton.json")
    width, features, output = n_context + 1, len(audio_mean), len(motion_mean)
    for split, rows in by_split.items():
        n_rows = sum(r["frames"] for r in rows)
        _save_rows(out / f"Y_{split}.npy", (n_rows, output),
                   (_read(path, "motion") for path in paths[split]))
        if stored_windows_bytes(n_rows, width, features) <= windows_limit:
            _save_rows(out / f"X_{split}.npy", (n_rows, width, features),
                       (c for path in paths[split] for c in _window_chunks(path, silence,
                                                                           n_context)))
        if split == "test":
            for r, path in zip(rows, paths[split]):
                _save_rows(out / "test_inputs" / f"X_test_{r['id']}.npy",
                           (r["frames"], width, features), _window_chunks(path, silence,
                                                                          n_context))
    return DatasetMeta(
        fps=float(settings.fps), features=settings.features, mel_preset=settings.mel_preset,
        feature_size=features, n_context=n_context, motion=motion, output_size=output,
        source_fps=float(by_split["train"][0]["source_fps"]),
        splits={split: [r["id"] for r in rows] for split, rows in by_split.items()},
        files={}, versions=_versions(), mfcc_rate=settings.mfcc_rate, root=out,
    )


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
        y = np.load(root / f"Y_{split}.npy", mmap_mode="r")
        stored = root / f"X_{split}.npy"
        x = (np.load(stored, mmap_mode="r").shape if stored.is_file() else
             f"not stored (over {STORED_WINDOWS_LIMIT / 2**30:g} GiB: formed from sequences/)")
        print(f"{split}: {len(meta.splits[split])} files, X {x}, Y {y.shape}")
    print(f"wrote {root / 'meta.json'} ({meta.features}, {meta.fps:g} fps, {meta.motion})")
    return 0


if __name__ == "__main__":
    run_cli(main)
