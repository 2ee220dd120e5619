"""glibc keeps freed memory after the extraction loop ran on CPU (biobench_core.engine._allocator), unless turned off."""

from __future__ import annotations

import os
import platform
import subprocess
import sys

import pytest

SCRIPT = """
import ctypes, ctypes.util, torch
from biobench_core.engine import _allocator as allocator
class MallInfo2(ctypes.Structure):
    _fields_ = [(n, ctypes.c_size_t) for n in ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks",
                                                "fsmblks", "uordblks", "fordblks", "keepcost")]
libc = ctypes.CDLL(ctypes.util.find_library("c"))
libc.mallinfo2.restype = MallInfo2
print("applied", allocator.retain_freed_memory())
x = torch.empty(64 * 2**20, dtype=torch.uint8)  # 64 MiB: glibc would mmap it by default
print("mmapped", libc.mallinfo2().hblkhd >= 64 * 2**20)
del x
print("kept", libc.mallinfo2().arena >= 64 * 2**20)
"""


@pytest.mark.skipif(platform.system() != "Linux" or platform.libc_ver()[0] != "glibc", reason="glibc only")
@pytest.mark.parametrize("switch", ["1", "0"])
def test_large_blocks_come_from_the_heap_and_stay_after_free(switch):
    env = {**os.environ, "BIOBENCH_KEEP_FREED_MEMORY": switch}
    out = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, env=env, check=True).stdout
    if switch == "1":
        assert "applied True" in out and "mmapped False" in out and "kept True" in out, out
    else:
        assert "applied False" in out and "mmapped True" in out, out
