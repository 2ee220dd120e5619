"""The in-process executor: each worker runs to its end in this process, one after the other."""

from __future__ import annotations

from biobench_core.errors import one_line
from biobench_core.worker import WorkerJob, run_worker

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
    kind = "inprocess"
    default_workers = 1

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
