"""Make this checkout's plugin discoverable even when it is not pip-installed, and give each test its own data."""

from __future__ import annotations

from pathlib import Path

import pytest

from biobench_core.testing import plugin_from_source

PROJECT = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def _task_template_discoverable():
    with plugin_from_source(PROJECT):
        yield


@pytest.fixture
def biobench_plugin():
    """The distribution under test (also set by ``biobench_plugin`` in pyproject.toml)."""
    return "biobench-task-template"


@pytest.fixture
def sample(tmp_path) -> Path:
    """A fresh sample dataset (the spec's own generator), in this test's temporary folder."""
    from biobench_task_template.sample import write_sample

    folder = tmp_path / "pollinators"
    write_sample(folder)
    return folder
