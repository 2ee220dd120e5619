"""Run the matrix: backbones x tasks -> features (cached) -> probe -> results store.

Every (backbone, weights, task, settings) cell of the request is its own experiment, keyed in the store by what
determines its result: the backbone, the weights (a local file by its content), the task, every setting that
changes the result, and the data (a hash of the train and test manifests). A finished experiment is skipped
unless ``force`` or the code behind it changed (the extraction protocol, the probe's or the metric's version, or
the backbone's or the task's plugin, e.g. edited in place at the same version: the stored result is redone and
replaced, saying what changed); a change to any of the key's parts is a new experiment. Both the key and the code
are computed by :mod:`biobench_core.engine._identity`. Each experiment is committed on its own, so an
interrupted run keeps everything that finished and the next run does only what is missing. One failing
experiment (a backbone returning NaN, a broken plugin, a metric that raises) is reported and the others run.

Every experiment is claimed in the store before it runs (:mod:`biobench_core.scaleout._claims`): a run started at the same
time on the same matrix, or a worker of a scale-out launcher (:mod:`biobench_core.scaleout._worker`), never runs the same
experiment; what another process holds is reported as ``busy`` and left to it. A failure is recorded with its
traceback; ``RunOptions.max_attempts`` (a worker's) retries it until that many attempts failed.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import socket
import sys
import time
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from biobench_core.engine._data import check_classes
from biobench_core.engine._feature_cache import FeatureCache
from biobench_core.contract._catalog import load_task, resolve_backbone, resolve_task
from biobench_core.contract._example_checks import check_examples
from biobench_core.scaleout._claims import Claimant, Heartbeat, record_failure, release_all, try_claim
from biobench_core.scaleout._config import ConfigError, TaskRequest
from biobench_core.scaleout._n_train import within_n_train_limits
from biobench_core.contract._errors import debug_enabled, did_you_mean, one_line
from biobench_core.engine._loader_defaults import resolve_loader
from biobench_core.engine._feature_source import LazyBackbone, SplitInput, experiment_features
from biobench_core.engine._identity import (PRETRAINED, experiment_key, plugin_identity, redo_reason, result_code,
                                            weights_key, weights_label)
from biobench_core.engine._probes.progress import probe_progress
from biobench_core.engine._provenance import device_name, peak_memory_mb, versions
from biobench_core.contract._report import get_git_hash
from biobench_core.results._store import DB_NAME, ExperimentKey, ExperimentRecord, ResultsStore
from biobench_core.contract._tasks import SPLITS, Example, Prediction, Task

__all__ = ["RunOptions", "RunSummary", "run_matrix", "weights_label", "weights_key", "check_weights_choice",
           "WeightsChoiceError", "Cell", "plan_cells"]

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
    hint = did_you_mean(weights.lower(), WEIGHTS_KEYWORDS, cutoff=0.75)
    if hint:
        raise WeightsChoiceError(f"--weights {weights!r} is neither a file nor a keyword{hint}")


@dataclasses.dataclass
class RunOptions:
    results_dir: Path = Path("results")
    device: str = "auto"
    dtype: str = "fp32"
    batch_size: int | None = None  # None: chosen for the device (biobench_core.engine._loader_defaults)
    workers: int | None = None  # None: chosen for the machine (biobench_core.engine._loader_defaults)
    limit: int | None = None
    force: bool = False
    use_cache: bool = True
    cache_dir: Path | None = None
    on_bad_image: str = "skip"
    settings: dict[str, str] = dataclasses.field(default_factory=dict)
    progress: bool = True
    pixel_cache_gb: float | None = None  # decoded pixels kept for reuse; None: $BIOBENCH_PIXEL_CACHE_GB or 50
    # -- scale-out (biobench_core.scaleout._worker) ----------------------------------------------------------------------
    #: ``None``: try each experiment once per run, whatever failed before. A number: skip an experiment that failed
    #: that many attempts in all, and retry a failure within this run until then (what workers do).
    max_attempts: int | None = None
    #: With ``force``: a result stored at or after this POSIX time counts as done (another process of the same
    #: forced launch made it). ``None``: the start of this run.
    since: float | None = None
    claim_timeout: float = 60.0  # seconds without a heartbeat after which this process's claims expire
    only: frozenset[ExperimentKey] | None = None  # run only these experiments (a job of store = "files")
    wal: bool = True  # False: a per-job store of store = "files" (one writer, no WAL: safe on NFS)


@dataclasses.dataclass
class RunSummary:
    done: list[str] = dataclasses.field(default_factory=list)
    skipped: list[str] = dataclasses.field(default_factory=list)
    failed: list[str] = dataclasses.field(default_factory=list)
    busy: list[str] = dataclasses.field(default_factory=list)  # claimed by another live process: left to it


@dataclasses.dataclass
class Cell:
    """One experiment of the matrix: a (backbone, weights) on a planned task, with its results key."""

    spec: Any  # BackboneSpec
    weights: str | None
    wkey: str
    plan: PlannedTask
    key: ExperimentKey
    name: str
    code: dict[str, str]  # the code behind it (identity.result_code)

    @property
    def n_images(self) -> int:
        return sum(len(split.examples) for split in self.plan.inputs.values())


@dataclasses.dataclass
class PlannedTask:
    """One requested task with its examples and their manifests, ready to key results."""

    task: Task
    inputs: dict[str, SplitInput]
    column_settings: dict[str, str]  # the settings that change what is measured (the report's columns)


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
    check_examples(task)  # duplicate ids, a str label, an unseen test class: named now, not after extraction
    check_classes(task, task.chosen_examples("train"))  # one class: refused now, not when the probe is fit
    inputs = {}
    for split in SPLITS:
        examples = _limited(task.chosen_examples(split), options.limit)
        inputs[split] = SplitInput(examples, task.manifest(split, examples))
    sizes = ", ".join(f"{len(task.chosen_examples(split))} {split}" for split in SPLITS)
    log(f"task  {task.spec.id}: {sizes} examples; {task.settings_key()}"
        + (f"; smoke mode: at most {options.limit} per split" if options.limit else ""))
    column = dict(sorted({**task.given_settings, "probe": task.probe}.items()))  # as given, as the key
    if options.limit is not None:
        column["limit"] = str(options.limit)
    return PlannedTask(task, inputs, column)


def run_matrix(
    backbones: Sequence[tuple[str, str | None]],
    tasks: Sequence[TaskRequest],
    options: RunOptions,
    log: Callable[[str], None] = lambda line: print(line, file=sys.stderr),
) -> RunSummary:
    """Run every (backbone, weights) on every task; see the module docstring.

    ``options.settings`` (``--set``) apply to every task, over each request's own settings.
    """
    from biobench_core.engine._extraction import pick_device

    if options.force and options.since is None:  # what another run forced at the same time is not redone again
        options = dataclasses.replace(options, since=time.time())
    # Resolve every id, build every task (validating its settings) and hash every weights file before loading
    # any model: a typo or a missing data folder fails in milliseconds, not after an hour of extraction.
    # An existing store is opened first (a corrupt or newer store stops here) and kept open; a new one is created
    # only once everything else checked out, so a typo leaves no empty results folder behind.
    device = pick_device(options.device)
    with contextlib.ExitStack() as stack:
        existing = (options.results_dir / DB_NAME).exists()
        store = stack.enter_context(ResultsStore(options.results_dir, wal=options.wal)) if existing else None
        cells = plan_cells(backbones, tasks, options, log)
        if store is None:
            store = stack.enter_context(ResultsStore(options.results_dir, wal=options.wal))
        return _run_cells(cells, store, device, options, log)


def plan_cells(backbones: Sequence[tuple[str, str | None]], tasks: Sequence[TaskRequest], options: RunOptions,
               log: Callable[[str], None] = lambda line: None) -> list[Cell]:
    """Every experiment of the matrix, backbone by backbone, keyed; nothing is loaded or run.

    Every id is resolved, every task built (its settings checked, its data indexed) and every weights file hashed,
    so an unknown id, a bad setting or a missing data folder fails here, before any work or submission. An
    ``n_train`` larger than its task's train split is refused here too (:mod:`biobench_core.scaleout._n_train`).
    """
    for _, weights in backbones:  # a misspelt keyword would otherwise be "weights file not found", much later
        check_weights_choice(weights)
    resolved = [(resolve_backbone(b), w) for b, w in backbones]
    built = within_n_train_limits([_build_task(request, options) for request in tasks], log)
    backbone_specs = [(spec, w, weights_key(w)) for spec, w in resolved]  # hashing a weights file comes last
    planned = [_plan(task, options, log) for task in built]
    task_code = {id(plan): plugin_identity(plan.task.spec) for plan in planned}
    ids = [plan.task.spec.id for plan in planned]
    cells = []
    for spec, weights, wkey in backbone_specs:
        backbone_code = plugin_identity(spec)
        for plan in planned:
            key = experiment_key(spec.id, wkey, plan.task, dtype=options.dtype, limit=options.limit,
                                 train_manifest=plan.inputs["train"].manifest,
                                 test_manifest=plan.inputs["test"].manifest)
            name = f"{spec.id} [{weights_label(weights)}] on {plan.task.spec.id}"
            if ids.count(plan.task.spec.id) > 1:  # one task with several settings: say which
                name += " (" + ",".join(f"{k}={v}" for k, v in plan.column_settings.items()) + ")"
            code = result_code(backbone_code, task_code[id(plan)], plan.task.probe, plan.task.metric)
            cells.append(Cell(spec, weights, wkey, plan, key, name, code))
    return cells


def done_check(cell: Cell, options: RunOptions) -> Callable[[dict[str, Any], float], bool]:
    """Whether a stored result of ``cell`` (its identity and time) counts as done for this run."""
    def is_done(identity: dict[str, Any], posix_time: float) -> bool:
        if options.force:
            return options.since is not None and posix_time >= options.since
        return redo_reason(identity.get("code"), cell.code) is None

    return is_done


class _Backbones:
    """The backbone of the cell at hand; loading another one drops the previous (one model in memory)."""

    def __init__(self, device: Any, dtype: str) -> None:
        self.device, self.dtype = device, dtype
        self.current: tuple[tuple[str, str], LazyBackbone] | None = None

    def get(self, cell: Cell) -> LazyBackbone:
        ident = (cell.spec.id, cell.wkey)
        if self.current is None or self.current[0] != ident:
            self.current = None  # free the previous model first
            weights = None if weights_label(cell.weights) == PRETRAINED else cell.weights
            self.current = (ident, LazyBackbone(cell.spec, weights, cell.wkey, self.device, self.dtype))
        return self.current[1]


def _run_cells(cells: list[Cell], store: ResultsStore, device: Any, options: RunOptions,
               log: Callable[[str], None]) -> RunSummary:
    summary = RunSummary()
    pending = []
    for cell in cells:
        if options.only is not None and cell.key not in options.only:
            continue
        stored = None if options.force else store.stored_identity(cell.key)
        if stored is not None:
            why = redo_reason(stored.get("code"), cell.code)
            if why is None:
                summary.skipped.append(cell.name)
                log(f"skip  {cell.name}: already in {store.path} (use --force to redo)")
                continue
            log(f"redo  {cell.name}: {why}")
        pending.append(cell)
    if pending:  # workers and batch size for this machine, unless given; said once, recorded in every result
        workers, batch_size, chosen = resolve_loader(device, options.workers, options.batch_size)
        options = dataclasses.replace(options, workers=workers, batch_size=batch_size)
        if chosen:
            log(f"input {chosen}")
    cache = FeatureCache(options.cache_dir, pixel_budget_gb=options.pixel_cache_gb) if options.use_cache else None
    claimant = Claimant.here(options.claim_timeout)
    backbones = _Backbones(device, options.dtype)
    try:
        with Heartbeat(store, claimant):
            while pending:
                pending = [cell for cell in pending
                           if _claim_and_run(cell, store, claimant, backbones, cache, options, summary, log)]
    finally:  # an interruption (Ctrl-C, SIGTERM, submitit's preemption exit) leaves nothing claimed
        release_all(store, claimant)
    if cache is not None and cache.n_corrupt:
        log(f"cache {cache.n_corrupt} corrupt feature cache entr{'y' if cache.n_corrupt == 1 else 'ies'} "
            "found and re-extracted")
    if cache is not None and cache.n_unchecked:
        log(f"cache {cache.n_unchecked} feature cache entr{'y' if cache.n_unchecked == 1 else 'ies'} written "
            "before checksums were recorded re-extracted once")
    return summary


def _claim_and_run(cell: Cell, store: ResultsStore, claimant: Claimant, backbones: _Backbones,
                   cache: FeatureCache | None, options: RunOptions, summary: RunSummary,
                   log: Callable[[str], None]) -> bool:
    """Claim ``cell`` and run it; ``True`` when it failed and should be tried again in this run."""
    outcome = try_claim(store, cell.key, claimant, is_done=done_check(cell, options),
                        max_attempts=options.max_attempts)
    if outcome.status == "done":
        summary.skipped.append(cell.name)
        log(f"skip  {cell.name}: finished by another process meanwhile")
        return False
    if outcome.status == "busy":
        summary.busy.append(cell.name)
        log(f"busy  {cell.name}: claimed by {outcome.holder.holder()}; left to it")
        return False
    if outcome.status == "failed":
        summary.failed.append(f"{cell.name}: gave up after {outcome.attempts} failed attempts")
        log(f"FAIL  {cell.name}: gave up after {outcome.attempts} failed attempts (biobench status shows the last "
            "traceback)")
        return False
    try:
        record = _run_one(backbones.get(cell), cell.plan, cell.key, cache, options)
        record.identity["code"] = cell.code
    except (KeyboardInterrupt, SystemExit):
        raise
    except Exception as exc:  # noqa: BLE001 - reported per experiment, the matrix goes on
        if debug_enabled():
            traceback.print_exc()
        attempts = record_failure(store, cell.key, claimant, one_line(exc), traceback.format_exc())
        retry = options.max_attempts is not None and attempts < options.max_attempts
        note = f" (attempt {attempts} of {options.max_attempts}{'; retrying' if retry else ''})" \
            if options.max_attempts is not None else ""
        log(f"FAIL  {cell.name}: {one_line(exc)}{note}")
        if not retry:
            summary.failed.append(f"{cell.name}: {one_line(exc)}")
        return retry
    store.save(record, release=claimant.owner)
    summary.done.append(cell.name)
    log(f"done  {cell.name}: {_describe(record)}")
    return False


def _describe(record: ExperimentRecord) -> str:
    """The ``done`` line: the task's metric with exactly the 95% interval the report shows for it."""
    from biobench_core.results._leaderboard import cell_interval

    low, high, method = cell_interval(record)
    text = f"{record.metric} {record.score:.3f} (95% {method} CI {low:.3f}-{high:.3f}, n={len(record.examples)}"
    if record.n_skipped:
        text += f", {record.n_skipped} undecodable images skipped, those in test count as wrong"
    return text + ")"


