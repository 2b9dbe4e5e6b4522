"""The one scoring of methods against the ground truth: every metric, under a named protocol.

A *method* is a directory of one motion file per held-out sequence (``<id>.npy``, ``.txt`` or
``.bvh``, matched to the ground truth by id: :func:`data_processing.motion.match_ids`) on a
dataset (its skeleton, frame rate and representation). An ``.npy`` of shape ``(N, T, D)``
holds ``N`` samples of one sequence: sample 0 is scored like a single motion and all ``N``
give the Multimodality. Every method is brought to the ground truth's frame rate by linear
interpolation of its positions. A method trained with several seeds is several such
directories; its scores carry a seed axis (:class:`Scores`).

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

**Segments.** Every held-out file is cut into ``max(1, round(T / (SEGMENT_SECONDS fps)))``
consecutive pieces of (nearly) equal length, counted on the ground truth so that every method
has the same segments (:data:`SEGMENT_SECONDS` = 10 s: 3 per 30-s demo file). Every metric but
Hellinger and FGD is a ratio of per-segment sums, ``sum(num) / sum(den)``: per-frame errors
(APE, MAE, L1, PCK, Multimodality, L1div: ``den`` = frames), per-difference norms (Acceleration,
Jerk: the differences of the whole file, each in the segment of its first frame), per-onset
beat scores (``den`` = onsets in the segment), and Diversity between the 50-frame clips of one
segment (``den`` = 1; within a sequence, as the Audio2Gestures paper). Over all segments these
are the whole-file metrics. Hellinger is recomputed from summed per-segment speed histograms;
FGD needs the whole held-out set and has one value per seed; beside it, its noise floor
(:attr:`Reference.fgd_floor`: FGD between two halves of the truth). :mod:`evaluation.intervals`
resamples seeds and segments from these arrays.

**Reference rows** (floors and ceilings, :func:`reference_methods`): the ground truth itself;
the *mismatched truth* -- the ground truth of held-out file ``i + 1`` (cyclically, in id
order) scored as the motion of file ``i`` against file ``i``'s truth and speech, trimmed to the
shorter length: what a perfectly natural but unsynchronised motion scores; and the *mean
pose* -- the training split's mean pose, still, on every file.
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
SEGMENT_SECONDS = 10.0  # held-out segment length (seconds) of the intervals
TRUTH = "ground truth"
MISMATCHED = "mismatched truth"
MEAN_POSE = "mean pose (training split)"
REFERENCES = (TRUTH, MISMATCHED, MEAN_POSE)
POOLED = ("hellinger",)  # recomputed from per-segment histograms
WHOLE = ("fgd",)  # one value per seed (the whole held-out set)
# column -> (title, True when lower is better, None when closer to the truth is better)
COLUMNS = {
    "ape": ("APE", True), "mae": ("MAE", True),
    "acceleration": ("Acceleration", None), "jerk": ("Jerk", None),
    "hellinger": ("Hellinger (speed, 20 bins)", True), "l1": ("L1", True), "pck": ("PCK", False),
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
    segments : list of int
        Segments per truth file (:func:`segment_counts`).
    onsets : list of np.ndarray or None
        Audio onsets (s) of every truth file's speech (beat alignment).
    mean_pose : np.ndarray [shape=(J, 3)] or None
        The training split's mean pose, positions as the protocol compares them.
    segment_histograms : np.ndarray [shape=(S, bins)] or None
        The truth's joint-speed counts per segment (Hellinger).
    fgd_floor : tuple of (float, float, tuple of int) or None
        FGD's noise floor with this truth (with an extractor): the embedding- and raw-space
        FGD between two disjoint halves of the truth and the halves' clip counts
        (:func:`evaluation.fgd_extractor.noise_floor`).
    """

    truth: list[Motion]
    protocol: Protocol
    threshold: float
    bins: np.ndarray | None = None
    histogram: np.ndarray | None = None
    extractor: object | None = None
    sigma: float = beats.SIGMA
    segments: list[int] | None = None
    onsets: list[np.ndarray] | None = None
    mean_pose: np.ndarray | None = None
    segment_histograms: np.ndarray | None = None
    fgd_floor: tuple | None = None

    @property
    def fps(self) -> float:
        """Frame rate of the ground truth (every method is brought to it)."""
        return self.truth[0].fps

    @property
    def n_segments(self) -> int:
        """Held-out segments in all (the ``S`` of :class:`Scores`)."""
        return int(sum(self.segments))


