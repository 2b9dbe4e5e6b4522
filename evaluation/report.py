"""One comparison report of every method against the ground truth, with every metric and plots.

Usage::

    python evaluation/report.py --truth DATA_DIR:test
        --method NAME PRED_DIR DATA_DIR [--method NAME PRED_DIR DATA_DIR ...]
        [--protocol report|a2g] [--fgd EXTRACTOR_DIR] [--out results/report]
        [--delta 0.2] [--sigma 0.3]

A method is a directory with one motion file per held-out sequence (``<id>.npy``, ``.txt``
or ``.bvh``, matched to the ground truth by id) and the dataset its arrays are on (skeleton,
frame rate and representation): ``pos_vel`` vectors or positions (IVA'19), ``rot6d`` vectors
(Audio2Gestures). An ``.npy`` array ``(N, T, D)`` holds ``N`` samples of one sequence: sample
0 is scored like a single motion and all ``N`` give the Multimodality. ``--truth
DATA_DIR:SPLIT`` is the ground truth, whose speech files give the beat alignment and whose
frame rate every method is brought to (linear interpolation of positions). The scoring is
:mod:`evaluation.scoring`; ``--protocol`` picks its convention (default ``report``:
positions relative to the skeleton's root, every metric; ``a2g``: global positions, L1, PCK,
Diversity and Multimodality as the Audio2Gestures paper).

The metrics, in the data's units (cm for the demo speaker), averaged over the held-out files:

========================  =======================================================================
APE, MAE                  mean Euclidean / per-coordinate absolute position error
Acceleration, Jerk        mean norm of the 2nd / 3rd difference, per second (units/s^2, /s^3)
Hellinger                 distance between the method's joint-speed histogram and the truth's
                          (20 bins from 0 to the truth's 99th percentile; faster goes in the
                          last bin)
L1, PCK                   Audio2Gestures: L1 norm of the 3-D error; fraction of joints within
                          ``delta`` body scales (:func:`evaluation.metrics.body_scale`)
Diversity                 mean L1 distance between non-overlapping 50-frame clips
Multimodality             mean L1 distance between the samples of a file (methods with samples)
FGD                       Frechet gesture distance to the truth (``--fgd``, :mod:`evaluation.fgd`)
Beat alignment, L1div     BEAT conventions (:mod:`evaluation.beat_alignment`), sigma in seconds
========================  =======================================================================

Writes ``OUT.md`` (the table, the definitions and the plots), ``OUT.csv`` (one row per method,
ground truth first), ``OUT_metrics.png`` (a bar per method for each metric, the truth's value
as a dashed line) and ``OUT_speed.png`` (each method's joint-speed histogram over the
truth's; ``report`` protocol).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import matplotlib
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from data_processing.files import PipelineError, atomic_path, run_cli
from evaluation import beats, metrics
from evaluation.scoring import (
    COLUMNS,
    PROTOCOLS,
    TRUTH,
    Method,
    Reference,
    build_reference,
    build_table,
    load_method,
    speed_histogram,
)
from evaluation.tables import markdown_table, number_cell, write_frame


def plot_metrics(table: pd.DataFrame, path: Path) -> Path:
    """A bar per method for each metric; the truth's value as a dashed line."""
    columns = [c for c in COLUMNS if c in table and table[c].drop(TRUTH).notna().any()]
    n_cols = 4
    n_rows = -(-len(columns) // n_cols)
    methods = table.drop(TRUTH)
    fig = Figure(figsize=(4.2 * n_cols, (0.3 * len(methods) + 1.6) * n_rows))
    axes = fig.subplots(n_rows, n_cols, squeeze=False)
    colours = matplotlib.colormaps["tab20"](np.arange(len(methods)) % 20)
    for ax, column in zip(axes.flat, columns):
        title, lower = COLUMNS[column]
        ax.barh(np.arange(len(methods)), methods[column], color=colours)
        ax.set_yticks(np.arange(len(methods)), methods.index, fontsize=7)
        ax.invert_yaxis()
        if pd.notna(table.loc[TRUTH, column]):
            ax.axvline(table.loc[TRUTH, column], color="k", linestyle="--", linewidth=1)
        better = {True: "lower is better", False: "higher is better",
                  None: "closer to the truth, dashed"}[lower]
        ax.set_title(f"{title}\n({better})", fontsize=9)
        ax.tick_params(axis="x", labelsize=7)
    for ax in axes.flat[len(columns):]:
        ax.axis("off")
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=110)
    return path


