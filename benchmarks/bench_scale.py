"""Data at scale: time and peak memory of ``create_vector.py`` for 1x, 4x, 16x the demo's hours.

Usage::

    python benchmarks/bench_scale.py [--scales 1 4 16] [--n-context 10] [--features MFCC]
        [--script data_processing/create_vector.py] [--workdir DIR]

The demo speaker of ``make demo`` (``[speaker]`` of ``example_scripts/experiments/
demo_sweep.toml``: 32 recordings of 30 s) is generated once and split by ``prepare_data``; the
dataset of scale ``k`` lists every recording ``k`` times under new names (symbolic links), so
its hours grow by ``k`` while every file is vectorised as in the demo. Each dataset is built by
``create_vector.py`` in a child process with one worker (the default settings of the demo's
MFCC dataset); its wall time and peak resident memory (``os.wait4``) are reported with the
ratios per hour of speech and the increments per added hour, which stay flat when both grow
at most linearly. ``--script`` measures another version of the step (e.g. one from
``git show``), run with the project on ``PYTHONPATH``.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
import tomllib
from pathlib import Path

import pandas as pd

from data_processing import prepare_data
from data_processing.dataset import SPLITS
from data_processing.demo_speaker import write_demo_dataset

REPO = Path(__file__).resolve().parents[1]
SWEEP = REPO / "example_scripts" / "experiments" / "demo_sweep.toml"
FILE_COLUMNS = ("wav_filename", "bvh_filename", "transcript_filename")


def demo_speaker() -> dict:
    """The ``[speaker]`` table of the demo: files, seconds, seed."""
    with open(SWEEP, "rb") as file:
        return tomllib.load(file)["speaker"]


def replicate(base: Path, out: Path, k: int) -> None:
    """``out/gg-*.csv`` listing every recording of ``base`` ``k`` times under new names."""
    links = out / "links"
    links.mkdir(parents=True)
    for split in SPLITS:
        table = pd.read_csv(base / f"gg-{split}.csv", dtype=str, keep_default_na=False)
        rows = []
        for copy in range(k):
            for _, row in table.iterrows():
                row = row.copy()
                for column in FILE_COLUMNS:
                    if row.get(column):
                        source = base / row[column]
                        link = links / f"{source.stem}_r{copy}{source.suffix}"
                        link.symlink_to(source)
                        row[column] = str(link)
                rows.append(row)
        pd.DataFrame(rows, columns=table.columns).to_csv(out / f"gg-{split}.csv", index=False)


def measure(script: Path, data: Path, n_context: int, features: str) -> tuple[float, float]:
    """Wall seconds and peak resident MiB of one ``create_vector.py`` run."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        [str(REPO), *filter(None, [os.environ.get("PYTHONPATH")])])}
    start = time.perf_counter()
    child = subprocess.Popen([sys.executable, str(script), str(data), str(n_context),
                              "--features", features, "--workers", "1"], env=env,
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(child.pid, 0)
    seconds = time.perf_counter() - start
    errors = child.stderr.read().decode()
    child.stderr.close()
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{script} failed on {data}:\n{errors}")
    return seconds, usage.ru_maxrss / 1024  # KiB on Linux


def parse_args(argv=None) -> argparse.Namespace:
    """Command-line arguments."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scales", type=int, nargs="+", default=[1, 4, 16],
                        help="multiples of the demo's hours (default 1 4 16)")
    parser.add_argument("--n-context", type=int, default=10,
                        help="N_CONTEXT (default 10, the demo's; the paper's is 60)")
    parser.add_argument("--features", default="MFCC", help="feature set (default MFCC)")
    parser.add_argument("--script", type=Path, default=REPO / "data_processing" /
                        "create_vector.py", help="the create_vector.py to measure")
    parser.add_argument("--workdir", type=Path, default=None,
                        help="keep the datasets here (default: a temporary directory)")
    return parser.parse_args(argv)


def main(argv=None) -> int:
    """Run the benchmark and print its table."""
    args = parse_args(argv)
    speaker = demo_speaker()
    with tempfile.TemporaryDirectory() as tmp:
        work = args.workdir or Path(tmp)
        write_demo_dataset(work / "raw", files=speaker["files"], seconds=speaker["seconds"],
                           seed=speaker["seed"], workers=1)
        prepare_data.prepare(work / "raw", work / "base", seed=0)
        hours = speaker["files"] * speaker["seconds"] / 3600
        rows = []
        for k in args.scales:
            data = work / f"x{k}"
            replicate(work / "base", data, k)
            seconds, mib = measure(args.script, data, args.n_context, args.features)
            rows.append({"scale": k, "hours": k * hours, "seconds": seconds, "peak_mib": mib})
            print(f"{k}x: {k * hours:.2f} h in {seconds:.1f} s, peak {mib:.0f} MiB", flush=True)
    table = pd.DataFrame(rows)
    table["s_per_hour"] = table.seconds / table.hours
    table["mib_per_hour"] = table.peak_mib / table.hours
    added = table.hours - table.hours.iloc[0]
    table["added_s_per_added_hour"] = (table.seconds - table.seconds.iloc[0]) / added
    table["added_mib_per_added_hour"] = (table.peak_mib - table.peak_mib.iloc[0]) / added
    print(f"\ncreate_vector.py ({args.script}), N_CONTEXT {args.n_context}, {args.features}, "
          "one worker")
    print(table.to_string(index=False, float_format=lambda v: f"{v:.2f}", na_rep="-"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
