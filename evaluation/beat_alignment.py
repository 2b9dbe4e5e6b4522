"""Beat alignment and L1div of motions against their speech (BEAT conventions).

Usage::

    python evaluation/beat_alignment.py --motion SRC [SRC ...] [--audio WAV_OR_DIR ...]
        [--data DATA_DIR] [--fps F] [--sigma 0.1] [--order 2] [--backtrack]
        [--joints NAME,...] [--name NAME] [--out CSV] [--per-file CSV]

A ``SRC`` is a motion file, a directory of them or ``DATA_DIR:SPLIT`` (ground truth, which
brings its own speech); see :mod:`data_processing.motion`. Array files need the dataset
(``--data``: skeleton and frame rate) or at least ``--fps`` for plain positions. Every motion
file is paired with the ``--audio`` file of the same id (the stem without an ``X_test_``
prefix; the IVA'19 ``audioN.wav`` goes with ``gestureN``/``audioN``/``N``), as the IVA'19
evaluation pairs files; a single motion with a single WAV pair directly.

The definitions and the Python interface are :mod:`evaluation.beats`.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from data_processing.dataset import DatasetMeta
from data_processing.files import atomic_path, run_cli
from data_processing.motion import load_sources
from data_processing.representations import ARRAY_KINDS
from evaluation.beats import BEAT_SIGMA, ORDER, SIGMA, evaluate
from evaluation.tables import append_csv


def parse_args(argv=None) -> argparse.Namespace:
    """Command-line arguments."""
    parser = argparse.ArgumentParser(
        description="Beat alignment and L1div (BEAT conventions) of motions and their speech.")
    parser.add_argument("--motion", nargs="+", required=True,
                        help="motion files, directories or DATA_DIR:SPLIT")
    parser.add_argument("--audio", nargs="+",
                        help="audio files (WAV, FLAC, ...) or directories, paired with "
                             "motions by stem (not needed for DATA_DIR:SPLIT)")
    parser.add_argument("--data", type=Path,
                        help="dataset whose skeleton and frame rate array files use")
    parser.add_argument("--fps", type=float,
                        help="frame rate of array files (default: the dataset's)")
    parser.add_argument("--representation", choices=ARRAY_KINDS,
                        help="kind of array files when their width fits several")
    parser.add_argument("--sigma", type=float, default=SIGMA,
                        help=f"beat alignment tolerance in seconds (default: {SIGMA}, HA2G; "
                             f"BEAT used {BEAT_SIGMA})")
    parser.add_argument("--order", type=int, default=ORDER,
                        help=f"frames on each side of a motion beat (default: {ORDER}, BEAT)")
    parser.add_argument("--backtrack", action="store_true",
                        help="move audio onsets back to the preceding RMS minimum")
    parser.add_argument("--joints", type=lambda s: [j for j in s.split(",") if j],
                        help="comma-separated joints for the motion beats (default: all)")
    parser.add_argument("--keep-root", action="store_true",
                        help="use global positions (default: relative to the root joint)")
    parser.add_argument("--name", default="", help="label of the row in --out")
    parser.add_argument("--out", type=Path, help="append a summary row to this CSV table")
    parser.add_argument("--per-file", type=Path, help="write one row per motion to this CSV")
    return parser.parse_args(argv)


def main(argv=None) -> int:
    """Score the motions and print ``Beat alignment`` and ``L1div``."""
    args = parse_args(argv)
    meta = DatasetMeta.load(args.data) if args.data is not None else None
    motions = load_sources(args.motion, dataset=meta, fps=args.fps,
                           kind=args.representation or "auto")
    result = evaluate(motions, audio=args.audio, sigma=args.sigma, order=args.order,
                      backtrack=args.backtrack, joints=args.joints, pin_root=not args.keep_root)
    print(f"Beat alignment: {result.beat_alignment:.3f} (sigma {args.sigma:g} s, "
          f"{len(motions)} files)")
    print(f"L1div: {result.l1div:.3f}")
    if args.per_file:
        with atomic_path(args.per_file) as tmp:
            result.per_file.to_csv(tmp, index=False, float_format="%.6f")
    if args.out:
        append_csv(args.out, {
            "name": args.name, "beat_alignment": f"{result.beat_alignment:.6f}",
            "l1div": f"{result.l1div:.6f}", "sigma": args.sigma, "order": args.order,
            "backtrack": args.backtrack, "pin_root": not args.keep_root,
            "files": len(motions), "onsets": int(result.per_file["onsets"].sum()),
            "motion_beats": int(result.per_file["motion_beats"].sum()),
            "motion": " ".join(args.motion)})
    return 0


if __name__ == "__main__":
    run_cli(main)
