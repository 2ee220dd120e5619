"""Superseded results (issue 19), end to end through the real CLI: a task author edits their task plugin and re-runs
one backbone; the report says the column mixes code, and ``biobench prune`` lists, then deletes, the older row.

The store is built by real runs: two tiny backbones of a throwaway plugin on a tiny image-folder task served by a
throwaway task plugin (``biobench-prunetask``), whose edit is simulated by rewriting its module in place, as an
editable install would be edited.
"""

from __future__ import annotations

import contextlib
import importlib
import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from biobench_core.results._store import ResultsStore
from biobench_core.testing._distributions import write_distribution

NETS = '''
from biobench_core import BackboneSpec, hookimpl

@hookimpl
def biobench_backbones():
    yield BackboneSpec(id="prunenets/a", factory="prunenets_pkg.model:A", embed_dim=16)
    yield BackboneSpec(id="prunenets/b", factory="prunenets_pkg.model:B", embed_dim=16)
'''

NETS_MODEL = '''
import torch
from torchvision import transforms
from biobench_core import EncodedImgBatch, VisionBackbone


class A(VisionBackbone):
    seed = 0

    def __init__(self, spec, weights=None):
        super().__init__()
        torch.manual_seed(self.seed)
        self.net = torch.nn.Sequential(torch.nn.Conv2d(3, 16, 3, padding=1), torch.nn.ReLU())
        self.weights_id = f"random:seed={self.seed}"

    def img_encode(self, batch):
        return EncodedImgBatch(self.net(batch).mean(dim=(2, 3)), None)

    def make_img_transform(self):
        return transforms.Compose([transforms.Resize((16, 16)), transforms.ToTensor()])


class B(A):
    seed = 1
'''

TASK = '''
from biobench_core import TaskSpec, hookimpl

@hookimpl
def biobench_tasks():
    yield TaskSpec(id="prunetask/colours", factory="biobench_tasks.image_folder:ImageFolderTask")
'''

TASK_ID = "prunetask/colours"
COLUMN_NOTE = "prunetask/colours: its rows come from different code of the task's plugin biobench-prunetask"


def _forget_plugins() -> None:
    """Drop the throwaway plugins' modules, so this process finds (and fingerprints) them where they now are, as a
    new process would."""
    for name in [m for m in sys.modules if m.startswith(("prunenets_pkg", "prunetask_pkg"))]:
        del sys.modules[name]
    importlib.invalidate_caches()


def _edit_task_plugin(site: Path, comment: str) -> None:
    """The task author's edit: the plugin's module rewritten in place (same version, other size and mtime)."""
    write_distribution(site, "biobench-prunetask", {"prunetask_pkg.__init__": TASK + f"# {comment}\n"},
                       {"prunetask": "prunetask_pkg"})
    _forget_plugins()


@pytest.fixture
def store(tmp_path, monkeypatch, make_image_folder, in_process):
    """A store where ``prunenets/a`` and ``prunenets/b`` ran on ``prunetask/colours``, the task plugin was edited,
    and only ``prunenets/a`` ran again: ``prunenets/b``'s row comes from the old code."""
    site = tmp_path / "site"
    write_distribution(site, "biobench-prunenets", {"prunenets_pkg.__init__": NETS, "prunenets_pkg.model": NETS_MODEL},
                       {"prunenets": "prunenets_pkg"})
    write_distribution(site, "biobench-prunetask", {"prunetask_pkg.__init__": TASK}, {"prunetask": "prunetask_pkg"})
    monkeypatch.setenv("BIOBENCH_LOAD_PLUGINS", "biobench-prunenets,biobench-prunetask,biobench-tasks")
    monkeypatch.syspath_prepend(str(site))
    _forget_plugins()  # another test's copies
    data = make_image_folder(tmp_path / "colours", n_train=4, n_test=3)
    results = tmp_path / "results"

    def run(*backbones: str, out: Path = results) -> subprocess.CompletedProcess:
        args = [a for b in backbones for a in ("--backbone", b)]
        proc = in_process("run", *args, "--weights", "random", "--task", TASK_ID, "--data", f"{TASK_ID}={data}",
                          "--results", str(out), "--quiet", "--workers", "0")
        assert proc.returncode == 0, proc.stderr
        return proc

    def cli(*args: str, out: Path = results) -> subprocess.CompletedProcess:
        return in_process(*args, "--results", str(out))

    def notes(out: Path = results) -> list[str]:
        proc = cli("report", "--format", "json", out=out)
        assert proc.returncode == 0, proc.stderr
        return json.loads(proc.stdout)["notes"]

    run("prunenets/a", "prunenets/b")
    _edit_task_plugin(site, "edited by its author")
    rerun = run("prunenets/a")
    assert ("redo  prunenets/a [random] on prunetask/colours: the code behind the stored result changed "
            "(biobench-prunetask)") in rerun.stderr
    assert "redo  prunenets/b" not in rerun.stderr  # not asked for: its old result stays in the column
    return {"site": site, "data": data, "results": results, "run": run, "cli": cli, "notes": notes, "tmp": tmp_path}


