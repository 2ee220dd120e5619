"""Plugin discovery with real installed distributions: isolation, namespaces, collisions, switches."""

from __future__ import annotations

import json
import sys

import pytest

from biobench_core.testing._distributions import write_distribution

GOOD = """
from biobench_core import BackboneSpec, TaskSpec, hookimpl

@hookimpl
def biobench_backbones():
    yield BackboneSpec(id="good/alpha", factory="good_plugin.model:build", embed_dim=8, input_size=32)
    yield BackboneSpec(id="good/beta-2", factory="good_plugin.model:build", aliases=("good/beta",))
    yield BackboneSpec(id="good/beta-10", factory="good_plugin.model:build")

@hookimpl
def biobench_tasks():
    yield TaskSpec(id="good/newt", factory="good_plugin.task:build", needs_data=True)
"""

BROKEN_IMPORT = "import this_module_does_not_exist_anywhere\n"

RAISES = """
from biobench_core import hookimpl

@hookimpl
def biobench_backbones():
    raise RuntimeError("catalogue server on fire")
"""

BAD_SPEC = """
from biobench_core import hookimpl

@hookimpl
def biobench_backbones():
    yield {"id": "badspec/x"}
"""

OUTSIDE = """
from biobench_core import BackboneSpec, hookimpl

@hookimpl
def biobench_backbones():
    yield BackboneSpec(id="good/stolen", factory="outside_plugin:x")
"""

TWIN = """
from biobench_core import BackboneSpec, hookimpl

@hookimpl
def biobench_backbones():
    yield BackboneSpec(id="good/alpha", factory="twin_plugin:x")
"""

OLD_CONTRACT = """
BIOBENCH_CONTRACT = 0
"""


@pytest.fixture
def site(tmp_path):
    site = tmp_path / "site"
    write_distribution(site, "biobench-good", {"good_plugin": GOOD}, {"good": "good_plugin"}, version="1.2.3")
    write_distribution(site, "biobench-broken", {"broken_plugin": BROKEN_IMPORT}, {"broken": "broken_plugin"})
    write_distribution(site, "biobench-raises", {"raises_plugin": RAISES}, {"raises": "raises_plugin"})
    write_distribution(site, "biobench-badspec", {"badspec_plugin": BAD_SPEC}, {"badspec": "badspec_plugin"})
    write_distribution(site, "biobench-outside", {"outside_plugin": OUTSIDE}, {"outside": "outside_plugin"})
    write_distribution(site, "biobench-old", {"old_plugin": OLD_CONTRACT}, {"old": "old_plugin"})
    return site


FAKES = "biobench-good,biobench-broken,biobench-raises,biobench-badspec,biobench-outside,biobench-old"


def test_broken_plugins_are_recorded_and_the_good_one_still_lists(site, cli_json):
    env = {"BIOBENCH_LOAD_PLUGINS": FAKES}
    report = cli_json("plugins", site=site, env=env)
    by_name = {p["name"]: p for p in report["plugins"]}
    assert set(by_name) == set(FAKES.split(","))
    good = by_name["biobench-good"]
    assert (good["status"], good["version"], good["backbones"], good["tasks"]) == ("ok", "1.2.3", 3, 1)
    assert good["entry_point"] == "good = good_plugin"
    broken = by_name["biobench-broken"]
    assert broken["status"] == "failed" and "this_module_does_not_exist_anywhere" in broken["error"]
    assert "import failed" in broken["error"]
    assert by_name["biobench-raises"]["status"] == "failed"
    assert "catalogue server on fire" in by_name["biobench-raises"]["error"]
    assert "not BackboneSpec" in by_name["biobench-badspec"]["error"]
    assert "outside namespace 'outside/'" in by_name["biobench-outside"]["error"]
    assert by_name["biobench-old"]["status"] == "incompatible"

    ids = [b["id"] for b in cli_json("backbones", site=site, env=env)]
    assert ids == ["good/alpha", "good/beta-2", "good/beta-10"]  # natural sort
    tasks = cli_json("tasks", site=site, env=env)
    assert [t["id"] for t in tasks] == ["good/newt"]
    assert tasks[0]["plugin"] == "biobench-good" and tasks[0]["plugin_version"] == "1.2.3"


