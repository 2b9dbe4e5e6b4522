"""Write the built-in demo speaker as raw recordings: ``speech/*.wav`` + ``motion/*.bvh``.

Usage::

    python data_processing/make_demo_dataset.py OUT_DIR [--files N] [--seconds S] [--seed K]

Also writes ``OUT_DIR/hidden_modes.json``, the sidecar with every phrase's hidden gesture mode
(see :mod:`data_processing.demo_speaker`). The output is laid out like real data, so every
later step runs on it unchanged.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from data_processing.demo_speaker import write_demo_dataset
from data_processing.files import run_cli


def parse_args(argv=None) -> argparse.Namespace:
    """Command-line arguments."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out_dir", help="directory to write speech/, motion/ and the sidecar")
    parser.add_argument("--files", type=int, default=24, help="number of recordings (default 24)")
    parser.add_argument("--seconds", type=float, default=30.0,
                        help="length of each recording in seconds (default 30)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    parser.add_argument("--workers", type=int, default=None,
                        help="parallel processes (default: all cores)")
    return parser.parse_args(argv)


def main(argv=None) -> int:
    """Run the step."""
    args = parse_args(argv)
    sidecar = write_demo_dataset(args.out_dir, files=args.files, seconds=args.seconds,
                                 seed=args.seed, workers=args.workers)
    out = Path(args.out_dir)
    phrases = [p for timeline in sidecar["files"].values() for p in timeline["phrases"]]
    counts = {m: sum(p["mode"] == m for p in phrases) for m in sidecar["modes"]}
    print(f"wrote {args.files} recordings of {args.seconds:g} s to {out / 'speech'} and "
          f"{out / 'motion'}")
    print(f"{len(phrases)} phrases, hidden modes {counts} -> {out / 'hidden_modes.json'}")
    return 0


if __name__ == "__main__":
    run_cli(main)
