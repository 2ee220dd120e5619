"""The leaderboard's statistics: intervals, shared bootstrap resamples, and honest ties with the best.

Intervals
    A proportion (accuracy, a mean of 0/1 scores) gets Wilson's score interval: it needs no resampling and keeps
    its coverage at the ceiling, where a percentile bootstrap of an all-correct sample is the zero-width [1, 1].
    Any other metric gets the percentile bootstrap of the metric recomputed on each replicate.

Resamples
    :func:`resample_index` draws the (R, n) resampled positions in chunks of rows from one seeded stream, so the
    draws do not depend on the chunk size and memory stays bounded. A leaderboard column draws once and every
    backbone in it is scored on the same replicates (paired by example id).

Ties with the best
    In a column the best row is the one with the highest point score; every other row is tested, one-sided,
    against it: is the best really better? The test has to allow for the best having been *chosen* as the
    highest of several: with ten equally good backbones the highest point score sits well above the others by
    chance alone, and a plain paired test of "best minus other <= 0", even Holm-corrected, then marks at least
    one of them "below the best" in about a quarter of columns. So the bootstrap null distribution of the lead
    ``T_j = best - row_j`` re-selects the best in every replicate from the centred replicates
    (``max_k (rep_k - point_k) - (rep_j - point_j)``; ties among all rows are the least favourable case), and
    the p-values of the column are Holm-corrected at alpha 0.05. With two rows this is the ordinary one-sided
    paired bootstrap test. Rows not rejected are "tied with the best".

Torch-free; numpy only.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import numpy as np

from biobench_core.contract._resample import CHUNK_ELEMENTS, default_chunk, resample_index

__all__ = ["wilson_interval", "percentile_interval", "resample_index", "resample_weights", "default_chunk", "holm",
           "holm_adjusted", "paired_pvalue", "pvalues_against_best", "best_of", "below_best", "ALPHA"]

ALPHA = 0.05


def wilson_interval(k: float, n: float, confidence: float = 95) -> tuple[float, float]:
    """Wilson's score interval for a proportion of ``k`` successes in ``n`` trials (``confidence`` in percent)."""
    if not 0 < confidence < 100:
        raise ValueError(f"confidence is a percentage in (0, 100), got {confidence}")
    if n <= 0 or not 0 <= k <= n:
        raise ValueError(f"need 0 <= k <= n and n > 0, got k={k}, n={n}")
    z = statistics.NormalDist().inv_cdf(0.5 + confidence / 200)
    p = k / n
    z2n = z * z / n
    centre = (p + z2n / 2) / (1 + z2n)
    half = z * np.sqrt(p * (1 - p) / n + z2n / (4 * n)) / (1 + z2n)
    low = 0.0 if k == 0 else max(0.0, centre - half)  # exact at the bounds, where rounding would leave 1e-17
    high = 1.0 if k == n else min(1.0, centre + half)
    return float(low), float(high)


def percentile_interval(replicates: Any, confidence: float = 95) -> tuple[float, float]:
    """The ``(100 - confidence) / 2`` and ``100 - (100 - confidence) / 2`` percentiles of the replicates (NaNs,
    replicates that drew none of a row's examples, are left out)."""
    alpha = (100 - confidence) / 2
    values = np.asarray(replicates, dtype=np.float64)
    if not np.isfinite(values).any():
        return float("nan"), float("nan")
    low, high = np.nanpercentile(values, [alpha, 100 - alpha])
    return float(low), float(high)


def resample_weights(n: int, n_resamples: int, seed: Any, chunk: int | None = None) -> Iterator[np.ndarray]:
    """The leaderboard's resamples: chunks of (rows, n) float64 counts of how often each example was drawn.

    The positions are :func:`resample_index` with ``dtype=np.uint32``.
    """
    from biobench_core.results._metrics import weights_from_index

    for index in resample_index(n, n_resamples, seed, chunk, dtype=np.uint32):
        yield weights_from_index(index, n)


def holm_adjusted(pvalues: Sequence[float] | np.ndarray) -> np.ndarray:
    """Holm's step-down adjusted p-values (same order as given; NaN stays NaN and counts in the family)."""
    p = np.asarray(pvalues, dtype=np.float64)
    m = p.size
    if m == 0:
        return p.copy()
    order = np.argsort(np.where(np.isnan(p), np.inf, p), kind="stable")
    ranked = np.where(np.isnan(p[order]), 1.0, p[order]) * (m - np.arange(m))
    adjusted = np.empty(m)
    adjusted[order] = np.minimum(1.0, np.maximum.accumulate(ranked))
    adjusted[np.isnan(p)] = np.nan
    return adjusted


