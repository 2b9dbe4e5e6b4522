"""The Audio2Gestures table: L1, PCK, Diversity, Multimodality of sampled predictions.

Usage::

    python evaluation/a2g_metrics.py DATA_DIR --out results/a2g_table
        --method NAME PRED_DIR [PRED_DIR ...] [--method NAME PRED_DIR [PRED_DIR ...] ...]
        [--split test] [--delta 0.2] [--modes SIDECAR]

A method is an Audio2Gestures variant; each of its ``PRED_DIR`` is one *sampling run*: the
held-out predictions ``predict.py RUN DATA_DIR/SPLIT/inputs PRED_DIR --format npy --samples N
--seed K`` writes, one ``<id>.npy`` of shape ``(N, T, D)`` per held-out file (a different
``--seed`` per run). Every run is scored with the ``a2g`` protocol of
:mod:`evaluation.scoring` (global positions, root translation included): sample 0 of each file
gives **L1**, **PCK** (``delta`` body scales, :func:`evaluation.metrics.body_scale`: 0.2 is
32 cm on the demo speaker) and **Diversity**; the ``N`` samples of a file give
**Multimodality**. The table gives "average (best)" over the sampling runs (best: lowest L1,
highest of the others), as the paper's Table 2, and a ground-truth row (its Diversity).

``--modes SIDECAR`` (demo speaker only) adds **Modes**: the number of distinct hidden gesture
modes (right, left, both) that the samples of each phrase show, averaged over phrases
(:func:`data_processing.demo_speaker.gesture_mode`); a model that averages shows 1.

Writes ``OUT.md`` and ``OUT.csv`` (:mod:`evaluation.tables`).
"""

from __future__ import annotations

import argparse

import numpy as np
import pandas as pd

from data_processing.bvh import Skeleton
from data_processing.demo_speaker import gesture_mode
from data_processing.files import PipelineError, read_json, run_cli
from data_processing.motion import motion_id
from evaluation import metrics
from evaluation.scoring import (
    COLUMNS,
    TRUTH,
    Method,
    Reference,
    build_reference,
    load_method,
    score_method,
    summarise,
    truth_row,
)
from evaluation.tables import markdown_table, write_frame

METRICS = ("l1", "pck", "diversity", "multimodality", "modes")
TITLES = {**{key: title for key, (title, _) in COLUMNS.items()}, "modes": "Modes"}


def phrase_modes(samples: np.ndarray, phrases: list[dict], fps: float,
                 skeleton: Skeleton) -> list[int]:
    """Distinct gesture modes among the samples ``(N, T, J, 3)`` of each phrase ("rest" aside).

    Parameters
    ----------
    samples : np.ndarray [shape=(N, T, J, 3)]
        Motions generated for one demo-speaker file.
    phrases : list of dict
        The file's phrases from ``hidden_modes.json`` (``start``, ``end`` in seconds).
    fps : float
        Frame rate of the samples.
    skeleton : Skeleton
        The demo skeleton.
    """
    counts = []
    for phrase in phrases:
        span = slice(int(round(phrase["start"] * fps)), int(round(phrase["end"] * fps)))
        modes = {gesture_mode(sample[span], skeleton) for sample in samples}
        counts.append(len(modes - {"rest"}))
    return counts


def mean_modes(method: Method, reference: Reference, sidecar: dict) -> float:
    """Distinct modes per phrase (:func:`phrase_modes`), averaged over the phrases of every file."""
    counts = []
    for truth, samples in zip(reference.truth, method.samples):
        phrases = sidecar["files"][motion_id(truth.stem)]["phrases"]
        counts += phrase_modes(samples, phrases, reference.fps, truth.skeleton)
    return float(np.mean(counts))


def evaluate_runs(name: str, pred_dirs, data_dir, reference: Reference, *,
                  sidecar: dict | None = None) -> pd.DataFrame:
    """One row of metrics per sampling run (columns :data:`METRICS`, ``modes`` with a sidecar)."""
    rows = []
    for pred_dir in pred_dirs:
        method = load_method(name, pred_dir, data_dir, reference)
        if len(method.samples[0]) < 2:
            raise PipelineError(f"{pred_dir}: one sample per file; Multimodality needs "
                                "predict.py --samples N with N >= 2")
        row = score_method(method, reference)
        if sidecar is not None:
            row["modes"] = mean_modes(method, reference, sidecar)
        rows.append(row)
    frame = pd.DataFrame(rows)
    frame.attrs["samples"] = len(method.samples[0])
    return frame


def markdown(frame: pd.DataFrame, caption: str) -> str:
    """The table with "avg (best)" cells (``-`` for what a row lacks), under ``caption``."""
    shown = [m for m in METRICS if f"{m}_avg" in frame]
    rows = [[str(name), *("-" if pd.isna(row[f"{m}_avg"]) else
                          f"{row[f'{m}_avg']:.3f} ({row[f'{m}_best']:.3f})" for m in shown)]
            for name, row in frame.iterrows()]
    return caption + "\n\n" + markdown_table(["variant", *(TITLES[m] for m in shown)], rows)


def parse_args(argv=None) -> argparse.Namespace:
    """Command-line arguments."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("data_dir", help="dataset the runs were trained on")
    parser.add_argument("--method", nargs="+", action="append", required=True,
                        metavar="NAME PRED_DIR", help="a variant's name and its sampling runs "
                        "(one predict.py output directory each)")
    parser.add_argument("--out", required=True, help="table path without suffix (.md and .csv)")
    parser.add_argument("--split", default="test", help="held-out split to score (default test)")
    parser.add_argument("--delta", type=float, default=metrics.PCK_DELTA,
                        help="PCK threshold in body scales (default %(default)s)")
    parser.add_argument("--modes", help="demo speaker's hidden_modes.json: add the Modes column")
    args = parser.parse_args(argv)
    short = [m[0] for m in args.method if len(m) < 2]
    if short:
        parser.error(f"--method {short[0]}: give the name and at least one PRED_DIR")
    return args


def main(argv=None) -> int:
    """Run the step."""
    args = parse_args(argv)
    reference = build_reference(f"{args.data_dir}:{args.split}", protocol="a2g",
                                delta=args.delta)
    sidecar = read_json(args.modes) if args.modes else None
    rows, samples = {TRUTH: summarise(pd.DataFrame([truth_row(reference)]))}, set()
    for name, *pred_dirs in args.method:
        runs = evaluate_runs(name, pred_dirs, args.data_dir, reference, sidecar=sidecar)
        rows[name], samples = summarise(runs), samples | {runs.attrs["samples"]}
        print(name, " ".join(f"{k}={v:.4g}" for k, v in rows[name].items()))
    frame = pd.DataFrame.from_dict(rows, orient="index").rename_axis("variant")
    runs = "/".join(map(str, sorted({len(dirs) for _, *dirs in args.method})))
    samples = "/".join(map(str, sorted(samples)))
    caption = (f"Audio2Gestures on `{args.data_dir}` ({args.split} split): average (best) over "
               f"{runs} sampling runs, {samples} samples per file. L1 and the distances of "
               "Diversity and Multimodality in the dataset's position units "
               f"(cm for the demo speaker); PCK at {args.delta:g} body scale "
               f"({reference.threshold:.1f} units).")
    md, csv = write_frame(frame, args.out, markdown(frame, caption), float_format="%.4f")
    print(f"wrote {md} and {csv}")
    return 0


if __name__ == "__main__":
    run_cli(main)
