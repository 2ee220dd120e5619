from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

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
