"""Step 1: pair speech with motion, split train/dev/test, and write the IVA'19 layout.

Usage::

    python data_processing/prepare_data.py RAW_DIR DATA_DIR [--split ratio|iva19]
        [--ratios 0.8 0.1 0.1] [--augment-noise] [--seed K] [--strict] [--check]

``RAW_DIR`` holds the recordings in one of the usual layouts: ``speech/`` + ``motion/``
(this project and IVA'19), ``wav/`` + ``bvh/`` (GENEA), or both kinds side by side (BEAT).
Files are paired by stem; the IVA'19 names ``audioN.wav`` / ``gestureN.bvh`` pair by ``N``.
``DATA_DIR`` receives ``{train,dev,test}/{inputs,labels}`` and ``gg-{train,dev,test}.csv``
(``wav_filename,wav_filesize,bvh_filename``), the input of ``create_vector.py``. Paths in the
tables are relative to ``DATA_DIR`` so that a dataset directory can be moved or copied.

Every pair is read and checked first (audio and BVH in full, frame counts, durations, one
skeleton for all files); when any is bad, all the bad files are listed with their reasons and
nothing is written. ``--check`` does only this. The outputs are committed together, so an
interrupted run leaves the previous ``DATA_DIR`` as it was.
"""

from __future__ import annotations

import argparse
import logging
import re
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import soundfile

from data_processing import audio
from data_processing.bvh import read_bvh
from data_processing.dataset import SPLITS
from data_processing.files import (
    PipelineError,
    PipelineErrors,
    atomic_path,
    attempt,
    check_range,
    complete_interrupted_commit,
    directory_lock,
    list_inputs,
    run_cli,
    staged_outputs,
)
from data_processing.validation import validate_all

log = logging.getLogger(__name__)

SPEECH_DIRS = ("speech", "wav", "audio")
MOTION_DIRS = ("motion", "bvh", "gesture")
IVA19_RANGES = {"train": range(20, 1092), "test": range(1092, 1183, 2), "dev": range(1093, 1182, 2)}
NOISE_LEVEL = 0.01  # IVA'19: sox white noise at volume 0.01, mixed into a copy of train audio
DURATION_TOLERANCE = 0.5  # seconds of audio/motion difference reported (create_vector's default)


def _find_files(raw_dir: Path, names: tuple[str, ...], suffix: str) -> list[Path]:
    """The ``suffix`` files of the first of ``names`` that exists, else of ``raw_dir``."""
    for name in names:
        if (raw_dir / name).is_dir():
            return list_inputs(raw_dir / name, [suffix])
    files = list_inputs(raw_dir, [suffix])
    if not files:
        raise PipelineError(f"{raw_dir}: no {suffix} files (looked in {', '.join(names)} and "
                            "itself)")
    return files


def pairing_key(stem: str) -> str:
    """The key that pairs a speech file with a motion file: the stem, or N for audioN/gestureN."""
    match = re.fullmatch(r"(?:audio|gesture)(\d+)", stem)
    return match.group(1) if match else stem


def find_pairs(raw_dir, *, strict: bool = False) -> dict[str, tuple[Path, Path]]:
    """Pair ``*.wav`` with ``*.bvh`` by :func:`pairing_key`; report the unpaired ones.

    Returns
    -------
    dict
        ``key -> (wav, bvh)``, sorted by key.
    """
    raw_dir = Path(raw_dir)
    if not raw_dir.is_dir():
        raise PipelineError(f"{raw_dir}: no such directory")
    complete_interrupted_commit(raw_dir)  # e.g. make_demo_dataset.py killed while committing
    wavs = {pairing_key(p.stem): p for p in _find_files(raw_dir, SPEECH_DIRS, ".wav")}
    bvhs = {pairing_key(p.stem): p for p in _find_files(raw_dir, MOTION_DIRS, ".bvh")}
    unpaired = [wavs[k] for k in wavs.keys() - bvhs.keys()]
    unpaired += [bvhs[k] for k in bvhs.keys() - wavs.keys()]
    for path in sorted(unpaired):
        message = f"{path}: no {'motion' if path.suffix == '.wav' else 'speech'} file to pair with"
        if strict:
            raise PipelineError(message + " (--strict)")
        log.warning("%s; skipped", message)
    keys = sorted(wavs.keys() & bvhs.keys())
    if not keys:
        raise PipelineError(f"{raw_dir}: no speech/motion pairs found")
    return {k: (wavs[k], bvhs[k]) for k in keys}


