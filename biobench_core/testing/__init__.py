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
- ``biobench_registry``: an isolated :class:`~biobench_core.contract._registry.Registry` of only that distribution,
  which ``load_backbone``, ``list_backbones``... use for the duration of the test;
- ``register_plugin(obj, namespace)``: add a throwaway in-process plugin (a module or any object with hook
  functions) to that registry for one test.

``biobench_core.testing.pipeline`` checks a declared preprocessing end to end (it imports PIL; import it
yourself). Importing this module imports no torch; the checks import it when they run. The checks need no pytest either:
``biobench plugins validate`` runs them in a plain install of ``biobench-core[run]``; only the fixtures (in
``_fixtures``, re-exported here when pytest is importable) need it. (PYTEST_DONT_REWRITE: the kit reports through
its own errors, so pytest need not rewrite its asserts, and does not warn when a test module imported it before
registering it as a plugin.)
"""

from __future__ import annotations

from typing import Any

from biobench_core.contract._registry import reset_registry
from biobench_core.testing import switch as _switch
from biobench_core.testing._backbone import check_backbone, make_test_images
from biobench_core.testing._cli import cli_in_process
from biobench_core.testing._format import check_format
from biobench_core.testing._distributions import write_distribution
from biobench_core.testing._matrix import ScaleMatrix, make_image_folder
from biobench_core.testing._executor import check_executor
from biobench_core.testing._guard import HEAVY_MODULES, NetworkAccessError, NetworkGuard
from biobench_core.testing._metric import check_metric
from biobench_core.testing._plugin import check_plugin
from biobench_core.testing._probe_check import check_probe
from biobench_core.testing._reference import check_reference
from biobench_core.testing._registry import isolated_registry, plugin_from_source, use_registry
from biobench_core.testing._report import Check, ConformanceError, Report
from biobench_core.testing._task import check_task
from biobench_core.testing._task_spec import check_task_spec
from biobench_core.testing._tiny import TINY_BACKBONE, tiny_backbone

__all__ = ["check_plugin", "check_backbone", "check_task", "check_task_spec", "tiny_backbone", "TINY_BACKBONE", "check_format", "check_probe", "check_metric",
           "check_executor", "check_reference", "cli_in_process", "Check", "Report", "ConformanceError",
           "use_registry", "isolated_registry", "plugin_from_source", "make_test_images", "NetworkGuard",
           "NetworkAccessError", "HEAVY_MODULES", "reset_registry", "write_distribution", "ScaleMatrix",
           "make_image_folder"]

# The fixtures need pytest, which biobench-core does not depend on: without it the checks still import and
# run (``biobench plugins validate``); with it, registering this package as a pytest plugin provides them.
try:
    from biobench_core.testing._fixtures import biobench_plugin, biobench_registry, register_plugin  # noqa: F401
except ModuleNotFoundError as _exc:
    if (_exc.name or "").split(".")[0] not in ("pytest", "_pytest"):
        raise


def pytest_addoption(parser: Any) -> None:
    _switch.add_ini_options(parser)


def pytest_report_header(config: Any) -> str:
    name = config.getini("biobench_plugin") or "none (override the biobench_plugin fixture)"
    return f"biobench kit: plugin under test: {name}"
