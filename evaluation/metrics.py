"""Every metric of the project, as numpy functions on joint positions.

Positions are ``(T, J, 3)`` arrays in the dataset's units (centimetres for the demo speaker
and GENEA). A metric that compares two motions of different lengths uses the shorter length,
as the original IVA'19 scripts did. Units are stated per function; "per frame" quantities
become "per second" when ``fps`` is given.

=====================  ==================================================================
IVA'19                 :func:`ape`, :func:`mae`, :func:`jerk`, :func:`acceleration`,
                       :func:`speed_histogram`, :func:`hellinger`
Audio2Gestures         :func:`l1`, :func:`pck` (threshold :data:`PCK_DELTA` times
                       :func:`body_scale`), :func:`diversity`, :func:`multimodality`
HA2G / BEAT            :func:`frechet_distance` (:func:`frechet_distance_of_samples`),
                       :func:`beat_alignment`, :func:`l1_div`
=====================  ==================================================================

Conventions fixed here (named in every table caption):

* PCK's body scale is the **torso length** of the rest pose, root to neck
  (:func:`body_scale`): the torso normalisation of PCK in FLIC (Sapp & Taskar, "MODEC",
  CVPR 2013), and unlike the bounding box or the largest joint distance of the rest pose it
  does not grow with a T-pose's arm span (160 cm on the demo speaker, torso 54 cm).
* Diversity is measured between the clips of one sequence, averaged over sequences
  (Audio2Gestures, Li et al. ICCV 2021), never between clips pooled across files.
* Beat alignment's tolerance is set by the caller (:data:`evaluation.beats.SIGMA`, HA2G's
  0.1 s).
"""

from __future__ import annotations

import warnings

import numpy as np
from scipy import linalg
from scipy.spatial.distance import pdist

from data_processing.bvh import Skeleton
from data_processing.files import PipelineError

PCK_DELTA = 0.2  # PCK threshold in body scales (Audio2Gestures)
DIVERSITY_CLIP = 50  # frames per Diversity clip (Audio2Gestures)


