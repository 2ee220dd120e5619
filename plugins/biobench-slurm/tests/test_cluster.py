"""The local Slurm cluster itself (scripts/cluster.sh + the ``slurm_cluster`` fixture): real jobs, real
daemons.

Functions handed to submitit come from installed modules (``math``, ``os``, ``time``): a function defined in a test
file does not unpickle inside the job.
"""

from __future__ import annotations

import math
import os
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.timeout(180)


def run(*cmd: str, env: dict[str, str] | None = None, timeout: float = 120) -> str:
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env={**os.environ, **(env or {})})
    assert proc.returncode == 0, f"{' '.join(cmd)} exited {proc.returncode}:\n{proc.stdout}\n{proc.stderr}"
    return proc.stdout


FINAL_STATES = ("COMPLETED", "FAILED", "CANCELLED", "TIMEOUT", "NODE_FAIL", "OUT_OF_MEMORY", "BOOT_FAIL",
                "DEADLINE", "PREEMPTED")


def sbatch_wait(*args: str, env: dict[str, str] | None = None, timeout: float = 60) -> str:
    """sbatch ARGS and wait (polling scontrol every 0.1 s: `sbatch --wait` polls every 2 s or more) for the job to
    end; returns its id. A job that does not complete fails the test."""
    job_id = run("sbatch", "--parsable", *args, env=env).strip().split(";")[0]
    deadline = time.monotonic() + timeout
    state = ""
    while time.monotonic() < deadline:
        out = run("scontrol", "show", "job", "-o", job_id, env=env)
        state = next((f.split("=", 1)[1] for f in out.split() if f.startswith("JobState=")), "")
        if state in FINAL_STATES:
            break
        time.sleep(0.1)
    assert state == "COMPLETED", f"job {job_id}: {state or 'unknown'} after {timeout}s"
    return job_id


def sacct_state(job_id: str, env: dict[str, str] | None = None, timeout: float = 30) -> str:
    """The job's state in accounting once it is final (slurmctld reports to slurmdbd a moment after the fact)."""
    deadline = time.monotonic() + timeout
    state = ""
    while time.monotonic() < deadline:
        out = run("sacct", "-n", "-X", "-P", "-j", job_id, "-o", "State", env=env).split()
        state = out[0] if out else ""
        if state and state not in ("PENDING", "RUNNING", "COMPLETING", "REQUEUED"):
            return state
        time.sleep(0.3)
    raise AssertionError(f"sacct still says {state!r} for job {job_id} after {timeout}s")


def _submitit_state(job, final: str, timeout: float = 30) -> str:
    deadline = time.monotonic() + timeout
    while (state := job.watcher.get_state(job.job_id, mode="force")).split()[0] != final:
        if time.monotonic() > deadline:
            return state
        time.sleep(0.3)
    return state


def test_sbatch_shell_job_runs_and_is_accounted(slurm_cluster, tmp_path):
    out = tmp_path / "job.out"
    job_id = sbatch_wait("-p", slurm_cluster.partition, "-c", "1", "-o", str(out),
                         "--wrap", "echo hello-from-slurm $SLURM_JOB_ID $SLURM_JOB_PARTITION")
    assert out.read_text().split() == ["hello-from-slurm", job_id, slurm_cluster.partition]
    assert sacct_state(job_id) == "COMPLETED"


def test_submitit_runs_an_installed_function(slurm_cluster, tmp_path):
    executor = slurm_cluster.executor(tmp_path / "submitit")
    job = executor.submit(math.factorial, 12)
    assert job.result() == math.factorial(12)
    # result() returns once the result file is there; submitit's cached state may still be from before sacct knew
    # the job (accounting trails slurmctld by about a second): ask sacct again.
    assert _submitit_state(job, "COMPLETED") == "COMPLETED"
    pid_job = executor.submit(os.getpid)
    assert pid_job.result() != os.getpid()  # it ran in the job, not here


