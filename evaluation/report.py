"""One comparison report of every method against the ground truth, with every metric and plots.

Usage::

    python evaluation/report.py --truth DATA_DIR:test
        --method NAME PRED_DIR DATA_DIR [--method NAME PRED_DIR DATA_DIR ...]
        [--fgd EXTRACTOR_DIR] [--out results/report] [--delta 0.2] [--sigma 0.3]

A method is a directory with one motion file per held-out sequence (``<id>.npy``, ``.txt``
or ``.bvh``, matched to the ground truth by id as :mod:`evaluation.motion_files` pairs files)
and the dataset its arrays are on (skeleton, frame rate and representation): ``pos_vel``
vectors or positions (IVA'19), ``rot6d`` vectors (Audio2Gestures). An ``.npy`` array
``(N, T, D)`` holds ``N`` samples of one sequence: sample 0 is scored like a single motion and
all ``N`` give the Multimodality. ``--truth DATA_DIR:SPLIT`` is the ground truth, whose speech
files give the beat alignment and whose frame rate every method is brought to (linear
interpolation of positions).

All metrics are computed the same way for every method, on positions relative to the root
joint (IVA'19's ``pos_vel`` outputs are root-pinned), in the data's units (cm for the demo
speaker), averaged over the held-out files:

========================  =======================================================================
APE, MAE                  mean Euclidean / per-coordinate absolute position error
Acceleration, Jerk        mean norm of the 2nd / 3rd difference, per second (units/s^2, /s^3)
Hellinger                 distance between the method's joint-speed histogram and the truth's
                          (20 bins from 0 to the truth's 99th percentile; faster goes in the
                          last bin)
L1, PCK                   Audio2Gestures: L1 norm of the 3-D error; fraction of joints within
                          ``delta`` body scales (:func:`evaluation.a2g_metrics.body_scale`)
Diversity                 mean L1 distance between non-overlapping 50-frame clips
Multimodality             mean L1 distance between the samples of a file (methods with samples)
FGD                       Frechet gesture distance to the truth (``--fgd``, :mod:`evaluation.fgd`)
Beat alignment, L1div     BEAT conventions (:mod:`evaluation.beat_alignment`), sigma in seconds
========================  =======================================================================

Writes ``OUT.md`` (the table, the definitions and the plots), ``OUT.csv`` (one row per method,
ground truth first), ``OUT_metrics.png`` (a bar per method for each metric, the truth's value
as a dashed line) and ``OUT_speed.png`` (each method's joint-speed histogram over the
truth's).
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path

import matplotlib
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from data_processing.bvh import read_bvh
from data_processing.dataset import DatasetMeta
from data_processing.files import PipelineError, atomic_path, load_array, run_cli
from data_processing.kinematics import resample_linear
from data_processing.representations import array_kind, to_positions
from evaluation import beat_alignment, metrics
from evaluation.a2g_metrics import body_scale
from evaluation.motion_files import motion_id
from evaluation.motion_inputs import Motion, load_sources, parse_split_source

SUFFIXES = (".npy", ".txt", ".bvh")
SPEED_BINS = 20
TRUTH = "ground truth"
# column -> (title, True when lower is better, None when closer to the truth is better)
COLUMNS = {
    "ape": ("APE", True), "mae": ("MAE", True),
    "acceleration": ("Acceleration", None), "jerk": ("Jerk", None),
    "hellinger": ("Hellinger (speed)", True), "l1": ("L1", True), "pck": ("PCK", False),
    "diversity": ("Diversity", None), "multimodality": ("Multimodality", False),
    "fgd": ("FGD", True), "beat_alignment": ("Beat alignment", None), "l1div": ("L1div", None),
}


@dataclass
class Method:
    """The motions of one method: ``samples[i]`` is ``(N, T, J, 3)`` for the i-th truth file."""

    name: str
    samples: list[np.ndarray]


def _root_relative(positions: np.ndarray) -> np.ndarray:
    return positions - positions[:, :1]


def load_method_file(path: Path, meta: DatasetMeta, fps: float) -> np.ndarray:
    """Root-relative positions ``(N, T, J, 3)`` at ``fps`` of one prediction file."""
    if path.suffix == ".bvh":
        samples = [read_bvh(path).resample(fps).positions()]
    else:
        array = load_array(path)
        if not np.isfinite(array).all():
            raise PipelineError(f"{path}: contains NaN or infinite values")
        if array.ndim == 3 and array.shape[-1] != 3:
            stack = array  # (N, T, D): samples of one sequence
        else:
            stack = array.reshape(1, len(array), -1)
        kind = array_kind(stack.shape[-1], meta.skeleton, source=str(path),
                          preferred=meta.motion)
        samples = [resample_linear(to_positions(s, meta.skeleton, kind), meta.fps, fps)
                   for s in stack]
    return np.stack([_root_relative(s) for s in samples])


def load_method(name: str, pred_dir, data_dir, truth: list[Motion]) -> Method:
    """A method's predictions for every truth file, matched by id (missing or extra: error)."""
    pred_dir = Path(pred_dir)
    if not pred_dir.is_dir():
        raise PipelineError(f"{pred_dir}: no such directory (method {name!r})")
    files = {motion_id(p): p for p in sorted(pred_dir.iterdir()) if p.suffix in SUFFIXES}
    wanted = [motion_id(m.stem) for m in truth]
    missing, extra = sorted(set(wanted) - set(files)), sorted(set(files) - set(wanted))
    if missing or extra:
        found = [f"missing id(s) {', '.join(missing)}" if missing else "",
                 f"extra id(s) {', '.join(extra)}" if extra else ""]
        raise PipelineError(f"{pred_dir}: {'; '.join(f for f in found if f)} "
                            f"(method {name!r}, ground truth ids {', '.join(wanted)})")
    meta = DatasetMeta.load(data_dir)
    samples = []
    for key, motion in zip(wanted, truth):
        predicted = load_method_file(files[key], meta, motion.fps)
        if predicted.shape[2] != motion.positions.shape[1]:
            raise PipelineError(f"{files[key]}: {predicted.shape[2]} joints, the ground truth "
                                f"has {motion.positions.shape[1]}")
        if abs(predicted.shape[1] - len(motion.positions)) > 2:
            raise PipelineError(f"{files[key]}: {predicted.shape[1]} frames at "
                                f"{motion.fps:g} fps, the ground truth has "
                                f"{len(motion.positions)}")
        samples.append(predicted)
    return Method(name, samples)