def test_backbone_listing_json_fields(site, cli_json):
    rows = cli_json("backbones", "good/a*", site=site, env={"BIOBENCH_LOAD_PLUGINS": "biobench-good"})
    assert rows == [{
        "id": "good/alpha", "namespace": "good", "plugin": "biobench-good", "plugin_version": "1.2.3",
        "description": "", "license": None, "aliases": [], "extra": {}, "embed_dim": 8, "input_size": 32,
        "weights_source": None,
    }]


def test_using_a_failed_plugin_raises_its_original_error(site, run_cli):
    proc = run_cli("run", "--backbone", "broken/anything", "--task", "good/newt", site=site,
                   env={"BIOBENCH_LOAD_PLUGINS": FAKES})
    assert proc.returncode == 1
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert "biobench-broken" in lines[0] and "this_module_does_not_exist_anywhere" in lines[0]


def test_failed_plugin_error_keeps_the_original_type(site, monkeypatch):
    monkeypatch.syspath_prepend(str(site))
    monkeypatch.setenv("BIOBENCH_LOAD_PLUGINS", "biobench-broken,biobench-raises")
    import biobench_core
    from biobench_core.contract._registry import PluginError

    with pytest.raises(ImportError, match="biobench-broken 1.0") as err:
        biobench_core.load_backbone("broken/anything")
    assert isinstance(err.value, PluginError)
    assert isinstance(err.value.__cause__, ModuleNotFoundError)
    with pytest.raises(RuntimeError, match="catalogue server on fire"):
        biobench_core.resolve_backbone("raises/x")


def test_two_plugins_in_one_namespace_are_both_refused_naming_both(site, run_cli, cli_json):
    """A namespace belongs to one distribution; a second one claiming it makes both fail, never one win."""
    write_distribution(site, "biobench-twin", {"twin_plugin": TWIN}, {"good": "twin_plugin"}, version="9.9")
    env = {"BIOBENCH_LOAD_PLUGINS": "biobench-good,biobench-twin"}
    report = cli_json("plugins", site=site, env=env)
    [collision] = report["collisions"]
    assert (collision["kind"], collision["id"]) == ("namespace", "good")
    assert collision["plugins"] == ["biobench-good", "biobench-twin"]
    assert {p["status"] for p in report["plugins"]} == {"failed"}
    assert {p["import_seconds"] for p in report["plugins"]} == {None}  # neither is even imported
    proc = run_cli("backbones", site=site, env=env)
    assert proc.returncode == 0
    assert "good/" not in proc.stdout  # never silently picks one
    assert "namespace 'good' is claimed by biobench-good 1.2.3 and biobench-twin 9.9" in proc.stderr
    proc = run_cli("run", "--backbone", "good/alpha", "--task", "good/newt", site=site, env=env)
    assert proc.returncode == 1 and "biobench-good 1.2.3 and biobench-twin 9.9" in proc.stderr


TWIN_ALIAS = """
from biobench_core import BackboneSpec, hookimpl

@hookimpl
def biobench_backbones():
    yield BackboneSpec(id="good/gamma", factory="twin_plugin:x", aliases=("good/beta",))
"""