def test_submitit_job_array(slurm_cluster, tmp_path):
    executor = slurm_cluster.executor(tmp_path / "submitit", slurm_array_parallelism=2)
    jobs = executor.map_array(math.factorial, [3, 4, 5, 6])
    assert [job.result() for job in jobs] == [6, 24, 120, 720]
    assert len({job.job_id for job in jobs}) == 4


def test_cancelled_job_is_reported_promptly(slurm_cluster, tmp_path):
    import submitit

    executor = slurm_cluster.executor(tmp_path / "submitit")
    job = executor.submit(time.sleep, 600)
    deadline = time.monotonic() + 60
    while job.watcher.get_state(job.job_id, mode="force") != "RUNNING":
        assert time.monotonic() < deadline, f"job {job.job_id} never ran: {job.state}"
        time.sleep(0.3)
    t0 = time.monotonic()
    job.cancel()  # scancel
    assert _submitit_state(job, "CANCELLED", timeout=20).startswith("CANCELLED")
    seen_s = time.monotonic() - t0
    assert sacct_state(job.job_id) == "CANCELLED"

    outcome: dict[str, BaseException | object] = {}

    def wait_result() -> None:
        try:
            outcome["result"] = job.result()
        except BaseException as exc:  # noqa: BLE001 - reported below
            outcome["error"] = exc

    # result() then raises; it first waits submitit's _results_timeout_s (15 s) for a result file that a cancelled
    # job never writes. A daemon thread: if result() hung (it does without accounting) the test fails, not hangs.
    waiter = threading.Thread(target=wait_result, daemon=True)
    waiter.start()
    waiter.join(timeout=45)
    elapsed = time.monotonic() - t0
    assert not waiter.is_alive(), f"job.result() of the cancelled job {job.job_id} still blocks after {elapsed:.0f}s"
    assert isinstance(outcome.get("error"), submitit.core.utils.UncompletedJobError), outcome
    print(f"cancelled job: CANCELLED in sacct after {seen_s:.1f}s, result() raised after {elapsed:.1f}s")


@pytest.mark.timeout(240)
def test_two_one_cpu_jobs_run_at_the_same_time(slurm_cluster, tmp_path):
    script = "date +%s.%N > {d}/start.$SLURM_JOB_ID; sleep 3; date +%s.%N > {d}/end.$SLURM_JOB_ID"
    # Both CPUs must be free: wait for the jobs of other tests (or of another session sharing the cluster) to end.
    deadline = time.monotonic() + 120
    while run("squeue", "-h", "-o", "%i").strip():
        assert time.monotonic() < deadline, "the cluster never became free:\n" + run("squeue")
        time.sleep(0.2)
    ids = [run("sbatch", "--parsable", "-p", slurm_cluster.partition, "-c", "1", "-o", "/dev/null",
               "--wrap", script.format(d=tmp_path)).strip() for _ in range(2)]
    deadline = time.monotonic() + 60
    while not all((tmp_path / f"end.{i}").exists() for i in ids):
        assert time.monotonic() < deadline, f"jobs {ids} did not finish in 60s"
        time.sleep(0.1)
    time.sleep(0.1)  # the last write
    (start_a, end_a), (start_b, end_b) = [
        (float((tmp_path / f"start.{i}").read_text()), float((tmp_path / f"end.{i}").read_text())) for i in ids]
    assert start_a < end_b and start_b < end_a, f"the jobs ran one after the other: {ids}"


def _free_port_base() -> int:
    """Four consecutive free ports on 127.0.0.1 (slurmctld, slurmd, slurmdbd, MariaDB)."""
    for base in range(27817, 40000, 10):
        try:
            socks = []
            for port in range(base, base + 4):
                s = socket.socket()
                socks.append(s)
                s.bind(("127.0.0.1", port))
            return base
        except OSError:
            continue
        finally:
            for s in socks:
                s.close()
    raise AssertionError("no free ports")


