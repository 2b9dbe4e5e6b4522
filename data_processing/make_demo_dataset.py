"""Write the built-in demo speaker as raw recordings: ``speech/*.wav`` + ``motion/*.bvh``.

Usage::

    python data_processing/make_demo_dataset.py OUT_DIR [--files N] [--seconds S] [--seed K]

Also writes ``OUT_DIR/hidden_modes.json``, the sidecar with every phrase's hidden gesture mode
(see :mod:`data_processing.demo_speaker`). The output is laid out like real data, so every
later step runs on it unchanged. The three outputs are committed together: a rerun replaces
``speech/`` and ``motion/`` as a whole, and an interrupted run leaves the previous ones.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from data_processing.demo_speaker import (
    MAX_FILES,
    MAX_SECONDS,
    MIN_SECONDS,
    check_size,
    write_demo_dataset,
)
from data_processing.files import check_range, directory_lock, run_cli, staged_outputs


def parse_args(argv=None) -> argparse.Namespace:
    """Command-line arguments."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out_dir", help="directory to write speech/, motion/ and the sidecar")
    parser.add_argument("--files", type=int, default=24,
                        help=f"number of recordings, 1 to {MAX_FILES} (default 24)")
    parser.add_argument("--seconds", type=float, default=30.0,
                        help=f"length of each recording in seconds, {MIN_SECONDS:g} to "
                             f"{MAX_SECONDS:g} (default 30)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    parser.add_argument("--workers", type=int, default=None,
                        help="parallel processes (default: one, or one per core when the "
                             "dataset is large enough to repay the workers' start-up)")
    return parser.parse_args(argv)


def main(argv=None) -> int:
    """Run the step."""
    args = parse_args(argv)
    check_size(args.files, args.seconds)
    check_range("--seed", args.seed, 0)
    check_range("--workers", args.workers, 1, 1024)
    out = Path(args.out_dir)
    with directory_lock(out, "make_demo_dataset.py"), \
            staged_outputs(out, last=["hidden_modes.json"]) as stage:
        sidecar = write_demo_dataset(stage, files=args.files, seconds=args.seconds,
                                     seed=args.seed, workers=args.workers)
    phrases = [p for timeline in sidecar["files"].values() for p in timeline["phrases"]]
    counts = {m: sum(p["mode"] == m for p in phrases) for m in sidecar["modes"]}
    print(f"wrote {args.files} recordings of {args.seconds:g} s to {out / 'speech'} and "
          f"{out / 'motion'}")
    print(f"{len(phrases)} phrases, hidden modes {counts} -> {out / 'hidden_modes.json'}")
    return 0


if __name__ == "__main__":
    run_cli(main)
