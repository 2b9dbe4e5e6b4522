"""The one scoring of methods against the ground truth: every metric, under a named protocol.

A *method* is a directory of one motion file per held-out sequence (``<id>.npy``, ``.txt`` or
``.bvh``, matched to the ground truth by id: :func:`data_processing.motion.match_ids`) on a
dataset (its skeleton, frame rate and representation). An ``.npy`` of shape ``(N, T, D)``
holds ``N`` samples of one sequence: sample 0 is scored like a single motion and all ``N``
give the Multimodality. Every method is brought to the ground truth's frame rate by linear
interpolation of its positions.

Protocols (:data:`PROTOCOLS`) decide which positions are compared and which metrics are
computed; each metric is written once, in :mod:`evaluation.metrics`:

==========  ===================================================================================
``report``  positions relative to the skeleton's root (IVA'19's ``pos_vel`` outputs are
            root-pinned, so models with and without root translation compare on equal terms);
            every metric of :data:`COLUMNS`
``a2g``     global positions, root translation included (the Audio2Gestures paper): L1, PCK,
            Diversity, Multimodality; over several sampling runs, "average (best)"
            (:func:`summarise`)
==========  ===================================================================================
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from data_processing.dataset import DatasetMeta
from data_processing.files import PipelineError
from data_processing.motion import (
    Motion,
    load_samples,
    load_split,
    match_ids,
    motion_files,
    motion_id,
    parse_split_source,
)
from evaluation import beats, metrics

SPEED_BINS = 20
MAX_FRAME_GAP = 2  # frames a prediction may differ from its ground truth in length
TRUTH = "ground truth"
# column -> (title, True when lower is better, None when closer to the truth is better)
COLUMNS = {
    "ape": ("APE", True), "mae": ("MAE", True),
    "acceleration": ("Acceleration", None), "jerk": ("Jerk", None),
    "hellinger": ("Hellinger (speed)", True), "l1": ("L1", True), "pck": ("PCK", False),
    "diversity": ("Diversity", None), "multimodality": ("Multimodality", False),
    "fgd": ("FGD", True), "beat_alignment": ("Beat alignment", None), "l1div": ("L1div", None),
}


@dataclass(frozen=True)
class Protocol:
    """A scoring convention.

    Parameters
    ----------
    name : str
    root_relative : bool
        Compare positions relative to the skeleton's root (else global positions).
    columns : tuple of str
        Metrics computed (keys of :data:`COLUMNS`).
    description : str
        Said in table captions.
    """

    name: str
    root_relative: bool
    columns: tuple[str, ...]
    description: str


PROTOCOLS = {
    "report": Protocol("report", True, tuple(COLUMNS), "root-relative positions"),
    "a2g": Protocol("a2g", False, ("l1", "pck", "diversity", "multimodality"),
                    "global positions (root translation included)"),
}


@dataclass
class Method:
    """The motions of one method: ``samples[i]`` is ``(N, T, J, 3)`` for the i-th truth file."""

    name: str
    samples: list[np.ndarray]


@dataclass
class Reference:
    """What every method is scored against.

    Parameters
    ----------
    truth : list of Motion
        The ground truth, positions as the protocol compares them.
    protocol : Protocol
    threshold : float
        PCK threshold in the data's units.
    bins, histogram : np.ndarray or None
        Joint-speed bins and the truth's histogram (Hellinger).
    extractor : FeatureExtractor or None
        FGD feature extractor (no FGD without).
    sigma : float
        Beat alignment tolerance in seconds.
    """

    truth: list[Motion]
    protocol: Protocol
    threshold: float
    bins: np.ndarray | None = None
    histogram: np.ndarray | None = None
    extractor: object | None = None
    sigma: float = beats.SIGMA

    @property
    def fps(self) -> float:
        """Frame rate of the ground truth (every method is brought to it)."""
        return self.truth[0].fps


def get_protocol(name: str) -> Protocol:
    """The protocol called ``name`` (one-line error naming the others)."""
    if name not in PROTOCOLS:
        raise PipelineError(f"unknown protocol {name!r} (use {', '.join(PROTOCOLS)})")
    return PROTOCOLS[name]


def compared_positions(motion: Motion, protocol: Protocol) -> np.ndarray:
    """Positions ``(T, J, 3)`` of a motion as ``protocol`` compares them."""
    return motion.root_relative() if protocol.root_relative else motion.positions


def speed_histogram(motions: list[np.ndarray], fps: float, bins: np.ndarray) -> np.ndarray:
    """Normalised histogram of every joint speed of the motions (top bin open-ended)."""
    speeds = np.concatenate([metrics.speed(m, fps).ravel() for m in motions])
    counts = np.histogram(np.minimum(speeds, bins[-1]), bins)[0].astype(np.float64)
    return counts / counts.sum()


def build_reference(truth_source: str, *, protocol: str = "report", fgd_dir=None,
                    delta: float = metrics.PCK_DELTA,
                    sigma: float = beats.SIGMA) -> Reference:
    """Load the ground truth ``DATA_DIR:SPLIT`` and what the protocol's metrics compare against."""
    split = parse_split_source(truth_source)
    if split is None:
        raise PipelineError(f"{truth_source}: expected the ground truth as DATA_DIR:SPLIT")
    chosen = get_protocol(protocol)
    truth = [Motion(compared_positions(m, chosen), m.fps, m.skeleton, name=m.name, audio=m.audio)
             for m in load_split(*split)]
    threshold = delta * metrics.body_scale(truth[0].skeleton)
    reference = Reference(truth, chosen, threshold, sigma=sigma)
    if "hellinger" in chosen.columns:
        speeds = np.concatenate([metrics.speed(t.positions, t.fps).ravel() for t in truth])
        reference.bins = np.linspace(0.0, max(float(np.percentile(speeds, 99)), 1e-6),
                                     SPEED_BINS + 1)
        reference.histogram = speed_histogram([t.positions for t in truth], reference.fps,
                                              reference.bins)
    if fgd_dir is not None and "fgd" in chosen.columns:
        from evaluation.fgd_extractor import FeatureExtractor  # TensorFlow only when asked

        reference.extractor = FeatureExtractor.load(fgd_dir)
    return reference


