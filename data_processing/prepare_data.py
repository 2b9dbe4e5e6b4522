"""Step 1: pair speech with motion, split train/dev/test, and write the IVA'19 layout.

Usage::

    python data_processing/prepare_data.py RAW_DIR DATA_DIR [--split ratio|iva19]
        [--ratios 0.8 0.1 0.1] [--augment-noise] [--seed K] [--strict]

``RAW_DIR`` holds the recordings in one of the usual layouts: ``speech/`` + ``motion/``
(this project and IVA'19), ``wav/`` + ``bvh/`` (GENEA), or both kinds side by side (BEAT).
Files are paired by stem; the IVA'19 names ``audioN.wav`` / ``gestureN.bvh`` pair by ``N``.
``DATA_DIR`` receives ``{train,dev,test}/{inputs,labels}`` and ``gg-{train,dev,test}.csv``
(``wav_filename,wav_filesize,bvh_filename``), the input of ``create_vector.py``. Paths in the
tables are relative to ``DATA_DIR`` so that a dataset directory can be moved or copied.
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

from data_processing.dataset import SPLITS
from data_processing.files import PipelineError, atomic_path, run_cli

log = logging.getLogger(__name__)

SPEECH_DIRS = ("speech", "wav", "audio")
MOTION_DIRS = ("motion", "bvh", "gesture")
IVA19_RANGES = {"train": range(20, 1092), "test": range(1092, 1183, 2), "dev": range(1093, 1182, 2)}
NOISE_LEVEL = 0.01  # IVA'19: sox white noise at volume 0.01, mixed into a copy of train audio


def _find_dir(raw_dir: Path, names: tuple[str, ...], suffix: str) -> Path:
    for name in names:
        if (raw_dir / name).is_dir():
            return raw_dir / name
    if any(raw_dir.glob(f"*{suffix}")):
        return raw_dir
    raise PipelineError(f"{raw_dir}: no {suffix} files (looked in {', '.join(names)} and itself)")


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
    wavs = {pairing_key(p.stem): p for p in _find_dir(raw_dir, SPEECH_DIRS, ".wav").glob("*.wav")}
    bvhs = {pairing_key(p.stem): p for p in _find_dir(raw_dir, MOTION_DIRS, ".bvh").glob("*.bvh")}
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
    if ratios.shape != (3,) or (ratios < 0).any() or ratios.sum() <= 0:
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


def add_noise(src: Path, dst: Path, *, level: float, rng: np.random.Generator) -> None:
    """Write a copy of ``src`` with white noise of peak ``level`` mixed in (atomically)."""
    info = soundfile.info(src)
    data, sr = soundfile.read(src, dtype="float64", always_2d=True)
    noisy = np.clip(data + rng.uniform(-level, level, size=data.shape), -1.0, 1.0)
    with atomic_path(dst) as tmp:
        soundfile.write(tmp, noisy, sr, subtype=info.subtype, format="WAV")


def prepare(raw_dir, data_dir, *, split: str = "ratio", ratios=(0.8, 0.1, 0.1),
            augment_noise: bool = False, seed: int = 0, strict: bool = False) -> dict:
    """Pair, split and copy the recordings; write the ``gg-*.csv`` tables. Returns the split."""
    data_dir = Path(data_dir)
    pairs = find_pairs(raw_dir, strict=strict)
    splits = split_keys(list(pairs), method=split, ratios=ratios, seed=seed)
    if not splits["train"]:
        raise PipelineError(f"{raw_dir}: no file falls in the train split")
    rng = np.random.default_rng(seed)
    for name, keys in splits.items():
        rows = []
        with atomic_path(data_dir / name) as tmp:
            (tmp / "inputs").mkdir(parents=True)
            (tmp / "labels").mkdir()
            for key in keys:
                wav, bvh = pairs[key]
                shutil.copyfile(wav, tmp / "inputs" / wav.name)
                shutil.copyfile(bvh, tmp / "labels" / bvh.name)
                rows.append((wav.name, bvh.name))
                if augment_noise and name == "train":
                    add_noise(wav, tmp / "inputs" / f"n{wav.name}", level=NOISE_LEVEL, rng=rng)
                    rows.append((f"n{wav.name}", bvh.name))
        table = pd.DataFrame(
            {
                "wav_filename": [f"{name}/inputs/{w}" for w, _ in rows],
                "wav_filesize": [(data_dir / name / "inputs" / w).stat().st_size for w, _ in rows],
                "bvh_filename": [f"{name}/labels/{b}" for _, b in rows],
            }
        )
        with atomic_path(data_dir / f"gg-{name}.csv") as tmp:
            table.to_csv(tmp, index=False)
    return splits


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
    return parser.parse_args(argv)


def main(argv=None) -> int:
    """Run the step."""
    args = parse_args(argv)
    splits = prepare(args.raw_dir, args.data_dir, split=args.split, ratios=args.ratios,
                     augment_noise=args.augment_noise, seed=args.seed, strict=args.strict)
    for name, keys in splits.items():
        print(f"{name}: {len(keys)} pairs -> {Path(args.data_dir) / f'gg-{name}.csv'}")
    return 0


if __name__ == "__main__":
    run_cli(main)
