"""A real matrix for testing executors and the scale-out path: a tiny backbone plugin (``scale/net``, and
``scale/broken`` whose forward pass raises) on ``tasks/image-folder`` over generated colour images, driven by
``biobench`` subprocesses. An executor plugin's tests use it as the core's do::

    from biobench_core.testing import ScaleMatrix

    def test_my_executor_runs_a_matrix(tmp_path, monkeypatch):
        matrix = ScaleMatrix.create(tmp_path, load_plugins=("biobench-myexecutor",))
        matrix.biobench("run", "--config", str(matrix.config(executor='kind = "mine"')))

It needs numpy, PIL and (in the ``biobench`` processes) torch and torchvision: install ``biobench-core[run]``.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from collections.abc import Iterable
from pathlib import Path

from biobench_core.testing._distributions import write_distribution

__all__ = ["ScaleMatrix", "make_image_folder", "COLOURS", "SCALE_PLUGIN", "SCALE_MODEL"]

COLOURS = {"red": (200, 30, 30), "green": (30, 200, 30), "blue": (30, 30, 200)}


def make_image_folder(root: Path, n_train: int = 8, n_test: int = 5, seed: int = 0,
                       colours: dict[str, tuple[int, int, int]] | None = None) -> Path:
    """An ``image-folder`` dataset (``train/<class>/*.png``, ``test/<class>/*.png``) whose class is its colour."""
    import numpy as np
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
        with sqlite3.connect(self.results / "biobench.sqlite") as db:
            return db.execute("SELECT backbone, weights, task, settings FROM experiments ORDER BY id").fetchall()

    @classmethod
    def create(cls, root: Path, *, load_plugins: Iterable[str] = ()) -> ScaleMatrix:
        """Write the ``scale`` plugin (a throwaway distribution under ``root/site``) and the images under ``root``.

        ``env`` loads only biobench-scale, biobench-tasks and ``load_plugins``, caches features under ``root``, and
        is offline. Put it in the test's environment and ``root/site`` on ``sys.path`` (the ``scale_matrix``
        fixtures do) to run the matrix in this process too.
        """
        site = root / "site"
        write_distribution(site, "biobench-scale", {"scale_backbone.__init__": SCALE_PLUGIN,
                                                     "scale_backbone.model": SCALE_MODEL}, {"scale": "scale_backbone"})
        data = make_image_folder(root / "colours", n_train=5, n_test=3)
        env = {"PYTHONPATH": os.pathsep.join([str(site), os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep),
               "BIOBENCH_LOAD_PLUGINS": ",".join(["biobench-scale", "biobench-tasks", *load_plugins]),
               "BIOBENCH_CACHE": str(root / "cache"), "HF_HUB_OFFLINE": "1"}
        return cls(root, data, env)
