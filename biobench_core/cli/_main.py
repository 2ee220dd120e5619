"""The ``biobench`` command line: list backbones, tasks and plugins; run, plan, status, merge; report.

Each subcommand's work lives in its own module; this file only parses arguments and turns known errors into
one-line messages (exit 1 for failures, 2 for bad usage). Listing never imports torch.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from biobench_core._version import __version__
from biobench_core.scaleout._config import OPTION_CHOICES as RUN_CHOICES
from biobench_core.scaleout._config import OPTION_DEFAULTS as RUN_DEFAULTS
from biobench_core.scaleout._config import OPTION_MINIMUM as RUN_MINIMUM
from biobench_core.scaleout._config import gib_or_none
from biobench_core.contract._errors import debug_enabled, one_line

EXIT_FAILURE = 1
EXIT_USAGE = 2


class UsageError(Exception):
    """Bad command-line usage: exit code 2."""


def _print_table(rows: list[list[str]], headers: list[str]) -> None:
    from biobench_core.engine._textable import format_table

    print(format_table(headers, rows), end="")


def _opt(value: Any) -> str:
    return "" if value is None else str(value)


def _warn_collisions() -> None:
    from biobench_core.contract._registry import get_registry

    for collision in get_registry().collisions:
        print(f"warning: {collision.message}", file=sys.stderr)


def _spec_rows(specs: Sequence[Any]) -> list[dict[str, Any]]:
    from biobench_core.contract._registry import get_registry

    registry = get_registry()
    out = []
    for spec in specs:
        owner = registry.owner_of(spec.id)
        row = spec.to_dict()
        row.pop("factory")
        row.update(namespace=spec.namespace, plugin=owner.name if owner else None,
                   plugin_version=owner.version if owner else None)
        out.append(row)
    return out


def _no_match(patterns: Sequence[str], kind: str) -> int:
    """Like grep: nothing matched is exit 1, with a hint when a pattern looks like a misspelt id."""
    from biobench_core.contract._catalog import UnknownIdError, namespace_problem, resolve_backbone, resolve_task
    from biobench_core.contract._registry import PluginError

    resolve = resolve_backbone if kind == "backbone" else resolve_task
    for pattern in patterns:
        problem = namespace_problem(pattern, kind)  # a failed, collided, unknown or empty namespace says so
        if problem is not None:
            print(f"biobench: {problem}", file=sys.stderr)
        elif not any(c in pattern for c in "*?["):
            try:
                resolve(pattern)
            except (UnknownIdError, ValueError, PluginError) as exc:
                print(f"biobench: {exc}", file=sys.stderr)
                continue
    print(f"no {kind} matches {' '.join(patterns)}", file=sys.stderr)
    return EXIT_FAILURE


def _list(args: argparse.Namespace, kind: str) -> int:
    from biobench_core.contract._catalog import list_backbones, list_tasks

    rows = _spec_rows((list_backbones if kind == "backbone" else list_tasks)(args.patterns))
    _warn_collisions()
    if args.patterns and not rows:
        return _no_match(args.patterns, kind)
    if args.json:
        print(json.dumps(rows, indent=1))
        return 0
    if kind == "backbone":
        _print_table([[r["id"], _opt(r["plugin"]), _opt(r["embed_dim"]), _opt(r["input_size"])] for r in rows],
                     ["id", "plugin", "dim", "input"])
    else:
        _print_table([[r["id"], _opt(r["plugin"]), r["protocol"], r["metric"], "yes" if r["needs_data"] else "no",
                       r["description"]] for r in rows],
                     ["id", "plugin", "probe", "metric", "needs --data", "description"])
    print(f"\n{len(rows)} {kind}(s)", file=sys.stderr)
    return 0


#: What ``biobench plugins --kind`` lists: the registry's catalogues of the plugins' extensions.
EXTENSION_KINDS = ("probes", "metrics", "formats", "executors")


def _shown_plugins(registry: Any) -> list[Any]:
    """The plugins ``biobench plugins`` lists: the core's built-in one first, then the entry points'. The built-in
    one is always loaded, but it is left out when ``BIOBENCH_LOAD_PLUGINS`` names the distributions to show and
    not ``biobench-core``."""
    import os

    from biobench_core.contract._registry import LOAD_ENV, normalize_dist_name

    restricted = os.environ.get(LOAD_ENV)
    named = None if restricted is None else {normalize_dist_name(n.strip()) for n in restricted.split(",")}
    builtin = [registry.builtin] if named is None or normalize_dist_name(registry.builtin.name) in named else []
    return builtin + list(registry.plugins)


def _extension_rows(registry: Any, kinds: Sequence[str], owners: Sequence[Any] | None = None) -> list[dict[str, Any]]:
    """One row per usable probe, metric, report format or executor (of ``owners``' plugins, default all): its spec
    less the factory, and its plugin."""
    rows = []
    for kind in kinds:
        catalogue = getattr(registry, kind)
        for spec in sorted(catalogue.listed(), key=lambda s: s.name):
            owner = catalogue.owner[spec.name]
            if owners is not None and not any(owner is o for o in owners):
                continue
            row = {"kind": catalogue.kind, **spec.to_dict(), "plugin": owner.name, "plugin_version": owner.version}
            row.pop("factory")
            rows.append(row)
    return rows


def cmd_plugins(args: argparse.Namespace) -> int:
    """``biobench plugins``: every plugin (the built-in one too), working or failed with its error, what each
    offers beside backbones and tasks, and the names two plugins claim; ``--kind`` lists one kind's extensions."""
    from biobench_core.contract._registry import get_registry

    registry = get_registry()
    if args.kind:
        rows = _extension_rows(registry, [args.kind])
        if args.json:
            print(json.dumps(rows, indent=1))
            return 0
        _print_extensions(rows)
        _warn_collisions()
        return 0
    records = _shown_plugins(registry)
    collisions = registry.collisions
    if args.json:
        def with_offers(record: Any) -> dict[str, Any]:
            return {**record.to_dict(), **{kind: [row["name"] for row in _extension_rows(registry, [kind], [record])]
                                           for kind in EXTENSION_KINDS}}

        print(json.dumps({"plugins": [with_offers(r) for r in records],
                          "collisions": [{"id": c.id, "kind": c.kind, "plugins": [p.name for p in c.plugins],
                                          "message": c.message} for c in collisions]}, indent=1))
        return 0
    _print_table([[r.name, r.version, f"{r.namespace} = <built-in>" if r is registry.builtin else r.entry_point,
                   r.status, str(r.n_backbones), str(r.n_tasks),
                   "" if r.import_seconds is None else f"{r.import_seconds:.2f}", f"{r.listing_seconds:.2f}",
                   _opt(r.error)] for r in records],
                 ["name", "version", "entry point", "status", "backbones", "tasks", "import s", "list s", "error"])
    for collision in collisions:
        print(f"collision: {collision.message}")
    offers = _extension_rows(registry, EXTENSION_KINDS, records)
    if offers:
        print()
        _print_extensions(offers)
    if not registry.plugins:
        print("\nno plugins discovered (entry-point group 'biobench'); see BIOBENCH_LOAD_PLUGINS", file=sys.stderr)
    return 0


def _print_extensions(rows: list[dict[str, Any]]) -> None:
    _print_table([[r["kind"], r["name"] + (f" ({', '.join(r['aliases'])})" if r["aliases"] else ""),
                   f"{r['plugin']} {r['plugin_version']}", r["description"]] for r in rows],
                 ["kind", "name", "plugin", "description"])


def _pairs(values: Sequence[str], flag: str) -> dict[str, str]:
    out = {}
    for value in values:
        key, sep, rest = value.partition("=")
        if not sep or not key or not rest:
            raise UsageError(f"{flag} expects KEY=VALUE, got {value!r}")
        out[key] = rest
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
    """The run options given on the command line: they win, so the config file's values for them are not used."""
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
    data = {resolve_task(name).id: folder for name, folder in _pairs(args.data, "--data").items()}
    unknown = set(data) - {resolve_task(r.id).id for r in requests}
    if unknown:
        raise UsageError(f"--data given for {', '.join(sorted(unknown))}, which is not among the tasks")
    requests = [dataclasses.replace(r, data=data.get(resolve_task(r.id).id, r.data)) for r in requests]

    from biobench_core.scaleout._runner import RunOptions, run_matrix

    options = RunOptions(
        results_dir=Path(args.results), device=args.device, dtype=args.dtype, batch_size=args.batch_size,
        workers=args.workers, limit=args.limit, force=args.force, use_cache=not args.no_cache,
        on_bad_image=args.on_bad_image, settings=_pairs(args.set, "--set"), progress=not args.quiet,
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

    cells = plan_cells(backbones, requests, options)
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
        run_args = build_parser(COMMANDS).parse_args(
            ["plan", "--config", args.config, *(["--results", args.results] if args.results else [])])
        return cmd_run(run_args)
    with ResultsStore(args.results or RUN_DEFAULTS["results"], readonly=True) as store:
        n_done = store.db.execute("SELECT COUNT(*) FROM experiments").fetchone()[0]
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
    from biobench_core.results._store import ResultsStore

    with ResultsStore(args.results, wal=False) as store:
        merged = merge_jobs(store, lambda line: print(line, file=sys.stderr))
    print(f"merged {merged} result(s) from {Path(args.results) / JOBS_DIR} into {store.path}", file=sys.stderr)
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    """``biobench report``: the leaderboard of a results store, rendered by the report format ``--format`` names
    (any installed plugin's); an unknown name is a usage error listing the installed formats."""
    from biobench_core.contract._extensions import UnknownExtensionError, format_spec
    from biobench_core.formats import render
    from biobench_core.results._leaderboard import build_leaderboard
    from biobench_core.results._store import ResultsStore

    try:
        spec = format_spec(args.format)
    except UnknownExtensionError as exc:
        raise UsageError(f"--format: {exc}") from None
    if args.out:
        _check_out(Path(args.out), spec.suffix)
    with ResultsStore(args.results, readonly=True) as store:
        board = build_leaderboard(store.experiments(include_not_comparable=args.all))
    output = render(board, spec, {"results": str(args.results), "all": bool(args.all)})
    if args.out:
        try:
            Path(args.out).parent.mkdir(parents=True, exist_ok=True)
            if isinstance(output, bytes):
                Path(args.out).write_bytes(output)
            else:
                Path(args.out).write_text(output)
        except OSError as exc:
            print(f"biobench report: error: cannot write --out {args.out}: {exc.strerror or exc}", file=sys.stderr)
            return EXIT_FAILURE
        print(f"wrote {args.out}", file=sys.stderr)
    elif isinstance(output, bytes):
        sys.stdout.flush()
        sys.stdout.buffer.write(output)
        sys.stdout.buffer.flush()
    else:
        print(output, end="" if output.endswith("\n") else "\n")
    return 0


def _check_out(out: Path, suffix: str = ".txt") -> None:
    """Refuse an ``--out`` that cannot become a file (it is a folder, or a file stands where a folder must be)."""
    if out.is_dir():
        raise UsageError(f"--out {out} is a folder; give a file name, e.g. {out / ('report' + suffix)}")
    for folder in out.parents:
        if folder.exists():
            if not folder.is_dir():
                raise UsageError(f"--out {out}: {folder} is a file, not a folder")
            return


def _data():  # noqa: ANN202 - a module
    from biobench_core.engine import _data as data

    return data


def _kit():  # noqa: ANN202 - a module
    from biobench_core.cli import _validate as plugin_kit

    return plugin_kit


def _add_run_arguments(p: argparse.ArgumentParser) -> None:
    """The arguments of ``run`` and ``plan``."""
    p.add_argument("--config", metavar="FILE", help="a TOML file with [[backbone]], [[task]] and run options "
                                                    "(see examples/demo.toml); flags add to it, and a flag given "
                                                    "here always wins over the same option in the file")
    p.add_argument("--backbone", action="append", default=[], metavar="ID",
                   help="backbone id or unambiguous short name; repeat for a matrix")
    p.add_argument("--weights", action="append", default=[], metavar="W",
                   help="'pretrained' (default), 'random', a local file, or what the plugin documents; "
                        "one for all backbones or one per --backbone, in order")
    p.add_argument("--task", action="append", default=[], metavar="ID", help="task id or short name; repeatable")
    p.add_argument("--data", action="append", default=[], metavar="TASK=DIR", help="data folder of a task")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="task setting for every task, e.g. probe=simpleshot or subset=2000; every task must "
                        "accept it (a typo or a bad value is refused before any work)")
    p.add_argument("--results", metavar="DIR", help=f"results folder (default: ./{RUN_DEFAULTS['results']})")
    p.add_argument("--device", choices=RUN_CHOICES["device"],
                   help=f"where the backbone and the probes run (default: {RUN_DEFAULTS['device']})")
    p.add_argument("--dtype", choices=RUN_CHOICES["dtype"],
                   help=f"weights and inputs dtype (default: {RUN_DEFAULTS['dtype']}; bf16 roughly doubles ViT "
                        f"throughput on CPU)")
    p.add_argument("--batch-size", type=_at_least(RUN_MINIMUM["batch_size"]), metavar="N",
                   help="images per forward pass (default: chosen for the device: 32 on CPU; 256, 128 or 64 on a GPU "
                        "by its memory)")
    p.add_argument("--workers", type=_at_least(RUN_MINIMUM["workers"]), metavar="N",
                   help="DataLoader decoding processes; 0 decodes in this process (default: chosen for the machine: "
                        "0 on a CPU of 2 cores or fewer, a quarter of the cores on a larger CPU, all cores but one "
                        "(at most 16) with a GPU)")
    p.add_argument("--pixel-cache-gb", type=_gib, metavar="GIB",
                   help="GiB of decoded pixels kept in the cache folder, so backbones with the same resize and crop "
                        "decode each image once; 0 turns it off (default: $BIOBENCH_PIXEL_CACHE_GB or 50)")
    p.add_argument("--limit", type=_at_least(RUN_MINIMUM["limit"]), metavar="N",
                   help="smoke mode: first N examples per split; results are not comparable and hidden from reports")
    p.add_argument("--force", action="store_true", help="redo finished experiments (features still come from cache)")
    p.add_argument("--no-cache", action="store_true", help="neither read nor write the feature cache")
    p.add_argument("--on-bad-image", choices=RUN_CHOICES["on_bad_image"],
                   help="an undecodable image is skipped with a warning and counted (default), or fails the run")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.add_argument("--executor", metavar="KIND",
                   help="run the matrix through workers of an installed executor: inprocess (in this process), "
                        "local (processes), slurm (Slurm jobs, with biobench-slurm), or a plugin's; 'biobench "
                        "plugins' lists them (default: the config's [executor] kind; without one, in this process "
                        "as before)")
    p.add_argument("--devices", metavar="0,1,...", help="local executor: one worker process per GPU index")
    p.add_argument("--jobs", type=_at_least(1), metavar="N",
                   help="how many workers run at once (local processes or Slurm array tasks)")


def build_parser(commands: dict[str, Callable[[argparse.Namespace], int]]) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="biobench",
        description="Which frozen vision backbone is best for biology? List, run and report benchmarks.",
    )
    parser.add_argument("--version", action="version", version=f"biobench {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = sub.add_parser("backbones", help="list the backbones installed plugins offer")
    p.add_argument("patterns", nargs="*", metavar="PATTERN", help="fnmatch patterns over ids, e.g. 'vit_*'")
    p.add_argument("--json", action="store_true", help="print a JSON list")
    p.set_defaults(func=commands["backbones"])

    p = sub.add_parser("tasks", help="list the tasks installed plugins offer")
    p.add_argument("patterns", nargs="*", metavar="PATTERN", help="fnmatch patterns over ids")
    p.add_argument("--json", action="store_true", help="print a JSON list")
    p.set_defaults(func=commands["tasks"])

    p = sub.add_parser("plugins", help="list discovered plugins, working or failed, with the seconds each "
                                       "takes to import and to list; validate one")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.add_argument("--kind", choices=EXTENSION_KINDS, help="list only the installed extensions of one kind, "
                                                           "with the plugin offering each")
    p.set_defaults(func=commands["plugins"])
    plugin_sub = p.add_subparsers(dest="plugins_command", metavar="validate")
    v = plugin_sub.add_parser("validate", help="run the conformance checks on an installed plugin distribution")
    v.add_argument("name", help="distribution name, e.g. biobench-timm")
    v.add_argument("--json", action="store_true", help="print JSON")
    v.set_defaults(func=commands["validate"])

    p = sub.add_parser("install", help="pip-install a plugin into this environment and check that it is one")
    p.add_argument("name", help="a pip requirement or path, e.g. biobench-mymodel or ./biobench-mymodel")
    p.add_argument("pip_args", nargs=argparse.REMAINDER, help="further arguments for pip")
    p.set_defaults(func=commands["install"])

    p = sub.add_parser("run", help="extract features, fit probes, store results",
                       description="Run every --backbone on every --task. Finished experiments are skipped "
                                   "(--force redoes them); features are cached by content. With an [executor] "
                                   "table or --executor, workers (local processes or Slurm jobs) run the matrix; "
                                   "see docs/scaleout.md.")
    _add_run_arguments(p)
    p.add_argument("--dry-run", action="store_true", help="print what is done, claimed, failed and left, with an "
                                                           "estimate of what is left costs; run nothing")
    p.set_defaults(func=commands["run"])

    p = sub.add_parser("plan", help="what a run would do: done, claimed, failed and left experiments, and the "
                                    "cost of what is left (run --dry-run)",
                       description="Print the matrix's experiments by state and estimate what is left from the "
                                   "images/s recorded by earlier runs of the same backbones. Runs nothing.")
    _add_run_arguments(p)
    p.set_defaults(func=commands["run"], dry_run=True)

    p = sub.add_parser("status", help="running, failed and done experiments in a results store",
                       description="Running (claimed by a live worker), failed (with attempts, host and error) "
                                   "and done experiments; with --config also those left.")
    p.add_argument("--results", metavar="DIR", help=f"results folder (default: the config's, else "
                                                    f"./{RUN_DEFAULTS['results']})")
    p.add_argument("--config", metavar="FILE", help="the run's config: also show what is left")
    p.add_argument("--traceback", action="store_true", help="print each failure's traceback")
    p.set_defaults(func=commands["status"])

    p = sub.add_parser("merge", help='merge the per-job result files of [executor] store = "files" into the store')
    p.add_argument("--results", default=RUN_DEFAULTS["results"], metavar="DIR",
                   help=f"results folder (default: ./{RUN_DEFAULTS['results']})")
    p.set_defaults(func=commands["merge"])

    p = sub.add_parser("report", help="leaderboard of stored results: each task's metric with its 95%% interval (Wilson for accuracy, paired bootstrap otherwise) and Holm-corrected ties with the best")
    p.add_argument("--results", default="results", metavar="DIR", help="results folder (default: ./results)")
    p.add_argument("--format", default="table", metavar="NAME",
                   help="the report format (default: table); 'biobench plugins --kind formats' lists the installed "
                        "ones, which plugins may add to")
    p.add_argument("--out", metavar="PATH", help="write to a file instead of standard output (bytes as they are, "
                                                 "for a binary format)")
    p.add_argument("--all", action="store_true", help="include not-comparable (--limit) runs")
    p.set_defaults(func=commands["report"])

    p = sub.add_parser("data", help="each task's data: where it comes from; fetch and check it",
                       description="List each task's data source, size and license; download a task's data "
                                   "(resumable, checksummed, unpacked) and check that every file is there.")
    data_sub = p.add_subparsers(dest="data_command", metavar="{list,check,fetch}", required=True)
    d = data_sub.add_parser("list", help="each task's data source, size, license and whether fetch can get it")
    d.add_argument("patterns", nargs="*", metavar="PATTERN", help="fnmatch patterns over task ids")
    d.add_argument("--json", action="store_true", help="print a JSON list")
    d.set_defaults(func=commands["data-list"])
    d = data_sub.add_parser("check", help="build TASK over DIR and check that every example's file exists",
                            description="Exit 0 with a one-line summary (train and test examples, classes), or "
                                        "exit 1 with one line naming the first missing file or the task's error.")
    d.add_argument("task", metavar="TASK", help="task id or short name")
    d.add_argument("folder", metavar="DIR", help="the task's data folder")
    d.set_defaults(func=commands["data-check"])
    d = data_sub.add_parser("fetch", help="download TASK's data into DIR, verify, unpack and check it",
                            description="Download each file of TASK's data recipe into DIR (an interrupted "
                                        "download resumes when run again), verify its published sha256, unpack "
                                        "archives, then run 'biobench data check'. Exit 0 when the data checks "
                                        "out; exit 2, printing the steps, when the source needs a login or a "
                                        "licence click (public files of such a recipe are downloaded first).")
    d.add_argument("task", metavar="TASK", help="task id or short name")
    d.add_argument("--to", required=True, metavar="DIR", dest="folder", help="the folder to fill")
    d.add_argument("--keep-archives", action="store_true", help="keep archives after unpacking them")
    d.add_argument("--force", action="store_true", help="download and unpack again what DIR already has")
    d.add_argument("--quiet", action="store_true", help="no progress bars")
    d.set_defaults(func=commands["data-fetch"])
    return parser


COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {
    "backbones": lambda args: _list(args, "backbone"),
    "tasks": lambda args: _list(args, "task"),
    "plugins": cmd_plugins,
    "run": cmd_run,
    "status": cmd_status,
    "merge": cmd_merge,
    "validate": lambda args: _kit().validate_main(args.name, args.json),
    "install": lambda args: _kit().install_main(args.name, args.pip_args),
    "report": cmd_report,
    "data-list": lambda args: _data().list_main(args.patterns, args.json),
    "data-check": lambda args: _data().check_main(args.task, args.folder),
    "data-fetch": lambda args: _data().fetch_main(args.task, args.folder, keep_archives=args.keep_archives,
                                                  force=args.force, progress=not args.quiet),
}


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser(COMMANDS)
    args = parser.parse_args(argv)
    _one_line_warnings()
    if args.command is None:
        parser.print_help()
        return EXIT_USAGE
    try:
        return int(args.func(args) or 0)
    except UsageError as exc:
        print(f"biobench {args.command}: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("biobench: interrupted; finished results are kept", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0
    except Exception as exc:  # noqa: BLE001 - the CLI's contract is one line, never a bare traceback
        if debug_enabled():
            raise
        print(f"biobench {args.command}: error: {one_line(exc)}", file=sys.stderr)
        return EXIT_USAGE if getattr(exc, "exit_code", None) == EXIT_USAGE else EXIT_FAILURE  # e.g. SettingsError


def _one_line_warnings() -> None:
    """Warnings (a skipped image, an unwritable cache) as ``warning: ...`` lines, without source excerpts."""
    import warnings

    def show(message, category, filename, lineno, file=None, line=None):  # noqa: ANN001 - warnings' signature
        print(f"warning: {message}", file=file or sys.stderr)

    warnings.showwarning = show


if __name__ == "__main__":
    sys.exit(main())
