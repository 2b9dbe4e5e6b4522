"""The Audio2Gestures table: L1, PCK, Diversity, Multimodality of sampled predictions.

Usage::

    python evaluation/a2g_metrics.py DATA_DIR --out results/a2g_table
        --method NAME PRED_DIR [PRED_DIR ...] [--method NAME PRED_DIR [PRED_DIR ...] ...]
        [--compare A B ...] [--split test] [--delta 0.2] [--modes SIDECAR]
        [--segment 10] [--boot 2000] [--boot-seed 0]

A method is an Audio2Gestures variant; each of its ``PRED_DIR`` is one *sampling run*: the
held-out predictions ``predict.py RUN DATA_DIR/SPLIT/inputs PRED_DIR --format npy --samples N
--seed K`` writes, one ``<id>.npy`` of shape ``(N, T, D)`` per held-out file (a different
``--seed`` per run). Every run is scored with the ``a2g`` protocol of
:mod:`evaluation.scoring` (global positions, root translation included): sample 0 of each file
gives **L1**, **PCK** (``delta`` body scales, :func:`evaluation.metrics.body_scale`: the rest
pose's torso length; 0.2 is 10.8 cm on the demo speaker) and **Diversity** (between the
50-frame clips of one held-out segment: within a sequence, as the paper); the ``N`` samples of
a file give **Multimodality**. The table gives "average (best)" over the sampling runs (best:
lowest L1, highest of the others), as the paper's Table 2.

**Seeds and intervals.** The same NAME given several times is one variant trained with several
seeds, each ``--method`` one seed's sampling runs. Every cell is ``average [95% interval]
(best)``: the interval is the percentile bootstrap over training seeds and held-out segments
of :mod:`evaluation.intervals` (a seed's sampling runs averaged per segment first). The
reference rows of :mod:`evaluation.scoring` come first: the ground truth, the mismatched truth
(another held-out file's truth) and the training split's mean pose. ``--compare A B`` lists
the paired difference ``A - B`` and whether its interval excludes 0 (``OUT_comparisons.csv``).

``--modes SIDECAR`` (demo speaker only) adds **Modes**: the number of distinct hidden gesture
modes (right, left, both) that the samples of each phrase show, averaged over phrases
(:func:`data_processing.demo_speaker.gesture_mode`); a model that averages shows 1.

Writes ``OUT.md``, ``OUT.csv`` (``METRIC_avg``, ``METRIC_lo``, ``METRIC_hi``, ``METRIC_best``)
and ``OUT_comparisons.csv`` (:mod:`evaluation.tables`).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd

from data_processing.bvh import Skeleton
from data_processing.demo_speaker import gesture_mode
from data_processing.files import PipelineError, atomic_path, read_json, run_cli
from data_processing.motion import motion_id
from evaluation import intervals, metrics
from evaluation.scoring import (
    COLUMNS,
    REFERENCES,
    Method,
    Reference,
    Scores,
    build_reference,
    load_method,
    method_scores,
    reference_methods,
    stack_seeds,
    summarise,
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


def evaluate_seed(name: str, pred_dirs, data_dir, reference: Reference, *,
                  sidecar: dict | None = None) -> tuple[pd.DataFrame, Scores]:
    """One training seed: a row of metrics per sampling run, and the runs' segment scores.

    Returns
    -------
    frame : pandas.DataFrame
        Columns :data:`METRICS` (``modes`` with a sidecar); ``frame.attrs["samples"]`` is the
        samples per file.
    scores : Scores
        The sampling runs' per-segment scores averaged (one seed).
    """
    rows, runs = [], []
    for pred_dir in pred_dirs:
        method = load_method(name, pred_dir, data_dir, reference)
        if len(method.samples[0]) < 2:
            raise PipelineError(f"{pred_dir}: one sample per file; Multimodality needs "
                                "predict.py --samples N with N >= 2")
        scores = method_scores(method, reference)
        row = scores.point(reference)
        if sidecar is not None:
            row["modes"] = mean_modes(method, reference, sidecar)
        rows.append(row)
        runs.append(scores)
    frame = pd.DataFrame(rows)
    frame.attrs["samples"] = len(method.samples[0])
    mean = Scores(name, {k: np.mean([r.num[k] for r in runs], axis=0) for k in runs[0].num},
                  {k: np.mean([r.den[k] for r in runs], axis=0) for k in runs[0].den})
    return frame, mean


def evaluate_runs(name: str, pred_dirs, data_dir, reference: Reference, *,
                  sidecar: dict | None = None) -> pd.DataFrame:
    """One row of metrics per sampling run (:func:`evaluate_seed`'s frame)."""
    return evaluate_seed(name, pred_dirs, data_dir, reference, sidecar=sidecar)[0]


def table_row(runs: pd.DataFrame, interval: dict) -> dict[str, float]:
    """:func:`summarise` of the sampling runs plus each metric's ``_lo`` and ``_hi``."""
    row = summarise(runs)
    for key, (_, lo, hi) in interval.items():
        row.update({f"{key}_lo": lo, f"{key}_hi": hi})
    return row


def _cell(row, metric: str) -> str:
    if pd.isna(row.get(f"{metric}_avg")):
        return "-"
    text = f"{row[f'{metric}_avg']:.3f}"
    if f"{metric}_lo" in row and pd.notna(row[f"{metric}_lo"]):
        text += f" [{row[f'{metric}_lo']:.3f}, {row[f'{metric}_hi']:.3f}]"
    if row.name not in REFERENCES:
        text += f" ({row[f'{metric}_best']:.3f})"
    return text


def markdown(frame: pd.DataFrame, caption: str, compared: pd.DataFrame | None = None) -> str:
    """The table with "avg [lo, hi] (best)" cells (``-`` for what a row lacks), under ``caption``.

    With ``compared`` (:func:`evaluation.intervals.comparisons`) the paired differences follow
    and metrics that do not separate the truth from the mismatched truth are marked ``†``.
    """
    shown = [m for m in METRICS if f"{m}_avg" in frame]
    separates = intervals.separating(compared) if compared is not None else {}
    titles = [TITLES[m] + ("" if separates.get(m, True) else " †") for m in shown]
    rows = [[str(name), *(_cell(row, m) for m in shown)] for name, row in frame.iterrows()]
    text = caption + "\n\n" + markdown_table(["variant", *titles], rows)
    if compared is not None:
        text += ("\n† the ground truth and the mismatched truth are not separated (their paired "
                 "difference's 95% interval includes 0): do not rank by it.\n\n"
                 + markdown_table(["comparison", "metric", "difference [95% interval]",
                                   "interval", "favours"],
                                  [[f"{r.a} − {r.b}", TITLES[r.metric],
                                    intervals.cell(r.difference, r.lo, r.hi), r.verdict,
                                    r.better] for r in compared.itertuples()]))
    return text


def parse_args(argv=None) -> argparse.Namespace:
    """Command-line arguments."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("data_dir", help="dataset the runs were trained on")
    parser.add_argument("--method", nargs="+", action="append", required=True,
                        metavar="NAME PRED_DIR", help="a variant's name and its sampling runs "
                        "(one predict.py output directory each); the same NAME again adds a "
                        "training seed")
    parser.add_argument("--compare", nargs=2, action="append", default=[], metavar=("A", "B"),
                        help="report the paired difference A - B (variant or reference names)")
    parser.add_argument("--out", required=True, help="table path without suffix (.md and .csv)")
    parser.add_argument("--split", default="test", help="held-out split to score (default test)")
    parser.add_argument("--delta", type=float, default=metrics.PCK_DELTA,
                        help="PCK threshold in torso lengths (default %(default)s)")
    parser.add_argument("--modes", help="demo speaker's hidden_modes.json: add the Modes column")
    intervals.add_arguments(parser)
    args = parser.parse_args(argv)
    short = [m[0] for m in args.method if len(m) < 2]
    if short:
        parser.error(f"--method {short[0]}: give the name and at least one PRED_DIR")
    return args


def main(argv=None) -> int:
    """Run the step."""
    args = parse_args(argv)
    reference = build_reference(f"{args.data_dir}:{args.split}", protocol="a2g",
                                delta=args.delta, segment=args.segment)
    boot = intervals.Bootstrap(reference.n_segments, n_boot=args.boot, seed=args.boot_seed,
                               reference=reference)
    sidecar = read_json(args.modes) if args.modes else None
    scores, rows, samples, seeds = {}, {}, set(), {}
    for method in reference_methods(reference):
        scores[method.name] = method_scores(method, reference)
        rows[method.name] = table_row(pd.DataFrame([scores[method.name].point(reference)]),
                                      boot.interval(scores[method.name]))
    grouped: dict[str, list] = {}
    for name, *pred_dirs in args.method:
        if name in REFERENCES:
            raise PipelineError(f"variant name {name!r} is a reference row's: use another")
        grouped.setdefault(name, []).append(evaluate_seed(name, pred_dirs, args.data_dir,
                                                          reference, sidecar=sidecar))
    for name, seeds_of in grouped.items():
        frames = [frame for frame, _ in seeds_of]
        scores[name] = stack_seeds(name, [seed for _, seed in seeds_of])
        rows[name] = table_row(pd.concat(frames, ignore_index=True),
                               boot.interval(scores[name]))
        samples |= {frame.attrs["samples"] for frame in frames}
        seeds[name] = len(frames)
        print(name, " ".join(f"{k}={v:.4g}" for k, v in rows[name].items()))
    compared = intervals.comparisons(scores, [tuple(p) for p in args.compare], boot)
    frame = pd.DataFrame.from_dict(rows, orient="index").rename_axis("variant")
    runs = "/".join(map(str, sorted({len(dirs) for _, *dirs in args.method})))
    caption = (f"Audio2Gestures on `{args.data_dir}` ({args.split} split): average over "
               f"{'/'.join(map(str, sorted(set(seeds.values()))))} training seeds and "
               f"{runs} sampling runs per seed [95% percentile-bootstrap interval over seeds "
               f"and {reference.n_segments} held-out segments of ~{args.segment:g} s, "
               f"{boot.n_boot} replicates] (best sampling run), "
               f"{'/'.join(map(str, sorted(samples)))} samples per file. Reference rows: the "
               "ground truth, the mismatched truth (file i scored with the truth of file i+1) "
               "and the training mean pose. L1 and the distances of Diversity and "
               "Multimodality in the dataset's position units (cm for the demo speaker); PCK "
               f"at {args.delta:g} × the rest pose's torso length ({reference.threshold:.1f} "
               "units); Diversity between the 50-frame clips of one segment.")
    md, csv = write_frame(frame, args.out, markdown(frame, caption, compared),
                          float_format="%.4f")
    pairs = Path(args.out).with_name(Path(args.out).name + "_comparisons.csv")
    with atomic_path(pairs) as tmp:
        compared.to_csv(tmp, index=False, float_format="%.6g")
    print(f"wrote {md}, {csv} and {pairs}")
    return 0


if __name__ == "__main__":
    run_cli(main)
