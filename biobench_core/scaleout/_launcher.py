"""The launcher: runs a whole matrix through an executor, keeping enough workers busy until nothing is left.

It plans the matrix first (every backbone and task id resolved, every task built: a typo fails before anything is
claimed or submitted), builds the executor the plugin registry names for ``[executor] kind`` (which checks what it
needs, e.g. that a Slurm controller answers), then loops: every ``poll`` seconds it surveys the store
(:func:`biobench_core.scaleout._matrix.survey`) and, while experiments are left that no live process holds, starts
workers up to the configured number. A worker that was cancelled or died leaves its experiment
unclaimed (released by its signal handler, or expired with its heartbeat), so a new worker takes it. Experiments
claimed by another launcher are waited for. The number of worker starts is bounded, so a worker that cannot even
start does not loop forever.

With ``store = "files"`` (a results folder on a network file system) the workers write no shared SQLite: the
launcher claims the experiments in the main store for them, gives each job its own list and its own store under
``<results>/jobs/`` (no WAL, one writer), and merges each job's store into the main one when the job ends
(:func:`merge_jobs`, also ``biobench merge``).
"""

from __future__ import annotations

import dataclasses
import shutil
import sys
import time
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from biobench_core.contract._extensions import executor_spec
from biobench_core.scaleout._claims import Claimant, Heartbeat, failures, record_failure, release_all, try_claim
from biobench_core.scaleout._config import ConfigError, ExecutorConfig, TaskRequest, executor_kind_problem
from biobench_core.scaleout._executors import Executor
from biobench_core.scaleout._matrix import survey
from biobench_core.scaleout._runner import Cell, RunOptions, done_check, plan_cells
from biobench_core.results._store import DB_NAME, ResultsStore
from biobench_core.scaleout._worker import WorkerJob

__all__ = ["launch", "LaunchSummary", "make_executor", "merge_jobs", "JOBS_DIR"]

JOBS_DIR = "jobs"


@dataclasses.dataclass
class LaunchSummary:
    done: int = 0
    failed: int = 0
    left: int = 0
    workers: int = 0
    errors: list[str] = dataclasses.field(default_factory=list)


def make_executor(config: ExecutorConfig, results_dir: Path, env: dict[str, str] | None = None) -> Executor:
    """The executor ``config.kind`` names, from the plugin registry: ``factory(config, results_dir, env)``."""
    problem = executor_kind_problem(config.kind)
    if problem:
        raise ConfigError(f"[executor]: kind = {config.kind!r}: {problem}")
    return executor_spec(config.kind).load()(config, results_dir, env)


def launch(backbones: Sequence[tuple[str, str | None]], tasks: Sequence[TaskRequest], options: RunOptions,
           config: ExecutorConfig, *, env: dict[str, str] | None = None, poll: float = 1.0,
           log: Callable[[str], None] = lambda line: print(line, file=sys.stderr, flush=True)) -> LaunchSummary:
    """Run the matrix through ``config``'s executor; return when every experiment is done or failed too often."""
    if options.force and options.since is None:
        options = dataclasses.replace(options, since=time.time())
    options = dataclasses.replace(options, max_attempts=config.max_attempts, claim_timeout=float(config.claim_timeout))
    cells = plan_cells(backbones, tasks, options, log)  # bad ids, settings, data: found before anything starts
    executor = make_executor(config, options.results_dir, env)  # an unreachable Slurm: before anything is claimed
    workers = config.jobs or executor.default_workers
    most = getattr(executor, "max_workers", None)
    workers = workers if most is None else min(workers, most)
    files = config.store == "files"
    job_options = dataclasses.replace(options, progress=options.progress and getattr(executor, "progress", False))
    with ResultsStore(options.results_dir, wal=not files) as store:
        if files:
            merge_jobs(store, log)
        run = _Launch(list(backbones), list(tasks), job_options, config, cells, store, executor, workers, log)
        claimant = Claimant.here(float(config.claim_timeout))
        try:
            with Heartbeat(store, claimant):
                run.loop(claimant if files else None, poll)
        except BaseException:
            for handle, _ in run.live:
                handle.cancel()
            if files:
                for _, job_dir in run.live:
                    if job_dir is not None:
                        _merge_one(store, job_dir, claimant, log)
            raise
        finally:
            release_all(store, claimant)
        found = survey(store, cells, options, config.max_attempts)
    summary = run.summary
    summary.done, summary.failed, summary.left = len(found.done), len(found.failed), found.unfinished
    return summary


