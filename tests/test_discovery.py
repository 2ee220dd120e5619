"""Discovery diagnostics: a plugin that imports torch at import time, a pattern or id in a failed or unknown
namespace, and two distributions sharing one namespace. Each runs the real CLI on throwaway distributions."""

from __future__ import annotations

import json
import re
from types import SimpleNamespace

import pytest

from biobench_core.testing._distributions import write_distribution

HEAVY = """
import torch  # the mistake: every biobench command now pays for torch

from biobench_core import BackboneSpec, hookimpl

@hookimpl
def biobench_backbones():
    yield BackboneSpec(id="heavy/net", factory="heavy_plugin:build")
"""

LIGHT = """
from biobench_core import BackboneSpec, TaskSpec, hookimpl

BIOBENCH_CONTRACT = 1
build = task = lambda *args: None  # the factories validate resolves

@hookimpl
def biobench_backbones():
    yield BackboneSpec(id="tinyfauna/mouse", factory="light_plugin:build")

@hookimpl
def biobench_tasks():
    yield TaskSpec(id="tinyfauna/count", factory="light_plugin:task")
"""

GOOD = """
from biobench_core import BackboneSpec, TaskSpec, hookimpl

BIOBENCH_CONTRACT = 1
build = task = lambda *args: None  # the factories validate resolves

@hookimpl
def biobench_backbones():
    yield BackboneSpec(id="good/alpha", factory="good_plugin:build")
    yield BackboneSpec(id="good/beta-2", factory="good_plugin:build", aliases=("good/beta",))

@hookimpl
def biobench_tasks():
    yield TaskSpec(id="good/newt", factory="good_plugin:task")
"""

TWIN = """
from biobench_core import BackboneSpec, hookimpl

BIOBENCH_CONTRACT = 1
build = lambda *args: None

@hookimpl
def biobench_backbones():
    yield BackboneSpec(id="good/alpha", factory="twin_plugin:build")
"""

# One backbone in its namespace, then one outside it: the whole plugin fails.
OUTSIDE = """
from biobench_core import BackboneSpec, TaskSpec, hookimpl

BIOBENCH_CONTRACT = 1
build = task = lambda *args: None  # the factories validate resolves

@hookimpl
def biobench_backbones():
    yield BackboneSpec(id="tinyfauna/mouse", factory="outside_plugin:build")
    yield BackboneSpec(id="hugefauna/whale", factory="outside_plugin:build")

@hookimpl
def biobench_tasks():
    yield TaskSpec(id="tinyfauna/count", factory="outside_plugin:task")
"""


@pytest.fixture
def site(tmp_path):
    site = tmp_path / "site"
    write_distribution(site, "biobench-heavy", {"heavy_plugin": HEAVY}, {"heavy": "heavy_plugin"})
    write_distribution(site, "biobench-good", {"good_plugin": GOOD}, {"good": "good_plugin"}, version="1.2.3")
    write_distribution(site, "biobench-twin", {"twin_plugin": TWIN}, {"good": "twin_plugin"}, version="9.9")
    write_distribution(site, "biobench-tinyfauna", {"outside_plugin": OUTSIDE}, {"tinyfauna": "outside_plugin"})
    write_distribution(site, "biobench-light", {"light_plugin": LIGHT.replace("tinyfauna", "light")},
                       {"light": "light_plugin"})
    return site


def _warnings(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("warning:")]


# -- 1. a hook module that imports torch ------------------------------------------------------------------------


