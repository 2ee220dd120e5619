"""The core's built-in executors, registered through the ``biobench_executors`` hook like any plugin's.

The Slurm executor is a plugin of its own (``biobench-slurm``); a third party adds an executor the same way.
"""

from __future__ import annotations

from collections.abc import Iterator

from biobench_core.contract._specs import ExecutorSpec
from biobench_core.contract.hookspecs import hookimpl

_EXECUTORS = "biobench_core.scaleout._executors"


@hookimpl
def biobench_executors() -> Iterator[ExecutorSpec]:
    yield ExecutorSpec(name="inprocess", factory=f"{_EXECUTORS}.inprocess:InProcessExecutor",
                       description="one worker in this process")
    yield ExecutorSpec(name="local", factory=f"{_EXECUTORS}.local:LocalExecutor",
                       description="worker processes on this machine, one per GPU (--devices 0,1) or CPU share")
