"""The Slurm executor's own ``[executor]`` keys, each checked when the config is loaded.

Each key is sbatch's option of the same name; ``sbatch`` passes any other, ``setup`` runs shell lines before each
job's worker::

    [executor]
    kind = "slurm"
    partition = "gpu"
    account = "mylab"
    qos = "normal"
    time = "04:00:00"          # or minutes, e.g. 240
    gpus_per_node = 1
    cpus_per_task = 8
    mem = "32G"
    array_parallelism = 4
    sbatch = { constraint = "a100" }
    setup = ["module load cuda"]

Torch-free and import-light: ``biobench run --config`` imports it to check the table.
"""

from __future__ import annotations

import dataclasses
import math
import re
from typing import Any

from biobench_core import executor_option

__all__ = ["SlurmOptions", "parse_minutes"]


def parse_minutes(value: int | str) -> int | None:
    """Slurm's time limit as minutes: ``90``, ``"90"``, ``"1:30:00"``, ``"2-00:00:00"``; ``None`` if not one."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if value >= 1 else None
    match = re.fullmatch(r"(?:(\d+)-)?(\d+)(?::(\d+))?(?::(\d+))?", value.strip()) if isinstance(value, str) else None
    if not match:
        return None
    days, first, second, third = match.groups()
    if days is None and second is None:  # "MM"
        minutes = float(first)
    elif third is None and days is None:  # "MM:SS"
        minutes = int(first) + int(second) / 60
    else:  # "[D-]HH[:MM[:SS]]"
        minutes = int(days or 0) * 1440 + int(first) * 60 + int(second or 0) + int(third or 0) / 60
    return math.ceil(minutes) if minutes > 0 else None


def _is_int(minimum: int) -> Any:
    return lambda v: isinstance(v, int) and not isinstance(v, bool) and v >= minimum


def _is_str(v: Any) -> bool:
    return isinstance(v, str) and bool(v.strip())


def _is_scalar(v: Any) -> bool:
    return isinstance(v, (str, int, float))


@dataclasses.dataclass(frozen=True)
class SlurmOptions:
    """The Slurm keys of the ``[executor]`` table (``ExecutorSpec.options`` of the ``slurm`` executor)."""

    partition: str | None = executor_option(None, "a string", _is_str)
    account: str | None = executor_option(None, "a string", _is_str)
    qos: str | None = executor_option(None, "a string", _is_str)
    time: int | str = executor_option(60, 'minutes (an integer >= 1) or a Slurm time such as "04:00:00" or '
                                          '"1-00:00:00"', lambda v: parse_minutes(v) is not None)
    gpus_per_node: int | None = executor_option(None, "an integer >= 0", _is_int(0))
    cpus_per_task: int | None = executor_option(None, "an integer >= 1", _is_int(1))
    mem: str | None = executor_option(None, 'a Slurm memory size such as "32G" or "4000M"',
                                      lambda v: isinstance(v, str) and re.fullmatch(r"\d+[KMGT]?B?", v.strip(), re.I))
    array_parallelism: int | None = executor_option(None, "an integer >= 1", _is_int(1))
    sbatch: dict[str, Any] = executor_option(None, 'a table of sbatch options, e.g. { constraint = "a100" }',
                                             lambda v: isinstance(v, dict) and all(_is_scalar(x) for x in v.values()),
                                             factory=dict)
    setup: tuple[str, ...] = executor_option((), "an array of shell lines run before each job",
                                             lambda v: isinstance(v, list) and all(isinstance(x, str) for x in v))

    @property
    def time_minutes(self) -> int:
        return parse_minutes(self.time) or 60
