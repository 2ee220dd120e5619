"""Degenerate columns and portable intervals (issue 18, "Statistics at the edges"), through ``biobench report``.

- A NaN score is an "n/a" cell: no interval, no mark, ``null`` in JSON, empty in CSV; an all-NaN row is never
  the best.
- A metric that raises on the bootstrap resamples fails its column in words (a note naming the metric, the
  column and the exception) and the column shows no number, instead of quietly becoming the per-example mean.
- A metric undefined (NaN) on some resamples is counted and said; past the threshold the interval is withheld.
- A column's resamples are seeded from what is the same on every machine (sorted example ids and labels, task,
  settings, metric), not from the data hash (which holds paths and mtimes).

The throwaway metric plugins count, on their side, how many resamples they leave undefined: the independent
reference for the count the report states.
"""

from __future__ import annotations

import csv
import io
import json
import math
import re

import numpy as np
import pytest

from biobench_core.testing._distributions import write_distribution

N_RESAMPLES = 2000  # the report's default

METRICS = '''
from biobench_core import MetricSpec, hookimpl

BIOBENCH_CONTRACT = 2


@hookimpl
def biobench_metrics():
    yield MetricSpec(name="marked-hits", factory="edge_metrics.code:marked_hits",
                     description="undefined when a prediction is the marker class 9")
    yield MetricSpec(name="strict-hits", factory="edge_metrics.code:hits", replicates="edge_metrics.code:refuse",
                     description="raises on every resample")
    yield MetricSpec(name="shy-hits", factory="edge_metrics.code:hits", replicates="edge_metrics.code:shy",
                     description="undefined on the few resamples that draw the first example 5+ times")
    yield MetricSpec(name="sparse-hits", factory="edge_metrics.code:hits", replicates="edge_metrics.code:sparse",
                     description="undefined on every resample that misses the first example")
'''

METRICS_CODE = '''
import os

import numpy as np


def hits(y_true, y_pred):
    return float(np.mean(np.asarray(y_true) == np.asarray(y_pred)))


def marked_hits(y_true, y_pred):
    return float("nan") if np.any(np.asarray(y_pred) == 9) else hits(y_true, y_pred)


def _rate(y_true, y_pred, weights):
    return np.asarray(weights) @ (np.asarray(y_true) == np.asarray(y_pred)) / np.asarray(weights).sum(axis=1)


def refuse(y_true, y_pred, weights):
    raise ValueError("this metric needs every class in each sample")


def _undefined(values, where):
    values = np.where(where, np.nan, values)
    with open(os.environ["EDGE_NAN_LOG"], "a") as log:  # the count, from the metric's side
        log.write(f"{int(np.count_nonzero(where))} {values.size}\\n")
    return values


def shy(y_true, y_pred, weights):
    return _undefined(_rate(y_true, y_pred, weights), np.asarray(weights)[:, 0] >= 5)


def sparse(y_true, y_pred, weights):
    return _undefined(_rate(y_true, y_pred, weights), np.asarray(weights)[:, 0] == 0)
'''


def _store(path, records):
    from biobench_core.results._store import ResultsStore

    with ResultsStore(path) as store:
        for record in records:
            store.save(record)
    return path


def _record(backbone, task, y_true, y_pred, *, metric, scores=None, data="0123456789abcdef", ids=None):
    from biobench_core.contract._tasks import Prediction
    from biobench_core.results._store import ExperimentKey, ExperimentRecord

    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    scores = (y_true == y_pred).astype(float) if scores is None else np.asarray(scores, dtype=float)
    ids = ids or [f"img/{i:04d}.png" for i in range(y_true.size)]
    examples = [Prediction.of(i, label=int(t), pred=int(p), score=float(s))
                for i, t, p, s in zip(ids, y_true, y_pred, scores)]
    key = ExperimentKey(backbone, "pretrained", task, "probe=logreg,dtype=fp32", data=data)
    return ExperimentRecord(key=key, comparable=True, score=float(np.mean(scores)), examples=examples, splits={},
                            metric=metric, column_settings={"probe": "logreg"})


def _strict_json(text):
    """JSON as a strict parser reads it: NaN and Infinity are not JSON."""
    def refuse(constant):
        raise ValueError(f"not JSON: {constant}")
    return json.loads(text, parse_constant=refuse)


def _line(table, backbone):
    [line] = [line for line in table.splitlines() if line.startswith(backbone + " ")]
    return line


@pytest.fixture
def site(tmp_path):
    site = tmp_path / "site"
    write_distribution(site, "biobench-edge-metrics", {"edge_metrics.__init__": METRICS,
                                                       "edge_metrics.code": METRICS_CODE},
                       {"edge": "edge_metrics"})
    return site


