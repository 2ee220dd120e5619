"""The results layer: the results store, metrics, statistics and leaderboard assembly. Imports the engine and the
contract below it.

Its public API is results as data (see docs/results-api.md): :func:`load` reads a results folder or a bundle
(``biobench export``), or several merged, into :class:`Results` of typed :class:`Result`. The names are imported
on first use, so importing a private module of this package stays cheap.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__all__ = ["load", "Result", "Results", "Predictions", "Provenance", "MissingExtraError", "BundleError"]

_LAZY = {name: "biobench_core.results._api" for name in __all__} | {"BundleError": "biobench_core.results._bundle"}

if TYPE_CHECKING:
    from biobench_core.results._api import MissingExtraError, Predictions, Provenance, Result, Results, load
    from biobench_core.results._bundle import BundleError


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'biobench_core.results' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(__all__) | set(globals()))