@dataclass
class Scores:
    """Scores of one method per training seed and held-out segment.

    Parameters
    ----------
    name : str
    num, den : dict of str to np.ndarray [shape=(K, S)]
        Ratio metrics: over a set of segments of one seed, ``sum(num) / sum(den)``.
    histograms : np.ndarray [shape=(K, S, bins)] or None
        Joint-speed counts per segment (Hellinger against the truth's, summed alike).
    whole : dict of str to np.ndarray [shape=(K,)]
        Metrics of the whole held-out set, one per seed (FGD).
    """

    name: str
    num: dict[str, np.ndarray]
    den: dict[str, np.ndarray]
    histograms: np.ndarray | None = None
    whole: dict[str, np.ndarray] | None = None

    @property
    def n_seeds(self) -> int:
        """``K``."""
        arrays = [*self.num.values(), *(self.whole or {}).values()]
        if self.histograms is not None:
            arrays.append(self.histograms)
        return len(arrays[0]) if arrays else 0

    @property
    def columns(self) -> list[str]:
        """The metrics held, in :data:`COLUMNS` order."""
        have = set(self.num) | set(self.whole or {}) | (
            {"hellinger"} if self.histograms is not None else set())
        return [c for c in COLUMNS if c in have]

    @property
    def n_segments(self) -> int:
        """``S``."""
        if self.histograms is not None:
            return self.histograms.shape[1]
        return next(iter(self.num.values())).shape[1] if self.num else 0

    def point(self, reference: Reference) -> dict[str, float]:
        """Each metric over every segment, averaged over seeds (``NaN`` where undefined)."""
        every = statistic(self, np.arange(self.n_seeds)[None], np.arange(self.n_segments)[None],
                          reference)
        return {key: float(value[0]) for key, value in every.items()}


def statistic(scores: Scores, seeds: np.ndarray, segments: np.ndarray,
              reference: Reference | None = None) -> dict[str, np.ndarray]:
    """Every metric for drawn seeds ``(B, K)`` and segments ``(B, S)``: ``(B,)`` each.

    Per drawn seed, a ratio metric is ``sum(num) / sum(den)`` over the drawn segments and
    Hellinger is computed from the drawn segments' summed histograms against the truth's over
    the same segments; FGD takes the drawn seeds' values. Each is averaged over the drawn seeds.
    """
    rows, cols = seeds[:, :, None], segments[:, None, :]
    out = {}
    with np.errstate(invalid="ignore", divide="ignore"):
        for key in scores.num:
            num = scores.num[key][rows, cols].sum(-1)  # (B, K)
            den = scores.den[key][rows, cols].sum(-1)
            out[key] = (num / den).mean(-1)
    if scores.histograms is not None:
        if reference is None or reference.segment_histograms is None:
            raise PipelineError(f"method {scores.name!r}: Hellinger needs the truth's segment "
                                "histograms")
        drawn = scores.histograms[rows, cols].sum(2)  # (B, K, bins)
        truth = reference.segment_histograms[segments].sum(1)  # (B, bins)
        out["hellinger"] = hellinger_rows(drawn, truth[:, None]).mean(-1)
    for key, values in (scores.whole or {}).items():
        out[key] = values[seeds].mean(-1)
    return {c: out[c] for c in scores.columns}



def stack_seeds(name: str, runs: list[Scores]) -> Scores:
    """The scores of several training seeds of one method, as one :class:`Scores`."""
    if not runs:
        raise PipelineError(f"method {name!r}: no runs to score")
    keys = [set(r.num) for r in runs]
    if any(k != keys[0] for k in keys):
        raise PipelineError(f"method {name!r}: its runs have different metrics")
    if len({r.num[next(iter(r.num))].shape[1] for r in runs if r.num}) > 1:
        raise PipelineError(f"method {name!r}: its runs have different segments")
    hist = (np.concatenate([r.histograms for r in runs])
            if all(r.histograms is not None for r in runs) else None)
    whole = {k: np.concatenate([r.whole[k] for r in runs]) for k in (runs[0].whole or {})}
    return Scores(name, {k: np.concatenate([r.num[k] for r in runs]) for k in keys[0]},
                  {k: np.concatenate([r.den[k] for r in runs]) for k in keys[0]}, hist, whole)


