"""Ties with the best: the family-wise error of "below the best", the step-down, and columns too small to compare."""

from __future__ import annotations

import csv
import io
import json
import math
import types

import numpy as np
import pytest
from scipy import stats as scipy_stats

from biobench_core.formats import render
from biobench_core.results import _ties as ties
from biobench_core.results._leaderboard import RowData, build_leaderboard, column_statistics

P_RIGHT = 0.8
N = 50


def _rec(backbone: str, task: str, y_true: list[int], y_pred: list[int]):
    """A stored accuracy result as the leaderboard reads it (the fields of ExperimentRecord it uses)."""
    examples = [(f"ex{i}", float(t == p), {"label": t, "pred": p}) for i, (t, p) in enumerate(zip(y_true, y_pred))]
    return types.SimpleNamespace(
        key=types.SimpleNamespace(backbone=backbone, weights="pretrained", task=task,
                                  settings="probe=logreg,dtype=fp32", data="3f2a1b9c0d8e7f60"),
        comparable=True, score=0.0, examples=examples, splits={}, n_skipped=0, dtype="fp32", metric="accuracy",
        column_settings={"probe": "logreg"}, posix_time=0.0, device="cpu", images_per_second=None, fit_seconds=None,
        peak_memory_mb=None)


def _pair_column(n10: int, n01: int, n: int, seed: list[int]):
    """Two accuracy rows on n examples: row a alone right on n10, row b alone right on n01, both right elsewhere."""
    both = n - n10 - n01
    a = np.array([1] * n10 + [0] * n01 + [1] * both)
    b = np.array([0] * n10 + [1] * n01 + [1] * both)
    ids, y_true = [f"ex{i}" for i in range(n)], np.zeros(n, dtype=np.int64)
    return column_statistics([RowData(ids, y_true, 1 - a, a.astype(float), "accuracy"),
                              RowData(ids, y_true, 1 - b, b.astype(float), "accuracy")], seed=seed)


