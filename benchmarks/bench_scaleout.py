"""Scale-out: what running a matrix through workers costs on top of the experiments themselves.

Overhead per cell: the wall time of an N-cell matrix through ``biobench run --config`` (launcher, workers,
claims, store) divided by the sum of the cells' own run times (each stored result's extraction plus probe
seconds); target at most 1.2 for cells of 30 s or more. Measured through the local executor (one worker) and,
when a Slurm cluster answers (``plugins/biobench-slurm/scripts/cluster.sh start``), through Slurm (one job). The
cells sleep in ``img_encode`` (``SCALE_DELAY``), so their own time is known and the ratio is the machinery's.

Scaling: the same matrix with CPU-bound cells (``SCALE_SPIN``: a busy loop on one torch thread) through 1, then 2
local worker processes; the speedup on this 2-core machine (2.0 would be perfect).

``python benchmarks/bench_scaleout.py [--quick]`` (cells of about 45 s; quick: 3 cells of about 5 s).
"""

from __future__ import annotations

import argparse
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

TARGET = 1.2

PLUGIN = '''
from biobench_core import BackboneSpec, hookimpl

@hookimpl
def biobench_backbones():
    yield BackboneSpec(id="bench/net", factory="bench_scale.model:Net", embed_dim=8, input_size=16)
'''

MODEL = '''
import os, time
import torch
from torchvision import transforms
from biobench_core import EncodedImgBatch, VisionBackbone

class Net(VisionBackbone):
    def __init__(self, spec, weights=None):
        super().__init__()
        torch.manual_seed(0)
        self.net = torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3, padding=1), torch.nn.ReLU())
        self.weights_id = f"random:{weights}"

    def img_encode(self, batch):
        time.sleep(float(os.environ.get("SCALE_DELAY", "0")))
        spin = float(os.environ.get("SCALE_SPIN", "0"))
        if spin:
            a, end = torch.randn(64, 64), time.perf_counter() + spin
            while time.perf_counter() < end:
                a = torch.tanh(a @ a)
        fmap = self.net(batch)
        return EncodedImgBatch(fmap.mean(dim=(2, 3)), None)

    def make_img_transform(self):
        return transforms.Compose([transforms.Resize((16, 16)), transforms.ToTensor()])
'''

N_TRAIN, N_TEST, BATCH = 4, 2, 2  # per class, 3 classes: 18 images, 9 batches per cell


def _setup(root: Path) -> dict[str, str]:
    import numpy as np
    from PIL import Image

    from biobench_core.testing import write_distribution

    write_distribution(root / "site", "biobench-bench-scale", {"bench_scale.__init__": PLUGIN,
                                                               "bench_scale.model": MODEL}, {"bench": "bench_scale"})
    rng = np.random.default_rng(0)
    for split, n in (("train", N_TRAIN), ("test", N_TEST)):
        for c, colour in enumerate(((200, 30, 30), (30, 200, 30), (30, 30, 200))):
            folder = root / "data" / split / f"c{c}"
            folder.mkdir(parents=True, exist_ok=True)
            for i in range(n):
                pixels = np.clip(np.array(colour) + rng.normal(0, 25, (16, 16, 3)), 0, 255).astype(np.uint8)
                Image.fromarray(pixels).save(folder / f"{i}.png")
    return {"PYTHONPATH": os.pathsep.join(filter(None, [str(root / "site"), os.environ.get("PYTHONPATH")])),
            "BIOBENCH_LOAD_PLUGINS": "biobench-bench-scale,biobench-tasks,biobench-slurm", "HF_HUB_OFFLINE": "1",
            "BIOBENCH_CACHE": str(root / "cache"), "PYTHONUNBUFFERED": "1"}


def _matrix(root: Path, name: str, cells: int, executor: str) -> Path:
    weights = ", ".join(f'"w{i}"' for i in range(cells))
    path = root / f"{name}.toml"
    path.write_text(f'''results = "{root / name}"
device = "cpu"
workers = 0
batch_size = {BATCH}

[[backbone]]
id = "bench/net"
weights = [{weights}]

[[task]]
id = "tasks/image-folder"
data = "{root / 'data'}"
settings = {{ probe = "simpleshot" }}

[executor]
{executor}
''')
    return path


