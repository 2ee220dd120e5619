"""Results as data (issue 21): ``biobench_core.results.load`` reads a real results store (the kit's tiny backbone on
a colour image-folder task, see the ``tiny_stores`` fixture) into typed, immutable results with their per-example
predictions and provenance, and into pandas and polars frames; a missing optional library is named in one line.

Fails on the main of issue 21's filing: ``biobench_core.results`` had no ``load``.
"""

from __future__ import annotations

import dataclasses
import json
import sys

import pytest

import biobench_core.results
from biobench_core.results import MissingExtraError, Result, Results, load


def _report(in_process, *sources) -> dict:
    proc = in_process("report", "--format", "json", *[a for s in sources for a in ("--results", str(s))])
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def test_load_gives_typed_results_with_predictions_and_provenance(tiny_stores, in_process):
    store = tiny_stores("lab")
    results = load(store)
    assert isinstance(results, Results) and len(results) == 1 and results.sources == (str(store),)
    [result] = results
    assert isinstance(result, Result)
    assert (result.backbone, result.weights, result.dtype, result.task) == ("kit/tiny", "random", "fp32",
                                                                            "tasks/image-folder")
    assert result.metric == "accuracy" and "dtype=fp32" in result.settings and len(result.data) == 16
    p = result.predictions
    assert len(p) == result.n_examples == 9 and len(p.y_true) == len(p.y_pred) == len(p.scores) == 9
    assert result.score == pytest.approx(sum(t == q for t, q in zip(p.y_true, p.y_pred)) / 9)
    [cell] = _report(in_process, store)["results"]  # the same number the leaderboard shows
    assert cell["score"] == pytest.approx(result.score) and cell["data"] == result.data
    prov = result.provenance
    assert prov.source == str(store) and prov.device == "cpu" and "biobench-core" in json.dumps(prov.versions)
    assert prov.argv and prov.posix_time > 0
    with pytest.raises(dataclasses.FrozenInstanceError):
        result.score = 0.0  # type: ignore[misc]
    assert load(store) == results  # equal by content


def test_to_pandas_one_row_per_result_and_one_per_example(tiny_stores):
    pandas = pytest.importorskip("pandas")
    results = load(tiny_stores("lab"), tiny_stores("lab-bf16", dtype="bf16"))
    frame = results.to_pandas()
    assert isinstance(frame, pandas.DataFrame) and len(frame) == 2
    assert sorted(frame["dtype"]) == ["bf16", "fp32"] and set(frame["task"]) == {"tasks/image-folder"}
    examples = results.to_pandas(predictions=True)
    assert len(examples) == 18 and set(examples.columns) >= {"example_id", "y_true", "y_pred", "score", "correct"}
    accuracy = examples.groupby("dtype")["correct"].mean()  # what a notebook does: the score from the examples
    for result in results:
        assert accuracy[result.dtype] == pytest.approx(result.score)


def test_to_polars_matches_to_pandas(tiny_stores):
    polars = pytest.importorskip("polars")
    pytest.importorskip("pandas")
    results = load(tiny_stores("lab"))
    frame = results.to_polars()
    assert isinstance(frame, polars.DataFrame) and frame.height == 1
    assert frame.to_dicts() == results.to_pandas().to_dict("records")
    examples = results.to_polars(predictions=True)
    assert examples.height == 9 and examples["correct"].mean() == pytest.approx(results[0].score)


@pytest.mark.parametrize("library, method", [("pandas", "to_pandas"), ("polars", "to_polars")])
def test_a_missing_library_is_named_in_one_line(tiny_stores, monkeypatch, library, method):
    results = load(tiny_stores("lab"))
    monkeypatch.setitem(sys.modules, library, None)  # as if it were not installed
    with pytest.raises(MissingExtraError) as caught:
        getattr(results, method)()
    message = str(caught.value)
    assert "\n" not in message and f"pip install {library}" in message and f"{method}()" in message


def test_an_empty_store_loads_as_no_results(tmp_path):
    from biobench_core.results._store import ResultsStore

    ResultsStore(tmp_path / "empty").close()  # a store with its tables and no experiment
    results = load(tmp_path / "empty")
    assert len(results) == 0 and list(results) == [] and results.notes == ()
    if pytest.importorskip("pandas"):
        frame = results.to_pandas()
        assert len(frame) == 0 and "score" in frame.columns


def test_a_missing_store_is_one_line_naming_it(tmp_path):
    with pytest.raises(FileNotFoundError) as caught:
        load(tmp_path / "nowhere")
    assert str(tmp_path / "nowhere") in str(caught.value) and "\n" not in str(caught.value)


def test_the_public_names_resolve_and_stay_cheap():
    assert not [name for name in biobench_core.results.__all__ if not hasattr(biobench_core.results, name)]
    import subprocess

    code = ("import sys, biobench_core.results as r; r.load; "
            "print(sorted(m for m in ('torch', 'PIL', 'pandas', 'polars') if m in sys.modules))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0 and proc.stdout.strip() == "[]", proc.stderr
