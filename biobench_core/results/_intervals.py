"""Intervals that keep their coverage at the ceiling: exact bounds on the error count, and their combination.

A percentile bootstrap knows only the errors the test set happened to contain. Near 100% correct it narrows, and
an all-correct sample resamples to the zero-width ``[1, 1]``: at n=50 and 99% correct its 95% interval covered
macro-F1 in about 40% of samples (issue 18). Bounds on the *number of errors* do not have that blind spot: the
count of errors is binomial whatever the metric, and its exact interval is never empty of errors.

``clopper_pearson_interval``
    The exact (Clopper-Pearson) interval of a proportion, for accuracy and any mean of 0/1 scores. Its coverage is
    at least the nominal level for every true proportion and n by construction; Wilson's score interval, used
    before, fell to 0.911 at n=50, p=0.99 (``benchmarks/bench_coverage.py`` compares them cell by cell).
``error_count_interval``
    For any metric of labels and predictions (macro-F1, balanced accuracy, a task's own): the metric recomputed
    with the error count moved to each end of its exact interval, the added or removed errors spread over the
    classes in proportion to their size (an added error predicts another class, in turn). The leaderboard shows
    the hull of this and the percentile bootstrap: the bootstrap carries the sampling noise of how errors fall
    among classes, the count bound the errors the sample did not happen to show.
``combined_mean_interval``
    The interval of a mean of independent estimates from their own intervals (the MOVER of Zou & Donner, 2008:
    each side's half-widths combined in quadrature). The benchmark mean shows the hull of the percentile bootstrap
    of the mean and this over its tasks' cell intervals, so it inherits their coverage at the ceiling instead of
    resampling all-correct tasks into a point (MOVER alone fell to 0.914 for 5 tasks at n=50, p=0.99).

numpy and the standard library only (the exact binomial bounds come from a continued fraction, not scipy).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from biobench_core.results._metrics import NO_PREDICTION, metric_score

__all__ = ["clopper_pearson_interval", "error_count_interval", "combined_mean_interval", "hull"]


def _betacf(a: float, b: float, x: float) -> float:
    """The continued fraction of the regularized incomplete beta function (modified Lentz)."""
    tiny = 1e-300
    qab, qap, qam = a + b, a + 1.0, a - 1.0
    c, d = 1.0, 1.0 - qab * x / qap
    d = 1.0 / (d if abs(d) > tiny else tiny)
    h = d
    for m in range(1, 100_000):
        m2 = 2 * m
        for aa in (m * (b - m) * x / ((qam + m2) * (a + m2)), -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2))):
            d = 1.0 + aa * d
            d = 1.0 / (d if abs(d) > tiny else tiny)
            c = 1.0 + aa / c
            c = c if abs(c) > tiny else tiny
            h *= d * c
        if abs(d * c - 1.0) < 1e-15:
            break
    return h


def _betainc(a: float, b: float, x: float) -> float:
    """The regularized incomplete beta function I_x(a, b) for a, b > 0."""
    if x <= 0.0:
        return 0.0
    if x >= 1.0:
        return 1.0
    log_front = math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log1p(-x)
    if x < (a + 1.0) / (a + b + 2.0):
        return math.exp(log_front) * _betacf(a, b, x) / a
    return 1.0 - math.exp(log_front) * _betacf(b, a, 1.0 - x) / b


def _beta_quantile(q: float, a: float, b: float) -> float:
    """The ``q`` quantile of Beta(a, b): Newton's method on :func:`_betainc`, kept inside a shrinking bracket
    (a bisection step whenever Newton would leave it), to about 1e-13."""
    low, high, x = 0.0, 1.0, a / (a + b)
    log_norm = math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b)
    for _ in range(200):
        error = _betainc(a, b, x) - q
        if error < 0:
            low = x
        else:
            high = x
        density = math.exp(log_norm + (a - 1) * math.log(x) + (b - 1) * math.log1p(-x))
        step = x - error / density if density > 0 else low - 1.0
        new = step if low < step < high else (low + high) / 2
        if abs(new - x) < 1e-13 or high - low < 1e-15:
            return new
        x = new
    return x


@functools.lru_cache(maxsize=4096)  # a board asks for the same (k, n) again and again
def clopper_pearson_interval(k: float, n: float, confidence: float = 95) -> tuple[float, float]:
    """The exact interval of a proportion, ``k`` successes in ``n`` trials (``confidence`` in percent).

    The bounds are the Beta(k, n - k + 1) and Beta(k + 1, n - k) quantiles at ``(1 -/+ confidence) / 2``; 0 and 1
    exactly when ``k`` is 0 or ``n``.
    """
    if not 0 < confidence < 100:
        raise ValueError(f"confidence is a percentage in (0, 100), got {confidence}")
    if n <= 0 or not 0 <= k <= n:
        raise ValueError(f"need 0 <= k <= n and n > 0, got k={k}, n={n}")
    tail = (1 - confidence / 100) / 2
    low = 0.0 if k == 0 else _beta_quantile(tail, k, n - k + 1)
    high = 1.0 if k == n else _beta_quantile(1 - tail, k + 1, n - k)
    return float(low), float(high)


def _spread(classes: np.ndarray, count: int) -> np.ndarray:
    """Positions of ``count`` of these examples spread over their classes in proportion to each class' size:
    the ``i``-th example of a class of ``m`` is taken at ``(i + 0.5) / m`` (ties: the earlier example)."""
    if count <= 0 or classes.size == 0:
        return np.zeros(0, dtype=np.int64)
    order = np.argsort(classes, kind="stable")
    _, start, size = np.unique(classes[order], return_index=True, return_counts=True)
    rank = np.empty(classes.size, dtype=np.float64)
    rank[order] = np.arange(classes.size) - np.repeat(start, size)
    class_size = np.empty(classes.size, dtype=np.float64)
    class_size[order] = np.repeat(size, size)
    return np.argsort((rank + 0.5) / class_size, kind="stable")[:count]


def error_count_interval(metric: str, y_true: Any, y_pred: Any, confidence: float = 95) -> tuple[float, float]:
    """The metric with the error count moved to each end of its exact (Clopper-Pearson) interval.

    With ``k`` errors in ``n``, the interval of the error count is ``[n * low, n * high]``; ``ceil(n * high) - k``
    correct examples are made wrong (spread over the classes in proportion to their size, the ``j``-th of a class
    predicting the ``j``-th other class in turn, or no class when there is only one) and ``k - floor(n * low)``
    errors made right (spread over their true classes). Returns ``(low, high)``: the smallest and largest of the
    metric on the sample, on the sample with more errors and on the one with fewer, so it never has zero width
    unless the metric is blind to the errors themselves.
    """
    t = np.asarray(y_true, dtype=np.int64)
    p = np.asarray(y_pred, dtype=np.int64)
    n = t.size
    wrong = t != p
    k = int(np.count_nonzero(wrong))
    low, high = clopper_pearson_interval(k, n, confidence)
    values = [metric_score(metric, t, p)]
    add = min(n - k, math.ceil(n * high - 1e-9) - k)
    if add > 0:
        right = np.flatnonzero(~wrong)
        chosen = right[_spread(t[right], add)]
        classes = np.unique(np.concatenate([t, p[p != NO_PREDICTION]]))
        worse = p.copy()
        if classes.size > 1:
            index = np.searchsorted(classes, t[chosen])
            turn = np.zeros(chosen.size, dtype=np.int64)  # the j-th new error of its class
            for c in np.unique(index):
                turn[index == c] = np.arange(np.count_nonzero(index == c))
            worse[chosen] = classes[(index + 1 + turn % (classes.size - 1)) % classes.size]
        else:
            worse[chosen] = NO_PREDICTION
        values.append(metric_score(metric, t, worse))
    remove = min(k, k - math.floor(n * low + 1e-9))
    if remove > 0:
        errors = np.flatnonzero(wrong)
        chosen = errors[_spread(t[errors], remove)]
        better = p.copy()
        better[chosen] = t[chosen]
        values.append(metric_score(metric, t, better))
    defined = [v for v in values if not math.isnan(v)]  # a metric undefined on a sample: no bound from it
    return (float(min(defined)), float(max(defined))) if defined else (math.nan, math.nan)


def hull(*intervals: tuple[float, float]) -> tuple[float, float]:
    """The smallest interval containing every one given (NaN bounds are left out)."""
    lows = [low for low, _ in intervals if not math.isnan(low)]
    highs = [high for _, high in intervals if not math.isnan(high)]
    return (min(lows) if lows else float("nan")), (max(highs) if highs else float("nan"))


def combined_mean_interval(points: Sequence[float], intervals: Sequence[tuple[float, float]]) -> tuple[float, float]:
    """The interval of the mean of independent estimates ``points`` from their own ``intervals`` (MOVER).

    ``mean -/+ sqrt(sum of squared lower / upper half-widths) / m``: exact for normal estimates, and for skewed
    ones (a proportion near 1) each side keeps the asymmetry of the estimates' own intervals.
    """
    points = np.asarray(points, dtype=np.float64)
    bounds = np.asarray(intervals, dtype=np.float64).reshape(points.size, 2)
    m = points.size
    mean = float(points.mean())
    below = float(np.sqrt(np.sum((points - bounds[:, 0]) ** 2))) / m
    above = float(np.sqrt(np.sum((bounds[:, 1] - points) ** 2))) / m
    return mean - below, mean + above
