"""``biobench run``, ``plan``, ``status`` and ``merge``: the matrix, its plan and its progress."""

from __future__ import annotations

import argparse
import dataclasses
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from biobench_core.scaleout._config import OPTION_DEFAULTS as RUN_DEFAULTS
from biobench_core.scaleout._config import gib_or_none
from biobench_core.cli._common import EXIT_FAILURE, UsageError


def _pairs(values: Sequence[str], flag: str) -> dict[str, str]:
    """``KEY=VALUE`` flags as a dict. A key given twice with two values is refused, naming both (never the last
    silently wins); given twice with one value, it is kept once, with a note."""
    out: dict[str, str] = {}
    for value in values:
        key, sep, rest = value.partition("=")
        if not sep or not key or not rest:
            raise UsageError(f"{flag} expects KEY=VALUE, got {value!r}")
        if key in out and out[key] != rest:
            raise UsageError(f"{flag} {key} is given twice: {out[key]!r} and {rest!r}; give one")
        if key in out:
            print(f"note: {flag} {key}={rest} is given twice; using it once", file=sys.stderr)
        out[key] = rest
    return out


def _data_by_task(pairs: dict[str, str], resolve_task: Callable[[str], Any]) -> dict[str, str]:
    """``--data`` by task id; two names of one task (``image-folder``, ``tasks/image-folder``) with two folders are
    refused like any conflicting repeat."""
    out: dict[str, str] = {}
    names: dict[str, str] = {}
    for name, folder in pairs.items():
        task_id = resolve_task(name).id
        if task_id in out and out[task_id] != folder:
            raise UsageError(f"--data {task_id} is given twice (as {names[task_id]} and {name}): "
                             f"{out[task_id]!r} and {folder!r}; give one")
        out[task_id], names[task_id] = folder, name
    return out


#: ``run`` options a config file may set too (:data:`RUN_DEFAULTS`, :data:`RUN_CHOICES` and :data:`RUN_MINIMUM`
#: come from :mod:`biobench_core.scaleout._config`, which checks the file's values). Their flags default to ``None`` (not
#: given), so a flag given on the command line always wins over the config, even when it equals the default; the
#: defaults apply last.


