"""The seeded stream of bootstrap positions that every interval in biobench draws from.

In the contract layer because ``BenchmarkReport.get_confidence_interval`` uses it; the leaderboard's statistics
(:mod:`biobench_core.results._stats`) draw from the same stream.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np

__all__ = ["CHUNK_ELEMENTS", "default_chunk", "resample_index"]

CHUNK_ELEMENTS = 1 << 22  # resampled positions per chunk: 32 MiB of int64 index + 32 MiB of float64 counts


def default_chunk(n: int) -> int:
    """Rows of resampled positions per chunk for ``n`` examples: about 4 million positions."""
    return max(1, CHUNK_ELEMENTS // max(n, 1))


def resample_index(n: int, n_resamples: int, seed: Any, chunk: int | None = None, *,
                   dtype: Any = np.int64) -> Iterator[np.ndarray]:
    """(rows, n) chunks of bootstrap positions, ``n_resamples`` rows in all, from ``np.random.default_rng(seed)``.

    The rows are the same whatever ``chunk`` is (one stream, drawn in order): chunking bounds memory only.
    ``dtype`` selects numpy's integer sampler (``np.uint32`` draws about twice as fast; a different stream).
    """
    if n < 1 or n_resamples < 1:
        raise ValueError(f"need n >= 1 and n_resamples >= 1, got {n} and {n_resamples}")
    chunk = default_chunk(n) if chunk is None else max(1, int(chunk))
    rng = np.random.default_rng(seed)
    for start in range(0, n_resamples, chunk):
        yield rng.integers(0, n, size=(min(chunk, n_resamples - start), n), dtype=dtype)
