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
HA2G / BEAT            :func:`frechet_distance`, :func:`beat_alignment`, :func:`l1_div`
=====================  ==================================================================
"""

from __future__ import annotations

import warnings

import numpy as np
from scipy import linalg
from scipy.signal import argrelextrema
from scipy.spatial.distance import pdist

from data_processing.bvh import Skeleton

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


def acceleration(positions: np.ndarray, fps: float | None = None) -> np.ndarray:
    """Average acceleration per joint ``(J,)`` (IVA'19 ``aa.csv``; units/frame^2 or /s^2)."""
    return acceleration_norms(positions, fps).mean(axis=0)


def jerk(positions: np.ndarray, fps: float | None = None) -> np.ndarray:
    """Average jerk per joint ``(J,)``: mean norm of the third difference (units/frame^3, /s^3)."""
    return _difference_norms(positions, 3, fps).mean(axis=0)


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


def body_scale(skeleton: Skeleton) -> float:
    """Largest distance between two joints of the rest pose, in the skeleton's units."""
    return float(pdist(skeleton.rest_positions()).max())


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


def diversity(motions: list[np.ndarray], clip_length: int = DIVERSITY_CLIP) -> float:
    """Audio2Gestures Diversity: mean L1 distance between all non-overlapping clips (units).

    Parameters
    ----------
    motions : list of np.ndarray [shape=(T, J, 3)]
        Generated motions (e.g. one per test file); clips are pooled across them.
    clip_length : int
        Frames per clip (50 in the paper).
    """
    pooled = np.concatenate([clips(m, clip_length) for m in motions])
    return _mean_pairwise_l1(pooled)


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
    minima = argrelextrema(mean_speed, np.less, order=order)[0]
    return minima / fps


def beat_alignment(audio_onsets: np.ndarray, motion_beat_times: np.ndarray,
                   sigma: float = 0.3) -> float:
    """Beat alignment score: mean over audio onsets of ``exp(-d^2 / (2 sigma^2))``.

    ``d`` is the distance (s) from each audio onset to the nearest motion beat; 1 means every
    onset has a motion beat on it, 0 that there are no motion beats. ``sigma`` is in seconds
    (BEAT: 0.3 s; HA2G's beat consistency used 0.1 s).
    """
    onsets = np.asarray(audio_onsets, dtype=np.float64).ravel()
    beats = np.sort(np.asarray(motion_beat_times, dtype=np.float64).ravel())
    if onsets.size == 0:
        raise ValueError("Expected at least one audio onset.")
    if not sigma > 0:
        raise ValueError(f"Expected sigma > 0 (seconds). Received: sigma={sigma}")
    if beats.size == 0:
        return 0.0
    right = np.clip(np.searchsorted(beats, onsets), 0, len(beats) - 1)
    left = np.clip(right - 1, 0, len(beats) - 1)
    nearest = np.minimum(np.abs(onsets - beats[left]), np.abs(onsets - beats[right]))
    return float(np.mean(np.exp(-(nearest**2) / (2.0 * sigma**2))))


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