def speed_histogram(motions: list[np.ndarray], fps: float, bins: np.ndarray) -> np.ndarray:
    """Normalised histogram of every joint speed of the motions (top bin open-ended)."""
    speeds = np.concatenate([metrics.speed(m, fps).ravel() for m in motions])
    counts = np.histogram(np.minimum(speeds, bins[-1]), bins)[0].astype(np.float64)
    return counts / counts.sum()


@dataclass
class Reference:
    """What every method is scored against."""

    truth: list[Motion]
    bins: np.ndarray
    histogram: np.ndarray
    threshold: float
    extractor: object | None
    sigma: float


def score(motions: list[np.ndarray], reference: Reference,
          samples: list[np.ndarray] | None = None) -> dict[str, float]:
    """Every metric (:data:`COLUMNS`) of one motion per truth file, root-relative positions."""
    truth = reference.truth
    fps = truth[0].fps
    pairs = [(m, t.positions) for m, t in zip(motions, truth)]  # the metrics trim lengths
    row = {
        "ape": np.mean([metrics.ape(p, t).mean() for p, t in pairs]),
        "mae": np.mean([metrics.mae(p, t).mean() for p, t in pairs]),
        "acceleration": np.mean([metrics.acceleration(m, fps).mean() for m in motions]),
        "jerk": np.mean([metrics.jerk(m, fps).mean() for m in motions]),
        "hellinger": metrics.hellinger(speed_histogram(motions, fps, reference.bins),
                                       reference.histogram),
        "l1": np.mean([metrics.l1(p, t) for p, t in pairs]),
        "pck": np.mean([metrics.pck(p, t, reference.threshold) for p, t in pairs]),
        "diversity": metrics.diversity(motions),
        "multimodality": (np.mean([metrics.multimodality(s) for s in samples])
                          if samples is not None and len(samples[0]) > 1 else np.nan),
    }
    as_motions = [Motion(t.name, m, fps, t.joint_names, t.audio) for m, t in zip(motions, truth)]
    if reference.extractor is not None:
        from evaluation import fgd

        row["fgd"] = fgd.score(reference.extractor, truth, as_motions).fgd
    beats = beat_alignment.evaluate(as_motions, sigma=reference.sigma)
    row.update(beat_alignment=beats.beat_alignment, l1div=beats.l1div)
    return {key: float(value) for key, value in row.items()}


def build_reference(truth_source: str, *, fgd_dir=None, delta: float = 0.2,
                    sigma: float = beat_alignment.SIGMA) -> Reference:
    """Load the ground truth (root-relative) and what the metrics compare against."""
    split = parse_split_source(truth_source)
    if split is None:
        raise PipelineError(f"{truth_source}: expected the ground truth as DATA_DIR:SPLIT")
    truth = [Motion(m.name, _root_relative(m.positions), m.fps, m.joint_names, m.audio)
             for m in load_sources([truth_source])]
    speeds = np.concatenate([metrics.speed(t.positions, t.fps).ravel() for t in truth])
    bins = np.linspace(0.0, max(float(np.percentile(speeds, 99)), 1e-6), SPEED_BINS + 1)
    extractor = None
    if fgd_dir is not None:
        from evaluation.fgd import FeatureExtractor

        extractor = FeatureExtractor.load(fgd_dir)
    histogram = speed_histogram([t.positions for t in truth], truth[0].fps, bins)
    threshold = delta * body_scale(DatasetMeta.load(split[0]).skeleton)
    return Reference(truth, bins, histogram, threshold, extractor, sigma)


