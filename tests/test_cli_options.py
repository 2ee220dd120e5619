"""`biobench run` options: a flag given on the command line always wins over the config file, bad values and
unknown task settings are refused, naming the flag, key or setting, before any work."""

from __future__ import annotations

import sys
import types

import pytest

from biobench_core.distributions import write_distribution

MARKER = '''
import os
from biobench_core import BackboneSpec, hookimpl

@hookimpl
def biobench_backbones():
    yield BackboneSpec(id="marker/net", factory="marker_backbone.model:build", embed_dim=4, input_size=8)
'''

MARKER_MODEL = '''
import os
open(os.environ["MARKER_FILE"], "a").write("imported\\n")  # the factory module: imported only to build the model

def build(spec, weights=None):
    raise RuntimeError("never built in these tests")
'''


@pytest.fixture
def captured(monkeypatch):
    """Replace the runner with one that records the options ``biobench run`` hands it; returns that record."""
    record: dict = {}

    def run_matrix(backbones, tasks, options, log=None):
        record.update(backbones=backbones, tasks=tasks, options=options)
        return types.SimpleNamespace(done=[], skipped=[], failed=[])

    fake = types.ModuleType("biobench_core.runner")
    fake.RunOptions = lambda **kwargs: types.SimpleNamespace(**kwargs)
    fake.run_matrix = run_matrix
    monkeypatch.setitem(sys.modules, "biobench_core.runner", fake)
    monkeypatch.setenv("BIOBENCH_LOAD_PLUGINS", "biobench-tasks")
    return record


def _config(tmp_path, text: str) -> str:
    path = tmp_path / "c.toml"
    path.write_text(text + '\n[[backbone]]\nid = "x/y"\n\n[[task]]\nid = "tasks/image-folder"\n')
    return str(path)


def test_a_flag_equal_to_its_default_still_overrides_the_config(tmp_path, in_process, captured):
    config = _config(tmp_path, 'dtype = "bf16"\nbatch_size = 64\nworkers = 3\ndevice = "cpu"\n'
                               'on_bad_image = "fail"\nresults = "from-config"')
    proc = in_process("run", "--config", config, "--dtype", "fp32", "--batch-size", "32", "--workers", "1",
                      "--device", "auto", "--on-bad-image", "skip", "--results", "results")
    assert proc.returncode == 0, proc.stderr
    options = captured["options"]
    assert (options.dtype, options.batch_size, options.workers, options.device, options.on_bad_image) == (
        "fp32", 32, 1, "auto", "skip")
    assert str(options.results_dir) == "results"


def test_the_config_fills_what_the_command_line_leaves_out(tmp_path, in_process, captured):
    config = _config(tmp_path, 'dtype = "bf16"\nbatch_size = 64\nlimit = 5')
    proc = in_process("run", "--config", config, "--workers", "0")
    assert proc.returncode == 0, proc.stderr
    options = captured["options"]
    assert (options.dtype, options.batch_size, options.limit, options.workers) == ("bf16", 64, 5, 0)
    assert options.device == "auto" and options.on_bad_image == "skip"  # neither given: the defaults
    assert str(options.results_dir) == "results"


def test_without_a_config_the_defaults_apply(in_process, captured):
    proc = in_process("run", "--backbone", "x/y", "--task", "image-folder")
    assert proc.returncode == 0, proc.stderr
    options = captured["options"]
    assert (options.dtype, options.batch_size, options.workers, options.limit, options.device,
            options.on_bad_image, str(options.results_dir)) == ("fp32", 32, 1, None, "auto", "skip", "results")


@pytest.mark.parametrize(("flag", "value", "expected"), [
    ("--batch-size", "0", "expected an integer >= 1, got 0"),
    ("--workers", "-1", "expected an integer >= 0, got -1"),
    ("--limit", "0", "expected an integer >= 1, got 0"),
    ("--batch-size", "many", "expected an integer >= 1, got 'many'"),
])
def test_a_bad_number_names_its_flag(capsys, captured, flag, value, expected):
    from biobench_core.cli import main

    with pytest.raises(SystemExit) as info:
        main(["run", "--backbone", "x/y", "--task", "image-folder", flag, value])
    assert info.value.code == 2
    assert f"biobench run: error: argument {flag}: {expected}" in capsys.readouterr().err
    assert "options" not in captured


