"""A results store on a read-only disk (issue 18): the commands that only read it work, the ones that write say so.

The disk is a real read-only bind mount (``mount --bind`` then ``remount,bind,ro``), so the kernel refuses every
write, root's included, as on a read-only share or an archived results folder. Mounting needs root (or
CAP_SYS_ADMIN): elsewhere these tests are skipped, saying why; ``make test`` runs as root in the project's
container.
"""

from __future__ import annotations

import multiprocessing
import os
from pathlib import Path

from biobench_core.results._store import ExperimentKey, ExperimentRecord, ResultsStore


def _record(backbone: str) -> ExperimentRecord:
    return ExperimentRecord(key=ExperimentKey(backbone, "pretrained", "t/task", "probe=logreg", "data0"),
                            comparable=True, score=0.5, splits={},
                            examples=[(f"ex{j}", float(j % 2), {"label": j % 2, "pred": 1}) for j in range(20)])


def _store(folder: Path, *backbones: str, wal: bool = True) -> Path:
    with ResultsStore(folder, wal=wal) as store:
        for backbone in backbones:
            store.save(_record(backbone))
    return folder


def test_report_status_and_plan_read_a_store_on_a_read_only_mount(tmp_path, read_only, run_cli):
    ro = read_only(_store(tmp_path / "src", "b/one", "b/two"))
    before = sorted(p.name for p in ro.iterdir())
    report = run_cli("report", "--results", str(ro))
    assert report.returncode == 0, report.stderr
    assert "b/one" in report.stdout and "b/two" in report.stdout, report.stdout
    status = run_cli("status", "--results", str(ro))
    assert status.returncode == 0, status.stderr
    assert status.stdout.startswith("0 running, 0 failed, 2 done"), status.stdout
    plan = run_cli("plan", "--backbone", "timm/resnet10t", "--weights", "random", "--task", "animal-silhouettes",
                   "--set", "subset=50", "--results", str(ro))
    assert plan.returncode == 0, plan.stderr
    assert plan.stdout.startswith("1 experiments: 0 done"), plan.stdout
    assert sorted(p.name for p in ro.iterdir()) == before  # nothing could be written, and nothing was tried


def test_run_on_a_read_only_store_says_so_in_one_line_naming_the_folder(tmp_path, read_only, run_cli):
    ro = read_only(_store(tmp_path / "src", "b/one"))
    proc = run_cli("run", "--backbone", "timm/resnet10t", "--weights", "random", "--task", "animal-silhouettes",
                   "--set", "subset=50", "--results", str(ro))
    assert proc.returncode != 0
    errors = [line for line in proc.stderr.splitlines() if "error" in line]
    assert len(errors) == 1 and "Traceback" not in proc.stderr, proc.stderr
    assert str(ro) in errors[0] and "read-only" in errors[0], errors[0]
    assert "unable to open database file" not in proc.stderr


def _crash_after_saving(folder: str, backbones: tuple[str, ...]) -> None:
    store = ResultsStore(folder)
    for backbone in backbones:
        store.save(_record(backbone))
    os._exit(0)  # a writer killed before closing: its results are still in the -wal journal


def _crashed_writer(folder: Path, *backbones: str) -> Path:
    process = multiprocessing.get_context("fork").Process(target=_crash_after_saving, args=(str(folder), backbones))
    process.start()
    process.join(60)
    assert process.exitcode == 0
    assert (folder / "biobench.sqlite-wal").stat().st_size > 0, "no journal was left behind"
    return folder


def test_results_still_in_the_write_ahead_journal_are_read_on_a_read_only_mount(tmp_path, read_only, run_cli):
    """Immutable reading ignores the -wal file: the store is read through the journal when one is there."""
    ro = read_only(_crashed_writer(_store(tmp_path / "src", "b/closed"), "b/journalled"))
    report = run_cli("report", "--results", str(ro))
    assert report.returncode == 0, report.stderr
    assert "b/closed" in report.stdout and "b/journalled" in report.stdout, report.stdout


def test_a_journal_that_cannot_be_read_read_only_is_named_not_ignored(tmp_path, read_only, run_cli):
    src = _crashed_writer(tmp_path / "src", "b/journalled")
    (src / "biobench.sqlite-shm").unlink()  # without its index the journal can only be read where it can be rebuilt
    ro = read_only(src)
    report = run_cli("report", "--results", str(ro))
    assert report.returncode != 0 and "Traceback" not in report.stderr, report.stderr
    assert str(ro / "biobench.sqlite-wal") in report.stderr and "read-only" in report.stderr, report.stderr


def test_merge_reads_per_job_stores_on_a_read_only_mount(tmp_path, read_only, run_cli):
    jobs = tmp_path / "jobs-src"
    _store(jobs / "job0", "b/zero", wal=False)
    _store(jobs / "job1", "b/one", wal=False)
    results = tmp_path / "results"
    read_only(jobs, results / "jobs")
    proc = run_cli("merge", "--results", str(results))
    assert proc.returncode == 0, proc.stderr
    assert "merged 2 result(s)" in proc.stderr, proc.stderr
    status = run_cli("status", "--results", str(results))
    assert status.stdout.startswith("0 running, 0 failed, 2 done"), status.stdout
