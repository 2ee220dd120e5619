"""``check_plugin``: does an installed distribution behave as a biobench plugin should at discovery time?"""

from __future__ import annotations

import importlib
import json
import os
import re
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from biobench_core.contract._errors import debug_enabled
from biobench_core.contract.hookspecs import CONTRACT_VERSION, SUPPORTED_CONTRACTS
from biobench_core.testing._guard import HEAVY_MODULES, NetworkGuard
from biobench_core.testing._report import Report

__all__ = ["check_plugin"]

_PROBE = Path(__file__).with_name("_probe.py")
_NAMESPACE_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$")
#: Listing slower than this is reported as a warning: discovery runs on every ``biobench`` command.
SLOW_LISTING_S = 1.0


def _run_probe(distribution: str, forbidden: Sequence[str], timeout: float) -> tuple[dict[str, Any] | None, str]:
    """Run the discovery probe in a fresh interpreter that sees this interpreter's ``sys.path``."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in sys.path if p)
    for name in ("BIOBENCH_LOAD_PLUGINS", "BIOBENCH_STRICT_PLUGINS"):
        env.pop(name, None)
    try:
        proc = subprocess.run([sys.executable, str(_PROBE), distribution, ",".join(forbidden)],
                              capture_output=True, text=True, env=env, timeout=timeout)
    except subprocess.TimeoutExpired:
        return None, f"discovery did not finish within {timeout:.0f} s"
    if debug_enabled() and proc.stderr.strip():
        sys.stderr.write(proc.stderr)  # the probe's tracebacks, which its one-line messages point at
    lines = proc.stdout.strip().splitlines()
    if proc.returncode != 0 or not lines:
        tail = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        return None, f"discovery probe crashed (exit {proc.returncode}): {tail}"
    return json.loads(lines[-1]), ""


def _heavy_message(heavy: dict[str, str], when: str) -> str:
    names = ", ".join(sorted(heavy))
    where = "; ".join(f"{name} first imported at {origin}" for name, origin in sorted(heavy.items()))
    return (f"imports {names} {when} ({where}); import heavy modules inside the factory's module, which is "
            f"imported only when a backbone is used")


def _resolve_factory(factory: str) -> Any:
    module_name, _, attr = factory.partition(":")
    target: Any = importlib.import_module(module_name)
    for part in attr.split("."):
        target = getattr(target, part)
    return target


def check_plugin(distribution: str, *, forbidden_imports: Sequence[str] = HEAVY_MODULES, resolve_factories: bool = True,
                 timeout: float = 120.0) -> Report:
    """Check an installed distribution's plugin contract, as ``biobench plugins validate`` does.

    In a fresh interpreter (so ``sys.modules`` tells the truth) it loads the distribution's ``biobench`` entry
    points with every connection refused, and checks: the entry point exists and loads; ``BIOBENCH_CONTRACT``
    is compatible; importing and listing import no torch/timm/open_clip; every spec is valid, unique and in the
    plugin's namespace; a resolver answers an unknown id without raising; nothing touches the network. Then,
    in this process, it checks that no other installed plugin claims its namespace, ids or aliases (importing
    every installed plugin), and imports every factory (this may import torch). Returns a :class:`Report`; call
    ``.assert_ok()`` on it in a test.

    ``forbidden_imports``: top-level modules that importing the plugin or listing must not import (default
    :data:`HEAVY_MODULES`: torch, torchvision, timm, open_clip, transformers, tensorflow, jax); add e.g.
    ``"PIL"`` to hold a plugin to a stricter standard. ``resolve_factories=False`` skips importing factories.
    """
    report = Report(distribution)
    probe, error = _run_probe(distribution, tuple(forbidden_imports), timeout)
    if probe is None:
        report.fail("discovery", error)
        return report
    if not probe["found"]:
        report.fail("installed", f"no installed distribution named {distribution!r} (pip install it, or "
                                 f"'pip install -e .' in its checkout)")
        return report
    report.subject = f"{probe['name']} {probe['version']}"
    report.ok_("installed", f"{probe['name']} {probe['version']}")

    eps = probe["entry_points"]
    if not eps:
        report.fail("entry point", "declares no entry point in group 'biobench'; add "
                                   "[project.entry-points.biobench] <namespace> = \"<module>\" to pyproject.toml")
        return report
    bad_names = [ep["name"] for ep in eps if not _NAMESPACE_RE.match(ep["name"])]
    if bad_names:
        report.fail("entry point", f"entry-point name(s) {bad_names} are not valid namespaces "
                                   f"(letters, digits, '_', '.', '-')")
    else:
        report.ok_("entry point", ", ".join(f"{ep['name']} = {ep['value']}" for ep in eps))

    failed_import = [ep for ep in eps if ep["error"]]
    for ep in failed_import:
        report.fail("loads", f"entry point '{ep['name']} = {ep['value']}' does not load: {ep['error']}")
    if not failed_import:
        report.ok_("loads", "every entry point imports")

    records = {r["namespace"]: r for r in probe.get("records", [])}
    for ep in eps:
        if ep["error"]:
            continue
        record = records.get(ep["name"], {})
        if record.get("status") == "incompatible":
            report.fail("contract", f"incompatible contract version: BIOBENCH_CONTRACT = {ep['contract']}, "
                                    f"this biobench-core speaks contracts "
                                    f"{' and '.join(map(str, SUPPORTED_CONTRACTS))}")
        elif not ep["declares_contract"]:
            report.add("contract", "warn", f"'{ep['value']}' does not declare BIOBENCH_CONTRACT; "
                                           f"assuming 1 (add BIOBENCH_CONTRACT = {CONTRACT_VERSION})")
        else:
            report.ok_("contract", f"BIOBENCH_CONTRACT = {ep['contract']}")

    heavy_import = probe.get("heavy_after_import", {})
    if heavy_import:
        report.fail("torch-free import", _heavy_message(heavy_import, "at module level"))
    else:
        report.ok_("torch-free import", "importing the entry point imports no heavy module")

    listing_failed = False
    for ep in eps:
        record = records.get(ep["name"])
        if ep["error"] or record is None or record["status"] == "incompatible":
            continue
        if record["status"] != "ok":
            listing_failed = True
            report.fail("specs", f"namespace '{ep['name']}': {record['error']}")
        else:
            extensions = record.get("extensions", {})
            n = record["backbones"] + record["tasks"] + sum(extensions.values())
            report.add("specs", "ok" if n else "warn",
                       f"namespace '{ep['name']}': {record['backbones']} backbone(s), {record['tasks']} task(s)"
                       + "".join(f", {count} {kind}(s)" for kind, count in extensions.items())
                       + ("" if n else "; the plugin offers nothing"))
    if probe.get("duplicates"):
        report.fail("unique ids", f"ids yielded more than once: {', '.join(probe['duplicates'])}")

    heavy_listing = {k: v for k, v in probe.get("heavy_after_listing", {}).items() if k not in heavy_import}
    if heavy_listing:
        report.fail("torch-free listing", _heavy_message(heavy_listing, "while listing (in a biobench_* hook)"))
    elif "listing_seconds" in probe and not listing_failed:
        seconds = probe["listing_seconds"]
        report.add("torch-free listing", "warn" if seconds > SLOW_LISTING_S else "ok",
                   f"listing took {seconds * 1000:.0f} ms" + (" (slow: keep hooks cheap)" if seconds > SLOW_LISTING_S
                                                               else ""))

    for entry in probe.get("resolver", []):
        if entry["error"]:
            report.fail("resolver", f"biobench_resolve_backbone({entry['id']!r}) must return None for an id it "
                                    f"does not know: {entry['error']}")
        else:
            report.ok_("resolver", f"unknown id {entry['id']!r} -> {entry['returned']}")

    network = probe.get("network", [])
    if network:
        by_phase: dict[str, list[str]] = {}
        for phase, where in network:
            by_phase.setdefault(phase, [])
            if where not in by_phase[phase]:
                by_phase[phase].append(where)
        words = {"import": "while importing", "listing": "while listing", "resolve": "while resolving an id"}
        for phase, targets in by_phase.items():
            report.fail("offline discovery", f"opened a network connection to {', '.join(targets)} "
                                             f"{words.get(phase, phase)}; discovery must never touch the network")
    else:
        report.ok_("offline discovery", "no connection attempted during import, listing or resolving")

    _check_installed(report, distribution)
    if resolve_factories:
        _check_factories(report, probe.get("specs", []))
    return report


def _check_installed(report: Report, distribution: str) -> None:
    """Against every other installed plugin: a namespace, id or alias it claims too fails, naming it."""
    from biobench_core.contract._registry import installed_conflicts

    conflicts = installed_conflicts(distribution)
    for message in conflicts:
        report.fail("other plugins", message)
    if not conflicts:
        report.ok_("other plugins", "no namespace, id or alias shared with another installed plugin")


def _check_factories(report: Report, specs: list[dict[str, Any]]) -> None:
    """Import every distinct factory (this may import torch: run it after the torch-free checks)."""
    by_factory: dict[str, list[str]] = {}
    for spec in specs:
        by_factory.setdefault(spec["factory"], []).append(spec["id"])
    bad = 0
    guard = NetworkGuard()
    with guard.active():
        guard.phase = "factory import"
        for factory, ids in by_factory.items():
            used_by = ids[0] + (f" and {len(ids) - 1} more" if len(ids) > 1 else "")
            try:
                target = _resolve_factory(factory)
            except Exception as exc:  # noqa: BLE001
                bad += 1
                report.fail("factories", f"factory {factory!r} (for {used_by}) does not resolve: "
                                         f"{type(exc).__name__}: {exc}")
                continue
            if not callable(target):
                bad += 1
                report.fail("factories", f"factory {factory!r} (for {used_by}) is a {type(target).__name__}, "
                                         f"not callable")
    if guard.attempts:
        report.fail("offline discovery", f"opened a network connection to {', '.join(guard.describe())} while "
                                         f"importing a factory module")
    if not bad:
        report.ok_("factories", f"{len(by_factory)} distinct factory reference(s) resolve" if by_factory
                   else "no factories to resolve")
