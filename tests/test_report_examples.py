"""``biobench report examples`` (issue 21's drill-down), through the real CLI on a store built by a real run: two
throwaway backbones of a tiny plugin on an image-folder task whose four classes have nearly the same colour, so the
two disagree on some test examples both ways.

The expected lists are computed here from the store's raw rows (sqlite3, not biobench's reader); the confusion
counts are checked against scikit-learn's ``confusion_matrix``.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import shutil
import sqlite3
import sys
from pathlib import Path

import numpy as np
import pytest

from biobench_core.testing import make_image_folder
from biobench_core.testing._distributions import write_distribution

sys.path.insert(0, str(Path(__file__).parent))
from test_prune import NETS, NETS_MODEL  # noqa: E402 - the same two throwaway backbones

TASK = "tasks/image-folder"
A, B = "prunenets/a", "prunenets/b"
COLOURS = {"ash": (128, 128, 128), "birch": (128, 128, 128), "cedar": (129, 128, 127), "dogwood": (127, 128, 129)}
PLACEHOLDER = (200, 200, 200)


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """One real run of both backbones (in a subprocess, so the run records its own argv with ``--data``)."""
    from conftest import _run_cli

    root = tmp_path_factory.mktemp("drill")
    site = root / "site"
    write_distribution(site, "biobench-prunenets", {"prunenets_pkg.__init__": NETS, "prunenets_pkg.model": NETS_MODEL},
                       {"prunenets": "prunenets_pkg"})
    data = make_image_folder(root / "trees", n_train=5, n_test=8, colours=COLOURS)
    env = {"BIOBENCH_LOAD_PLUGINS": "biobench-prunenets,biobench-tasks", "BIOBENCH_CACHE": str(root / "cache"),
           "BIOBENCH_STATE": str(root / "state")}

    def cli(*args: str, results: Path | None = root / "results") -> object:
        more = ("--results", str(results)) if results is not None else ()
        return _run_cli(*args, *more, site=site, env=env, cwd=root)

    run = cli("run", "--backbone", A, "--backbone", B, "--weights", "random", "--task", TASK, "--data",
              f"image-folder={data}", "--quiet", "--workers", "0")
    assert run.returncode == 0, run.stderr
    return {"root": root, "data": data, "results": root / "results", "cli": cli}


def _stored(results: Path) -> dict[str, list[tuple[str, int, int]]]:
    """Per backbone, its stored (id, label, pred) in the order stored, read with sqlite3 alone."""
    out: dict[str, list[tuple[str, int, int]]] = {}
    with contextlib.closing(sqlite3.connect(f"{(results / 'biobench.sqlite').as_uri()}?mode=ro", uri=True)) as db:
        for eid, backbone in db.execute("SELECT id, backbone FROM experiments"):
            rows = db.execute("SELECT example_id, info FROM predictions WHERE experiment_id=? ORDER BY rowid", (eid,))
            out[backbone] = [(i, json.loads(info)["label"], json.loads(info)["pred"]) for i, info in rows]
    return out


def _expected(stored: dict, first: str, second: str) -> list[str]:
    other = {i: label == pred for i, label, pred in stored[second]}
    return [i for i, label, pred in stored[first] if label == pred and i in other and not other[i]]


def _one_error_line(proc) -> str:
    assert proc.returncode == 2, (proc.stdout, proc.stderr)
    assert "Traceback" not in proc.stderr and proc.stdout == "", (proc.stdout, proc.stderr)
    [line] = proc.stderr.strip().splitlines()
    assert line.startswith("biobench report: error: "), line
    return line


def test_lists_what_each_gets_right_and_the_other_wrong(world):
    """Fails on today's main: there is no ``report examples``."""
    stored = _stored(world["results"])
    a_only, b_only = _expected(stored, A, B), _expected(stored, B, A)
    assert a_only and b_only  # the data makes them disagree both ways (else this test checks nothing)

    proc = world["cli"]("report", "examples", "--task", "image-folder", "--backbone", "a", "--backbone", B, "--json")
    assert proc.returncode == 0, proc.stderr
    found = json.loads(proc.stdout)
    assert (found["a"]["backbone"], found["b"]["backbone"], found["column"]) == (A, B, TASK)
    assert found["n_compared"] == len(stored[A])
    assert [e["id"] for e in found["a_right_b_wrong"]["examples"]] == a_only
    assert [e["id"] for e in found["b_right_a_wrong"]["examples"]] == b_only
    labels = {i: (label, pred) for i, label, pred in stored[B]}
    for example in found["a_right_b_wrong"]["examples"] + found["b_right_a_wrong"]["examples"]:
        folder = example["id"].split("/")[1]  # test/<class>/<file>: the class is its folder
        assert example["true_name"] == folder
        assert Path(example["file"]) == world["data"] / example["id"]  # from the task, over the recorded --data
        assert example["pred_b"] == labels[example["id"]][1]
    classes = sorted(COLOURS)
    assert all(e["pred_a_name"] == classes[e["pred_a"]] for e in found["a_right_b_wrong"]["examples"])

    swapped = json.loads(world["cli"]("report", "examples", "--task", TASK, "--backbone", B, "--backbone", A,
                                      "--json").stdout)
    assert swapped["a_right_b_wrong"] == {**found["b_right_a_wrong"], "examples": [
        {**e, "pred_a": e["pred_b"], "pred_a_name": e["pred_b_name"], "pred_b": e["pred_a"],
         "pred_b_name": e["pred_a_name"]} for e in found["b_right_a_wrong"]["examples"]]}

    text = world["cli"]("report", "examples", "--task", TASK, "--backbone", A, "--backbone", B, "--max", "1")
    assert text.returncode == 0, text.stderr
    assert f"{A} [random, fp32] right, {B} [random, fp32] wrong: {len(a_only)}" in text.stdout
    assert f"{B} [random, fp32] right, {A} [random, fp32] wrong: {len(b_only)}" in text.stdout
    assert a_only[0] in text.stdout and (len(a_only) == 1 or a_only[1] not in text.stdout)
    assert "right = the predicted class equals the true class" in text.stdout

    report = world["cli"]("report")  # the leaderboard without a subcommand, as before
    assert report.returncode == 0 and A in report.stdout, report.stderr


