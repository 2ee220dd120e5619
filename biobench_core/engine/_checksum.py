"""The checksum a feature-cache entry records for each of its arrays, so damaged content is never served.

A ``.npy`` file whose body was overwritten (zeroed by a filesystem fault, a bad copy, a hand edit) still loads as
a well-formed array of the right shape; only its content can tell. The checksum is xxHash's XXH3 (128 bits) of
the array's raw bytes, hashed in place through a memoryview (no copy). It was chosen by measurement
(``benchmarks/bench_cache_checksum.py``): on 100,000 x 1,024 float32 features XXH3 hashes at memory speed, a
small fraction of reading the entry, where BLAKE2b and SHA-256 cost several times the read. It guards against
accidents, not against an adversary who can write the cache.

A value names its algorithm (``"xxh3-128:<hex>"``), so a future change of algorithm is recognised, not misread.
"""

from __future__ import annotations

import numpy as np
import xxhash

__all__ = ["ALGORITHM", "array_checksum"]

ALGORITHM = "xxh3-128"


def array_checksum(array: np.ndarray) -> str:
    """``"xxh3-128:<hex>"`` of the bytes of a C-contiguous ``array`` (a memory map is read once, never copied)."""
    if not array.flags.c_contiguous:
        raise ValueError("array_checksum needs a C-contiguous array (its bytes are hashed in place)")
    return f"{ALGORITHM}:{xxhash.xxh3_128_hexdigest(memoryview(array))}"
