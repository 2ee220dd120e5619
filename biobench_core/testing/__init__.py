"""The plugin authors' kit: conformance checks and pytest fixtures for biobench plugins.

Use the checks from any test (or script)::

    from biobench_core.testing import check_backbone, check_plugin

    def test_conformance(biobench_registry):
        check_plugin("biobench-mymodel").assert_ok()
        check_backbone("mymodel/base", weights="random").assert_ok()

This module is also a pytest plugin, off by default: turn it on with ``-p biobench_core.testing``,
``pytest_plugins = ["biobench_core.testing"]`` or the ini option ``biobench_kit = true``. It then provides

- ``biobench_plugin``: the distribution under test (the ini option ``biobench_plugin``; override the fixture
  to choose another);
- ``biobench_registry``: an isolated :class:`~biobench_core.plugins.Registry` of only that distribution,
  which ``load_backbone``, ``list_backbones``... use for the duration of the test;
- ``register_plugin(obj, namespace)``: add a throwaway in-process plugin (a module or any object with hook
  functions) to that registry for one test.

Importing this module imports no torch; the checks import it when they run. (PYTEST_DONT_REWRITE: the kit
reports through its own errors, so pytest need not rewrite its asserts, and does not warn when a test module
imported it before registering it as a plugin.)
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from biobench_core.plugins import PluginRecord, Registry
from biobench_core.testing import switch as _switch
from biobench_core.testing._backbone import check_backbone, make_test_images
from biobench_core.testing._guard import HEAVY_MODULES, NetworkAccessError, NetworkGuard
from biobench_core.testing._plugin import check_plugin
from biobench_core.testing._registry import isolated_registry, plugin_from_source, use_registry
from biobench_core.testing._report import Check, ConformanceError, Report
from biobench_core.testing._task import check_task

__all__ = ["check_plugin", "check_backbone", "check_task", "Check", "Report", "ConformanceError",
           "use_registry", "isolated_registry", "plugin_from_source", "make_test_images", "NetworkGuard",
           "NetworkAccessError", "HEAVY_MODULES"]


def pytest_addoption(parser: Any) -> None:
    _switch.add_ini_options(parser)


def pytest_report_header(config: Any) -> str:
    name = config.getini("biobench_plugin") or "none (override the biobench_plugin fixture)"
    return f"biobench kit: plugin under test: {name}"


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