def test_two_equal_rows_are_split_at_most_alpha():
    """Two equally good rows (each right with probability 0.8, independently) on n=50 examples: the probability that
    either is marked below the best, summed exactly over the discordant counts (n10, n01), whose law is multinomial.

    Every column goes through the leaderboard's column statistics (2,000 resamples). The rejection of (n10, n01) and
    (n01, n10) are alike by symmetry; n10 = n01 leads by nothing and is never rejected; counts rarer than 1e-4
    are bounded by their mass. The exact two-sided sign test (McNemar, scipy's binomtest) is the reference: it
    holds 0.05 by construction. The former test (a one-sided critical value for a lead chosen two-sided) split
    about 0.08 of these columns.
    """
    discordant = P_RIGHT * (1 - P_RIGHT)
    split = exact = covered = 0.0
    for n10 in range(N + 1):
        for n01 in range(n10 + 1, N + 1 - n10):
            mass = 2 * scipy_stats.multinomial.pmf([n10, n01, N - n10 - n01], N,
                                                   [discordant, discordant, 1 - 2 * discordant])
            if mass < 1e-4:
                continue
            covered += mass
            split += mass * bool(_pair_column(n10, n01, N, seed=[11, n10, n01]).below.any())
            exact += mass * (scipy_stats.binomtest(n10, n10 + n01, 0.5).pvalue <= ties.ALPHA)
    ties_mass = sum(scipy_stats.multinomial.pmf([m, m, N - 2 * m], N, [discordant, discordant, 1 - 2 * discordant])
                    for m in range(N // 2 + 1))
    uncovered = 1 - covered - ties_mass
    assert exact <= ties.ALPHA
    assert split + uncovered <= ties.ALPHA + 0.005, f"false 'below the best' rate {split:.4f} (+ {uncovered:.4f})"
    assert split >= exact / 2  # not bought with a test that never rejects


def test_two_rows_get_the_two_sided_paired_bootstrap_p_value():
    """With two rows the step-down is one comparison: |lead| against the centred replicate |difference| (the former
    test compared it with the one-sided difference: a two-sided test at twice alpha)."""
    rng = np.random.default_rng(0)
    a, b = rng.normal(0.0, 0.01, 2000), rng.normal(0.0, 0.01, 2000)
    points = np.array([0.78, 0.8])
    result = ties.below_best(points, np.stack([a + 0.78, b + 0.8]))
    expected = (1 + np.count_nonzero(np.abs(a - b) >= 0.02 - 1e-9)) / 2001
    assert result.best == 1
    assert result.pvalues[0] == pytest.approx(expected) and result.adjusted[0] == pytest.approx(expected)
    assert result.pvalues[1] == 1.0 and not result.below[1]
    assert result.below[0] == (expected <= 0.05)


def test_clearly_worse_rows_make_the_others_easier_to_resolve():
    """The step-down: once eight far-worse rows are rejected against the range of all ten, the next is compared with
    the null over the two rows left (each row's statistic still takes every other row), a smaller critical value."""
    rng = np.random.default_rng(3)
    c = rng.normal(0, 0.01, (10, 2000))  # the centred replicates
    first = c.max(axis=0) - c.min(axis=0)  # every row may be best: the range
    second = c.max(axis=0) - np.minimum(c[0], c[1])  # rows 0 and 1 left
    lead = (np.quantile(first, 0.95) + np.quantile(second, 0.95)) / 2
    points = np.array([0.80, 0.80 - lead] + [0.50] * 8)
    result = ties.below_best(points, points[:, None] + c)
    p_first = (1 + np.count_nonzero(first >= 0.30 - 1e-9)) / 2001
    p_second = (1 + np.count_nonzero(second >= lead - 1e-9)) / 2001
    assert result.adjusted[2:] == pytest.approx([p_first] * 8)
    assert result.pvalues[1] == pytest.approx(p_second) and p_second <= 0.05
    assert result.adjusted[1] == pytest.approx(max(p_first, p_second))
    assert result.below.tolist() == [False] + [True] * 9
    assert (1 + np.count_nonzero(first >= lead - 1e-9)) / 2001 > 0.05  # one step would not have resolved it


def test_a_row_on_part_of_the_best_examples_is_compared_on_the_shared_ones():
    rng = np.random.default_rng(1)
    points = np.array([0.80, 0.78])
    reps = points[:, None] + rng.normal(0, 0.02, (2, 1000))
    e_best, e_row = rng.normal(0, 0.02, (2, 1000))
    result = ties.below_best(points, reps, paired={1: (0.81, 0.75, 0.81 + e_best, 0.75 + e_row)})
    assert result.pvalues[1] == pytest.approx((1 + np.count_nonzero(np.abs(e_best - e_row) >= 0.06 - 1e-9)) / 1001)
    assert result.pvalues[1] < ties.below_best(points, reps).pvalues[1]


@pytest.mark.parametrize("alpha", [0.01, 0.05, 0.1])
def test_the_fewest_examples_to_compare_is_where_the_exact_sign_test_can_reach_alpha(alpha):
    """No two-sided exact paired test on n examples gets below the sign test's all-one-way p-value, 2 / 2^n."""
    reachable = [n for n in range(1, 20) if scipy_stats.binomtest(n, n, 0.5).pvalue <= alpha]
    assert ties.min_examples(alpha) == reachable[0]


def test_a_single_example_column_says_too_few_examples_to_compare():
    """One example, the best right and the other wrong: the exact test's p is 1 (one-sided, 0.5), not 1/2001."""
    board = build_leaderboard([_rec("m/right", "t/one", [0], [0]), _rec("m/wrong", "t/one", [0], [1])])
    cell = board.cell(("m/wrong", "pretrained"), "t/one")
    assert cell.too_few and not cell.tied_with_best and not cell.best
    assert cell.p_value is None and cell.p_adjusted is None
    assert board.benchmark_marks[("m/wrong", "pretrained", "fp32")] == "too few"
    note = next(n for n in board.notes if "m/wrong" in n and "too few" in n)
    assert "too few examples to compare with the best (n=1" in note
    table = render(board, "table")
    line = next(line for line in table.splitlines() if line.startswith("m/wrong"))
    assert line.rstrip().endswith("?") and "? too few examples to compare" in table
    assert "too few examples to compare" in render(board, "markdown")
    [row] = [r for r in csv.DictReader(io.StringIO(render(board, "csv"))) if r["backbone"] == "m/wrong"]
    assert row["too_few"] == "True" and row["tied_with_best"] == "False"
    as_json = json.loads(render(board, "json"))
    [result] = [r for r in as_json["results"] if r["backbone"] == "m/wrong"]
    assert result["too_few"] is True and result["p_value"] is None and "p_holm" in result
    assert [r["too_few"] for r in as_json["benchmark"] if r["backbone"] == "m/wrong"] == [True]


def test_six_examples_all_one_way_are_enough_to_compare():
    board = build_leaderboard([_rec("m/right", "t/six", [0] * 6, [0] * 6), _rec("m/wrong", "t/six", [0] * 6, [1] * 6)])
    cell = board.cell(("m/wrong", "pretrained"), "t/six")
    assert not cell.too_few and not math.isnan(cell.p_value)
