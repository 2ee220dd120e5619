"""The core's layers import only downward, with no cycles: import-linter's contracts in .importlinter, run as a
user would run them (``lint-imports``), so a new upward or cyclic import fails ``make test`` naming the import."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def _lint_imports() -> list[str]:
    found = shutil.which("lint-imports", path=str(Path(sys.executable).parent))
    assert found, "lint-imports is not installed: pip install import-linter (requirements-test.txt)"
    return [found]


def test_layers_import_only_downward_and_without_cycles():
    proc = subprocess.run([*_lint_imports(), str(REPO / ".importlinter")], cwd=REPO,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    assert "0 broken" in proc.stdout and "2 kept" in proc.stdout, proc.stdout[-2000:]


def test_the_contracts_catch_an_upward_import(tmp_path):
    """The check is real: a copy of the core where the contract layer imports the CLI is refused."""
    copy = tmp_path / "biobench_core"
    shutil.copytree(REPO / "biobench_core", copy, ignore=shutil.ignore_patterns("__pycache__"))
    specs = copy / "contract" / "_specs.py"
    specs.write_text(specs.read_text() + "\n\ndef _upward():\n    from biobench_core.cli import main\n    return main\n")
    proc = subprocess.run([*_lint_imports(), str(REPO / ".importlinter")], cwd=tmp_path,
                          capture_output=True, text=True, timeout=300, env={"PYTHONPATH": str(tmp_path),
                                                                              "PATH": "/usr/bin:/bin"})
    assert proc.returncode != 0
    assert "biobench_core.contract._specs -> biobench_core.cli" in proc.stdout, proc.stdout[-3000:]
