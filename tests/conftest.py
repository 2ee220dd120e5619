from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from biobench_core.contract._registry import reset_registry

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def _offline_and_fresh_registry(monkeypatch, tmp_path_factory):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    # Never touch the user's feature cache; tests that care about the cache set their own.
    monkeypatch.setenv("BIOBENCH_CACHE", str(tmp_path_factory.mktemp("feature-cache")))
    # Nor its state (the ledger of reports written, which lets `report --out` replace its own reports).
    monkeypatch.setenv("BIOBENCH_STATE", str(tmp_path_factory.mktemp("state")))
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


@pytest.fixture
def make_image_folder():
    """``make_image_folder(root, n_train=8, n_test=5, seed=0, colours=None)``: write a colour image-folder task."""
    from biobench_core.testing import make_image_folder

    return make_image_folder


# -- the scale-out tests (tests/test_scaleout.py, tests/test_executor_plugins.py): a tiny backbone and a matrix --

@pytest.fixture
def scale_matrix(tmp_path, monkeypatch):
    """A :class:`~biobench_core.testing.ScaleMatrix` under ``tmp_path``, its environment set in this process too."""
    from biobench_core.testing import ScaleMatrix

    matrix = ScaleMatrix.create(tmp_path)
    for key, value in matrix.env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    return matrix


@pytest.fixture
def read_only(tmp_path):
    """``read_only(src, dst=None)``: ``src`` on a real read-only bind mount at ``dst`` (default: a new folder),
    returned; unmounted at teardown. Needs root; skipped, saying why, where mounting is refused."""
    if os.geteuid() != 0:
        pytest.skip("a read-only bind mount needs root")
    mounted: list[Path] = []

    def mount(src: Path, dst: Path | None = None) -> Path:
        dst = dst or tmp_path / f"ro{len(mounted)}"
        dst.mkdir(parents=True, exist_ok=True)
        bind = subprocess.run(["mount", "--bind", str(src), str(dst)], capture_output=True, text=True)
        if bind.returncode != 0:
            pytest.skip(f"mount --bind is not permitted here: {bind.stderr.strip()}")
        mounted.append(dst)
        ro = subprocess.run(["mount", "-o", "remount,bind,ro", str(dst)], capture_output=True, text=True)
        if ro.returncode != 0:
            pytest.skip(f"remount,bind,ro is not permitted here: {ro.stderr.strip()}")
        assert not os.access(dst, os.W_OK), "the bind mount is still writable"
        return dst

    try:
        yield mount
    finally:
        for dst in reversed(mounted):
            subprocess.run(["umount", str(dst)], check=True)


def _borrowing_venv(venv: Path) -> Path:
    """Create a fresh virtual environment at ``venv`` that borrows this environment's packages (torch,
    biobench-core and the first-party plugins, pip) through a ``.pth`` file, so that it costs seconds, not a torch
    install; what it installs itself is its own. Returns its python."""
    import sysconfig

    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    python = venv / ("Scripts/python.exe" if os.name == "nt" else "bin/python")
    purelib = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                             capture_output=True, text=True, check=True).stdout.strip()
    # addsitedir (not a bare path) so that the .pth files there, e.g. biobench-core's editable install, apply too
    Path(purelib, "_biobench_parent_env.pth").write_text(
        f"import site; site.addsitedir({sysconfig.get_paths()['purelib']!r})\n")
    return python


@pytest.fixture(scope="session")
def borrowing_venv():
    """``borrowing_venv(path) -> python``: a fresh venv at ``path`` borrowing this environment's packages."""
    return _borrowing_venv


# -- results as data (tests/test_results_api.py, tests/test_bundles.py): real stores from the kit's tiny backbone --

@pytest.fixture(scope="module")
def tiny_stores(tmp_path_factory):
    """``tiny_stores(name, dtype="fp32", data="colours")``: the store ``<tmp>/<name>`` after the kit's tiny backbone
    ran (in this interpreter) on a colour image-folder task; the same ``data`` name is the same folder, so the same
    data hash. Built once per module: stores are read-only to the tests (copy one to change it)."""
    from biobench_core.testing import cli_in_process, make_image_folder, tiny_backbone

    root = tmp_path_factory.mktemp("tiny-stores")
    built: dict[tuple, Path] = {}

    def store(name: str, dtype: str = "fp32", data: str = "colours") -> Path:
        if (name, dtype, data) in built:
            return built[(name, dtype, data)]
        folder = root / "data" / data
        if not folder.exists():
            make_image_folder(folder, n_train=4, n_test=3, seed=len(data))
        with pytest.MonkeyPatch.context() as env, tiny_backbone() as backbone:
            env.setenv("BIOBENCH_CACHE", str(root / "feature-cache"))
            env.setenv("HF_HUB_OFFLINE", "1")
            proc = cli_in_process("run", "--backbone", backbone, "--weights", "random", "--dtype", dtype, "--task",
                                  "tasks/image-folder", "--data", f"tasks/image-folder={folder}", "--results",
                                  str(root / name), "--quiet", "--workers", "0")
        assert proc.returncode == 0, proc.stderr
        built[(name, dtype, data)] = root / name
        return root / name

    return store
