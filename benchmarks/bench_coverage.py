"""Coverage of 95% intervals at the ceiling: the leaderboard's methods against the alternatives (issue 18).

The simulation model. Four classes with priors 0.4/0.3/0.2/0.1; each test example is right with probability ``p``,
and a wrong one predicts one of the three other classes uniformly. The truth is the metric's population value, in
closed form: accuracy ``p``; macro-F1 the mean over classes of ``2 pi_c p / (pi_c + q_c)`` with ``q_c = pi_c p +
(1 - p)(1 - pi_c) / 3`` the population share predicted as ``c`` (tests/test_interval_coverage.py checks it against
scikit-learn's ``f1_score`` on 400,000 examples); a benchmark mean of 2 or 5 independent accuracy tasks of ``n``
examples each, every one at ``p``, is ``p``. Cells: n in {50, 200, 1000} x p in {0.5, 0.8, 0.95, 0.99}.

Per trial, one test set is drawn and every method gets the same 2,000 bootstrap replicates (the leaderboard's
``N_RESAMPLES``). The metrics depend on the examples only through the confusion matrix, so a replicate is a
multinomial draw of its cells, the same distribution as resampling the examples, only faster. Methods:

* ``percentile``, ``BCa`` (bias-corrected and accelerated, the acceleration from the jackknife) and
  ``studentised`` (bootstrap-t; the standard error of each replicate from its jackknife, or the binomial one for
  accuracy) bootstraps; ``Wilson`` and ``Clopper-Pearson`` for accuracy;
* ``error-count``: :func:`~biobench_core.results._intervals.error_count_interval` alone;
* ``leaderboard``: what the leaderboard shows, through its own ``interval()`` (and, for the benchmark mean, its
  hull of the percentile bootstrap of the mean and the MOVER combination of its task cells' intervals); ``MOVER``
  is that combination of the leaderboard's cells alone, ``MOVER(Wilson)`` the same over Wilson cells.

Each cell prints coverage (the share of trials whose interval holds the truth), the mean width and the share of
zero-width intervals. Goal: coverage >= 0.93 in every cell; with 500 trials one standard error is about 0.011.

``python benchmarks/bench_coverage.py [--quick] [--trials N]`` (``--quick``: 100 trials per cell).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _internals import internal  # noqa: E402

intervals = internal("results._intervals")
interval = internal("results._leaderboard").interval
percentile_interval, wilson_interval = internal("results._stats").percentile_interval, internal(
    "results._stats").wilson_interval

PRIORS = np.array([0.4, 0.3, 0.2, 0.1])
C = PRIORS.size
NS = (50, 200, 1000)
PS = (0.5, 0.8, 0.95, 0.99)
R = 2000
TRIALS, QUICK_TRIALS = 500, 100
GOAL = 0.93
_NORM = statistics.NormalDist()
_UNIT = np.eye(C * C).reshape(C * C, C, C)


def _cells(p: float) -> np.ndarray:
    """The population confusion matrix (true class x predicted class), flattened."""
    m = np.outer(PRIORS, np.full(C, (1 - p) / (C - 1)))
    np.fill_diagonal(m, PRIORS * p)
    return m.ravel()


def macro_f1_truth(p: float) -> float:
    predicted = PRIORS * p + (1 - p) * (1 - PRIORS) / (C - 1)
    return float(np.mean(2 * PRIORS * p / (PRIORS + predicted)))


def _f1(counts: np.ndarray) -> np.ndarray:
    """Macro-F1 of confusion matrices (..., C, C), over the classes with a true or predicted example."""
    tp = np.diagonal(counts, axis1=-2, axis2=-1)
    both = counts.sum(-1) + counts.sum(-2)
    present = both > 0
    f1 = np.divide(2 * tp, both, out=np.zeros(both.shape), where=present)
    return f1.sum(-1) / np.maximum(present.sum(-1), 1)


def _acc(counts: np.ndarray) -> np.ndarray:
    return np.trace(counts, axis1=-2, axis2=-1) / counts.sum(axis=(-2, -1))


def _jackknife(metric, counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Leave-one-out values per confusion cell (..., C*C) and how many examples each cell holds."""
    return metric(counts[..., None, :, :] - _UNIT), counts.reshape(*counts.shape[:-2], C * C)


