"""`make bench`: every benchmark, printed and written to benchmarks/RESULTS.md with the machine it ran on.

``python benchmarks/run_all.py [--quick] [--out PATH]``
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import bench_cache_checksum  # noqa: E402
import bench_core  # noqa: E402
import bench_coverage  # noqa: E402
import bench_demo  # noqa: E402
import bench_extraction  # noqa: E402
import bench_html_report  # noqa: E402
import bench_identity  # noqa: E402
import bench_layers  # noqa: E402
import bench_leaderboard  # noqa: E402
import bench_probe_selection  # noqa: E402
import bench_probes  # noqa: E402
import bench_report_examples  # noqa: E402
import bench_report_plots  # noqa: E402
import bench_scaleout  # noqa: E402
import bench_task_indexing  # noqa: E402
import bench_ties  # noqa: E402
import bench_validate_task  # noqa: E402


def machine() -> str:
    import torch

    cpu = platform.processor() or "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return (f"{cpu}, {os.cpu_count()} cores, torch {torch.__version__} ({torch.get_num_threads()} threads), "
            f"Python {platform.python_version()}, {platform.system()} {platform.release()}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller sizes")
    parser.add_argument("--out", default=str(HERE / "RESULTS.md"))
    args = parser.parse_args()
    demo = bench_demo.run(quick=args.quick)  # first, while the machine is as quiet as it will be
    print(bench_demo.to_markdown(demo), flush=True)
    layers = bench_layers.run(quick=args.quick)
    print(bench_layers.to_markdown(layers), flush=True)
    core = bench_core.run(quick=args.quick)
    print(bench_core.to_markdown(core), flush=True)
    extraction = bench_extraction.run(quick=args.quick)
    print(bench_extraction.to_markdown(extraction), flush=True)
    probes = bench_probes.run(quick=args.quick)
    print(bench_probes.to_markdown(probes), flush=True)
    selection = bench_probe_selection.run(quick=args.quick)
    print(bench_probe_selection.to_markdown(selection), flush=True)
    identity = bench_identity.run(quick=args.quick)
    print(bench_identity.to_markdown(identity), flush=True)
    checksum = bench_cache_checksum.run(quick=args.quick)
    print(bench_cache_checksum.to_markdown(checksum), flush=True)
    board = bench_leaderboard.run(quick=args.quick)
    print(bench_leaderboard.to_markdown(board), flush=True)
    coverage = bench_coverage.run(quick=args.quick)
    print(bench_coverage.to_markdown(coverage), flush=True)
    tie_tests = bench_ties.run(quick=args.quick)
    print(bench_ties.to_markdown(tie_tests), flush=True)
    indexing = bench_task_indexing.run(quick=args.quick)
    print(bench_task_indexing.to_markdown(indexing), flush=True)
    scaleout = bench_scaleout.run(quick=args.quick)
    print(bench_scaleout.to_markdown(scaleout), flush=True)
    validate = bench_validate_task.run(quick=args.quick)
    print(bench_validate_task.to_markdown(validate), flush=True)
    html_report = bench_html_report.run(quick=args.quick)
    print(bench_html_report.to_markdown(html_report), flush=True)
    plots = bench_report_plots.run(quick=args.quick)
    print(bench_report_plots.to_markdown(plots), flush=True)
    drill = bench_report_examples.run(quick=args.quick)
    print(bench_report_examples.to_markdown(drill), flush=True)
    text = (
        "# Benchmark results\n\n"
        f"Measured {datetime.date.today().isoformat()} by `make bench`{' --quick' if args.quick else ''} on: "
        f"{machine()}.\n\nEvery figure is a ratio of two timings from the same run on the same machine.\n\n"
        "## The first impression: make demo\n\n`python benchmarks/bench_demo.py` (what is measured: its "
        "docstring).\n\n" + bench_demo.to_markdown(demo) + "\n\n"
        "## The core's shape: layers\n\n`python benchmarks/bench_layers.py` (what is measured: its docstring).\n\n"
        + bench_layers.to_markdown(layers) + "\n\n"
        "## Core: listing and cache\n\n" + bench_core.to_markdown(core) + "\n\n"
        "## Extraction: the input pipeline\n\n`python benchmarks/bench_extraction.py` (what is measured: its "
        "docstring).\n\n" + bench_extraction.to_markdown(extraction) + "\n\n"
        "## Probes vs scikit-learn\n\n" + bench_probes.to_markdown(probes) + "\n\n"
        "## Choosing C on the task's metric\n\n`python benchmarks/bench_probe_selection.py` (what is measured: its "
        "docstring).\n\n" + bench_probe_selection.to_markdown(selection) + "\n\n"
        "## Cache identity\n\n`python benchmarks/bench_identity.py`: the code identity of a backbone's plugin, computed "
        "on every cache lookup (target under 50 ms).\n\n" + bench_identity.to_markdown(identity) + "\n\n"
        "## Feature cache checksum\n\n`python benchmarks/bench_cache_checksum.py` (what is measured: its "
        "docstring).\n\n" + bench_cache_checksum.to_markdown(checksum) + "\n\n"
        "## Leaderboard statistics\n\n`python benchmarks/bench_leaderboard.py` (sizes: its docstring).\n\n"
        + bench_leaderboard.to_markdown(board) + "\n\n"
        "## Interval coverage at the ceiling\n\n`python benchmarks/bench_coverage.py` (the simulation model and the "
        "methods: its docstring).\n\n" + bench_coverage.to_markdown(coverage) + "\n\n"
        "## Ties with the best: error rate and power\n\n`python benchmarks/bench_ties.py` (the simulation and the "
        "procedures: its docstring).\n\n" + bench_ties.to_markdown(tie_tests) + "\n\n"
        "## Task indexing\n\n`python benchmarks/bench_task_indexing.py` (what is measured: its docstring).\n\n"
        + bench_task_indexing.to_markdown(indexing) + "\n\n"
        "## Scale-out\n\n`python benchmarks/bench_scaleout.py` (what is measured: its docstring).\n\n"
        + bench_scaleout.to_markdown(scaleout) + "\n\n"
        "## Validating a task plugin\n\n`python benchmarks/bench_validate_task.py` (what is measured: its "
        "docstring).\n\n" + bench_validate_task.to_markdown(validate) + "\n\n"
        "## The HTML leaderboard\n\n`python benchmarks/bench_html_report.py` (the generated results and what is "
        "timed: its docstring).\n\n" + bench_html_report.to_markdown(html_report) + "\n\n"
        "## The plots (report --plots)\n\n`python benchmarks/bench_report_plots.py` (the generated results and "
        "what is timed: its docstring).\n\n" + bench_report_plots.to_markdown(plots) + "\n\n"
        "## The drill-down (report examples)\n\n`python benchmarks/bench_report_examples.py` (the generated store and "
        "what is timed: its docstring).\n\n" + bench_report_examples.to_markdown(drill) + "\n\n"
        "## GPU\n\n`make bench-gpu` (benchmarks/bench_gpu_extraction.py) measures the same extraction efficiency on\n"
        "a CUDA GPU and skips cleanly without one; the last measurement on an H200 is in RESULTS-gpu.md.\n"
    )
    Path(args.out).write_text(text)
    print(f"wrote {args.out}")
    missed = [r["figure"] for r in demo + core + checksum + extraction + board + scaleout + selection + validate
              + html_report + plots + drill if not r["ok"]] + [
        f"task indexing {r['task']}" for r in indexing if not r["ok"]]
    if missed:
        print("targets missed: " + "; ".join(missed), file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