def _run(root: Path, env: dict[str, str], name: str, cells: int, executor: str, extra: dict[str, str]
         ) -> dict[str, Any]:
    config = _matrix(root, name, cells, executor)
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "biobench_core.cli", "run", "--config", str(config), "--quiet",
                           "--no-cache"], capture_output=True, text=True, env={**os.environ, **env, **extra},
                          timeout=3600)
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        raise RuntimeError(f"bench_scaleout {name}: biobench run failed:\n{proc.stderr[-3000:]}")
    with sqlite3.connect(root / name / "biobench.sqlite") as db:
        rows = db.execute("SELECT COALESCE(extract_seconds, 0) + COALESCE(fit_seconds, 0) FROM experiments").fetchall()
    own = sum(r[0] for r in rows)
    assert len(rows) == cells, (name, len(rows))
    return {"wall": wall, "own": own, "cells": cells, "cell": own / cells}


def _slurm_env() -> dict[str, str] | None:
    """The env of a running local cluster (plugins/biobench-slurm/scripts/cluster.sh), or ``None`` when none answers."""
    env_file = Path(os.environ.get("BIOBENCH_SLURM_DIR", "/tmp/biobench-slurm")) / "env"
    if not env_file.exists() or shutil.which("scontrol") is None:
        return None
    env = dict(line.split("=", 1) for line in env_file.read_text().splitlines() if "=" in line)
    ping = subprocess.run(["scontrol", "ping"], capture_output=True, text=True, env={**os.environ, **env}, timeout=10)
    return env if ping.returncode == 0 and "UP" in ping.stdout else None


def run(quick: bool = False) -> list[dict[str, Any]]:
    cells = 3 if quick else 4
    delay = 0.5 if quick else 5.0  # per batch: 9 batches per cell, so cells of about 5 s or 45 s
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench-scaleout-") as tmp:
        root = Path(tmp)
        env = _setup(root)
        sleep = {"SCALE_DELAY": str(delay)}
        local = _run(root, env, "local", cells, 'kind = "local"\njobs = 1', sleep)
        rows.append({"figure": "overhead per cell, local executor (1 worker)", **local,
                     "ratio": local["wall"] / local["own"]})
        slurm_env = _slurm_env()
        if slurm_env is not None:
            partition = slurm_env.get("BIOBENCH_SLURM_PARTITION", "debug")
            slurm = _run(root, {**env, **slurm_env}, "slurm", cells,
                         f'kind = "slurm"\njobs = 1\npartition = "{partition}"\ntime = 30\ncpus_per_task = 1\n'
                         f'folder = "{root / "slurm-logs"}"', sleep)
            rows.append({"figure": "overhead per cell, Slurm executor (1 job)", **slurm,
                         "ratio": slurm["wall"] / slurm["own"]})
        else:
            rows.append({"figure": "overhead per cell, Slurm executor (1 job)", "skipped": "no Slurm cluster answers"
                         " (plugins/biobench-slurm/scripts/cluster.sh start)"})
        spin = {"SCALE_SPIN": str(delay), "OMP_NUM_THREADS": "1"}
        one = _run(root, env, "spin1", 4, 'kind = "local"\njobs = 1', spin)
        two = _run(root, env, "spin2", 4, 'kind = "local"\njobs = 2', spin)
        rows.append({"figure": "scaling, 1 -> 2 local workers (CPU-bound cells)", "wall": two["wall"],
                     "own": one["wall"], "cells": 4, "cell": one["cell"], "ratio": one["wall"] / two["wall"]})
    for row in rows:
        row["ok"] = "skipped" in row or (row["ratio"] <= TARGET if row["figure"].startswith("overhead")
                                         else row["ratio"] > 1.0)
    return rows


def to_markdown(rows: list[dict[str, Any]]) -> str:
    lines = ["| figure | cells | s per cell | sum of cells' own s (1 worker: wall s) | wall s | ratio | target |",
             "|---|---|---|---|---|---|---|"]
    for r in rows:
        if "skipped" in r:
            lines.append(f"| {r['figure']} | | | | | skipped: {r['skipped']} | |")
            continue
        target = f"<= {TARGET} (cells >= 30 s)" if r["figure"].startswith("overhead") else "speedup (2.0 ideal)"
        lines.append(f"| {r['figure']} | {r['cells']} | {r['cell']:.1f} | {r['own']:.1f} | {r['wall']:.1f} | "
                     f"{r['ratio']:.2f} | {target} |")
    return "\n".join(lines)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="3 cells of about 5 s instead of 4 of about 45 s")
    print(to_markdown(run(quick=parser.parse_args().quick)))
