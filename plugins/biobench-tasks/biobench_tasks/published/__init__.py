"""Published results shipped as reference bundles (``biobench report --published``).

``biobench-6376d97.json`` holds upstream BioBench's published per-task figures (samuelstevens/biobench at commit
6376d97, ``docs/data/results.json``, MIT licence, Copyright (c) 2024-2025 Samuel Stevens), converted unchanged by
``scripts/convert_biobench_results.py``. Read only when a report asks for it, never at discovery.
"""

from __future__ import annotations

import json
from importlib import resources
from typing import Any

__all__ = ["biobench_6376d97"]


def biobench_6376d97() -> dict[str, Any]:
    """The reference bundle of BioBench's published results at 6376d97 (schema ``biobench-reference``)."""
    text = resources.files(__name__).joinpath("biobench-6376d97.json").read_text(encoding="utf-8")
    return json.loads(text)