def holm(pvalues: Sequence[float] | np.ndarray, alpha: float = ALPHA) -> np.ndarray:
    """Which hypotheses Holm's step-down procedure rejects at family-wise level ``alpha`` (bool per p-value)."""
    adjusted = holm_adjusted(pvalues)
    return np.nan_to_num(adjusted, nan=np.inf) <= alpha


def _pvalue(lead: float, null: np.ndarray) -> float:
    """(1 + #{null >= lead}) / (1 + R); a NaN replicate counts against rejecting."""
    exceed = ~(null < lead - 1e-12)
    return float((1 + np.count_nonzero(exceed)) / (1 + null.size))


def paired_pvalue(best_point: float, other_point: float, best_reps: Any, other_reps: Any) -> float:
    """One-sided paired bootstrap p-value of "best - other <= 0" for two rows scored on the same replicates.

    The null distribution is the centred replicate lead ``(best* - best) - (other* - other)``, floored at 0.
    """
    return float(pvalues_against_best(np.array([best_point, other_point]),
                                      np.stack([np.asarray(best_reps, float), np.asarray(other_reps, float)]),
                                      best=0)[1])


def pvalues_against_best(points: Any, replicates: Any, best: int,
                         paired: Mapping[int, tuple[float, float, Any, Any]] | None = None) -> np.ndarray:
    """One-sided bootstrap p-value per row of "this row is as good as the best", allowing for the choice of best.

    ``points`` (rows,) are the point scores, ``replicates`` (rows, R) the same rows on shared replicates. For row
    ``j`` the lead is ``T_j = points[best] - points[j]`` and its null distribution, with every row equally good
    (the least favourable case), is ``max_k (rep_k - point_k) - (rep_j - point_j)``. ``paired`` overrides, for a
    row ``j``, the best's and ``j``'s points and replicates with those on the examples both share:
    ``{j: (best_point, j_point, best_reps, j_reps)}``. The best's own p-value is 1.
    """
    points = np.asarray(points, dtype=np.float64)
    reps = np.asarray(replicates, dtype=np.float64)
    if reps.ndim != 2 or reps.shape[0] != points.size:
        raise ValueError(f"replicates must be (rows, R) with rows = {points.size}, got {reps.shape}")
    centred = reps - points[:, None]
    with np.errstate(invalid="ignore"):
        top = np.max(centred, axis=0)
        out = np.ones(points.size)
        for j in range(points.size):
            if j == best:
                continue
            if paired and j in paired:
                b_point, j_point, b_reps, j_reps = paired[j]
                d_best = np.asarray(b_reps, dtype=np.float64) - b_point
                d_j = np.asarray(j_reps, dtype=np.float64) - j_point
                others = np.delete(centred, [best, j], axis=0)
                rest = np.max(others, axis=0) if others.size else np.full(d_j.shape, -np.inf)
                null = np.maximum(np.maximum(rest, d_best), d_j) - d_j
                lead = b_point - j_point
            else:
                null = top - centred[j]
                lead = points[best] - points[j]
            out[j] = _pvalue(lead, null)
    return out


def best_of(points: Any) -> int:
    """The row with the highest point score (the first of equal ones; NaN never wins)."""
    points = np.asarray(points, dtype=np.float64)
    return int(np.nanargmax(points)) if np.isfinite(points).any() else 0


def below_best(points: Any, replicates: Any, alpha: float = ALPHA, *,
               paired: Mapping[int, tuple[float, float, Any, Any]] | None = None,
               ) -> tuple[int, np.ndarray, np.ndarray, np.ndarray]:
    """The best row and, per row, its p-value, Holm-adjusted p-value, and whether it is significantly below.

    The best is :func:`best_of` the points. Holm's family is the other rows of the column; see
    :func:`pvalues_against_best` for the test and ``paired``.
    """
    points = np.asarray(points, dtype=np.float64)
    best = best_of(points)
    pvalues = pvalues_against_best(points, replicates, best, paired)
    others = np.arange(points.size) != best
    adjusted = np.ones(points.size)
    adjusted[others] = holm_adjusted(pvalues[others])
    below = np.zeros(points.size, dtype=bool)
    below[others] = adjusted[others] <= alpha
    return best, pvalues, adjusted, below
