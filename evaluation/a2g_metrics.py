"""Score Audio2Gestures runs in the paper's form: L1, PCK, Diversity, Multimodality.

Usage::

    python evaluation/a2g_metrics.py DATA_DIR RUN_DIR [RUN_DIR ...] --out results/a2g_table
        [--split test] [--runs 5] [--samples 20] [--delta 0.2] [--seed 0] [--modes SIDECAR]

For every run and every sampling run ``r`` (``--runs``), each file of the split gets
``--samples`` motions. Sample 0 of each file is the run's generated motion: **L1** (mean over
frames and joints of the L1 norm of the 3-D error, dataset units, e.g. cm), **PCK** (fraction of
joints within ``delta`` of the truth, where ``delta`` is in units of the skeleton's *body
scale*: the largest distance between two joints of the rest pose, so ``0.2`` is 32 cm on the
demo speaker) and **Diversity** (mean L1 distance between all non-overlapping 50-frame clips of
the split's motions). **Multimodality** is the mean L1 distance between the ``--samples``
motions of one file, averaged over files. The table gives "average (best)" over the sampling
runs (best: lowest L1, highest of the others), as the paper's Table 2, and a ground-truth row
(the real motions' Diversity). Positions include the root translation.

``--modes SIDECAR`` (demo speaker only) adds **Modes**: the number of distinct hidden gesture
modes (right, left, both) that the samples of each phrase show, averaged over phrases
(:func:`data_processing.demo_speaker.gesture_mode`); a model that averages shows 1.

Writes ``OUT.md`` and ``OUT.csv``; the metric math is in :mod:`evaluation.metrics`.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.spatial.distance import pdist

from data_processing.bvh import Skeleton
from data_processing.dataset import DatasetMeta
from data_processing.demo_speaker import gesture_mode
from data_processing.files import PipelineError, atomic_path, read_json, run_cli
from data_processing.kinematics import forward_kinematics
from evaluation.metrics import diversity, l1, multimodality, pck
from gesture_vae.sample import Sampler

METRICS = ("l1", "pck", "diversity", "multimodality", "modes")
LOWER_IS_BETTER = {"l1"}
TITLES = {"l1": "L1", "pck": "PCK", "diversity": "Diversity", "multimodality": "Multimodality",
          "modes": "Modes"}


def body_scale(skeleton: Skeleton) -> float:
    """Largest distance between two joints of the rest pose (identity rotations), in units."""
    rest = np.broadcast_to(np.eye(3), (skeleton.n_joints, 3, 3))
    positions = forward_kinematics(skeleton.parents, rest, skeleton.offsets)
    return float(pdist(positions).max())


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


def evaluate(sampler: Sampler, meta: DatasetMeta, split: str = "test", *, runs: int = 5,
             samples: int = 20, delta: float = 0.2, seed: int = 0,
             sidecar: dict | None = None) -> pd.DataFrame:
    """One row of metrics per sampling run (columns :data:`METRICS`, ``modes`` if sidecar).

    Parameters
    ----------
    sampler : Sampler
        The run to score.
    meta : DatasetMeta
        The dataset (its ``split`` sequences give the audio and the true positions).
    split : str
        Held-out split to score.
    runs : int >= 1
        Sampling runs (seeds ``[seed, r]``).
    samples : int >= 2
        Motions per file and run (Multimodality).
    delta : float
        PCK threshold in body scales (:func:`body_scale`).
    seed : int
        Base seed.
    sidecar : dict, optional
        ``hidden_modes.json`` of the demo speaker, for the Modes column.
    """
    if runs < 1 or samples < 2:
        raise PipelineError(f"need --runs >= 1 and --samples >= 2, got {runs} and {samples}")
    ids = meta.splits.get(split) or []
    if not ids:
        raise PipelineError(f"{meta.root}: the {split} split has no sequences")
    sequences = [meta.sequence(split, seq_id) for seq_id in ids]
    truths = [s["positions"].reshape(len(s["positions"]), -1, 3) for s in sequences]
    threshold = delta * body_scale(meta.skeleton)
    rows = []
    for r in range(runs):
        seeds = np.random.SeedSequence([seed, r]).generate_state(len(ids))
        generated = [sampler.generate(s["audio"], samples=samples, seed=int(k)).positions
                     for s, k in zip(sequences, seeds)]
        row = {"run": r,
               "l1": np.mean([l1(g[0], t) for g, t in zip(generated, truths)]),
               "pck": np.mean([pck(g[0], t, threshold) for g, t in zip(generated, truths)]),
               "diversity": diversity([g[0] for g in generated]),
               "multimodality": np.mean([multimodality(g) for g in generated])}
        if sidecar is not None:
            row["modes"] = np.mean([c for seq_id, g in zip(ids, generated) for c in phrase_modes(
                g, sidecar["files"][seq_id]["phrases"], meta.fps, meta.skeleton)])
        rows.append(row)
    return pd.DataFrame(rows)


def summarise(frame: pd.DataFrame) -> dict[str, float]:
    """``<metric>_avg`` and ``<metric>_best`` over the sampling runs."""
    out = {}
    for metric in METRICS:
        if metric in frame:
            values = frame[metric]
            out[f"{metric}_avg"] = float(values.mean())
            out[f"{metric}_best"] = float(values.min() if metric in LOWER_IS_BETTER
                                          else values.max())
    return out


def ground_truth_row(meta: DatasetMeta, split: str) -> dict[str, float]:
    """The real motions as a table row: L1 0, PCK 1 and their Diversity."""
    truths = [s["positions"].reshape(len(s["positions"]), -1, 3) for s in meta.sequences(split)]
    value = diversity(truths)
    return {"l1_avg": 0.0, "l1_best": 0.0, "pck_avg": 1.0, "pck_best": 1.0,
            "diversity_avg": value, "diversity_best": value}


def write_table(rows: dict[str, dict], out, *, caption: str) -> tuple[Path, Path]:
    """Write ``OUT.csv`` (numbers) and ``OUT.md`` ("avg (best)" cells) for named rows."""
    out = Path(out)
    frame = pd.DataFrame.from_dict(rows, orient="index").rename_axis("variant")
    with atomic_path(out.with_suffix(".csv")) as tmp:
        frame.to_csv(tmp, float_format="%.4f")
    metrics = [m for m in METRICS if f"{m}_avg" in frame]
    lines = ["| variant | " + " | ".join(TITLES[m] for m in metrics) + " |",
             "|---|" + "---|" * len(metrics)]
    for name, row in frame.iterrows():
        cells = ["-" if pd.isna(row[f"{m}_avg"]) else
                 f"{row[f'{m}_avg']:.3f} ({row[f'{m}_best']:.3f})" for m in metrics]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    with atomic_path(out.with_suffix(".md")) as tmp:
        tmp.write_text(caption + "\n\n" + "\n".join(lines) + "\n")
    return out.with_suffix(".md"), out.with_suffix(".csv")


def parse_args(argv=None) -> argparse.Namespace:
    """Command-line arguments."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("data_dir", help="dataset directory the runs were trained on")
    parser.add_argument("run_dirs", nargs="+", help="Audio2Gestures run directories (one row each)")
    parser.add_argument("--out", required=True, help="table path without suffix (.md and .csv)")
    parser.add_argument("--split", default="test", help="held-out split to score (default test)")
    parser.add_argument("--runs", type=int, default=5, help="sampling runs (paper: 20; default 5)")
    parser.add_argument("--samples", type=int, default=20,
                        help="motions per file for Multimodality (default 20)")
    parser.add_argument("--delta", type=float, default=0.2,
                        help="PCK threshold in body scales (default 0.2)")
    parser.add_argument("--seed", type=int, default=0, help="base seed of the sampling runs")
    parser.add_argument("--modes", help="demo speaker's hidden_modes.json: add the Modes column")
    return parser.parse_args(argv)


def main(argv=None) -> int:
    """Run the step."""
    args = parse_args(argv)
    meta = DatasetMeta.load(args.data_dir)
    sidecar = read_json(args.modes) if args.modes else None
    rows = {"ground truth": ground_truth_row(meta, args.split)}
    for run_dir in args.run_dirs:
        sampler = Sampler.load(run_dir)
        name = sampler.run.config.variant
        rows[name] = summarise(evaluate(sampler, meta, args.split, runs=args.runs,
                                        samples=args.samples, delta=args.delta, seed=args.seed,
                                        sidecar=sidecar))
        print(name, " ".join(f"{k}={v:.4g}" for k, v in rows[name].items()))
    caption = (f"Audio2Gestures on `{args.data_dir}` ({args.split} split): average (best) over "
               f"{args.runs} sampling runs, {args.samples} samples per file. L1 and the distances "
               "of Diversity and Multimodality in the dataset's position units (cm for the demo "
               f"speaker); PCK at {args.delta:g} body scale "
               f"({args.delta * body_scale(meta.skeleton):.1f} units).")
    md, csv = write_table(rows, args.out, caption=caption)
    print(f"wrote {md} and {csv}")
    return 0


if __name__ == "__main__":
    run_cli(main)