def test_report_s_own_flags_before_examples_are_used_not_dropped(world):
    """``report --results DIR examples ...`` read ./results on the first version of the drill-down: the folder given
    before the subcommand was silently replaced by the subcommand's default."""
    given_before = world["cli"]("report", "--results", str(world["results"]), "examples", "--task", "image-folder",
                                "--backbone", A, "--backbone", B, "--json", results=None)
    given_after = world["cli"]("report", "examples", "--task", "image-folder", "--backbone", A, "--backbone", B,
                               "--json")
    assert given_before.returncode == 0, given_before.stderr
    assert json.loads(given_before.stdout) == json.loads(given_after.stdout)
    twice = world["cli"]("report", "--results", "x", "--results", "y", "examples", "--task", "image-folder",
                         "--backbone", A, "--backbone", B, results=None)
    assert twice.returncode == 2
    assert twice.stderr.strip().splitlines()[-1] == ("biobench report: error: report examples reads one results "
                                                     "folder; --results is given 2 times (x, y)")


def test_montage_draws_a_placeholder_for_a_deleted_image_and_names_it(world, tmp_path):
    from PIL import Image

    stored = _stored(world["results"])
    a_only = _expected(stored, A, B)
    copy = shutil.copytree(world["data"], tmp_path / "trees")
    (copy / a_only[0]).unlink()
    out = tmp_path / "figs" / "montage.png"
    proc = world["cli"]("report", "examples", "--task", TASK, "--backbone", A, "--backbone", B, "--data",
                        f"image-folder={copy}", "--montage", str(out))
    assert proc.returncode == 0, proc.stderr
    warnings = [line for line in proc.stderr.splitlines() if line.startswith("warning:")]
    assert warnings == [f"warning: --montage: {a_only[0]}: not among {TASK}'s test examples in its data folder now "
                        "(its file is missing) (drawn as a placeholder)"], proc.stderr
    if len(a_only) > 1:
        assert str(copy / a_only[1]) in proc.stdout  # the others' files, from the task over --data
    image = np.asarray(Image.open(out).convert("RGB"))
    grey = np.all(image == PLACEHOLDER, axis=-1)
    assert 100 * 100 < grey.sum() < 128 * 128, grey.sum()  # one placeholder tile (less its word)
    assert image.shape[0] > 2 * 128 and image.shape[1] >= 6 * 128


