"""Worker count and batch size when the run does not say: chosen from the machine, recorded in each result.

- **Workers** (DataLoader processes that decode images). On a GPU the forward pass leaves the CPU free, so
  every core but one (for the main process) decodes, at most 16. On a CPU the forward pass already uses every
  core through torch's threads, and a decoding process preempts them: with 2 cores or fewer, decoding runs in
  the main process between batches (``0``), which measured faster than one worker on a 2-core machine
  (``benchmarks/RESULTS.md``); with more, a quarter of the cores decode (at least 1, at most 8).
- **Batch size**. On a CPU, 32 (larger batches gain nothing and cost memory). On a GPU, by its memory: 256
  from 40 GiB (an A100, H100, H200), 128 from 16 GiB, 64 below.

``--workers`` and ``--batch-size`` (or the config file's ``workers`` and ``batch_size``) override them.
"""

from __future__ import annotations

import os
from typing import Any

__all__ = ["usable_cores", "default_workers", "default_batch_size", "resolve_loader"]

GIB = 2**30


def usable_cores() -> int:
    """The cores this process may run on (its CPU affinity, e.g. a Slurm allocation), else ``os.cpu_count()``."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def default_workers(device_type: str, cores: int | None = None) -> int:
    cores = usable_cores() if cores is None else cores
    if device_type == "cuda":
        return max(1, min(cores - 1, 16))
    if cores <= 2:
        return 0
    return max(1, min(cores // 4, 8))


def default_batch_size(device_type: str, gpu_memory_bytes: int | None = None) -> int:
    if device_type != "cuda" or gpu_memory_bytes is None:
        return 32
    if gpu_memory_bytes >= 40 * GIB:
        return 256
    if gpu_memory_bytes >= 16 * GIB:
        return 128
    return 64


def resolve_loader(device: Any, workers: int | None, batch_size: int | None) -> tuple[int, int, str]:
    """``(workers, batch_size, how)``: the given values, or the defaults for ``device`` (a ``torch.device``);
    ``how`` says which were chosen and from what, for the run's log and provenance."""
    memory = None
    if device.type == "cuda" and batch_size is None:
        import torch

        memory = torch.cuda.get_device_properties(device).total_memory
    cores = usable_cores()
    chosen_workers = default_workers(device.type, cores) if workers is None else workers
    chosen_batch = default_batch_size(device.type, memory) if batch_size is None else batch_size
    notes = []
    if workers is None:
        notes.append(f"workers {chosen_workers} (auto: {cores} cores, {device.type})")
    if batch_size is None:
        where = f"{memory / GIB:.0f} GiB GPU" if memory is not None else device.type
        notes.append(f"batch size {chosen_batch} (auto: {where})")
    return chosen_workers, chosen_batch, "; ".join(notes)
