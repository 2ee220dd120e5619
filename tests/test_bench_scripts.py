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



def test_the_scaleout_bench_s_matrix_plans_every_executor(tmp_path, monkeypatch):
    """bench_scaleout's generated plugin, data and configs make the cells it times, for each executor it uses."""
    monkeypatch.syspath_prepend(str(SCRIPT.parent))
    import bench_scaleout as bench

    from biobench_core.scaleout._config import load_config
    from biobench_core.contract._registry import reset_registry
    from biobench_core.scaleout._runner import RunOptions, plan_cells

    env = bench._setup(tmp_path)
    for key in ("BIOBENCH_LOAD_PLUGINS", "BIOBENCH_CACHE"):
        monkeypatch.setenv(key, env[key])
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    reset_registry()
    for executor in ('kind = "local"\njobs = 2', 'kind = "slurm"\njobs = 1\npartition = "debug"\ntime = 30'):
        config = load_config(bench._matrix(tmp_path, "m", 3, executor))
        cells = plan_cells(config.backbones, config.tasks, RunOptions(results_dir=tmp_path / "m"))
        assert [c.name for c in cells] == [f"bench/net [w{i}] on tasks/image-folder" for i in range(3)]
        assert config.executor.kind in executor and cells[0].n_images == 3 * (bench.N_TRAIN + bench.N_TEST)


def test_the_demo_bench_checks_what_the_demo_must_show(monkeypatch):
    """bench_demo fails the demo unless it shows three rows, pretrained first, with intervals apart (issue 18)."""
    monkeypatch.syspath_prepend(str(SCRIPT.parent))
    import bench_demo

    def row(weights, score, low, high):
        return {"backbone": "effnet/lite0", "weights": weights, "score": score, "ci_low": low, "ci_high": high}

    good = [row("random", 0.85, 0.80, 0.89), row("pretrained", 0.97, 0.94, 0.99), row("random", 0.62, 0.56, 0.68)]
    assert bench_demo.what_it_shows({"results": good})[0]
    overlapping = [good[0], good[1], row("random", 0.70, 0.60, 0.81)]
    ok, detail = bench_demo.what_it_shows({"results": overlapping})
    assert not ok and "overlap" in detail
    assert not bench_demo.what_it_shows({"results": good[:2]})[0]
    assert not bench_demo.what_it_shows({"results": [row("random", 0.99, 0.98, 1.0), *good[:1], good[2]]})[0]
