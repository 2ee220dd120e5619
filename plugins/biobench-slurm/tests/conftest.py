"""The ``slurm_cluster`` fixture: a real single-node Slurm cluster (scripts/cluster.sh) for this session, and the
``scale_matrix`` fixture: a tiny matrix for the executor to run.

The cluster is started if it is not already up and healthy. Each session holds a lease on it (its pid): at the end
of the session the cluster is stopped if a session's fixture started it and no other live session holds a lease,
and left running if it was started by hand (`plugins/biobench-slurm/scripts/cluster.sh start`). If it cannot start
(Slurm not installed, not root, a daemon that dies), every test that uses the fixture FAILS with the script's reason
and the daemon's log tail: the Slurm tests are never skipped.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from biobench_core.testing import reset_registry, write_distribution
from biobench_slurm.executor import environ_over

REPO = Path(__file__).resolve().parents[3]
CLUSTER_SH = Path(__file__).resolve().parents[1] / "scripts" / "cluster.sh"
DEFAULT_DIR = "/tmp/biobench-slurm"


@dataclass(frozen=True)
class SlurmCluster:
    """A running cluster: ``env`` (already in ``os.environ`` for the session) reaches it from sbatch and submitit."""

    partition: str
    env: dict[str, str]
    dir: Path
    started_here: bool  # whether this session started the daemons (False: it found the cluster up)
    startup_s: float  # how long `cluster.sh start` took (the daemons started, or a running cluster reused)
    log_dir: Path = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "log_dir", self.dir / "log")

    def executor(self, folder: os.PathLike | str, **parameters):
        """A ``submitit.AutoExecutor`` for this cluster's partition (``parameters`` go to update_parameters)."""
        import submitit

        executor = submitit.AutoExecutor(folder=folder, cluster="slurm")
        executor.update_parameters(**{"slurm_partition": self.partition, "timeout_min": 10, "cpus_per_task": 1,
                                      **parameters})
        return executor


def run_cluster_sh(*args: str, env: dict[str, str] | None = None,
                   timeout: float = 300) -> subprocess.CompletedProcess:
    """Run ``scripts/cluster.sh ARGS``; stdout and stderr captured as text (the daemons never hold them)."""
    return subprocess.run(["bash", str(CLUSTER_SH), *args], capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, **(env or {})}, stdin=subprocess.DEVNULL)


def read_env_file(path: Path) -> dict[str, str]:
    env = {}
    for line in path.read_text().splitlines():
        if "=" in line and not line.lstrip().startswith("#"):
            key, value = line.split("=", 1)
            env[key.strip()] = value
    return env


_STARTUP_REPORT: list[str] = []


@pytest.fixture(autouse=True)
def _fresh_registry():
    """Each test discovers the plugins its environment names (BIOBENCH_LOAD_PLUGINS), not a registry left over."""
    reset_registry()
    yield
    reset_registry()


@pytest.fixture(scope="session")
def cluster_sh():
    """``cluster_sh(*args, env=None, timeout=300)``: run scripts/cluster.sh (e.g. on a private directory)."""
    return run_cluster_sh


@pytest.fixture(scope="session")
def slurm_cluster():
    cluster_dir = Path(os.environ.get("BIOBENCH_SLURM_DIR", DEFAULT_DIR))
    lease = str(os.getpid())  # concurrent sessions share the cluster: the last one out stops it (if one started it)
    t0 = time.monotonic()
    try:
        proc = run_cluster_sh("start", "--lease", lease)
    except subprocess.TimeoutExpired as exc:
        proc = subprocess.CompletedProcess(exc.cmd, 124, exc.stdout or "", f"{exc.stderr or ''}\n(timed out)")
    startup_s = time.monotonic() - t0
    if proc.returncode != 0:
        run_cluster_sh("release", lease, timeout=120)  # stops the daemons that did start, unless others use them
        pytest.fail(f"could not start the local Slurm cluster (`{CLUSTER_SH.relative_to(REPO)} start` exited "
                    f"{proc.returncode}; see docs/slurm-dev.md):\n{proc.stderr.strip()}", pytrace=False)
    env = read_env_file(cluster_dir / "env")
    started = "(reused)" not in proc.stderr
    cluster = SlurmCluster(partition=env.get("BIOBENCH_SLURM_PARTITION", "debug"), env=env, dir=cluster_dir,
                           started_here=started, startup_s=startup_s)
    _STARTUP_REPORT.append(f"slurm cluster: {'started' if started else 'already up, reused'} in {startup_s:.1f}s, "
                           f"SLURM_CONF={env.get('SLURM_CONF')}")
    try:
        with environ_over(env):  # submitit's sbatch/sacct/scancel subprocesses read it
            yield cluster
    finally:
        t0 = time.monotonic()
        release = run_cluster_sh("release", lease, timeout=120)
        lines = release.stderr.strip().splitlines() or [f"release exited {release.returncode}"]
        _STARTUP_REPORT.append(f"slurm cluster: {lines[-1].split('] ', 1)[-1]} [{time.monotonic() - t0:.1f}s]")


def pytest_terminal_summary(terminalreporter) -> None:
    for line in _STARTUP_REPORT:
        terminalreporter.write_line(line)


# -- the matrix: a tiny backbone plugin (scale/net, and scale/broken that raises) on tasks/image-folder ------------

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

COLOURS = {"red": (200, 30, 30), "green": (30, 200, 30), "blue": (30, 30, 200)}


def make_image_folder(root: Path, n_train: int, n_test: int) -> Path:
    """An ``image-folder`` dataset (``train/<class>/*.png``, ``test/<class>/*.png``) whose class is its colour."""
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(0)
    for split, n in (("train", n_train), ("test", n_test)):
        for name, colour in COLOURS.items():
            folder = root / split / name
            folder.mkdir(parents=True, exist_ok=True)
            for i in range(n):
                pixels = np.clip(np.array(colour) + rng.normal(0, 25, (24, 24, 3)), 0, 255).astype(np.uint8)
                Image.fromarray(pixels).save(folder / f"{name}{i}.png")
    return root


class ScaleMatrix:
    """``scale/net`` and friends on ``tasks/image-folder`` over generated images, run by ``biobench`` subprocesses.

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


@pytest.fixture
def scale_matrix(tmp_path, monkeypatch):
    """A :class:`ScaleMatrix` under ``tmp_path`` (its plugin importable by subprocesses through PYTHONPATH)."""
    site = tmp_path / "site"
    write_distribution(site, "biobench-scale", {"scale_backbone.__init__": SCALE_PLUGIN,
                                                 "scale_backbone.model": SCALE_MODEL}, {"scale": "scale_backbone"})
    data = make_image_folder(tmp_path / "colours", n_train=5, n_test=3)
    env = {"PYTHONPATH": os.pathsep.join([str(site), os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep),
           "BIOBENCH_LOAD_PLUGINS": "biobench-scale,biobench-tasks,biobench-slurm",
           "BIOBENCH_CACHE": str(tmp_path / "cache"), "HF_HUB_OFFLINE": "1"}
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.syspath_prepend(str(site))
    return ScaleMatrix(tmp_path, data, env)
