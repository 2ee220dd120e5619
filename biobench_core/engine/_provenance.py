"""Where a result came from and what it cost: library versions, host, device, peak memory.

What code a result depends on (and so when it is redone) is :mod:`biobench_core.engine._identity`'s.
"""

from __future__ import annotations

import resource
import sys
from typing import Any

from biobench_core import _version
from biobench_core.contract._registry import get_registry

__all__ = ["versions", "peak_memory_mb", "device_name"]


def versions(*item_ids: str) -> dict[str, str]:
    """biobench-core's version, the versions of the plugins that provide ``item_ids``, and torch's."""
    registry = get_registry()
    out = {"biobench-core": _version.__version__}
    for item in item_ids:
        owner = registry.owner_of(item)
        if owner is not None:
            out[owner.name] = owner.version
    torch = sys.modules.get("torch")
    if torch is not None:
        out["torch"] = torch.__version__
    return out


def peak_memory_mb(device: Any) -> float:
    """Peak GPU memory allocated on a CUDA ``device``; on CPU the process's peak resident memory so far."""
    import torch

    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**20
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def device_name(device: Any) -> str:
    import torch

    return torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu"
