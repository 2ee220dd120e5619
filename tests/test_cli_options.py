"""`biobench run` options: a flag given on the command line always wins over the config file, bad values and
unknown task settings are refused, naming the flag, key or setting, before any work."""

from __future__ import annotations

import sys
import types

import pytest

from biobench_core.testing._distributions import write_distribution

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

    fake = types.ModuleType("biobench_core.scaleout._runner")
    fake.RunOptions = lambda **kwargs: types.SimpleNamespace(**kwargs)
    fake.run_matrix = run_matrix
    monkeypatch.setitem(sys.modules, "biobench_core.scaleout._runner", fake)
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
            options.on_bad_image, str(options.results_dir)) == ("fp32", None, None, None, "auto", "skip", "results")
    assert options.pixel_cache_gb is None  # None: chosen when the run starts (biobench_core.engine._loader_defaults)


@pytest.mark.parametrize(("flag", "value", "expected"), [
    ("--batch-size", "0", "expected an integer >= 1, got 0"),
    ("--workers", "-1", "expected an integer >= 0, got -1"),
    ("--limit", "0", "expected an integer >= 1, got 0"),
    ("--batch-size", "many", "expected an integer >= 1, got 'many'"),
    ("--pixel-cache-gb", "-2", "expected a number of GiB >= 0, got '-2'"),
    ("--pixel-cache-gb", "lots", "expected a number of GiB >= 0, got 'lots'"),
])
def test_a_bad_number_names_its_flag(capsys, captured, flag, value, expected):
    from biobench_core.cli._main import main

    with pytest.raises(SystemExit) as info:
        main(["run", "--backbone", "x/y", "--task", "image-folder", flag, value])
    assert info.value.code == 2
    assert f"biobench run: error: argument {flag}: {expected}" in capsys.readouterr().err
    assert "options" not in captured


@pytest.mark.parametrize(("line", "message"), [
    ('batch_size = 0', "1: batch_size = 0: expected an integer >= 1"),
    ('workers = -1', "1: workers = -1: expected an integer >= 0"),
    ('limit = "5"', "1: limit = '5': expected an integer >= 1"),
    ('dtype = "bf17"', "1: dtype = 'bf17': expected one of fp32, bf16, fp16"),
    ('batch_size = "4"', "1: batch_size = '4': expected an integer >= 1"),
    ('batch_size = 4.5', "1: batch_size = 4.5: expected an integer >= 1"),
    ('dtype = "fp8"', "1: dtype = 'fp8': expected one of fp32, bf16, fp16"),
    ('pixel_cache_gb = -1', "1: pixel_cache_gb = -1: expected a number of GiB >= 0"),
    ('pixel_cache_gb = "big"', "1: pixel_cache_gb = 'big': expected a number of GiB >= 0"),
    ('device = "tpu"', "1: device = 'tpu': expected one of auto, cpu, cuda"),
    ('on_bad_image = "ignore"', "1: on_bad_image = 'ignore': expected one of skip, fail"),
    ('\n# the dtype\ndtyp = "bf16"', "3: unknown key 'dtyp'; did you mean 'dtype'? (expected [[backbone]], [[task]], "),
    ('[[backbone]]\nid = "a/b"\nwieghts = "random"',
     "3: [[backbone]] 1: unknown key 'wieghts'; did you mean 'weights'? (expected id, weights, options)"),
    ('[[task]]\nid = "tasks/image-folder"\nsetings = { probe = "knn" }',
     "3: [[task]] 1: unknown key 'setings'; did you mean 'settings'? (expected id, data, settings)"),
])
def test_a_bad_config_value_names_the_file_line_and_key(tmp_path, in_process, captured, line, message):
    config = _config(tmp_path, line)
    proc = in_process("run", "--config", config)
    assert proc.returncode == 2
    assert proc.stderr.startswith(f"biobench run: error: {config}:{message}"), proc.stderr
    assert proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr
    assert "options" not in captured


def test_a_config_error_in_a_backbone_is_found_before_the_flags_are_used(tmp_path, in_process, captured):
    config = _config(tmp_path, '[[backbone]]\nid = 3')
    proc = in_process("run", "--config", config, "--backbone", "x/y", "--task", "image-folder")
    assert proc.returncode == 2
    assert f"{config}:2: [[backbone]] 1: id = 3: expected a non-empty string" in proc.stderr
    assert "options" not in captured


