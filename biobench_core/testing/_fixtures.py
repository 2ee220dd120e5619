"""The kit's pytest fixtures; the only module of ``biobench_core.testing`` that imports pytest.

``biobench_core.testing`` re-exports them when pytest is importable, so registering that package as a pytest
plugin provides them, while the checks themselves (and ``biobench plugins validate``) need no pytest.
(PYTEST_DONT_REWRITE: the fixtures report through ``pytest.fail``, not asserts.)
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from biobench_core.contract._registry import PluginRecord, Registry
from biobench_core.testing._registry import isolated_registry, use_registry

__all__ = ["biobench_plugin", "biobench_registry", "register_plugin"]


@pytest.fixture
def biobench_plugin(request: pytest.FixtureRequest) -> str | None:
    """The distribution under test: the ini option ``biobench_plugin``, or ``None``. Override to choose."""
    return request.config.getini("biobench_plugin") or None


@pytest.fixture
def biobench_registry(biobench_plugin: str | None) -> Iterator[Registry]:
    """An isolated registry of only ``biobench_plugin`` (empty when it is ``None``), used by the catalogue
    functions (``load_backbone``, ``load_task``, ``list_backbones``...) for the duration of the test.

    Fails the test at once, with the plugin's own error, when that distribution is missing or does not load.
    """
    registry = isolated_registry([biobench_plugin] if biobench_plugin else [])
    if biobench_plugin:
        if not registry.plugins:
            pytest.fail(f"biobench_registry: no installed distribution {biobench_plugin!r} with a 'biobench' entry "
                        f"point (pip install -e . in the plugin's checkout)", pytrace=False)
        broken = [r for r in registry.plugins if not r.ok]
        if broken:
            pytest.fail("biobench_registry: " + "; ".join(str(r.failure()) for r in broken), pytrace=False)
    with use_registry(registry):
        yield registry


@pytest.fixture
def register_plugin(biobench_registry: Registry) -> Callable[..., PluginRecord]:
    """``register_plugin(obj, namespace, *, name="<local>", version="0") -> PluginRecord``: add an in-process
    plugin to ``biobench_registry`` for this test, as if an entry point named ``obj`` under ``namespace``.

    ``obj`` is a module, a class or a ``types.SimpleNamespace`` holding ``@hookimpl`` functions. The returned
    record says whether it worked (``record.ok``, ``record.error``).
    """
    def register(obj: Any, namespace: str, *, name: str = "<local>", version: str = "0") -> PluginRecord:
        return biobench_registry.register(obj, namespace, name=name, version=version)

    return register
