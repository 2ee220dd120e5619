"""Leaderboard statistics against scipy: benchmark-mean interval, paired differences, honest ties."""

from __future__ import annotations

import json

import numpy as np
import pytest
from scipy import stats

from biobench_core import leaderboard
from biobench_core.leaderboard import build_leaderboard, paired_difference_interval, render
from biobench_core.store import ExperimentKey, ExperimentRecord


def _record(backbone: str, task: str, scores, weights: str = "pretrained", ids=None) -> ExperimentRecord:
    ids = ids or [f"ex{i}" for i in range(len(scores))]
    return ExperimentRecord(key=ExperimentKey(backbone, weights, task, "probe=logreg"), comparable=True,
                            score=float(np.mean(scores)), examples=[(i, float(s), {}) for i, s in zip(ids, scores)],
                            splits={})


def test_one_task_benchmark_interval_equals_the_task_interval():
    scores = np.random.default_rng(0).integers(0, 2, 300)
    board = build_leaderboard([_record("a/x", "t/one", scores)])
    [cell] = board.cells
    assert board.benchmark[("a/x", "pretrained")] == (cell.score, cell.ci_low, cell.ci_high)


def test_benchmark_mean_interval_matches_scipy_independent_resampling(monkeypatch):
    monkeypatch.setattr(leaderboard, "N_RESAMPLES", 20_000)
    rng = np.random.default_rng(1)
    a, b = rng.integers(0, 2, 400).astype(float), rng.normal(0.5, 0.3, 150)
    board = build_leaderboard([_record("m/x", "t/a", a), _record("m/x", "t/b", b)])
    mean, low, high = board.benchmark[("m/x", "pretrained")]
    ref = stats.bootstrap((a, b), lambda x, y, axis=-1: (x.mean(axis=axis) + y.mean(axis=axis)) / 2, paired=False,
                          method="percentile", n_resamples=20_000, random_state=2, vectorized=True)
    se = np.sqrt(a.var(ddof=1) / a.size + b.var(ddof=1) / b.size) / 2
    assert mean == pytest.approx((a.mean() + b.mean()) / 2)
    assert low == pytest.approx(ref.confidence_interval.low, abs=0.06 * se)
    assert high == pytest.approx(ref.confidence_interval.high, abs=0.06 * se)


def test_paired_difference_matches_scipy_paired_bootstrap(monkeypatch):
    monkeypatch.setattr(leaderboard, "N_RESAMPLES", 20_000)
    rng = np.random.default_rng(3)
    truth = rng.integers(0, 2, 500)
    a = np.where(rng.random(500) < 0.9, truth, 1 - truth).astype(float)  # two correlated classifiers
    b = np.where(rng.random(500) < 0.85, truth, 1 - truth).astype(float)
    board = build_leaderboard([_record("m/a", "t/x", a), _record("m/b", "t/x", b)])
    low, high = paired_difference_interval([(board.cells[0], board.cells[1])])
    ref = stats.bootstrap((a, b), lambda x, y, axis=-1: x.mean(axis=axis) - y.mean(axis=axis), paired=True,
                          method="percentile", n_resamples=20_000, random_state=4, vectorized=True)
    assert low == pytest.approx(ref.confidence_interval.low, abs=1.01 / 500)
    assert high == pytest.approx(ref.confidence_interval.high, abs=1.01 / 500)


def test_ties_are_reported_and_clear_wins_are_not():
    rng = np.random.default_rng(5)
    best = (rng.random(400) < 0.9).astype(float)
    same_but_two = best.copy()
    same_but_two[:2] = 0  # two more mistakes: within noise
    worse = (rng.random(400) < 0.6).astype(float)
    board = build_leaderboard([_record("m/best", "t/x", best), _record("m/close", "t/x", same_but_two),
                               _record("m/worse", "t/x", worse)])
    marks = {c.backbone: (c.best, c.tied_with_best) for c in board.cells}
    assert marks == {"m/best": (True, False), "m/close": (False, True), "m/worse": (False, False)}
    assert board.benchmark_marks == {("m/best", "pretrained"): "best", ("m/close", "pretrained"): "tied",
                                     ("m/worse", "pretrained"): ""}
    table = render(board, "table")
    lines = {line.split()[0]: line for line in table.splitlines() if line.startswith("m/")}
    assert lines["m/best"].rstrip().endswith("*") and lines["m/close"].rstrip().endswith("=")
    assert not lines["m/worse"].rstrip().endswith(("*", "="))
    as_json = json.loads(render(board, "json"))
    assert [r["backbone"] for r in as_json["benchmark"]] == ["m/best", "m/close", "m/worse"]
    assert [r["tied_with_best"] for r in as_json["benchmark"]] == [False, True, False]


def test_unpaired_cells_fall_back_to_overlapping_intervals():
    a = _record("m/a", "t/x", [1, 1, 1, 0] * 25, ids=[f"a{i}" for i in range(100)])
    b = _record("m/b", "t/x", [1, 1, 0, 0] * 25, ids=[f"b{i}" for i in range(100)])
    board = build_leaderboard([a, b])
    cell_a, cell_b = board.cells
    assert paired_difference_interval([(cell_a, cell_b)]) is None
    assert cell_b.tied_with_best == (cell_b.ci_high >= cell_a.ci_low)


def test_missing_task_means_no_benchmark_mean_and_latest_settings_win():
    first = _record("m/a", "t/x", [1, 0, 1])
    later = ExperimentRecord(key=ExperimentKey("m/a", "pretrained", "t/x", "probe=knn"), comparable=True, score=0.0,
                             examples=[("ex0", 0.0, {})], splits={})
    board = build_leaderboard([first, later, _record("m/b", "t/y", [1, 1])])
    assert board.cell(("m/a", "pretrained"), "t/x").settings == "probe=knn"
    assert any("several settings" in n for n in board.notes)
    assert board.benchmark[("m/a", "pretrained")] is None
    assert "- (not every task)" in render(board, "table")