class _Launch:
    def __init__(self, backbones: list[tuple[str, str | None]], tasks: list[TaskRequest], options: RunOptions,
                 config: ExecutorConfig, cells: list[Cell], store: ResultsStore, executor: Executor, workers: int,
                 log: Callable[[str], None]) -> None:
        self.backbones, self.tasks, self.options, self.config = backbones, tasks, options, config
        self.cells, self.store, self.executor, self.workers, self.log = cells, store, executor, workers, log
        self.live: list[tuple[Any, Path | None]] = []
        self.starts_left = workers + len(cells) * config.max_attempts
        self.summary = LaunchSummary()
        self.waiting_said = False
        self.assigned: dict[Path, frozenset[Any]] = {}  # store = "files": each job's experiments

    def loop(self, files_claimant: Claimant | None, poll: float) -> None:
        while True:
            self._reap(files_claimant)
            found = survey(self.store, self.cells, self.options, self.config.max_attempts)
            if not found.left and not found.claimed:
                return
            slots = self.workers - len(self.live)
            if found.left and slots > 0:
                if self.starts_left <= 0:
                    if not self.live:
                        self.summary.errors.append(f"gave up: {self.summary.workers} workers started and "
                                                   f"{len(found.left)} experiments still left")
                        self.log(f"launcher: {self.summary.errors[-1]}")
                        return
                else:
                    self._start(min(slots, self.starts_left, len(found.left)), found.left, files_claimant)
                    continue
            elif not self.live and found.claimed and not self.waiting_said:
                self.waiting_said = True
                self.log(f"launcher: waiting for {len(found.claimed)} experiments claimed by other processes")
            time.sleep(poll)

    def _reap(self, files_claimant: Claimant | None) -> None:
        still = []
        for handle, job_dir in self.live:
            if not handle.done():
                still.append((handle, job_dir))
                continue
            error = handle.error()
            if error:
                self.summary.errors.append(f"{handle.name}: {error}")
                self.log(f"launcher: {handle.name} ended: {error}")
            if files_claimant is not None and job_dir is not None:
                _merge_one(self.store, job_dir, files_claimant, self.log)
                release_all(self.store, files_claimant, self.assigned.pop(job_dir, ()))  # what it did not finish
        self.live = still

    def _start(self, count: int, left: list[Cell], files_claimant: Claimant | None) -> None:
        jobs, dirs = [], []
        if files_claimant is None:
            for _ in range(count):
                jobs.append(WorkerJob(self.backbones, self.tasks, self.options, f"w{self.summary.workers + 1}"))
                dirs.append(None)
                self.summary.workers += 1
        else:
            mine = [cell for cell in left if try_claim(self.store, cell.key, files_claimant,
                                                       is_done=done_check(cell, self.options),
                                                       max_attempts=self.config.max_attempts).status == "claimed"]
            for i in range(min(count, len(mine))):
                job_dir = self.options.results_dir / JOBS_DIR / f"job-{uuid.uuid4().hex[:10]}"
                options = dataclasses.replace(self.options, results_dir=job_dir, wal=False, max_attempts=1,
                                              only=frozenset(c.key for c in mine[i::count]))
                self.assigned[job_dir] = options.only
                jobs.append(WorkerJob(self.backbones, self.tasks, options, f"w{self.summary.workers + 1}"))
                dirs.append(job_dir)
                self.summary.workers += 1
        self.starts_left -= len(jobs)
        handles = self.executor.start(jobs)
        self.live.extend(zip(handles, dirs))
        names = ", ".join(h.name for h in handles)
        self.log(f"launcher: started {len(handles)} {self.executor.kind} worker(s): {names}")


def _merge_one(store: ResultsStore, job_dir: Path, claimant: Claimant, log: Callable[[str], None]) -> int:
    """Copy one job's store into ``store`` (results, then failures), release its cells and delete it."""
    merged = 0
    if (job_dir / DB_NAME).exists():
        with ResultsStore(job_dir, readonly=True) as job_store:
            for record in job_store.experiments(include_not_comparable=True):
                store.save(record, release=claimant.owner)
                merged += 1
            for row in failures(job_store):
                record_failure(store, row.key, claimant, row.error, row.traceback, attempts=row.attempts)
    if merged:
        log(f"launcher: merged {merged} result(s) of {job_dir.name}")
    shutil.rmtree(job_dir, ignore_errors=True)
    return merged


def merge_jobs(store: ResultsStore, log: Callable[[str], None] = lambda line: None) -> int:
    """Merge every job store left under ``<results>/jobs/`` into ``store`` (``biobench merge``); how many results."""
    folder = store.dir / JOBS_DIR
    if not folder.is_dir():
        return 0
    claimant = Claimant.here()
    total = sum(_merge_one(store, job_dir, claimant, log) for job_dir in sorted(folder.iterdir()) if job_dir.is_dir())
    release_all(store, claimant)
    return total
