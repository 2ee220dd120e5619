"""The results store under faults: concurrent starts, read-only disks, newer and corrupt stores."""

from __future__ import annotations

import multiprocessing
import os
import sqlite3
import stat

import pytest

from biobench_core.results._store import SCHEMA_VERSION, ExperimentKey, ExperimentRecord, ResultsStore, StoreError


def _record(backbone: str, i: int) -> ExperimentRecord:
    return ExperimentRecord(
        key=ExperimentKey(backbone, "pretrained", f"t/task{i}", "probe=logreg,dtype=fp32", "data0"),
        comparable=True, score=0.5, splits={},
        examples=[(f"ex{j}", float(j % 2), {"label": j % 2, "pred": 1}) for j in range(20)])


def _writer(results: str, worker: int, n: int, barrier) -> None:  # noqa: ANN001 - a multiprocessing barrier
    barrier.wait()  # every process creates/opens the new store at the same moment
    with ResultsStore(results) as store:
        for i in range(n):
            store.save(_record(f"b/worker{worker}", i))


def test_8_processes_x_50_experiments_started_together_lose_nothing(tmp_path):
    """The concurrency the scale-out work builds on: 20 repetitions, 0 lost, 0 duplicated, integrity clean."""
    ctx = multiprocessing.get_context("fork")
    n_procs, n_experiments, repetitions = 8, 50, 20
    for rep in range(repetitions):
        results = tmp_path / f"rep{rep}"  # a new results folder each time: creation is what raced
        barrier = ctx.Barrier(n_procs)
        procs = [ctx.Process(target=_writer, args=(str(results), w, n_experiments, barrier)) for w in range(n_procs)]
        for p in procs:
            p.start()
        for p in procs:
            p.join(120)
        assert [p.exitcode for p in procs] == [0] * n_procs, f"repetition {rep}"
        with sqlite3.connect(results / "biobench.sqlite") as db:
            assert db.execute("SELECT COUNT(*), COUNT(DISTINCT backbone || task) FROM experiments").fetchone() == (
                n_procs * n_experiments, n_procs * n_experiments)
            assert db.execute("SELECT COUNT(*) FROM predictions").fetchone()[0] == n_procs * n_experiments * 20
            assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def test_reading_never_writes_and_works_on_a_read_only_file(tmp_path):
    with ResultsStore(tmp_path) as store:
        store.save(_record("b/x", 0))
    db_file = tmp_path / "biobench.sqlite"
    with sqlite3.connect(db_file) as db:  # a store as copied or archived: no WAL beside it
        db.execute("PRAGMA journal_mode=DELETE")
    before = (sorted(p.name for p in tmp_path.iterdir()), db_file.read_bytes(), db_file.stat().st_mtime_ns)
    os.chmod(db_file, stat.S_IRUSR)
    os.chmod(tmp_path, stat.S_IRUSR | stat.S_IXUSR)
    try:
        with ResultsStore(tmp_path, readonly=True) as store:
            assert [r.key.backbone for r in store.experiments()] == ["b/x"]
            with pytest.raises(StoreError, match="read-only"):
                store.save(_record("b/y", 0))
    finally:
        os.chmod(tmp_path, stat.S_IRWXU)
        os.chmod(db_file, stat.S_IRUSR | stat.S_IWUSR)
    # root ignores the permissions above, so check directly that nothing was written, not even a journal
    assert (sorted(p.name for p in tmp_path.iterdir()), db_file.read_bytes(), db_file.stat().st_mtime_ns) == before


def test_reading_does_not_touch_a_newer_store_and_refuses_it(tmp_path):
    with ResultsStore(tmp_path) as store:
        store.save(_record("b/x", 0))
    with sqlite3.connect(tmp_path / "biobench.sqlite") as db:
        db.execute("PRAGMA user_version=99")
    for readonly in (True, False):
        with pytest.raises(StoreError, match=rf"schema version 99.*up to {SCHEMA_VERSION}"):
            ResultsStore(tmp_path, readonly=readonly)
    with sqlite3.connect(tmp_path / "biobench.sqlite") as db:
        assert db.execute("PRAGMA user_version").fetchone()[0] == 99  # not reset to ours