@pytest.mark.parametrize(("line", "flags", "message"), [
    ('dtype = "bf17"', ("--dtype", "bf16"), "1: dtype = 'bf17': expected one of fp32, bf16, fp16"),
    ('results = 5', ("--results", "elsewhere"), "1: results = 5: expected a folder name"),
])
def test_a_bad_config_value_is_refused_even_where_a_flag_wins(tmp_path, in_process, captured, line, flags, message):
    # Issue 18: a bad value hidden behind a flag is still a mistake in the file; the whole config is validated.
    config = _config(tmp_path, line)
    proc = in_process("run", "--config", config, *flags)
    assert proc.returncode == 2
    assert proc.stderr.startswith(f"biobench run: error: {config}:{message}"), proc.stderr
    assert "options" not in captured


def test_a_flag_wins_over_a_good_config_value(tmp_path, in_process, captured):
    proc = in_process("run", "--config", _config(tmp_path, 'dtype = "fp16"\nresults = "r"'), "--dtype", "bf16",
                      "--results", "elsewhere")
    assert proc.returncode == 0, proc.stderr
    assert captured["options"].dtype == "bf16" and str(captured["options"].results_dir) == "elsewhere"


def test_help_shows_the_defaults(run_cli):
    proc = run_cli("run", "--help", check=True)
    text = " ".join(proc.stdout.split())
    for default in ("(default: ./results)", "(default: auto)", "(default: fp32;",
                    "(default: chosen for the device: 32 on CPU;", "(default: chosen for the machine: 0 on a CPU",
                    "(default: $BIOBENCH_PIXEL_CACHE_GB or 50)"):
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
    ("probe=logrg", "tasks/image-folder: setting probe='logrg': expected one of adamw-head, knn, linear, logreg, logreg-saga, simpleshot, svm; "
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


# -- weights, device, results and --out: refused in words, before any work ---------------------------------------


@pytest.mark.parametrize(("weights", "keyword"), [("pretraned", "pretrained"), ("Pretrained", "pretrained"),
                                                  ("randon", "random"), ("ranodm", "random")])
def test_a_misspelt_weights_keyword_is_refused_with_a_suggestion(marker_site, in_process, weights, keyword):
    proc = in_process("run", "--backbone", "marker/net", "--weights", weights, "--task", "image-folder", "--data",
                      f"image-folder={marker_site['data']}", "--results", str(marker_site["results"]), "--quiet")
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr == (f"biobench run: error: --weights {weights!r} is neither a file nor a keyword; "
                           f"did you mean {keyword!r}?\n")
    assert not marker_site["marker"].exists()
    assert not marker_site["results"].exists()


def test_a_misspelt_weights_keyword_in_the_config_is_refused_too(marker_site, in_process, tmp_path):
    config = tmp_path / "run.toml"
    config.write_text(f'[[backbone]]\nid = "marker/net"\nweights = "pretraned"\n\n[[task]]\n'
                      f'id = "tasks/image-folder"\ndata = "{marker_site["data"]}"\n')
    proc = in_process("run", "--config", str(config), "--results", str(marker_site["results"]), "--quiet")
    assert proc.returncode == 2, proc.stderr
    assert "'pretraned' is neither a file nor a keyword; did you mean 'pretrained'?" in proc.stderr
    assert not marker_site["marker"].exists()


def test_weights_the_plugin_documents_or_an_existing_file_are_not_refused(tmp_path, monkeypatch):
    from biobench_core.scaleout._runner import check_weights_choice

    for weights in (None, "", "pretrained", "random", "random:seed=3", "hf-hub:org/repo", "pretrained-v2",
                    "laion2b_s34b_b79k", "weights.pt"):
        check_weights_choice(weights)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "pretraned").write_bytes(b"a file by that name")
    check_weights_choice("pretraned")


def test_cuda_without_a_gpu_leaves_no_results_behind(marker_site, in_process, monkeypatch):
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    proc = in_process("run", "--backbone", "marker/net", "--task", "image-folder", "--data",
                      f"image-folder={marker_site['data']}", "--results", str(marker_site["results"]), "--quiet",
                      "--device", "cuda")
    assert proc.returncode == 1
    assert proc.stderr == ("biobench run: error: RuntimeError: --device cuda was asked for, but torch sees no CUDA "
                           "GPU on this machine\n")
    assert not marker_site["results"].exists()
    assert not marker_site["marker"].exists()


def test_results_pointing_at_a_file_is_said_in_words(marker_site, in_process):
    results = marker_site["results"]
    results.write_text("not a folder")
    proc = in_process("run", "--backbone", "marker/net", "--task", "image-folder", "--data",
                      f"image-folder={marker_site['data']}", "--results", str(results), "--quiet")
    assert proc.returncode == 1
    assert proc.stderr.endswith(f"results folder {results} is a file, not a folder: pass --results DIR\n")
    assert "Traceback" not in proc.stderr and "FileExistsError" not in proc.stderr
    assert not marker_site["marker"].exists()
    assert results.read_text() == "not a folder"

    proc = in_process("report", "--results", str(results))
    assert proc.returncode == 1
    assert proc.stderr.count("\n") == 1
    assert f"results folder {results} is a file, not a folder" in proc.stderr