def test_short_names_and_aliases_of_a_collided_namespace_are_refused(site, run_cli, monkeypatch):
    write_distribution(site, "biobench-twin", {"twin_plugin": TWIN}, {"good": "twin_plugin"}, version="9.9")
    write_distribution(site, "biobench-twinalias", {"twinalias_plugin": TWIN_ALIAS.replace("twin_plugin", "x")},
                       {"good": "twinalias_plugin"}, version="2.0")
    monkeypatch.syspath_prepend(str(site))
    monkeypatch.setenv("BIOBENCH_LOAD_PLUGINS", "biobench-good,biobench-twin,biobench-twinalias")
    import biobench_core
    from biobench_core.contract._catalog import UnknownIdError
    from biobench_core.contract._registry import PluginError

    everyone = "biobench-good 1.2.3 and biobench-twin 9.9 and biobench-twinalias 2.0"
    for name in ("good/alpha", "good/beta", "good/gamma", "good/anything"):  # listed, aliased or resolved ids
        with pytest.raises(PluginError, match=f"namespace 'good' is claimed by {everyone}"):
            biobench_core.resolve_backbone(name)
    for name in ("alpha", "beta", "gamma"):  # short names: unknown, naming the plugins that failed
        with pytest.raises(UnknownIdError, match="failed plugins list nothing: biobench-good 1.2.3, "
                                                 "biobench-twin 9.9, biobench-twinalias 2.0"):
            biobench_core.resolve_backbone(name)
    env = {"BIOBENCH_LOAD_PLUGINS": "biobench-good,biobench-twin"}
    proc = run_cli("run", "--backbone", "alpha", "--task", "newt", site=site, env=env)
    assert proc.returncode == 1 and "biobench-good 1.2.3, biobench-twin 9.9" in proc.stderr, proc.stderr
    proc = run_cli("backbones", "alpha", site=site, env=env)
    assert proc.returncode == 1 and "biobench-good 1.2.3 and biobench-twin 9.9" in proc.stderr, proc.stderr
    assert "Traceback" not in proc.stderr


def test_an_id_or_alias_claimed_twice_is_refused_however_named():
    """The id collision rule (reused by ``plugins validate`` across installed plugins) on one catalogue."""
    from biobench_core import BackboneSpec
    from biobench_core.contract._registry import PluginRecord, _Catalogue

    one, two = PluginRecord("biobench-one", "1.0", "x = one", "x"), PluginRecord("biobench-two", "2.0", "x = two", "x")
    catalogue = _Catalogue("backbone")
    catalogue.add(BackboneSpec(id="x/alpha", factory="m:f", aliases=("x/a",)), one)
    catalogue.add(BackboneSpec(id="x/alpha", factory="m:f"), two)
    catalogue.add(BackboneSpec(id="x/beta", factory="m:f", aliases=("x/a",)), two)
    assert {key: c.message for key, c in catalogue.collisions.items()} == {
        "x/alpha": "backbone id 'x/alpha' is claimed by biobench-one 1.0 and biobench-two 2.0; uninstall one or "
                   "restrict BIOBENCH_LOAD_PLUGINS",
        "x/a": "backbone id 'x/a' is claimed by biobench-one 1.0 and biobench-two 2.0; uninstall one or restrict "
               "BIOBENCH_LOAD_PLUGINS",
    }
    assert catalogue.collision_for("x/a").id == "x/a" and [s.id for s in catalogue.listed()] == ["x/beta"]


BAD_METRIC = """
from biobench_core import TaskSpec, hookimpl

@hookimpl
def biobench_tasks():
    yield TaskSpec(id="badmetric/ok", factory="badmetric_plugin:x", metric="balanced-accuracy")
    yield TaskSpec(id="badmetric/typo", factory="badmetric_plugin:x", metric="accurracy")
"""

OWN_METRIC = """
from biobench_core import TaskSpec, hookimpl

@hookimpl
def biobench_tasks():
    yield TaskSpec(id="ownmetric/t", factory="ownmetric_plugin:x", metric="ownmetric_plugin.metrics:top5")
    yield TaskSpec(id="ownmetric/u", factory="ownmetric_plugin:x", metric="macro-f1")
"""