def test_a_plugin_importing_torch_at_import_is_named_once_with_the_fix(site, run_cli):
    env = {"BIOBENCH_LOAD_PLUGINS": "biobench-heavy,biobench-light"}
    proc = run_cli("backbones", site=site, env=env)
    assert proc.returncode == 0, proc.stderr
    assert "heavy/net" in proc.stdout  # it works, it is only slow
    heavy = [w for w in _warnings(proc.stderr) if "torch" in w]
    assert len(heavy) == 1, proc.stderr  # once per process
    [line] = heavy
    assert "biobench-heavy 1.0" in line and "namespace 'heavy'" in line and "heavy_plugin" in line
    assert "factory" in line and "not in the hook module" in line
    assert "biobench-light" not in proc.stderr

    report = json.loads(run_cli("plugins", "--json", site=site, env=env, check=True).stdout)
    by_name = {p["name"]: p for p in report["plugins"]}
    assert by_name["biobench-heavy"]["status"] == "ok"
    assert by_name["biobench-heavy"]["heavy_imports"] == ["torch"]
    assert by_name["biobench-light"]["heavy_imports"] == []
    assert by_name["biobench-heavy"]["import_seconds"] > by_name["biobench-light"]["import_seconds"]

    table = run_cli("plugins", site=site, env=env, check=True)
    header = table.stdout.splitlines()[0]
    assert "import s" in header
    heavy_row = next(line for line in table.stdout.splitlines() if line.startswith("biobench-heavy"))
    assert re.search(r"\s\d+\.\d\d(\s|$)", heavy_row), table.stdout


def test_first_party_plugins_import_nothing_heavy_and_report_their_import_time(run_cli):
    proc = run_cli("plugins", "--json", check=True)
    assert not _warnings(proc.stderr), proc.stderr
    plugins = json.loads(proc.stdout)["plugins"]
    assert plugins and all(p["heavy_imports"] == [] for p in plugins), plugins
    assert all(isinstance(p["import_seconds"], float) and p["import_seconds"] < 1.0 for p in plugins), plugins


# -- 2. a pattern or an id in a failed, or in no, namespace -----------------------------------------------------


def test_a_pattern_in_a_failed_plugins_namespace_names_the_plugin_and_its_failure(site, run_cli):
    env = {"BIOBENCH_LOAD_PLUGINS": "biobench-tinyfauna,biobench-light"}
    for command in ("backbones", "tasks"):
        proc = run_cli(command, "tinyfauna/*", site=site, env=env)
        assert proc.returncode == 1, proc.stderr
        [why] = [line for line in proc.stderr.splitlines() if "tinyfauna" in line and "biobench-tinyfauna" in line]
        assert "namespace 'tinyfauna'" in why and "failed" in why
        assert "'hugefauna/whale' is outside namespace 'tinyfauna/'" in why, why
        assert "Traceback" not in proc.stderr
    # the failed plugin's backbones are not listed at all, though its first spec was valid
    assert "tinyfauna/mouse" not in run_cli("backbones", site=site, env=env, check=True).stdout
    proc = run_cli("run", "--backbone", "tinyfauna/mouse", "--task", "light/count", site=site, env=env)
    assert proc.returncode == 1
    [line] = proc.stderr.strip().splitlines()
    assert "biobench-tinyfauna" in line and "outside namespace 'tinyfauna/'" in line


def test_a_namespace_no_plugin_provides_lists_the_installed_ones_with_a_suggestion(site, run_cli):
    env = {"BIOBENCH_LOAD_PLUGINS": "biobench-light,biobench-good"}
    proc = run_cli("backbones", "lihgt/*", site=site, env=env)
    assert proc.returncode == 1
    [why] = [line for line in proc.stderr.splitlines() if "lihgt" in line and "namespace" in line]
    assert "no installed plugin provides namespace 'lihgt'" in why
    assert "good, light" in why and "did you mean 'light'" in why, why
    proc = run_cli("tasks", "nosuchthing/*", site=site, env=env)
    assert proc.returncode == 1
    assert "no installed plugin provides namespace 'nosuchthing'" in proc.stderr
    assert "did you mean" not in proc.stderr
    proc = run_cli("run", "--backbone", "lihgt/mouse", "--task", "light/count", site=site, env=env)
    assert proc.returncode == 1
    [line] = proc.stderr.strip().splitlines()
    assert "no installed plugin provides namespace 'lihgt'" in line and "light" in line, line
    # a namespace that exists but matches nothing still says only that
    proc = run_cli("backbones", "light/zzz*", site=site, env=env)
    assert proc.returncode == 1 and "namespace" not in proc.stderr and "no backbone matches" in proc.stderr


