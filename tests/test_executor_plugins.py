"""Executors are plugins: a throwaway third-party executor, installed like any distribution, is listed, checked by
the kit and runs a real ``biobench run --config`` matrix with no core edit; one that fails to import is isolated;
two plugins claiming one kind are both refused naming both; an unknown or missing kind says what to install."""

from __future__ import annotations

import json

import pytest

from biobench_core import ConfigError, load_config
from biobench_core.testing import check_executor, write_distribution

INLINE_HOOKS = '''
from biobench_core import ExecutorSpec, hookimpl

BIOBENCH_CONTRACT = 2

@hookimpl
def biobench_executors():
    yield ExecutorSpec(name="inline", factory="inline_executor.run:InlineExecutor",
                       options="inline_executor.run:InlineOptions", description="workers run inline, one by one")
'''

INLINE_RUN = '''
import dataclasses
import sys

from biobench_core import Worker, executor_option


@dataclasses.dataclass(frozen=True)
class InlineOptions:
    greeting: str = executor_option("hello", "a string", lambda v: isinstance(v, str))


class _Ended:
    def __init__(self, name, error):
        self.name, self._error = name, error

    def done(self):
        return True

    def error(self):
        return self._error

    def cancel(self):
        pass


class InlineExecutor:
    kind = "inline"
    default_workers = 1

    def __init__(self, config, results_dir, env):
        print(f"inline executor says {config.options.greeting}", file=sys.stderr)

    def start(self, jobs):
        handles = []
        for job in jobs:
            summary = Worker(job)()
            handles.append(_Ended(f"inline {job.label}", f"{len(summary['failed'])} failed" if summary["failed"]
                                  else None))
        return handles
'''

BROKEN_HOOKS = '''
import a_module_that_is_not_installed  # the mistake: the whole plugin fails to import

from biobench_core import hookimpl
'''

TWIN_HOOKS = '''
from biobench_core import ExecutorSpec, hookimpl

BIOBENCH_CONTRACT = 2

@hookimpl
def biobench_executors():
    yield ExecutorSpec(name="inline", factory="twin_executor:Nothing")
'''

BAD_SIGNATURE_HOOKS = '''
from biobench_core import ExecutorSpec, hookimpl

BIOBENCH_CONTRACT = 2

class OneArgument:
    def __init__(self, config):
        pass

class NotASchema:
    pass

@hookimpl
def biobench_executors():
    yield ExecutorSpec(name="oneargument", factory="badsig_executor:OneArgument")
    yield ExecutorSpec(name="noschema", factory="inline_executor.run:InlineExecutor",
                       options="badsig_executor:NotASchema")
'''


def _install(site, *names: str) -> str:
    """Install the named throwaway executor distributions into ``site``; their BIOBENCH_LOAD_PLUGINS list."""
    dists = {
        "biobench-inline": ({"inline_executor.__init__": INLINE_HOOKS, "inline_executor.run": INLINE_RUN},
                            {"inline": "inline_executor"}),
        "biobench-gpucloud": ({"gpucloud_executor": BROKEN_HOOKS}, {"gpucloud": "gpucloud_executor"}),
        "biobench-twin": ({"twin_executor": TWIN_HOOKS}, {"twin": "twin_executor"}),
        "biobench-badsig": ({"badsig_executor": BAD_SIGNATURE_HOOKS}, {"badsig": "badsig_executor"}),
    }
    for name in names:
        modules, entry_points = dists[name]
        write_distribution(site, name, modules, entry_points)
    return ",".join(names)


@pytest.fixture
def plugins_here(tmp_path, monkeypatch):
    """``plugins_here(*names)``: install throwaway executors in a folder on this process's path, load only them."""
    site = tmp_path / "executors"

    def install(*names: str) -> None:
        monkeypatch.syspath_prepend(str(site))
        monkeypatch.setenv("BIOBENCH_LOAD_PLUGINS", _install(site, *names))
    return install


def _config(tmp_path, executor: str) -> object:
    path = tmp_path / "run.toml"
    path.write_text(f'[[backbone]]\nid = "a/b"\n\n[[task]]\nid = "t/u"\n\n[executor]\n{executor}\n')
    return path


def test_a_third_party_executor_is_listed_checked_and_runs_a_matrix(scale_matrix, run_cli):
    site = scale_matrix.root / "site"  # already on the matrix's PYTHONPATH
    load = "biobench-scale,biobench-tasks," + _install(site, "biobench-inline")
    listed = json.loads(run_cli("plugins", "--json", site=site, env={"BIOBENCH_LOAD_PLUGINS": load},
                                check=True).stdout)
    [record] = [p for p in listed["plugins"] if p["name"] == "biobench-inline"]
    assert record["status"] == "ok" and record["extensions"] == {"executor": 1}

    config = scale_matrix.config(executor='kind = "inline"\ngreeting = "bonjour"')
    proc = scale_matrix.biobench("run", "--config", str(config), extra_env={"BIOBENCH_LOAD_PLUGINS": load})
    assert proc.returncode == 0, proc.stderr
    assert "inline executor says bonjour" in proc.stderr
    assert "started 1 inline worker(s): inline w1" in proc.stderr
    assert "4 done, 0 failed, 0 left, by 1 inline worker(s)" in proc.stderr
    assert len(scale_matrix.stored()) == len(set(scale_matrix.stored())) == 4

    proc = scale_matrix.biobench("run", "--config", str(config), "--executor", "inlnie",
                                 extra_env={"BIOBENCH_LOAD_PLUGINS": load})
    assert proc.returncode == 2 and "--executor 'inlnie'" in proc.stderr and "did you mean 'inline'" in proc.stderr


