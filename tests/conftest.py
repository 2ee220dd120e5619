from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from biobench_core.plugins import reset_registry

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