@pytest.mark.parametrize(("line", "message"), [
    ('batch_size = 0', "batch_size = 0: expected an integer >= 1"),
    ('workers = -1', "workers = -1: expected an integer >= 0"),
    ('limit = "5"', "limit = '5': expected an integer >= 1"),
    ('dtype = "bf17"', "dtype = 'bf17': expected one of fp32, bf16, fp16"),
])
def test_a_bad_config_value_names_the_file_and_key(tmp_path, in_process, captured, line, message):
    config = _config(tmp_path, line)
    proc = in_process("run", "--config", config)
    assert proc.returncode == 2
    assert f"c.toml: {message}" in proc.stderr
    assert "options" not in captured


def test_a_flag_wins_even_over_a_bad_config_value(tmp_path, in_process, captured):
    proc = in_process("run", "--config", _config(tmp_path, 'dtype = "bf17"'), "--dtype", "bf16")
    assert proc.returncode == 0, proc.stderr
    assert captured["options"].dtype == "bf16"


def test_help_shows_the_defaults(run_cli):
    proc = run_cli("run", "--help", check=True)
    text = " ".join(proc.stdout.split())
    for default in ("(default: ./results)", "(default: auto)", "(default: fp32;", "(default: 32)", "(default: 1)"):
        assert default in text


# -- task settings: refused before any work ------------------------------------------------------------------


@pytest.fixture
def marker_site(tmp_path, monkeypatch, make_image_folder):
    site = tmp_path / "site"
    write_distribution(site, "biobench-marker", {"marker_backbone.__init__": MARKER,
                                                 "marker_backbone.model": MARKER_MODEL}, {"marker": "marker_backbone"})
    monkeypatch.syspath_prepend(str(site))
    monkeypatch.setenv("BIOBENCH_LOAD_PLUGINS", "biobench-marker,biobench-tasks")
    monkeypatch.setenv("MARKER_FILE", str(tmp_path / "marker.txt"))
    return {"data": make_image_folder(tmp_path / "colours", n_train=2, n_test=1), "results": tmp_path / "results",
            "marker": tmp_path / "marker.txt"}


@pytest.mark.parametrize(("setting", "message"), [
    ("probe=logrg", "tasks/image-folder: setting probe='logrg': expected one of knn, linear, logreg, simpleshot, svm; "
                    "did you mean 'logreg'?"),
    ("prob=knn", "tasks/image-folder: unknown setting 'prob'; did you mean 'probe'? "
                 "(settings of tasks/image-folder: "),
    ("subsett=5", "tasks/image-folder: unknown setting 'subsett' (settings of tasks/image-folder: "),
])
def test_a_bad_task_setting_is_refused_before_any_work(marker_site, in_process, setting, message):
    proc = in_process("run", "--backbone", "marker/net", "--task", "image-folder", "--data",
                      f"image-folder={marker_site['data']}", "--results", str(marker_site["results"]), "--quiet",
                      "--set", setting)
    assert proc.returncode == 2, proc.stderr
    assert f"biobench run: error: {message}" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert not marker_site["marker"].exists()  # the backbone's module was never imported
    assert not (marker_site["results"] / "biobench.sqlite").exists()


def test_a_bad_setting_in_the_config_file_is_refused_too(marker_site, in_process, tmp_path):
    config = tmp_path / "run.toml"
    config.write_text(f'[[backbone]]\nid = "marker/net"\n\n[[task]]\nid = "tasks/image-folder"\n'
                      f'data = "{marker_site["data"]}"\nsettings = {{ probe = "svn" }}\n')
    proc = in_process("run", "--config", str(config), "--results", str(marker_site["results"]), "--quiet")
    assert proc.returncode == 2, proc.stderr
    assert "setting probe='svn': expected one of" in proc.stderr and "did you mean 'svm'?" in proc.stderr
    assert not marker_site["marker"].exists()
