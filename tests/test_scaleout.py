"""Scale-out on this machine: a matrix from one config through the in-process and local executors, coordinated
through the results store (claims, failures, signals), and the per-job files mode. Real processes, real store."""

from __future__ import annotations

import json
import re
import signal
import sqlite3
import time
from collections import Counter

import pytest

from biobench_core.scaleout._config import ConfigError, TaskRequest, load_config
from biobench_core.scaleout._runner import RunOptions
from biobench_core.scaleout._worker import WorkerJob

CELLS = 4  # scale/net x weights [a, b] x n_train [6, 8]


def _done_lines(*outputs: str) -> Counter:
    return Counter(m for out in outputs for m in re.findall(r"done  (scale/\S+ \[\w+\] on \S+ \([^)]*\))", out))


def _claims(results) -> list[tuple]:
    with sqlite3.connect(results / "biobench.sqlite") as db:
        return db.execute("SELECT task, settings, pid, job FROM claims").fetchall()


def test_the_local_executor_runs_every_cell_once_and_plan_and_status_say_so(scale_matrix):
    config = scale_matrix.config(executor='kind = "local"\njobs = 2')
    plan = scale_matrix.biobench("plan", "--config", str(config))
    assert plan.returncode == 0, plan.stderr
    assert plan.stdout.startswith(f"{CELLS} experiments: 0 done, 0 claimed by a running job, 0 failed")
    assert "unknown (no earlier run in this store)" in plan.stdout and not scale_matrix.results.exists()

    proc = scale_matrix.biobench("run", "--config", str(config))
    assert proc.returncode == 0, proc.stderr
    assert "started 2 local worker(s)" in proc.stderr
    assert sorted(_done_lines(proc.stderr).values()) == [1] * CELLS
    assert len(scale_matrix.stored()) == len(set(scale_matrix.stored())) == CELLS
    assert _claims(scale_matrix.results) == []

    bigger = scale_matrix.config(n_train="[6, 8, 10]")  # one more n_train: two cells left, with a cost estimate
    plan = scale_matrix.biobench("run", "--config", str(bigger), "--dry-run")
    assert plan.stdout.startswith("6 experiments: 4 done, 0 claimed by a running job, 0 failed, 2 left"), plan.stdout
    assert "n_train=10" in plan.stdout and "unknown" not in plan.stdout
    status = scale_matrix.biobench("status", "--results", str(scale_matrix.results))
    assert status.stdout.startswith(f"0 running, 0 failed, {CELLS} done"), status.stdout


def test_two_launchers_started_at_once_run_every_cell_exactly_once(scale_matrix):
    config = scale_matrix.config(executor='kind = "inprocess"')
    slow = {"SCALE_DELAY": "0.3"}
    launchers = [scale_matrix.biobench("run", "--config", str(config), extra_env=slow, wait=False) for _ in range(2)]
    outputs = [p.communicate(timeout=300) for p in launchers]
    assert [p.returncode for p in launchers] == [0, 0], outputs
    done = _done_lines(*(err for _, err in outputs))
    assert len(done) == CELLS and set(done.values()) == {1}, done
    assert all(_done_lines(err) for _, err in outputs)  # both launchers worked
    assert len(scale_matrix.stored()) == len(set(scale_matrix.stored())) == CELLS


def test_a_failing_cell_is_retried_up_to_the_limit_and_recorded_with_its_traceback(scale_matrix):
    config = scale_matrix.config(backbone="scale/broken", weights='"a"', n_train="6",
                                 executor='kind = "local"\nmax_attempts = 2')
    proc = scale_matrix.biobench("run", "--config", str(config))
    assert proc.returncode == 1
    assert proc.stderr.count("BrokenNet cannot encode") == 2 and "attempt 2 of 2" in proc.stderr
    assert "0 done, 1 failed, 0 left" in proc.stderr
    status = scale_matrix.biobench("status", "--results", str(scale_matrix.results), "--traceback")
    assert status.stdout.startswith("0 running, 1 failed, 0 done"), status.stdout
    assert "2 attempt(s)" in status.stdout and "RuntimeError: BrokenNet cannot encode" in status.stdout
    assert "Traceback (most recent call last)" in status.stdout
    again = scale_matrix.biobench("run", "--config", str(config))  # past the limit: not retried
    assert "BrokenNet cannot encode" not in again.stderr and "0 done, 1 failed, 0 left" in again.stderr


def _job(scale_matrix, config) -> WorkerJob:
    loaded = load_config(config)
    options = RunOptions(results_dir=scale_matrix.results, device="cpu", batch_size=2, workers=0, progress=False,
                         max_attempts=3, claim_timeout=3600)
    return WorkerJob(loaded.backbones, loaded.tasks, options, "w-test")