def build_table(reference: Reference, methods: list[Method]) -> pd.DataFrame:
    """One row per method (ground truth first), columns :data:`COLUMNS`."""
    rows = {TRUTH: score([t.positions for t in reference.truth], reference)}
    for method in methods:
        rows[method.name] = score([s[0] for s in method.samples], reference, method.samples)
    return pd.DataFrame.from_dict(rows, orient="index").rename_axis("method")


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


def _cell(value: float) -> str:
    if pd.isna(value):
        return "-"
    return f"{value:.3f}" if abs(value) < 100 else f"{value:.1f}"


def markdown(table: pd.DataFrame, *, caption: str, images: list[Path]) -> str:
    """The report: caption, table, plots and the metric definitions."""
    columns = [c for c in COLUMNS if c in table]
    lines = [caption, "",
             "| method | " + " | ".join(COLUMNS[c][0] for c in columns) + " |",
             "|---|" + "---:|" * len(columns)]
    lines += [f"| {name} | " + " | ".join(_cell(row[c]) for c in columns) + " |"
              for name, row in table.iterrows()]
    lines += ["", *[f"![{p.stem}]({p.name})" for p in images], "",
              "Metric definitions: see the docstring of `evaluation/report.py` "
              "(`python evaluation/report.py --help`)."]
    return "\n".join(lines) + "\n"


def write_report(table: pd.DataFrame, reference: Reference, methods: list[Method], out,
                 *, caption: str) -> list[Path]:
    """Write ``OUT.md``, ``OUT.csv``, ``OUT_metrics.png`` and ``OUT_speed.png``."""
    out = Path(out)
    images = [plot_metrics(table, out.with_name(out.name + "_metrics.png")),
              plot_speed(reference, methods, out.with_name(out.name + "_speed.png"))]
    with atomic_path(out.with_suffix(".csv")) as tmp:
        table.to_csv(tmp, float_format="%.5g")
    with atomic_path(out.with_suffix(".md")) as tmp:
        tmp.write_text(markdown(table, caption=caption, images=images))
    return [out.with_suffix(".md"), out.with_suffix(".csv"), *images]


def parse_args(argv=None) -> argparse.Namespace:
    """Command-line arguments."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--truth", required=True, metavar="DATA_DIR:SPLIT",
                        help="the ground truth, e.g. demo/iva19:test")
    parser.add_argument("--method", nargs=3, action="append", required=True,
                        metavar=("NAME", "PRED_DIR", "DATA_DIR"),
                        help="a method: its name, its predictions, the dataset they are on")
    parser.add_argument("--fgd", metavar="EXTRACTOR_DIR",
                        help="FGD feature extractor (evaluation/fgd.py train); no FGD without")
    parser.add_argument("--out", default="results/report",
                        help="path without suffix of the report files (default results/report)")
    parser.add_argument("--delta", type=float, default=0.2,
                        help="PCK threshold in body scales (default 0.2)")
    parser.add_argument("--sigma", type=float, default=beat_alignment.SIGMA,
                        help="beat alignment tolerance in seconds (default %(default)s)")
    return parser.parse_args(argv)


def main(argv=None) -> int:
    """Run the step."""
    args = parse_args(argv)
    names = [name for name, _, _ in args.method]
    if len(set(names)) != len(names) or TRUTH in names:
        raise PipelineError(f"method names must be unique and not {TRUTH!r}: {', '.join(names)}")
    reference = build_reference(args.truth, fgd_dir=args.fgd, delta=args.delta, sigma=args.sigma)
    methods = [load_method(name, pred, data, reference.truth) for name, pred, data in args.method]
    table = build_table(reference, methods)
    truth = reference.truth
    caption = (f"Every method on the {len(truth)} held-out files of `{args.truth}` "
               f"({sum(len(t.positions) for t in truth) / truth[0].fps:.0f} s at "
               f"{truth[0].fps:g} fps), root-relative positions in the data's units; PCK at "
               f"{args.delta:g} body scale ({reference.threshold:.1f} units); beat alignment "
               f"sigma {args.sigma:g} s.")
    for path in write_report(table, reference, methods, args.out, caption=caption):
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    run_cli(main)
