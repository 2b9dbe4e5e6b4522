"""One comparison report of every method against the ground truth, with intervals and plots.

Usage::

    python evaluation/report.py --truth DATA_DIR:test
        --method NAME PRED_DIR DATA_DIR [--method NAME PRED_DIR DATA_DIR ...]
        [--compare A B ...] [--protocol report|a2g] [--fgd EXTRACTOR_DIR]
        [--out results/report] [--delta 0.2] [--sigma 0.1] [--segment 10]
        [--boot 2000] [--boot-seed 0]

A method is a directory with one motion file per held-out sequence (``<id>.npy``, ``.txt``
or ``.bvh``, matched to the ground truth by id) and the dataset its arrays are on (skeleton,
frame rate and representation): ``pos_vel`` vectors or positions (IVA'19), ``rot6d`` vectors
(Audio2Gestures), positions (HA2G). **The same NAME given several times is one method trained
with several seeds** (one PRED_DIR per seed). An ``.npy`` array ``(N, T, D)`` holds ``N``
samples of one sequence: sample 0 is scored like a single motion and all ``N`` give the
Multimodality. ``--truth DATA_DIR:SPLIT`` is the ground truth, whose speech files give the
beat alignment, whose frame rate every method is brought to (linear interpolation of
positions) and whose training split gives the mean pose. The scoring is
:mod:`evaluation.scoring`; ``--protocol`` picks its convention (default ``report``:
positions relative to the skeleton's root, every metric; ``a2g``: global positions, L1, PCK,
Diversity and Multimodality as the Audio2Gestures paper).

Every row is the mean over the method's seeds with a 95% percentile-bootstrap interval over
seeds and held-out segments (``--segment`` seconds; :mod:`evaluation.intervals`). Three
reference rows come first, scored the same way: the ground truth, the **mismatched truth**
(held-out file ``i`` gets the truth of file ``i + 1``, cyclically in id order, trimmed to the
shorter length: natural motion out of sync with the speech) and the **mean pose** of the
training split. A metric whose paired difference between the truth and the mismatched truth
has an interval that includes 0 does not separate them on this data: the report marks it
(``†``) and it should not rank methods. ``--compare A B`` adds the paired difference ``A - B``
(every metric, same segments) to the comparison list, with whether its interval excludes 0.

The metrics, in the data's units (cm for the demo speaker):

========================  =======================================================================
APE, MAE                  mean Euclidean / per-coordinate absolute position error
Acceleration, Jerk        mean norm of the 2nd / 3rd difference, per second (units/s^2, /s^3)
Hellinger                 distance between the method's joint-speed histogram and the truth's
                          (20 bins from 0 to the truth's 99th percentile; faster goes in the
                          last bin), recomputed for every resampled set of segments
L1, PCK                   Audio2Gestures: L1 norm of the 3-D error; fraction of joints within
                          ``delta`` body scales, the body scale being the rest pose's torso
                          length (:func:`evaluation.metrics.body_scale`)
Diversity                 mean L1 distance between the non-overlapping 50-frame clips of one
                          segment (within a sequence, as the Audio2Gestures paper)
Multimodality             mean L1 distance between the samples of a file (methods with samples)
FGD                       Frechet gesture distance to the truth (``--fgd``); one value per seed,
                          its interval over seeds only; its **noise floor** (the FGD between two
                          disjoint halves of the truth: alternate files) is the row
                          ``FGD noise floor (truth halves)`` and a dotted line in the plot
Beat alignment, L1div     sigma in seconds (0.1 s, HA2G), mean over all audio onsets; L1div as
                          BEAT (:mod:`evaluation.beats`)
========================  =======================================================================

Writes ``OUT.md`` (the table, the comparisons, the definitions and the plots), ``OUT.csv``
(one row per method, references first: ``METRIC``, ``METRIC_lo``, ``METRIC_hi``; with
``--fgd``, the noise-floor row after them, its FGD alone and without an interval),
``OUT_comparisons.csv`` (``a, b, metric, difference, lo, hi, verdict``; the truth against the
mismatched truth first), ``OUT_metrics.png`` (a bar per row with its interval for each metric,
the truth's value as a dashed line, the FGD noise floor as a dotted one) and ``OUT_speed.png``
(each method's joint-speed histogram over the truth's; ``report`` protocol).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import matplotlib
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from data_processing.files import PipelineError, atomic_path, run_cli
from evaluation import beats, intervals, metrics
from evaluation.scoring import (
    COLUMNS,
    PROTOCOLS,
    REFERENCES,
    TRUTH,
    Method,
    Reference,
    build_reference,
    build_table,
    load_method,
    method_scores,
    score_rows,
    speed_histogram,
    stack_seeds,
)
from evaluation.tables import markdown_table, write_frame

__all__ = ["build_reference", "build_table", "load_method", "main"]

FLOOR = "FGD noise floor (truth halves)"
"""The row of FGD's noise floor (:attr:`evaluation.scoring.Reference.fgd_floor`)."""


