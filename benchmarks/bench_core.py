"""Figures for the core: listing speed and the feature cache's payoff (extraction: bench_extraction.py).

Every figure is a ratio of two timings taken in the same run on the same machine, so it travels between
machines better than a raw number. Run through ``make bench`` (``benchmarks/run_all.py``) or alone:
``python benchmarks/bench_core.py [--quick]``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]


def _wall(cmd: list[str], env: dict[str, str] | None = None, repeat: int = 5) -> float:
    """Median wall time of a whole process."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        subprocess.run(cmd, check=True, capture_output=True, env={**os.environ, **(env or {})})
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def bench_listing(repeat: int = 5) -> list[dict[str, Any]]:
    """`biobench backbones` (whole process, every plugin, full catalogues) vs `import torch`; in-process listing."""
    listing = _wall([sys.executable, "-m", "biobench_core.cli", "backbones"], repeat=repeat)
    torch_import = _wall([sys.executable, "-c", "import torch"], repeat=repeat)
    code = (
        "import time\n"
        "t0 = time.perf_counter()\n"
        "import biobench_core as bb\n"
        "n = len(bb.list_backbones())\n"
        "t1 = time.perf_counter()\n"
        "times = []\n"
        "for _ in range(20):\n"
        "    s = time.perf_counter(); hits = bb.list_backbones('vit_*'); times.append(time.perf_counter() - s)\n"
        "times.sort()\n"
        "print(n, len(hits), t1 - t0, times[len(times) // 2])\n"
    )
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True).stdout.split()
    n_all, n_vit, cold, pattern = int(out[0]), int(out[1]), float(out[2]), float(out[3])
    return [
        {"figure": "`biobench backbones` process / `python -c 'import torch'`", "value": listing / torch_import,
         "target": "<= 0.15", "ok": listing / torch_import <= 0.15,
         "detail": f"{listing * 1000:.0f} ms vs {torch_import * 1000:.0f} ms; {n_all} backbones"},
        {"figure": "in-process `list_backbones('vit_*')`, registry warm (ms)", "value": pattern * 1000,
         "target": "< 50", "ok": pattern * 1000 < 50, "detail": f"{n_vit} matches of {n_all}"},
        {"figure": "in-process import + discovery + full listing, cold (ms)", "value": cold * 1000,
         "target": "-", "ok": True, "detail": "all installed plugins"},
    ]


def bench_cache(subset: int | None = None) -> list[dict[str, Any]]:
    """Wall time of `biobench run --force` with features in the cache / the first run's (extraction + probe).

    ``subset=None`` is the whole task (8,000 train + 2,000 test images).
    """
    with tempfile.TemporaryDirectory() as tmp:
        env = {"BIOBENCH_CACHE": str(Path(tmp) / "cache")}
        cmd = [sys.executable, "-m", "biobench_core.cli", "run", "--backbone", "effnet/lite0", "--task",
               "animal-silhouettes", "--dtype", "bf16", "--results", str(Path(tmp) / "results"), "--quiet"]
        if subset is not None:
            cmd += ["--set", f"subset={subset}"]
        first = _wall(cmd, env, repeat=1)
        again = _wall([*cmd, "--force"], env, repeat=1)
    return [{"figure": "repeated `run --force` (features cached, probe refitted) / first run", "value": again / first,
             "target": "<= 0.1", "ok": again / first <= 0.1,
             "detail": f"{again:.1f} s vs {first:.1f} s; effnet/lite0 bf16, animal-silhouettes "
                       + (f"subset={subset}" if subset else "whole task (10,000 images)")}]


def to_markdown(rows: list[dict[str, Any]]) -> str:
    lines = ["| figure | value | target | met | detail |", "|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['figure']} | {r['value']:.3f} | {r['target']} | {'yes' if r['ok'] else 'NO'} | "
                     f"{r['detail']} |")
    return "\n".join(lines)


def run(quick: bool = False) -> list[dict[str, Any]]:
    rows = bench_listing(repeat=3 if quick else 5)
    rows += bench_cache(subset=400 if quick else None)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller sizes, about a minute")
    args = parser.parse_args()
    print(to_markdown(run(quick=args.quick)))


if __name__ == "__main__":
    main()
