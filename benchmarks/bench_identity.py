"""Identity: what it costs to name everything that decides a backbone's features and a result.

Every cache lookup computes the code identity of the backbone's plugin (distribution, version, a fingerprint of
its files' sizes and mtimes, its declared libraries' versions) and of the task's plugin; every planned experiment
also computes its result code (:func:`biobench_core.engine._identity.result_code`: the plugins, the extraction
protocol, the probe's and the metric's versions, and on an editable core the content of the files behind them).
The target is under 50 ms per backbone, so listing and cache hits stay fast. Measured in a fresh process (cold:
the first lookup of a run, including reading the distributions' metadata) and repeated (warm). Torch, timm and
open_clip are never imported. ``python benchmarks/bench_identity.py``.
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
from biobench_core.contract._catalog import resolve_backbone
from biobench_core.engine._identity import plugin_identity, result_code
spec = resolve_backbone(sys.argv[1])
t1 = time.perf_counter()
code = plugin_identity(spec)
t2 = time.perf_counter()
warm, per_result = [], []
for _ in range(20):
    s = time.perf_counter(); plugin_identity(spec); warm.append(time.perf_counter() - s)
    s = time.perf_counter(); result_code(code, code, "logreg", "accuracy"); per_result.append(time.perf_counter() - s)
warm.sort(); per_result.sort()
print(json.dumps({"cold_ms": (t2 - t1) * 1e3, "warm_ms": warm[len(warm) // 2] * 1e3,
                  "result_ms": per_result[len(per_result) // 2] * 1e3, "torch_imported": "torch" in sys.modules}))
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
    lines = ["| backbone | code identity, cold (ms) | warm (ms) | result code (ms) | target 50 ms / cold | "
             "imports torch |", "|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['backbone']} | {r['cold_ms']:.1f} | {r['warm_ms']:.2f} | {r['result_ms']:.2f} | "
                     f"{TARGET_MS / r['cold_ms']:.1f}x | {'yes' if r['torch_imported'] else 'no'} |")
    return "\n".join(lines)


if __name__ == "__main__":
    print(to_markdown(run()))
