"""Run the matrix: backbones x tasks -> features (cached) -> probe -> results store.

Every (backbone, weights, task, settings) cell of the request is its own experiment, keyed in the store by what
determines its result: the backbone, the weights (a local file by its content), the task, every setting that
changes the result, and the data (a hash of the train and test manifests). A finished experiment is skipped
unless ``force`` or the code behind it changed (biobench-core's, or the backbone's or the task's plugin's, edited in
place at the same version: the stored result is redone and replaced, saying so); a change to any of the key's
parts is a new experiment. Each experiment is committed on its own, so an
interrupted run keeps everything that finished and the next run does only what is missing. One failing
experiment (a backbone returning NaN, a broken plugin, a metric that raises) is reported and the others run.
"""

from __future__ import annotations

import contextlib
import dataclasses
import difflib
import hashlib
import os
import socket
import sys
import time
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from biobench_core.cache import FeatureCache
from biobench_core.catalog import load_task, resolve_backbone, resolve_task
from biobench_core.config import ConfigError, TaskRequest
from biobench_core.errors import debug_enabled, one_line
from biobench_core.feature_source import LazyBackbone, SplitInput, code_identity, experiment_features
from biobench_core.provenance import changed_code, code_behind, device_name, peak_memory_mb, versions
from biobench_core.report_model import get_git_hash
from biobench_core.store import DB_NAME, ExperimentKey, ExperimentRecord, ResultsStore
from biobench_core.tasks import SPLITS, Example, Task

__all__ = ["RunOptions", "RunSummary", "run_matrix", "weights_label", "weights_key", "check_weights_choice",
           "WeightsChoiceError"]

PRETRAINED = "pretrained"


def weights_label(weights: str | None) -> str:
    """How a weights choice is shown: ``pretrained``, ``random``, or the path/reference given."""
    return PRETRAINED if weights in (None, "", PRETRAINED) else str(weights)


def weights_key(weights: str | None) -> str:
    """How a weights choice keys results and the build memo: the label, plus a local file's content hash.

    Overwriting ``w.safetensors`` with other weights is then a different experiment, never a stale skip.
    """
    label = weights_label(weights)
    if label != PRETRAINED and os.path.isfile(label):
        from biobench_core.weights import file_digest

        return f"{label}#sha256:{file_digest(label)[:16]}"
    return label


#: The weights keywords every backbone accepts; plugins may document more (``hf-hub:org/repo``, ``random:seed=3``).
WEIGHTS_KEYWORDS = (PRETRAINED, "random")


class WeightsChoiceError(ConfigError):
    """A weights value that is no file and looks like a misspelt keyword; a usage error (exit 2)."""


def check_weights_choice(weights: str | None) -> None:
    """Refuse a weights value that is neither an existing path nor a keyword but close to one (``pretraned``).

    Only a plain word is judged: anything with a digit, ``:``, ``/``, ``-`` or ``.`` is a plugin's own value or a
    path, and is left to the plugin.
    """
    if not weights or weights in WEIGHTS_KEYWORDS or not weights.isalpha() or os.path.exists(weights):
        return
    close = difflib.get_close_matches(weights.lower(), WEIGHTS_KEYWORDS, n=1, cutoff=0.75)
    if close:
        raise WeightsChoiceError(f"--weights {weights!r} is neither a file nor a keyword; did you mean {close[0]!r}?")


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


@dataclasses.dataclass
class PlannedTask:
    """One requested task with its settings and data, ready to key results."""

    task: Task
    inputs: dict[str, SplitInput]
    settings: str  # the results key's settings: the task's settings, dtype and limit
    column_settings: dict[str, str]  # those that change what is measured (all but dtype)
    data: str  # hash of both splits' manifests


def _limited(examples: list[Example], limit: int | None) -> list[Example]:
    """``limit`` examples spread evenly over the split, so a smoke run still sees every class of a sorted split."""
    if limit is None or limit >= len(examples):
        return examples
    step = len(examples) / limit
    return [examples[int(i * step)] for i in range(limit)]


def _build_task(request: TaskRequest, options: RunOptions) -> Task:
    """The task with its settings checked (unknown names and bad values are refused here, before any work)."""
    return load_task(resolve_task(request.id).id, request.data, {**dict(request.settings), **options.settings})