def with_floor(table: pd.DataFrame, reference: Reference) -> pd.DataFrame:
    """``table`` with the :data:`FLOOR` row after the reference rows (FGD only, no interval)."""
    if reference.fgd_floor is None or "fgd" not in table:
        return table
    floor = pd.DataFrame({"fgd": [float(reference.fgd_floor[0])]},
                         index=pd.Index([FLOOR], name=table.index.name))
    n = int(table.index.isin(REFERENCES).sum())
    return pd.concat([table.iloc[:n], floor, table.iloc[n:]])


def plot_metrics(table: pd.DataFrame, path: Path) -> Path:
    """A bar per row with its interval for each metric; the truth's value as a dashed line.

    The FGD panel shows the noise floor (the :data:`FLOOR` row) as a dotted line.
    """
    floor = table.loc[FLOOR, "fgd"] if FLOOR in table.index else None
    rows = table.drop([TRUTH, FLOOR], errors="ignore")
    columns = [c for c in COLUMNS if c in table and rows[c].notna().any()]
    n_cols = 4
    n_rows = -(-len(columns) // n_cols)
    fig = Figure(figsize=(4.2 * n_cols, (0.3 * len(rows) + 1.6) * n_rows))
    axes = fig.subplots(n_rows, n_cols, squeeze=False)
    colours = matplotlib.colormaps["tab20"](np.arange(len(rows)) % 20)
    for ax, column in zip(axes.flat, columns):
        title, lower = COLUMNS[column]
        values = rows[column].to_numpy(dtype=float)
        error = None
        if f"{column}_lo" in rows:
            error = np.abs(np.stack([values - rows[f"{column}_lo"].to_numpy(dtype=float),
                                     rows[f"{column}_hi"].to_numpy(dtype=float) - values]))
        ax.barh(np.arange(len(rows)), values, xerr=error, color=colours, capsize=2,
                error_kw={"linewidth": 0.8})
        ax.set_yticks(np.arange(len(rows)), rows.index, fontsize=7)
        ax.invert_yaxis()
        if pd.notna(table.loc[TRUTH, column]):
            ax.axvline(table.loc[TRUTH, column], color="k", linestyle="--", linewidth=1)
        if column == "fgd" and floor is not None and pd.notna(floor):
            ax.axvline(floor, color="0.4", linestyle=":", linewidth=1.2, label="noise floor")
            ax.legend(fontsize=7)
        better = {True: "lower is better", False: "higher is better",
                  None: "closer to the truth, dashed"}[lower]
        ax.set_title(f"{title}\n({better}; 95% interval)", fontsize=9)
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


def _title(key: str, separates: dict[str, bool]) -> str:
    return COLUMNS[key][0] + ("" if separates.get(key, True) else " †")


def markdown(table: pd.DataFrame, compared: pd.DataFrame, *, caption: str,
             images: list[Path]) -> str:
    """The report: caption, table (``mean [lo, hi]``), comparisons, plots and definitions."""
    columns = [c for c in COLUMNS if c in table]
    separates = intervals.separating(compared)
    rows = [[str(name), str(int(row["seeds"])) if pd.notna(row["seeds"]) else "-",
             *(intervals.cell(row[c], row[f"{c}_lo"], row[f"{c}_hi"]) for c in columns)]
            for name, row in table.iterrows()]
    blind = [COLUMNS[c][0] for c in columns if not separates.get(c, True)]
    note = ("† does not separate the ground truth from the mismatched truth on this data (the "
            "95% interval of their paired difference includes 0): do not rank methods by it: "
            + ", ".join(blind) + "." if blind else
            "Every metric separates the ground truth from the mismatched truth on this data.")
    pairs = [[f"{r.a} − {r.b}", _title(r.metric, separates),
              intervals.cell(r.difference, r.lo, r.hi), r.verdict, r.better]
             for r in compared.itertuples()]
    lines = [caption, "",
             markdown_table(["method", "seeds", *(_title(c, separates) for c in columns)], rows,
                            align="---:"),
             note, "", "Paired differences (same held-out segments; 95% bootstrap interval):",
             "", markdown_table(["comparison", "metric", "difference [95% interval]",
                                 "interval", "favours"], pairs),
             *[f"![{p.stem}]({p.name})" for p in images], "",
             "Metric definitions: see the docstring of `evaluation/report.py` "
             "(`python evaluation/report.py --help`)."]
    return "\n".join(lines) + "\n"


def write_report(table: pd.DataFrame, compared: pd.DataFrame, reference: Reference,
                 methods: list[Method], out, *, caption: str) -> list[Path]:
    """Write ``OUT.md``, ``OUT.csv``, ``OUT_comparisons.csv`` and the plots."""
    out = Path(out)
    images = [plot_metrics(table, out.with_name(out.name + "_metrics.png"))]
    if reference.bins is not None and methods:
        images.append(plot_speed(reference, methods, out.with_name(out.name + "_speed.png")))
    md, csv = write_frame(table, out, markdown(table, compared, caption=caption, images=images))
    pairs = out.with_name(out.name + "_comparisons.csv")
    with atomic_path(pairs) as tmp:
        compared.to_csv(tmp, index=False, float_format="%.6g")
    return [md, csv, pairs, *images]


def caption_text(reference: Reference, source: str, boot: intervals.Bootstrap,
                 segment: float, delta: float) -> str:
    """What the table is: data, protocol, conventions, references, intervals."""
    truth = reference.truth
    seconds = sum(t.n_frames for t in truth) / truth[0].fps
    return (f"Every method on the {len(truth)} held-out files of `{source}` ({seconds:.0f} s at "
            f"{truth[0].fps:g} fps), {reference.protocol.description} in the data's units. "
            f"Mean over training seeds [95% percentile-bootstrap interval over seeds and "
            f"{reference.n_segments} held-out segments of ~{segment:g} s, {boot.n_boot} "
            f"replicates, seed {boot.seed}; FGD over seeds only]. Reference rows: the ground "
            f"truth; the mismatched truth (file i scored with the truth of file i+1, "
            f"cyclically in id order, trimmed to the shorter length); the training split's "
            f"mean pose. PCK at {delta:g} × the rest pose's torso length "
            f"({reference.threshold:.1f} units); beat alignment sigma {reference.sigma:g} s "
            f"(HA2G); Diversity between the 50-frame clips of one segment.{floor_text(reference)}")


def floor_text(reference: Reference) -> str:
    """The caption's sentence on FGD's noise floor (empty without an extractor)."""
    if reference.fgd_floor is None:
        return ""
    floor, raw, (a, b) = reference.fgd_floor
    training = reference.extractor.config.training.get("noise_floor") or {}
    own = (f"; the extractor's own floor, {training['between']}: {training['fgd']:.3f}"
           if training.get("between") else "")
    return (f" FGD noise floor (row `{FLOOR}`): {floor:.3f} (raw space {raw:.3f}), the FGD "
            f"between two disjoint halves of the held-out truth (alternate files, {a} + {b} "
            f"clips){own}; a difference in FGD smaller than the floor says nothing.")


def parse_args(argv=None) -> argparse.Namespace:
    """Command-line arguments."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--truth", required=True, metavar="DATA_DIR:SPLIT",
                        help="the ground truth, e.g. demo/iva19:test")
    parser.add_argument("--method", nargs=3, action="append", required=True,
                        metavar=("NAME", "PRED_DIR", "DATA_DIR"),
                        help="a method: its name, its predictions, the dataset they are on; "
                             "the same NAME again adds a training seed of that method")
    parser.add_argument("--compare", nargs=2, action="append", default=[],
                        metavar=("A", "B"),
                        help="report the paired difference A - B (method or reference names)")
    parser.add_argument("--protocol", choices=sorted(PROTOCOLS), default="report",
                        help="scoring convention (default report: root-relative, every "
                             "metric; a2g: global positions, L1/PCK/Diversity/Multimodality)")
    parser.add_argument("--fgd", metavar="EXTRACTOR_DIR",
                        help="FGD feature extractor (evaluation/fgd.py train); no FGD without")
    parser.add_argument("--out", default="results/report",
                        help="path without suffix of the report files (default results/report)")
    parser.add_argument("--delta", type=float, default=metrics.PCK_DELTA,
                        help="PCK threshold in torso lengths (default %(default)s)")
    parser.add_argument("--sigma", type=float, default=beats.SIGMA,
                        help="beat alignment tolerance in seconds (default %(default)s, HA2G)")
    intervals.add_arguments(parser)
    return parser.parse_args(argv)


def group_methods(specs: list[list[str]]) -> list[tuple[str, list[tuple[str, str]]]]:
    """``--method`` triples by name (first appearance first): ``[(name, [(pred, data)...])]``."""
    groups: dict[str, list[tuple[str, str]]] = {}
    for name, pred, data in specs:
        if name in (*REFERENCES, FLOOR):
            raise PipelineError(f"method name {name!r} is a reference row's: use another")
        if (pred, data) in groups.get(name, []):
            raise PipelineError(f"method {name!r}: {pred} given twice")
        groups.setdefault(name, []).append((pred, data))
    return list(groups.items())


def main(argv=None) -> int:
    """Run the step."""
    args = parse_args(argv)
    groups = group_methods(args.method)
    reference = build_reference(args.truth, protocol=args.protocol, fgd_dir=args.fgd,
                                delta=args.delta, sigma=args.sigma, segment=args.segment)
    scores = score_rows(reference, {})  # the reference rows
    first_seeds = []  # sample 0 of each method's first seed (the speed plot)
    for name, runs in groups:
        seeds = []
        for pred, data in runs:  # one seed at a time: its samples are dropped once scored
            method = load_method(name, pred, data, reference)
            seeds.append(method_scores(method, reference))
            if len(seeds) == 1:
                first_seeds.append(Method(name, [s[:1] for s in method.samples]))
        scores[name] = stack_seeds(name, seeds)
    boot = intervals.Bootstrap(reference.n_segments, n_boot=args.boot, seed=args.boot_seed,
                               reference=reference)
    table = with_floor(intervals.interval_table(scores, boot), reference)
    compared = intervals.comparisons(scores, [tuple(p) for p in args.compare], boot)
    caption = caption_text(reference, args.truth, boot, args.segment, args.delta)
    for path in write_report(table, compared, reference, first_seeds, args.out,
                             caption=caption):
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    run_cli(main)
