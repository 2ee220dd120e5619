"""Slow integration test (about 2-3 minutes, most of it installing torch): from `make dist` to a benchmark run.

`make dist` builds the wheels and sdists of biobench-core and the first-party plugins. A fresh virtualenv (no
system site packages, nothing from this checkout) gets the third-party dependencies from the configured index
(pinned by constraints.txt), then biobench's own distributions and a third-party plugin written here from wheels
only (`--no-index`), as docs/plugins.md's "Publish" section says. Its `biobench` executable must then list, validate
and benchmark the plugin. It runs in `make test` on purpose: it is the only test of what a user installs.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from email.parser import Parser
from pathlib import Path
from zipfile import ZipFile

import numpy as np
import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

REPO = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.timeout(900)  # slow: a fresh venv with torch; keep it out of the 600 s default's way

# The first-party distributions `make dist` must build, as (import package, files that must be in the wheel).
EXPECTED = {
    "biobench-core": ("biobench_core", ["biobench_core/testing/__init__.py", "biobench_core/testing/switch.py",
                                        "biobench_core/engine/_probes/__init__.py", "biobench_core/cli/__init__.py"]),
    "biobench-timm": ("biobench_timm", ["biobench_timm/catalogue.json"]),
    "biobench-openclip": ("biobench_openclip", ["biobench_openclip/catalogue.json"]),
    "biobench-tasks": ("biobench_tasks", ["biobench_tasks/image_folder.py"]),
    "biobench-effnet-lite": ("biobench_effnet_lite", ["biobench_effnet_lite/backbone.py"]),
    "biobench-slurm": ("biobench_slurm", ["biobench_slurm/executor.py", "biobench_slurm/options.py"]),
}

# A third-party plugin, as an author outside this repository writes it: its own pyproject, an entry point in
# group `biobench`, a small conv net and default weights shipped in the wheel as package data.
PYPROJECT = """\
[build-system]
requires = ["setuptools>=68"]
build-backend = "setuptools.build_meta"

[project]
name = "biobench-tinyconv"
version = "0.1.0"
requires-python = ">=3.10"
dependencies = ["biobench-core[run]"]

[project.entry-points.biobench]
tinyconv = "biobench_tinyconv"

[tool.setuptools]
packages = ["biobench_tinyconv"]

