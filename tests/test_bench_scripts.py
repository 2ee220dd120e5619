"""The GPU benchmark is runnable anywhere: without a CUDA GPU it says so and exits 0."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_gpu_extraction.py"


def test_gpu_benchmark_skips_cleanly_without_a_gpu():
    env = {**os.environ, "CUDA_VISIBLE_DEVICES": "", "HF_HUB_OFFLINE": "1"}
    proc = subprocess.run([sys.executable, str(SCRIPT)], capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("skipped: no CUDA GPU")


def test_the_indexing_bench_generates_data_every_task_accepts(tmp_path):
    """Each format generator of bench_task_indexing writes a dataset its task builds without error."""
    sys.path.insert(0, str(SCRIPT.parent))
    try:
        import bench_task_indexing as bench
    finally:
        sys.path.remove(str(SCRIPT.parent))
    from biobench_tasks import biobench_tasks

    suite = {spec.id for spec in biobench_tasks() if spec.needs_data and spec.id != "tasks/image-folder"}
    assert set(bench.GENERATORS) == suite
    for task_id, generate in bench.GENERATORS.items():
        root = tmp_path / task_id.split("/")[1]
        root.mkdir()
        generate(root, 640)
        task, examples = bench._index(task_id, root)
        assert examples["train"] and examples["test"], task_id
