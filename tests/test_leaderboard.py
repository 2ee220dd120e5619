"""The leaderboard: each task's own metric, separate columns for separate settings and data, intervals and ties."""

from __future__ import annotations

import json
import types

import numpy as np
import pytest
from scipy import stats as scipy_stats
from sklearn.metrics import f1_score

from biobench_core.formats import render
from biobench_core.results._leaderboard import BOUNDED, COMBINED, build_leaderboard, cell_interval
from biobench_core.results._store import ExperimentKey, ExperimentRecord

DATA = "3f2a1b9c0d8e7f60"


def _rec(backbone, task, y_true, y_pred, *, metric="accuracy", column_settings=None, data=DATA, ids=None,
         weights="pretrained", dtype="fp32", scores=None, posix_time=0.0, skipped=None):
    """A stored experiment as the leaderboard reads it (fields of ExperimentRecord)."""
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    ids = ids or [f"ex{i}" for i in range(y_true.size)]
    scores = (y_true == y_pred).astype(float) if scores is None else np.asarray(scores, dtype=float)
    column_settings = {"probe": "logreg"} if column_settings is None else column_settings
    settings = ",".join(f"{k}={v}" for k, v in sorted(column_settings.items())) + f",dtype={dtype}"
    examples = [(i, float(s), {"label": int(t), "pred": int(p), **({"skipped": True} if p == -1 else {})})
                for i, s, t, p in zip(ids, scores, y_true, y_pred)]
    return types.SimpleNamespace(
        key=types.SimpleNamespace(backbone=backbone, weights=weights, task=task, settings=settings, data=data),
        comparable=True, score=0.0, examples=examples, splits={}, n_skipped=int(np.sum(y_pred == -1)),
        dtype=dtype, metric=metric, column_settings=column_settings, posix_time=posix_time, device="cpu",
        images_per_second=None, fit_seconds=None, peak_memory_mb=None)


def _old(backbone, task, scores, settings="probe=logreg,dtype=fp32", ids=None):
    """A result from biobench 0.1: per-example scores only, no data identity, no metric, no column settings."""
    ids = ids or [f"ex{i}" for i in range(len(scores))]
    return ExperimentRecord(key=ExperimentKey(backbone, "pretrained", task, settings), comparable=True,
                            score=float(np.mean(scores)), examples=[(i, float(s), {}) for i, s in zip(ids, scores)],
                            splits={})


def _accuracy_run(rng, p, n=500):
    right = rng.random(n) < p
    return np.zeros(n, dtype=int), np.where(right, 0, 1)


def test_one_task_benchmark_interval_equals_the_cell_interval_which_is_clopper_pearson():
    rng = np.random.default_rng(0)
    board = build_leaderboard([_rec("a/x", "t/one", *_accuracy_run(rng, 0.7, 300))])
    [cell] = board.cells
    assert board.benchmark[("a/x", "pretrained", "fp32")] == (cell.score, cell.ci_low, cell.ci_high)
    k = round(cell.score * 300)
    exact = scipy_stats.binomtest(k, 300).proportion_ci(0.95, method="exact")  # issue 18: was Wilson's interval
    assert (cell.ci_low, cell.ci_high) == pytest.approx((exact.low, exact.high))
    assert cell.interval == "Clopper-Pearson exact" and board.columns[0].interval == "Clopper-Pearson exact"
    assert "t/one: accuracy, Clopper-Pearson exact interval" in render(board, "table")


def test_all_correct_gets_a_real_interval_not_one_to_one():
    board = build_leaderboard([_rec("a/x", "t/one", np.arange(200) % 5, np.arange(200) % 5)])
    [cell] = board.cells
    assert cell.score == 1.0 and cell.ci_high == 1.0 and cell.ci_low < 0.985


