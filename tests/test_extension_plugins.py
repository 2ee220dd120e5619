"""Third-party report formats, probes and metrics: a throwaway distribution offering each is listed by
``biobench plugins``, used with no core edit (``biobench report --format NAME``, ``make_probe``) and passes the
kit's checks; one that fails to import is isolated; two claiming one name are both refused, naming both; and a
format no plugin offers gets a "did you mean" with the installed ones."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from biobench_core.testing._distributions import write_distribution

EXTRAS = '''
from biobench_core import MetricSpec, ProbeSpec, ReportFormatSpec, hookimpl

BIOBENCH_CONTRACT = 2


@hookimpl
def biobench_report_formats():
    yield ReportFormatSpec(name="tsv", factory="extras_plugin.code:render_tsv", suffix=".tsv",
                           description="one tab-separated line per result")
    yield ReportFormatSpec(name="tsv16", factory="extras_plugin.code:render_tsv16", suffix=".tsv", binary=True,
                           description="the same, UTF-16 encoded")


@hookimpl
def biobench_probes():
    yield ProbeSpec(name="centroid", factory="extras_plugin.code:CentroidProbe", description="nearest class mean")


@hookimpl
def biobench_metrics():
    yield MetricSpec(name="hit-rate", factory="extras_plugin.code:hit_rate", decomposes=True,
                     replicates="extras_plugin.code:hit_rate_replicates", description="share of hits")
'''

EXTRAS_CODE = '''
import numpy as np


def render_tsv(board, options):
    lines = ["backbone\\tweights\\tcolumn\\tscore"]
    lines += [f"{c.backbone}\\t{c.weights}\\t{c.column}\\t{c.score:.4f}" for c in board.cells]
    return "\\n".join(lines) + "\\n"


def render_tsv16(board, options):
    return render_tsv(board, options).encode("utf-16")


class CentroidProbe:
    def __init__(self, device="cpu", seed=0):
        self.device = device

    def fit(self, X, y):
        self.classes_ = np.unique(y)
        self.means_ = np.stack([np.asarray(X)[y == c].mean(axis=0) for c in self.classes_])
        return self

    def predict(self, X):
        distances = ((np.asarray(X)[:, None, :] - self.means_[None]) ** 2).sum(axis=2)
        return self.classes_[distances.argmin(axis=1)]

    def describe(self):
        return {"probe": "centroid", "n_classes": int(len(self.classes_))}


def hit_rate(y_true, y_pred):
    return float(np.mean(np.asarray(y_true) == np.asarray(y_pred)))


def hit_rate_replicates(y_true, y_pred, weights):
    hits = (np.asarray(y_true) == np.asarray(y_pred)).astype(float)
    return weights @ hits / weights.sum(axis=1)
'''

BROKEN = '''
import biobench_no_such_module  # the import fails: this plugin is isolated

from biobench_core import ReportFormatSpec, hookimpl

@hookimpl
def biobench_report_formats():
    yield ReportFormatSpec(name="html", factory="broken_format:render")
'''

TWIN = '''
from biobench_core import ProbeSpec, ReportFormatSpec, hookimpl

@hookimpl
def biobench_report_formats():
    yield ReportFormatSpec(name="tsv", factory="twin_plugin:render")
    yield ReportFormatSpec(name="yaml", factory="twin_plugin:render")

@hookimpl
def biobench_probes():
    yield ProbeSpec(name="centroid", factory="twin_plugin:Probe")
'''

BAD = '''
import itertools

import numpy as np

from biobench_core import MetricSpec, ProbeSpec, ReportFormatSpec, hookimpl

_calls = itertools.count()


@hookimpl
def biobench_report_formats():
    yield ReportFormatSpec(name="counter", factory="bad_plugin:render_counter")
    yield ReportFormatSpec(name="claims-binary", factory="bad_plugin:render_text", binary=True)


@hookimpl
def biobench_probes():
    yield ProbeSpec(name="indices", factory="bad_plugin:IndexProbe")


@hookimpl
def biobench_metrics():
    yield MetricSpec(name="first-hit", factory="bad_plugin:first_hit")
    yield MetricSpec(name="bad-replicates", factory="bad_plugin:hits", replicates="bad_plugin:wrong_replicates")


def render_counter(board, options):  # not deterministic
    return f"render number {next(_calls)}\\n"


def render_text(board, options):  # declares bytes, returns text
    return "text\\n"


class IndexProbe:  # predicts class indices 0..k-1, not the labels
    def __init__(self, device="cpu", seed=0):
        pass

    def fit(self, X, y):
        self.k = len(np.unique(y))
        return self

    def predict(self, X):
        return np.zeros(len(X), dtype=np.int64)

    def describe(self):
        return {"k": self.k}


def first_hit(y_true, y_pred):  # depends on the examples' order
    return float(y_true[0] == y_pred[0])


def hits(y_true, y_pred):
    return float(np.sum(np.asarray(y_true) == np.asarray(y_pred)))


def wrong_replicates(y_true, y_pred, weights):
    return np.zeros(weights.shape[0])
'''

ENV = {"BIOBENCH_LOAD_PLUGINS": "biobench-extras"}


@pytest.fixture
def site(tmp_path):
    site = tmp_path / "site"
    write_distribution(site, "biobench-extras", {"extras_plugin.__init__": EXTRAS, "extras_plugin.code": EXTRAS_CODE},
                       {"extras": "extras_plugin"})
    write_distribution(site, "biobench-brokenformat", {"broken_format": BROKEN}, {"brokenformat": "broken_format"})
    write_distribution(site, "biobench-twinformat", {"twin_plugin": TWIN}, {"twin": "twin_plugin"}, version="2.0")
    write_distribution(site, "biobench-bad", {"bad_plugin": BAD}, {"bad": "bad_plugin"})
    return site


@pytest.fixture
def results(tmp_path):
    """A results store holding the kit's synthetic results (three backbones, two tasks)."""
    from biobench_core.results._store import ResultsStore
    from biobench_core.testing._format import sample_records

    path = tmp_path / "results"
    with ResultsStore(path) as store:
        for record in sample_records():
            store.save(record)
    return path


