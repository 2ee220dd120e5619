from __future__ import annotations

import pytest

from biobench_core.testing import reset_registry


@pytest.fixture(autouse=True)
def _offline_and_fresh_registry(monkeypatch):
    """Never touch the network, and discover plugins afresh around every test."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    reset_registry()
    yield
    reset_registry()