def test_a_nan_score_is_n_a_with_no_interval_and_an_all_nan_row_is_never_best(tmp_path, site, run_cli):
    # marked-hits is undefined (NaN) for a backbone that predicts the marker class 9: here on every example.
    rng = np.random.default_rng(0)
    n = 40
    y_true = np.arange(n) % 3
    fine = np.where(rng.random(n) < 0.8, y_true, (y_true + 1) % 3)
    marker = np.full(n, 9)
    records = [_record("m/fine", "t/marked", y_true, fine, metric="marked-hits"),
               _record("m/nan", "t/marked", y_true, marker, metric="marked-hits"),
               _record("m/nan", "t/alone", y_true, marker, metric="marked-hits")]
    results = _store(tmp_path / "r", records)

    table = run_cli("report", "--results", str(results), site=site, check=True).stdout
    nan_row, fine_row = _line(table, "m/nan"), _line(table, "m/fine")
    assert "nan" not in nan_row.replace("m/nan", "") and "n/a" in nan_row, table
    assert "*" not in nan_row and "=" not in nan_row, table  # not the best even alone in t/alone; never tied
    assert "*" in fine_row, table
    assert "nan" not in table.replace("m/nan", ""), table

    markdown = run_cli("report", "--results", str(results), "--format", "markdown", site=site, check=True).stdout
    [md_row] = [line for line in markdown.splitlines() if line.startswith("| m/nan ")]
    assert "n/a" in md_row and "nan" not in md_row.replace("m/nan", "") and "*" not in md_row

    board = _strict_json(run_cli("report", "--results", str(results), "--format", "json", site=site,
                                 check=True).stdout)
    nan_cells = [c for c in board["results"] if c["backbone"] == "m/nan"]
    assert len(nan_cells) == 2
    for cell in nan_cells:
        assert cell["score"] is None and cell["ci_low"] is None and cell["ci_high"] is None
        assert cell["best"] is False and cell["tied_with_best"] is False and cell["p_value"] is None
    [fine_cell] = [c for c in board["results"] if c["backbone"] == "m/fine"]
    assert fine_cell["best"] is True and fine_cell["score"] == pytest.approx(np.mean(y_true == fine))

    rows = list(csv.DictReader(io.StringIO(
        run_cli("report", "--results", str(results), "--format", "csv", site=site, check=True).stdout)))
    for row in (r for r in rows if r["backbone"] == "m/nan"):
        assert row["score"] == row["ci_low"] == row["ci_high"] == "" and row["best"] == "False"
        assert row["tied_with_best"] == "False"


def test_a_metric_that_raises_on_resamples_fails_its_column_in_words(tmp_path, site, run_cli):
    rng = np.random.default_rng(1)
    n = 60
    y_true = np.arange(n) % 3
    preds = {b: np.where(rng.random(n) < p, y_true, (y_true + 1) % 3) for b, p in (("m/a", 0.9), ("m/b", 0.6))}
    records = [_record(b, "t/strict", y_true, p, metric="strict-hits") for b, p in preds.items()]
    records += [_record(b, "t/plain", y_true, p, metric="accuracy") for b, p in preds.items()]
    results = _store(tmp_path / "r", records)

    proc = run_cli("report", "--results", str(results), site=site, check=True)
    table = proc.stdout
    notes = [line for line in table.splitlines() if line.startswith("note:")]
    assert any("t/strict" in note and "strict-hits" in note and "ValueError" in note
               and "this metric needs every class in each sample" in note and "resample" in note
               for note in notes), table
    assert not any("showing the mean per-example score" in note for note in notes), table
    header = table.splitlines()[0]
    strict_at = header.index("t/strict")
    for backbone, pred in preds.items():
        line = _line(table, backbone)
        cell = line[strict_at:].split()[0]
        assert cell == "failed", table  # no number: not the per-example mean dressed as strict-hits
        assert f"{np.mean(pred == y_true):.3f} [" not in line[strict_at:header.index("t/plain")], table
    assert "Traceback" not in proc.stderr

    board = _strict_json(run_cli("report", "--results", str(results), "--format", "json", site=site,
                                 check=True).stdout)
    strict = [c for c in board["results"] if c["column"] == "t/strict"]
    assert strict and all(c["score"] is None and not c["best"] and not c["tied_with_best"] for c in strict)
    [column] = [c for c in board["columns"] if c["label"] == "t/strict"]
    assert "ValueError" in column["failure"]
    plain = [c for c in board["results"] if c["column"] == "t/plain"]
    assert all(isinstance(c["score"], float) for c in plain)  # the other column is untouched


def _logged(log):
    counts = [tuple(map(int, line.split())) for line in log.read_text().splitlines()]
    return sum(k for k, _ in counts), sum(r for _, r in counts)


