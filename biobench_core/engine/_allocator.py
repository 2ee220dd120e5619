"""Keep freed memory in the process on CPU: glibc otherwise hands every large tensor back to the kernel.

A CPU forward pass allocates and frees activations of tens of megabytes per layer. glibc's malloc serves such
blocks with ``mmap`` and returns them with ``munmap`` (and trims its heap), so every batch faults its memory in
again page by page. On the 2-core machine of ``benchmarks/RESULTS.md`` that made EfficientNet-Lite0's fp32
forward pass 2.7 times slower (29 against 80 images/s on the same batches). :func:`retain_freed_memory` tells
glibc to serve large blocks from its heap and keep freed memory for reuse (the effect of a caching allocator such
as jemalloc or tcmalloc, which PyTorch's CPU performance guide recommends preloading).

It changes no result, only speed and memory: the process keeps its peak memory until it exits. It is applied
once per process, by the extraction loop on CPU, and only under glibc (elsewhere it does nothing).
``BIOBENCH_KEEP_FREED_MEMORY=0`` turns it off.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import platform

__all__ = ["retain_freed_memory", "ENV"]

ENV = "BIOBENCH_KEEP_FREED_MEMORY"

# glibc's mallopt parameters (malloc.h)
_M_TRIM_THRESHOLD, _M_TOP_PAD, _M_MMAP_MAX = -1, -2, -4

_applied: bool | None = None


def retain_freed_memory() -> bool:
    """Make glibc keep freed memory (see the module docstring); whether it is in effect. Idempotent."""
    global _applied
    if _applied is not None:
        return _applied
    _applied = False
    if os.environ.get(ENV, "1").strip() == "0" or platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        ok = (libc.mallopt(_M_MMAP_MAX, 0) == 1  # large blocks from the heap, not mmap
              and libc.mallopt(_M_TRIM_THRESHOLD, 2**31 - 1) == 1  # never give the heap's top back
              and libc.mallopt(_M_TOP_PAD, 256 * 2**20) == 1)  # grow the heap in large steps
    except (OSError, AttributeError):
        return False
    _applied = ok
    return ok