@pytest.fixture
def private_cluster_env(slurm_cluster, cluster_sh):
    """Settings for a second, throwaway cluster (own directory, ports and name) beside the session's one.

    Under /tmp itself, not tmp_path: munged runs as the munge user, which cannot enter pytest's 0700 directories.
    """
    cluster_dir = Path(tempfile.mkdtemp(prefix="biobench-slurm-test-"))
    cluster_dir.chmod(0o755)
    env = {"BIOBENCH_SLURM_DIR": str(cluster_dir), "BIOBENCH_SLURM_PORT": str(_free_port_base()),
           "BIOBENCH_SLURM_CLUSTER": "biobenchtest", "SLURM_CONF": str(cluster_dir / "etc" / "slurm.conf")}
    yield env
    cluster_sh("stop", env=env, timeout=120)
    shutil.rmtree(cluster_dir, ignore_errors=True)


def _timed(cluster_sh, env: dict[str, str], *args: str) -> tuple[float, subprocess.CompletedProcess]:
    t0 = time.monotonic()
    proc = cluster_sh(*args, env=env)
    assert proc.returncode == 0, f"cluster.sh {' '.join(args)} exited {proc.returncode}:\n{proc.stderr}"
    return time.monotonic() - t0, proc


@pytest.mark.timeout(300)
def test_restarted_cluster_never_reuses_job_ids(private_cluster_env, cluster_sh):
    env = private_cluster_env
    cluster_dir = Path(env["BIOBENCH_SLURM_DIR"])

    def one_job() -> int:
        return int(sbatch_wait("-o", "/dev/null", "--wrap", "true", env=env))

    cold_s, proc = _timed(cluster_sh, env, "start")
    assert f"SLURM_CONF={env['SLURM_CONF']}" in (cluster_dir / "env").read_text().splitlines()
    assert f"export SLURM_CONF={env['SLURM_CONF']}" in proc.stdout
    # A burst of jobs runs the id counter ahead of the clock: the next start must continue after it.
    first_ids = [one_job() for _ in range(3)]
    reuse_s, proc = _timed(cluster_sh, env, "start")
    assert "reused" in proc.stderr
    status = cluster_sh("status", env=env)
    assert status.returncode == 0 and "healthy" in status.stdout, status.stdout
    stop_s, _ = _timed(cluster_sh, env, "stop")
    assert cluster_sh("status", env=env).returncode == 3
    warm_s, _ = _timed(cluster_sh, env, "start")  # installed, database kept
    second_id = one_job()
    _timed(cluster_sh, env, "stop")
    shutil.rmtree(cluster_dir)
    cluster_dir.mkdir(mode=0o755)
    scratch_s, _ = _timed(cluster_sh, env, "start")  # from nothing: a new database
    third_id = one_job()
    assert first_ids == sorted(set(first_ids)) and first_ids[-1] < second_id < third_id, (first_ids, second_id,
                                                                                          third_id)
    print(f"bring-up: from nothing {cold_s:.1f}s, again from nothing {scratch_s:.1f}s, restart with the database "
          f"kept {warm_s:.1f}s, already up {reuse_s:.2f}s; stop {stop_s:.1f}s")


def test_start_failure_names_the_daemon_and_its_log(private_cluster_env, cluster_sh):
    env = private_cluster_env
    db_port = int(env["BIOBENCH_SLURM_PORT"]) + 3
    with socket.socket() as squatter:  # MariaDB's port is taken
        squatter.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        squatter.bind(("127.0.0.1", db_port))
        squatter.listen()
        proc = cluster_sh("start", env=env, timeout=120)
    assert proc.returncode == 1
    first_error = next(line for line in proc.stderr.splitlines() if "error:" in line)
    log = Path(env["BIOBENCH_SLURM_DIR"]) / "log" / "mariadb.log"
    assert "mariadbd" in first_error and f"log: {log}" in first_error, proc.stderr
    assert "already in use" in proc.stderr, proc.stderr  # the log's tail
