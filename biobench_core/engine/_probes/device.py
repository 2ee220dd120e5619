"""Torch device handling and the memory budget that sizes chunked computations."""

from __future__ import annotations

from typing import Any

import torch

__all__ = ["resolve_device", "synchronize", "rows_per_chunk", "CHUNK_BYTES"]

#: Bytes one temporary block (e.g. a chunk of a distance matrix) may take. 20,000 x 20,000 float64 distances would
#: be 3.2 GB; chunking keeps every probe's peak well under a gigabyte at that size.
CHUNK_BYTES = 128 * 2**20


def resolve_device(device: Any) -> torch.device:
    """A :class:`torch.device`; a clear error when CUDA is asked for but unavailable."""
    dev = torch.device(device)
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device {device!r} requested but CUDA is not available")
    return dev


def synchronize(device: torch.device) -> None:
    """Wait for queued GPU work (so timings are honest)."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def rows_per_chunk(bytes_per_row: int, budget: int = CHUNK_BYTES) -> int:
    """How many rows of ``bytes_per_row`` fit in ``budget`` (at least 1)."""
    return max(1, int(budget // max(1, bytes_per_row)))
