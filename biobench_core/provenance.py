"""Where a result came from and what it cost: the code behind it, library versions, host, device, peak memory."""

from __future__ import annotations

import hashlib
import json
import resource
import sys
from typing import Any

from biobench_core.plugins import get_registry

__all__ = ["versions", "peak_memory_mb", "device_name", "code_behind", "changed_code"]


def code_behind(*identities: dict[str, Any]) -> dict[str, str]:
    """A fingerprint of every piece of code that determines a result, keyed by distribution name (so
    :func:`changed_code` can say which one changed): biobench-core itself (probes, metrics, extraction) and each of
    ``identities``, the code identities of the backbone's and the task's plugins
    (:func:`biobench_core.feature_source.code_identity`: version, the sizes and mtimes of its files, the versions
    of the libraries it builds on)."""
    import biobench_core
    from biobench_core.identity import distribution_identity

    parts = {"biobench-core": distribution_identity("biobench-core", biobench_core.__version__, ("biobench_core",))}
    for ident in identities:
        name = ident.get("distribution") or "unknown plugin"
        parts[name] = ident if name not in parts else {"merged": [parts[name], ident]}
    return {name: hashlib.sha256(json.dumps(ident, sort_keys=True).encode()).hexdigest()[:24]
            for name, ident in parts.items()}


def changed_code(stored: dict[str, str] | None, current: dict[str, str]) -> list[str]:
    """The distributions whose code differs between a stored result and now (``["?"]``: not recorded)."""
    if not stored:
        return ["?"]
    return [name for name in sorted(set(stored) | set(current)) if stored.get(name) != current.get(name)]


def versions(*item_ids: str) -> dict[str, str]:
    """biobench-core's version, the versions of the plugins that provide ``item_ids``, and torch's."""
    import biobench_core

    registry = get_registry()
    out = {"biobench-core": biobench_core.__version__}
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