def _plan(task: Task, options: RunOptions, log: Callable[[str], None]) -> PlannedTask:
    inputs = {}
    for split in SPLITS:
        examples = _limited(task.chosen_examples(split), options.limit)
        inputs[split] = SplitInput(examples, task.manifest(split, examples))
    sizes = ", ".join(f"{len(task.chosen_examples(split))} {split}" for split in SPLITS)
    log(f"task  {task.spec.id}: {sizes} examples; {task.settings_key()}"
        + (f"; smoke mode: at most {options.limit} per split" if options.limit else ""))
    column = dict(sorted({**task.settings, "probe": task.probe}.items()))
    if options.limit is not None:
        column["limit"] = str(options.limit)
    settings = f"{task.settings_key()},dtype={options.dtype}" + (
        f",limit={options.limit}" if options.limit is not None else "")
    data = hashlib.sha256(f"{inputs['train'].manifest}\0{inputs['test'].manifest}".encode()).hexdigest()[:16]
    return PlannedTask(task, inputs, settings, column, data)


def run_matrix(
    backbones: Sequence[tuple[str, str | None]],
    tasks: Sequence[TaskRequest],
    options: RunOptions,
    log: Callable[[str], None] = lambda line: print(line, file=sys.stderr),
) -> RunSummary:
    """Run every (backbone, weights) on every task; see the module docstring.

    ``options.settings`` (``--set``) apply to every task, over each request's own settings.
    """
    from biobench_core.extraction import pick_device

    for _, weights in backbones:  # a misspelt keyword would otherwise be "weights file not found", much later
        check_weights_choice(weights)
    # Resolve every id, build every task (validating its settings) and hash every weights file before loading
    # any model: a typo or a missing data folder fails in milliseconds, not after an hour of extraction.
    # An existing store is opened first (a corrupt or newer store stops here) and kept open; a new one is created
    # only once everything else checked out, so a typo leaves no empty results folder behind.
    device = pick_device(options.device)
    with contextlib.ExitStack() as stack:
        existing = (options.results_dir / DB_NAME).exists()
        store = stack.enter_context(ResultsStore(options.results_dir)) if existing else None
        resolved = [(resolve_backbone(b), w) for b, w in backbones]
        built = [_build_task(request, options) for request in tasks]
        backbone_specs = [(spec, w, weights_key(w)) for spec, w in resolved]  # hashing a weights file comes last
        planned = [_plan(task, options, log) for task in built]
        if store is None:
            store = stack.enter_context(ResultsStore(options.results_dir))
        return _run_planned(backbone_specs, planned, store, device, options, log)


def _run_planned(backbone_specs: list[tuple[Any, str | None, str]], planned: list[PlannedTask], store: ResultsStore,
                 device: Any, options: RunOptions, log: Callable[[str], None]) -> RunSummary:
    cache = FeatureCache(options.cache_dir) if options.use_cache else None
    summary = RunSummary()
    task_code = {id(plan): code_identity(plan.task.spec) for plan in planned}
    for spec, weights, wkey in backbone_specs:
        label = weights_label(weights)
        backbone_code = code_identity(spec)
        pending = []
        for plan in planned:
            key = ExperimentKey(spec.id, wkey, plan.task.spec.id, plan.settings, plan.data)
            name = f"{spec.id} [{label}] on {plan.task.spec.id}"
            code = code_behind(backbone_code, task_code[id(plan)])
            stored = None if options.force else store.stored_identity(key)
            if stored is not None:
                changed = changed_code(stored.get("code"), code)
                if not changed:
                    summary.skipped.append(name)
                    log(f"skip  {name}: already in {store.path} (use --force to redo)")
                    continue
                what = ("it was stored by a biobench that did not record its code" if changed == ["?"]
                        else f"the code behind the stored result changed ({', '.join(changed)})")
                log(f"redo  {name}: {what}")
            pending.append((plan, key, name, code))
        if not pending:
            continue
        backbone = LazyBackbone(spec, None if label == PRETRAINED else weights, wkey, device, options.dtype)
        for plan, key, name, code in pending:
            try:
                record = _run_one(backbone, plan, key, cache, options)
                record.identity["code"] = code
            except (KeyboardInterrupt, SystemExit):
                raise
            except Exception as exc:  # noqa: BLE001 - reported per experiment, the matrix goes on
                if debug_enabled():
                    traceback.print_exc()
                summary.failed.append(f"{name}: {one_line(exc)}")
                log(f"FAIL  {name}: {one_line(exc)}")
                continue
            store.save(record)
            summary.done.append(name)
            log(f"done  {name}: {_describe(record)}")
        del backbone
    if cache is not None and cache.n_corrupt:
        log(f"cache {cache.n_corrupt} corrupt feature cache entr{'y' if cache.n_corrupt == 1 else 'ies'} "
            "found and re-extracted")
    return summary


