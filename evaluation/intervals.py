"""95% percentile-bootstrap intervals over training seeds and held-out segments.

A method's scores (:class:`evaluation.scoring.Scores`) hold, per training seed ``k`` and
held-out segment ``j`` (10-s pieces of the held-out files: :data:`scoring.SEGMENT_SECONDS`),
what each metric needs: ``num[k, j]``, ``den[k, j]`` for the ratio metrics, joint-speed counts
for Hellinger, one value per seed for FGD. One bootstrap replicate draws ``K`` seeds and ``S``
segments with replacement and recomputes every metric from the drawn values exactly as the
point estimate is computed from all of them: per drawn seed ``sum(num) / sum(den)`` over the
drawn segments (Hellinger: from the summed histograms of the drawn segments, the truth's
summed over the same segments), averaged over the drawn seeds. FGD is resampled over seeds
only (it needs the whole held-out set; per-segment FGD would rest on a handful of clips).
The interval is the 2.5th and 97.5th percentile of :data:`N_BOOT` replicates.

**Pairing.** Every method is resampled with the same segment indices (one draw per replicate,
shared), so a difference between two methods is paired on the same held-out segments. Seed
indices are drawn per seed count ``K`` from their own stream: two methods with the same ``K``
(the runner gives every row the same seed list) are resampled with the same seed indices --
seeds matched by index, which is valid whether or not runs of the same seed are correlated --
and methods with different ``K`` (a reference row has ``K = 1``) independently.

**Tables.** :func:`interval_table` gives one row per method (``seeds``, ``METRIC``,
``METRIC_lo``, ``METRIC_hi``); :func:`comparisons` the paired differences of chosen pairs, the
ground truth against the mismatched truth first; :func:`separating` which metrics that first
comparison separates (the others are flagged in the reports, not ranked by).

**Reproducibility.** Indices come from ``numpy.random.default_rng([seed, stream, n])`` only, so
the same scores give the same intervals bit for bit, in any order of methods.

Examples
--------
>>> import numpy as np
>>> from evaluation.scoring import Scores
>>> flat = Scores("flat", {"ape": np.full((3, 5), 2.0)}, {"ape": np.ones((3, 5))})
>>> Bootstrap(5).interval(flat)["ape"]
(2.0, 2.0, 2.0)
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from data_processing.files import PipelineError
from evaluation.scoring import (
    COLUMNS,
    MISMATCHED,
    SEGMENT_SECONDS,
    TRUTH,
    Reference,
    Scores,
    statistic,
)

SEPARATION = (TRUTH, MISMATCHED)  # the comparison that says whether a metric discriminates

N_BOOT = 2000  # bootstrap replicates
LEVEL = 0.95  # coverage of the intervals
SEED = 0  # seed of the resampling


class Bootstrap:
    """Shared resampling indices for the methods of one table.

    Parameters
    ----------
    n_segments : int > 0
        ``S``, the held-out segments every method is scored on.
    n_boot : int > 0
        Replicates.
    seed : int >= 0
        Seed of the resampling.
    level : float in (0, 1)
        Coverage of the intervals.
    reference : Reference, optional
        The truth's per-segment speed histograms (Hellinger); needed for methods with
        histograms.
    """

    def __init__(self, n_segments: int, *, n_boot: int = N_BOOT, seed: int = SEED,
                 level: float = LEVEL, reference: Reference | None = None):
        if n_segments < 1 or n_boot < 1 or seed < 0 or not 0 < level < 1:
            raise PipelineError(f"bootstrap: expected segments >= 1, replicates >= 1, seed >= 0, "
                                f"0 < level < 1; got {n_segments}, {n_boot}, {seed}, {level}")
        self.n_segments, self.n_boot, self.seed, self.level = n_segments, n_boot, seed, level
        self.reference = reference
        self._seeds: dict[int, np.ndarray] = {}
        rng = np.random.default_rng([seed, 0, n_segments])
        self.segments = rng.integers(0, n_segments, size=(n_boot, n_segments))

    def seeds(self, k: int) -> np.ndarray:
        """Seed indices ``(n_boot, k)`` for methods with ``k`` seeds (one stream per ``k``)."""
        if k not in self._seeds:
            rng = np.random.default_rng([self.seed, 1, k])
            self._seeds[k] = rng.integers(0, k, size=(self.n_boot, k))
        return self._seeds[k]

    def replicates(self, scores: Scores) -> dict[str, np.ndarray]:
        """Every metric of every replicate ``(n_boot,)``, in :attr:`Scores.columns` order."""
        self._check(scores)
        return statistic(scores, self.seeds(scores.n_seeds), self.segments, self.reference)

    def point(self, scores: Scores) -> dict[str, float]:
        """Each metric over all seeds and segments (the statistic the replicates resample)."""
        self._check(scores)
        return scores.point(self.reference)

    def summary(self, point: dict[str, float],
                replicates: dict[str, np.ndarray]) -> dict[str, tuple[float, float, float]]:
        """``metric -> (point, lo, hi)``: percentile interval of the replicates."""
        tail = 100 * (1 - self.level) / 2
        out = {}
        for key, values in replicates.items():
            finite = values[np.isfinite(values)]
            if not np.isfinite(point[key]) or finite.size == 0:
                out[key] = (float("nan"),) * 3
                continue
            lo, hi = np.percentile(finite, [tail, 100 - tail])
            out[key] = (point[key], float(min(lo, point[key])), float(max(hi, point[key])))
        return out

    def interval(self, scores: Scores) -> dict[str, tuple[float, float, float]]:
        """``metric -> (mean, lo, hi)`` of one method."""
        return self.summary(self.point(scores), self.replicates(scores))

    def difference(self, a: Scores, b: Scores) -> dict[str, tuple[float, float, float]]:
        """``metric -> (mean, lo, hi)`` of ``a - b``, paired on the segments (shared metrics)."""
        pa, pb = self.point(a), self.point(b)
        ra, rb = self.replicates(a), self.replicates(b)
        keys = [k for k in ra if k in rb]
        return self.summary({k: pa[k] - pb[k] for k in keys}, {k: ra[k] - rb[k] for k in keys})

    def _check(self, scores: Scores) -> None:
        widths = {v.shape[1] for v in scores.num.values()}
        if scores.histograms is not None:
            widths.add(scores.histograms.shape[1])
        if widths - {self.n_segments}:
            raise PipelineError(f"method {scores.name!r}: scored on {sorted(widths)} segments, "
                                f"the table on {self.n_segments}")


def add_arguments(parser) -> None:
    """The intervals' options of a scoring CLI: ``--segment``, ``--boot``, ``--boot-seed``."""
    parser.add_argument("--segment", type=float, default=SEGMENT_SECONDS,
                        help="held-out segment length in seconds (default %(default)s)")
    parser.add_argument("--boot", type=int, default=N_BOOT,
                        help="bootstrap replicates (default %(default)s)")
    parser.add_argument("--boot-seed", type=int, default=SEED,
                        help="seed of the resampling (default %(default)s)")


