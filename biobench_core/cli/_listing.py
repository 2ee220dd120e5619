"""``biobench backbones``, ``tasks`` and ``plugins``: what the installed plugins offer."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from typing import Any

from biobench_core.cli._common import EXIT_FAILURE, print_table


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
        print_table([[r["id"], _opt(r["plugin"]), _opt(r["embed_dim"]), _opt(r["input_size"])] for r in rows],
                     ["id", "plugin", "dim", "input"])
    else:
        print_table([[r["id"], _opt(r["plugin"]), r["protocol"], r["metric"], "yes" if r["needs_data"] else "no",
                       r["description"]] for r in rows],
                     ["id", "plugin", "probe", "metric", "needs --data", "description"])
    print(f"\n{len(rows)} {kind}(s)", file=sys.stderr)
    failed = _failed_plugins(kind)
    if failed:
        print(f"failed plugins, whose {kind}s are not listed: {'; '.join(failed)}; see 'biobench plugins'",
              file=sys.stderr)
    return 0


def _failed_plugins(kind: str) -> list[str]:
    """``name version (error)`` of each failed plugin that could have offered ``kind``s: one whose hook module has
    the kind's hook, or that failed before its module was known (an import error)."""
    from biobench_core.contract._registry import get_registry

    hook = f"biobench_{kind}s"
    return [f"{r.name} {r.version} ({r.error})" for r in get_registry().plugins
            if not r.ok and (r.module is None or hasattr(r.module, hook))]


#: What ``biobench plugins --kind`` lists: the registry's catalogues of the plugins' extensions.
EXTENSION_KINDS = ("probes", "metrics", "formats", "executors", "references")


def _shown_plugins(registry: Any) -> list[Any]:
    """The plugins ``biobench plugins`` lists: the core's built-in one first, then the entry points'. The built-in
    one is always loaded, but it is left out when ``BIOBENCH_LOAD_PLUGINS`` names the distributions to show and
    not ``biobench-core``."""
    named = registry.load_only
    builtin = [registry.builtin] if named is None or registry.builtin.name in named else []
    return builtin + list(registry.plugins)


def _extension_rows(registry: Any, kinds: Sequence[str], owners: Sequence[Any] | None = None) -> list[dict[str, Any]]:
    """One row per usable probe, metric, report format, executor or reference (of ``owners``' plugins, default all):
    its spec less the factory, and its plugin."""
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

        # The built-in plugin is its own key, so "plugins" stays the installed (entry-point) plugins.
        shown_builtin = {"builtin": with_offers(registry.builtin)} if registry.builtin in records else {}
        print(json.dumps({**shown_builtin,
                          "plugins": [with_offers(r) for r in records if r is not registry.builtin],
                          "collisions": [{"id": c.id, "kind": c.kind, "plugins": [p.name for p in c.plugins],
                                          "message": c.message} for c in collisions]}, indent=1))
        return 0
    print_table([[r.name, r.version, f"{r.namespace} = <built-in>" if r is registry.builtin else r.entry_point,
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
    print_table([[r["kind"], r["name"] + (f" ({', '.join(r['aliases'])})" if r["aliases"] else ""),
                   f"{r['plugin']} {r['plugin_version']}", r["description"]] for r in rows],
                 ["kind", "name", "plugin", "description"])