def _read(results: Path) -> sqlite3.Connection:
    """The store, read only (``immutable`` on a read-only mount, where SQLite cannot create the WAL index);
    close it, or the mount stays busy."""
    mode = "ro" if os.access(results, os.W_OK) else "ro&immutable=1"
    return sqlite3.connect(f"{(results / 'biobench.sqlite').as_uri()}?mode={mode}", uri=True)


def _rows(results: Path) -> list[tuple[str, str, int]]:
    """(backbone, the task plugin's code, predictions) of every stored experiment, in the order stored."""
    with contextlib.closing(_read(results)) as db:
        return [(backbone, json.loads(identity)["code"]["biobench-prunetask"],
                 db.execute("SELECT COUNT(*) FROM predictions WHERE experiment_id=?", (eid,)).fetchone()[0])
                for eid, backbone, identity in db.execute("SELECT id, backbone, identity FROM experiments ORDER BY id")]


def _n_predictions(results: Path) -> int:
    with contextlib.closing(_read(results)) as db:
        return db.execute("SELECT COUNT(*) FROM predictions").fetchone()[0]


def test_report_notes_a_column_whose_rows_come_from_different_task_plugin_code(store):
    """Fails on the main of issue 19's filing: the column mixed both codes with no note."""
    rows = {backbone: code for backbone, code, _ in _rows(store["results"])}
    assert rows["prunenets/a"] != rows["prunenets/b"]
    [note] = [n for n in store["notes"]() if n.startswith(COLUMN_NOTE)]
    assert f"biobench-prunetask 1.0 code {rows['prunenets/a'][:8]} (newest): prunenets/a [random, fp32]" in note, note
    assert f"biobench-prunetask 1.0 code {rows['prunenets/b'][:8]}: prunenets/b [random, fp32]" in note, note
    assert "re-run the older rows" in note and "biobench prune --results DIR" in note, note


def test_prune_lists_the_older_row_then_deletes_exactly_it(store):
    """Fails on the main of issue 19's filing: there was no ``prune`` command."""
    results = store["results"]
    before, n_before = _rows(results), _n_predictions(results)
    dry = store["cli"]("prune")
    assert dry.returncode == 0, dry.stderr
    lines = dry.stdout.splitlines()
    assert len(lines) == 2, dry.stdout
    assert lines[0].startswith("prunenets/b [random, fp32] on prunetask/colours (probe=logreg,dtype=fp32), "
                               "stored "), lines
    assert lines[0].endswith("superseded by newer code of the task's plugin biobench-prunetask (prunenets/a was run "
                             "with it since)"), lines
    assert lines[1].startswith("1 superseded result in ") and "a dry run: nothing deleted" in lines[1], lines
    assert _rows(results) == before and _n_predictions(results) == n_before  # the dry run deleted nothing

    deleted = store["cli"]("prune", "--yes")
    assert deleted.returncode == 0, deleted.stderr
    assert deleted.stdout.splitlines()[0] == lines[0]
    assert deleted.stdout.splitlines()[1].startswith("deleted 1 superseded result and their predictions from ")
    [(kept, code, n_kept)] = _rows(results)
    assert (kept, code) == ("prunenets/a", before[-1][1])  # exactly prunenets/b's row went, and the newest stayed
    assert _n_predictions(results) == n_kept  # its predictions went with it

    assert not [n for n in store["notes"]() if n.startswith(COLUMN_NOTE)]
    again = store["cli"]("prune", "--yes")
    assert again.returncode == 0 and again.stdout.startswith("nothing superseded in "), again.stdout