def split_keys(keys: list[str], *, method: str = "ratio", ratios=(0.8, 0.1, 0.1),
               seed: int = 0) -> dict[str, list[str]]:
    """Assign keys to train/dev/test deterministically.

    ``ratio`` shuffles the sorted keys with ``seed`` and cuts by ``ratios`` (at least one file
    in dev and test when there are three or more); ``iva19`` uses the Trinity id ranges
    (train 20-1091, test 1092-1182 even, dev 1093-1181 odd).
    """
    if method == "iva19":
        out = {s: [] for s in SPLITS}
        for key in keys:
            split = next((s for s, r in IVA19_RANGES.items() if key.isdigit() and int(key) in r),
                         None)
            if split is None:
                log.warning("%s: outside the IVA'19 id ranges; skipped", key)
            else:
                out[split].append(key)
        return {s: sorted(v, key=int) for s, v in out.items()}
    if method != "ratio":
        raise PipelineError(f"unknown split method {method!r} (use ratio or iva19)")
    ratios = np.asarray(ratios, dtype=float)
    if ratios.shape != (3,) or not np.isfinite(ratios).all() or (ratios < 0).any() \
            or ratios.sum() <= 0:
        raise PipelineError(f"--ratios needs three non-negative numbers, got {ratios.tolist()}")
    order = [keys[i] for i in np.random.default_rng(seed).permutation(len(keys))]
    n = len(keys)
    n_dev, n_test = (int(round(r * n / ratios.sum())) for r in ratios[1:])
    if n >= 3:
        n_dev, n_test = max(n_dev, 1 if ratios[1] else 0), max(n_test, 1 if ratios[2] else 0)
    n_train = n - n_dev - n_test
    parts = {"train": order[:n_train], "dev": order[n_train : n_train + n_dev],
             "test": order[n_train + n_dev :]}
    return {s: sorted(v) for s, v in parts.items()}


def check_pair(pair: tuple[Path, Path]) -> dict:
    """Read one pair in full; the facts the cross-file checks need.

    Returns
    -------
    dict
        ``bvh``, ``skeleton``, ``warning`` (durations that differ, or ``None``).

    Raises
    ------
    PipelineError
        The first problem of the pair.
    """
    wav, bvh = pair
    errors: list[PipelineError] = []
    loaded = attempt(errors, audio.load_audio, wav)
    motion = attempt(errors, read_bvh, bvh)
    if errors:
        raise PipelineErrors(errors)
    signal, sr = loaded
    if motion.n_frames < 2:
        raise PipelineError(f"{bvh}: needs at least 2 frames, found {motion.n_frames}")
    gap = abs(len(signal) / sr - motion.duration)
    warning = None
    if gap > DURATION_TOLERANCE:
        warning = (f"{wav}: audio lasts {len(signal) / sr:.2f} s but {bvh} lasts "
                   f"{motion.duration:.2f} s")
    return {"bvh": bvh, "skeleton": motion.skeleton, "warning": warning}


def check_pairs(pairs: dict[str, tuple[Path, Path]], *, workers: int | None = None) -> None:
    """The validation pass (:func:`data_processing.validation.validate_all`) over the pairs."""
    validate_all(check_pair, list(pairs.values()), workers=workers, desc="checking")


def add_noise(src: Path, dst: Path, *, level: float, rng: np.random.Generator) -> None:
    """Write a copy of ``src`` with white noise of peak ``level`` mixed in (atomically)."""
    info = soundfile.info(src)
    data, sr = soundfile.read(src, dtype="float64", always_2d=True)
    noisy = np.clip(data + rng.uniform(-level, level, size=data.shape), -1.0, 1.0)
    with atomic_path(dst) as tmp:
        soundfile.write(tmp, noisy, sr, subtype=info.subtype, format="WAV")


