"""Leaderboard statistics at scale: one macro-F1 column, vectorised replicates vs a plain sklearn loop.

The column: 50 backbones x 100,000 test examples x 2,000 bootstrap resamples, macro-F1 over 1,000 classes,
synthetic predictions about 70% correct. Timed: ``leaderboard.column_statistics`` (point scores, every replicate
of every backbone, percentile intervals, the step-down tests against the best), in a child process whose
peak memory is reported (the target: under 2 GB, which chunking the resamples keeps). The baseline is a plain
per-resample loop over ``sklearn.metrics.f1_score`` on a slice (1 backbone x 20 resamples, the same resampled
examples, whose values must agree with ours), timed before and after ours and scaled up to the whole column.

``python benchmarks/bench_leaderboard.py [--quick]``; ``BIOBENCH_BENCH_LEADERBOARD=50,100000,2000`` (backbones,
examples, resamples) sets another size; ``--quick`` is 10 x 20,000 x 2,000.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
FULL = (50, 100_000, 2_000)
QUICK = (10, 20_000, 2_000)
N_CLASSES = 1_000
SLICE_RESAMPLES = 20
SEED = 42

_CHILD = r"""
import json, resource, sys, time, tracemalloc
import numpy as np
from biobench_core.results._leaderboard import RowData, column_statistics

backbones, n, resamples, n_classes, seed = (int(a) for a in sys.argv[1:6])
rng = np.random.default_rng(seed)
y_true = rng.integers(0, n_classes, n)
ids = [f"ex{i}" for i in range(n)]
rows = [RowData(ids, y_true, np.where(rng.random(n) < 0.7, y_true, rng.integers(0, n_classes, n)), np.zeros(n),
                "macro-f1") for _ in range(backbones)]
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
tracemalloc.start()
start = time.perf_counter()
col = column_statistics(rows, n_resamples=resamples, seed=[seed, 1])
seconds = time.perf_counter() - start
_, traced = tracemalloc.get_traced_memory()
tracemalloc.stop()
print(json.dumps({"seconds": seconds, "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "inputs_rss_mb": before / 1024, "traced_peak_mb": traced / 2**20,
                  "first_replicates": col.replicates[0, :%d].tolist(), "point": float(col.points[0]),
                  "tied": int((~col.below).sum())}))
""" % SLICE_RESAMPLES


def _sklearn_loop(n: int, n_classes: int, seed: int) -> tuple[float, list[float], float]:
    """Seconds per resample of a plain loop over sklearn's f1_score, its values, and its point score (backbone 0)."""
    import numpy as np
    from sklearn.metrics import f1_score

    from biobench_core import resample_index

    rng = np.random.default_rng(seed)
    y_true = rng.integers(0, n_classes, n)
    y_pred = np.where(rng.random(n) < 0.7, y_true, rng.integers(0, n_classes, n))  # the child's first backbone
    [index] = list(resample_index(n, SLICE_RESAMPLES, [seed, 1], chunk=SLICE_RESAMPLES, dtype=np.uint32))
    f1_score(y_true, y_pred, average="macro", zero_division=0)  # warm-up
    start = time.perf_counter()
    values = [float(f1_score(y_true[i], y_pred[i], average="macro", zero_division=0)) for i in index]
    per_resample = (time.perf_counter() - start) / SLICE_RESAMPLES
    return per_resample, values, float(f1_score(y_true, y_pred, average="macro", zero_division=0))


def size(quick: bool = False) -> tuple[int, int, int]:
    env = os.environ.get("BIOBENCH_BENCH_LEADERBOARD")
    if env:
        backbones, n, resamples = (int(v) for v in env.split(","))
        return backbones, n, resamples
    return QUICK if quick else FULL


def run(quick: bool = False) -> list[dict[str, Any]]:
    backbones, n, resamples = size(quick)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
    before, reference, point = _sklearn_loop(n, N_CLASSES, SEED)
    proc = subprocess.run([sys.executable, "-c", _CHILD, str(backbones), str(n), str(resamples), str(N_CLASSES),
                           str(SEED)], capture_output=True, text=True, check=True, env=env)
    ours = json.loads(proc.stdout.strip().splitlines()[-1])
    after, _, _ = _sklearn_loop(n, N_CLASSES, SEED)
    per_resample = (before + after) / 2  # the baseline slice is timed before and after ours, on a shared machine
    agree = max(abs(a - b) for a, b in zip(ours["first_replicates"], reference))
    loop = per_resample * backbones * resamples
    shape = f"{backbones} backbones x {n:,} examples x {resamples:,} resamples, macro-F1 over {N_CLASSES:,} classes"
    return [
        {"figure": "leaderboard statistics / plain loop over sklearn f1_score (time)", "value": ours["seconds"] / loop,
         "target": "-", "ok": agree < 1e-9 and abs(point - ours["point"]) < 1e-12,
         "detail": f"{ours['seconds']:.1f} s vs {loop:,.0f} s ({per_resample * 1000:.1f} ms per resample x "
                   f"{backbones * resamples:,}, measured on 1 backbone x {SLICE_RESAMPLES} resamples, before and "
                   f"after); speed-up {loop / ours['seconds']:,.0f}x; {shape}; replicates agree with sklearn within "
                   f"{agree:.1e}"},
        {"figure": "leaderboard statistics: peak memory of the process (MB)", "value": ours["peak_rss_mb"],
         "target": "< 2048", "ok": ours["peak_rss_mb"] < 2048,
         "detail": f"max RSS, inputs included ({ours['inputs_rss_mb']:.0f} MB before the statistics); "
                   f"{ours['traced_peak_mb']:.0f} MB allocated at the peak by the statistics (tracemalloc)"},
    ]


def to_markdown(rows: list[dict[str, Any]]) -> str:
    lines = ["| figure | value | target | met | detail |", "|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['figure']} | {r['value']:.4g} | {r['target']} | {'yes' if r['ok'] else 'NO'} | "
                     f"{r['detail']} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help=f"{QUICK[0]} x {QUICK[1]:,} x {QUICK[2]:,}")
    args = parser.parse_args()
    print(to_markdown(run(quick=args.quick)))


if __name__ == "__main__":
    main()
