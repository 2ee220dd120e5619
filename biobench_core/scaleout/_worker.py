"""A worker: claims experiments of the matrix one at a time, runs them and writes their results itself.

Every executor starts identical workers (:class:`WorkerJob`): in this process, as local processes
(``python -m biobench_core.scaleout._worker``, the job as JSON on standard input) or as Slurm jobs through submitit, which
pickles :class:`Worker` (so it lives here, in an installed package, not in a script or a test file). A worker
plans the whole matrix itself, then runs :func:`biobench_core.scaleout._runner.run_matrix` with ``max_attempts``: it claims
each experiment that is neither done, nor held by a live claim, nor failed too often, runs it, saves it, and
stops when nothing is left to claim.

SIGTERM and SIGINT (``scancel``, Slurm preemption, Ctrl-C) stop the worker: the experiment at hand is abandoned and
its claim released, so another worker takes it. Under submitit, Slurm's preemption signal (USR2) makes submitit
requeue the job (:meth:`Worker.checkpoint`); its exit releases the claim the same way.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from biobench_core.scaleout._config import TaskRequest
from biobench_core.scaleout._runner import RunOptions, run_matrix
from biobench_core.results._store import ExperimentKey

__all__ = ["WorkerJob", "Worker", "WorkerStopped", "run_worker", "main"]


class WorkerStopped(KeyboardInterrupt):
    """The worker received SIGTERM or SIGINT; raised where it was, so every claim is released on the way out."""

    def __init__(self, signum: int) -> None:
        super().__init__(f"stopped by {signal.Signals(signum).name}")
        self.signum = signum


@dataclasses.dataclass
class WorkerJob:
    """Everything a worker needs: the matrix (already expanded) and the run options, as plain data."""

    backbones: list[tuple[str, str | None]]
    tasks: list[TaskRequest]
    options: RunOptions
    label: str = "worker"
    threads: int | None = None  # torch threads (a CPU worker among several)

    def to_json(self) -> str:
        options = dataclasses.asdict(self.options)
        options["results_dir"] = str(self.options.results_dir)
        options["cache_dir"] = None if self.options.cache_dir is None else str(self.options.cache_dir)
        options["only"] = None if self.options.only is None else [dataclasses.astuple(k) for k in self.options.only]
        return json.dumps({"backbones": self.backbones, "tasks": [dataclasses.asdict(t) for t in self.tasks],
                           "options": options, "label": self.label, "threads": self.threads})

    @classmethod
    def from_json(cls, text: str) -> WorkerJob:
        raw = json.loads(text)
        options = dict(raw["options"])
        options["results_dir"] = Path(options["results_dir"])
        options["cache_dir"] = None if options["cache_dir"] is None else Path(options["cache_dir"])
        options["only"] = None if options["only"] is None else frozenset(ExperimentKey(*k) for k in options["only"])
        tasks = [TaskRequest(t["id"], t["data"], tuple(tuple(pair) for pair in t["settings"])) for t in raw["tasks"]]
        return cls([tuple(b) for b in raw["backbones"]], tasks, RunOptions(**options), raw["label"], raw["threads"])


@contextlib.contextmanager
def _stop_on_signals() -> Iterator[None]:
    """SIGTERM and SIGINT raise :class:`WorkerStopped` (in the main thread; elsewhere nothing changes)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def stop(signum: int, frame: object) -> None:
        raise WorkerStopped(signum)

    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def run_worker(job: WorkerJob, log: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Run ``job`` until nothing is left to claim; a summary (lists of done, skipped, failed and busy names)."""
    if log is None:
        def log(line: str) -> None:
            print(f"[{job.label}] {line}", file=sys.stderr, flush=True)
    if job.threads:
        import torch

        torch.set_num_threads(job.threads)
    with _stop_on_signals():
        summary = run_matrix(job.backbones, job.tasks, job.options, log)
    return dataclasses.asdict(summary)


class Worker:
    """What submitit runs in a Slurm job: a picklable callable with submitit's ``checkpoint`` (requeue on
    preemption: the requeued job is a fresh worker on the same matrix)."""

    def __init__(self, job: WorkerJob) -> None:
        self.job = job

    def __call__(self) -> dict[str, Any]:
        return run_worker(self.job)

    def checkpoint(self, *args: Any, **kwargs: Any) -> Any:
        from submitit.helpers import DelayedSubmission

        return DelayedSubmission(Worker(self.job))


def main(argv: list[str] | None = None) -> int:
    """``python -m biobench_core.scaleout._worker``: run the :class:`WorkerJob` read (as JSON) from standard input."""
    from biobench_core.contract._errors import one_line

    job = WorkerJob.from_json(sys.stdin.read())
    try:
        summary = run_worker(job)
    except WorkerStopped as exc:
        print(f"[{job.label}] {exc}; its experiment was released", file=sys.stderr, flush=True)
        return 128 + exc.signum
    except Exception as exc:  # noqa: BLE001 - one line, like the CLI
        if os.environ.get("BIOBENCH_DEBUG"):
            raise
        print(f"[{job.label}] error: {one_line(exc)}", file=sys.stderr, flush=True)
        return 1
    return 1 if summary["failed"] else 0


if __name__ == "__main__":
    sys.exit(main())
