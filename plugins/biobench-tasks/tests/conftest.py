"""Shared by the task suite's tests: synthetic images whose label is learnable, and an end-to-end run of a task
through the real ``biobench`` command line with a tiny convolutional backbone (a throwaway installed plugin)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from biobench_core.testing import cli_in_process, write_distribution
from biobench_tasks.samples import write_image

TINY_HOOKS = '''
from biobench_core import BackboneSpec, hookimpl

@hookimpl
def biobench_backbones():
    yield BackboneSpec(id="suitetiny/convnet", factory="suite_tiny.model:TinyConvNet", embed_dim=16, input_size=32)
'''

TINY_MODEL = '''
import torch
from torchvision import transforms
from biobench_core import EncodedImgBatch, VisionBackbone

class TinyConvNet(VisionBackbone):
    """A random 3x3 convolution and ReLU, mean-pooled: enough to tell images apart by colour."""

    def __init__(self, spec, weights=None):
        super().__init__()
        torch.manual_seed(0)
        self.net = torch.nn.Sequential(torch.nn.Conv2d(3, 16, 3, padding=1), torch.nn.ReLU())
        self.weights_id = "random:seed=0"

    def img_encode(self, batch):
        fmap = self.net(batch)
        return EncodedImgBatch(fmap.mean(dim=(2, 3)), fmap.flatten(2).transpose(1, 2))

    def make_img_transform(self):
        return transforms.Compose([transforms.Resize((32, 32)), transforms.ToTensor()])
'''


@pytest.fixture
def synth_image():
    """``synth_image(path, label, n_classes, seed=0, size=(24, 20))``: write a colour-coded image."""
    return write_image


@pytest.fixture
def run_task(tmp_path, monkeypatch):
    """``run_task(task, data_dir, *flags) -> (run, report)``: ``biobench run`` of ``suitetiny/convnet`` on ``task``
    (in this interpreter, workers 0, a private cache and results folder), then ``biobench report --format json``
    parsed. ``run`` is the run's ``CompletedProcess``; ``report`` is ``None`` when the run failed."""
    site = tmp_path / "suite-site"
    write_distribution(site, "biobench-suitetiny", {"suite_tiny.__init__": TINY_HOOKS, "suite_tiny.model": TINY_MODEL},
                       {"suitetiny": "suite_tiny"})
    monkeypatch.syspath_prepend(str(site))
    monkeypatch.setenv("BIOBENCH_LOAD_PLUGINS", "biobench-suitetiny,biobench-tasks")
    monkeypatch.setenv("BIOBENCH_CACHE", str(tmp_path / "suite-cache"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    results = tmp_path / "suite-results"

    def run(task: str, data: Path, *flags: str):
        name = task.split("/", 1)[-1]
        proc = cli_in_process("run", "--backbone", "suitetiny/convnet", "--task", task, "--data", f"{name}={data}",
                    "--results", str(results), "--quiet", "--workers", "0", "--device", "cpu", *flags)
        if proc.returncode != 0:
            return proc, None
        report = cli_in_process("report", "--results", str(results), "--format", "json")
        assert report.returncode == 0, report.stderr
        return proc, json.loads(report.stdout)

    return run