def load_prediction(path: Path, meta: DatasetMeta, truth: Motion,
                    protocol: Protocol) -> np.ndarray:
    """Positions ``(N, T, J, 3)`` of one prediction file at the truth's frame rate."""
    samples = []
    for motion in load_samples(path, dataset=meta):
        positions = Motion(motion.positions, motion.fps, motion.skeleton, name=motion.name)
        samples.append(compared_positions(positions.resample(truth.fps), protocol))
    predicted = np.stack(samples)
    if predicted.shape[2] != truth.positions.shape[1]:
        raise PipelineError(f"{path}: {predicted.shape[2]} joints, the ground truth has "
                            f"{truth.positions.shape[1]}")
    if abs(predicted.shape[1] - truth.n_frames) > MAX_FRAME_GAP:
        raise PipelineError(f"{path}: {predicted.shape[1]} frames at {truth.fps:g} fps, the "
                            f"ground truth has {truth.n_frames}")
    return predicted


def load_method(name: str, pred_dir, data_dir, reference: Reference) -> Method:
    """A method's predictions for every truth file, matched by id (missing or extra: error)."""
    pred_dir = Path(pred_dir)
    if not pred_dir.is_dir():
        raise PipelineError(f"{pred_dir}: no such directory (method {name!r})")
    wanted = [motion_id(t.stem) for t in reference.truth]
    paths = match_ids(wanted, motion_files(pred_dir), f"{pred_dir} (method {name!r})")
    meta = DatasetMeta.load(data_dir)
    return Method(name, [load_prediction(path, meta, truth, reference.protocol)
                         for path, truth in zip(paths, reference.truth)])


def score(motions: list[np.ndarray], reference: Reference,
          samples: list[np.ndarray] | None = None) -> dict[str, float]:
    """The protocol's metrics of one motion ``(T, J, 3)`` per truth file.

    Parameters
    ----------
    motions : list of np.ndarray [shape=(T, J, 3)]
        One motion per truth file, in the truth's order, positions as the protocol compares.
    reference : Reference
    samples : list of np.ndarray [shape=(N, T, J, 3)], optional
        All samples per file (Multimodality; ``NaN`` without, or with ``N = 1``).
    """
    truth, fps, columns = reference.truth, reference.fps, reference.protocol.columns
    pairs = [(m, t.positions) for m, t in zip(motions, truth)]  # the metrics trim lengths
    cheap = {
        "ape": lambda: np.mean([metrics.ape(p, t).mean() for p, t in pairs]),
        "mae": lambda: np.mean([metrics.mae(p, t).mean() for p, t in pairs]),
        "acceleration": lambda: np.mean([metrics.acceleration(m, fps).mean() for m in motions]),
        "jerk": lambda: np.mean([metrics.jerk(m, fps).mean() for m in motions]),
        "hellinger": lambda: metrics.hellinger(speed_histogram(motions, fps, reference.bins),
                                               reference.histogram),
        "l1": lambda: np.mean([metrics.l1(p, t) for p, t in pairs]),
        "pck": lambda: np.mean([metrics.pck(p, t, reference.threshold) for p, t in pairs]),
        "diversity": lambda: metrics.diversity(motions),
        "multimodality": lambda: (np.mean([metrics.multimodality(s) for s in samples])
                                  if samples is not None and len(samples[0]) > 1 else np.nan),
    }
    row = {key: value() for key, value in cheap.items() if key in columns}
    as_motions = [Motion(m, fps, t.skeleton, name=t.name, audio=t.audio)
                  for m, t in zip(motions, truth)]
    if "fgd" in columns and reference.extractor is not None:
        from evaluation.fgd_extractor import fgd

        row["fgd"] = fgd(reference.extractor, truth, as_motions).fgd
    if "beat_alignment" in columns:
        result = beats.evaluate(as_motions, sigma=reference.sigma, pin_root=False)
        row.update(beat_alignment=result.beat_alignment, l1div=result.l1div)
    return {key: float(value) for key, value in row.items()}


def score_method(method: Method, reference: Reference) -> dict[str, float]:
    """:func:`score` of a method: sample 0 of each file, all samples for Multimodality."""
    return score([s[0] for s in method.samples], reference, method.samples)


def truth_row(reference: Reference) -> dict[str, float]:
    """The ground truth scored as a method (L1 0, PCK 1, its own Diversity...)."""
    return score([t.positions for t in reference.truth], reference)


def build_table(reference: Reference, methods: list[Method]) -> pd.DataFrame:
    """One row per method (ground truth first), the protocol's columns."""
    rows = {TRUTH: truth_row(reference)}
    rows.update({method.name: score_method(method, reference) for method in methods})
    return pd.DataFrame.from_dict(rows, orient="index").rename_axis("method")


def summarise(runs: pd.DataFrame) -> dict[str, float]:
    """``<metric>_avg`` and ``<metric>_best`` over sampling runs (one row each).

    Best is the lowest of a lower-is-better metric (:data:`COLUMNS`), else the highest.
    """
    out = {}
    for metric in runs.columns:
        values = runs[metric]
        out[f"{metric}_avg"] = float(values.mean())
        out[f"{metric}_best"] = float(values.min() if COLUMNS.get(metric, (None, None))[1]
                                      else values.max())
    return out
