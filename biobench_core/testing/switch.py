"""The ``pytest11`` entry point of biobench-core: off unless a project turns the kit on.

pytest loads this module in every project of an environment where biobench-core is installed, so it only
declares two ini options and does nothing else. It adds no fixture and imports no torch. A project turns the
kit on with any one of::

    [tool.pytest.ini_options]
    biobench_kit = true                      # this switch registers biobench_core.testing
    biobench_plugin = "biobench-mymodel"     # the distribution the biobench_registry fixture loads

    pytest -p biobench_core.testing          # or addopts = "-p biobench_core.testing"
    pytest_plugins = ["biobench_core.testing"]   # in the root conftest.py or a test module
"""

from __future__ import annotations

from typing import Any

KIT = "biobench_core.testing"


def add_ini_options(parser: Any) -> None:
    """Declare the kit's ini options (also called by the kit itself, for runs without plugin autoload)."""
    parser.addini("biobench_kit", "turn on the biobench plugin authors' kit (fixtures biobench_registry, "
                                  "register_plugin)", type="bool", default=False)
    parser.addini("biobench_plugin", "distribution under test: the biobench_registry fixture loads only it",
                  type="string", default="")


def pytest_addoption(parser: Any) -> None:
    add_ini_options(parser)


def pytest_configure(config: Any) -> None:
    if config.getini("biobench_kit") and not config.pluginmanager.has_plugin(KIT):
        import importlib

        config.pluginmanager.register(importlib.import_module(KIT), KIT)
