"""The leaderboard's statistics: Wilson, Holm, shared resamples, and the two promises checked by simulation.

(a) Coverage: the 95% interval of an accuracy cell covers the true accuracy in at least 93% of trials for every
    p in {0.5, 0.8, 0.95, 0.99} and n in {200, 500}, including at the ceiling.
(b) Ties: with 10 equally good backbones, at most 7% of columns mark any of them "below the best".
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from scipy import stats as scipy_stats

from biobench_core.results import _stats as stats
from biobench_core.results._leaderboard import RowData, column_statistics, interval


# -- Wilson -------------------------------------------------------------------------------------------------------


def _wilson_reference(k: int, n: int, confidence: float) -> tuple[float, float]:
    z = scipy_stats.norm.ppf(0.5 + confidence / 200)
    p = k / n
    centre = (2 * n * p + z**2) / (2 * (n + z**2))
    half = z * np.sqrt(z**2 + 4 * n * p * (1 - p)) / (2 * (n + z**2))
    return centre - half, centre + half


@pytest.mark.parametrize(("k", "n"), [(0, 1), (1, 1), (0, 20), (1, 29), (15, 148), (81, 263), (199, 200), (200, 200),
                                      (250, 500), (3, 7)])
@pytest.mark.parametrize("confidence", [95, 90, 99])
def test_wilson_matches_the_closed_form(k, n, confidence):
    ours = stats.wilson_interval(k, n, confidence)
    ref = _wilson_reference(k, n, confidence)
    assert ours == pytest.approx(ref, abs=1e-12)
    assert 0 <= ours[0] <= k / n <= ours[1] <= 1


def test_wilson_matches_published_values():
    # Newcombe (1998), Statistics in Medicine 17:857, Table I, method 3 (score interval without correction).
    for (k, n), (low, high) in {(81, 263): (0.2553, 0.3662), (15, 148): (0.0624, 0.1605),
                                (0, 20): (0.0, 0.1611), (1, 29): (0.0061, 0.1718)}.items():
        assert stats.wilson_interval(k, n) == pytest.approx((low, high), abs=1e-4)


def test_wilson_refuses_nonsense():
    with pytest.raises(ValueError):
        stats.wilson_interval(3, 2)
    with pytest.raises(ValueError):
        stats.wilson_interval(0, 0)
    with pytest.raises(ValueError, match="confidence"):
        stats.wilson_interval(1, 2, confidence=0.95 * 0)


# -- Holm ---------------------------------------------------------------------------------------------------------


def _holm_reference(p: list[float], alpha: float) -> list[bool]:
    """Holm (1979) step-down, written out: reject the i-th smallest while p_(i) <= alpha / (m - i)."""
    order = sorted(range(len(p)), key=lambda i: p[i])
    rejected = [False] * len(p)
    for step, i in enumerate(order):
        if p[i] > alpha / (len(p) - step):
            break
        rejected[i] = True
    return rejected


def test_holm_by_hand():
    p = [0.01, 0.04, 0.03, 0.005]
    # sorted 0.005*4 = 0.02 <= 0.05, 0.01*3 = 0.03 <= 0.05, 0.03*2 = 0.06 > 0.05: stop
    assert stats.holm(p, 0.05).tolist() == [True, False, False, True]
    assert stats.holm_adjusted(p) == pytest.approx([0.03, 0.06, 0.06, 0.02])
    assert stats.holm([], 0.05).tolist() == []
    assert stats.holm([0.2, np.nan], 0.05).tolist() == [False, False]


@pytest.mark.parametrize("seed", range(20))
def test_holm_matches_the_reference_on_random_families(seed):
    rng = np.random.default_rng(seed)
    m = int(rng.integers(1, 12))
    p = np.round(rng.beta(0.3, 3, m), 3).tolist()  # small p-values, with ties
    for alpha in (0.05, 0.1, 0.01):
        assert stats.holm(p, alpha).tolist() == _holm_reference(p, alpha)


# -- resamples ----------------------------------------------------------------------------------------------------


def test_resamples_are_deterministic_and_do_not_depend_on_the_chunk_size():
    whole = np.concatenate(list(stats.resample_index(37, 100, seed=[42, 7], chunk=100)))
    for chunk in (1, 7, 33, None):
        np.testing.assert_array_equal(np.concatenate(list(stats.resample_index(37, 100, [42, 7], chunk))), whole)
    assert whole.shape == (100, 37) and whole.min() >= 0 and whole.max() < 37
    other = np.concatenate(list(stats.resample_index(37, 100, seed=[42, 8])))
    assert not np.array_equal(other, whole)
    fast = np.concatenate(list(stats.resample_index(37, 100, [42, 7], chunk=100, dtype=np.uint32)))
    for chunk in (1, 9, 33):
        np.testing.assert_array_equal(
            np.concatenate(list(stats.resample_index(37, 100, [42, 7], chunk, dtype=np.uint32))), fast)
    weights = np.concatenate(list(stats.resample_weights(37, 100, [42, 7], chunk=9)))
    np.testing.assert_array_equal(weights, [np.bincount(row, minlength=37) for row in fast])
    assert stats.default_chunk(100_000) * 100_000 <= stats.CHUNK_ELEMENTS


def test_cell_interval_kinds():
    scores01 = np.array([1.0, 0.0, 1.0, 1.0])
    assert interval("mean", None, None, scores01)[2] == "Clopper-Pearson exact"  # issue 18: was Wilson
    low, high, method = interval("mean", None, None, [0.2, 0.5, 0.9], replicates=[0.3, 0.5, 0.6, 0.7])
    assert method == "percentile bootstrap" and (low, high) == pytest.approx(np.percentile([0.3, 0.5, 0.6, 0.7],
                                                                                            [2.5, 97.5]))
    with pytest.raises(ValueError, match="replicates"):
        interval("macro-f1", [0, 1], [0, 1], None)


# -- (a) coverage ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("p", "n"), list(itertools.product([0.5, 0.8, 0.95, 0.99], [200, 500])))
def test_accuracy_interval_covers_the_truth(p, n):
    """1,000 simulated test sets per cell, each through the leaderboard's own cell-interval function."""
    rng = np.random.default_rng(int(p * 1000) + n)
    correct = rng.random((1000, n)) < p
    y_true = np.zeros(n, dtype=np.int64)
    covered = 0
    for trial in correct:
        low, high, method = interval("accuracy", y_true, np.where(trial, 0, 1), None)
        covered += low <= p <= high
    assert method == "Clopper-Pearson exact"  # issue 18: Wilson fell to 0.911 at n=50, p=0.99
    assert covered / 1000 >= 0.93, f"coverage {covered / 1000:.3f} at p={p}, n={n}"
    # and exactly, over every possible number correct
    k = np.arange(n + 1)
    bounds = np.array([stats.wilson_interval(int(i), n) for i in k])
    exact = scipy_stats.binom.pmf(k, n, p)[(bounds[:, 0] <= p) & (p <= bounds[:, 1])].sum()
    assert exact >= 0.94