def test_a_spec_naming_an_unknown_metric_fails_its_plugin_at_discovery(site, run_cli, cli_json, monkeypatch):
    write_distribution(site, "biobench-badmetric", {"badmetric_plugin": BAD_METRIC}, {"badmetric": "badmetric_plugin"})
    write_distribution(site, "biobench-ownmetric", {"ownmetric_plugin": OWN_METRIC}, {"ownmetric": "ownmetric_plugin"})
    env = {"BIOBENCH_LOAD_PLUGINS": "biobench-good,biobench-badmetric,biobench-ownmetric"}
    records = {r["name"]: r for r in cli_json("plugins", site=site, env=env)["plugins"]}
    bad = records["biobench-badmetric"]
    assert bad["status"] == "failed"
    assert "badmetric/typo" in bad["error"] and "accurracy" in bad["error"] and "'accuracy'" in bad["error"]
    assert records["biobench-ownmetric"]["status"] == "ok"  # a module:attr metric is well formed
    assert records["biobench-good"]["status"] == "ok"
    ids = {t["id"] for t in cli_json("tasks", site=site, env=env)}
    assert ids == {"good/newt", "ownmetric/t", "ownmetric/u"}

    monkeypatch.syspath_prepend(str(site))
    monkeypatch.setenv("BIOBENCH_LOAD_PLUGINS", env["BIOBENCH_LOAD_PLUGINS"])
    import biobench_core
    from biobench_core.contract._registry import PluginError

    with pytest.raises(PluginError, match="plugin biobench-badmetric 1.0 .* is failed: .*accurracy"):
        biobench_core.resolve_task("badmetric/typo")

    proc = run_cli("plugins", "validate", "biobench-badmetric", site=site)
    assert proc.returncode == 1
    assert "accurracy" in proc.stdout and "badmetric/typo" in proc.stdout, proc.stdout


def test_strict_mode_turns_any_failure_into_an_error(site, run_cli):
    proc = run_cli("backbones", site=site, env={"BIOBENCH_LOAD_PLUGINS": FAKES, "BIOBENCH_STRICT_PLUGINS": "1"})
    assert proc.returncode == 1
    assert "strict plugin mode" in proc.stderr and "biobench-broken" in proc.stderr
    ok = run_cli("backbones", site=site, env={"BIOBENCH_LOAD_PLUGINS": "biobench-good", "BIOBENCH_STRICT_PLUGINS": "1"})
    assert ok.returncode == 0 and "good/alpha" in ok.stdout


def test_load_plugins_empty_string_loads_none(site, cli_json):
    report = cli_json("plugins", site=site, env={"BIOBENCH_LOAD_PLUGINS": ""})
    assert report["plugins"] == []


def test_plugins_works_when_every_plugin_is_broken(site, run_cli):
    proc = run_cli("plugins", site=site, env={"BIOBENCH_LOAD_PLUGINS": "biobench-broken,biobench-raises"})
    assert proc.returncode == 0
    assert "biobench-broken" in proc.stdout and "failed" in proc.stdout


def test_short_names_aliases_and_suggestions(site, run_cli, monkeypatch):
    monkeypatch.syspath_prepend(str(site))
    monkeypatch.setenv("BIOBENCH_LOAD_PLUGINS", "biobench-good")
    import biobench_core
    from biobench_core.contract._catalog import UnknownIdError

    assert biobench_core.resolve_backbone("alpha").id == "good/alpha"
    assert biobench_core.resolve_backbone("good/beta").id == "good/beta-2"  # alias
    assert biobench_core.resolve_task("newt").id == "good/newt"
    with pytest.raises(UnknownIdError, match="did you mean 'good/alpha'"):
        biobench_core.resolve_backbone("good/alpah")
    with pytest.raises(biobench_core.SpecError, match="malformed"):
        biobench_core.resolve_backbone("good/")
    proc = run_cli("backbones", "good/alpah", site=site, env={"BIOBENCH_LOAD_PLUGINS": "biobench-good"})
    assert proc.returncode == 1 and "did you mean 'good/alpha'" in proc.stderr


