"""The module paths of biobench-core before its layers (contract 2): they still import, with a DeprecationWarning
naming the new import, until contract 3.

``import biobench_core.tasks`` (or ``from biobench_core.tasks import Task``) gets the module that now holds those
names, so a third-party plugin written against the old paths keeps loading. New code imports from
``biobench_core`` (and the kit from ``biobench_core.testing``).
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import sys
import warnings
from types import ModuleType

__all__ = ["MOVED", "install"]

#: old module (under biobench_core) -> where it lives now (under biobench_core)
MOVED = {
    "hookspecs": "contract.hookspecs",
    "specs": "contract._specs",
    "interfaces": "contract._backbone",
    "report_model": "contract._report",
    "tasks": "contract._tasks",
    "preprocessing": "contract._preprocessing",
    "errors": "contract._errors",
    "plugins": "contract._registry",
    "catalog": "contract._catalog",
    "distributions": "testing._distributions",
    "textable": "engine._textable",
    "images": "engine._images",
    "extraction": "engine._extraction",
    "feature_source": "engine._feature_source",
    "cache": "engine._feature_cache",
    "pixel_cache": "engine._pixel_cache",
    "allocator": "engine._allocator",
    "loader_defaults": "engine._loader_defaults",
    "weights": "engine._weights",
    "identity": "engine._identity",
    "provenance": "engine._provenance",
    "data": "engine._data",
    "probes": "engine._probes",
    "store": "results._store",
    "metrics": "results._metrics",
    "stats": "results._stats",
    "leaderboard": "results._leaderboard",
    "claims": "scaleout._claims",
    "config": "scaleout._config",
    "runner": "scaleout._runner",
    "matrix": "scaleout._matrix",
    "launcher": "scaleout._launcher",
    "worker": "scaleout._worker",
    "executors": "scaleout._executors",
    "plugin_kit": "cli._validate",
}


def _new_name(fullname: str) -> str | None:
    prefix, _, rest = fullname.partition(".")
    if prefix != "biobench_core" or not rest:
        return None
    if rest == "executors.slurm":  # now its own distribution, biobench-slurm
        return "biobench_slurm.executor"
    head, _, tail = rest.partition(".")
    new = MOVED.get(head)
    if new is None or head == "cli":
        return None
    return f"biobench_core.{new}" + (f".{tail}" if tail else "")


class _Alias(importlib.abc.Loader):
    def __init__(self, new: str) -> None:
        self.new = new

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType:
        warnings.warn(f"{spec.name} is deprecated since biobench-core's layers: import its public names from "
                      f"biobench_core (or biobench_core.testing); the module is now {self.new}",
                      DeprecationWarning, stacklevel=4)
        return importlib.import_module(self.new)

    def exec_module(self, module: ModuleType) -> None:
        """The module it aliases is already executed."""


class _Finder(importlib.abc.MetaPathFinder):
    def find_spec(self, fullname, path=None, target=None):  # noqa: ANN001 - the finder protocol
        new = _new_name(fullname)
        if new is None:
            return None
        return importlib.machinery.ModuleSpec(fullname, _Alias(new), is_package=fullname.count(".") == 1
                                              and MOVED[fullname.split(".")[1]] in ("engine._probes",
                                                                                    "scaleout._executors"))


def install() -> None:
    """Put the finder on ``sys.meta_path`` once (``biobench_core/__init__`` calls it)."""
    if not any(isinstance(finder, _Finder) for finder in sys.meta_path):
        sys.meta_path.insert(0, _Finder())