[tool.setuptools.package-data]
biobench_tinyconv = ["tiny.safetensors"]
"""

HOOKS = '''\
from biobench_core import BackboneSpec, hookimpl

BIOBENCH_CONTRACT = 1


@hookimpl
def biobench_backbones():
    yield BackboneSpec(id="tinyconv/tiny", factory="biobench_tinyconv.backbone:TinyBackbone",
                       description="two strided convolutions", license="MIT", embed_dim=8, input_size=32)
'''

BACKBONE = '''\
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch import nn

from biobench_core.contract._backbone import EncodedImgBatch, VisionBackbone
from biobench_core.engine._weights import file_weights_id, random_weights_id, read_state_dict

WEIGHTS = Path(__file__).with_name("tiny.safetensors")  # shipped in the wheel
RANDOM_SEED = 1


class TinyConvNet(nn.Module):
    def __init__(self, width):
        super().__init__()
        self.conv1 = nn.Conv2d(3, width, 3, stride=2, padding=1)
        self.conv2 = nn.Conv2d(width, width, 3, stride=2, padding=1)

    def forward(self, x):
        return self.conv2(torch.relu(self.conv1(x)))


class Transform:
    def __init__(self, size):
        self.size = size

    def __repr__(self):
        return f"Transform(size={self.size})"

    def __call__(self, img):
        img = img.convert("RGB").resize((self.size, self.size), Image.Resampling.BILINEAR)
        return torch.from_numpy(np.asarray(img, dtype=np.float32).copy()).permute(2, 0, 1) / 127.5 - 1.0


class TinyBackbone(VisionBackbone):
    def __init__(self, spec, weights=None):
        super().__init__()
        self.spec = spec
        if weights == "random":
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(RANDOM_SEED)
                self.net = TinyConvNet(spec.embed_dim)
            self.weights_id = random_weights_id(RANDOM_SEED)
        else:
            path = WEIGHTS if weights is None else Path(weights)
            self.net = TinyConvNet(spec.embed_dim)
            self.net.load_state_dict(read_state_dict(path))
            self.weights_id = file_weights_id(path)
        self.eval()
        self.requires_grad_(False)

    def img_encode(self, batch):
        fmap = self.net(batch)
        return EncodedImgBatch(img_features=fmap.mean(dim=(2, 3)), patch_features=fmap.flatten(2).transpose(1, 2))

    def make_img_transform(self):
        return Transform(self.spec.input_size)
'''


def _write_plugin(root: Path) -> Path:
    from safetensors.numpy import save_file

    package = root / "biobench_tinyconv"
    package.mkdir(parents=True)
    (root / "pyproject.toml").write_text(PYPROJECT)
    (package / "__init__.py").write_text(HOOKS)
    (package / "backbone.py").write_text(BACKBONE)
    rng = np.random.default_rng(0)
    shapes = {"conv1.weight": (8, 3, 3, 3), "conv1.bias": (8,), "conv2.weight": (8, 8, 3, 3), "conv2.bias": (8,)}
    save_file({k: (0.2 * rng.standard_normal(s)).astype(np.float32) for k, s in shapes.items()},
              str(package / "tiny.safetensors"))
    return root


def _wheel(dist: Path, name: str) -> Path:
    [wheel] = dist.glob(f"{canonicalize_name(name).replace('-', '_')}-*.whl")
    return wheel


def _requirements(wheel: Path, extras: set[str]) -> list[Requirement]:
    with ZipFile(wheel) as zf:
        [metadata] = [n for n in zf.namelist() if n.endswith(".dist-info/METADATA")]
        message = Parser().parsestr(zf.read(metadata).decode())
    reqs = [Requirement(line) for line in message.get_all("Requires-Dist") or []]
    return [r for r in reqs if r.marker is None or any(r.marker.evaluate({"extra": e}) for e in extras | {""})]


def _third_party(dist: Path, roots: dict[str, set[str]]) -> list[str]:
    """What installing ``roots`` (name -> extras) from ``dist`` needs from the index: the non-biobench requirements,
    followed through biobench's own wheels."""
    seen: set[tuple[str, frozenset[str]]] = set()
    todo = [(name, frozenset(extras)) for name, extras in roots.items()]
    external: list[str] = []
    while todo:
        name, extras = todo.pop()
        if (name, extras) in seen:
            continue
        seen.add((name, extras))
        for req in _requirements(_wheel(dist, name), set(extras)):
            if canonicalize_name(req.name).startswith("biobench-"):
                todo.append((canonicalize_name(req.name), frozenset(req.extras)))
            else:
                req.marker = None
                external.append(str(req))
    return sorted(set(external))


def _check(cmd: list[str], timings: dict[str, float], label: str, **kwargs) -> subprocess.CompletedProcess:
    start = time.perf_counter()
    proc = subprocess.run([str(c) for c in cmd], capture_output=True, text=True, timeout=600, **kwargs)
    timings[label] = time.perf_counter() - start
    assert proc.returncode == 0, f"{label}: {' '.join(map(str, cmd))} exited {proc.returncode}:\n{proc.stdout}\n{proc.stderr}"
    return proc