def plot_speed(reference: Reference, methods: list[Method], path: Path) -> Path:
    """Each method's joint-speed histogram over the ground truth's (one panel per method)."""
    n_cols = 4
    n_rows = -(-len(methods) // n_cols)
    fig = Figure(figsize=(3.6 * n_cols, 2.6 * n_rows))
    axes = fig.subplots(n_rows, n_cols, squeeze=False, sharex=True, sharey=True)
    centres = 0.5 * (reference.bins[1:] + reference.bins[:-1])
    width = reference.bins[1] - reference.bins[0]
    fps = reference.truth[0].fps
    for ax, method in zip(axes.flat, methods):
        ax.bar(centres, reference.histogram, width=width, color="0.8", label=TRUTH)
        hist = speed_histogram([s[0] for s in method.samples], fps, reference.bins)
        ax.step(centres, hist, where="mid", color="C3", label="method")
        ax.set_yscale("log")  # most joint-frames are slow: the tail is where methods differ
        ax.set_title(method.name, fontsize=9)
        ax.tick_params(labelsize=7)
    for ax in axes.flat[len(methods):]:
        ax.axis("off")
    for ax in axes[-1]:
        ax.set_xlabel("joint speed (units/s)", fontsize=8)
    for ax in axes[:, 0]:
        ax.set_ylabel("fraction of joint-frames", fontsize=8)
    axes[0, 0].legend(fontsize=7)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=110)
    return path


def markdown(table: pd.DataFrame, *, caption: str, images: list[Path]) -> str:
    """The report: caption, table, plots and the metric definitions."""
    columns = [c for c in COLUMNS if c in table]
    rows = [[str(name), *(number_cell(row[c]) for c in columns)] for name, row in table.iterrows()]
    lines = [caption, "", markdown_table(["method", *(COLUMNS[c][0] for c in columns)], rows,
                                         align="---:"),
             *[f"![{p.stem}]({p.name})" for p in images], "",
             "Metric definitions: see the docstring of `evaluation/report.py` "
             "(`python evaluation/report.py --help`)."]
    return "\n".join(lines) + "\n"


def write_report(table: pd.DataFrame, reference: Reference, methods: list[Method], out,
                 *, caption: str) -> list[Path]:
    """Write ``OUT.md``, ``OUT.csv``, ``OUT_metrics.png`` and ``OUT_speed.png`` (with speeds)."""
    out = Path(out)
    images = [plot_metrics(table, out.with_name(out.name + "_metrics.png"))]
    if reference.bins is not None:
        images.append(plot_speed(reference, methods, out.with_name(out.name + "_speed.png")))
    md, csv = write_frame(table, out, markdown(table, caption=caption, images=images))
    return [md, csv, *images]


def parse_args(argv=None) -> argparse.Namespace:
    """Command-line arguments."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--truth", required=True, metavar="DATA_DIR:SPLIT",
                        help="the ground truth, e.g. demo/iva19:test")
    parser.add_argument("--method", nargs=3, action="append", required=True,
                        metavar=("NAME", "PRED_DIR", "DATA_DIR"),
                        help="a method: its name, its predictions, the dataset they are on")
    parser.add_argument("--protocol", choices=sorted(PROTOCOLS), default="report",
                        help="scoring convention (default report: root-relative, every "
                             "metric; a2g: global positions, L1/PCK/Diversity/Multimodality)")
    parser.add_argument("--fgd", metavar="EXTRACTOR_DIR",
                        help="FGD feature extractor (evaluation/fgd.py train); no FGD without")
    parser.add_argument("--out", default="results/report",
                        help="path without suffix of the report files (default results/report)")
    parser.add_argument("--delta", type=float, default=metrics.PCK_DELTA,
                        help="PCK threshold in body scales (default %(default)s)")
    parser.add_argument("--sigma", type=float, default=beats.SIGMA,
                        help="beat alignment tolerance in seconds (default %(default)s)")
    return parser.parse_args(argv)


def main(argv=None) -> int:
    """Run the step."""
    args = parse_args(argv)
    names = [name for name, _, _ in args.method]
    if len(set(names)) != len(names) or TRUTH in names:
        raise PipelineError(f"method names must be unique and not {TRUTH!r}: {', '.join(names)}")
    reference = build_reference(args.truth, protocol=args.protocol, fgd_dir=args.fgd,
                                delta=args.delta, sigma=args.sigma)
    methods = [load_method(name, pred, data, reference) for name, pred, data in args.method]
    table = build_table(reference, methods)
    truth = reference.truth
    caption = (f"Every method on the {len(truth)} held-out files of `{args.truth}` "
               f"({sum(len(t.positions) for t in truth) / truth[0].fps:.0f} s at "
               f"{truth[0].fps:g} fps), {reference.protocol.description} in the data's units; "
               f"PCK at {args.delta:g} body scale ({reference.threshold:.1f} units); beat "
               f"alignment sigma {args.sigma:g} s.")
    for path in write_report(table, reference, methods, args.out, caption=caption):
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    run_cli(main)