def test_confusion_is_written_and_counts_as_scikit_learn_does(world, tmp_path):
    from sklearn.metrics import confusion_matrix

    from biobench_core.results._drilldown import Scored, confusion, top_confusions
    from biobench_core.results._store import ResultsStore

    out = tmp_path / "confusion.png"
    proc = world["cli"]("report", "examples", "--task", TASK, "--backbone", A, "--confusion", str(out))
    assert proc.returncode == 0, proc.stderr
    assert f"wrote {out}: the full 4x4 confusion matrix of {A} [random, fp32] on {TASK}" in proc.stderr
    from PIL import Image

    assert Image.open(out).size[0] > 100

    [record] = [r for r in ResultsStore(world["results"], readonly=True).experiments() if r.key.backbone == A]
    classes, counts = confusion(Scored.from_predictions(record.examples))
    labels = [p.label for p in record.examples]
    preds = [p.pred for p in record.examples]
    assert np.array_equal(counts, confusion_matrix(labels, preds, labels=classes))
    off = confusion_matrix(labels, preds, labels=classes) * (1 - np.eye(classes.size, dtype=int))
    pairs = top_confusions(classes, counts, k=3)
    assert [n for _, _, n in pairs] == sorted(off.ravel(), reverse=True)[:3]


def test_many_classes_draw_their_top_confusions(tmp_path):
    """Past 30 classes the figure is the 20 most frequent confused pairs."""
    from biobench_core.formats._drilldown_figures import confusion_figure
    from biobench_core.contract._tasks import Prediction
    from biobench_core.results._drilldown import Scored, confusion

    rng = np.random.default_rng(0)
    labels = rng.integers(0, 40, 2000)
    preds = np.where(rng.random(2000) < 0.7, labels, rng.integers(0, 40, 2000))
    examples = [Prediction.of(str(i), label=int(t), pred=int(p), score=float(t == p)) for i, (t, p)
                in enumerate(zip(labels, preds))]
    classes, counts = confusion(Scored.from_predictions(examples))
    png, what = confusion_figure(classes, counts, lambda c: f"species {c}", "x on y")
    assert what == "the 20 most frequent confusions (40 classes: more than 30)"
    assert png.startswith(b"\x89PNG")


def _store_with_another_task(world, tmp_path) -> Path:
    """A copy of the store with a third backbone's result on another task only."""
    from biobench_core.results._store import ResultsStore

    results = shutil.copytree(world["results"], tmp_path / "results")
    with ResultsStore(results) as store:
        record = next(store.experiments())
        store.save(dataclasses.replace(record, key=dataclasses.replace(record.key, backbone="prunenets/c",
                                                                       task="tasks/other-trees")))
    return results


def test_bad_input_is_one_line_naming_what_the_store_has(world, tmp_path):
    cli = world["cli"]
    line = _one_error_line(cli("report", "examples", "--task", "image-foldr", "--backbone", A, "--backbone", B))
    assert "no task 'image-foldr'" in line and "did you mean 'tasks/image-folder'?" in line, line
    line = _one_error_line(cli("report", "examples", "--task", TASK, "--backbone", "prunenets/x", "--backbone", B))
    assert f"no backbone 'prunenets/x' with a result on {TASK}" in line and "did you mean" in line, line
    assert f"{A}, {B}" in line, line
    other = _store_with_another_task(world, tmp_path)
    line = _one_error_line(cli("report", "examples", "--task", TASK, "--backbone", "c", "--backbone", A,
                               results=other))
    assert line.endswith(f"backbone 'c' has no result on {TASK} (it has results on tasks/other-trees); backbones "
                         f"with results on {TASK}: {A}, {B}"), line
    line = _one_error_line(cli("report", "examples", "--task", TASK, "--backbone", A))
    assert "give a second to compare it with, or --confusion PNG" in line, line
    line = _one_error_line(cli("report", "examples", "--task", TASK, "--backbone", A, "--backbone", B, "--column",
                               "tasks/image-folder [probe=knn]"))
    assert "--column 'tasks/image-folder [probe=knn]'" in line and f"'{TASK}'" in line, line

    from biobench_core.results._store import ResultsStore

    ResultsStore(tmp_path / "empty").close()  # a store with its tables and no result
    line = _one_error_line(cli("report", "examples", "--task", TASK, "--backbone", A, "--backbone", B,
                               results=tmp_path / "empty"))
    assert f"results store {tmp_path / 'empty' / 'biobench.sqlite'} holds no comparable results" in line, line
    line = _one_error_line(cli("report", "examples", "--task", TASK, "--backbone", A, "--backbone", B,
                               results=tmp_path / "nowhere"))
    assert "no results at" in line, line
