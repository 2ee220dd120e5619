"""Ties with the best: family-wise error and power of the leaderboard's test, against the former test and plain Holm.

Simulated accuracy columns: ``k`` backbones, each right on each of ``n`` examples independently with probability
0.8, except, in the power settings, one backbone 0.02 or 0.05 worse. Every row of a column is scored on the same
2,000 bootstrap resamples of its examples (drawn uniformly with replacement, as the leaderboard's; to save time the
columns take them in turn from a pool of 20 independent draws per ``n``, their data always new), and three
procedures mark rows below the best on them:

- ``step-down``: the leaderboard's (``biobench_core.results._ties.below_best``: studentised Romano-Wolf step-down,
  Hsu's comparison with the best at its last step);
- ``former``: the test it replaced (a bootstrap per row that re-selects the best, then Holm), copied here;
- ``plain Holm``: a one-sided paired bootstrap test of best minus row, Holm-corrected, ignoring that the best was
  picked (it does not hold its error rate: shown to make the simulation's sensitivity visible).

FWER is the share of columns in which any truly-best row (every row when all are equal) is marked below; its
Monte Carlo standard error is ``sqrt(0.05 * 0.95 / trials)``. Power is the share in which the worse row is marked.

``python benchmarks/bench_ties.py [--quick]`` (full: 600 columns per setting; quick: 150).
"""

from __future__ import annotations

import argparse
import itertools
import math
import sys
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _internals import internal  # noqa: E402

stats = internal("results._stats")
ties = internal("results._ties")

KS = (2, 5, 10, 20)
NS = (50, 500)
GAPS = (0.0, 0.02, 0.05)
P = 0.8
R = 2_000
ALPHA = 0.05
PROCEDURES = ("step-down", "former", "plain Holm")


def former(points: np.ndarray, reps: np.ndarray) -> np.ndarray:
    """The former test: per row, ``max_k c_k - c_j`` against the lead of the best, Holm over the other rows."""
    best = ties.best_of(points)
    centred = reps - points[:, None]
    top = centred.max(axis=0)
    p = np.ones(points.size)
    for j in range(points.size):
        if j != best:
            null = top - centred[j]
            p[j] = (1 + np.count_nonzero(~(null < points[best] - points[j] - 1e-12))) / (1 + null.size)
    return _holm_below(p, best)


def plain_holm(points: np.ndarray, reps: np.ndarray) -> np.ndarray:
    """A one-sided paired bootstrap test of ``best - row <= 0`` per row (null: the centred lead), Holm."""
    best = ties.best_of(points)
    centred = reps - points[:, None]
    null = centred[best] - centred
    lead = points[best] - points
    p = (1 + np.count_nonzero(~(null < lead[:, None] - 1e-12), axis=1)) / (1 + reps.shape[1])
    return _holm_below(p, best)


def _holm_below(p: np.ndarray, best: int) -> np.ndarray:
    others = np.arange(p.size) != best
    below = np.zeros(p.size, dtype=bool)
    below[others] = stats.holm(p[others], ALPHA)
    return below


POOL = 20


def _weights(rng: np.random.Generator, n: int) -> np.ndarray:
    """(R, n) counts of n positions drawn uniformly with replacement: the leaderboard's resamples."""
    index = rng.integers(0, n, (R, n)) + np.arange(R)[:, None] * n
    return np.bincount(index.ravel(), minlength=R * n).reshape(R, n).astype(np.float64)


_POOLS: dict[int, list[np.ndarray]] = {}


def _pool(n: int) -> list[np.ndarray]:
    if n not in _POOLS:
        rng = np.random.default_rng([7, n])
        _POOLS[n] = [_weights(rng, n) for _ in range(POOL)]
    return _POOLS[n]


def simulate(k: int, n: int, gap: float, trials: int, seed: int) -> dict[str, tuple[float, float]]:
    """(FWER, power) per procedure; power is NaN without a worse row."""
    rng = np.random.default_rng(seed)
    p_true = np.full(k, P)
    if gap:
        p_true[-1] = P - gap
    equal = p_true == p_true.max()
    false = dict.fromkeys(PROCEDURES, 0)
    hits = dict.fromkeys(PROCEDURES, 0)
    for trial in range(trials):
        correct = (rng.random((k, n)) < p_true[:, None]).astype(np.float64)
        reps = correct @ _pool(n)[trial % POOL].T / n
        points = correct.mean(axis=1)
        marked = {"step-down": ties.below_best(points, reps, ALPHA).below, "former": former(points, reps),
                  "plain Holm": plain_holm(points, reps)}
        for name, below in marked.items():
            false[name] += bool(below[equal].any())
            hits[name] += bool(gap and below[-1])
    return {name: (false[name] / trials, hits[name] / trials if gap else math.nan) for name in PROCEDURES}


def run(quick: bool = False) -> list[dict[str, Any]]:
    trials = 150 if quick else 600
    out = []
    for (k, n), gap in itertools.product(itertools.product(KS, NS), GAPS):
        result = simulate(k, n, gap, trials, seed=k * 1000 + n + int(gap * 100))
        out.append({"k": k, "n": n, "gap": gap, "trials": trials, **{name: result[name] for name in PROCEDURES}})
        print(f"  k={k} n={n} gap={gap}: " + ", ".join(f"{name} {f:.3f}/{p:.3f}" for name, (f, p) in result.items()),
              file=sys.stderr, flush=True)
    return out


def to_markdown(rows: list[dict[str, Any]]) -> str:
    trials = rows[0]["trials"]
    bound = ALPHA + 2 * math.sqrt(ALPHA * (1 - ALPHA) / trials)
    lines = [f"{trials} simulated columns per setting; FWER target {ALPHA} (Monte Carlo bound {bound:.3f}: two "
             "standard errors). FWER with every row equal, then power to mark a row 0.02 and 0.05 worse (FWER "
             "there: the other rows).", "",
             "| k | n | FWER step-down | FWER former | FWER plain Holm | power 0.02: step-down / former / plain Holm "
             "| power 0.05: step-down / former / plain Holm | FWER held (step-down, all settings) |",
             "|---|---|---|---|---|---|---|---|"]
    for k, n in itertools.product(KS, NS):
        cell = {r["gap"]: r for r in rows if r["k"] == k and r["n"] == n}
        held = all(cell[g]["step-down"][0] <= bound for g in GAPS)
        power = [" / ".join(f"{cell[g][name][1]:.3f}" for name in PROCEDURES) for g in GAPS[1:]]
        lines.append(f"| {k} | {n} | " + " | ".join(f"{cell[0.0][name][0]:.3f}" for name in PROCEDURES)
                     + f" | {power[0]} | {power[1]} | {'yes' if held else 'NO'} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="150 columns per setting instead of 600")
    args = parser.parse_args()
    print(to_markdown(run(quick=args.quick)))


if __name__ == "__main__":
    main()