# -- 3. two distributions, one namespace ------------------------------------------------------------------------


def test_two_distributions_sharing_a_namespace_are_both_refused_naming_both(site, run_cli, cli_json):
    env = {"BIOBENCH_LOAD_PLUGINS": "biobench-good,biobench-twin,biobench-light"}
    report = cli_json("plugins", site=site, env=env)
    by_name = {p["name"]: p for p in report["plugins"]}
    for name, other in (("biobench-good", "biobench-twin 9.9"), ("biobench-twin", "biobench-good 1.2.3")):
        assert by_name[name]["status"] == "failed"
        assert "namespace 'good'" in by_name[name]["error"] and other in by_name[name]["error"]
    assert by_name["biobench-light"]["status"] == "ok"
    [collision] = report["collisions"]
    assert (collision["kind"], collision["id"]) == ("namespace", "good")
    assert collision["plugins"] == ["biobench-good", "biobench-twin"]

    proc = run_cli("backbones", site=site, env=env)
    assert proc.returncode == 0
    assert "good/" not in proc.stdout and "light/mouse" in proc.stdout  # never silently picks one
    assert "namespace 'good' is claimed by biobench-good 1.2.3 and biobench-twin 9.9" in proc.stderr
    for backbone in ("good/alpha", "good/beta-2"):
        proc = run_cli("run", "--backbone", backbone, "--task", "light/count", site=site, env=env)
        assert proc.returncode == 1
        assert "biobench-good 1.2.3 and biobench-twin 9.9" in proc.stderr.strip().splitlines()[-1], proc.stderr
    proc = run_cli("backbones", "good/*", site=site, env=env)
    assert proc.returncode == 1 and "biobench-good 1.2.3 and biobench-twin 9.9" in proc.stderr
    strict = run_cli("backbones", site=site, env={**env, "BIOBENCH_STRICT_PLUGINS": "1"})
    assert strict.returncode == 1 and "namespace 'good'" in strict.stderr


def test_validate_fails_both_halves_of_a_namespace_collision(site, run_cli):
    for name, other in (("biobench-good", "biobench-twin 9.9"), ("biobench-twin", "biobench-good 1.2.3")):
        proc = run_cli("plugins", "validate", name, site=site)
        assert proc.returncode == 1, proc.stdout
        failing = [line for line in proc.stdout.splitlines() if "FAIL" in line and other in line]
        assert any("namespace 'good'" in line for line in failing), proc.stdout
    proc = run_cli("plugins", "validate", "biobench-twin", site=site)
    assert "'good/alpha'" in proc.stdout  # and the id both offer, by the id collision rule


def test_validate_passes_a_plugin_that_shares_nothing(site, run_cli):
    proc = run_cli("plugins", "validate", "biobench-light", site=site)
    assert proc.returncode == 0, proc.stdout
    assert "biobench-good" not in proc.stdout and "biobench-twin" not in proc.stdout


def test_in_process_registration_into_a_taken_namespace_refuses_both():
    from biobench_core import BackboneSpec, hookimpl
    from biobench_core.contract._registry import Registry

    def plugin(spec_id):
        @hookimpl
        def biobench_backbones():
            return [BackboneSpec(id=spec_id, factory="m:f")]

        return SimpleNamespace(biobench_backbones=biobench_backbones)

    registry = Registry(entry_points=[])
    first = registry.register(plugin("local/x"), "local", name="one")
    assert first.ok and [s.id for s in registry.backbones.listed()] == ["local/x"]
    second = registry.register(plugin("local/y"), "local", name="two")
    assert not first.ok and not second.ok
    assert "one 0 and two 0" in first.error and "one 0 and two 0" in second.error
    assert registry.backbones.listed() == []
    assert [c.kind for c in registry.collisions] == ["namespace"]