def _positions(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    if x.ndim == 2 and x.shape[1] % 3 == 0:
        x = x.reshape(len(x), -1, 3)
    if x.ndim != 3 or x.shape[-1] != 3:
        raise ValueError(f"Expected positions of shape (T, J, 3) or (T, 3J). Received: {x.shape}")
    return x


def _pair(predicted, truth) -> tuple[np.ndarray, np.ndarray]:
    predicted, truth = _positions(predicted), _positions(truth)
    if predicted.shape[1] != truth.shape[1]:
        raise ValueError(
            f"Expected the same joints in both motions. Received: {predicted.shape[1]} and "
            f"{truth.shape[1]} joints"
        )
    n = min(len(predicted), len(truth))
    return predicted[:n], truth[:n]


# --------------------------------------------------------------------------------------------
# IVA'19


def ape(predicted: np.ndarray, truth: np.ndarray) -> np.ndarray:
    """Average position error per joint ``(J,)``: mean Euclidean distance over frames (units)."""
    predicted, truth = _pair(predicted, truth)
    return np.linalg.norm(predicted - truth, axis=-1).mean(axis=0)


def mae(predicted: np.ndarray, truth: np.ndarray) -> np.ndarray:
    """Mean absolute error per joint ``(J,)``: per-coordinate |error| averaged (units)."""
    predicted, truth = _pair(predicted, truth)
    return np.abs(predicted - truth).mean(axis=(0, 2))


def _difference_norms(positions: np.ndarray, order: int, fps: float | None) -> np.ndarray:
    diff = np.diff(_positions(positions), n=order, axis=0)
    return np.linalg.norm(diff, axis=-1) * (fps**order if fps else 1.0)


def speed(positions: np.ndarray, fps: float | None = None) -> np.ndarray:
    """Speed of every joint between adjacent frames ``(T - 1, J)`` (units/frame, or /s)."""
    return _difference_norms(positions, 1, fps)


def acceleration_norms(positions: np.ndarray, fps: float | None = None) -> np.ndarray:
    """Norm of the second difference ``(T - 2, J)`` (units/frame^2, or /s^2 with ``fps``)."""
    return _difference_norms(positions, 2, fps)


def jerk_norms(positions: np.ndarray, fps: float | None = None) -> np.ndarray:
    """Norm of the third difference ``(T - 3, J)`` (units/frame^3, or /s^3 with ``fps``)."""
    return _difference_norms(positions, 3, fps)


def acceleration(positions: np.ndarray, fps: float | None = None) -> np.ndarray:
    """Average acceleration per joint ``(J,)`` (IVA'19 ``aa.csv``; units/frame^2 or /s^2)."""
    return acceleration_norms(positions, fps).mean(axis=0)


def jerk(positions: np.ndarray, fps: float | None = None) -> np.ndarray:
    """Average jerk per joint ``(J,)``: mean norm of the third difference (units/frame^3, /s^3)."""
    return jerk_norms(positions, fps).mean(axis=0)


def histogram_bins(width: float = 0.05, top: float = 1.0) -> np.ndarray:
    """IVA'19 histogram bin edges ``arange(0, top + width, width)``."""
    return np.arange(0.0, top + width, width)


def speed_histogram(values: np.ndarray, bins: np.ndarray) -> np.ndarray:
    """Counts per bin and joint ``(len(bins) - 1, J)`` of per-frame values ``(N, J)``.

    Vectorised over joints with one ``searchsorted`` and one ``bincount``; values outside the
    bins are not counted (as ``np.histogram``).
    """
    values = np.asarray(values, dtype=np.float64)
    n_bins = len(bins) - 1
    idx = np.searchsorted(bins, values, side="right") - 1
    idx[values == bins[-1]] = n_bins - 1  # the last bin is closed, as in np.histogram
    valid = (idx >= 0) & (idx < n_bins)
    joint = np.broadcast_to(np.arange(values.shape[1]), values.shape)
    counts = np.bincount((idx * values.shape[1] + joint)[valid], minlength=n_bins * values.shape[1])
    return counts.reshape(n_bins, values.shape[1])


def hellinger(p: np.ndarray, q: np.ndarray) -> float:
    """Hellinger distance ``sqrt(1 - sum(sqrt(p q)))`` of two histograms (normalised here)."""
    p = np.asarray(p, dtype=np.float64)
    q = np.asarray(q, dtype=np.float64)
    if p.shape != q.shape:
        raise ValueError(f"Expected histograms of the same shape. Received: {p.shape}, {q.shape}")
    if p.sum() <= 0 or q.sum() <= 0:
        raise ValueError("Expected histograms with positive total counts.")
    bc = np.sum(np.sqrt(p / p.sum() * q / q.sum()))
    return float(np.sqrt(max(0.0, 1.0 - bc)))


# --------------------------------------------------------------------------------------------
# Audio2Gestures


def l1_distance(a: np.ndarray, b: np.ndarray) -> float:
    """Mean over frames and joints of the L1 norm of the 3-D difference (units)."""
    a, b = _pair(a, b)
    return float(np.abs(a - b).sum(axis=-1).mean())


def l1(predicted: np.ndarray, truth: np.ndarray) -> float:
    """Audio2Gestures L1 between a generated and the real motion (see :func:`l1_distance`)."""
    return l1_distance(predicted, truth)


NECK = "neck"  # the joint whose name contains this (case-insensitive) ends the torso


def rest_span(skeleton: Skeleton) -> float:
    """Largest distance between two joints of the rest pose (the former PCK scale; units)."""
    return float(pdist(skeleton.rest_positions()).max())


def body_scale(skeleton: Skeleton) -> float:
    """PCK's body scale: the rest pose's torso length, root joint to neck (units).

    The neck is the first joint whose name contains ``neck`` (``Neck`` in the demo speaker and
    BEAT BVH, ``b_neck0`` in GENEA, ``neck`` in SMPL-X). Torso size is PCK's normaliser in
    FLIC (Sapp & Taskar, CVPR 2013); it does not change when the arms are spread.

    Raises
    ------
    PipelineError
        No joint is named like a neck, or it sits on the root.
    """
    names = [n.lower() for n in skeleton.names]
    neck = next((i for i, n in enumerate(names) if NECK in n), None)
    if neck is None:
        raise PipelineError(f"no joint named like {NECK!r} among {len(names)} joints: PCK's "
                            "torso scale needs one")
    rest = skeleton.rest_positions()
    scale = float(np.linalg.norm(rest[neck] - rest[skeleton.root]))
    if not scale > 0:
        raise PipelineError(f"joint {skeleton.names[neck]!r} sits on the root: torso length 0")
    return scale


def pck(predicted: np.ndarray, truth: np.ndarray, threshold: float) -> float:
    """Percentage of correct keypoints: fraction of joints closer than ``threshold`` (units).

    The Audio2Gestures threshold is ``PCK_DELTA * body_scale(skeleton)``.
    """
    predicted, truth = _pair(predicted, truth)
    return float((np.linalg.norm(predicted - truth, axis=-1) < threshold).mean())


def clips(positions: np.ndarray, length: int = 50, stride: int | None = None) -> np.ndarray:
    """Clips ``(N, length, J, 3)`` of a motion, starting every ``stride`` frames.

    ``stride`` defaults to ``length`` (non-overlapping clips); frames after the last whole clip
    are dropped, and a motion shorter than ``length`` gives ``N = 0``.
    """
    positions = _positions(positions)
    stride = length if stride is None else stride
    if length < 1 or stride < 1:
        raise ValueError(f"Expected length >= 1 and stride >= 1. Received: {length=}, {stride=}")
    n = 0 if len(positions) < length else (len(positions) - length) // stride + 1
    starts = np.arange(n) * stride
    return positions[starts[:, None] + np.arange(length)]


def _mean_pairwise_l1(items: np.ndarray) -> float:
    """Mean :func:`l1_distance` over all pairs of equally shaped motions ``(N, T, J, 3)``."""
    items = np.asarray(items, dtype=np.float64)
    if len(items) < 2:
        raise ValueError(f"Expected at least 2 motions to compare. Received: {len(items)}")
    frames_joints = np.prod(items.shape[1:-1])
    return float(pdist(items.reshape(len(items), -1), metric="cityblock").mean() / frames_joints)


def sequence_diversity(motion: np.ndarray, clip_length: int = DIVERSITY_CLIP) -> float:
    """Mean L1 distance between the non-overlapping clips of one motion ``(T, J, 3)`` (units).

    ``NaN`` when the motion holds fewer than two clips.
    """
    cut = clips(motion, clip_length)
    return _mean_pairwise_l1(cut) if len(cut) >= 2 else float("nan")


def diversity(motions: list[np.ndarray], clip_length: int = DIVERSITY_CLIP) -> float:
    """Audio2Gestures Diversity: clips of the same sequence, averaged over sequences (units).

    Each motion is cut into non-overlapping clips of ``clip_length`` frames; the mean L1
    distance between the clips of one motion (:func:`sequence_diversity`) is averaged over
    the motions that hold at least two clips. Clips of different files are never compared
    (the paper measures Diversity within a sequence).

    Parameters
    ----------
    motions : list of np.ndarray [shape=(T, J, 3)]
        Generated motions (e.g. one per test file).
    clip_length : int
        Frames per clip (50 in the paper).
    """
    values = [sequence_diversity(m, clip_length) for m in motions]
    values = [v for v in values if not np.isnan(v)]
    if not values:
        raise ValueError(f"Expected a motion of at least {2 * clip_length} frames (two clips).")
    return float(np.mean(values))


def multimodality(samples: np.ndarray) -> float:
    """Audio2Gestures Multimodality: mean L1 distance between samples for the same audio.

    Parameters
    ----------
    samples : np.ndarray [shape=(N, T, J, 3)]
        ``N`` motions generated for one audio (20 in the paper).
    """
    return _mean_pairwise_l1(samples)


# --------------------------------------------------------------------------------------------
# FGD, beat alignment, L1div


def gaussian_stats(features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and covariance (``np.cov(rowvar=False)``) of embeddings ``(N, D)``, ``N >= 2``."""
    features = np.asarray(features, dtype=np.float64)
    if features.ndim != 2 or len(features) < 2:
        raise ValueError(f"Expected embeddings of shape (N >= 2, D). Received: {features.shape}")
    return features.mean(axis=0), np.atleast_2d(np.cov(features, rowvar=False))


def _sqrtm(matrix: np.ndarray) -> tuple[np.ndarray, bool]:
    """``scipy.linalg.sqrtm`` and whether it found the matrix singular.

    Recent SciPy warns (``LinAlgWarning``) on a singular matrix where older versions returned
    non-finite values; both count as singular here.
    """
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", linalg.LinAlgWarning)
        root = linalg.sqrtm(matrix)
    singular = any(issubclass(w.category, linalg.LinAlgWarning) for w in caught)
    return root, singular or not np.isfinite(root).all()


def frechet_distance(mu1, sigma1, mu2, sigma2, eps: float = 1e-6) -> float:
    """Fréchet distance between two Gaussians (FID/FGD).

    ``||mu1 - mu2||^2 + Tr(S1 + S2 - 2 sqrtm(S1 S2))``; when the product is singular the
    square root is taken of ``(S1 + eps I)(S2 + eps I)``, and small imaginary parts from
    numerical error are dropped (an error when the imaginary part of the diagonal exceeds
    1e-3). The distance is never negative: round-off below 0 is clipped to 0.
    """
    mu1, mu2 = np.atleast_1d(mu1), np.atleast_1d(mu2)
    sigma1, sigma2 = np.atleast_2d(sigma1), np.atleast_2d(sigma2)
    if mu1.shape != mu2.shape or sigma1.shape != sigma2.shape or sigma1.shape != 2 * mu1.shape:
        raise ValueError(
            f"Expected means (D,) and covariances (D, D) of one size. Received: {mu1.shape}, "
            f"{sigma1.shape}, {mu2.shape}, {sigma2.shape}"
        )
    diff = mu1 - mu2
    covmean, singular = _sqrtm(sigma1 @ sigma2)
    if singular:
        offset = np.eye(len(sigma1)) * eps
        covmean, _ = _sqrtm((sigma1 + offset) @ (sigma2 + offset))
    if np.iscomplexobj(covmean):
        if not np.allclose(np.diagonal(covmean).imag, 0, atol=1e-3):
            raise ValueError(f"Imaginary component {np.max(np.abs(covmean.imag)):.3g} in sqrtm")
        covmean = covmean.real
    distance = diff @ diff + np.trace(sigma1) + np.trace(sigma2) - 2.0 * np.trace(covmean)
    return float(max(distance, 0.0))


def frechet_distance_of_samples(a: np.ndarray, b: np.ndarray) -> float:
    """Fréchet distance between the Gaussians fitted to two sample sets ``(N1, D)``, ``(N2, D)``.

    The same distance as :func:`frechet_distance` of :func:`gaussian_stats`
    (``np.cov(rowvar=False)``), computed from the samples: with ``A``, ``B`` the centred
    samples over ``sqrt(N - 1)`` (``S1 = A^T A``),
    ``Tr sqrtm(S1 S2)`` is the sum of the singular values of ``A B^T`` (the nonzero eigenvalues
    of ``S1 S2 = A^T A B^T B`` are those of ``(A B^T)(A B^T)^T``); with many samples, the
    eigenvalues of ``R S2 R`` with ``R`` the symmetric square root of ``S1`` (the same
    spectrum). No non-symmetric matrix square root is needed: exact, with no ``eps`` on
    singular covariances, in ``O(min(N1 N2 (D + min(N1, N2)), D^3))``.
    Raw clip vectors have hundreds to thousands of dimensions (34 frames x 27 values for the
    TED protocol), where ``sqrtm`` of the product takes tens of seconds.
    """
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if a.ndim != 2 or b.ndim != 2 or a.shape[1] != b.shape[1] or min(len(a), len(b)) < 2:
        raise ValueError(f"Expected samples (N >= 2, D) of one D. Received: {a.shape}, "
                         f"{b.shape}")
    diff = a.mean(axis=0) - b.mean(axis=0)
    ca = (a - a.mean(axis=0)) / np.sqrt(len(a) - 1)
    cb = (b - b.mean(axis=0)) / np.sqrt(len(b) - 1)
    n1, n2, d = len(ca), len(cb), ca.shape[1]
    if n1 * n2 * min(n1, n2) <= d**3:  # few samples (raw clips): the N1 x N2 cross product
        trace_sqrt = float(np.linalg.svd(ca @ cb.T, compute_uv=False).sum())
    else:  # many samples: Tr sqrtm(S1 S2) = Tr sqrt(R S2 R) with R = sqrtm(S1) (symmetric)
        w, v = np.linalg.eigh(ca.T @ ca)
        root = (v * np.sqrt(np.clip(w, 0.0, None))) @ v.T
        eig = np.linalg.eigvalsh(root @ (cb.T @ cb) @ root)
        trace_sqrt = float(np.sqrt(np.clip(eig, 0.0, None)).sum())
    distance = diff @ diff + np.sum(ca**2) + np.sum(cb**2) - 2.0 * trace_sqrt
    return float(max(distance, 0.0))


def motion_beats(positions: np.ndarray, fps: float, *, order: int = 2) -> np.ndarray:
    """Motion beats (BEAT convention): times (s) of local minima of the mean joint speed.

    Joint velocities are central differences (forward/backward at the ends), so the speed of
    frame ``k`` is at ``k / fps``; a beat is a frame whose speed is strictly below that of the
    ``order`` frames on each side (``scipy.signal.argrelextrema``), so a motionless stretch has
    no beats.

    Parameters
    ----------
    positions : np.ndarray [shape=(T, J, 3)]
    fps : float > 0
        Frame rate.
    order : int > 0
        Frames on each side a minimum must beat (BEAT: 2).
    """
    positions = _positions(positions)
    if len(positions) < 2:
        return np.zeros(0)
    velocity = np.gradient(positions, axis=0) * fps
    mean_speed = np.linalg.norm(velocity, axis=-1).mean(axis=1)
    from scipy.signal import argrelextrema  # scipy.signal costs seconds to import

    minima = argrelextrema(mean_speed, np.less, order=order)[0]
    return minima / fps


def beat_scores(audio_onsets: np.ndarray, motion_beat_times: np.ndarray,
                sigma: float) -> np.ndarray:
    """Per audio onset ``exp(-d^2 / (2 sigma^2))`` ``(n_onsets,)``; zeros without motion beats.

    ``d`` is the distance (s) from the onset to the nearest motion beat; ``sigma`` in seconds.
    """
    onsets = np.asarray(audio_onsets, dtype=np.float64).ravel()
    beats = np.sort(np.asarray(motion_beat_times, dtype=np.float64).ravel())
    if not sigma > 0:
        raise ValueError(f"Expected sigma > 0 (seconds). Received: sigma={sigma}")
    if beats.size == 0:
        return np.zeros(onsets.size)
    right = np.clip(np.searchsorted(beats, onsets), 0, len(beats) - 1)
    left = np.clip(right - 1, 0, len(beats) - 1)
    nearest = np.minimum(np.abs(onsets - beats[left]), np.abs(onsets - beats[right]))
    return np.exp(-(nearest**2) / (2.0 * sigma**2))


def beat_alignment(audio_onsets: np.ndarray, motion_beat_times: np.ndarray,
                   sigma: float = 0.1) -> float:
    """Beat alignment score: mean over audio onsets of :func:`beat_scores`.

    1 means every onset has a motion beat on it, 0 that there are no motion beats. ``sigma``
    is in seconds (HA2G's beat consistency: 0.1 s, the project's default; BEAT: 0.3 s, which
    saturates: random beats at 5 per second already score 0.91).
    """
    scores = beat_scores(audio_onsets, motion_beat_times, sigma)
    if scores.size == 0:
        raise ValueError("Expected at least one audio onset.")
    return float(np.mean(scores))


def l1_div(positions: np.ndarray | list[np.ndarray]) -> float:
    """L1div (BEAT): L1 distance of each frame from the mean pose, averaged over frames (units).

    Per frame the absolute deviations of all joint coordinates from the motion's mean pose are
    summed (BEAT's ``L1div``); a list of motions is scored as BEAT accumulates a test set:
    each motion about its own mean pose, averaged over all their frames.
    """
    motions = positions if isinstance(positions, (list, tuple)) else [positions]
    total, frames = 0.0, 0
    for motion in motions:
        motion = _positions(motion)
        total += float(np.abs(motion - motion.mean(axis=0)).sum())
        frames += len(motion)
    if frames == 0:
        raise ValueError("Expected at least one frame.")
    return total / frames
