"""The ``biobench`` command line: list backbones, tasks and plugins; run; report.

Each subcommand's work lives in its own module; this file only parses arguments and turns known errors into
one-line messages (exit 1 for failures, 2 for bad usage). Listing never imports torch.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from typing import Any

from biobench_core import __version__

EXIT_FAILURE = 1
EXIT_USAGE = 2


class UsageError(Exception):
    """Bad command-line usage: exit code 2."""


def _print_table(rows: list[list[str]], headers: list[str]) -> None:
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(headers)]
    line = "  ".join(h.ljust(w) for h, w in zip(headers, widths)).rstrip()
    print(line)
    print("  ".join("-" * w for w in widths))
    for row in rows:
        print("  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip())


def _opt(value: Any) -> str:
    return "" if value is None else str(value)


def _warn_collisions() -> None:
    from biobench_core.plugins import get_registry

    for collision in get_registry().collisions:
        print(f"warning: {collision.message}", file=sys.stderr)


def _spec_rows(specs: Sequence[Any], kind: str) -> list[dict[str, Any]]:
    from biobench_core.plugins import get_registry

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
    from biobench_core.catalog import UnknownIdError, resolve_backbone, resolve_task

    resolve = resolve_backbone if kind == "backbone" else resolve_task
    for pattern in patterns:
        if not any(c in pattern for c in "*?["):
            try:
                resolve(pattern)
            except (UnknownIdError, ValueError) as exc:
                print(f"biobench: {exc}", file=sys.stderr)
                continue
    print(f"no {kind} matches {' '.join(patterns)}", file=sys.stderr)
    return EXIT_FAILURE


def cmd_backbones(args: argparse.Namespace) -> int:
    from biobench_core.catalog import list_backbones

    rows = _spec_rows(list_backbones(args.patterns), "backbone")
    _warn_collisions()
    if args.patterns and not rows:
        return _no_match(args.patterns, "backbone")
    if args.json:
        print(json.dumps(rows, indent=1))
        return 0
    _print_table([[r["id"], _opt(r["plugin"]), _opt(r["embed_dim"]), _opt(r["input_size"])] for r in rows],
                 ["id", "plugin", "dim", "input"])
    print(f"\n{len(rows)} backbone(s)", file=sys.stderr)
    return 0


def cmd_tasks(args: argparse.Namespace) -> int:
    from biobench_core.catalog import list_tasks

    rows = _spec_rows(list_tasks(args.patterns), "task")
    _warn_collisions()
    if args.patterns and not rows:
        return _no_match(args.patterns, "task")
    if args.json:
        print(json.dumps(rows, indent=1))
        return 0
    _print_table([[r["id"], _opt(r["plugin"]), r["protocol"], r["metric"], "yes" if r["needs_data"] else "no",
                   r["description"]] for r in rows],
                 ["id", "plugin", "probe", "metric", "needs --data", "description"])
    print(f"\n{len(rows)} task(s)", file=sys.stderr)
    return 0


def cmd_plugins(args: argparse.Namespace) -> int:
    from biobench_core.catalog import list_plugins
    from biobench_core.plugins import get_registry

    records = list_plugins()
    collisions = get_registry().collisions
    if args.json:
        print(json.dumps({"plugins": [r.to_dict() for r in records],
                          "collisions": [{"id": c.id, "kind": c.kind, "plugins": [p.name for p in c.plugins],
                                          "message": c.message} for c in collisions]}, indent=1))
        return 0
    _print_table([[r.name, r.version, r.entry_point, r.status, str(r.n_backbones), str(r.n_tasks), _opt(r.error)]
                  for r in records], ["name", "version", "entry point", "status", "backbones", "tasks", "error"])
    for collision in collisions:
        print(f"collision: {collision.message}")
    if not records:
        print("\nno plugins discovered (entry-point group 'biobench'); see BIOBENCH_LOAD_PLUGINS", file=sys.stderr)
    return 0


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

    p = sub.add_parser("plugins", help="list discovered plugins, working or failed")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=commands["plugins"])
    return parser


COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {
    "backbones": cmd_backbones,
    "tasks": cmd_tasks,
    "plugins": cmd_plugins,
}


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser(COMMANDS)
    args = parser.parse_args(argv)
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
        if _debug():
            raise
        print(f"biobench {args.command}: error: {_one_line(exc)}", file=sys.stderr)
        return EXIT_FAILURE


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    first = text.splitlines()[0]
    known = ("PluginError", "UnknownIdError", "SpecError", "TaskDataError", "BackboneOutputError")
    return first if type(exc).__name__ in known else f"{type(exc).__name__}: {first}"


def _debug() -> bool:
    import os

    return os.environ.get("BIOBENCH_DEBUG", "") not in ("", "0")


if __name__ == "__main__":
    sys.exit(main())