def test_benchmark_mean_interval_combines_scipys_task_intervals():
    """Issue 18: the benchmark mean's interval is the percentile bootstrap of the mean widened to its tasks'
    intervals combined (MOVER); the percentile bootstrap alone collapsed when the tasks were near 100% correct.
    Reference: scipy's percentile bootstrap of the mean and of each task, combined by hand."""
    rng = np.random.default_rng(1)
    a, b = rng.normal(0.6, 0.3, 400), rng.normal(0.5, 0.3, 150)
    records = [_rec("m/x", "t/a", np.zeros(400, int), np.zeros(400, int), metric="mean", scores=a),
               _rec("m/x", "t/b", np.zeros(150, int), np.zeros(150, int), metric="mean", scores=b)]
    board = build_leaderboard(records, n_resamples=20_000)
    mean, low, high = board.benchmark[("m/x", "pretrained", "fp32")]
    tasks = [scipy_stats.bootstrap((x,), np.mean, method="percentile", n_resamples=20_000, random_state=2,
                                   vectorized=True).confidence_interval for x in (a, b)]
    means = np.array([a.mean(), b.mean()])
    ref = scipy_stats.bootstrap((a, b), lambda x, y, axis=-1: (x.mean(axis=axis) + y.mean(axis=axis)) / 2,
                                paired=False, method="percentile", n_resamples=20_000, random_state=2,
                                vectorized=True).confidence_interval
    ref_low = min(ref.low, means.mean() - np.sqrt(sum((m - t.low) ** 2 for m, t in zip(means, tasks))) / 2)
    ref_high = max(ref.high, means.mean() + np.sqrt(sum((t.high - m) ** 2 for m, t in zip(means, tasks))) / 2)
    se = np.sqrt(a.var(ddof=1) / a.size + b.var(ddof=1) / b.size) / 2
    assert mean == pytest.approx((a.mean() + b.mean()) / 2)
    assert low == pytest.approx(ref_low, abs=0.06 * se)
    assert high == pytest.approx(ref_high, abs=0.06 * se)
    assert board.benchmark_interval == COMBINED
    assert all(c.interval == "percentile bootstrap" for c in board.cells)  # continuous scores: not a proportion


def test_rows_are_paired_on_the_same_replicates():
    """The replicate differences of two rows are scipy's paired bootstrap of the difference."""
    rng = np.random.default_rng(3)
    truth = rng.integers(0, 2, 500)
    a = np.where(rng.random(500) < 0.9, truth, 1 - truth)  # two correlated classifiers
    b = np.where(rng.random(500) < 0.85, truth, 1 - truth)
    board = build_leaderboard([_rec("m/a", "t/x", truth, a), _rec("m/b", "t/x", truth, b)], n_resamples=20_000)
    cell_a, cell_b = board.cells
    low, high = np.percentile(cell_a.replicates - cell_b.replicates, [2.5, 97.5])
    ref = scipy_stats.bootstrap(((truth == a).astype(float), (truth == b).astype(float)),
                                lambda x, y, axis=-1: x.mean(axis=axis) - y.mean(axis=axis), paired=True,
                                method="percentile", n_resamples=20_000, random_state=4, vectorized=True)
    assert low == pytest.approx(ref.confidence_interval.low, abs=1.01 / 500)
    assert high == pytest.approx(ref.confidence_interval.high, abs=1.01 / 500)


def test_ties_are_reported_and_clear_wins_are_not():
    rng = np.random.default_rng(5)
    truth = np.zeros(400, dtype=int)
    best = np.where(rng.random(400) < 0.9, 0, 1)
    close = best.copy()
    close[np.flatnonzero(close == 0)[:2]] = 1  # two more mistakes: within noise
    worse = np.where(rng.random(400) < 0.6, 0, 1)
    board = build_leaderboard([_rec("m/best", "t/x", truth, best), _rec("m/close", "t/x", truth, close),
                               _rec("m/worse", "t/x", truth, worse)])
    marks = {c.backbone: (c.best, c.tied_with_best) for c in board.cells}
    assert marks == {"m/best": (True, False), "m/close": (False, True), "m/worse": (False, False)}
    assert board.benchmark_marks == {("m/best", "pretrained", "fp32"): "best",
                                     ("m/close", "pretrained", "fp32"): "tied", ("m/worse", "pretrained", "fp32"): ""}
    table = render(board, "table")
    lines = {line.split()[0]: line for line in table.splitlines() if line.startswith("m/")}
    assert lines["m/best"].rstrip().endswith("*") and lines["m/close"].rstrip().endswith("=")
    assert not lines["m/worse"].rstrip().endswith(("*", "="))
    assert "family-wise error at alpha 0.05" in table
    as_json = json.loads(render(board, "json"))
    assert [r["backbone"] for r in as_json["benchmark"]] == ["m/best", "m/close", "m/worse"]
    assert [r["tied_with_best"] for r in as_json["benchmark"]] == [False, True, False]
    worse_cell = next(r for r in as_json["results"] if r["backbone"] == "m/worse")
    assert worse_cell["p_holm"] <= 0.05 < next(r for r in as_json["results"] if r["backbone"] == "m/close")["p_holm"]