def test_a_third_party_format_probe_and_metric_are_listed_with_their_plugin(site, run_cli, cli_json):
    report = cli_json("plugins", site=site, env=ENV)
    [extras] = report["plugins"]
    assert (extras["name"], extras["status"]) == ("biobench-extras", "ok")
    assert (extras["formats"], extras["probes"], extras["metrics"]) == (["tsv", "tsv16"], ["centroid"], ["hit-rate"])
    assert extras["extensions"] == {"report format": 2, "probe": 1, "metric": 1}
    table = run_cli("plugins", site=site, env={"BIOBENCH_LOAD_PLUGINS": "biobench-core,biobench-extras"},
                    check=True).stdout
    assert "core = <built-in>" in table  # the built-in plugin is shown when unrestricted or named
    [row] = [line for line in table.splitlines() if line.split()[:3] == ["report", "format", "tsv"]]
    assert "biobench-extras 1.0" in row and "one tab-separated line per result" in row
    formats = cli_json("plugins", "--kind", "formats", site=site, env=ENV)
    assert {f["name"]: f["plugin"] for f in formats} == {"csv": "biobench-core", "json": "biobench-core",
                                                         "html": "biobench-core", "latex": "biobench-core",
                                                         "markdown": "biobench-core", "table": "biobench-core",
                                                         "tsv": "biobench-extras", "tsv16": "biobench-extras"}


def test_report_uses_a_third_party_format_with_no_core_edit(site, results, tmp_path, run_cli):
    proc = run_cli("report", "--results", str(results), "--format", "tsv", site=site, env=ENV, check=True)
    lines = proc.stdout.splitlines()
    assert lines[0] == "backbone\tweights\tcolumn\tscore" and len(lines) == 1 + 5
    assert any(line.startswith("kit/alpha\tpretrained\tkit/f1\t") for line in lines)
    out = tmp_path / "board" / "report.tsv"
    run_cli("report", "--results", str(results), "--format", "tsv16", "--out", str(out), site=site, env=ENV,
            check=True)
    assert out.read_bytes().decode("utf-16") == proc.stdout  # a binary format's bytes, written as they are
    env = {**os.environ, **ENV, "PYTHONPATH": os.pathsep.join([str(site), os.environ.get("PYTHONPATH", "")])}
    binary = subprocess.run([sys.executable, "-m", "biobench_core.cli", "report", "--results", str(results),
                             "--format", "tsv16"], capture_output=True, env=env, timeout=120)
    assert binary.returncode == 0 and binary.stdout == out.read_bytes()  # raw bytes on stdout, not text


def test_a_third_party_format_probe_and_metric_pass_the_kit(site, tmp_path, monkeypatch, run_cli):
    monkeypatch.syspath_prepend(str(site))
    monkeypatch.setenv("BIOBENCH_LOAD_PLUGINS", "biobench-extras")
    from biobench_core import make_probe
    from biobench_core.testing import check_format, check_metric, check_probe

    for name in ("tsv", "tsv16"):
        check_format(name).assert_ok()
    check_probe("centroid").assert_ok()
    check_metric("hit-rate").assert_ok()
    assert type(make_probe("centroid")).__name__ == "CentroidProbe"

    alone = tmp_path / "alone"  # validate checks against every installed plugin: leave out the twin
    write_distribution(alone, "biobench-extras", {"extras_plugin.__init__": EXTRAS, "extras_plugin.code": EXTRAS_CODE},
                       {"extras": "extras_plugin"})
    proc = run_cli("plugins", "validate", "biobench-extras", site=alone)
    assert proc.returncode == 0, proc.stdout
    for subject in ("report format tsv", "report format tsv16", "probe centroid (version 1)",
                    "metric hit-rate (version 1)"):
        assert f"{subject}: all " in proc.stdout, proc.stdout
    assert "1 report format(s)" not in proc.stdout and "2 report format(s)" in proc.stdout


