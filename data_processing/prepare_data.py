"""Step 1: pair speech with motion (and transcripts), split train/dev/test, write the IVA'19 layout.

Usage::

    python data_processing/prepare_data.py RAW_DIR DATA_DIR [--split auto|ratio|iva19|file]
        [--ratios 0.8 0.1 0.1] [--split-file CSV] [--augment-noise] [--seed K] [--strict]
        [--check] [--smplx-model SMPLX_NEUTRAL_2020.npz] [--smplx-joints all|body]

``RAW_DIR`` holds the recordings in one of the usual layouts: ``speech/`` + ``motion/``
(this project and IVA'19), ``wav/`` + ``bvh/`` (GENEA), ``wave16k/`` + ``smplxflame_30/`` +
``textgrid/`` + ``train_test_split.csv`` (BEAT2), or all kinds side by side (BEAT, single
``.npz`` + ``.wav`` pairs). Speech is any format soundfile reads (WAV, FLAC, OGG, MP3, AIFF,
...; :data:`~data_processing.files.AUDIO_SUFFIXES`); motion is BVH or SMPL-X ``.npz``
(:mod:`data_processing.smplx`), which is written as a BVH on the SMPL-X skeleton (rotations
exact, offsets from ``--smplx-model`` or an approximate template). Files are paired by stem;
the IVA'19 names ``audioN.wav`` / ``gestureN.bvh`` pair by ``N``
(:func:`data_processing.motion.pairing_key`).

Transcripts (:mod:`data_processing.transcripts`: ``.TextGrid``, ``.json``, ``.csv``) pair by
the same key, from ``textgrid/`` or ``transcripts/`` or beside the speech or motion files.
Either every recording has one or none has (audio only).

``--split auto`` (the default) honours the dataset's own split file (BEAT2's
``train_test_split.csv``: ``id,type`` with ``train``, ``val`` -> dev, ``test``; ``additional``
left out) when ``RAW_DIR`` has one, else splits by ``--ratios``.

``DATA_DIR`` receives ``{train,dev,test}/{inputs,labels[,transcripts]}`` and
``gg-{train,dev,test}.csv`` (``wav_filename,wav_filesize,bvh_filename[,transcript_filename]``),
the input of ``create_vector.py``. Paths in the tables are relative to ``DATA_DIR`` so that a
dataset directory can be moved or copied.

Every recording is read and checked first (audio, motion and transcript in full, frame
counts, durations, one skeleton for all files); when any is bad, all the bad files are listed
with their reasons and nothing is written. ``--check`` does only this. The outputs are
committed together, so an interrupted run leaves the previous ``DATA_DIR`` as it was.
"""

from __future__ import annotations

import argparse
import logging
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import soundfile

from data_processing import smplx
from data_processing.bvh import write_bvh
from data_processing.dataset import SPLITS
from data_processing.files import (
    PipelineError,
    atomic_path,
    check_range,
    directory_lock,
    run_cli,
    staged_outputs,
)
from data_processing.recordings import (
    MotionSettings,
    Recording,
    check_pairs,
    find_pairs,
    motion_settings,
    read_motion,
)
from data_processing.splits import SPLIT_FILE, SPLIT_METHODS, choose_splits

log = logging.getLogger(__name__)

NOISE_LEVEL = 0.01  # IVA'19: sox white noise at volume 0.01, mixed into a copy of train audio


def add_noise(src: Path, dst: Path, *, level: float, rng: np.random.Generator) -> None:
    """Write a WAV copy of ``src`` with white noise of peak ``level`` mixed in (atomically).

    The copy keeps the sample format of ``src`` where WAV has it (else 32-bit float).
    """
    info = soundfile.info(src)
    data, sr = soundfile.read(src, dtype="float64", always_2d=True)
    noisy = np.clip(data + rng.uniform(-level, level, size=data.shape), -1.0, 1.0)
    subtype = info.subtype if soundfile.check_format("WAV", info.subtype) else "FLOAT"
    with atomic_path(dst) as tmp:
        soundfile.write(tmp, noisy, sr, subtype=subtype, format="WAV")


def prepare(raw_dir, data_dir, *, split: str = "auto", ratios=(0.8, 0.1, 0.1),
            split_file=None, augment_noise: bool = False, seed: int = 0, strict: bool = False,
            check: bool = True, write: bool = True, workers: int | None = None,
            smplx_model=None, smplx_joints: str = "all") -> dict:
    """Pair, check, split and copy the recordings; write the ``gg-*.csv`` tables.

    Parameters
    ----------
    split : {"auto", "ratio", "iva19", "file"}
        How to split (:func:`choose_splits`); ``split_file`` replaces ``RAW_DIR``'s own.
    check : bool
        Run :func:`check_pairs` first (nothing is written when a recording is bad).
    write : bool
        ``False``: stop after the check (``--check``).
    smplx_model, smplx_joints
        SMPL-X motion settings (:func:`motion_settings`).

    Returns
    -------
    dict
        Keys per split.
    """
    check_range("--seed", seed, 0)
    check_range("--workers", workers, 1, 1024)
    pairs = find_pairs(raw_dir, strict=strict)
    splits = choose_splits(list(pairs), Path(raw_dir), split=split, ratios=ratios, seed=seed,
                           split_file=split_file)
    if not splits["train"]:
        raise PipelineError(f"{raw_dir}: no file falls in the train split")
    chosen = {k for keys in splits.values() for k in keys}
    selected = {k: recording for k, recording in pairs.items() if k in chosen}
    settings = motion_settings(selected.values(), smplx_model=smplx_model,
                               smplx_joints=smplx_joints)
    if check:
        check_pairs(selected, settings, workers=workers)
    if not write:
        return splits
    data_dir = Path(data_dir)
    tables = [f"gg-{name}.csv" for name in SPLITS]
    with directory_lock(data_dir, "prepare_data.py"), \
            staged_outputs(data_dir, last=tables) as stage:
        rng = np.random.default_rng(seed)
        for name, keys in splits.items():
            _write_split(stage, name, [pairs[k] for k in keys], settings,
                         augment_noise=augment_noise and name == "train", rng=rng)
    return splits


