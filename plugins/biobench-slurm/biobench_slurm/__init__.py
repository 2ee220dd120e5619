"""biobench-slurm: run a biobench matrix as Slurm job arrays, through submitit (``[executor] kind = "slurm"``).

The hook module: torch-free, it only names the executor (:mod:`biobench_slurm.executor`) and its ``[executor]``
keys (:mod:`biobench_slurm.options`), which are imported when a config uses them.
"""

from __future__ import annotations

from collections.abc import Iterator

from biobench_core import ExecutorSpec, hookimpl

BIOBENCH_CONTRACT = 2


@hookimpl
def biobench_executors() -> Iterator[ExecutorSpec]:
    yield ExecutorSpec(name="slurm", factory="biobench_slurm.executor:SlurmExecutor",
                       options="biobench_slurm.options:SlurmOptions",
                       description="Slurm job arrays through submitit (partition, account, time, gpus_per_node...)")