def test_the_newest_result_of_anything_is_never_superseded(store):
    """Edited again with nothing re-run: every row comes from old code, but nothing newer replaced prunenets/a's."""
    _edit_task_plugin(store["site"], "edited once more, nothing re-run")
    dry = store["cli"]("prune")
    assert dry.returncode == 0 and [line.split(" ")[0] for line in dry.stdout.splitlines()[:-1]] == ["prunenets/b"]


def test_prune_deletes_in_one_transaction(store):
    """Every delete runs between one ``BEGIN IMMEDIATE`` and one ``COMMIT``; a failure midway deletes nothing."""
    from biobench_core.results._superseded import superseded

    results = store["results"]
    before = _rows(results)
    with ResultsStore(results) as db:
        def delete_then_fail(records):
            db.db.execute("DELETE FROM predictions")
            raise RuntimeError("interrupted")

        with pytest.raises(RuntimeError, match="interrupted"):
            db.delete(delete_then_fail)
        assert _rows(results) == before  # rolled back
        statements: list[str] = []
        db.db.set_trace_callback(statements.append)
        [gone] = db.delete(lambda records: [s.record for s in superseded(records)])
    assert gone.key.backbone == "prunenets/b"
    assert [r[0] for r in _rows(results)] == ["prunenets/a"]
    ends = [i for i, s in enumerate(statements) if s.split()[0] in ("BEGIN", "COMMIT", "ROLLBACK")]
    deletes = [i for i, s in enumerate(statements) if s.startswith("DELETE")]
    assert [statements[i] for i in ends] == ["BEGIN IMMEDIATE", "COMMIT"], statements
    assert deletes and ends[0] < min(deletes) and max(deletes) < ends[1], statements


def test_prune_lists_a_result_superseded_by_newer_data(store):
    """prunenets/a run again after a training image changed (same test examples, other data hash): its older result,
    now in a column of its own, is listed for newer data; prunenets/b's, beside it, still for older code."""
    train_image = next(sorted((store["data"] / "train").iterdir())[0].iterdir())
    os.utime(train_image, ns=(1_000_000_000, 1_000_000_000))
    store["run"]("prunenets/a")
    dry = store["cli"]("prune")
    lines = dry.stdout.splitlines()
    assert dry.returncode == 0 and len(lines) == 3, dry.stdout
    reasons = sorted(line.split(": superseded by ")[1].split(" (")[0] for line in lines[:2])
    assert reasons == ["newer code of the task's plugin biobench-prunetask", "newer data"], lines
    assert all(line.startswith(("prunenets/a", "prunenets/b")) for line in lines[:2])
    assert [line.split(" ")[0] for line in lines[:2] if "newer data" in line] == ["prunenets/a"], lines


def test_prune_on_a_read_only_store_lists_and_refuses_to_delete_in_one_line(store, read_only):
    ro = read_only(store["results"])
    before = sorted(p.name for p in ro.iterdir())
    dry = store["cli"]("prune", out=ro)
    assert dry.returncode == 0, dry.stderr
    assert dry.stdout.startswith("prunenets/b [random, fp32] on prunetask/colours"), dry.stdout
    refused = store["cli"]("prune", "--yes", out=ro)
    assert refused.returncode == 1
    assert refused.stderr.splitlines() == [
        f"biobench prune: error: results folder {ro} is read-only (a read-only file system): writing results needs "
        "a writable one; pass --results DIR (report, status, plan and prune without --yes read it as it is)"
    ], refused.stderr
    assert refused.stdout == ""
    assert sorted(p.name for p in ro.iterdir()) == before
    assert len(_rows(ro)) == 2


def test_prune_on_a_missing_store_is_a_usage_error(tmp_path, run_cli):
    missing = tmp_path / "nothing"
    for args in ((), ("--yes",)):
        proc = run_cli("prune", "--results", str(missing), *args)
        assert proc.returncode == 2, proc.stderr
        assert proc.stderr.splitlines() == [f"biobench prune: error: no results at {missing / 'biobench.sqlite'}: "
                                            "run 'biobench run' first or pass --results DIR"], proc.stderr
    assert not missing.exists()
