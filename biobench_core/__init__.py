"""biobench: which frozen vision backbone is best for biology?

The public API: everything a plugin, an example or a benchmark may import from the core is a name here (the
authors' kit is :mod:`biobench_core.testing`). The modules behind these names are private and may move.

The spec types, ``hookimpl`` and ``did_you_mean`` are imported eagerly (they need only the standard library); every
other name is imported lazily on first use, so ``import biobench_core`` and listing stay torch-free and PIL-free.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from biobench_core import _moved
from biobench_core.contract._errors import did_you_mean
from biobench_core.contract._protocols import DEFAULT_PROTOCOL, ProtocolError, TaskProfile
from biobench_core.contract._specs import (BackboneOption, BackboneSpec, ExecutorSpec, MetricSpec, OptionError,
                                           ProbeSpec, ReferenceSpec, ReportFormatSpec, SpecError, TaskSpec)
from biobench_core.contract.hookspecs import CONTRACT_VERSION, hookimpl

from biobench_core._version import __version__

_moved.install()  # the module paths before the layers still import, with a DeprecationWarning

_CONTRACT = "biobench_core.contract"
_ENGINE = "biobench_core.engine"

#: public name -> the private module that defines it (imported on first use).
_LAZY = {
    # backbones
    "VisionBackbone": f"{_CONTRACT}._backbone",
    "EncodedImgBatch": f"{_CONTRACT}._backbone",
    "BackboneOutputError": f"{_CONTRACT}._backbone",
    "check_encoded": f"{_CONTRACT}._backbone",
    "Preprocessing": f"{_CONTRACT}._preprocessing",
    "Geometry": f"{_CONTRACT}._preprocessing",
    "INTERPOLATIONS": f"{_CONTRACT}._preprocessing",
    "apply_geometry": f"{_CONTRACT}._preprocessing",
    "normalise": f"{_CONTRACT}._preprocessing",
    # weights (a backbone plugin's weights identity and checkpoint reading)
    "file_weights_id": f"{_ENGINE}._weights",
    "random_weights_id": f"{_ENGINE}._weights",
    "pretrained_weights_id": f"{_ENGINE}._weights",
    "cached_hub_revision": f"{_ENGINE}._weights",
    "is_offline": f"{_ENGINE}._weights",
    "read_state_dict": f"{_ENGINE}._weights",
    "WeightsFileError": f"{_ENGINE}._weights",
    "WeightsNotFoundError": f"{_ENGINE}._weights",
    # tasks
    "Task": f"{_CONTRACT}._tasks",
    "Example": f"{_CONTRACT}._tasks",
    "Evaluation": f"{_CONTRACT}._tasks",
    "Prediction": f"{_CONTRACT}._tasks",
    "SplitFeatures": f"{_CONTRACT}._tasks",
    "Setting": f"{_CONTRACT}._tasks",
    "SettingsError": f"{_CONTRACT}._tasks",
    "SettingDeclarationError": f"{_CONTRACT}._tasks",
    "TaskDataError": f"{_CONTRACT}._tasks",
    "positive_int": f"{_CONTRACT}._tasks",
    "non_negative_int": f"{_CONTRACT}._tasks",
    "SPLITS": f"{_CONTRACT}._tasks",
    "ImageFileTask": f"{_ENGINE}._file_task",
    "load_rgb": f"{_ENGINE}._images",
    "DataRecipe": f"{_ENGINE}._data",
    "Download": f"{_ENGINE}._data",
    # probes and metrics, as a task's evaluate uses them
    "make_probe": f"{_CONTRACT}._extensions",
    "UnknownExtensionError": f"{_CONTRACT}._extensions",
    "Probe": f"{_ENGINE}._probes.base",
    "group_scores": f"{_CONTRACT}._extensions",
    "resolve_device": f"{_ENGINE}._probes.device",
    "rows_per_chunk": f"{_ENGINE}._probes.device",
    "metric_score": "biobench_core.results._metrics",
    "metric_replicates": "biobench_core.results._metrics",
    "class_counts": "biobench_core.results._metrics",
    "f1_from_counts": "biobench_core.results._metrics",
    "resample_index": f"{_CONTRACT}._resample",
    # the catalogue
    "list_backbones": f"{_CONTRACT}._catalog",
    "list_tasks": f"{_CONTRACT}._catalog",
    "list_plugins": f"{_CONTRACT}._catalog",
    "load_backbone": f"{_CONTRACT}._catalog",
    "load_task": f"{_CONTRACT}._catalog",
    "resolve_backbone": f"{_CONTRACT}._catalog",
    "resolve_task": f"{_CONTRACT}._catalog",
    "UnknownIdError": f"{_CONTRACT}._catalog",
    "PluginError": f"{_CONTRACT}._registry",
    "one_line": f"{_CONTRACT}._errors",
    "BenchmarkReport": f"{_CONTRACT}._report",
    "get_git_hash": f"{_CONTRACT}._report",
    # extraction, for scripts and benchmarks that drive the engine themselves
    "extract": f"{_ENGINE}._extraction",
    "ExtractionResult": f"{_ENGINE}._extracted",
    "prepare_backbone": f"{_ENGINE}._extraction",
    "declared_preprocessing": f"{_ENGINE}._extraction",
    "pixel_source_key": f"{_ENGINE}._extraction",
    "is_convnet": f"{_ENGINE}._extraction",
    "DTYPES": f"{_ENGINE}._extraction",
    "PixelCache": f"{_ENGINE}._pixel_cache",
    "default_workers": f"{_ENGINE}._loader_defaults",
    "decoded_pixel_batches": f"{_ENGINE}._bench",
    "cached_pixel_batches": f"{_ENGINE}._bench",
    # results
    "ExperimentKey": f"{_ENGINE}._identity",
    "ExperimentRecord": "biobench_core.results._store",
    "ResultsStore": "biobench_core.results._store",
    # report formats: what a format plugin's render(board, options) receives
    "Leaderboard": "biobench_core.results._leaderboard",
    "Cell": "biobench_core.results._leaderboard",
    "Column": "biobench_core.results._leaderboard",
    # scale-out: what an executor plugin builds on
    "ExecutorConfig": "biobench_core.scaleout._config",
    "executor_option": "biobench_core.scaleout._config",
    "ConfigError": "biobench_core.scaleout._config",
    "load_config": "biobench_core.scaleout._config",
    "Worker": "biobench_core.scaleout._worker",
    "under_protocol": "biobench_core.scaleout._protocol",
    "Executor": "biobench_core.scaleout._executors",
    "Handle": "biobench_core.scaleout._executors",
    "WorkerJob": "biobench_core.scaleout._worker",
}

__all__ = ["BackboneSpec", "BackboneOption", "OptionError", "TaskSpec", "TaskProfile", "ProtocolError",
           "DEFAULT_PROTOCOL", "ProbeSpec", "MetricSpec", "ReportFormatSpec", "ExecutorSpec", "ReferenceSpec",
           "SpecError", "hookimpl", "CONTRACT_VERSION", "did_you_mean", "__version__", *_LAZY]

if TYPE_CHECKING:
    from biobench_core.contract._backbone import BackboneOutputError, EncodedImgBatch, VisionBackbone, check_encoded
    from biobench_core.contract._catalog import (UnknownIdError, list_backbones, list_plugins, list_tasks,
                                                 load_backbone, load_task, resolve_backbone, resolve_task)
    from biobench_core.contract._errors import one_line
    from biobench_core.contract._extensions import UnknownExtensionError, group_scores, make_probe
    from biobench_core.contract._preprocessing import INTERPOLATIONS, Geometry, Preprocessing, apply_geometry, normalise
    from biobench_core.contract._registry import PluginError
    from biobench_core.contract._report import BenchmarkReport, get_git_hash
    from biobench_core.contract._resample import resample_index
    from biobench_core.contract._tasks import (SPLITS, Evaluation, Example, Prediction, Setting, SettingDeclarationError,
                                               SettingsError, SplitFeatures, Task, TaskDataError, non_negative_int,
                                               positive_int)
    from biobench_core.engine._bench import cached_pixel_batches, decoded_pixel_batches
    from biobench_core.engine._data import DataRecipe, Download
    from biobench_core.engine._extracted import ExtractionResult
    from biobench_core.engine._extraction import (DTYPES, declared_preprocessing, extract, is_convnet, pixel_source_key,
                                                  prepare_backbone)
    from biobench_core.engine._file_task import ImageFileTask
    from biobench_core.engine._identity import ExperimentKey
    from biobench_core.engine._images import load_rgb
    from biobench_core.engine._loader_defaults import default_workers
    from biobench_core.engine._pixel_cache import PixelCache
    from biobench_core.engine._probes.base import Probe
    from biobench_core.engine._probes.device import resolve_device, rows_per_chunk
    from biobench_core.engine._weights import (WeightsFileError, WeightsNotFoundError, cached_hub_revision,
                                               file_weights_id, is_offline, pretrained_weights_id, random_weights_id,
                                               read_state_dict)
    # (none from the layers above the engine: the engine imports this package, and import-linter counts these)


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'biobench_core' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