def _describe(record: ExperimentRecord) -> str:
    """The ``done`` line: the task's metric with exactly the 95% interval the report shows for it."""
    from biobench_core.leaderboard import cell_interval

    low, high, method = cell_interval(record)
    text = f"{record.metric} {record.score:.3f} (95% {method} CI {low:.3f}-{high:.3f}, n={len(record.examples)}"
    if record.n_skipped:
        text += f", {record.n_skipped} undecodable images skipped, those in test count as wrong"
    return text + ")"


def _scored_test_examples(evaluated: list[tuple[str, float, dict[str, Any]]], test: list[Example],
                          ) -> list[tuple[str, float, dict[str, Any]]]:
    """Every test example of the experiment: one the backbone could not score counts as wrong (``pred`` -1)."""
    seen = {ex_id for ex_id, _, _ in evaluated}
    missing = [(ex.id, 0.0, {"label": int(ex.label), "pred": -1, "skipped": True}) for ex in test if ex.id not in seen]
    return list(evaluated) + missing


def _run_one(backbone: LazyBackbone, plan: PlannedTask, key: ExperimentKey, cache: FeatureCache | None,
             options: RunOptions) -> ExperimentRecord:
    import torch

    from biobench_core.metrics import metric_score

    task, device = plan.task, backbone.device
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    splits, metas, identity = experiment_features(
        backbone, task, plan.inputs, cache, batch_size=options.batch_size, workers=options.workers,
        on_bad_image=options.on_bad_image, progress=options.progress)
    extracted = [m for m in metas.values() if m.get("cache") != "hit"]
    n_images = sum(m["n_images"] for m in extracted)
    seconds = sum(m["seconds"] for m in extracted)
    start = time.perf_counter()
    evaluation = task.evaluate(splits["train"], splits["test"], device=str(device))
    fit_seconds = time.perf_counter() - start
    if not evaluation.examples:
        raise RuntimeError(f"{task.spec.id}: evaluate() scored no test example")
    headline = [ex for ex in plan.inputs["test"].examples if task.in_score(ex)]
    ids = {ex.id for ex in headline}
    examples = _scored_test_examples([e for e in evaluation.examples if e[0] in ids], headline)
    if not examples:
        raise RuntimeError(f"{task.spec.id}: no test example counts in the score (Task.in_score)")
    try:
        y_true = [int(info["label"]) for _, _, info in examples]
        y_pred = [int(info["pred"]) for _, _, info in examples]
    except (KeyError, TypeError, ValueError):
        if task.metric != "mean":
            raise RuntimeError(f"{task.spec.id}: evaluate() must put integer 'label' and 'pred' in every example's "
                               f"info for metric {task.metric!r}") from None
        y_true = y_pred = [0] * len(examples)
    try:
        score = metric_score(task.metric, y_true, y_pred, [s for _, s, _ in examples])
    except Exception as exc:
        raise RuntimeError(f"{task.spec.id}: metric {task.metric!r} failed: {one_line(exc)}") from exc
    return ExperimentRecord(
        key=key,
        comparable=options.limit is None,
        score=float(score),
        examples=examples,
        splits=evaluation.splits,
        n_skipped=sum(len(m.get("skipped", [])) for m in metas.values()),
        probe={"name": task.probe, **evaluation.probe},
        argv=list(sys.argv),
        git_commit=get_git_hash(),
        versions=versions(key.backbone, key.task),
        hostname=socket.gethostname(),
        device=device_name(device),
        dtype=options.dtype,
        posix_time=time.time(),
        images_per_second=n_images / seconds if seconds > 0 else None,
        extract_seconds=seconds if extracted else 0.0,
        fit_seconds=fit_seconds,
        peak_memory_mb=peak_memory_mb(device),
        feature_cache=",".join(f"{s}:{metas[s]['cache']}" for s in SPLITS),
        metric=task.metric,
        column_settings=plan.column_settings,
        train_manifest=plan.inputs["train"].manifest,
        test_manifest=plan.inputs["test"].manifest,
        weights_id=identity["weights_id"],
        in_benchmark_mean=not task.spec.prior_work,
        identity={"weights_id": identity["weights_id"], "transform": identity["transform"],
                  "backbone_code": backbone.code,
                  "feature_keys": {s: metas[s].get("feature_key") for s in SPLITS}},
    )
