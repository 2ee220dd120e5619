"""Run the matrix: backbones x tasks -> features (cached) -> probe -> results store.

A finished experiment is skipped unless ``force``; each experiment is committed on its own, so an interrupted
run keeps everything that finished and the next run does only what is missing. One failing experiment (a
backbone returning NaN, a broken plugin) is reported and the others still run.
"""

from __future__ import annotations

import dataclasses
import os
import resource
import socket
import sys
import time
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from biobench_core.cache import CacheWriteError, FeatureCache, feature_key
from biobench_core.config import TaskRequest
from biobench_core.catalog import load_backbone, load_task, resolve_backbone, resolve_task
from biobench_core.errors import one_line
from biobench_core.plugins import get_registry
from biobench_core.report_model import bootstrap_interval, get_git_hash
from biobench_core.specs import BackboneSpec
from biobench_core.store import ExperimentKey, ExperimentRecord, ResultsStore
from biobench_core.tasks import SPLITS, Example, SplitFeatures, Task, TaskDataError

__all__ = ["RunOptions", "RunSummary", "run_matrix", "weights_label"]

PRETRAINED = "pretrained"


def weights_label(weights: str | None) -> str:
    """How a weights choice is stored and shown: ``pretrained``, ``random``, or the path/reference given."""
    return PRETRAINED if weights in (None, "", PRETRAINED) else str(weights)


@dataclasses.dataclass
class RunOptions:
    results_dir: Path = Path("results")
    device: str = "auto"
    dtype: str = "fp32"
    batch_size: int = 32
    workers: int = 1
    limit: int | None = None
    force: bool = False
    use_cache: bool = True
    cache_dir: Path | None = None
    on_bad_image: str = "skip"
    settings: dict[str, str] = dataclasses.field(default_factory=dict)
    progress: bool = True


@dataclasses.dataclass
class RunSummary:
    done: list[str] = dataclasses.field(default_factory=list)
    skipped: list[str] = dataclasses.field(default_factory=list)
    failed: list[str] = dataclasses.field(default_factory=list)


def _versions(backbone_id: str, task_id: str) -> dict[str, str]:
    import biobench_core

    registry = get_registry()
    versions = {"biobench-core": biobench_core.__version__}
    for item in (backbone_id, task_id):
        owner = registry.owner_of(item)
        if owner is not None:
            versions[owner.name] = owner.version
    torch = sys.modules.get("torch")
    if torch is not None:
        versions["torch"] = torch.__version__
    return versions


def _peak_memory_mb(device: Any) -> float:
    import torch

    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**20
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB; the process's peak so far


def run_matrix(
    backbones: Sequence[tuple[str, str | None]],
    tasks: Sequence[TaskRequest],
    options: RunOptions,
    log: Callable[[str], None] = lambda line: print(line, file=sys.stderr),
) -> RunSummary:
    """Run every (backbone, weights) on every task; see the module docstring.

    ``options.settings`` (``--set``) apply to every task, over each request's own settings.
    """
    # Resolve every id and build every task before loading any model: a typo or a missing data folder fails in
    # milliseconds, not after an hour of extraction.
    backbone_specs = [(resolve_backbone(b), w) for b, w in backbones]
    built_tasks: list[Task] = []
    for request in tasks:
        task = load_task(resolve_task(request.id).id, request.data, {**dict(request.settings), **options.settings})
        built_tasks.append(task)
        sizes = ", ".join(f"{len(task.examples(split))} {split}" for split in SPLITS)
        log(f"task  {task.spec.id}: {sizes} examples; {task.settings_key()}"
            + (f"; smoke mode: at most {options.limit} per split" if options.limit else ""))
    settings_of = {t.spec.id: _settings_key(t, options) for t in built_tasks}
    cache = FeatureCache(options.cache_dir) if options.use_cache else None
    summary = RunSummary()
    with ResultsStore(options.results_dir) as store:
        for spec, weights in backbone_specs:
            label = weights_label(weights)
            pending = []
            for task in built_tasks:
                key = ExperimentKey(spec.id, label, task.spec.id, settings_of[task.spec.id])
                name = f"{spec.id} [{label}] on {task.spec.id}"
                if store.has(key) and not options.force:
                    summary.skipped.append(name)
                    log(f"skip  {name}: already in {store.path} (use --force to redo)")
                else:
                    pending.append((task, key, name))
            if not pending:
                continue
            backbone = _LazyBackbone(spec, weights, options)
            for task, key, name in pending:
                try:
                    record = _run_one(backbone, task, key, cache, options)
                except (KeyboardInterrupt, SystemExit):
                    raise
                except Exception as exc:  # noqa: BLE001 - reported per experiment, the matrix goes on
                    summary.failed.append(f"{name}: {one_line(exc)}")
                    log(f"FAIL  {name}: {one_line(exc)}")
                    continue
                store.save(record)
                low, high = bootstrap_interval([score for _, score, _ in record.examples])
                summary.done.append(name)
                log(f"done  {name}: {record.score:.3f} (95% CI {low:.3f}-{high:.3f}, n={len(record.examples)}"
                    + (f", {record.n_skipped} undecodable images skipped" if record.n_skipped else "") + ")")
            del backbone
    return summary


def _settings_key(task: Task, options: RunOptions) -> str:
    key = f"{task.settings_key()},dtype={options.dtype}"
    return key + (f",limit={options.limit}" if options.limit is not None else "")


