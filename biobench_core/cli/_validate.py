"""Back ends of ``biobench plugins validate NAME`` and ``biobench install SPEC``.

``validate_main`` runs the conformance kit's :func:`~biobench_core.testing.check_plugin` on an installed
distribution, then the kit's check of each probe, metric, report format and executor it offers
(``check_probe``, ``check_metric``, ``check_format``, ``check_executor`` without starting a worker) and of each
task (``check_task_spec``: its references, its settings' defaults, and ``check_task`` end to end on its sample
data with the kit's tiny backbone), and prints a verdict. ``install_main`` runs pip in this interpreter's
environment and then says whether what it installed is a biobench plugin. Both return an exit code.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Sequence
from importlib import metadata
from typing import TYPE_CHECKING

from biobench_core.contract.hookspecs import PROJECT_NAME
from biobench_core.contract._registry import normalize_dist_name

if TYPE_CHECKING:
    from biobench_core.testing._report import Report

__all__ = ["validate_main", "install_main"]

_REQUIREMENT_NAME = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*(\[[^\]]*\])?\s*([<>=!~;@ ]|$)")


def validate_main(name: str, as_json: bool = False) -> int:
    """Check the installed distribution ``name`` as a plugin, then each probe, metric, report format, executor and
    task it offers; print each check; 0 when all pass, else 1."""
    from biobench_core.testing import check_plugin

    report = check_plugin(name)
    extensions = extension_checks(name) if report.ok else []
    tasks = task_checks(name) if report.ok else []
    ok = report.ok and all(r.ok for r in (*extensions, *tasks))
    if as_json:
        print(json.dumps({"distribution": name, **report.to_dict(), "ok": ok,
                          "extensions": [r.to_dict() for r in extensions],
                          "tasks": [r.to_dict() for r in tasks]}, indent=1))
    else:
        print("\n\n".join(r.format() for r in (report, *extensions, *tasks)))
        if ok:
            print(f"\n{name} conforms." + (" Check a backbone's forward pass in a test with "
                                           "biobench_core.testing.check_backbone (see docs/plugins.md)."
                                           if _offers_backbones(name) else ""))
    return 0 if ok else 1


def _own_specs(distribution: str, attribute: str) -> list[str]:
    """The ids of the ``attribute`` catalogue (``tasks``, ``backbones``) that ``distribution`` offers."""
    from biobench_core.contract._registry import Registry

    registry = Registry(load_only=[distribution])
    mine = [record for record in registry.plugins if record.ok]
    catalogue = getattr(registry, attribute)
    return [spec_id for spec_id, owner in sorted(catalogue.owner.items())
            if spec_id in catalogue.specs and any(owner is record for record in mine)]


def _offers_backbones(distribution: str) -> bool:
    return bool(_own_specs(distribution, "backbones"))


def task_checks(distribution: str) -> list[Report]:
    """The kit's :func:`~biobench_core.testing.check_task_spec` on every task ``distribution`` offers: its
    references import, its settings' defaults are values, and, with a sample-data generator, ``check_task`` end
    to end with the kit's tiny backbone."""
    import biobench_core.testing as testing
    from biobench_core.contract._registry import Registry

    task_ids = _own_specs(distribution, "tasks")
    reports = []
    with testing.use_registry(Registry(load_only=[distribution])):
        for task_id in task_ids:
            reports.append(testing.check_task_spec(task_id))
    return reports


#: The kit's check for each kind of extension ``validate`` runs: registry catalogue -> check's name in the kit.
EXTENSION_CHECKS = {"probes": "check_probe", "metrics": "check_metric", "formats": "check_format",
                    "executors": "check_executor", "references": "check_reference"}
#: Keyword arguments of a check: an executor is checked without starting a worker (no cluster needed).
CHECK_OPTIONS = {"check_executor": {"start": False}}


def extension_checks(distribution: str) -> list[Report]:
    """The kit's report on every probe, metric, report format, executor and reference ``distribution`` offers, each
    checked in a registry of that distribution alone (and the core's built-in plugin), as a user who installed it
    gets it."""
    import biobench_core.testing as testing
    from biobench_core.contract._registry import Registry

    registry = Registry(load_only=[distribution])
    mine = [record for record in registry.plugins if record.ok]
    reports = []
    with testing.use_registry(registry):
        for attribute, check in EXTENSION_CHECKS.items():
            catalogue = getattr(registry, attribute)
            for spec_name, owner in sorted(catalogue.owner.items()):
                if spec_name in catalogue.specs and any(owner is record for record in mine):
                    reports.append(getattr(testing, check)(spec_name, **CHECK_OPTIONS.get(check, {})))
    return reports


def _installed() -> dict[str, tuple[str, list[str]]]:
    """normalised name -> (version, biobench entry points as 'name = value')."""
    out: dict[str, tuple[str, list[str]]] = {}
    for dist in metadata.distributions():
        name = dist.metadata["Name"]
        if not name:
            continue
        eps = [f"{ep.name} = {ep.value}" for ep in dist.entry_points if ep.group == PROJECT_NAME]
        out.setdefault(normalize_dist_name(name), (dist.version, eps))
    return out


def requirement_name(spec: str) -> str | None:
    """The distribution name of a requirement such as ``biobench-timm>=0.2`` or ``pkg[extra]``; ``None`` for
    paths, URLs and anything else pip accepts that names no distribution up front."""
    direct = _REQUIREMENT_NAME.match(spec)
    if direct and direct.group(3) == "@":  # "name @ https://..." names itself
        return normalize_dist_name(direct.group(1))
    if "/" in spec or "\\" in spec or spec.startswith(".") or spec.endswith((".whl", ".tar.gz", ".zip")):
        return None
    match = _REQUIREMENT_NAME.match(spec)
    return normalize_dist_name(match.group(1)) if match else None


def install_main(spec: str, pip_args: Sequence[str] = ()) -> int:
    """``python -m pip install SPEC PIP_ARGS...`` in this environment, then check it installed a plugin.

    Exit 1 when pip fails. Otherwise exit 0, with a warning on stderr when the distribution it installed (the
    one ``SPEC`` names, or else every distribution pip added or changed) declares no ``biobench`` entry point.
    """
    before = _installed()
    cmd = [sys.executable, "-m", "pip", "install", spec, *pip_args]
    print("+ " + " ".join(cmd), file=sys.stderr)
    proc = subprocess.run(cmd)
    if proc.returncode != 0:
        print(f"biobench install: pip failed (exit {proc.returncode}); nothing to check", file=sys.stderr)
        return 1
    import importlib

    importlib.invalidate_caches()
    after = _installed()
    changed = [n for n, (version, _) in after.items() if before.get(n, (None,))[0] != version]
    named = requirement_name(spec)
    targets = [named] if named in after else changed
    if not targets:
        print(f"biobench install: pip installed nothing new for {spec!r}", file=sys.stderr)
        return 0
    plugins = [n for n in targets if after[n][1]]
    for name in plugins:
        version, eps = after[name]
        print(f"installed plugin {name} {version}: {', '.join(eps)}")
        print(f"  check it with: biobench plugins validate {name}")
    if not plugins:
        names = ", ".join(f"{n} {after[n][0]}" for n in targets)
        print(f"biobench install: warning: {names} declares no '{PROJECT_NAME}' entry point, so biobench will not "
              f"find any backbone or task in it (is it a biobench plugin?)", file=sys.stderr)
    return 0
