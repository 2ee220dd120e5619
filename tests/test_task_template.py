"""The task template as a user gets it: built with ``python -m build``, passing ``twine check``, installed from its
wheel into a fresh virtual environment, then listed, validated (its sample data run end to end) and run.

The environment borrows this one's packages (torch, biobench-core, biobench-timm) through a ``.pth`` file
(``borrowing_venv`` in conftest.py), so it costs seconds; the template itself comes only from its wheel.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from email.parser import Parser
from pathlib import Path
from types import SimpleNamespace
from zipfile import ZipFile

import pytest

REPO = Path(__file__).resolve().parents[1]
TEMPLATE = REPO / "examples" / "biobench-task-template"
DIST, PACKAGE, TASK = "biobench-task-template", "biobench_task_template", "tasktemplate/pollinator-visits"


def _run(python: Path, *args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    full_env = {k: v for k, v in os.environ.items()
                if k not in ("PYTHONPATH", "BIOBENCH_LOAD_PLUGINS", "BIOBENCH_STRICT_PLUGINS")}
    full_env.update({"HF_HUB_OFFLINE": "1", "BIOBENCH_CACHE": str(cwd / "cache"), **(env or {})})
    return subprocess.run([str(python), *args], cwd=cwd, env=full_env, capture_output=True, text=True, timeout=600)


def _ok(proc: subprocess.CompletedProcess) -> subprocess.CompletedProcess:
    assert proc.returncode == 0, f"{' '.join(map(str, proc.args))} exited {proc.returncode}:\n{proc.stdout}\n{proc.stderr}"
    return proc


@pytest.fixture(scope="module")
def installed(tmp_path_factory, borrowing_venv):
    """The template's sdist and wheel (``python -m build``), and a fresh venv with the wheel installed."""
    root = tmp_path_factory.mktemp("task-template")
    source = root / DIST  # build a copy: setuptools writes build/ and *.egg-info in place
    shutil.copytree(TEMPLATE, source, ignore=shutil.ignore_patterns("build", "dist", "*.egg-info", "__pycache__"))
    dist = root / "dist"
    # --no-isolation: no index here; this environment has setuptools and the build frontend (requirements-test.txt)
    _ok(_run(Path(sys.executable), "-m", "build", "--no-isolation", "--outdir", str(dist), str(source), cwd=root))
    python = borrowing_venv(root / "venv")
    [wheel] = dist.glob("*.whl")
    _ok(_run(python, "-m", "biobench_core.cli", "install", str(wheel), "--no-deps", "--no-index", "-q", cwd=root))
    return SimpleNamespace(root=root, dist=dist, wheel=wheel, python=python)


def test_the_distribution_passes_twine_check(installed):
    files = sorted(installed.dist.iterdir())
    assert sorted(p.suffix for p in files) == [".gz", ".whl"], files
    check = _ok(_run(Path(sys.executable), "-m", "twine", "check", "--strict", *map(str, files), cwd=installed.root))
    assert check.stdout.count("PASSED") == 2, check.stdout
    with ZipFile(installed.wheel) as zf:
        [metadata] = [n for n in zf.namelist() if n.endswith(".dist-info/METADATA")]
        message = Parser().parsestr(zf.read(metadata).decode())
        names = zf.namelist()
    assert message["License-Expression"] == "MIT" and message["Description-Content-Type"] == "text/markdown"
    assert f"{PACKAGE}/sample.py" in names and not any(n.startswith("tests/") for n in names), names


def test_the_wheel_is_listed_validated_and_run_in_a_fresh_venv(installed):
    python, root = installed.python, installed.root
    where = _ok(_run(python, "-c", f"import {PACKAGE}; print({PACKAGE}.__file__)", cwd=root)).stdout.strip()
    assert Path(where).is_relative_to(root / "venv"), f"{PACKAGE} imported from {where}, not from its wheel"

    [row] = json.loads(_ok(_run(python, "-m", "biobench_core.cli", "tasks", "tasktemplate/*", "--json",
                                cwd=root)).stdout)
    assert (row["id"], row["plugin"], row["metric"]) == (TASK, DIST, "tasktemplate-macro-f1"), row

    validate = _ok(_run(python, "-m", "biobench_core.cli", "plugins", "validate", DIST, "--json", cwd=root))
    verdict = json.loads(validate.stdout)
    assert verdict["ok"] is True, validate.stdout
    [task] = verdict["tasks"]
    checks = {c["name"]: c["status"] for c in task["checks"]}
    assert "skip" not in checks.values() and checks.get("end to end") == "ok", checks  # its sample data, run

    data = root / "pollinators"
    _ok(_run(python, "-c", f"from {PACKAGE}.sample import write_sample; write_sample({str(data)!r})", cwd=root))
    results = root / "results"
    _ok(_run(python, "-m", "biobench_core.cli", "run", "--backbone", "timm/resnet10t", "--weights", "random",
             "--task", "pollinator-visits", "--data", f"pollinator-visits={data}", "--set", "max_per_site=6",
             "--results", str(results), "--device", "cpu", "--workers", "0", "--quiet", cwd=root))
    report = json.loads(_ok(_run(python, "-m", "biobench_core.cli", "report", "--results", str(results),
                                 "--format", "json", cwd=root)).stdout)
    [result] = report["results"]
    assert (result["task"], result["n_examples"]) == (TASK, 9), result
    assert set(result["splits"]) == {"meadow", "orchard", "verge"}, result  # the sites: Example.group
