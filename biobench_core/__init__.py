"""biobench: which frozen vision backbone is best for biology?

The public API. Names that need torch (``VisionBackbone``, ``EncodedImgBatch``, ``load_backbone``) are imported
lazily on first use, so ``import biobench_core`` and listing stay torch-free.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from biobench_core.hookspecs import CONTRACT_VERSION, hookimpl
from biobench_core.specs import BackboneSpec, SpecError, TaskSpec

__version__ = "0.1.0"

_LAZY = {
    "VisionBackbone": "biobench_core.interfaces",
    "EncodedImgBatch": "biobench_core.interfaces",
    "BackboneOutputError": "biobench_core.interfaces",
    "Preprocessing": "biobench_core.preprocessing",
    "Geometry": "biobench_core.preprocessing",
    "BenchmarkReport": "biobench_core.report_model",
    "get_git_hash": "biobench_core.report_model",
    "list_backbones": "biobench_core.catalog",
    "list_tasks": "biobench_core.catalog",
    "list_plugins": "biobench_core.catalog",
    "load_backbone": "biobench_core.catalog",
    "load_task": "biobench_core.catalog",
    "resolve_backbone": "biobench_core.catalog",
    "resolve_task": "biobench_core.catalog",
    "UnknownIdError": "biobench_core.catalog",
    "PluginError": "biobench_core.plugins",
    "Task": "biobench_core.tasks",
    "Example": "biobench_core.tasks",
    "Evaluation": "biobench_core.tasks",
    "TaskDataError": "biobench_core.tasks",
}

__all__ = ["BackboneSpec", "TaskSpec", "SpecError", "hookimpl", "CONTRACT_VERSION", "__version__", *_LAZY]

if TYPE_CHECKING:
    from biobench_core.catalog import (UnknownIdError, list_backbones, list_plugins, list_tasks, load_backbone,
                                       load_task, resolve_backbone, resolve_task)
    from biobench_core.interfaces import BackboneOutputError, EncodedImgBatch, VisionBackbone
    from biobench_core.plugins import PluginError
    from biobench_core.preprocessing import Geometry, Preprocessing
    from biobench_core.report_model import BenchmarkReport, get_git_hash
    from biobench_core.tasks import Evaluation, Example, Task, TaskDataError


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'biobench_core' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
