"""The first impression: `make demo`'s run and report, timed against the 180 s bar, and what it must show.

``make demo`` runs ``biobench run --config examples/demo.toml`` then ``biobench report``. This bench runs the same
two commands on a fresh feature cache and a fresh results folder (so nothing is reused), times them, and checks what
must stay true of the demo: three rows (pretrained EfficientNet-Lite0, the same with random weights, a random ViT-Ti),
the pretrained row first, and no two rows' intervals overlapping. The figure is the demo's wall time over the bar
(target <= 1). The install step is not timed: ``make demo`` after ``make install``.

``python benchmarks/bench_demo.py``
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench_core import to_markdown  # the figure table every bench prints

REPO = Path(__file__).resolve().parents[1]
BAR_S = 180.0


def _biobench(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "biobench_core.cli", *args], capture_output=True, text=True,
                          env=env, cwd=REPO, check=True)


def what_it_shows(board: dict[str, Any]) -> tuple[bool, str]:
    """Whether the demo's leaderboard shows what it must: three rows, pretrained best, intervals apart."""
    rows = sorted(board["results"], key=lambda r: -r["score"])
    names = [f"{r['backbone']} [{r['weights']}] {r['score']:.3f} [{r['ci_low']:.3f}, {r['ci_high']:.3f}]"
             for r in rows]
    apart = all(better["ci_low"] > worse["ci_high"] for better, worse in zip(rows, rows[1:]))
    ok = len(rows) == 3 and rows[0]["weights"] == "pretrained" and apart
    return ok, "; ".join(names) + ("" if apart else " (intervals overlap)")


def bench_demo() -> list[dict[str, Any]]:
    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "HF_HUB_OFFLINE": "1", "BIOBENCH_CACHE": str(Path(tmp) / "cache"),
               "BIOBENCH_STATE": str(Path(tmp) / "state")}
        results = str(Path(tmp) / "demo")
        start = time.perf_counter()
        _biobench("run", "--config", "examples/demo.toml", "--results", results, "--quiet", env=env)
        _biobench("report", "--results", results, env=env)
        seconds = time.perf_counter() - start
        shows, detail = what_it_shows(json.loads(_biobench("report", "--results", results, "--format", "json",
                                                           env=env).stdout))
    return [{"figure": "make demo (run + report, fresh cache) / 180 s", "value": seconds / BAR_S, "target": "<= 1",
             "ok": seconds <= BAR_S and shows, "detail": f"{seconds:.0f} s; {detail}"}]


def run(quick: bool = False) -> list[dict[str, Any]]:
    return bench_demo()  # the demo has one size: --quick runs it whole too


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="accepted for run_all; the demo has one size")
    args = parser.parse_args()
    print(to_markdown(run(quick=args.quick)))


if __name__ == "__main__":
    main()
