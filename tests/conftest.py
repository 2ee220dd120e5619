from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from biobench_core.contract._registry import reset_registry

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def _offline_and_fresh_registry(monkeypatch, tmp_path_factory):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    # Never touch the user's feature cache; tests that care about the cache set their own.
    monkeypatch.setenv("BIOBENCH_CACHE", str(tmp_path_factory.mktemp("feature-cache")))
    reset_registry()
    yield
    reset_registry()


def _run_cli(*args: str, site: Path | None = None, env: dict[str, str] | None = None, cwd: Path | None = None,
            check: bool = False) -> subprocess.CompletedProcess:
    """Run ``biobench ARGS`` in a fresh interpreter, with ``site`` (throwaway distributions) on its path."""
    full_env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONUNBUFFERED": "1"}
    full_env.pop("BIOBENCH_LOAD_PLUGINS", None)
    full_env.pop("BIOBENCH_STRICT_PLUGINS", None)
    if site is not None:
        full_env["PYTHONPATH"] = os.pathsep.join([str(site), full_env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    full_env.update(env or {})
    proc = subprocess.run([sys.executable, "-m", "biobench_core.cli", *args], capture_output=True, text=True,
                          env=full_env, cwd=cwd, timeout=600)
    if check and proc.returncode != 0:
        raise AssertionError(f"biobench {' '.join(args)} exited {proc.returncode}:\n{proc.stdout}\n{proc.stderr}")
    return proc


def _cli_json(*args: str, **kwargs) -> object:
    proc = _run_cli(*args, "--json", check=True, **kwargs)
    return json.loads(proc.stdout)


@pytest.fixture
def run_cli():
    """``run_cli(*args, site=None, env=None, cwd=None, check=False)``: ``biobench ARGS`` in a subprocess."""
    return _run_cli


@pytest.fixture
def cli_json():
    """``cli_json(*args, ...)``: ``biobench ARGS --json`` in a subprocess, parsed."""
    return _cli_json


def _in_process(*args: str) -> subprocess.CompletedProcess:
    """``biobench ARGS`` in this interpreter (torch is imported once for the whole session), output captured."""
    from biobench_core.testing import cli_in_process

    return cli_in_process(*args)


@pytest.fixture
def in_process():
    """``in_process(*args)``: ``biobench ARGS`` run in this interpreter, returning a ``CompletedProcess``."""
    return _in_process


COLOURS = {"red": (200, 30, 30), "green": (30, 200, 30), "blue": (30, 30, 200)}


def _make_image_folder(root: Path, n_train: int = 8, n_test: int = 5, seed: int = 0,
                       colours: dict[str, tuple[int, int, int]] | None = None) -> Path:
    """An ``image-folder`` dataset (``train/<class>/*.png``, ``test/<class>/*.png``) whose class is its colour."""
    from PIL import Image

    rng = np.random.default_rng(seed)
    for split, n in (("train", n_train), ("test", n_test)):
        for name, colour in (colours or COLOURS).items():
            folder = root / split / name
            folder.mkdir(parents=True, exist_ok=True)
            for i in range(n):
                pixels = np.clip(np.array(colour) + rng.normal(0, 25, (24, 24, 3)), 0, 255).astype(np.uint8)
                Image.fromarray(pixels).save(folder / f"{name}{i}.png")
    return root


@pytest.fixture
def make_image_folder():
    """``make_image_folder(root, n_train=8, n_test=5, seed=0, colours=None)``: write a colour image-folder task."""
    return _make_image_folder


# -- the scale-out tests (tests/test_scaleout.py, tests/test_executor_plugins.py): a tiny backbone and a matrix --

SCALE_PLUGIN = '''
from biobench_core import BackboneSpec, hookimpl

@hookimpl
def biobench_backbones():
    yield BackboneSpec(id="scale/net", factory="scale_backbone.model:ScaleNet", embed_dim=8, input_size=16)
    yield BackboneSpec(id="scale/broken", factory="scale_backbone.model:BrokenNet", embed_dim=8, input_size=16)
'''

SCALE_MODEL = '''
import os, time
import torch
from torchvision import transforms
from biobench_core import EncodedImgBatch, VisionBackbone

class ScaleNet(VisionBackbone):
    """A tiny CNN; SCALE_DELAY seconds of sleep per batch make its experiments as slow as a test needs."""

    def __init__(self, spec, weights=None):
        super().__init__()
        torch.manual_seed(0 if weights in (None, "random", "pretrained") else len(str(weights)))
        self.net = torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3, padding=1), torch.nn.ReLU())
        self.weights_id = f"random:{weights}"

    def img_encode(self, batch):
        time.sleep(float(os.environ.get("SCALE_DELAY", "0")))
        fmap = self.net(batch)
        return EncodedImgBatch(fmap.mean(dim=(2, 3)), None)

    def make_img_transform(self):
        return transforms.Compose([transforms.Resize((16, 16)), transforms.ToTensor()])

class BrokenNet(ScaleNet):
    def img_encode(self, batch):
        raise RuntimeError("BrokenNet cannot encode")
'''


class ScaleMatrix:
    """A matrix for the scale-out tests: ``scale/net`` and friends on ``tasks/image-folder`` over generated images.

    ``env`` holds the variables a worker process or Slurm job needs (they are also set in this process).
    """

    def __init__(self, root: Path, data: Path, env: dict[str, str]) -> None:
        self.root, self.data, self.env = root, data, env
        self.results = root / "results"

    def config(self, *, weights: str = '["a", "b"]', n_train: str = "[6, 8]", backbone: str = "scale/net",
               executor: str = "", extra: str = "", name: str = "matrix.toml") -> Path:
        """A config of ``backbone`` x ``weights`` on image-folder x ``n_train``; ``executor`` lines go in
        ``[executor]``."""
        path = self.root / name
        path.write_text(f'''results = "{self.results}"
device = "cpu"
workers = 0
batch_size = 4
{extra}
[[backbone]]
id = "{backbone}"
weights = {weights}

[[task]]
id = "tasks/image-folder"
data = "{self.data}"
settings = {{ n_train = {n_train}, probe = "simpleshot" }}
''' + (f"\n[executor]\n{executor}\n" if executor else ""))
        return path

    def biobench(self, *args: str, timeout: float = 300, extra_env: dict[str, str] | None = None,
                 wait: bool = True) -> subprocess.CompletedProcess | subprocess.Popen:
        """``biobench ARGS`` in a fresh interpreter with this matrix's environment."""
        env = {**os.environ, "PYTHONUNBUFFERED": "1", **self.env, **(extra_env or {})}
        command = [sys.executable, "-m", "biobench_core.cli", *args]
        if not wait:
            return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
        return subprocess.run(command, capture_output=True, text=True, env=env, timeout=timeout)

    def stored(self) -> list[tuple]:
        """``(backbone, weights, task, settings)`` of every stored experiment."""
        import sqlite3

        with sqlite3.connect(self.results / "biobench.sqlite") as db:
            return db.execute("SELECT backbone, weights, task, settings FROM experiments ORDER BY id").fetchall()


@pytest.fixture
def scale_matrix(tmp_path, monkeypatch):
    """A :class:`ScaleMatrix` under ``tmp_path`` (its plugin importable by subprocesses through PYTHONPATH)."""
    from biobench_core.testing._distributions import write_distribution

    site = tmp_path / "site"
    write_distribution(site, "biobench-scale", {"scale_backbone.__init__": SCALE_PLUGIN,
                                                 "scale_backbone.model": SCALE_MODEL}, {"scale": "scale_backbone"})
    data = _make_image_folder(tmp_path / "colours", n_train=5, n_test=3)
    env = {"PYTHONPATH": os.pathsep.join([str(site), os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep),
           "BIOBENCH_LOAD_PLUGINS": "biobench-scale,biobench-tasks", "BIOBENCH_CACHE": str(tmp_path / "cache"),
           "HF_HUB_OFFLINE": "1"}
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.syspath_prepend(str(site))
    return ScaleMatrix(tmp_path, data, env)