def prepare(raw_dir, data_dir, *, split: str = "ratio", ratios=(0.8, 0.1, 0.1),
            augment_noise: bool = False, seed: int = 0, strict: bool = False,
            check: bool = True, write: bool = True, workers: int | None = None) -> dict:
    """Pair, check, split and copy the recordings; write the ``gg-*.csv`` tables.

    Parameters
    ----------
    check : bool
        Run :func:`check_pairs` first (nothing is written when a pair is bad).
    write : bool
        ``False``: stop after the check (``--check``).

    Returns
    -------
    dict
        Keys per split.
    """
    check_range("--seed", seed, 0)
    check_range("--workers", workers, 1, 1024)
    pairs = find_pairs(raw_dir, strict=strict)
    splits = split_keys(list(pairs), method=split, ratios=ratios, seed=seed)
    if not splits["train"]:
        raise PipelineError(f"{raw_dir}: no file falls in the train split")
    if check:
        selected = {k for keys in splits.values() for k in keys}
        check_pairs({k: pair for k, pair in pairs.items() if k in selected}, workers=workers)
    if not write:
        return splits
    data_dir = Path(data_dir)
    tables = [f"gg-{name}.csv" for name in SPLITS]
    with directory_lock(data_dir, "prepare_data.py"), \
            staged_outputs(data_dir, last=tables) as stage:
        rng = np.random.default_rng(seed)
        for name, keys in splits.items():
            _write_split(stage, name, [pairs[k] for k in keys],
                         augment_noise=augment_noise and name == "train", rng=rng)
    return splits


def _write_split(out: Path, name: str, pairs: list[tuple[Path, Path]], *, augment_noise: bool,
                 rng: np.random.Generator) -> None:
    """``out/<name>/{inputs,labels}`` and ``out/gg-<name>.csv`` (paths relative to ``out``)."""
    (out / name / "inputs").mkdir(parents=True)
    (out / name / "labels").mkdir()
    rows = []
    for wav, bvh in pairs:
        shutil.copyfile(wav, out / name / "inputs" / wav.name)
        shutil.copyfile(bvh, out / name / "labels" / bvh.name)
        rows.append((wav.name, bvh.name))
        if augment_noise:
            add_noise(wav, out / name / "inputs" / f"n{wav.name}", level=NOISE_LEVEL, rng=rng)
            rows.append((f"n{wav.name}", bvh.name))
    table = pd.DataFrame({
        "wav_filename": [f"{name}/inputs/{w}" for w, _ in rows],
        "wav_filesize": [(out / name / "inputs" / w).stat().st_size for w, _ in rows],
        "bvh_filename": [f"{name}/labels/{b}" for _, b in rows],
    })
    with atomic_path(out / f"gg-{name}.csv") as tmp:
        table.to_csv(tmp, index=False)


def parse_args(argv=None) -> argparse.Namespace:
    """Command-line arguments."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("raw_dir", help="recordings: speech/*.wav + motion/*.bvh (or GENEA/BEAT)")
    parser.add_argument("data_dir", help="output dataset directory")
    parser.add_argument("--split", choices=("ratio", "iva19"), default="ratio",
                        help="random split by --ratios (default) or the IVA'19 Trinity id ranges")
    parser.add_argument("--ratios", type=float, nargs=3, default=(0.8, 0.1, 0.1),
                        metavar=("TRAIN", "DEV", "TEST"),
                        help="split proportions (default 0.8 0.1 0.1)")
    parser.add_argument("--augment-noise", action="store_true",
                        help="add a white-noise copy of every train recording (IVA'19)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the split and the noise")
    parser.add_argument("--strict", action="store_true", help="fail on unpaired files")
    parser.add_argument("--check", action="store_true",
                        help="only read and check every pair, list all bad files; write nothing")
    parser.add_argument("--workers", type=int, default=None,
                        help="parallel processes for the check (default: all cores)")
    return parser.parse_args(argv)


def main(argv=None) -> int:
    """Run the step."""
    args = parse_args(argv)
    splits = prepare(args.raw_dir, args.data_dir, split=args.split, ratios=args.ratios,
                     augment_noise=args.augment_noise, seed=args.seed, strict=args.strict,
                     write=not args.check, workers=args.workers)
    if args.check:
        print(f"checked {sum(len(k) for k in splits.values())} pairs: all good")
        return 0
    for name, keys in splits.items():
        print(f"{name}: {len(keys)} pairs -> {Path(args.data_dir) / f'gg-{name}.csv'}")
    return 0


if __name__ == "__main__":
    run_cli(main)
