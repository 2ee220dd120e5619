"""The two halves of :func:`~biobench_core.engine._extraction.extract`'s input pipeline, for benchmarks that time
them without the forward pass: decoding images to uint8 pixels, and reading a pixel cache entry.

Each yields what ``extract`` consumes, batch by batch: ``(positions, pixels, frames per example, messages of the
examples that could not be decoded, frames scaled from a high bit depth)``, ``pixels`` a uint8
``(frames, H, W, 3)`` tensor or ``None`` when no example of the batch decoded.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence

import torch

from biobench_core.contract._preprocessing import Geometry
from biobench_core.contract._tasks import Example, Task
from biobench_core.engine._extraction import Batch, _cached_batches, _collate, _Decoded, _prefetched, _ToPixels
from biobench_core.engine._pixel_cache import PixelEntry

__all__ = ["decoded_pixel_batches", "cached_pixel_batches"]


def decoded_pixel_batches(task: Task, examples: Sequence[Example], geometry: Geometry, *, batch_size: int,
                          workers: int, pin: bool) -> Iterable[Batch]:
    """``examples`` decoded and cut to ``geometry`` by ``task.load`` in ``workers`` DataLoader processes, as
    ``extract`` does under a declared preprocessing (pinned memory when ``pin``; bad images skipped and named).

    Returns the DataLoader: ``iter()`` on it starts the workers; dropping that iterator stops them.
    """
    return torch.utils.data.DataLoader(
        _Decoded(task, examples, _ToPixels(geometry), "skip"), batch_size=batch_size, num_workers=workers,
        collate_fn=_collate, pin_memory=pin, persistent_workers=False, prefetch_factor=4 if workers > 0 else None)


def cached_pixel_batches(entry: PixelEntry, batch_size: int, pin: bool) -> Iterator[Batch]:
    """A pixel cache entry read as ``extract`` reads it: copied out of the memory map (into pinned memory when
    ``pin``) by a background thread a few batches ahead."""
    return _prefetched(_cached_batches(entry, batch_size, pin))