def test_a_clearly_worse_backbone_is_marked_below():
    rng = np.random.default_rng(6)
    records = [_rec("m/good", "t/x", *_accuracy_run(rng, 0.85)), _rec("m/bad", "t/x", *_accuracy_run(rng, 0.70))]
    board = build_leaderboard(records)
    bad = board.cell(("m/bad", "pretrained"), "t/x")
    assert not bad.best and not bad.tied_with_best


def test_macro_f1_column_is_sklearns_f1_on_the_stored_predictions():
    rng = np.random.default_rng(7)
    truth = rng.choice(8, size=300, p=[0.6, 0.2, 0.1, 0.04, 0.03, 0.01, 0.01, 0.01])
    records = []
    for name, right in (("m/a", 0.8), ("m/b", 0.6)):
        pred = np.where(rng.random(300) < right, truth, rng.integers(0, 8, 300))
        pred[:5] = -1  # not scored: a miss for its true class, not a predicted class (issue 18)
        records.append(_rec(name, "t/f1", truth, pred, metric="macro-f1"))
    board = build_leaderboard(records)
    for record in records:
        y_true = [info["label"] for _, _, info in record.examples]
        y_pred = [info["pred"] for _, _, info in record.examples]
        cell = board.cell((record.key.backbone, "pretrained"), "t/f1")
        labels = sorted(set(y_true) | set(y_pred) - {-1})
        assert cell.score == pytest.approx(f1_score(y_true, y_pred, labels=labels, average="macro", zero_division=0),
                                           abs=1e-12)
        assert cell.score != pytest.approx(np.mean(np.equal(y_true, y_pred)))  # not accuracy
        assert cell.interval == BOUNDED and cell.ci_low < cell.score < cell.ci_high  # issue 18: was the percentile
        assert cell.n_skipped == 5
    assert f"t/f1: macro-f1, {BOUNDED} interval (2000 resamples)" in render(board, "table")
    assert json.loads(render(board, "json"))["columns"][0]["interval"] == BOUNDED


def test_different_settings_are_separate_columns_labelled_with_what_differs():
    rng = np.random.default_rng(8)
    records = [_rec("m/a", "t/x", *_accuracy_run(rng, 0.8, 100), column_settings={"probe": "logreg"}),
               _rec("m/a", "t/x", *_accuracy_run(rng, 0.6, 100), column_settings={"probe": "knn"}),
               _rec("m/b", "t/x", *_accuracy_run(rng, 0.7, 100), column_settings={"probe": "knn", "subset": "100"}),
               _rec("m/b", "t/y", *_accuracy_run(rng, 0.7, 100))]
    board = build_leaderboard(records)
    assert board.tasks == ["t/x [probe=logreg,subset=default]", "t/x [probe=knn,subset=default]",
                           "t/x [probe=knn,subset=100]", "t/y"]
    assert all(sum(c.column == label for c in board.cells) == 1 for label in board.tasks)  # never mixed
    assert any(n.startswith("t/x has 3 columns, never mixed: different settings (probe, subset)") for n in board.notes)
    # the benchmark mean needs one column per task: t/x's column with no settings but the probe, and of several
    # such, the one with the most rows; here two tie (one row each), so there is none, and a note says why
    assert all(v is None for v in board.benchmark.values())
    assert any("no benchmark mean: t/x has 3 columns" in n for n in board.notes)
    assert "t/x [probe=knn,subset=100]" in render(board, "table")