def test_a_file_that_is_not_a_database_is_named(tmp_path):
    (tmp_path / "biobench.sqlite").write_bytes(b"this is not sqlite" * 100)
    for readonly in (True, False):
        with pytest.raises(StoreError, match=r"biobench.sqlite: file is not a database; .*move it aside"):
            ResultsStore(tmp_path, readonly=readonly)


def test_a_corrupt_store_fails_the_integrity_check_for_every_command(tmp_path, in_process):
    with ResultsStore(tmp_path) as store:
        for i in range(200):
            store.save(_record("b/x", i))
    with sqlite3.connect(tmp_path / "biobench.sqlite") as db:
        db.execute("PRAGMA journal_mode=DELETE")
        page_size = db.execute("PRAGMA page_size").fetchone()[0]
    raw = bytearray((tmp_path / "biobench.sqlite").read_bytes())
    for offset in range(3 * page_size, len(raw) - page_size, 7 * page_size):  # scribble over interior pages
        raw[offset + 8: offset + 200] = os.urandom(192)
    (tmp_path / "biobench.sqlite").write_bytes(bytes(raw))
    for command in (["report", "--results", str(tmp_path)],
                    ["run", "--backbone", "nobody/x", "--task", "animal-silhouettes", "--results", str(tmp_path)]):
        proc = in_process(*command)
        assert proc.returncode != 0
        assert "biobench.sqlite" in proc.stderr and ("integrity" in proc.stderr or "malformed" in proc.stderr), (
            command, proc.stderr)
        assert "skipped" not in proc.stderr and "Traceback" not in proc.stderr


def test_results_path_that_is_a_file_is_said_in_words(tmp_path):
    target = tmp_path / "afile"
    target.write_text("x")
    with pytest.raises(StoreError, match="is a file, not a folder"):
        ResultsStore(target)


def test_a_foreign_or_empty_sqlite_file_is_refused_naming_it_and_left_untouched(tmp_path, in_process):
    """Issue 18: a folder whose biobench.sqlite belonged to another program got biobench's tables added to it."""
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    with sqlite3.connect(foreign / "biobench.sqlite") as db:
        db.execute("CREATE TABLE users (name TEXT)")
        db.execute("INSERT INTO users VALUES ('ada')")
    db.close()
    before = (foreign / "biobench.sqlite").read_bytes()
    for command in ("merge", "report", "status"):
        proc = in_process(command, "--results", str(foreign))
        assert proc.returncode != 0, proc.stderr
        [line] = proc.stderr.strip().splitlines()
        assert str(foreign / "biobench.sqlite") in line and "not a biobench results store" in line, line
    assert (foreign / "biobench.sqlite").read_bytes() == before
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "biobench.sqlite").write_bytes(b"")
    for command in ("report", "status"):
        proc = in_process(command, "--results", str(empty))
        [line] = proc.stderr.strip().splitlines()
        assert proc.returncode != 0 and str(empty / "biobench.sqlite") in line and "empty" in line, line


def test_merge_with_no_per_job_results_touches_nothing(tmp_path, in_process):
    """Issue 18: merge never creates anything. With a store but no jobs/ folder it said "merged 0 result(s)" after
    opening the store for writing, which turned a zero-byte biobench.sqlite into a fresh store."""
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "biobench.sqlite").write_bytes(b"")
    proc = in_process("merge", "--results", str(empty))
    [line] = proc.stderr.strip().splitlines()
    assert proc.returncode != 0 and str(empty / "biobench.sqlite") in line and "empty" in line, line
    assert (empty / "biobench.sqlite").read_bytes() == b""
    assert sorted(p.name for p in empty.iterdir()) == ["biobench.sqlite"]

    stored = tmp_path / "stored"
    ResultsStore(stored).close()
    before = (stored / "biobench.sqlite").read_bytes()
    proc = in_process("merge", "--results", str(stored))
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr.strip() == f"nothing to merge: no per-job results in {stored / 'jobs'}"
    assert (stored / "biobench.sqlite").read_bytes() == before