@pytest.mark.parametrize("make", ["parent is a file", "grandparent is a file", "out is a folder"])
def test_report_out_that_cannot_be_a_file_is_said_in_words(tmp_path, in_process, make):
    from biobench_core.results._store import ResultsStore

    ResultsStore(tmp_path / "results").close()
    blocker = tmp_path / "taken"
    if make == "out is a folder":
        blocker.mkdir()
        out, expected = blocker, f"--out {blocker} is a folder; give a file name, e.g. {blocker / 'report.txt'}"
    else:
        blocker.write_text("a file")
        out = blocker / "board.md" if make == "parent is a file" else blocker / "sub" / "board.md"
        expected = f"--out {out}: {blocker} is a file, not a folder"
    proc = in_process("report", "--results", str(tmp_path / "results"), "--out", str(out))
    assert proc.returncode == 2
    assert proc.stderr == f"biobench report: error: {expected}\n"
    assert blocker.exists()


def test_report_out_creates_missing_folders(tmp_path, in_process):
    from biobench_core.results._store import ResultsStore

    ResultsStore(tmp_path / "results").close()
    out = tmp_path / "a" / "b" / "board.csv"
    proc = in_process("report", "--results", str(tmp_path / "results"), "--format", "csv", "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    assert out.exists()


def test_report_out_never_replaces_a_store_and_needs_force_for_a_file_it_did_not_write(tmp_path, in_process):
    """Issue 18: `report --format csv --out r/biobench.sqlite` replaced the results store with a CSV."""
    from biobench_core.results._store import ResultsStore

    results = tmp_path / "r"
    ResultsStore(results).close()
    store = results / "biobench.sqlite"
    before = store.read_bytes()
    proc = in_process("report", "--results", str(results), "--format", "csv", "--out", str(store))
    assert proc.returncode == 2 and str(store) in proc.stderr and "SQLite" in proc.stderr, proc.stderr
    assert store.read_bytes() == before
    proc = in_process("report", "--results", str(results), "--format", "csv", "--out", str(store), "--force")
    assert proc.returncode == 2 and store.read_bytes() == before  # --force never replaces a database

    notes = tmp_path / "notes.md"
    notes.write_text("my own notes\n")
    proc = in_process("report", "--results", str(results), "--out", str(notes))
    assert proc.returncode == 2 and str(notes) in proc.stderr and "--force" in proc.stderr, proc.stderr
    assert notes.read_text() == "my own notes\n"
    assert in_process("report", "--results", str(results), "--out", str(notes), "--force").returncode == 0
    assert notes.read_text() != "my own notes\n"

    board = tmp_path / "board.csv"
    for _ in range(2):  # a report biobench wrote is replaced without --force
        assert in_process("report", "--results", str(results), "--format", "csv", "--out", str(board)).returncode == 0
    board.write_text(board.read_text() + "edited by hand\n")
    assert in_process("report", "--results", str(results), "--format", "csv", "--out", str(board)).returncode == 2
    assert not list(tmp_path.glob("*.tmp*")) and not list(tmp_path.glob(".*tmp*"))  # no temporary file left


@pytest.mark.parametrize("command", ["report", "status", "merge"])
def test_reading_commands_never_create_a_store_on_a_mistyped_path(tmp_path, in_process, command):
    """Issue 18: `merge` on a mistyped path created the folder and an empty store and said "merged 0 result(s)"."""
    missing = tmp_path / "resluts"
    proc = in_process(command, "--results", str(missing))
    assert proc.returncode == 2, (proc.returncode, proc.stderr)
    [line] = proc.stderr.strip().splitlines()
    assert str(missing) in line and "Error:" not in line, line
    assert not missing.exists()


@pytest.mark.parametrize("flags, says", [
    (["--set", "probe=knn", "--set", "probe=simpleshot"], "--set probe is given twice: 'knn' and 'simpleshot'"),
    (["--data", "image-folder=/a", "--data", "image-folder=/b"],
     "--data image-folder is given twice: '/a' and '/b'"),
])
def test_a_conflicting_repeat_is_refused_naming_both_values(tmp_path, in_process, flags, says):
    """Issue 18: the last of two conflicting --set or --data values was kept without a word."""
    proc = in_process("run", "--backbone", "marker/net", "--task", "image-folder", *flags,
                      "--results", str(tmp_path / "results"))
    assert proc.returncode == 2 and says in proc.stderr, proc.stderr
    assert not (tmp_path / "results").exists()
