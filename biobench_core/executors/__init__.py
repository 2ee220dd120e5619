"""Executors start identical workers (:class:`biobench_core.worker.WorkerJob`) and report when each has ended.

- ``inprocess`` (:mod:`.inprocess`): one worker in this process.
- ``local`` (:mod:`.local`): worker processes on this machine, one per GPU (``--devices 0,1``) or, on CPU, the
  number asked for, each with its share of the cores.
- ``slurm`` (:mod:`.slurm`): Slurm jobs (an array) through submitit, with the ``[executor]`` table's partition,
  account, QoS, time limit, GPUs, CPUs, memory, array parallelism and extra sbatch options.

An executor knows nothing of the matrix: the launcher (:mod:`biobench_core.launcher`) decides how many workers run,
and the workers coordinate through the results store.
"""

from __future__ import annotations

from typing import Protocol

from biobench_core.worker import WorkerJob

__all__ = ["Handle", "Executor"]


class Handle(Protocol):
    """One started worker."""

    name: str

    def done(self) -> bool:
        """Whether the worker has ended (finished, failed or cancelled)."""

    def error(self) -> str | None:
        """Why an ended worker failed (one line), or ``None``."""

    def cancel(self) -> None:
        """Stop the worker (it releases its claim)."""


class Executor(Protocol):
    kind: str
    #: How many workers run at once when the config does not say.
    default_workers: int

    def start(self, jobs: list[WorkerJob]) -> list[Handle]:
        """Start one worker per job (a Slurm executor submits them as one array)."""
