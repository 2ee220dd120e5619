"""Cache identity: what it costs to name everything that decides a backbone's features.

Every cache lookup computes the code identity of the backbone's plugin (distribution, version, a fingerprint of
its files' sizes and mtimes, its declared libraries' versions) and of the task's plugin. The target is under
50 ms per backbone, so listing and cache hits stay fast. Measured in a fresh process (cold: the first lookup of a
run, including reading the distributions' metadata) and repeated (warm). Torch, timm and open_clip are never
imported. ``python benchmarks/bench_identity.py``.
"""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

TARGET_MS = 50.0

_CHILD = r"""
import json, sys, time
t0 = time.perf_counter()
from biobench_core.catalog import resolve_backbone
from biobench_core.feature_source import code_identity
spec = resolve_backbone(sys.argv[1])
t1 = time.perf_counter()
code_identity(spec)
t2 = time.perf_counter()
warm = []
for _ in range(20):
    s = time.perf_counter(); code_identity(spec); warm.append(time.perf_counter() - s)
warm.sort()
print(json.dumps({"cold_ms": (t2 - t1) * 1e3, "warm_ms": warm[len(warm) // 2] * 1e3,
                  "torch_imported": "torch" in sys.modules}))
"""

BACKBONES = ("timm/vit_small_patch16_224.augreg_in21k", "openclip/ViT-B-16:openai", "effnet/lite0")


def run(quick: bool = False) -> list[dict[str, Any]]:
    del quick
    rows = []
    for backbone in BACKBONES:
        out = subprocess.run([sys.executable, "-c", _CHILD, backbone], capture_output=True, text=True, check=True)
        result = json.loads(out.stdout)
        rows.append({"backbone": backbone, **result, "ok": result["cold_ms"] < TARGET_MS
                     and not result["torch_imported"]})
    return rows


def to_markdown(rows: list[dict[str, Any]]) -> str:
    lines = ["| backbone | code identity, cold (ms) | warm (ms) | target 50 ms / cold | imports torch |",
             "|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['backbone']} | {r['cold_ms']:.1f} | {r['warm_ms']:.2f} | "
                     f"{TARGET_MS / r['cold_ms']:.1f}x | {'yes' if r['torch_imported'] else 'no'} |")
    return "\n".join(lines)


if __name__ == "__main__":
    print(to_markdown(run()))