def _worker_with_a_claim(scale_matrix, config, stderr):
    """A local worker process (``python -m biobench_core.scaleout._worker``) on a slow cell, once it holds its claim."""
    import os
    import subprocess
    import sys

    worker = subprocess.Popen([sys.executable, "-m", "biobench_core.scaleout._worker"], stdin=subprocess.PIPE,
                              stderr=stderr, text=True, env={**os.environ, **scale_matrix.env, "SCALE_DELAY": "5"})
    worker.stdin.write(_job(scale_matrix, config).to_json())
    worker.stdin.close()
    deadline = time.time() + 60
    while time.time() < deadline:
        try:
            if (scale_matrix.results / "biobench.sqlite").exists() and _claims(scale_matrix.results):
                break
        except sqlite3.OperationalError:  # the file exists, its schema is not committed yet
            pass
        time.sleep(0.1)
    return worker


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_to_a_worker_releases_its_claim_and_records_no_failure(scale_matrix, sig):
    import subprocess

    config = scale_matrix.config(weights='"a"', n_train="6")
    worker = _worker_with_a_claim(scale_matrix, config, subprocess.PIPE)
    [(_, _, pid, _)] = _claims(scale_matrix.results)
    assert pid == worker.pid
    worker.send_signal(sig)
    assert worker.wait(30) == 128 + sig
    assert f"stopped by {sig.name}" in worker.stderr.read()
    assert _claims(scale_matrix.results) == []
    with sqlite3.connect(scale_matrix.results / "biobench.sqlite") as db:
        assert db.execute("SELECT COUNT(*) FROM failures").fetchone()[0] == 0
    proc = scale_matrix.biobench("run", "--config", str(config), "--executor", "inprocess")  # picked up at once
    assert proc.returncode == 0 and len(scale_matrix.stored()) == 1, proc.stderr


def test_a_killed_worker_s_cell_is_run_by_the_next_launcher(scale_matrix):
    import subprocess

    config = scale_matrix.config(weights='"a"', n_train="6")
    worker = _worker_with_a_claim(scale_matrix, config, subprocess.DEVNULL)
    worker.kill()  # kill -9: no handler runs, the claim stays behind
    worker.wait()
    assert len(_claims(scale_matrix.results)) == 1
    proc = scale_matrix.biobench("run", "--config", str(config), "--executor", "local")
    assert proc.returncode == 0, proc.stderr
    assert len(scale_matrix.stored()) == 1 and _claims(scale_matrix.results) == []


def test_store_files_mode_merges_each_job_s_results(scale_matrix):
    config = scale_matrix.config(executor='kind = "local"\njobs = 2\nstore = "files"')
    proc = scale_matrix.biobench("run", "--config", str(config))
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr.count("launcher: merged") == 2
    assert len(scale_matrix.stored()) == len(set(scale_matrix.stored())) == CELLS
    assert list((scale_matrix.results / "jobs").iterdir()) == [] and _claims(scale_matrix.results) == []


def test_a_worker_job_round_trips_through_json(tmp_path):
    from biobench_core.results._store import ExperimentKey

    options = RunOptions(results_dir=tmp_path, cache_dir=tmp_path / "c", settings={"probe": "knn"}, max_attempts=2,
                         only=frozenset({ExperimentKey("a/b", "w", "t/u", "s", "d")}), wal=False)
    job = WorkerJob([("a/b", None), ("c/d", "random")], [TaskRequest("t/u", "/data", (("n_train", "5"),))],
                    options, "w3", threads=2)
    assert WorkerJob.from_json(job.to_json()) == job
    json.loads(job.to_json())


# -- bad input -----------------------------------------------------------------------------------------------------

def test_an_unknown_backbone_is_refused_before_any_worker_starts(scale_matrix):
    config = scale_matrix.config(backbone="scale/nett", executor='kind = "local"')
    proc = scale_matrix.biobench("run", "--config", str(config))
    assert proc.returncode != 0 and "scale/nett" in proc.stderr and "did you mean" in proc.stderr
    assert "started" not in proc.stderr and not scale_matrix.results.exists()


@pytest.mark.parametrize(("text", "expected"), [
    ('[executor]\nkind = "k8s"\n', ':2: [executor]: kind = \'k8s\': expected one of inprocess, local'),
    ('[executor]\nkind = "local"\njbos = 2\n',
     ":3: [executor]: unknown key 'jbos'; did you mean 'jobs'? (expected kind, jobs, devices, "),
    ('[executor]\ndevices = "0,1"\n', ":2: [executor]: devices = '0,1': expected an array of GPU indices"),
    ('executor = "slurm"\n', ":1: executor must be an [executor] table, not a string"),
])
def test_a_bad_executor_table_names_line_key_and_type(tmp_path, text, expected):
    path = tmp_path / "run.toml"
    path.write_text('[[backbone]]\nid = "a/b"\n\n[[task]]\nid = "t/u"\n\n' + text if not text.startswith(
        "executor =") else text + '[[backbone]]\nid = "a/b"\n')
    with pytest.raises(ConfigError) as info:
        load_config(path)
    message = str(info.value)[len(str(path)):]
    offset = 0 if text.startswith("executor =") else 6
    line, rest = expected.split(":", 2)[1:]
    assert message.startswith(f":{int(line) + offset}:{rest}"), message


def test_the_local_executor_refuses_gpus_that_do_not_exist(scale_matrix):
    """Issue 18: `--executor local --devices 0,1` on a machine without a GPU ran two CPU workers without a word."""
    import torch

    visible = torch.cuda.device_count()
    wanted = [visible, visible + 1]  # never visible here, whatever this machine has
    config = scale_matrix.config(executor=f'kind = "local"\ndevices = {wanted}')
    proc = scale_matrix.biobench("run", "--config", str(config))
    assert proc.returncode != 0, proc.stderr
    [line] = [line for line in proc.stderr.splitlines() if "GPU" in line]
    assert f"{wanted[0]}" in line and (f"{visible} GPU" in line or "no GPU" in line), proc.stderr
    assert not scale_matrix.stored() if (scale_matrix.results / "biobench.sqlite").exists() else True
