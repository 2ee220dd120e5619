"""Figures for the core's shape (issue 17): the tree before the layers (commit c818d7e) against this one.

For each tree: lines of Python in the core (``biobench_core/``) and in the first-party plugins' packages
(``plugins/*/biobench_*/``, tests excluded), the largest core module, import cycles between the core's modules, and
imports that go up a layer (for the old flat tree, each module is put in the layer it moved to, by
``biobench_core._moved.MOVED``). Imports are read by grimp (what import-linter uses), function-level ones included.
Then the wall time of ``biobench backbones``, ``biobench plugins`` and ``biobench report`` (on a store of 40
experiments, written by the same core) over that of ``import torch``, old tree and new, in fresh processes.

``python benchmarks/bench_layers.py [--quick]``
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
OLD_COMMIT = "c818d7e"
#: The layers, top to bottom (the same order as .importlinter); a module's layer is its first name under the core.
LAYERS = ("cli", "testing", "scaleout", "formats", "results", "engine", "contract")
SIBLINGS = {"scaleout": "formats", "formats": "scaleout"}  # independent layers at one level


def _export_old_tree(dest: Path) -> Path:
    """The core and the plugins as they were at OLD_COMMIT, unpacked under ``dest``."""
    archive = subprocess.run(["git", "-C", str(REPO), "archive", OLD_COMMIT, "biobench_core", "plugins"],
                             check=True, capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(dest)], input=archive, check=True)
    return dest


def _moved_modules() -> dict[str, str]:
    """``biobench_core._moved.MOVED`` (old module -> new), read from its source: nothing private is imported."""
    import ast

    tree = ast.parse((REPO / "biobench_core" / "_moved.py").read_text(encoding="utf-8"))
    for node in tree.body:
        if isinstance(node, ast.AnnAssign | ast.Assign):
            targets = [node.target] if isinstance(node, ast.AnnAssign) else node.targets
            if any(getattr(t, "id", None) == "MOVED" for t in targets):
                return ast.literal_eval(node.value)
    raise RuntimeError("biobench_core/_moved.py has no MOVED table")


def _lines(paths: list[Path]) -> int:
    return sum(len(p.read_text(encoding="utf-8").splitlines()) for p in paths)


def _layer_of(module: str, moved: dict[str, str]) -> str | None:
    parts = module.split(".")
    if len(parts) < 2:
        return None
    head = parts[1]
    if head in LAYERS:
        return head
    if head == "cli" or head == "plugin_kit":
        return "cli"
    target = moved.get(head)
    return None if target is None else target.split(".")[0]


def _rank(layer: str) -> int:
    order = {"cli": 0, "testing": 1, "scaleout": 2, "formats": 2, "results": 3, "engine": 4, "contract": 5}
    return order[layer]


def shape(root: Path) -> dict[str, Any]:
    """Lines, the largest module, cycles and upward imports of the tree at ``root``."""
    code = (
        "import json, sys, grimp\n"
        "graph = grimp.build_graph('biobench_core', include_external_packages=False, cache_dir=None)\n"
        "edges = sorted({(a, b) for a in graph.modules for b in graph.find_modules_directly_imported_by(a)})\n"
        "print(json.dumps(edges))\n"
    )
    env = {**os.environ, "PYTHONPATH": str(root)}
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True, env=env, cwd=root)
    import json

    edges = [tuple(e) for e in json.loads(out.stdout)]
    MOVED = _moved_modules()
    upward = sorted({(a, b) for a, b in edges
                     if (la := _layer_of(a, MOVED)) and (lb := _layer_of(b, MOVED)) and la != lb
                     and _rank(lb) < _rank(la)})
    core = sorted((root / "biobench_core").rglob("*.py"))
    plugins = sorted(p for p in (root / "plugins").glob("*/biobench_*/**/*.py"))
    largest = max(core, key=lambda p: len(p.read_text(encoding="utf-8").splitlines()))
    return {
        "core_lines": _lines(core),
        "core_modules": len(core),
        "plugin_lines": _lines(plugins),
        "largest": f"{largest.relative_to(root)} ({len(largest.read_text(encoding='utf-8').splitlines())})",
        "cycles": _cycles(edges),
        "upward": len(upward),
        "upward_examples": [f"{a} -> {b}" for a, b in upward[:3]],
    }


def _cycles(edges: list[tuple[str, str]]) -> int:
    """Strongly connected components of more than one module in the import graph (Tarjan's algorithm)."""
    graph: dict[str, list[str]] = {}
    for a, b in edges:
        graph.setdefault(a, []).append(b)
        graph.setdefault(b, [])
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    count = 0
    counter = 0
    sys.setrecursionlimit(10_000)

    def visit(node: str) -> None:
        nonlocal counter, count
        index[node] = low[node] = counter
        counter += 1
        stack.append(node)
        on_stack.add(node)
        for nxt in graph[node]:
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            size = 0
            while True:
                member = stack.pop()
                on_stack.discard(member)
                size += 1
                if member == node:
                    break
            count += size > 1

    for node in graph:
        if node not in index:
            visit(node)
    return count


def _wall(cmd: list[str], env: dict[str, str], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        subprocess.run(cmd, check=True, capture_output=True, env=env)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def timings(old_root: Path, stores: dict[str, Path], repeat: int) -> list[dict[str, Any]]:
    """Each command's wall time over ``import torch``'s, with the old core (PYTHONPATH) and with this one."""
    base = {**os.environ, "HF_HUB_OFFLINE": "1"}
    torch_import = _wall([sys.executable, "-c", "import torch"], base, repeat)
    rows = []
    for name, args in (("biobench backbones", ["backbones"]), ("biobench plugins", ["plugins"]),
                       ("biobench report", ["report", "--results"])):
        old_args = [*args, str(stores["old"])] if name == "biobench report" else args
        new_args = [*args, str(stores["new"])] if name == "biobench report" else args
        old = _wall([sys.executable, "-m", "biobench_core.cli", *old_args], {**base, "PYTHONPATH": str(old_root)},
                    repeat)
        new = _wall([sys.executable, "-m", "biobench_core.cli", *new_args], base, repeat)
        rows.append({"command": name, "old": old / torch_import, "new": new / torch_import,
                     "old_s": old, "new_s": new, "torch_s": torch_import})
    return rows


#: Writes a results store of 40 experiments (4 backbones x 10 tasks, 500 examples each) into argv[1] with whichever
#: core is on the path: the old one (its store module) or this one (the public API).
_STORE_SCRIPT = """
import dataclasses, sys
import numpy as np
try:
    from biobench_core import ExperimentKey, ExperimentRecord, ResultsStore
except ImportError:  # the core before the layers
    from biobench_core.store import ExperimentKey, ExperimentRecord, ResultsStore
rng = np.random.default_rng(0)
fields = {f.name for f in dataclasses.fields(ExperimentKey)}
with ResultsStore(sys.argv[1]) as store:
    for b in range(4):
        for t in range(10):
            labels = rng.integers(0, 10, 500)
            preds = np.where(rng.random(500) < 0.3 + 0.1 * b, labels, rng.integers(0, 10, 500))
            given = dict(backbone=f"bench/b{b}", weights="random", task=f"bench/t{t}", settings="probe=logreg",
                         data="d", code="c")
            key = ExperimentKey(**{k: v for k, v in given.items() if k in fields})
            store.save(ExperimentRecord(
                key=key, comparable=True, score=float(np.mean(labels == preds)),
                examples=[(f"e{i}", float(y == p), {"label": int(y), "pred": int(p)})
                          for i, (y, p) in enumerate(zip(labels, preds))],
                splits={}, metric="accuracy"))
"""


def _small_store(folder: Path, pythonpath: str | None) -> Path:
    """A results store written by the core on ``pythonpath`` (``None``: this one)."""
    env = {**os.environ, **({"PYTHONPATH": pythonpath} if pythonpath else {})}
    subprocess.run([sys.executable, "-W", "ignore", "-c", _STORE_SCRIPT, str(folder)], check=True, env=env,
                   capture_output=True)
    return folder


def run(quick: bool = False) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        old_root = _export_old_tree(Path(tmp))
        stores = {"old": _small_store(Path(tmp) / "results-old", str(old_root)),
                  "new": _small_store(Path(tmp) / "results-new", None)}
        return {"old": shape(old_root), "new": shape(REPO), "timings": timings(old_root, stores, 3 if quick else 5)}


def to_markdown(result: dict[str, Any]) -> str:
    old, new = result["old"], result["new"]
    lines = ["| | before (c818d7e) | now |", "|---|---|---|",
             f"| lines in the core / in the plugins' packages | {old['core_lines']:,} / {old['plugin_lines']:,} "
             f"({old['core_lines'] / old['plugin_lines']:.2f}x) | {new['core_lines']:,} / {new['plugin_lines']:,} "
             f"({new['core_lines'] / new['plugin_lines']:.2f}x) |",
             f"| core modules | {old['core_modules']} | {new['core_modules']} |",
             f"| largest core module (lines) | {old['largest']} | {new['largest']} |",
             f"| import cycles between core modules | {old['cycles']} | {new['cycles']} |",
             f"| imports going up a layer | {old['upward']} | {new['upward']} |", "",
             "| command, over `import torch` | before | now |", "|---|---|---|"]
    for row in result["timings"]:
        lines.append(f"| {row['command']} | {row['old']:.3f} ({row['old_s']:.2f} s) | {row['new']:.3f} "
                     f"({row['new_s']:.2f} s) |")
    lines.append(f"\n`import torch`: {result['timings'][0]['torch_s']:.2f} s. Upward imports before, e.g.: "
                 + "; ".join(old["upward_examples"]))
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    print(to_markdown(run(quick=args.quick)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
