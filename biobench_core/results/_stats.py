"""The leaderboard's statistics: intervals, shared bootstrap resamples, and honest ties with the best.

Intervals
    :func:`percentile_interval` is the plain percentile bootstrap; :func:`wilson_interval` is Wilson's score
    interval of a proportion, kept as the reference the coverage benchmark compares against. The leaderboard's
    own intervals, which keep their coverage at the ceiling, are in :mod:`biobench_core.results._intervals`.

Resamples
    :func:`resample_index` draws the (R, n) resampled positions in chunks of rows from one seeded stream, so the
    draws do not depend on the chunk size and memory stays bounded. A leaderboard column draws once and every
    backbone in it is scored on the same replicates (paired by example id).

Ties with the best
    Which rows are significantly below their column's best, at a family-wise error of alpha 0.05, and which have
    too few examples to compare: :mod:`biobench_core.results._ties` (re-exported here). Holm's correction
    (:func:`holm`) is kept as a reference: the leaderboard no longer uses it.

Torch-free; numpy only.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np

from biobench_core.contract._resample import CHUNK_ELEMENTS, default_chunk, resample_index

from biobench_core.results._ties import ALPHA, best_of, below_best

__all__ = ["wilson_interval", "percentile_interval", "resample_index", "resample_weights", "default_chunk", "holm",
           "holm_adjusted", "best_of", "below_best", "ALPHA"]


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
