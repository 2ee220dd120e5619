"""Ties with the best: which rows of a column are significantly below its best, at a family-wise error of 0.05.

What it controls
    The question is "which rows are not worse than the best?", where the best is itself picked from the data. A row
    is marked below the best only when the data say so at family-wise level alpha = 0.05: whatever the true scores,
    the probability of marking *any* row whose true score equals the top true score as below is at most alpha (up
    to the bootstrap's approximation; benchmarks/bench_ties.py measures it). The least favourable case is every row
    equal, where any mark at all is an error.

How
    Row ``j`` is tested by how far the best other row is above it, ``T_j = max_{i != j} (x_i - x_j)``, with ``x``
    the point scores. The column's shared bootstrap replicates score every row on the same resampled examples, so
    the differences keep their pairing. If ``j`` is truly a best, each ``x_i - x_j`` is at most its centred
    replicate counterpart ``c_i - c_j`` (``c = rep - point``), so for a set ``K`` of rows that may all be best the
    null distribution of ``max_{j in K} T_j`` is bounded by that of ``max_{j in K} max_{i != j} (c_i - c_j)`` on
    the replicates. Romano and Wolf's step-down (2005) makes this a multiple test: the row with the largest ``T``
    is compared with the null over every row (with all rows in ``K``, the range of the column); if it is rejected
    it leaves ``K`` and the next is compared with the null over the rows left, until a row is not rejected. The
    critical values shrink with ``K``, so clearly worse rows make the rest easier to resolve (in the statistic
    every other row still counts, as it must for a row to be tested at all: with ``K`` one row and the best, the
    step is Hsu's multiple comparison with the best). A row's p-value is its own step's; its adjusted p-value is
    the largest step p-value up to its own step. The best and the rows with too few examples stay in ``K``
    throughout: with two rows the one step is the two-sided paired bootstrap test.

    The differences are not studentised: dividing each by its bootstrap standard error, itself estimated from the
    few examples on which two rows differ, gave false "below" rates of 0.10 at 10 and 20 rows of 50 examples.

    Why not the former test (a bootstrap per row that re-selects the best, then Holm's correction): with two rows it
    compared the lead of whichever row came out ahead with a one-sided critical value, a two-sided test at twice
    alpha (false "below" rates of 0.067-0.095 in benchmarks/bench_ties.py), and with many rows Holm's correction on
    top of the re-selection counted the multiplicity twice, losing power (the benchmark compares both).

Too few examples to compare
    With ``n`` examples compared, no exact paired test (a sign test, or a sign-flip permutation test, two-sided) can
    give a p-value below ``2 / 2^n``: its 2^n sign assignments are equally likely under a tie. When that exceeds
    alpha (``n`` <= 5 at 0.05) the row is not tested and not marked: it is "too few examples to compare" (a bootstrap
    of one example would otherwise call a gap of one example significant, p = 1/2001, where the exact test says 0.5).

Torch-free; numpy only.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from typing import Any

import numpy as np

__all__ = ["ALPHA", "TOO_FEW", "Ties", "best_of", "below_best", "min_examples"]

ALPHA = 0.05
TOO_FEW = "too few examples to compare"


@dataclasses.dataclass
class Ties:
    """One column's tests against its best (arrays per row; NaN p-values where a row was not tested)."""

    best: int
    pvalues: np.ndarray  # the row's step of the step-down; 1 for the best
    adjusted: np.ndarray  # step-down adjusted over the column
    below: np.ndarray  # significantly below the best at family-wise level alpha
    too_few: np.ndarray  # too few examples compared with the best for any test at alpha


def min_examples(alpha: float = ALPHA) -> int:
    """The fewest examples on which an exact two-sided paired test can reach ``alpha``: ``2 / 2^n <= alpha``."""
    return max(1, math.ceil(math.log2(2 / alpha) - 1e-12))


def best_of(points: Any) -> int:
    """The row with the highest point score (the first of equal ones; NaN never wins)."""
    points = np.asarray(points, dtype=np.float64)
    return int(np.nanargmax(points)) if np.isfinite(points).any() else 0