def test_the_percentile_bootstrap_fails_at_the_ceiling_which_is_why_accuracy_uses_wilson():
    """p=0.99, n=200: about 13% of test sets are all correct, where the percentile interval is [1, 1]."""
    rng = np.random.default_rng(1)
    correct = (rng.random((300, 200)) < 0.99).astype(float)
    covered = 0
    for trial in correct:
        index = np.concatenate(list(stats.resample_index(200, 500, seed=int(trial.sum()))))
        low, high = stats.percentile_interval(trial[index].mean(axis=1))
        covered += low <= 0.99 <= high
    assert covered / 300 < 0.9


# -- (b) family-wise false "below the best" ---------------------------------------------------------------------------


def test_ten_equally_good_backbones_are_rarely_split():
    """10 backbones, each right on each of n=500 examples with probability 0.8, independently: 300 columns.

    Through the leaderboard's column statistics with its default 2,000 resamples. The plain per-pair test
    (one-sided paired bootstrap of best - other, Holm-corrected, ignoring that the best was picked as the highest)
    is computed from the same replicates, to show that the simulation would catch it.
    """
    rng = np.random.default_rng(2024)
    n, rows, trials = 500, 10, 300
    y_true = np.zeros(n, dtype=np.int64)
    ids = [f"ex{i}" for i in range(n)]
    split = plain = 0
    for trial in range(trials):
        correct = rng.random((rows, n)) < 0.8
        col = column_statistics([RowData(ids, y_true, np.where(c, 0, 1), c.astype(float), "accuracy")
                                 for c in correct], seed=[7, trial])
        split += bool(col.below.any())
        lead = col.replicates[col.best] - col.replicates
        naive = (1 + np.count_nonzero(lead <= 0, axis=1)) / (1 + lead.shape[1])
        others = np.arange(rows) != col.best
        plain += bool(stats.holm(naive[others]).any())
    assert split / trials <= 0.07, f"{split} of {trials} columns split equally good backbones"
    assert plain / trials > 0.15  # the selection effect is real: the plain test splits about a quarter


def test_a_clearly_worse_backbone_is_below_and_equal_ones_are_not():
    rng = np.random.default_rng(5)
    n = 500
    y_true = np.zeros(n, dtype=np.int64)
    ids = [f"ex{i}" for i in range(n)]
    detected = 0
    for trial in range(50):
        p = np.array([0.85, 0.85, 0.85, 0.70])
        correct = rng.random((4, n)) < p[:, None]
        col = column_statistics([RowData(ids, y_true, np.where(c, 0, 1), c.astype(float), "accuracy")
                                 for c in correct], seed=[8, trial])
        detected += bool(col.below[3])
    assert detected >= 48