def test_ambiguous_short_name_lists_candidates(site, monkeypatch):
    write_distribution(site, "biobench-other", {"other_plugin": GOOD.replace("good", "other")},
                       {"other": "other_plugin"})
    monkeypatch.syspath_prepend(str(site))
    monkeypatch.setenv("BIOBENCH_LOAD_PLUGINS", "biobench-good,biobench-other")
    import biobench_core

    with pytest.raises(biobench_core.UnknownIdError, match="ambiguous: good/alpha, other/alpha"):
        biobench_core.resolve_backbone("alpha")


def test_listing_never_imports_torch_timm_or_open_clip(run_cli):
    code = (
        "import sys\n"
        "from biobench_core.cli._main import main\n"
        "for args in (['backbones'], ['backbones', 'vit_*', '--json'], ['plugins'], ['tasks']):\n"
        "    assert main(args) == 0, args\n"
        "heavy = sorted(m for m in ('torch', 'timm', 'open_clip', 'torchvision') if m in sys.modules)\n"
        "print('HEAVY', heavy, file=sys.stderr)\n"
    )
    import subprocess

    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "HEAVY []" in proc.stderr


def test_in_process_registration_and_bad_usage_exit_code(run_cli):
    from types import SimpleNamespace

    from biobench_core import BackboneSpec, hookimpl
    from biobench_core.contract._registry import Registry

    @hookimpl
    def biobench_backbones():
        return [BackboneSpec(id="local/x", factory="m:f")]

    registry = Registry(entry_points=[])
    record = registry.register(SimpleNamespace(biobench_backbones=biobench_backbones), "local")
    assert record.ok and record.n_backbones == 1
    assert [s.id for s in registry.backbones.listed()] == ["local/x"]
    assert run_cli("backbones", "--no-such-flag").returncode == 2


def test_plugins_json_is_valid_without_any_plugin(run_cli):
    proc = run_cli("plugins", "--json", env={"BIOBENCH_LOAD_PLUGINS": ""})
    assert json.loads(proc.stdout) == {"plugins": [], "collisions": []}


MISSPELLED = """
from biobench_core import BackboneSpec, hookimpl

@hookimpl
def biobench_backbonez():
    yield BackboneSpec(id="typo/net", factory="typo_plugin:x")
"""


def test_a_misspelled_hook_fails_its_plugin_naming_the_hook_and_the_nearest(site, cli_json, run_cli):
    """Issue 18: `biobench_backbonez` was listed as ok with 0 backbones, and validate passed all its checks."""
    write_distribution(site, "biobench-typo", {"typo_plugin": MISSPELLED}, {"typo": "typo_plugin"})
    plugins = {p["name"]: p for p in cli_json("plugins", site=site)["plugins"]}
    typo = plugins["biobench-typo"]
    assert typo["status"] == "failed", typo
    assert "biobench_backbonez" in typo["error"] and "did you mean 'biobench_backbones'" in typo["error"], typo
    assert plugins["biobench-good"]["status"] == "ok"  # the others are untouched
    validate = run_cli("plugins", "validate", "biobench-typo", site=site)
    assert validate.returncode == 1 and "biobench_backbonez" in validate.stdout, validate.stdout


def test_load_plugins_naming_an_uninstalled_distribution_says_so_with_a_suggestion(run_cli):
    """Issue 18: BIOBENCH_LOAD_PLUGINS=biobench-tsks silently loaded nothing."""
    proc = run_cli("tasks", env={"BIOBENCH_LOAD_PLUGINS": "biobench-tsks"})
    [line] = [line for line in proc.stderr.splitlines() if "biobench-tsks" in line]
    assert "not installed" in line and "did you mean 'biobench-tasks'?" in line, proc.stderr
    quiet = run_cli("tasks", env={"BIOBENCH_LOAD_PLUGINS": "biobench-tasks,biobench-core"})
    assert "not installed" not in quiet.stderr, quiet.stderr
