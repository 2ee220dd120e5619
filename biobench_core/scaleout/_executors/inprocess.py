"""The in-process executor: each worker runs to its end in this process, one after the other."""

from __future__ import annotations

from pathlib import Path

from biobench_core.contract._errors import one_line
from biobench_core.scaleout._config import ExecutorConfig
from biobench_core.scaleout._worker import WorkerJob, run_worker

__all__ = ["InProcessExecutor"]


class _Finished:
    def __init__(self, name: str, error: str | None) -> None:
        self.name, self._error = name, error

    def done(self) -> bool:
        return True

    def error(self) -> str | None:
        return self._error

    def cancel(self) -> None:
        pass


class InProcessExecutor:
    """Runs each job to its end inside :meth:`start` (so one worker at a time, with progress bars)."""

    kind = "inprocess"
    default_workers = 1
    max_workers = 1
    progress = True

    def __init__(self, config: ExecutorConfig, results_dir: Path, env: dict[str, str] | None = None) -> None:
        """Nothing to set up: the workers run here, in this process's environment."""

    def start(self, jobs: list[WorkerJob]) -> list[_Finished]:
        handles = []
        for job in jobs:
            try:
                summary = run_worker(job)
            except (KeyboardInterrupt, SystemExit):
                raise
            except Exception as exc:  # noqa: BLE001 - the launcher reports it and goes on
                handles.append(_Finished(job.label, one_line(exc)))
                continue
            handles.append(_Finished(job.label, f"{len(summary['failed'])} failed" if summary["failed"] else None))
        return handles