class _LazyBackbone:
    """A backbone built on first use, so a run whose features are all cached never loads the model.

    Its ``memo_key`` names what determines the weights and the transform without building anything: the id,
    the weights argument (with the file's size and mtime when it is a file), the plugin's version and the dtype.
    The cache remembers, under that key, the ``weights_id`` and transform of the last build.
    """

    def __init__(self, spec: BackboneSpec, weights: str | None, options: RunOptions) -> None:
        from biobench_core.extraction import pick_device

        self.spec, self.options = spec, options
        self.weights = None if weights_label(weights) == PRETRAINED else weights
        self.device = pick_device(options.device)
        self._built: Any = None
        self._identity: dict[str, str] | None = None
        owner = get_registry().owner_of(spec.id)
        stamp = None
        if self.weights is not None and os.path.isfile(self.weights):
            st = os.stat(self.weights)
            stamp = [os.path.abspath(self.weights), st.st_size, st.st_mtime_ns]
        self.memo_key = feature_key(kind="backbone-memo", backbone=spec.id, weights=weights_label(weights),
                                    file=stamp, plugin=[owner.name, owner.version] if owner else None,
                                    dtype=options.dtype)

    def get(self) -> Any:
        from biobench_core.extraction import prepare_backbone

        if self._built is None:
            backbone = load_backbone(self.spec.id, self.weights)
            self._built = prepare_backbone(backbone, self.device, self.options.dtype)
        return self._built

    def identity(self) -> dict[str, str]:
        """What the feature cache keys on: exact weights and transform (builds the backbone on first call)."""
        if self._identity is None:
            backbone = self.get()
            self._identity = {"weights_id": backbone.weights_id, "transform": repr(backbone.make_img_transform())}
        return self._identity


def _limited(examples: list[Example], limit: int | None) -> list[Example]:
    """``limit`` examples spread evenly over the split, so a smoke run still sees every class of a sorted split."""
    if limit is None or limit >= len(examples):
        return examples
    step = len(examples) / limit
    return [examples[int(i * step)] for i in range(limit)]


def _features(backbone: _LazyBackbone, task: Task, split: str, cache: FeatureCache | None,
              options: RunOptions) -> tuple[SplitFeatures, dict[str, Any]]:
    from biobench_core.extraction import extract

    examples = _limited(list(task.examples(split)), options.limit)
    manifest = task.manifest(split, examples)

    def key_for(identity: dict[str, str]) -> str:
        return feature_key(backbone=backbone.spec.id, weights=identity["weights_id"],
                           transform=identity["transform"], dtype=options.dtype, patches=task.needs_patches,
                           manifest=manifest)

    if cache is not None:
        remembered = cache.recall(backbone.memo_key)
        if remembered is not None and (hit := cache.get(key_for(remembered), examples)) is not None:
            split_features, meta = hit
            if meta.get("skipped") and options.on_bad_image == "fail":
                raise TaskDataError(meta["skipped"][0])  # the cached run skipped it; this run asked to fail on it
            return split_features, {**meta, "cache": "hit"}
    identity = backbone.identity()
    key = key_for(identity)
    if cache is not None:
        cache.remember(backbone.memo_key, identity)
    result = extract(backbone.get(), task, split, examples, device=backbone.device, dtype=options.dtype,
                     batch_size=options.batch_size, workers=options.workers, need_patches=task.needs_patches,
                     on_bad_image=options.on_bad_image, progress=options.progress)
    meta = {"images_per_second": result.images_per_second, "seconds": result.seconds, "skipped": result.skipped,
            "n_images": result.n_images}
    if cache is not None:
        try:
            cache.put(key, result.split, meta)
        except CacheWriteError as exc:
            warnings.warn(f"{exc}; continuing without caching these features", stacklevel=2)
    return result.split, {**meta, "cache": "miss"}


def _run_one(backbone: _LazyBackbone, task: Task, key: ExperimentKey, cache: FeatureCache | None,
             options: RunOptions) -> ExperimentRecord:
    import torch

    device = backbone.device
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    splits: dict[str, SplitFeatures] = {}
    metas: dict[str, dict[str, Any]] = {}
    for split in SPLITS:
        splits[split], metas[split] = _features(backbone, task, split, cache, options)
    extracted = [m for m in metas.values() if m.get("n_images")]
    n_images = sum(m["n_images"] for m in extracted)
    seconds = sum(m["seconds"] for m in extracted)
    start = time.perf_counter()
    evaluation = task.evaluate(splits["train"], splits["test"], device=str(device))
    fit_seconds = time.perf_counter() - start
    if not evaluation.examples:
        raise RuntimeError(f"{task.spec.id}: evaluate() scored no test example")
    scores = [s for _, s, _ in evaluation.examples]
    return ExperimentRecord(
        key=key,
        comparable=options.limit is None,
        score=float(sum(scores) / len(scores)),
        examples=evaluation.examples,
        splits=evaluation.splits,
        n_skipped=sum(len(m.get("skipped", [])) for m in metas.values()),
        probe={"name": task.probe, **evaluation.probe},
        argv=list(sys.argv),
        git_commit=get_git_hash(),
        versions=_versions(key.backbone, key.task),
        hostname=socket.gethostname(),
        device=torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu",
        dtype=options.dtype,
        posix_time=time.time(),
        images_per_second=n_images / seconds if seconds > 0 else None,
        extract_seconds=seconds if extracted else 0.0,
        fit_seconds=fit_seconds,
        peak_memory_mb=_peak_memory_mb(device),
        feature_cache=",".join(f"{s}:{metas[s]['cache']}" for s in SPLITS),
    )
