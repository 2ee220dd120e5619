"""Discovery probe: run as a script in a fresh interpreter by :func:`biobench_core.testing.check_plugin`.

``python _probe.py DISTRIBUTION`` loads that distribution's ``biobench`` entry points exactly as discovery
does, under a network guard and an import watcher, and prints one JSON object on the last line of stdout.
It must run in its own interpreter: only there does ``sys.modules`` tell what the plugin itself imported.
"""

from __future__ import annotations

import importlib.util
import json
import os
import sys
import time
import traceback

if sys.path and os.path.abspath(sys.path[0]) == os.path.dirname(os.path.abspath(__file__)):
    del sys.path[0]  # the script's own folder is not a place to import plugins from


def _load_guard():
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "_guard.py")
    spec = importlib.util.spec_from_file_location("_biobench_kit_guard", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def _one_line(exc: BaseException, typed: bool = True) -> str:
    """The kit's one line for ``exc`` (the caller forwards this script's stderr under ``BIOBENCH_DEBUG=1``)."""
    from biobench_core.contract._errors import debug_enabled, one_line

    if debug_enabled():
        traceback.print_exception(type(exc), exc, exc.__traceback__, file=sys.stderr)
    return one_line(exc, typed=typed)


def main(dist_name: str, forbidden: tuple[str, ...] | None = None) -> dict:
    guard_module = _load_guard()
    names = forbidden or guard_module.HEAVY_MODULES
    loaded = lambda: [n for n in names if n in sys.modules]  # noqa: E731
    from importlib import metadata

    out: dict = {"found": False, "entry_points": [], "network": [], "heavy_before": loaded()}
    try:
        dist = metadata.distribution(dist_name)
    except metadata.PackageNotFoundError:
        return out
    out.update(found=True, name=dist.metadata["Name"], version=dist.version)
    eps = [ep for ep in dist.entry_points if ep.group == "biobench"]
    guard = guard_module.NetworkGuard()
    watcher = guard_module.ImportWatcher(tuple(names)).install()
    with guard.active():
        guard.phase = "import"
        for ep in eps:
            entry = {"name": ep.name, "value": ep.value, "error": None, "contract": None, "declares_contract": False}
            out["entry_points"].append(entry)
            try:
                module = ep.load()
            except BaseException as exc:  # noqa: BLE001 - a plugin's import may raise anything
                entry["error"] = _one_line(exc)
                continue
            entry["declares_contract"] = hasattr(module, "BIOBENCH_CONTRACT")
            entry["contract"] = repr(getattr(module, "BIOBENCH_CONTRACT", None))
            entry["has_resolver"] = callable(getattr(module, "biobench_resolve_backbone", None))
        out["heavy_after_import"] = {name: watcher.origins.get(name, "?") for name in loaded()}

        guard.phase = "listing"
        from biobench_core.contract._registry import Registry

        start = time.perf_counter()
        registry = Registry(entry_points=eps)
        registry.plugins  # noqa: B018 - calls every listing hook (a registry calls each kind's hooks on first use)
        out["listing_seconds"] = time.perf_counter() - start
        out["heavy_after_listing"] = {name: watcher.origins.get(name, "?") for name in loaded()}
        out["records"] = [r.to_dict() for r in registry.plugins]

        specs = []
        for kind, catalogue in (("backbone", registry.backbones), ("task", registry.tasks)):
            for spec in catalogue.specs.values():
                specs.append({"kind": kind, "id": spec.id, "factory": spec.factory, "aliases": list(spec.aliases),
                              "embed_dim": getattr(spec, "embed_dim", None)})
        out["specs"] = specs
        # Ids yielded twice by the same plugin: the catalogue keeps one silently, so count the raw yields.
        counts: dict[str, int] = {}
        for record in registry.plugins:
            module = record.module
            for hook in ("biobench_backbones", "biobench_tasks"):
                fn = getattr(module, hook, None)
                if record.ok and callable(fn):
                    try:
                        for spec in fn() or ():
                            for key in (spec.id, *spec.aliases):
                                counts[f"{hook}:{key}"] = counts.get(f"{hook}:{key}", 0) + 1
                    except Exception:  # noqa: BLE001 - already recorded by the registry
                        pass
        out["duplicates"] = sorted(k.partition(":")[2] for k, n in counts.items() if n > 1)

        guard.phase = "resolve"
        resolver = []
        for record in registry.plugins:
            if not record.ok or not callable(getattr(record.module, "biobench_resolve_backbone", None)):
                continue
            probe_id = f"{record.namespace}/biobench-kit-unknown-model"
            try:
                spec = registry.call_resolver(probe_id, record)
                resolver.append({"namespace": record.namespace, "id": probe_id, "error": None,
                                 "returned": None if spec is None else spec.id})
            except Exception as exc:  # noqa: BLE001
                resolver.append({"namespace": record.namespace, "id": probe_id, "error": _one_line(exc, typed=False),
                                 "returned": None})
        out["resolver"] = resolver
    watcher.uninstall()
    out["network"] = [list(a) for a in guard.attempts]
    return out


if __name__ == "__main__":
    result = main(sys.argv[1], tuple(sys.argv[2].split(",")) if len(sys.argv) > 2 else None)
    sys.stdout.flush()
    print("\n" + json.dumps(result))
