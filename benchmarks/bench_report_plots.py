"""``biobench report --plots``: the time to write every plot of a 50-backbone x 12-task leaderboard.

Generated results (no runs): 50 backbones x 12 tasks of 400 test examples each (10 tasks scored by accuracy, 2 by
macro-F1), each backbone with its own extraction speed; 2 tasks report 8 group scores (``splits``), and the first
task was also run at ``n_train`` = 16, 64 and 256, so every kind of plot is drawn: 15 task charts, the benchmark
mean against cost, the rank heatmap, a learning curve and 2 split heatmaps, each as PNG and SVG. The leaderboard is
built first (not timed: the report formats share it); timed is what ``--plots`` adds: importing matplotlib, planning
the plots, drawing them and writing the files (:func:`biobench_core.cli._plots.write_plot_files`), in a fresh
process. The issue's target is the HTML page and all plots in under 10 s together; this bench reports the plots'
share.

``python benchmarks/bench_report_plots.py [--quick]``; ``--quick`` is 10 backbones x 4 tasks.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from bench_core import to_markdown  # the figure table every bench prints

REPO = Path(__file__).resolve().parents[1]
FULL = (50, 12)
QUICK = (10, 4)
N_EXAMPLES = 400
N_TRAIN = (16, 64, 256)
SEED = 0

_CHILD = r"""
import io, json, sys, tempfile, time, contextlib
from pathlib import Path
sys.path.insert(0, sys.argv[3])
from bench_report_plots import generated_records
from biobench_core.results._leaderboard import build_leaderboard

backbones, tasks = int(sys.argv[1]), int(sys.argv[2])
start = time.perf_counter()
board = build_leaderboard(generated_records(backbones, tasks))
built = time.perf_counter() - start
with tempfile.TemporaryDirectory() as out, contextlib.redirect_stderr(io.StringIO()) as said:
    start, cpu = time.perf_counter(), time.process_time()
    import matplotlib
    from biobench_core.cli._plots import plan_plot_files, write_plot_files
    plots = plan_plot_files(board, Path(out), "generated", force=False)
    write_plot_files(plots, Path(out))  # a file it cannot write raises (OutputError): the child fails
    code = 0
    seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
    files = sorted(Path(out).iterdir())
    size = sum(f.stat().st_size for f in files)
print(json.dumps({"seconds": seconds, "cpu": cpu, "build_seconds": built, "files": len(files), "plots": len(plots),
                  "bytes": size, "code": code, "lines": said.getvalue().count("\n"),
                  "columns": len(board.columns)}))
"""


def generated_records(n_backbones: int, n_tasks: int, n_examples: int = N_EXAMPLES, seed: int = SEED) -> list[Any]:
    """Stored-result records of ``n_backbones`` x ``n_tasks`` (see the module doc), as a store would return them."""
    import numpy as np

    from biobench_core import ExperimentKey, ExperimentRecord, Prediction

    rng = np.random.default_rng(seed)
    skill = rng.uniform(0.4, 0.9, n_backbones)
    speed = rng.uniform(50, 3000, n_backbones)
    records = []
    for t in range(n_tasks):
        n_classes = 5 + t
        y_true = np.arange(n_examples) % n_classes
        metric = "macro-f1" if t >= n_tasks - 2 else "accuracy"
        runs = [None, *N_TRAIN] if t == 0 else [None]
        for n_train in runs:
            for b in range(n_backbones):
                level = skill[b] * (1 if n_train is None else 0.6 + 0.1 * N_TRAIN.index(n_train))
                right = rng.random(n_examples) < level + rng.normal(0, 0.03)
                y_pred = np.where(right, y_true, (y_true + 1) % n_classes)
                examples = [Prediction.of(f"ex{i}", label=int(a), pred=int(p), score=float(a == p))
                            for i, (a, p) in enumerate(zip(y_true, y_pred))]
                settings = {"probe": "logreg", **({} if n_train is None else {"n_train": str(n_train)})}
                splits = ({f"group {g}": float(right[g::8].mean()) for g in range(8)}
                          if t in (1, 2) and n_train is None else {})
                key = ExperimentKey(f"gen/backbone-{b:02d}", "pretrained", f"gen/task-{t:02d}",
                                    ",".join(f"{k}={v}" for k, v in settings.items()), data="0123456789abcdef")
                records.append(ExperimentRecord(key=key, comparable=True, score=float(right.mean()),
                                                examples=examples, splits=splits, metric=metric,
                                                column_settings=settings, images_per_second=float(speed[b])))
    return records


def run(quick: bool = False) -> list[dict[str, Any]]:
    backbones, tasks = QUICK if quick else FULL
    with tempfile.TemporaryDirectory() as state:  # the ledger of written reports: never the user's
        env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]),
               "BIOBENCH_STATE": state}
        proc = subprocess.run([sys.executable, "-c", _CHILD, str(backbones), str(tasks), str(Path(__file__).parent)],
                              capture_output=True, text=True, check=True, env=env)
    r = json.loads(proc.stdout.strip().splitlines()[-1])
    return [{"figure": f"report --plots: all plots of {backbones} backbones x {tasks} tasks (s)", "value": r["seconds"],
             "target": "< 10 (with the HTML page)", "ok": r["seconds"] < 10 and r["code"] == 0,
             "detail": f"{r['cpu']:.1f} s of CPU time (the wall time counts a busy machine too); {r['plots']} plots, "
                       f"{r['files']} files (PNG + SVG), {r['bytes'] / 1e6:.1f} MB; "
                       f"{r['columns']} columns of {N_EXAMPLES} examples; matplotlib import included; the "
                       f"leaderboard they share took {r['build_seconds']:.1f} s to build (not counted)"}]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help=f"{QUICK[0]} backbones x {QUICK[1]} tasks")
    args = parser.parse_args()
    print(to_markdown(run(quick=args.quick)))


if __name__ == "__main__":
    main()
