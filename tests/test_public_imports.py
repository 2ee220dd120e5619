"""The public API is what the first-party plugins, the examples and the benchmarks use.

They import only ``biobench_core`` and the authors' kit (``biobench_core.testing``, ``biobench_core.testing.pipeline``),
and only names those modules export; the module paths from before the layers still import, with a
``DeprecationWarning`` naming the new import; and ``import biobench_core`` stays torch-free.
"""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from pathlib import Path

import biobench_core
import biobench_core.results
import biobench_core.testing
import biobench_core.testing.pipeline
from biobench_core._moved import MOVED

REPO = Path(__file__).resolve().parents[1]
SCANNED = ("plugins", "examples", "benchmarks")
PUBLIC = {
    "biobench_core": set(biobench_core.__all__),
    "biobench_core.testing": set(biobench_core.testing.__all__) | {"biobench_plugin", "biobench_registry",
                                                                   "register_plugin"},  # the kit's fixtures
    "biobench_core.testing.pipeline": set(biobench_core.testing.pipeline.__all__),
    "biobench_core.results": set(biobench_core.results.__all__),  # results as data (docs/results-api.md)
}


def _sources() -> list[Path]:
    skip = {".venv", "build", "dist", "__pycache__", ".git"}
    return sorted(path for top in SCANNED for path in (REPO / top).rglob("*.py")
                  if not skip.intersection(path.relative_to(REPO).parts) and ".egg-info" not in str(path))


def _private_imports(path: Path) -> list[str]:
    """``file:line: what`` for each import of a core module, or a core name, outside the public API."""
    where = path.relative_to(REPO)
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            found += [f"{where}:{node.lineno}: import {alias.name}" for alias in node.names
                      if alias.name.split(".")[0] == "biobench_core" and alias.name not in PUBLIC]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            if node.module.split(".")[0] != "biobench_core":
                continue
            if node.module not in PUBLIC:
                found.append(f"{where}:{node.lineno}: from {node.module} import ...")
                continue
            found += [f"{where}:{node.lineno}: from {node.module} import {alias.name} (not in its __all__)"
                      for alias in node.names if alias.name not in PUBLIC[node.module]]
    return found


def test_plugins_examples_and_benchmarks_import_only_the_public_api():
    sources = _sources()
    assert any("biobench-tasks" in str(path) for path in sources) and any("benchmarks" in str(p) for p in sources)
    private = [line for path in sources for line in _private_imports(path)]
    assert not private, "import these from biobench_core (or the kit, biobench_core.testing):\n" + "\n".join(private)


def test_the_check_names_the_file_and_line_of_a_private_import(tmp_path, monkeypatch):
    monkeypatch.setattr(sys.modules[__name__], "REPO", tmp_path)
    plugin = tmp_path / "plugins" / "p" / "p.py"
    plugin.parent.mkdir(parents=True)
    plugin.write_text("import biobench_core\nfrom biobench_core import Task\n\n"
                      "def f():\n    from biobench_core.engine._images import load_image\n"
                      "    from biobench_core import _moved\n")
    assert _private_imports(plugin) == [
        "plugins/p/p.py:5: from biobench_core.engine._images import ...",
        "plugins/p/p.py:6: from biobench_core import _moved (not in its __all__)",
    ]


def test_every_public_name_resolves():
    missing = [name for name in biobench_core.__all__ if not hasattr(biobench_core, name)]
    assert not missing


_OLD_PATHS = r"""
import importlib, json, sys, warnings
import biobench_core
from biobench_core._moved import MOVED

out = {}
for old, new in MOVED.items():
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        module = importlib.import_module(f"biobench_core.{old}")
    messages = [str(w.message) for w in caught if issubclass(w.category, DeprecationWarning)
                and f"biobench_core.{old}" in str(w.message)]
    out[old] = {"same": module is sys.modules[f"biobench_core.{new}"], "warnings": messages}
print(json.dumps(out))
"""


def test_every_old_module_path_imports_with_a_deprecation_warning_naming_the_new_import():
    proc = subprocess.run([sys.executable, "-c", _OLD_PATHS], capture_output=True, text=True, timeout=300,
                          env={**os.environ, "HF_HUB_OFFLINE": "1"})
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout.splitlines()[-1])
    assert set(result) == set(MOVED)
    for old, new in MOVED.items():
        assert result[old]["same"], f"biobench_core.{old} is not biobench_core.{new}"
        [message] = result[old]["warnings"]
        assert f"biobench_core.{new}" in message and "from biobench_core" in message, (old, message)


def test_import_biobench_core_imports_no_torch():
    code = ("import sys, biobench_core, biobench_core.testing; dir(biobench_core); "
            "print(sorted(m for m in ('torch', 'PIL', 'torchvision') if m in sys.modules))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[]", proc.stdout