def test_the_benchmark_uses_each_tasks_default_settings_column():
    rng = np.random.default_rng(9)
    records = [_rec(m, "t/x", *_accuracy_run(rng, 0.8, 100)) for m in ("m/a", "m/b")]
    records += [_rec(m, "t/y", *_accuracy_run(rng, 0.7, 100)) for m in ("m/a", "m/b")]
    records.append(_rec("m/a", "t/x", *_accuracy_run(rng, 0.5, 100), column_settings={"probe": "logreg", "limit": "4"}))
    records.append(_rec("m/a", "t/x", *_accuracy_run(rng, 0.5, 100), column_settings={"probe": "knn"}))
    board = build_leaderboard(records)
    label = "t/x [limit=default,probe=logreg]"
    assert [c.label for c in board.columns if c.in_benchmark] == [label, "t/y"]
    for row in (("m/a", "pretrained", "fp32"), ("m/b", "pretrained", "fp32")):
        scores = [board.cell(row, label).score, board.cell(row, "t/y").score]
        assert board.benchmark[row][0] == pytest.approx(np.mean(scores))
    assert any(f"benchmark mean over the columns {label}, t/y" in n for n in board.notes)


def test_different_data_is_a_separate_column_with_a_note():
    rng = np.random.default_rng(10)
    records = [_rec("m/a", "t/x", *_accuracy_run(rng, 0.8, 100), data="aaaaaa1234567890"),
               _rec("m/b", "t/x", *_accuracy_run(rng, 0.7, 100), data="bbbbbb1234567890")]
    board = build_leaderboard(records)
    assert board.tasks == ["t/x [data aaaaaa]", "t/x [data bbbbbb]"]
    assert all(c.best for c in board.cells)  # each alone in its column: nothing is compared across data
    assert any("different data" in n and "data aaaaaa" in n and "data bbbbbb" in n for n in board.notes)


def test_older_results_are_never_mixed_with_new_ones():
    rng = np.random.default_rng(11)
    y_true, y_pred = _accuracy_run(rng, 0.8, 100)
    old = _old("m/old", "t/x", (y_true == y_pred).astype(float))
    new = _rec("m/new", "t/x", *_accuracy_run(rng, 0.7, 100))
    board = build_leaderboard([old, new])
    assert board.tasks == ["t/x [older results]", "t/x"]
    old_cell = board.cell(("m/old", "pretrained"), "t/x [older results]")
    assert old_cell.score == pytest.approx(0.8, abs=0.1) and old_cell.interval == "Clopper-Pearson exact"  # 0/1
    assert old_cell.best and board.cell(("m/new", "pretrained"), "t/x").best
    assert any("results from an older biobench: their data cannot be checked for changes" in n for n in board.notes)
    assert [c.label for c in board.columns if c.in_benchmark] == ["t/x"]  # the current data, not the unknown one


def test_older_results_alone_still_make_a_board():
    board = build_leaderboard([_old("m/a", "t/x", [1, 0, 1, 1] * 25), _old("m/b", "t/x", [1, 0, 0, 1] * 25),
                               _old("m/b", "t/x", [1, 1, 1, 1] * 25, settings="probe=knn,dtype=fp32")])
    assert board.tasks == ["t/x [settings=probe=logreg,dtype=fp32; older results]",
                           "t/x [settings=probe=knn,dtype=fp32; older results]"]
    assert board.cell(("m/a", "pretrained"), board.tasks[0]).score == 0.75
    assert any(OLDER in n for n in board.notes for OLDER in ["results from an older biobench"])


def test_a_row_missing_examples_is_noted_with_its_n_and_compared_on_shared_examples():
    rng = np.random.default_rng(12)
    y_true, y_pred = _accuracy_run(rng, 0.9, 400)
    full = _rec("m/full", "t/x", y_true, y_pred)
    short_true, short_pred = _accuracy_run(rng, 0.6, 380)
    short = _rec("m/short", "t/x", short_true, short_pred, ids=[f"ex{i}" for i in range(20, 400)])
    board = build_leaderboard([full, short])
    note = next(n for n in board.notes if "not every row" in n)
    assert "m/short [pretrained, fp32] n=380" in note and "all 400 test examples" in note
    assert board.cell(("m/short", "pretrained"), "t/x").n_examples == 380
    assert not board.cell(("m/short", "pretrained"), "t/x").tied_with_best  # 0.6 vs 0.9 on the shared 380


