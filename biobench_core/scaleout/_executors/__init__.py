"""Executors start identical workers (:class:`biobench_core.scaleout._worker.WorkerJob`) and report when each ends.

An executor is offered by a plugin through the ``biobench_executors`` hook, as an
:class:`~biobench_core.contract._specs.ExecutorSpec`; the core's own are built-in plugins
(:mod:`biobench_core.scaleout._builtin`):

- ``inprocess`` (:mod:`.inprocess`): one worker in this process.
- ``local`` (:mod:`.local`): worker processes on this machine, one per GPU (``--devices 0,1``) or, on CPU, the
  number asked for, each with its share of the cores.

Slurm job arrays are the ``slurm`` executor of the ``biobench-slurm`` plugin.

The spec's factory is called as ``factory(config, results_dir, env)`` (:class:`ExecutorFactory`) and returns an
:class:`Executor`. An executor knows nothing of the matrix: the launcher (:mod:`biobench_core.scaleout._launcher`)
decides how many workers run, and the workers coordinate through the results store.
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

from biobench_core.scaleout._config import ExecutorConfig
from biobench_core.scaleout._worker import WorkerJob

__all__ = ["Handle", "Executor", "ExecutorFactory", "FACTORY_PARAMETERS"]

#: The parameters an executor factory takes, in order (``biobench_core.testing.check_executor`` checks them).
FACTORY_PARAMETERS = ("config", "results_dir", "env")


class Handle(Protocol):
    """One started worker."""

    #: How the launcher names it in its log (``"w1"``, ``"Slurm job 12_0"``).
    name: str

    def done(self) -> bool:
        """Whether the worker has ended (finished, failed or cancelled); cheap, the launcher polls it."""

    def error(self) -> str | None:
        """Why an ended worker failed (one line), or ``None``."""

    def cancel(self) -> None:
        """Stop the worker (it releases its claim)."""


class Executor(Protocol):
    """Starts workers. Two attributes are optional, read with a default by the launcher:
    ``max_workers`` (at most this many at once; ``None``, the default: as many as the config asks) and
    ``progress`` (whether its workers may draw progress bars on this terminal; default ``False``)."""

    #: The executor's name, as in ``[executor] kind`` (for the launcher's log).
    kind: str
    #: How many workers run at once when the config does not say (``jobs``).
    default_workers: int

    def start(self, jobs: list[WorkerJob]) -> list[Handle]:
        """Start one worker per job, one handle each (a Slurm executor submits them as one array).

        A worker runs :func:`biobench_core.scaleout._worker.run_worker` on its job, wherever it runs."""


class ExecutorFactory(Protocol):
    """What an :class:`~biobench_core.contract._specs.ExecutorSpec` names as its factory (usually the class).

    ``config`` is the checked ``[executor]`` table (its ``options``: the executor's own keys), ``results_dir`` the
    run's results folder (where an executor without a ``folder`` keeps its files, e.g. ``<results>/slurm``), and
    ``env`` variables its workers need besides this process's environment (``None``: none). It fails here, with
    one line, when the executor cannot run (no controller, no such partition): before anything is claimed.
    """

    def __call__(self, config: ExecutorConfig, results_dir: Path, env: dict[str, str] | None) -> Executor: ...