def hellinger_rows(p: np.ndarray, q: np.ndarray) -> np.ndarray:
    """Hellinger distance of histograms along the last axis ``(..., bins) -> (...)``.

    Each histogram is normalised; the formula is :func:`evaluation.metrics.hellinger`'s.
    """
    p = np.asarray(p, dtype=np.float64)
    q = np.asarray(q, dtype=np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        p = p / p.sum(-1, keepdims=True)
        q = q / q.sum(-1, keepdims=True)
    bc = np.sqrt(p * q).sum(-1)
    return np.sqrt(np.maximum(0.0, 1.0 - bc))


def segment_counts(truth: list[Motion], seconds: float = SEGMENT_SECONDS) -> list[int]:
    """Segments per truth file: ``max(1, round(T / (seconds fps)))``."""
    if not seconds > 0:
        raise PipelineError(f"--segment must be > 0 seconds, got {seconds}")
    return [max(1, int(round(t.n_frames / (seconds * t.fps)))) for t in truth]


def frame_segments(n_frames: int, n_segments: int) -> np.ndarray:
    """Segment index ``(n_frames,)`` of every frame: ``n_segments`` consecutive pieces.

    Pieces are as equal as ``np.array_split`` makes them; with fewer frames than segments the
    last segments are empty.
    """
    sizes = [len(a) for a in np.array_split(np.arange(n_frames), n_segments)]
    return np.repeat(np.arange(n_segments), sizes)


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
                    delta: float = metrics.PCK_DELTA, sigma: float = beats.SIGMA,
                    segment: float = SEGMENT_SECONDS) -> Reference:
    """Load the ground truth ``DATA_DIR:SPLIT`` and what the protocol's metrics compare against.

    Parameters
    ----------
    truth_source : str
        ``DATA_DIR:SPLIT``; the training split of ``DATA_DIR`` gives the mean pose.
    protocol : str
        A key of :data:`PROTOCOLS`.
    fgd_dir : path-like, optional
        FGD feature extractor.
    delta : float
        PCK threshold in body scales (:func:`evaluation.metrics.body_scale`: the torso).
    sigma : float
        Beat alignment tolerance (s).
    segment : float
        Held-out segment length (s).
    """
    split = parse_split_source(truth_source)
    if split is None:
        raise PipelineError(f"{truth_source}: expected the ground truth as DATA_DIR:SPLIT")
    chosen = get_protocol(protocol)
    truth = [Motion(compared_positions(m, chosen), m.fps, m.skeleton, name=m.name, audio=m.audio)
             for m in load_split(*split)]
    threshold = delta * metrics.body_scale(truth[0].skeleton)
    reference = Reference(truth, chosen, threshold, sigma=sigma,
                          segments=segment_counts(truth, segment))
    reference.mean_pose = training_mean_pose(DatasetMeta.load(split[0]), chosen)
    if "beat_alignment" in chosen.columns:
        reference.onsets = [truth_onsets(t) for t in truth]
    if "hellinger" in chosen.columns:
        speeds = np.concatenate([metrics.speed(t.positions, t.fps).ravel() for t in truth])
        reference.bins = np.linspace(0.0, max(float(np.percentile(speeds, 99)), 1e-6),
                                     SPEED_BINS + 1)
        reference.histogram = speed_histogram([t.positions for t in truth], reference.fps,
                                              reference.bins)
        reference.segment_histograms = np.concatenate([
            _speed_counts(t.positions, reference.fps, reference.bins,
                          frame_segments(t.n_frames, k), k)
            for t, k in zip(truth, reference.segments)])
    if fgd_dir is not None and "fgd" in chosen.columns:
        from evaluation.fgd_extractor import FeatureExtractor, noise_floor  # TF when asked

        reference.extractor = FeatureExtractor.load(fgd_dir)
        reference.fgd_floor = noise_floor(reference.extractor, truth)
    return reference


def training_mean_pose(meta: DatasetMeta, protocol: Protocol) -> np.ndarray | None:
    """Mean pose ``(J, 3)`` of the training split, positions as ``protocol`` compares them.

    Read one sequence at a time (a large training split never sits in memory at once);
    ``None`` when the dataset has no training sequences.
    """
    total, frames = 0.0, 0
    for seq_id in meta.splits.get("train", []):
        positions = meta.sequence("train", seq_id)["positions"]
        positions = positions.reshape(len(positions), -1, 3).astype(np.float64)
        if protocol.root_relative:
            root = meta.skeleton.root
            positions = positions - positions[:, root : root + 1]
        total, frames = total + positions.sum(axis=0), frames + len(positions)
    return total / frames if frames else None