def _at_least(minimum: int) -> Callable[[str], int]:
    """An argparse ``type``: an integer >= ``minimum``; argparse names the flag in its error."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected an integer >= {minimum}, got {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"expected an integer >= {minimum}, got {value}")
        return value

    return parse


def _gib(text: str) -> float:
    value = gib_or_none(text)
    if value is None:
        raise argparse.ArgumentTypeError(f"expected a number of GiB >= 0, got {text!r}")
    return value


def _given_run_options(args: argparse.Namespace) -> set[str]:
    """The run options given on the command line: they win, so the config file's values for them are checked
    but not used."""
    return {name for name in RUN_DEFAULTS if getattr(args, name) is not None}


def _merge_run_options(args: argparse.Namespace, options: dict[str, Any]) -> None:
    """Fill each run option not given on the command line from the (checked) config, else from the defaults."""
    for name, default in RUN_DEFAULTS.items():
        if getattr(args, name) is None:
            setattr(args, name, options.get(name, default))


def _backbone_weights(backbones: list[str], weights: list[str]) -> list[tuple[str, str | None]]:
    if not weights:
        return [(b, None) for b in backbones]
    if len(weights) == 1:
        return [(b, weights[0]) for b in backbones]
    if len(weights) != len(backbones):
        raise UsageError(f"give one --weights for all backbones or one per --backbone "
                         f"({len(backbones)} backbones, {len(weights)} --weights)")
    return list(zip(backbones, weights))


def cmd_run(args: argparse.Namespace) -> int:
    from biobench_core.contract._catalog import resolve_task
    from biobench_core.scaleout._config import RunConfig, TaskRequest, load_config

    config = load_config(args.config, overridden=_given_run_options(args)) if args.config else RunConfig([], [], {})
    _merge_run_options(args, config.options)
    backbones = config.backbones + _backbone_weights(args.backbone, args.weights)
    requests = list(config.tasks) + [TaskRequest(t) for t in args.task]
    if not backbones or not requests:
        raise UsageError("give at least one --backbone and one --task (or a --config that has them)")
    data = _data_by_task(_pairs(args.data, "--data"), resolve_task)
    unknown = set(data) - {resolve_task(r.id).id for r in requests}
    if unknown:
        raise UsageError(f"--data given for {', '.join(sorted(unknown))}, which is not among the tasks")
    requests = [dataclasses.replace(r, data=data.get(resolve_task(r.id).id, r.data)) for r in requests]
    settings = _pairs(args.set, "--set")
    if "protocol" in settings:
        raise UsageError(f"--set protocol={settings['protocol']}: give it as --protocol {settings['protocol']} (it "
                         f"sets backbone options too)")
    from biobench_core.scaleout._protocol import under_protocol

    backbones, requests = under_protocol(args.protocol, backbones, requests)

    from biobench_core.scaleout._runner import RunOptions, run_matrix

    options = RunOptions(
        results_dir=Path(args.results), device=args.device, dtype=args.dtype, batch_size=args.batch_size,
        workers=args.workers, limit=args.limit, force=args.force, use_cache=not args.no_cache,
        on_bad_image=args.on_bad_image, settings=settings, progress=not args.quiet,
        pixel_cache_gb=args.pixel_cache_gb,
    )
    executor = _executor_choice(args, config.executor)
    if args.dry_run:
        return _print_plan(backbones, requests, options, executor)
    if args.limit is not None:
        print(f"smoke mode: --limit {args.limit} examples per split; results are marked not comparable",
              file=sys.stderr)
    if executor is not None:
        from biobench_core.scaleout._launcher import launch

        launched = launch(backbones, requests, options, executor)
        print(f"{launched.done} done, {launched.failed} failed, {launched.left} left, by {launched.workers} "
              f"{executor.kind} worker(s); results in {Path(args.results) / 'biobench.sqlite'}", file=sys.stderr)
        return EXIT_FAILURE if launched.failed or launched.left else 0
    summary = run_matrix(backbones, requests, options)
    busy = getattr(summary, "busy", [])  # claimed by another run: left to it
    busy = f", {len(busy)} busy (claimed by another run)" if busy else ""
    print(f"{len(summary.done)} done, {len(summary.skipped)} skipped, {len(summary.failed)} failed{busy}; "
          f"results in {Path(args.results) / 'biobench.sqlite'}", file=sys.stderr)
    return EXIT_FAILURE if summary.failed else 0


def _executor_choice(args: argparse.Namespace, table: Any) -> Any:
    """The config's ``[executor]`` with ``--executor``, ``--devices`` and ``--jobs`` over it; ``None``: neither.

    ``--executor`` names an installed executor (the plugin registry's): any other is a usage error listing them."""
    from biobench_core.scaleout._config import ExecutorConfig, executor_kind_problem

    if table is None and not (args.executor or args.devices or args.jobs):
        return None
    problem = executor_kind_problem(args.executor) if args.executor else None
    if problem:
        raise UsageError(f"--executor {args.executor!r}: {problem}")
    changes: dict[str, Any] = {}
    if args.devices:
        try:
            changes["devices"] = tuple(int(d) for d in args.devices.split(","))
        except ValueError:
            raise UsageError(f"--devices expects GPU indices such as 0,1, got {args.devices!r}") from None
        changes["kind"] = "local"
    if args.executor:
        changes["kind"] = args.executor
    if args.jobs:
        changes["jobs"] = args.jobs
    return dataclasses.replace(table or ExecutorConfig(), **changes)


def _print_plan(backbones: list[tuple[str, str | None]], requests: list[Any], options: Any, executor: Any) -> int:
    """``biobench plan``: what is done, claimed, failed and left, and what is left costs; nothing runs."""
    from biobench_core.scaleout._matrix import estimate, format_plan, survey
    from biobench_core.scaleout._runner import plan_cells
    from biobench_core.results._store import DB_NAME, ResultsStore

    cells = plan_cells(backbones, requests, options, lambda line: print(line, file=sys.stderr))
    max_attempts = executor.max_attempts if executor is not None else None
    if (options.results_dir / DB_NAME).exists():
        with ResultsStore(options.results_dir, readonly=True) as store:
            found = survey(store, cells, options, max_attempts)
            cost = estimate(store, found.left)
    else:
        found, cost = survey(None, cells, options), estimate(None, cells)
    print(format_plan(found, cost, max_attempts))
    where = f"the {executor.kind} executor" if executor is not None else "this process"
    print(f"dry run: nothing was run or claimed; 'biobench run' without --dry-run runs what is left in {where}",
          file=sys.stderr)
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    """``biobench status``: running, failed and done experiments (and those left, given the config)."""
    from biobench_core.scaleout._claims import claims, failures, is_live
    from biobench_core.scaleout._matrix import format_duration
    from biobench_core.results._store import ResultsStore

    if args.config:
        run_args = args.parser.parse_args(
            ["plan", "--config", args.config, *(["--results", args.results] if args.results else [])])
        return cmd_run(run_args)
    with ResultsStore(args.results or RUN_DEFAULTS["results"], readonly=True) as store:
        n_done = store.count()
        now = time.time()
        running = [row for row in claims(store) if is_live(row, now)]
        failed = failures(store)
    print(f"{len(running)} running, {len(failed)} failed, {n_done} done in {store.path}")
    for row in running:
        print(f"  running  {_key_name(row.key)}: {row.holder()}, for {format_duration(now - row.started)}, "
              f"heartbeat {format_duration(now - row.heartbeat)} ago")
    for row in failed:
        print(f"  failed   {_key_name(row.key)}: {row.attempts} attempt(s), last on {row.host}"
              f"{f' (Slurm job {row.job})' if row.job else ''}: {row.error}")
        if args.traceback:
            print("    " + row.traceback.rstrip().replace("\n", "\n    "))
    return 0


def _key_name(key: Any) -> str:
    return f"{key.backbone} [{key.weights}] on {key.task} ({key.settings})"


def cmd_merge(args: argparse.Namespace) -> int:
    """``biobench merge``: the per-job stores of ``store = "files"`` left under ``<results>/jobs/``, merged."""
    from biobench_core.scaleout._launcher import JOBS_DIR, merge_jobs
    from biobench_core.results._store import DB_NAME, MissingStoreError, ResultsStore

    results = Path(args.results)
    if not (results / DB_NAME).exists() and not (results / JOBS_DIR).is_dir():
        raise MissingStoreError(f"no results at {results / DB_NAME} and no per-job results in {results / JOBS_DIR}: "
                                "check --results DIR")
    if not (results / JOBS_DIR).is_dir():  # the store is only read: a foreign or empty file is refused, naming it
        with ResultsStore(args.results, readonly=True):
            pass
        print(f"nothing to merge: no per-job results in {results / JOBS_DIR}", file=sys.stderr)
        return 0
    with ResultsStore(args.results, wal=False) as store:
        merged = merge_jobs(store, lambda line: print(line, file=sys.stderr))
    print(f"merged {merged} result(s) from {Path(args.results) / JOBS_DIR} into {store.path}", file=sys.stderr)
    return 0