def test_skipped_images_count_as_wrong_and_are_noted():
    y_true = np.zeros(50, dtype=int)
    y_pred = np.zeros(50, dtype=int)
    y_pred[:3] = -1
    board = build_leaderboard([_rec("m/a", "t/x", y_true, y_pred)])
    [cell] = board.cells
    assert cell.score == pytest.approx(47 / 50) and cell.n_skipped == 3
    assert any("3 undecodable image(s)" in n for n in board.notes)


def test_latest_of_several_results_for_one_cell():
    first = _old("m/a", "t/x", [1, 0, 1])
    first.posix_time = 1.0
    later = _old("m/a", "t/x", [0, 0, 0])
    later.posix_time = 2.0
    board = build_leaderboard([later, first])
    [cell] = board.cells
    assert cell.score == 0.0 and any("showing the latest" in n for n in board.notes)


def test_rows_are_backbone_weights_and_dtype():
    rng = np.random.default_rng(14)
    records = [_rec("m/a", "t/x", *_accuracy_run(rng, 0.8, 100), dtype="fp32"),
               _rec("m/a", "t/x", *_accuracy_run(rng, 0.8, 100), dtype="bf16")]
    board = build_leaderboard(records)
    assert sorted(board.rows) == [("m/a", "pretrained", "bf16"), ("m/a", "pretrained", "fp32")]
    assert board.tasks == ["t/x"]  # dtype is the row, not the column


def test_records_from_the_store_dataclasses_work():
    rng = np.random.default_rng(15)
    y_true, y_pred = _accuracy_run(rng, 0.8, 60)
    record = ExperimentRecord(key=ExperimentKey("m/a", "pretrained", "t/x", "probe=logreg,dtype=fp32", DATA),
                              comparable=True, score=0.0, splits={"red": 0.5},
                              examples=[(f"e{i}", float(t == p), {"label": int(t), "pred": int(p)})
                                        for i, (t, p) in enumerate(zip(y_true, y_pred))])
    board = build_leaderboard([record])
    [cell] = board.cells
    assert cell.score == pytest.approx(np.mean(y_true == y_pred)) and cell.splits == {"red": 0.5}


def test_cell_interval_is_what_the_board_shows():
    rng = np.random.default_rng(16)
    truth = rng.integers(0, 5, 200)
    rec_f1 = _rec("m/a", "t/f1", truth, np.where(rng.random(200) < 0.7, truth, 0), metric="macro-f1")
    rec_acc = _rec("m/a", "t/acc", *_accuracy_run(rng, 0.7, 200))
    board = build_leaderboard([rec_f1, rec_acc])
    for record, column in ((rec_f1, "t/f1"), (rec_acc, "t/acc")):
        cell = board.cell(("m/a", "pretrained"), column)
        assert cell_interval(record) == (cell.ci_low, cell.ci_high, cell.interval)


def test_every_format_and_determinism():
    rng = np.random.default_rng(17)
    records = [_rec(m, "t/x", *_accuracy_run(rng, 0.8, 100)) for m in ("m/a", "m/b")]
    first, again = build_leaderboard(records), build_leaderboard(records)
    for fmt in ("table", "markdown", "csv", "json"):
        assert render(first, fmt) == render(again, fmt)
    assert render(first, "csv").startswith("backbone,weights,task,column,dtype,metric,score,ci_low,ci_high,interval")
    assert "| backbone | weights | dtype | t/x | benchmark mean |" in render(first, "markdown")
    as_json = json.loads(render(first, "json"))
    assert as_json["statistics"]["n_resamples"] == 2000 and as_json["columns"][0]["metric"] == "accuracy"
    with pytest.raises(ValueError, match="format"):
        render(first, "no-such-format")  # "html" is a format now (issue 21)
    assert render(build_leaderboard([]), "table").startswith("no results")


def test_a_tasks_own_metric_that_cannot_be_imported_falls_back_to_the_mean_score_with_a_note():
    rng = np.random.default_rng(18)
    record = _rec("m/a", "t/x", *_accuracy_run(rng, 0.8, 100), metric="no_such_package_xyz:cost")
    board = build_leaderboard([record])
    [cell] = board.cells
    assert cell.score == pytest.approx(np.mean([s for _, s, _ in record.examples]))
    assert any("metric 'no_such_package_xyz:cost' cannot be computed here" in n for n in board.notes)