def truth_onsets(truth: Motion) -> np.ndarray:
    """Audio onsets (s) of a truth file's speech within its motion (:func:`beats.speech_onsets`)."""
    if truth.audio is None:
        raise PipelineError(f"{truth.name}: no speech file for the beat alignment")
    return beats.speech_onsets(truth.audio, truth.n_frames / truth.fps)


def _speed_counts(positions: np.ndarray, fps: float, bins: np.ndarray, segment: np.ndarray,
                  n_segments: int) -> np.ndarray:
    """Joint-speed counts per segment ``(n_segments, bins)`` (top bin open-ended)."""
    speeds = metrics.speed(positions, fps)  # (T - 1, J): difference k in k's segment
    n_bins = len(bins) - 1
    idx = np.clip(np.searchsorted(bins, speeds, side="right") - 1, 0, n_bins - 1)
    rows = np.broadcast_to(segment[: len(speeds), None], speeds.shape)
    counts = np.bincount((rows * n_bins + idx).ravel(), minlength=n_segments * n_bins)
    return counts.reshape(n_segments, n_bins).astype(np.float64)


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


def _per_frame(values: np.ndarray, segment: np.ndarray, n_segments: int):
    """``(num, den)`` per segment of per-frame (or per-difference) values ``(n,)``."""
    ids = segment[: len(values)]
    return (np.bincount(ids, weights=values, minlength=n_segments),
            np.bincount(ids, minlength=n_segments).astype(np.float64))


FRAME_VALUES = {  # metric -> per-frame (or per-difference) values of motion p vs truth g
    "ape": lambda p, g, fps, thr: np.linalg.norm(p - g, axis=-1).mean(-1),
    "mae": lambda p, g, fps, thr: np.abs(p - g).mean(axis=(1, 2)),
    "l1": lambda p, g, fps, thr: np.abs(p - g).sum(-1).mean(-1),
    "pck": lambda p, g, fps, thr: (np.linalg.norm(p - g, axis=-1) < thr).mean(-1),
    "acceleration": lambda p, g, fps, thr: metrics.acceleration_norms(p, fps).mean(-1),
    "jerk": lambda p, g, fps, thr: metrics.jerk_norms(p, fps).mean(-1),
    "l1div": lambda p, g, fps, thr: np.abs(p - p.mean(0)).sum(axis=(1, 2)),
}


def _pairwise_frames(samples: np.ndarray) -> np.ndarray:
    """Mean over sample pairs of the per-frame L1 distance ``(T,)`` of ``(N, T, J, 3)``."""
    n = len(samples)
    total = np.zeros(samples.shape[1])
    for i in range(n - 1):
        total += np.abs(samples[i + 1:] - samples[i]).sum(-1).mean(-1).sum(0)
    return total / (n * (n - 1) / 2)


def segment_scores(motions: list[np.ndarray], reference: Reference,
                   samples: list[np.ndarray] | None = None, *, name: str = "") -> Scores:
    """The protocol's metrics of one motion per truth file, per held-out segment (one seed).

    Parameters
    ----------
    motions : list of np.ndarray [shape=(T, J, 3)]
        One motion per truth file, in the truth's order, positions as the protocol compares;
        each is trimmed to the shorter of its and its truth's length.
    reference : Reference
    samples : list of np.ndarray [shape=(N, T, J, 3)], optional
        All samples per file (Multimodality; left out without, or with ``N = 1``).
    name : str
        The method's name.

    Returns
    -------
    Scores
        ``K = 1`` seed, ``S = reference.n_segments`` segments.
    """
    truth, fps, columns = reference.truth, reference.fps, reference.protocol.columns
    if len(motions) != len(truth):
        raise PipelineError(f"method {name!r}: {len(motions)} motions for {len(truth)} files")
    use_mm = samples is not None and all(len(s) > 1 for s in samples)
    parts: dict[str, list[tuple[np.ndarray, np.ndarray]]] = {}
    hist = []

    def add(key, num, den):
        parts.setdefault(key, []).append((num, den))

    for i, (motion, t, k) in enumerate(zip(motions, truth, reference.segments)):
        n = min(len(motion), t.n_frames)
        p, g = np.asarray(motion[:n], dtype=np.float64), t.positions[:n]
        segment = frame_segments(n, k)
        for key, values in FRAME_VALUES.items():
            if key in columns:
                add(key, *_per_frame(values(p, g, fps, reference.threshold), segment, k))
        if "multimodality" in columns and use_mm:
            add("multimodality", *_per_frame(_pairwise_frames(
                np.asarray(samples[i][:, :n], dtype=np.float64)), segment, k))
        if "diversity" in columns:
            values = np.array([metrics.sequence_diversity(p[segment == j]) for j in range(k)])
            defined = ~np.isnan(values)
            add("diversity", np.where(defined, values, 0.0), defined.astype(np.float64))
        if "beat_alignment" in columns:
            onsets = reference.onsets[i][reference.onsets[i] <= n / fps]
            scores = metrics.beat_scores(onsets, metrics.motion_beats(p, fps), reference.sigma)
            where = segment[np.minimum((onsets * fps).astype(int), n - 1)] if n else onsets
            add("beat_alignment", np.bincount(where, weights=scores, minlength=k),
                np.bincount(where, minlength=k).astype(np.float64))
        if "hellinger" in columns:
            hist.append(_speed_counts(p, fps, reference.bins, segment, k))
    num = {key: np.concatenate([a for a, _ in v])[None] for key, v in parts.items()}
    den = {key: np.concatenate([b for _, b in v])[None] for key, v in parts.items()}
    whole = {}
    if "fgd" in columns and reference.extractor is not None:
        from evaluation.fgd_extractor import fgd

        as_motions = [Motion(m, fps, t.skeleton, name=t.name, audio=t.audio)
                      for m, t in zip(motions, truth)]
        whole["fgd"] = np.array([fgd(reference.extractor, truth, as_motions,
                                     floor=False).fgd])
    return Scores(name, num, den, np.concatenate(hist)[None] if hist else None, whole)