def test_the_kit_names_what_a_bad_format_probe_or_metric_gets_wrong(site, monkeypatch, run_cli):
    monkeypatch.syspath_prepend(str(site))
    monkeypatch.setenv("BIOBENCH_LOAD_PLUGINS", "biobench-bad")
    from biobench_core.testing import check_format, check_metric, check_probe

    def failed(report):
        return {check.name: check.message for check in report.problems}

    assert "rendering the same board twice" in failed(check_format("counter"))["deterministic"]
    assert "binary=True" in failed(check_format("claims-binary"))["render"]
    assert "must be training labels [3, 7, 42]" in failed(check_probe("indices"))["labels"]
    assert "shuffling the examples changes the value" in failed(check_metric("first-hit"))["order-free"]
    assert "replicates differ from the function" in failed(check_metric("bad-replicates"))["replicates"]
    proc = run_cli("plugins", "validate", "biobench-bad", site=site)
    assert proc.returncode == 1 and "FAIL  deterministic" in proc.stdout, proc.stdout


def test_a_format_plugin_that_fails_to_import_is_isolated_and_named(site, results, run_cli, cli_json):
    env = {"BIOBENCH_LOAD_PLUGINS": "biobench-brokenformat,biobench-extras"}
    by_name = {p["name"]: p for p in cli_json("plugins", site=site, env=env)["plugins"]}
    broken = by_name["biobench-brokenformat"]
    assert broken["status"] == "failed" and "biobench_no_such_module" in broken["error"]
    assert broken["formats"] == [] and by_name["biobench-extras"]["formats"] == ["tsv", "tsv16"]
    table = run_cli("plugins", site=site, env=env, check=True).stdout
    assert "biobench-brokenformat" in table and "import failed" in table
    for fmt in ("tsv", "table"):
        assert run_cli("report", "--results", str(results), "--format", fmt, site=site, env=env).returncode == 0


def test_two_plugins_claiming_one_format_or_probe_name_are_both_refused_naming_both(site, results, run_cli,
                                                                                     cli_json, monkeypatch):
    env = {"BIOBENCH_LOAD_PLUGINS": "biobench-extras,biobench-twinformat"}
    report = cli_json("plugins", site=site, env=env)
    collisions = {(c["kind"], c["id"]): c["plugins"] for c in report["collisions"]}
    both = ["biobench-extras", "biobench-twinformat"]
    assert collisions == {("report format", "tsv"): both, ("probe", "centroid"): both}
    by_name = {p["name"]: p for p in report["plugins"]}
    assert by_name["biobench-extras"]["formats"] == ["tsv16"] and by_name["biobench-twinformat"]["formats"] == ["yaml"]
    assert by_name["biobench-extras"]["probes"] == [] and by_name["biobench-twinformat"]["probes"] == []
    proc = run_cli("report", "--results", str(results), "--format", "tsv", site=site, env=env)
    assert proc.returncode == 1
    assert ("report format name 'tsv' is claimed by biobench-extras 1.0 and biobench-twinformat 2.0"
            in proc.stderr.strip().splitlines()[-1]), proc.stderr

    monkeypatch.syspath_prepend(str(site))
    monkeypatch.setenv("BIOBENCH_LOAD_PLUGINS", env["BIOBENCH_LOAD_PLUGINS"])
    from biobench_core import PluginError, make_probe

    with pytest.raises(PluginError, match="probe name 'centroid' is claimed by biobench-extras 1.0 and "
                                          "biobench-twinformat 2.0"):
        make_probe("centroid")


def test_a_format_no_plugin_offers_gets_did_you_mean_and_the_installed_ones(site, results, run_cli):
    proc = run_cli("report", "--results", str(results), "--format", "tvs", site=site, env=ENV)
    assert proc.returncode == 2 and proc.stdout == ""
    [line] = proc.stderr.strip().splitlines()
    assert line.startswith("biobench report: error: --format: unknown report format 'tvs'")
    assert "did you mean 'tsv'?" in line and "csv, html, json, latex, markdown, table, tsv, tsv16" in line, line
    proc = run_cli("report", "--results", str(results), "--format", "nothing-like-it", site=site, env=ENV)
    assert proc.returncode == 2 and "did you mean" not in proc.stderr and "tsv16" in proc.stderr


def test_the_built_in_plugin_is_listed_apart_with_everything_it_offers(cli_json, run_cli):
    report = cli_json("plugins", env={"BIOBENCH_LOAD_PLUGINS": "biobench-core"})
    core = report["builtin"]
    assert report["plugins"] == []  # the installed (entry-point) plugins: none loaded
    assert (core["name"], core["namespace"], core["status"]) == ("biobench-core", "core", "ok")
    assert core["formats"] == ["csv", "html", "json", "latex", "markdown", "table"]
    assert {"accuracy", "macro-f1"} <= set(core["metrics"]) and {"logreg", "knn"} <= set(core["probes"])
    assert {"inprocess", "local"} <= set(core["executors"])
    everything = cli_json("plugins")
    assert everything["builtin"]["name"] == "biobench-core" and "biobench-core" not in {
        p["name"] for p in everything["plugins"]} and everything["plugins"]
    table = run_cli("plugins", check=True).stdout.splitlines()
    assert table[2].startswith("biobench-core") and "core = <built-in>" in table[2], table[:3]
