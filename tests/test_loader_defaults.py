"""Worker count and batch size chosen for the machine, shown in the log and recorded with every result; flags win."""

from __future__ import annotations

import json
import sqlite3

import pytest
import torch

from biobench_core.engine._loader_defaults import default_batch_size, default_workers, resolve_loader

GIB = 2**30


@pytest.mark.parametrize(("device", "cores", "expected"), [
    ("cpu", 1, 0), ("cpu", 2, 0), ("cpu", 4, 1), ("cpu", 16, 4), ("cpu", 64, 8),
    ("cuda", 2, 1), ("cuda", 16, 15), ("cuda", 64, 16),
])
def test_default_workers(device, cores, expected):
    assert default_workers(device, cores) == expected


@pytest.mark.parametrize(("device", "memory", "expected"), [
    ("cpu", None, 32), ("cuda", 80 * GIB, 256), ("cuda", 141 * GIB, 256), ("cuda", 24 * GIB, 128),
    ("cuda", 8 * GIB, 64),
])
def test_default_batch_size(device, memory, expected):
    assert default_batch_size(device, memory) == expected


def test_given_values_win_and_are_not_called_chosen():
    assert resolve_loader(torch.device("cpu"), 3, 7) == (3, 7, "")
    workers, batch, how = resolve_loader(torch.device("cpu"), None, None)
    assert batch == 32 and f"workers {workers} (auto:" in how and "batch size 32 (auto: cpu)" in how


def test_a_run_logs_the_chosen_loader_and_records_it_in_each_result(in_process, tmp_path, make_image_folder):
    image_folder = make_image_folder(tmp_path / "colours")
    results = tmp_path / "results"
    args = ["run", "--backbone", "timm/resnet18", "--weights", "random", "--task", "tasks/image-folder", "--data",
            f"image-folder={image_folder}", "--results", str(results), "--device", "cpu", "--quiet"]
    proc = in_process(*args)
    assert proc.returncode == 0, proc.stderr
    assert "input workers " in proc.stderr and "batch size 32 (auto: cpu)" in proc.stderr
    with sqlite3.connect(results / "biobench.sqlite") as db:
        (identity,) = db.execute("SELECT identity FROM experiments").fetchone()
    recorded = json.loads(identity)["input"]
    assert recorded["batch_size"] == 32 and isinstance(recorded["workers"], int)
    assert recorded["pipeline"] == {"train": "uint8, normalised on the device", "test": "uint8, normalised on the device"}
    assert recorded["pixels"]["train"] == "written"
    proc = in_process(*args, "--force", "--workers", "0", "--batch-size", "4", "--no-cache")
    assert proc.returncode == 0, proc.stderr
    assert "input " not in proc.stderr.replace("input workers", "")  # nothing was chosen
    with sqlite3.connect(results / "biobench.sqlite") as db:
        (identity,) = db.execute("SELECT identity FROM experiments").fetchone()
    assert json.loads(identity)["input"]["batch_size"] == 4 and json.loads(identity)["input"]["workers"] == 0