def _jack_se(loo: np.ndarray, weight: np.ndarray) -> np.ndarray:
    n = weight.sum(-1, keepdims=True)
    mean = (weight * loo).sum(-1, keepdims=True) / n
    return np.sqrt((n[..., 0] - 1) / n[..., 0] * (weight * (loo - mean) ** 2).sum(-1))


def bca(reps: np.ndarray, point: float, loo: np.ndarray, weight: np.ndarray) -> tuple[float, float]:
    """BCa from the replicates and the jackknife (leave-one-out values with their multiplicities)."""
    if reps.min() == reps.max():
        return point, point
    below = np.mean(reps < point) + 0.5 * np.mean(reps == point)
    z0 = _NORM.inv_cdf(min(max(below, 1e-6), 1 - 1e-6))
    u = (weight * loo).sum() / weight.sum() - loo
    s2 = (weight * u * u).sum()
    a = (weight * u**3).sum() / (6 * s2**1.5) if s2 > 0 else 0.0
    qs = []
    for alpha in (0.025, 0.975):
        z = z0 + _NORM.inv_cdf(alpha)
        qs.append(100 * _NORM.cdf(z0 + z / (1 - a * z)))
    low, high = np.percentile(reps, qs)
    return float(low), float(high)


def studentised(reps: np.ndarray, point: float, se: float, rep_se: np.ndarray) -> tuple[float, float]:
    """Bootstrap-t; replicates with a zero standard error are left out (all of them at an all-correct sample)."""
    ok = rep_se > 0
    if se <= 0 or not ok.any():
        return point, point
    t = (reps[ok] - point) / rep_se[ok]
    t_low, t_high = np.percentile(t, [2.5, 97.5])
    return float(point - t_high * se), float(point - t_low * se)