def test_wheels_install_in_a_fresh_venv_and_a_third_party_plugin_runs(tmp_path, make_image_folder):
    timings: dict[str, float] = {}
    dist = tmp_path / "dist"
    venv = tmp_path / "venv"
    # The fresh environment sees nothing of this process's: no checkout on its path, no plugin selection.
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("BIOBENCH_") and k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")}
    env.update(HF_HUB_OFFLINE="1", BIOBENCH_CACHE=str(tmp_path / "cache"), PYTHONDONTWRITEBYTECODE="1")
    try:
        # 1. `make dist` (the install step is assumed done: this runs under `make test` or after `make install`).
        git_status = ["git", "-C", str(REPO), "status", "--porcelain", "--untracked-files=all"]
        before = subprocess.run(git_status, capture_output=True, text=True).stdout
        _check(["make", "--no-print-directory", "-C", REPO, "-o", ".venv/.installed", "dist", f"DIST={dist}",
                f"PY={sys.executable}"], timings, "make dist", env={**os.environ, "MAKEFLAGS": ""})
        after = subprocess.run(git_status, capture_output=True, text=True).stdout
        assert after == before, f"make dist left files git sees: {sorted(set(after.splitlines()) - set(before.splitlines()))}"
        for name, (package, files) in EXPECTED.items():
            with ZipFile(_wheel(dist, name)) as zf:
                names = set(zf.namelist())
            assert set(files) <= names, f"{name}'s wheel lacks {sorted(set(files) - names)}"
            assert not any(n.startswith(("tests/", "build/")) for n in names), sorted(names)
            stem = _wheel(dist, name).name.split("-py3")[0]
            assert (dist / f"{stem}.tar.gz").is_file(), f"no sdist for {name}: {sorted(p.name for p in dist.iterdir())}"
        with ZipFile(_wheel(dist, "biobench-core")) as zf:
            entry_points = zf.read("biobench_core-0.1.0.dist-info/entry_points.txt").decode()
        assert "biobench = biobench_core.cli:main" in entry_points and "[pytest11]" in entry_points

        # 2. A fresh venv: third-party dependencies from the index (torch pinned by constraints.txt).
        _check([sys.executable, "-m", "venv", venv], timings, "venv", env=env)
        python, pip = venv / "bin" / "python", [venv / "bin" / "python", "-m", "pip", "--disable-pip-version-check"]
        external = _third_party(dist, {"biobench-core": {"run"}, "biobench-timm": set(), "biobench-tasks": set()})
        assert any(r.startswith("torch") for r in external) and any(r.startswith("timm") for r in external)
        _check([*pip, "install", "--quiet", "--no-compile", "--constraint", REPO / "constraints.txt",
                "setuptools>=68", *external], timings, "pip install third-party", env=env)

        # 3. The third-party plugin's wheel, built outside the checkout with no index, then everything of
        # biobench's from wheels only: its dependency on biobench-core[run] resolves to make dist's wheel.
        plugin_src = _write_plugin(tmp_path / "biobench-tinyconv")
        _check([*pip, "wheel", "--quiet", "--no-index", "--find-links", dist, "--no-deps", "--no-build-isolation",
                "--wheel-dir", dist, plugin_src], timings, "pip wheel plugin", env=env, cwd=plugin_src)
        with ZipFile(_wheel(dist, "biobench-tinyconv")) as zf:
            assert "biobench_tinyconv/tiny.safetensors" in zf.namelist()
        _check([*pip, "install", "--quiet", "--no-compile", "--no-index", "--find-links", dist,
                "biobench-core[run]", "biobench-timm", "biobench-tasks", "biobench-tinyconv"],
               timings, "pip install --no-index", env=env, cwd=tmp_path)
        # Installed from the wheels, not this checkout; no pytest in this environment.
        where = _check([python, "-c", "import biobench_core, biobench_core.testing, importlib.util; "
                        "print(biobench_core.__file__); print(importlib.util.find_spec('pytest'))"],
                       timings, "import", env=env, cwd=tmp_path).stdout.split()
        assert Path(where[0]).is_relative_to(venv) and where[1] == "None", where

        # 4. Its `biobench`: list, validate, run, report.
        biobench = venv / "bin" / "biobench"
        ids = {b["id"]: b for b in json.loads(_check([biobench, "backbones", "--json"], timings, "backbones",
                                                     env=env, cwd=tmp_path).stdout)}
        assert ids["tinyconv/tiny"]["plugin"] == "biobench-tinyconv"
        assert "timm/resnet18.a1_in1k" in ids
        plugins = json.loads(_check([biobench, "plugins", "--json"], timings, "plugins", env=env, cwd=tmp_path).stdout)
        status = {p["name"]: p["status"] for p in plugins["plugins"]}
        assert status == {"biobench-timm": "ok", "biobench-tasks": "ok", "biobench-tinyconv": "ok"}, plugins
        assert plugins["collisions"] == []
        validate = _check([biobench, "plugins", "validate", "biobench-tinyconv"], timings, "validate", env=env,
                          cwd=tmp_path)
        assert "FAIL" not in validate.stdout, validate.stdout

        data = make_image_folder(tmp_path / "colours", n_train=4, n_test=2)
        results = tmp_path / "results"
        _check([biobench, "run", "--backbone", "tinyconv/tiny", "--backbone", "timm/resnet18.a1_in1k",
                "--weights", "pretrained", "--weights", "random", "--task", "tasks/image-folder",
                "--data", f"image-folder={data}", "--results", results, "--device", "cpu", "--workers", "0",
                "--batch-size", "32", "--quiet"], timings, "run", env=env, cwd=tmp_path)
        report = json.loads(_check([biobench, "report", "--results", results, "--format", "json"], timings, "report",
                                   env=env, cwd=tmp_path).stdout)
        rows = {(r["backbone"], r["task"]): r for r in report["results"]}
        assert set(rows) == {("tinyconv/tiny", "tasks/image-folder"), ("timm/resnet18.a1_in1k", "tasks/image-folder")}
        assert all(r["n_examples"] == 6 for r in rows.values()), rows
    finally:
        print("timings (s): " + ", ".join(f"{k} {v:.1f}" for k, v in timings.items()))
        shutil.rmtree(venv, ignore_errors=True)  # ~6 GB: pytest keeps the last three tmp dirs
