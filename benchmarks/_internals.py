"""The core's internals that some benchmarks measure, reached from one named place.

Benchmarks import only the public API (``tests/test_public_imports.py``). A few measure internals that are not
API and should not become API: the interval and tie procedures (``bench_coverage.py``, ``bench_ties.py``) and the
feature cache's checksum (``bench_cache_checksum.py``), and the leaderboard builder and the HTML renderer timed
apart (``bench_html_report.py``). They get those modules from :func:`internal`, so every
such use is visible here instead of hidden in import lines, and the public-import check still covers the rest.
"""

from __future__ import annotations

import importlib
from types import ModuleType


def internal(module: str) -> ModuleType:
    """``biobench_core.<module>``, e.g. ``internal("results._ties")``."""
    return importlib.import_module(f"biobench_core.{module}")
