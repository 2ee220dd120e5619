"""``biobench report examples``: the drill-down on a 100,000-example task, end to end, against the issue's 2 s.

The generated store: 10 backbones on one task of 100,000 test examples over 1,000 classes (each prediction stored
with its class name, as a task with ``class_names`` stores it; backbones about 50-90% right), plus 2 smaller tasks
of 1,000 examples, written by :class:`biobench_core.ResultsStore` as a run writes them (1,020,000 predictions). The
task's plugin is not installed, so its files are not looked up (ids stand for files; a task built from its data
folder adds the time to list its examples, which ``bench_task_indexing`` measures).

Timed: the whole command, ``biobench report examples --task gen/big --backbone gen/b00 --backbone gen/b01`` (its
table of the first 50 examples each way, and the counts), in a fresh interpreter (start-up and imports included), the median of 3, wall-clock (the figure) and CPU time
(user + system, less sensitive to a shared machine's load); also with ``--json --max 0``, which lists every
example both ways. For comparison, in the same way: reading
every stored result with its predictions (what ``biobench report`` reads first), which the drill-down avoids by
choosing from the results' metadata and then reading the two chosen results' predictions alone.

``python benchmarks/bench_report_examples.py [--quick]``; ``--quick`` is 20,000 examples.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench_core import to_markdown  # the figure table every bench prints

FULL, QUICK = 100_000, 20_000
N_BACKBONES = 10
N_CLASSES = 1_000
TARGET_S = 2.0
SEED = 0

_READ_ALL = r"""
import sys, time
from biobench_core import ResultsStore
start = time.perf_counter()
with ResultsStore(sys.argv[1], readonly=True) as store:
    n = sum(len(r.examples) for r in store.experiments())
print(n)
"""


def generate(results: Path, n_examples: int) -> int:
    """Write the generated store (see the module doc); returns how many predictions it holds."""
    import numpy as np

    from biobench_core import ExperimentKey, ExperimentRecord, Prediction, ResultsStore

    rng = np.random.default_rng(SEED)
    total = 0
    with ResultsStore(results) as store:
        for task, n, classes in (("gen/big", n_examples, N_CLASSES), ("gen/small-1", 1000, 10),
                                 ("gen/small-2", 1000, 10)):
            y_true = rng.integers(0, classes, n)
            for b in range(N_BACKBONES):
                right = rng.random(n) < rng.uniform(0.5, 0.9)
                y_pred = np.where(right, y_true, rng.integers(0, classes, n))
                examples = [Prediction.of(f"img/{i:06d}.jpg", label=int(t), pred=int(p), score=float(t == p),
                                          pred_name=f"species {p}") for i, (t, p) in enumerate(zip(y_true, y_pred))]
                key = ExperimentKey(f"gen/b{b:02d}", "pretrained", task, "probe=logreg,dtype=fp32",
                                    data="0123456789abcdef")
                store.save(ExperimentRecord(key=key, comparable=True, score=float(right.mean()), examples=examples,
                                            splits={}, metric="accuracy", column_settings={"probe": "logreg"},
                                            posix_time=time.time(), argv=["biobench", "run"]))
                total += n
    return total


def _timed(args: list[str]) -> tuple[float, float, str]:
    """Wall-clock and CPU (user + system) seconds of ``python ARGS``, and its output."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, *args], capture_output=True, text=True, check=True)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime), proc.stdout


def run(quick: bool = False) -> list[dict[str, Any]]:
    n = QUICK if quick else FULL
    with tempfile.TemporaryDirectory() as folder:
        results = Path(folder) / "results"
        total = generate(results, n)
        command = ["-m", "biobench_core.cli", "report", "examples", "--task", "gen/big", "--backbone", "gen/b00",
                   "--backbone", "gen/b01", "--results", str(results)]
        drill = [_timed(command) for _ in range(3)]
        listing = [_timed([*command, "--json", "--max", "0"]) for _ in range(3)]
        found = json.loads(listing[0][2])
        read_all = [_timed(["-c", _READ_ALL, str(results)])[0] for _ in range(3)]
    seconds, cpu = statistics.median(w for w, _, _ in drill), statistics.median(c for _, c, _ in drill)
    everything, every_example = statistics.median(read_all), statistics.median(w for w, _, _ in listing)
    listed = found["a_right_b_wrong"]["count"] + found["b_right_a_wrong"]["count"]
    return [{"figure": f"report examples on a {n:,}-example task (s)", "value": seconds, "target": f"< {TARGET_S:g}",
             "ok": seconds < TARGET_S,
             "detail": f"a fresh `biobench report examples` over a store of {total:,} predictions ({N_BACKBONES} "
                       f"backbones x 3 tasks), median of 3 (CPU time {cpu:.2f} s); listing all {listed:,} "
                       f"disagreements (--json --max 0) {every_example:.2f} s; reading every "
                       f"stored result instead takes {everything:.2f} s ({everything / seconds:.1f}x)"}]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help=f"{QUICK:,} examples")
    args = parser.parse_args()
    print(to_markdown(run(quick=args.quick)))


if __name__ == "__main__":
    main()