def verdict(low: float, high: float) -> str:
    """``"> 0"``, ``"< 0"`` or ``"includes 0"`` for a difference's interval (``NaN``: ``"-"``)."""
    if not (np.isfinite(low) and np.isfinite(high)):
        return "-"
    return "> 0" if low > 0 else "< 0" if high < 0 else "includes 0"


def cell(mean: float, low: float, high: float, digits: int = 3) -> str:
    """``mean [lo, hi]`` for a markdown cell (``-`` when missing; ``mean`` without an interval)."""
    if not np.isfinite(mean):
        return "-"
    fmt = f"{{:.{digits}f}}" if abs(mean) < 100 else "{:.1f}"
    if not (np.isfinite(low) and np.isfinite(high)):
        return fmt.format(mean)
    return f"{fmt.format(mean)} [{fmt.format(low)}, {fmt.format(high)}]"


def interval_table(scores: dict[str, Scores], boot: Bootstrap) -> pd.DataFrame:
    """One row per name: ``seeds``, then ``METRIC``, ``METRIC_lo``, ``METRIC_hi``."""
    rows = {}
    for name, row in scores.items():
        out = {"seeds": row.n_seeds}
        for key, (mean, lo, hi) in boot.interval(row).items():
            out.update({key: mean, f"{key}_lo": lo, f"{key}_hi": hi})
        rows[name] = out
    return pd.DataFrame.from_dict(rows, orient="index").rename_axis("method")


def comparisons(scores: dict[str, Scores], pairs: list[tuple[str, str]],
                boot: Bootstrap) -> pd.DataFrame:
    """Paired differences ``a - b`` per metric: the truth vs the mismatched truth, then ``pairs``.

    Columns ``a, b, metric, difference, lo, hi, verdict`` (:func:`verdict`) and
    ``better``: which of the two the interval favours for a metric with a direction
    (:data:`COLUMNS`), ``-`` when it includes 0 or the metric has none.
    """
    out = []
    for a, b in [SEPARATION, *[p for p in pairs if tuple(p) != SEPARATION]]:
        for name in (a, b):
            if name not in scores:
                raise PipelineError(f"--compare: no method {name!r} (have: "
                                    f"{', '.join(scores)})")
        for key, (diff, lo, hi) in boot.difference(scores[a], scores[b]).items():
            sign = verdict(lo, hi)
            lower = COLUMNS[key][1]
            better = "-"
            if sign in ("< 0", "> 0") and lower is not None:
                better = a if (sign == "< 0") == lower else b
            out.append({"a": a, "b": b, "metric": key, "difference": diff, "lo": lo, "hi": hi,
                        "verdict": sign, "better": better})
    return pd.DataFrame(out)


def separating(compared: pd.DataFrame) -> dict[str, bool]:
    """``metric -> True`` when the truth and the mismatched truth differ (interval excludes 0).

    Metrics undefined for either (Multimodality: no samples) are left out.
    """
    rows = compared[(compared["a"] == SEPARATION[0]) & (compared["b"] == SEPARATION[1])]
    return {row.metric: row.verdict in ("< 0", "> 0") for row in rows.itertuples()
            if row.verdict != "-"}
