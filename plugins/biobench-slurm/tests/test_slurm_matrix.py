"""The matrix on a real Slurm cluster (the ``slurm_cluster`` fixture: never skipped; it fails when Slurm cannot
start): every cell lands once; a cancelled job's cell is retried and lands; a job whose cell raises is recorded as
failed with its traceback and its Slurm job; an unreachable controller is a clear message within seconds."""

from __future__ import annotations

import re
import sqlite3
import subprocess
import time

CELLS = 4


def _slurm_config(scale_matrix, slurm_cluster, *, jobs: int = 2, **kwargs):
    executor = (f'kind = "slurm"\npartition = "{slurm_cluster.partition}"\njobs = {jobs}\ntime = 10\n'
                f'cpus_per_task = 1\nmem = "1G"\nclaim_timeout = 20\nfolder = "{scale_matrix.root / "slurm"}"\n'
                + kwargs.pop("executor_extra", ""))
    return scale_matrix.config(executor=executor, **kwargs)


def _db(scale_matrix, query: str) -> list[tuple]:
    with sqlite3.connect(scale_matrix.results / "biobench.sqlite") as db:
        return db.execute(query).fetchall()


def test_every_cell_of_the_matrix_lands_once(scale_matrix, slurm_cluster):
    config = _slurm_config(scale_matrix, slurm_cluster)
    proc = scale_matrix.biobench("run", "--config", str(config), timeout=600)
    assert proc.returncode == 0, proc.stderr
    assert re.search(r"started 2 slurm worker\(s\): Slurm job \d+_0, Slurm job \d+_1", proc.stderr), proc.stderr
    assert f"{CELLS} done, 0 failed, 0 left" in proc.stderr
    assert len(scale_matrix.stored()) == len(set(scale_matrix.stored())) == CELLS
    assert _db(scale_matrix, "SELECT COUNT(*) FROM claims") == [(0,)]
    logs = "".join(p.read_text() for p in (scale_matrix.root / "slurm").rglob("*_log.err"))
    assert len(re.findall(r"\] done  scale/net", logs)) == CELLS  # the workers in the jobs ran them, once each


def test_a_cancelled_job_s_cell_is_retried_and_lands(scale_matrix, slurm_cluster):
    config = _slurm_config(scale_matrix, slurm_cluster, jobs=1, n_train="6")
    launcher = scale_matrix.biobench("run", "--config", str(config), extra_env={"SCALE_DELAY": "1"}, wait=False)
    deadline, claimed = time.time() + 180, []
    while time.time() < deadline and not claimed:
        time.sleep(0.5)
        if (scale_matrix.results / "biobench.sqlite").exists():
            try:
                claimed = _db(scale_matrix, "SELECT job FROM claims WHERE job != ''")
            except sqlite3.OperationalError:  # the file exists, its schema is not committed yet
                continue
    assert claimed, "no Slurm job claimed a cell within 3 minutes"
    [(job,)] = claimed
    subprocess.run(["scancel", job.split("_")[0]], check=True, env={**slurm_cluster.env, **_path()})
    _, stderr = launcher.communicate(timeout=400)
    assert launcher.returncode == 0, stderr
    assert re.search(rf"Slurm job {job.split('_')[0]}\S* ended: CANCELLED", stderr), stderr
    assert stderr.count("launcher: started 1 slurm worker(s)") >= 2  # a new job took the released cell
    assert len(scale_matrix.stored()) == len(set(scale_matrix.stored())) == 2
    assert _db(scale_matrix, "SELECT COUNT(*) FROM failures") == [(0,)]  # a cancellation is no failed attempt


def test_a_job_whose_cell_raises_is_recorded_as_failed_with_its_traceback(scale_matrix, slurm_cluster):
    config = _slurm_config(scale_matrix, slurm_cluster, jobs=1, backbone="scale/broken", weights='"a"', n_train="6",
                           executor_extra="max_attempts = 1\n")
    proc = scale_matrix.biobench("run", "--config", str(config), timeout=600)
    assert proc.returncode == 1 and "0 done, 1 failed, 0 left" in proc.stderr, proc.stderr
    [(attempts, error, traceback, job)] = _db(scale_matrix, "SELECT attempts, error, traceback, job FROM failures")
    assert (attempts, error) == (1, "RuntimeError: BrokenNet cannot encode")
    assert "Traceback (most recent call last)" in traceback and re.fullmatch(r"\d+(_\d+)?", job)
    status = scale_matrix.biobench("status", "--results", str(scale_matrix.results))
    assert status.stdout.startswith("0 running, 1 failed, 0 done") and f"(Slurm job {job})" in status.stdout


def test_an_unreachable_controller_is_a_clear_message_within_seconds(scale_matrix, slurm_cluster, tmp_path):
    conf = (tmp_path / "slurm.conf")
    text = open(slurm_cluster.env["SLURM_CONF"]).read()
    conf.write_text(re.sub(r"(?m)^SlurmctldPort=.*$", "SlurmctldPort=1", text)
                    if "SlurmctldPort=" in text else text + "\nSlurmctldPort=1\n")
    config = _slurm_config(scale_matrix, slurm_cluster)
    start = time.monotonic()
    proc = scale_matrix.biobench("run", "--config", str(config), extra_env={"SLURM_CONF": str(conf)})
    assert time.monotonic() - start < 30
    assert proc.returncode == 1 and "Slurm controller" in proc.stderr and "nothing was claimed" in proc.stderr
    assert "Traceback" not in proc.stderr and not scale_matrix.results.exists()


def test_the_kit_runs_an_empty_worker_as_a_slurm_job(slurm_cluster):
    from biobench_core.testing import check_executor

    options = {"partition": slurm_cluster.partition, "time": 10, "cpus_per_task": 1, "mem": "1G"}
    report = check_executor("slurm", options=options, env=slurm_cluster.env).assert_ok()
    assert [c.name for c in report.checks] == ["load", "options", "build", "start"]


def _path() -> dict[str, str]:
    import os

    return {"PATH": os.environ["PATH"]}