def test_a_metric_undefined_on_some_resamples_is_counted_and_said(tmp_path, site, run_cli):
    rng = np.random.default_rng(2)
    n = 50
    y_true = np.arange(n) % 2
    y_pred = np.where(rng.random(n) < 0.8, y_true, 1 - y_true)
    results = _store(tmp_path / "r", [_record("m/a", "t/shy", y_true, y_pred, metric="shy-hits")])
    log = tmp_path / "nan.log"

    table = run_cli("report", "--results", str(results), site=site, env={"EDGE_NAN_LOG": str(log)},
                    check=True).stdout
    undefined, total = _logged(log)
    assert total == N_RESAMPLES and 0 < undefined <= 0.025 * N_RESAMPLES  # a few: under the threshold
    assert f"metric 'shy-hits' undefined on {undefined} of {N_RESAMPLES} resamples in column t/shy" in table, table
    cell = _line(table, "m/a")
    assert re.search(r"0\.\d{3} \[0\.\d{3}, [01]\.\d{3}\]", cell), table  # still an interval: few are undefined


def test_too_many_undefined_resamples_withhold_the_interval_and_say_why(tmp_path, site, run_cli):
    rng = np.random.default_rng(3)
    n = 50
    y_true = np.arange(n) % 2
    y_pred = np.where(rng.random(n) < 0.8, y_true, 1 - y_true)
    results = _store(tmp_path / "r", [_record("m/a", "t/sparse", y_true, y_pred, metric="sparse-hits")])
    log = tmp_path / "nan.log"

    table = run_cli("report", "--results", str(results), site=site, env={"EDGE_NAN_LOG": str(log)},
                    check=True).stdout
    undefined, total = _logged(log)
    assert total == N_RESAMPLES and undefined > 0.025 * N_RESAMPLES  # about 1/e of them
    assert f"metric 'sparse-hits' undefined on {undefined} of {N_RESAMPLES} resamples in column t/sparse" in table
    assert "no interval" in table, table
    cell = _line(table, "m/a")
    assert f"{np.mean(y_true == y_pred):.3f} [n/a]" in cell, table

    board = _strict_json(run_cli("report", "--results", str(results), "--format", "json", site=site,
                                 env={"EDGE_NAN_LOG": str(log)}, check=True).stdout)
    [cell] = board["results"]
    assert cell["score"] == pytest.approx(np.mean(y_true == y_pred)) and cell["ci_low"] is None


def _borderline(labels=None):
    """Three backbones on a macro-F1 column (a bootstrap interval) with two of them close."""
    rng = np.random.default_rng(4)
    n = 120
    y_true = np.arange(n) % 4 if labels is None else labels
    out = []
    for backbone, p in (("m/a", 0.80), ("m/b", 0.76), ("m/c", 0.60)):
        out.append((backbone, y_true, np.where(rng.random(n) < p, y_true, (y_true + 1) % 4)))
    return out


def _statistics(board):
    return sorted((c["backbone"], c["score"], c["ci_low"], c["ci_high"], c["best"], c["tied_with_best"],
                   c["p_value"]) for c in board["results"])


def test_the_same_predictions_under_two_data_folders_give_the_same_intervals_and_marks(tmp_path, run_cli):
    # Two machines: the same predictions, but the data hash (file paths and mtimes) differs.
    stores = []
    for name, data in (("here", "aaaaaaaaaaaaaaaa"), ("there", "bbbbbbbbbbbbbbbb")):
        records = [_record(b, "t/f1", t, p, metric="macro-f1", data=data) for b, t, p in _borderline()]
        records += [_record(b, "t/cost", t, t, metric="mean", data=data,
                            scores=np.random.default_rng(5).normal(0.5, 0.2, t.size) + 0.01 * i)
                    for i, (b, t, _) in enumerate(_borderline())]
        stores.append(_store(tmp_path / name, records))
    boards = [_strict_json(run_cli("report", "--results", str(s), "--format", "json", check=True).stdout)
              for s in stores]
    assert {c["data"] for c in boards[0]["results"]} != {c["data"] for c in boards[1]["results"]}
    assert _statistics(boards[0]) == _statistics(boards[1])
    assert boards[0]["benchmark"] == boards[1]["benchmark"]
    tables = [run_cli("report", "--results", str(s), check=True).stdout for s in stores]
    assert [line for line in tables[0].splitlines() if line.startswith("m/")] == \
        [line for line in tables[1].splitlines() if line.startswith("m/")]


def test_changing_a_label_changes_the_resamples(tmp_path, run_cli):
    # The metric is the mean of the stored scores, which ignore the labels: only the seed can move the interval.
    scores = np.random.default_rng(6).normal(0.5, 0.2, 80)
    labels = np.arange(80) % 2
    relabelled = labels.copy()
    relabelled[7] = 1 - relabelled[7]
    bounds = []
    for name, y in (("before", labels), ("after", relabelled)):
        results = _store(tmp_path / name, [_record("m/a", "t/cost", y, y, metric="mean", scores=scores)])
        [cell] = _strict_json(run_cli("report", "--results", str(results), "--format", "json",
                                      check=True).stdout)["results"]
        assert cell["score"] == pytest.approx(scores.mean()) and cell["interval"] != "Wilson score"
        bounds.append((cell["ci_low"], cell["ci_high"]))
    assert bounds[0] != bounds[1]
    assert all(math.isfinite(v) for pair in bounds for v in pair)
