"""The Slurm executor: workers as Slurm jobs (one job array per start), submitted through submitit.

The launcher builds it as ``SlurmExecutor(config, results_dir, env)``, with the ``[executor]`` table's Slurm keys
in ``config.options`` (:class:`biobench_slurm.options.SlurmOptions`). submitit's job files and logs go to
``config.folder``, else ``<results>/slurm``.

Before anything is claimed or submitted, :func:`check_controller` asks the controller (``scontrol ping``, a few
seconds at most) and checks the partition: an unreachable controller or a missing Slurm is one clear message.
submitit needs Slurm's accounting (``sacct``) to follow its jobs. The job's Python is this interpreter, so the
cluster's nodes must see this environment (a shared file system), as they must see the data and results folders.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from biobench_core import ExecutorConfig, Worker, WorkerJob

__all__ = ["SlurmExecutor", "SlurmError", "check_controller", "sbatch_parameters", "environ_over"]

CONTROLLER_TIMEOUT_S = 8.0


class SlurmError(RuntimeError):
    """Slurm cannot take the jobs (not installed, controller unreachable, no such partition)."""


@contextlib.contextmanager
def environ_over(env: dict[str, str]) -> Iterator[None]:
    """``env`` over ``os.environ`` while submitit calls Slurm's commands (it passes no environment of its own)."""
    saved = {key: os.environ.get(key) for key in env}
    os.environ.update(env)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def _command(args: list[str], env: dict[str, str], timeout: float) -> subprocess.CompletedProcess:
    with environ_over(env):
        if shutil.which(args[0]) is None:
            raise SlurmError(f"Slurm's {args[0]} is not on PATH: is this a Slurm login node? "
                             "(use [executor] kind = \"local\" to run on this machine)")
        try:
            return subprocess.run(args, capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired:
            raise SlurmError(f"the Slurm controller did not answer '{' '.join(args)}' within {timeout:.0f} s: "
                             "is slurmctld running and reachable? nothing was claimed or submitted") from None


def check_controller(partition: str | None, env: dict[str, str] | None = None,
                     timeout: float = CONTROLLER_TIMEOUT_S) -> None:
    """Raise :class:`SlurmError` unless the controller answers and ``partition`` (if given) exists."""
    env = env or {}
    ping = _command(["scontrol", "ping"], env, timeout)
    if ping.returncode != 0 or "UP" not in ping.stdout:
        said = (ping.stdout.strip() or ping.stderr.strip() or f"exit status {ping.returncode}").splitlines()[-1]
        raise SlurmError(f"the Slurm controller is not reachable (scontrol ping: {said}); nothing was claimed or "
                         "submitted")
    if partition:
        found = _command(["sinfo", "--noheader", "--format=%R"], env, timeout)
        names = sorted(set(found.stdout.split()))
        if found.returncode == 0 and partition not in names:
            raise SlurmError(f"[executor] partition = {partition!r}: no such Slurm partition "
                             f"(partitions: {', '.join(names) or 'none'})")


def sbatch_parameters(config: ExecutorConfig) -> dict[str, Any]:
    """submitit's ``SlurmExecutor.update_parameters`` arguments for the ``[executor]`` table."""
    options = config.options
    params: dict[str, Any] = {"job_name": "biobench", "time": options.time_minutes}
    for name in ("partition", "account", "qos", "gpus_per_node", "cpus_per_task", "array_parallelism"):
        value = getattr(options, name)
        if value is not None:
            params[name] = value
    extra = {key: value for key, value in options.sbatch.items()}
    if options.mem is not None:
        extra["mem"] = options.mem  # as Slurm writes it ("32G"); submitit's own mem wants gigabytes
    if extra:
        params["additional_parameters"] = extra
    if options.setup:
        params["setup"] = list(options.setup)
    return params


class _Watch:
    """One ``sacct`` for all of the launcher's jobs at most every ``every`` seconds (submitit's own watcher waits
    longer and longer between checks, so a cancelled job would be noticed only minutes later)."""

    def __init__(self, every: float = 2.0) -> None:
        self.every, self.last = every, 0.0

    def refresh(self, job: Any) -> None:
        if time.monotonic() - self.last >= self.every:
            self.last = time.monotonic()
            job.watcher.update()


class _Job:
    def __init__(self, job: Any, env: dict[str, str], watch: _Watch) -> None:
        self.job, self.env, self.watch = job, env, watch
        self.name = f"Slurm job {job.job_id}"

    def done(self) -> bool:
        with environ_over(self.env):
            self.watch.refresh(self.job)
            return bool(self.job.done())

    def error(self) -> str | None:
        with environ_over(self.env):
            state = self.job.state
            if state.startswith("COMPLETED"):
                return None
            try:
                exc = self.job.exception()
            except Exception as problem:  # noqa: BLE001 - a cancelled job has no result file
                return f"{state}: {problem}".splitlines()[0]
            # No exception: the worker returned (its result file is there) before sacct said so; the cached state
            # can still read PENDING or RUNNING.
            return f"{state}: {str(exc).strip().splitlines()[-1]}" if exc else None

    def cancel(self) -> None:
        with environ_over(self.env):
            self.job.cancel(check=False)


class SlurmExecutor:
    kind = "slurm"

    def __init__(self, config: ExecutorConfig, results_dir: Path, env: dict[str, str] | None = None) -> None:
        import submitit

        self.config, self.env = config, dict(env or {})
        self.default_workers = config.options.array_parallelism or 4
        self.watch = _Watch()
        check_controller(config.options.partition, self.env)
        folder = Path(config.folder) if config.folder else results_dir / "slurm"
        with environ_over(self.env):
            self.executor = submitit.SlurmExecutor(folder=str(folder / "%j"))
            self.executor.update_parameters(**sbatch_parameters(config))

    def start(self, jobs: list[WorkerJob]) -> list[_Job]:
        with environ_over(self.env):
            with self.executor.batch():
                submitted = [self.executor.submit(Worker(job)) for job in jobs]
        return [_Job(job, self.env, self.watch) for job in submitted]
