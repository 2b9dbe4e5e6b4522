"""The GENEA numerical evaluation: jerk, acceleration, their histograms, CCA and FGD.

The measures of the GENEA Challenge's numerical evaluation (Kucherenko et al., GENEA 2022 and
2023; scripts in ``genea-workshop/genea_numerical_evaluations``), on 3D joint positions at
30 fps (every motion is resampled by :meth:`data_processing.motion.Motion.resample`: slerp of
the rotations where known, else linear), global positions as GENEA's ``bvh2npy.py`` exports
them (``root_relative=True`` subtracts the root joint). Every metric reuses
:mod:`evaluation.metrics`; each name says whose convention it follows (:data:`NAMES`):

``jerk_genea``, ``acceleration_genea`` (+ ``_std``)
    ``calk_jerk_or_acceleration.py``: per sequence, the norm of the third (second) finite
    difference of every joint, averaged over frames and then over joints, times ``fps^3``
    (``fps^2``) at the evaluated frame rate (30: GENEA's fixed factor); the mean and
    standard deviation over sequences. Units: the data's (cm) per s^3 (s^2).
``hellinger_speed_genea``, ``hellinger_acceleration_genea``
    ``calc_histogram.py`` + ``hellinger_distance.py``: the speed (first difference times
    fps, cm/s) or acceleration norm (second difference times fps^2, cm/s^2) of every joint
    and frame of all sequences, counted in bins ``arange(0, 49 + w, w)`` with ``w`` = 0.05
    (the README's ``-w 0.05`` and ``hellinger_distance.py``'s default ``hmd_vel_0.05.csv``;
    values above 49 are not counted, as ``np.histogram``), summed over joints (the "Total"
    column), and the Hellinger distance ``sqrt(1 - sum sqrt(p q))`` of the normalised totals
    of generated and natural motion. GENEA's script also drops the first 8 columns of the
    position array ("hips which are fixed"); we count every joint. GENEA uses the same edges
    for accelerations, in cm/s^2, where gestures mostly exceed 49: the acceleration histogram
    then counts only the slowest frames, and is ``NaN`` when a side has no count at all
    (``Options.acc_top``, ``--acc-top``, widens it; the default stays GENEA's).
``cca_genea`` (+ ``_std``), ``cca_global_genea``
    ``cca.py`` / ``calc_cca.py``: the flattened positions ``(T, 3 J)`` of a generated and of
    its natural sequence (cut to the shorter length; dimensions whose standard deviation is
    at most 1e-8 dropped), ``sklearn.cross_decomposition.CCA(n_components=1, max_iter=1500)``
    (scikit-learn's default ``scale=True``) fitted on the pair, and the Pearson correlation of
    the two first canonical variates; the mean and standard deviation over sequences, and the
    same on all frames of all sequences concatenated (GENEA's "global CCA value").
``fgd_<protocol>`` (+ ``_floor``, ``_raw``, ``_raw_floor``)
    :func:`evaluation.fgd_extractor.fgd` with a trained extractor (``ours`` or ``ted``): FGD in
    embedding space and in raw clip space (GENEA 2022's two FGDs), each with its noise floor
    (two disjoint halves of the natural motion).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np

from data_processing.files import PipelineError
from data_processing.motion import Motion, motion_id
from evaluation import metrics

GENEA_FPS = 30.0  # the frame rate GENEA evaluates at (bvh2npy.py's DownSampler(tgt_fps=30))
HIST_WIDTH = 0.05  # histogram bin width (README: calc_histogram.py -w 0.05)
HIST_TOP = 49.0  # last bin edge: calc_histogram.py's np.arange(0, 49 + width, width)
CCA_MAX_ITER = 1500  # cca.py: CCA(n_components=1, max_iter=1500)
CONSTANT_STD = 1e-8  # cca.py: dimensions with a smaller standard deviation are dropped
NAMES = {
    "jerk_genea": "average jerk (units/s^3), mean over sequences",
    "jerk_genea_std": "its standard deviation over sequences",
    "acceleration_genea": "average acceleration (units/s^2), mean over sequences",
    "acceleration_genea_std": "its standard deviation over sequences",
    "hellinger_speed_genea": "Hellinger distance of speed histograms to the natural motion",
    "hellinger_acceleration_genea": "Hellinger distance of acceleration histograms",
    "cca_genea": "first canonical correlation with the natural motion, mean over sequences",
    "cca_genea_std": "its standard deviation over sequences",
    "cca_global_genea": "first canonical correlation on all frames concatenated",
}


@dataclass(frozen=True)
class Options:
    """Conventions of one evaluation.

    Parameters
    ----------
    fps : float > 0
        Frame rate every motion is resampled to (GENEA: 30).
    root_relative : bool
        Subtract the root joint's position (GENEA: global positions, ``False``).
    bin_width, top : float > 0
        Speed histogram bins ``arange(0, top + bin_width, bin_width)`` in units/s.
    acc_top : float > 0
        Last edge of the acceleration histogram (units/s^2; GENEA: the speed's, 49).
    """

    fps: float = GENEA_FPS
    root_relative: bool = False
    bin_width: float = HIST_WIDTH
    top: float = HIST_TOP
    acc_top: float = HIST_TOP

    @property
    def bins(self) -> np.ndarray:
        """Speed histogram bin edges ``(B + 1,)``."""
        return metrics.histogram_bins(self.bin_width, self.top)

    @property
    def acc_bins(self) -> np.ndarray:
        """Acceleration histogram bin edges ``(B + 1,)``."""
        return metrics.histogram_bins(self.bin_width, self.acc_top)


def positions(motions: list[Motion], options: Options = Options()) -> list[np.ndarray]:
    """Positions ``[(T_i, J, 3), ...]`` of motions at ``options.fps`` as GENEA evaluates them."""
    out = []
    for motion in motions:
        motion = motion.resample(options.fps)
        out.append(motion.root_relative() if options.root_relative else motion.positions)
    return out


def derivative_average(motions: list[np.ndarray], fps: float, order: int) -> tuple[float, float]:
    """GENEA's average jerk (``order`` 3) or acceleration (2): mean and std over sequences.

    Parameters
    ----------
    motions : list of np.ndarray [shape=(T, J, 3)]
    fps : float
        Frame rate of the motions (derivatives are per second).
    order : {2, 3}
    """
    function = {2: metrics.acceleration, 3: metrics.jerk}[order]
    per_sequence = []
    for i, m in enumerate(motions):
        if len(m) <= order:
            raise PipelineError(f"motion {i}: {len(m)} frames, too short for a finite "
                                f"difference of order {order}")
        per_sequence.append(function(m, fps).mean())
    return float(np.mean(per_sequence)), float(np.std(per_sequence))


def histogram(motions: list[np.ndarray], fps: float, bins: np.ndarray,
              kind: str = "speed") -> np.ndarray:
    """GENEA's histogram of moving distance: counts ``(B,)`` summed over joints and frames.

    Parameters
    ----------
    motions : list of np.ndarray [shape=(T, J, 3)]
    fps : float
    bins : np.ndarray [shape=(B + 1,)]
        Bin edges (values above the last are not counted).
    kind : {"speed", "acceleration"}
        First difference times fps, or second difference times fps^2.
    """
    function = {"speed": metrics.speed, "acceleration": metrics.acceleration_norms}[kind]
    values = np.concatenate([function(m, fps) for m in motions])  # (N, J)
    return metrics.speed_histogram(values, bins).sum(axis=1)


def _non_constant(x: np.ndarray) -> np.ndarray:
    return x[:, np.std(x, axis=0) > CONSTANT_STD]


def cca_score(a: np.ndarray, b: np.ndarray) -> float:
    """GENEA's CCA value of two motions: correlation of the first canonical variates.

    Parameters
    ----------
    a, b : np.ndarray [shape=(T, J, 3) or (T, D)]
        Two motions (flattened per frame), cut to the shorter length.

    Returns
    -------
    float
        Pearson correlation of ``CCA(n_components=1, max_iter=1500)``'s transforms of the
        non-constant dimensions (:data:`CONSTANT_STD`); ``NaN`` when either has none.
    """
    from scipy import stats  # with scikit-learn, only when CCA is asked for (fast --help)
    from sklearn.cross_decomposition import CCA
    from threadpoolctl import threadpool_limits  # scikit-learn's own dependency

    n = min(len(a), len(b))
    x = _non_constant(np.asarray(a, dtype=np.float64).reshape(len(a), -1)[:n])
    y = _non_constant(np.asarray(b, dtype=np.float64).reshape(len(b), -1)[:n])
    if n < 3 or x.shape[1] == 0 or y.shape[1] == 0:
        return float("nan")
    model = CCA(n_components=1, max_iter=CCA_MAX_ITER)
    # One BLAS thread: NIPALS runs thousands of small SVDs, which threads only slow down (5x
    # on 2 busy cores); the value is the same.
    with warnings.catch_warnings(), threadpool_limits(limits=1, user_api="blas"):
        warnings.simplefilter("ignore")  # NIPALS convergence notes: the value is still GENEA's
        u, v = model.fit(x, y).transform(x, y)
    return float(stats.pearsonr(np.ravel(u), np.ravel(v))[0])


def pair_by_id(generated: list[Motion], natural: list[Motion], source: str) -> list[Motion]:
    """The generated motions in the order of ``natural``, matched by id (one-line errors).

    Ids are :func:`data_processing.motion.motion_id` of the motions' names (file stems,
    dataset sequence ids).
    """
    by_id: dict[str, Motion] = {}
    for motion in generated:
        key = motion_id(motion.name)
        if key in by_id:
            raise PipelineError(f"{source}: two motions with the id {key!r}")
        by_id[key] = motion
    wanted = [motion_id(m.name) for m in natural]
    missing, extra = sorted(set(wanted) - set(by_id)), sorted(set(by_id) - set(wanted))
    if missing or extra:
        problems = [f"no motion for id(s) {', '.join(missing)}" if missing else "",
                    f"no natural motion for id(s) {', '.join(extra)}" if extra else ""]
        raise PipelineError(f"{source}: {'; '.join(p for p in problems if p)}")
    return [by_id[key] for key in wanted]


def evaluate(generated: list[Motion], natural: list[Motion], *, options: Options = Options(),
             extractors=(), source: str = "generated") -> dict[str, float]:
    """Every GENEA measure of one method against the natural motion.

    Parameters
    ----------
    generated : list of Motion
        One motion per natural sequence (matched by id, :func:`pair_by_id`).
    natural : list of Motion
        The natural (ground-truth) motion, on the same joints.
    options : Options
    extractors : sequence of FeatureExtractor
        FGD extractors of distinct protocols (``fgd_<protocol>`` columns; none without).
    source : str
        Named in errors.

    Returns
    -------
    dict
        The :data:`NAMES` values, and :meth:`evaluation.fgd_extractor.FGDResult.row` of each
        extractor.
    """
    generated = pair_by_id(generated, natural, source)
    gen, nat = positions(generated, options), positions(natural, options)
    for g, n, motion in zip(gen, nat, generated):
        if g.shape[1] != n.shape[1]:
            raise PipelineError(f"{motion.name}: {g.shape[1]} joints, the natural motion has "
                                f"{n.shape[1]}")
    fps = options.fps
    row = {}
    for name, order in (("jerk_genea", 3), ("acceleration_genea", 2)):
        row[name], row[f"{name}_std"] = derivative_average(gen, fps, order)
    for kind, bins in (("speed", options.bins), ("acceleration", options.acc_bins)):
        ours, theirs = histogram(gen, fps, bins, kind), histogram(nat, fps, bins, kind)
        row[f"hellinger_{kind}_genea"] = (metrics.hellinger(ours, theirs)
                                          if ours.sum() > 0 and theirs.sum() > 0 else np.nan)
    per_sequence = [cca_score(g, n) for g, n in zip(gen, nat)]
    valid = [v for v in per_sequence if np.isfinite(v)]  # calc_cca.py skips NaN values
    row["cca_genea"] = float(np.mean(valid)) if valid else np.nan
    row["cca_genea_std"] = float(np.std(valid)) if valid else np.nan
    n = [min(len(g), len(t)) for g, t in zip(gen, nat)]
    row["cca_global_genea"] = cca_score(
        np.concatenate([g[:k].reshape(k, -1) for g, k in zip(gen, n)]),
        np.concatenate([t[:k].reshape(k, -1) for t, k in zip(nat, n)]))
    if extractors:
        from evaluation.fgd_extractor import fgd  # TensorFlow only when FGD is asked for

        for extractor in extractors:
            row.update(fgd(extractor, natural, generated).row())
    return {key: float(value) for key, value in row.items()}