def _examples(counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """y_true, y_pred with this confusion matrix."""
    flat = counts.ravel().astype(np.int64)
    cells = np.repeat(np.arange(C * C), flat)
    return cells // C, cells % C


def _accuracy_trial(rng, n: int, p: float) -> dict[str, tuple[float, float]]:
    counts = rng.multinomial(n, _cells(p)).reshape(C, C)
    reps_counts = rng.multinomial(n, counts.ravel() / n, size=R).reshape(R, C, C)
    reps, point = _acc(reps_counts), float(_acc(counts))
    k = int(np.trace(counts))
    loo, weight = _jackknife(_acc, counts)
    y_true, y_pred = _examples(counts)
    low, high, _ = interval("accuracy", y_true, y_pred, None, reps)
    return {"percentile": percentile_interval(reps), "BCa": bca(reps, point, loo, weight),
            "studentised": studentised(reps, point, np.sqrt(point * (1 - point) / n),
                                       np.sqrt(reps * (1 - reps) / n)),
            "Wilson": wilson_interval(k, n), "Clopper-Pearson": intervals.clopper_pearson_interval(k, n),
            "leaderboard": (low, high)}


def _macro_f1_trial(rng, n: int, p: float) -> dict[str, tuple[float, float]]:
    counts = rng.multinomial(n, _cells(p)).reshape(C, C)
    reps_counts = rng.multinomial(n, counts.ravel() / n, size=R).reshape(R, C, C)
    reps, point = _f1(reps_counts), float(_f1(counts))
    loo, weight = _jackknife(_f1, counts)
    rep_loo, rep_weight = _jackknife(_f1, reps_counts)
    y_true, y_pred = _examples(counts)
    low, high, _ = interval("macro-f1", y_true, y_pred, None, reps)
    return {"percentile": percentile_interval(reps), "BCa": bca(reps, point, loo, weight),
            "studentised": studentised(reps, point, float(_jack_se(loo, weight)), _jack_se(rep_loo, rep_weight)),
            "error-count": intervals.error_count_interval("macro-f1", y_true, y_pred), "leaderboard": (low, high)}


def _mean_trial(rng, n: int, p: float, tasks: int) -> dict[str, tuple[float, float]]:
    """A benchmark mean of ``tasks`` independent accuracy tasks of n examples each, every one at p."""
    k = rng.binomial(n, p, size=tasks)
    reps_k = rng.binomial(n, k[:, None] / n, size=(tasks, R))
    acc, reps_acc = k / n, reps_k / n
    point, reps = float(acc.mean()), reps_acc.mean(axis=0)
    # jackknife of the mean: leaving out a right (wrong) example of task t moves only that task's accuracy
    loo = np.concatenate([point + ((k - 1) / (n - 1) - acc) / tasks, point + (k / (n - 1) - acc) / tasks])
    weight = np.concatenate([k, n - k]).astype(float)
    cells = []
    for kt in k:
        y_true = np.zeros(n, dtype=np.int64)
        low, high, _ = interval("accuracy", y_true, np.where(np.arange(n) < kt, 0, 1), None)
        cells.append((low, high))
    combined = intervals.combined_mean_interval(acc, cells)
    se = float(np.sqrt(np.sum(acc * (1 - acc) / n)) / tasks)
    rep_se = np.sqrt(np.sum(reps_acc * (1 - reps_acc) / n, axis=0)) / tasks
    return {"percentile": percentile_interval(reps), "BCa": bca(reps, point, loo, weight),
            "studentised": studentised(reps, point, se, rep_se),
            "MOVER(Wilson)": intervals.combined_mean_interval(acc, [wilson_interval(int(x), n) for x in k]),
            "MOVER": combined, "leaderboard": intervals.hull(percentile_interval(reps), combined)}


FAMILIES: dict[str, tuple[Any, Any]] = {
    "accuracy": (_accuracy_trial, lambda p: p),
    "macro-F1": (_macro_f1_trial, macro_f1_truth),
    "mean of 2 tasks": (lambda rng, n, p: _mean_trial(rng, n, p, 2), lambda p: p),
    "mean of 5 tasks": (lambda rng, n, p: _mean_trial(rng, n, p, 5), lambda p: p),
}


def run(quick: bool = False, trials: int | None = None) -> list[dict[str, Any]]:
    """One row per (family, method): coverage, mean width and zero-width share in every cell."""
    trials = trials or (QUICK_TRIALS if quick else TRIALS)
    rows: dict[tuple[str, str], dict[str, Any]] = {}
    for family, (trial, truth_of) in FAMILIES.items():
        for n in NS:
            for p in PS:
                rng = np.random.default_rng([n, int(p * 1000), len(family)])
                truth = truth_of(p)
                for _ in range(trials):
                    for method, (low, high) in trial(rng, n, p).items():
                        row = rows.setdefault((family, method), {"family": family, "method": method, "trials": trials,
                                                                 "cells": {}})
                        cell = row["cells"].setdefault((n, p), [0, 0.0, 0])
                        cell[0] += low <= truth <= high
                        cell[1] += high - low
                        cell[2] += not high > low
    out = []
    for row in rows.values():
        row["cells"] = {key: (c / trials, w / trials, z / trials) for key, (c, w, z) in row["cells"].items()}
        row["worst"] = min(c for c, _, _ in row["cells"].values())
        out.append(row)
    return out


def to_markdown(rows: list[dict[str, Any]]) -> str:
    """Coverage per cell (and the worst), then the mean width of each method."""
    keys = [(n, p) for n in NS for p in PS]
    head = "| quantity | method | " + " | ".join(f"n={n} p={p}" for n, p in keys) + " | worst | goal met |"
    rule = "|---|---|" + "---|" * (len(keys) + 2)
    lines = [f"{rows[0]['trials']} trials per cell; coverage of the 95% interval (zero-width share in brackets "
             "where any):", "", head, rule]
    for r in rows:
        shown = []
        for key in keys:
            cover, _, zero = r["cells"][key]
            shown.append(f"{cover:.3f}" + (f" [{zero:.2f}]" if zero else ""))
        met = r["worst"] >= GOAL - 2 * np.sqrt(GOAL * (1 - GOAL) / r["trials"]) and not any(
            z for _, _, z in r["cells"].values())
        lines.append(f"| {r['family']} | {r['method']} | " + " | ".join(shown)
                     + f" | {r['worst']:.3f} | {'yes' if met else 'NO'} |")
    lines += ["", "Mean width of the interval:", "", head.replace(" | worst | goal met |", " |"),
              "|---|---|" + "---|" * len(keys)]
    for r in rows:
        lines.append(f"| {r['family']} | {r['method']} | "
                     + " | ".join(f"{r['cells'][key][1]:.3f}" for key in keys) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help=f"{QUICK_TRIALS} trials per cell")
    parser.add_argument("--trials", type=int, help=f"trials per cell (default {TRIALS})")
    args = parser.parse_args()
    start = time.perf_counter()
    rows = run(quick=args.quick, trials=args.trials)
    print(to_markdown(rows))
    print(f"\n({time.perf_counter() - start:.0f} s)")


if __name__ == "__main__":
    main()