def _leads(points: np.ndarray, centred: np.ndarray, best: int,
           paired: Mapping[int, tuple[float, float, Any, Any]]) -> tuple[np.ndarray, np.ndarray]:
    """``T_j = max_{i != j} (x_i - x_j)`` per row and, per row, its null ``max_{i != j} (c_i - c_j)`` on each
    replicate (rows, R). A NaN replicate (a resample that drew none of a row's examples) counts against rejecting:
    its null is +inf. A NaN point is never above or below anything."""
    rows, n_reps = centred.shape
    stat = np.empty(rows)
    null = np.empty((rows, n_reps))
    over = {j: (float(bp), float(jp), np.asarray(br, np.float64) - bp, np.asarray(jr, np.float64) - jp)
            for j, (bp, jp, br, jr) in paired.items() if j != best}
    with np.errstate(invalid="ignore"):
        for j in range(rows):
            lead = points - points[j]  # x_i - x_j
            diff = centred - centred[j]  # c_i - c_j
            if j in over:  # the best against j on the examples both have
                bp, jp, cb, cj = over[j]
                lead[best], diff[best] = bp - jp, cb - cj
            elif j == best:
                for i, (bp, ip, cb, ci) in over.items():
                    lead[i], diff[i] = ip - bp, ci - cb
            diff[np.isnan(diff)] = np.inf
            diff[j] = -np.inf
            null[j] = diff.max(axis=0)
            lead[np.isnan(lead)] = -np.inf
            lead[j] = -np.inf
            stat[j] = lead.max()
    return stat, null


def _exceed(null: np.ndarray, stat: float) -> float:
    """(1 + #{null >= stat}) / (1 + R)."""
    return float((1 + np.count_nonzero(~(null < stat - 1e-9))) / (1 + null.size))


def below_best(points: Any, replicates: Any, alpha: float = ALPHA, *,
               paired: Mapping[int, tuple[float, float, Any, Any]] | None = None,
               n_compared: Any = None) -> Ties:
    """The best row and which rows are significantly below it (the module docstring says how and why).

    ``points`` (rows,) are the point scores and ``replicates`` (rows, R) the same rows on shared replicates.
    ``paired`` overrides, for a row ``j``, the best's and ``j``'s points and replicates with those on the examples
    both have: ``{j: (best_point, j_point, best_reps, j_reps)}``. ``n_compared`` (rows,) counts the examples each
    row is compared with the best on; a row with fewer than :func:`min_examples` is too few to compare (``None``:
    not checked).
    """
    points = np.asarray(points, dtype=np.float64)
    reps = np.asarray(replicates, dtype=np.float64)
    if reps.ndim != 2 or reps.shape[0] != points.size:
        raise ValueError(f"replicates must be (rows, R) with rows = {points.size}, got {reps.shape}")
    rows = points.size
    best = best_of(points)
    too_few = np.zeros(rows, dtype=bool)
    if n_compared is not None:
        too_few = np.asarray(n_compared) < min_examples(alpha)
        too_few[best] = False
    pvalues, adjusted, below = np.ones(rows), np.ones(rows), np.zeros(rows, dtype=bool)
    pvalues[too_few] = adjusted[too_few] = np.nan
    tested = np.flatnonzero(~too_few & (np.arange(rows) != best))
    if tested.size == 0:
        return Ties(best, pvalues, adjusted, below, too_few)
    stat, null = _leads(points, reps - points[:, None], best, paired or {})
    order = tested[np.argsort(-stat[tested], kind="stable")]
    kept = np.max(null[np.flatnonzero(np.isin(np.arange(rows), tested, invert=True))], axis=0)  # always in K
    suffix = np.empty((order.size, null.shape[1]))  # the null over K = order[m:] and the rows always kept
    running = kept
    for m in range(order.size - 1, -1, -1):
        running = suffix[m] = np.maximum(running, null[order[m]])
    step = 0.0
    for m, j in enumerate(order):
        pvalues[j] = _exceed(suffix[m], stat[j])
        step = max(step, pvalues[j])
        adjusted[j] = step
        below[j] = step <= alpha
    return Ties(best, pvalues, adjusted, below, too_few)
