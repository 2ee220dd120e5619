"""Make this checkout's plugin discoverable even when it is not pip-installed (e.g. a fresh clone)."""

from __future__ import annotations

from pathlib import Path

import pytest

from biobench_core.testing import plugin_from_source

PROJECT = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def _template_discoverable():
    with plugin_from_source(PROJECT):
        yield


@pytest.fixture
def biobench_plugin():
    """The distribution under test (also set by ``biobench_plugin`` in pyproject.toml)."""
    return "biobench-template"