def _scored_test_examples(evaluated: list[Prediction], test: list[Example]) -> list[Prediction]:
    """Every test example of the experiment: one the backbone could not score counts as wrong (``pred`` -1)."""
    seen = {p.id for p in evaluated}
    missing = [Prediction.of(ex.id, label=int(ex.label), pred=-1, score=0.0, skipped=True)
               for ex in test if ex.id not in seen]
    return list(evaluated) + missing


def _run_one(backbone: LazyBackbone, plan: PlannedTask, key: ExperimentKey, cache: FeatureCache | None,
             options: RunOptions) -> ExperimentRecord:
    import torch

    from biobench_core.results._metrics import metric_score

    task, device = plan.task, backbone.device
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    extraction, identity = experiment_features(
        backbone, task, plan.inputs, cache, batch_size=options.batch_size, workers=options.workers,
        on_bad_image=options.on_bad_image, progress=options.progress)
    extracted = [r for r in extraction.values() if r.cache != "hit"]
    n_images = sum(r.n_images for r in extracted)
    seconds = sum(r.seconds for r in extracted)
    start = time.perf_counter()
    with probe_progress(f"{key.backbone} {task.spec.id}" if options.progress else None):  # C and fold, on stderr
        evaluation = task.evaluate(extraction["train"].split, extraction["test"].split, device=str(device))
    fit_seconds = time.perf_counter() - start
    if not evaluation.examples:
        raise RuntimeError(f"{task.spec.id}: evaluate() scored no test example")
    headline = [ex for ex in plan.inputs["test"].examples if task.in_score(ex)]
    ids = {ex.id for ex in headline}
    examples = _scored_test_examples([p for p in evaluation.examples if p.id in ids], headline)
    if not examples:
        raise RuntimeError(f"{task.spec.id}: no test example counts in the score (Task.in_score)")
    try:
        y_true = [p.label for p in examples]
        y_pred = [p.pred for p in examples]
        if None in y_true or None in y_pred:
            raise KeyError("label")
    except (KeyError, TypeError, ValueError):
        if task.metric != "mean":
            raise RuntimeError(f"{task.spec.id}: evaluate() must put integer 'label' and 'pred' in every example's "
                               f"info for metric {task.metric!r}") from None
        y_true = y_pred = [0] * len(examples)
    try:
        score = metric_score(task.metric, y_true, y_pred, [p.score for p in examples])
    except Exception as exc:
        raise RuntimeError(f"{task.spec.id}: metric {task.metric!r} failed: {one_line(exc)}") from exc
    return ExperimentRecord(
        key=key,
        comparable=options.limit is None,
        score=float(score),
        examples=examples,
        splits=evaluation.splits,
        n_skipped=sum(len(r.skipped) for r in extraction.values()),
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
        feature_cache=",".join(f"{s}:{extraction[s].cache}" for s in SPLITS),
        metric=task.metric,
        column_settings=plan.column_settings,
        train_manifest=plan.inputs["train"].manifest,
        test_manifest=plan.inputs["test"].manifest,
        weights_id=identity["weights_id"],
        in_benchmark_mean=not task.spec.prior_work,
        identity={"weights_id": identity["weights_id"], "transform": identity["transform"],
                  "backbone_code": backbone.code,
                  "feature_keys": {s: extraction[s].feature_key for s in SPLITS},
                  "input": {"workers": options.workers, "batch_size": options.batch_size,
                            "pipeline": {s: extraction[s].pipeline for s in SPLITS},
                            "pixels": {s: extraction[s].pixels for s in SPLITS}}},
    )
