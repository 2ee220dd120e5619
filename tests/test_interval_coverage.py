"""Coverage of the leaderboard's 95% intervals at the ceiling, and no zero-width interval for a finite n (issue 18).

The simulation model (the same as ``benchmarks/bench_coverage.py``, which runs the full grid with more trials):
four classes with priors 0.4/0.3/0.2/0.1; each example is right with probability ``p``, and a wrong one predicts
one of the three other classes uniformly. The truth is the metric on the population: for accuracy ``p`` itself,
for macro-F1 scikit-learn's ``f1_score`` on a sample of 400,000 (checked against its closed form); the benchmark
mean is the mean of independent accuracy tasks, each at ``p``. Accuracy's coverage is exact (summed over every
possible number correct with scipy's binomial pmf); the others are Monte Carlo over the worst cells, asserted with
an allowance of about two standard errors below the goal of 0.93.
"""

from __future__ import annotations

import types

import numpy as np
import pytest
from scipy import stats as scipy_stats
from sklearn.metrics import f1_score

from biobench_core.results._leaderboard import RowData, build_leaderboard, column_statistics, interval

PRIORS = np.array([0.4, 0.3, 0.2, 0.1])
GOAL = 0.93


def _sample(rng, n, p):
    y_true = rng.choice(PRIORS.size, size=n, p=PRIORS)
    shift = rng.integers(1, PRIORS.size, size=n)
    y_pred = np.where(rng.random(n) < p, y_true, (y_true + shift) % PRIORS.size)
    return y_true, y_pred


def _macro_f1_truth(p):
    y_true, y_pred = _sample(np.random.default_rng(99), 400_000, p)
    truth = f1_score(y_true, y_pred, average="macro")
    predicted = PRIORS * p + (1 - p) * (1 - PRIORS) / (PRIORS.size - 1)  # the closed form
    assert truth == pytest.approx(np.mean(2 * PRIORS * p / (PRIORS + predicted)), abs=3e-3)
    return truth


@pytest.mark.parametrize("n", [50, 200, 1000])
@pytest.mark.parametrize("p", [0.5, 0.8, 0.95, 0.99])
def test_accuracy_interval_covers_exactly_in_every_cell(n, p):
    """Exact coverage of the leaderboard's accuracy interval: sum of binom.pmf(k) over the k it covers p at."""
    y_true = np.zeros(n, dtype=np.int64)
    ks = np.arange(n + 1)
    pmf = scipy_stats.binom.pmf(ks, n, p)
    ks = ks[pmf > 1e-12]  # the rest cannot move the coverage
    covered = 0.0
    for k in ks:
        low, high, _ = interval("accuracy", y_true, np.where(np.arange(n) < k, 0, 1), None)
        covered += pmf[k] * (low <= p <= high)
    assert covered >= GOAL, f"coverage {covered:.3f} at n={n}, p={p}"


def test_the_accuracy_interval_is_scipys_exact_interval():
    for k, n in [(50, 50), (49, 50), (48, 50), (0, 50), (160, 200), (990, 1000), (1, 3)]:
        low, high, _ = interval("accuracy", np.zeros(n, dtype=np.int64), np.where(np.arange(n) < k, 0, 1), None)
        ref = scipy_stats.binomtest(k, n).proportion_ci(0.95, method="exact")
        assert (low, high) == pytest.approx((ref.low, ref.high), abs=1e-9)


@pytest.mark.parametrize(("n", "p", "trials"), [(50, 0.99, 120), (200, 0.99, 120)])
def test_macro_f1_interval_covers_the_population_value(n, p, trials):
    """Through the leaderboard's column statistics (200 shared replicates per trial, to keep it quick)."""
    truth = _macro_f1_truth(p)
    rng = np.random.default_rng(n + int(1000 * p))
    ids = [f"ex{i}" for i in range(n)]
    covered = 0
    for trial in range(trials):
        y_true, y_pred = _sample(rng, n, p)
        col = column_statistics([RowData(ids, y_true, y_pred, (y_true == y_pred).astype(float), "macro-f1")],
                                n_resamples=200, seed=[5, trial])
        low, high, _ = col.intervals[0]
        covered += low <= truth <= high
    allowance = 2 * np.sqrt(GOAL * (1 - GOAL) / trials)
    assert covered / trials >= GOAL - allowance, f"coverage {covered / trials:.3f} at n={n}, p={p}"


def _record(task, y_true, y_pred, metric="accuracy"):
    examples = [(f"ex{i}", float(t == q), {"label": int(t), "pred": int(q)})
                for i, (t, q) in enumerate(zip(y_true, y_pred))]
    return types.SimpleNamespace(
        key=types.SimpleNamespace(backbone="m/x", weights="pretrained", task=task, settings="probe=logreg",
                                  data="3f2a1b9c0d8e7f60"),
        comparable=True, score=0.0, examples=examples, splits={}, n_skipped=0, dtype="fp32", metric=metric,
        column_settings={"probe": "logreg"}, posix_time=0.0, device="cpu", images_per_second=None,
        fit_seconds=None, peak_memory_mb=None)


@pytest.mark.parametrize(("tasks", "n", "p", "trials"), [(2, 50, 0.99, 120)])
def test_benchmark_mean_interval_covers_the_mean_of_the_tasks(tasks, n, p, trials):
    """A benchmark of independent accuracy tasks, each at p, through build_leaderboard."""
    rng = np.random.default_rng(tasks * 100 + n)
    covered = 0
    for _ in range(trials):
        records = [_record(f"t/{t}", *_sample(rng, n, p)) for t in range(tasks)]
        board = build_leaderboard(records, n_resamples=100)
        _, low, high = board.benchmark[("m/x", "pretrained", "fp32")]
        covered += low <= p <= high
    allowance = 2 * np.sqrt(GOAL * (1 - GOAL) / trials)
    assert covered / trials >= GOAL - allowance, f"coverage {covered / trials:.3f} for {tasks} tasks at n={n}"


@pytest.mark.parametrize("metric", ["accuracy", "macro-f1", "balanced-accuracy"])
def test_an_all_correct_sample_never_gets_a_zero_width_interval(metric):
    y = np.arange(50) % 4
    board = build_leaderboard([_record("t/a", y, y, metric), _record("t/b", y, y, metric)])
    for cell in board.cells:
        assert cell.score == 1.0 and cell.ci_high == 1.0 and cell.ci_low < 0.95, (cell.ci_low, cell.ci_high)
    mean, low, high = board.benchmark[("m/x", "pretrained", "fp32")]
    assert mean == 1.0 and high == 1.0 and low < 0.97