def test_the_kit_checks_an_executor_and_its_options_schema(plugins_here):
    plugins_here("biobench-inline", "biobench-badsig")
    report = check_executor("inline").assert_ok()
    assert [c.name for c in report.checks] == ["load", "options", "build", "start"]
    assert "greeting" in report.checks[1].message
    [problem] = check_executor("inline", options={"greting": "hi"}, start=False).problems
    assert problem.name == "options" and "'greting' is not an option of this executor (options: greeting)" in \
        problem.message
    [problem] = check_executor("oneargument").problems
    assert problem.name == "load" and "must take (config, results_dir, env)" in problem.message
    [problem] = check_executor("noschema").problems
    assert problem.name == "options" and "biobench-badsig" in problem.message and "expected a dataclass" in \
        problem.message


def test_an_executor_s_own_keys_are_checked_by_its_schema(tmp_path, plugins_here):
    plugins_here("biobench-inline")
    config = load_config(_config(tmp_path, 'kind = "inline"\ngreeting = "hi"\njobs = 2'))
    assert (config.executor.kind, config.executor.jobs, config.executor.greeting) == ("inline", 2, "hi")
    with pytest.raises(ConfigError, match=r":9: \[executor\]: unknown key 'greting'; did you mean 'greeting'\? "
                                          r"\(expected kind, jobs, devices, store, max_attempts, claim_timeout, "
                                          r"folder, greeting\)"):
        load_config(_config(tmp_path, 'kind = "inline"\ngreting = "hi"'))
    with pytest.raises(ConfigError, match=r":9: \[executor\]: greeting = 3: expected a string"):
        load_config(_config(tmp_path, 'kind = "inline"\ngreeting = 3'))
    with pytest.raises(ConfigError, match=r":8: \[executor\]: kind = 'inlien': expected one of inline, inprocess, "
                                          r"local; did you mean 'inline'\?"):
        load_config(_config(tmp_path, 'kind = "inlien"'))


def test_an_executor_plugin_that_fails_to_import_is_isolated(tmp_path, plugins_here, run_cli):
    plugins_here("biobench-inline", "biobench-gpucloud")
    site = tmp_path / "executors"
    listed = json.loads(run_cli("plugins", "--json", site=site,
                                env={"BIOBENCH_LOAD_PLUGINS": "biobench-inline,biobench-gpucloud"}, check=True).stdout)
    by_name = {p["name"]: p for p in listed["plugins"]}
    assert by_name["biobench-gpucloud"]["status"] == "failed"
    assert "a_module_that_is_not_installed" in by_name["biobench-gpucloud"]["error"]
    assert by_name["biobench-inline"]["status"] == "ok"
    assert load_config(_config(tmp_path, 'kind = "inline"')).executor.kind == "inline"  # the others work
    with pytest.raises(ConfigError) as info:
        load_config(_config(tmp_path, 'kind = "gpucloud"'))
    message = str(info.value)
    assert "kind = 'gpucloud': plugin biobench-gpucloud 1.0" in message and "import failed" in message
    assert "installed executors: inline, inprocess, local" in message


def test_two_plugins_claiming_one_executor_kind_are_both_refused_naming_both(tmp_path, plugins_here, run_cli):
    plugins_here("biobench-inline", "biobench-twin")
    site = tmp_path / "executors"
    listed = json.loads(run_cli("plugins", "--json", site=site,
                                env={"BIOBENCH_LOAD_PLUGINS": "biobench-inline,biobench-twin"}, check=True).stdout)
    [collision] = listed["collisions"]
    assert (collision["kind"], collision["id"]) == ("executor", "inline")
    assert collision["plugins"] == ["biobench-inline", "biobench-twin"]
    with pytest.raises(ConfigError, match="kind = 'inline': executor name 'inline' is claimed by biobench-inline 1.0 "
                                          "and biobench-twin 1.0"):
        load_config(_config(tmp_path, 'kind = "inline"'))
    [problem] = check_executor("inline").problems
    assert "biobench-inline 1.0 and biobench-twin 1.0" in problem.message


@pytest.mark.parametrize(("installed", "says"), [
    (False, "kind = 'slurm': that executor is the biobench-slurm plugin, which is not installed: pip install "
            "biobench-slurm (in a biobench checkout: pip install -e plugins/biobench-slurm); installed executors: "
            "inprocess, local"),
    (True, "kind = 'slurm': biobench-slurm is installed but not loaded: add it to BIOBENCH_LOAD_PLUGINS (now "
           "'biobench-tasks'); installed executors: inprocess, local"),
])
def test_kind_slurm_without_the_slurm_plugin_says_what_to_install(tmp_path, monkeypatch, installed, says):
    from importlib import metadata

    found = metadata.distribution

    def distribution(name: str):
        if name == "biobench-slurm" and not installed:
            raise metadata.PackageNotFoundError(name)
        return found(name) if name != "biobench-slurm" else object()

    monkeypatch.setattr(metadata, "distribution", distribution)
    monkeypatch.setenv("BIOBENCH_LOAD_PLUGINS", "biobench-tasks")
    with pytest.raises(ConfigError) as info:
        load_config(_config(tmp_path, 'kind = "slurm"\npartition = "gpu"'))
    assert str(info.value).endswith(f":8: [executor]: {says}"), str(info.value)