def score(motions: list[np.ndarray], reference: Reference,
          samples: list[np.ndarray] | None = None) -> dict[str, float]:
    """The protocol's metrics of one motion ``(T, J, 3)`` per truth file, over every segment.

    Parameters
    ----------
    motions : list of np.ndarray [shape=(T, J, 3)]
        One motion per truth file, in the truth's order, positions as the protocol compares.
    reference : Reference
    samples : list of np.ndarray [shape=(N, T, J, 3)], optional
        All samples per file (Multimodality; ``NaN`` without, or with ``N = 1``).
    """
    row = segment_scores(motions, reference, samples).point(reference)
    if "multimodality" in reference.protocol.columns:
        row.setdefault("multimodality", float("nan"))
    return {c: row[c] for c in reference.protocol.columns if c in row}


def method_scores(method: Method, reference: Reference) -> Scores:
    """:func:`segment_scores` of a method: sample 0 of each file, all for Multimodality."""
    return segment_scores([s[0] for s in method.samples], reference, method.samples,
                          name=method.name)


def score_method(method: Method, reference: Reference) -> dict[str, float]:
    """:func:`score` of a method: sample 0 of each file, all samples for Multimodality."""
    return score([s[0] for s in method.samples], reference, method.samples)


def truth_row(reference: Reference) -> dict[str, float]:
    """The ground truth scored as a method (L1 0, PCK 1, its own Diversity...)."""
    return score([t.positions for t in reference.truth], reference)


def reference_methods(reference: Reference) -> list[Method]:
    """The reference rows as methods: ground truth, mismatched truth, training mean pose.

    The mismatched truth gives file ``i`` the truth of file ``(i + 1) % n`` (id order); it
    needs two held-out files. The mean pose row is left out when the dataset has no training
    split.
    """
    truth = reference.truth
    if len(truth) < 2:
        raise PipelineError("the mismatched-truth row needs at least 2 held-out files, "
                            f"got {len(truth)}")
    out = [Method(TRUTH, [t.positions[None] for t in truth]),
           Method(MISMATCHED, [truth[(i + 1) % len(truth)].positions[None]
                               for i in range(len(truth))])]
    if reference.mean_pose is not None:
        out.append(Method(MEAN_POSE, [np.broadcast_to(reference.mean_pose,
                                                      t.positions.shape)[None] for t in truth]))
    return out


def score_rows(reference: Reference, methods: dict[str, list[Method]]) -> dict[str, Scores]:
    """Scores of the reference rows, then of every method (its seeds stacked), by name."""
    rows = {m.name: method_scores(m, reference) for m in reference_methods(reference)}
    for name, runs in methods.items():
        rows[name] = stack_seeds(name, [method_scores(run, reference) for run in runs])
    return rows


def build_table(reference: Reference, methods: list[Method]) -> pd.DataFrame:
    """One row per method (ground truth first), the protocol's columns (one seed each)."""
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