def _write_split(out: Path, name: str, recordings: list[Recording], settings: MotionSettings,
                 *, augment_noise: bool, rng: np.random.Generator) -> None:
    """``out/<name>/{inputs,labels[,transcripts]}`` and ``out/gg-<name>.csv`` (relative paths)."""
    folders = {kind: out / name / kind for kind in ("inputs", "labels", "transcripts")}
    folders["inputs"].mkdir(parents=True)
    folders["labels"].mkdir()
    rows = []
    for recording in recordings:
        shutil.copyfile(recording.speech, folders["inputs"] / recording.speech.name)
        label = _write_label(recording.motion, folders["labels"], settings)
        transcript = ""
        if recording.transcript is not None:
            folders["transcripts"].mkdir(exist_ok=True)
            copy = shutil.copyfile(recording.transcript,
                                   folders["transcripts"] / recording.transcript.name)
            transcript = str(copy.relative_to(out))
        rows.append((recording.speech.name, label, transcript))
        if augment_noise:
            noisy = f"n{recording.speech.stem}.wav"
            add_noise(recording.speech, folders["inputs"] / noisy, level=NOISE_LEVEL, rng=rng)
            rows.append((noisy, label, transcript))
    table = pd.DataFrame({
        "wav_filename": [f"{name}/inputs/{w}" for w, _, _ in rows],
        "wav_filesize": [(folders["inputs"] / w).stat().st_size for w, _, _ in rows],
        "bvh_filename": [f"{name}/labels/{b}" for _, b, _ in rows],
    })
    if any(t for _, _, t in rows):
        table["transcript_filename"] = [t for _, _, t in rows]
    with atomic_path(out / f"gg-{name}.csv") as tmp:
        table.to_csv(tmp, index=False)


def _write_label(motion: Path, labels: Path, settings: MotionSettings) -> str:
    """Copy a BVH into ``labels``, or write an SMPL-X motion there as a BVH; its name."""
    if motion.suffix.lower() != ".npz":
        shutil.copyfile(motion, labels / motion.name)
        return motion.name
    write_bvh(labels / f"{motion.stem}.bvh", read_motion(motion, settings).to_bvh().motion)
    return f"{motion.stem}.bvh"


def parse_args(argv=None) -> argparse.Namespace:
    """Command-line arguments."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("raw_dir", help="recordings: speech/ + motion/, GENEA, BEAT or BEAT2")
    parser.add_argument("data_dir", help="output dataset directory")
    parser.add_argument("--split", choices=SPLIT_METHODS, default="auto",
                        help="auto (default): RAW_DIR's train_test_split.csv if it has one, else "
                             "ratio; ratio: random split by --ratios; iva19: the Trinity id "
                             "ranges; file: --split-file")
    parser.add_argument("--ratios", type=float, nargs=3, default=(0.8, 0.1, 0.1),
                        metavar=("TRAIN", "DEV", "TEST"),
                        help="split proportions (default 0.8 0.1 0.1)")
    parser.add_argument("--split-file", default=None,
                        help=f"split table id,type (default RAW_DIR/{SPLIT_FILE})")
    parser.add_argument("--augment-noise", action="store_true",
                        help="add a white-noise copy of every train recording (IVA'19)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the split and the noise")
    parser.add_argument("--strict", action="store_true", help="fail on unpaired files")
    parser.add_argument("--check", action="store_true",
                        help="only read and check every pair, list all bad files; write nothing")
    parser.add_argument("--workers", type=int, default=None,
                        help="parallel processes for the check (default: one, or one per "
                             "core when the files are large enough to repay the workers' "
                             "start-up)")
    parser.add_argument("--smplx-model", default=None,
                        help="your SMPL-X model .npz (e.g. SMPLX_NEUTRAL_2020.npz): exact rest "
                             "offsets of SMPL-X motion (default: an approximate template)")
    parser.add_argument("--smplx-joints", choices=tuple(smplx.JOINT_SETS), default="all",
                        help="SMPL-X joints to keep: all 55 (default) or body (22: no fingers, "
                             "jaw, eyes)")
    return parser.parse_args(argv)


def main(argv=None) -> int:
    """Run the step."""
    args = parse_args(argv)
    splits = prepare(args.raw_dir, args.data_dir, split=args.split, ratios=args.ratios,
                     split_file=args.split_file, augment_noise=args.augment_noise,
                     seed=args.seed, strict=args.strict, write=not args.check,
                     workers=args.workers, smplx_model=args.smplx_model,
                     smplx_joints=args.smplx_joints)
    if args.check:
        print(f"checked {sum(len(k) for k in splits.values())} pairs: all good")
        return 0
    for name, keys in splits.items():
        print(f"{name}: {len(keys)} pairs -> {Path(args.data_dir) / f'gg-{name}.csv'}")
    return 0


if __name__ == "__main__":
    run_cli(main)
