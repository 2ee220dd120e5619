"""``biobench run --config FILE``: the whole file is checked before any work, and each mistake is one message
naming the file, the line, the key and what was expected."""

from __future__ import annotations

from pathlib import Path

import pytest

from biobench_core.scaleout._config import ConfigError, TaskRequest, load_config

GOOD_TAIL = '\n[[backbone]]\nid = "x/y"\n\n[[task]]\nid = "tasks/image-folder"\n'


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "run.toml"
    path.write_text(text)
    return path


def _error(tmp_path: Path, text: str) -> str:
    path = _write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert info.value.exit_code == 2  # the command line's usage error
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith(f"{path}:"), message
    return message[len(str(path)):]


# -- run options at the top of the file --------------------------------------------------------------------------

@pytest.mark.parametrize(("text", "expected"), [
    ('batch_size = "4"', ":1: batch_size = '4': expected an integer >= 1"),
    ('batch_size = 4.5', ":1: batch_size = 4.5: expected an integer >= 1"),
    ('batch_size = true', ":1: batch_size = True: expected an integer >= 1"),
    ('workers = -1', ":1: workers = -1: expected an integer >= 0"),
    ('limit = 0', ":1: limit = 0: expected an integer >= 1"),
    ('dtype = "fp8"', ":1: dtype = 'fp8': expected one of fp32, bf16, fp16"),
    ('device = "tpu"', ":1: device = 'tpu': expected one of auto, cpu, cuda"),
    ('on_bad_image = "ignore"', ":1: on_bad_image = 'ignore': expected one of skip, fail"),
    ('results = 3', ":1: results = 3: expected a folder name"),
    ('# a comment\n\nresults = "r"\ndtyp = "bf16"',
     ":4: unknown key 'dtyp'; did you mean 'dtype'? (expected [[backbone]], [[task]], [executor], batch_size, device, "
     "dtype, limit, on_bad_image, pixel_cache_gb, protocol, results, workers)"),
    ('colour = "red"', ":1: unknown key 'colour' (expected [[backbone]], [[task]], [executor], "),
])
def test_a_bad_run_option_names_line_key_and_expectation(tmp_path, text, expected):
    assert _error(tmp_path, text + "\n" + GOOD_TAIL).startswith(expected)


def test_a_run_option_given_as_a_flag_is_still_checked_in_the_file(tmp_path):
    # Issue 18: the whole file is validated even where a flag wins; a bad value is a mistake the user should see.
    path = _write(tmp_path, 'dtype = "fp8"\nbatch_size = 8' + GOOD_TAIL)
    with pytest.raises(ConfigError, match=r":1: dtype = 'fp8': expected one of fp32, bf16, fp16"):
        load_config(path, overridden={"dtype"})


def test_a_run_option_given_as_a_flag_is_not_taken_from_the_file(tmp_path):
    path = _write(tmp_path, 'dtype = "fp16"\nbatch_size = 8' + GOOD_TAIL)
    assert load_config(path, overridden={"dtype"}).options == {"batch_size": 8}


def test_good_run_options_pass(tmp_path):
    path = _write(tmp_path, 'results = "r"\ndevice = "cpu"\ndtype = "bf16"\nbatch_size = 4\nworkers = 0\nlimit = 3\n'
                            'on_bad_image = "fail"\n' + GOOD_TAIL)
    assert load_config(path).options == {"results": "r", "device": "cpu", "dtype": "bf16", "batch_size": 4,
                                         "workers": 0, "limit": 3, "on_bad_image": "fail"}


# -- [[backbone]] and [[task]] entries -----------------------------------------------------------------------------

TWO_BACKBONES = '''results = "r"

[[backbone]]
id = "a/b"
weights = "random"

[[backbone]]
id = "c/d"
{line}

[[task]]
id = "tasks/image-folder"
'''


@pytest.mark.parametrize(("line", "expected"), [
    ('wieghts = "random"', ":9: [[backbone]] 2: unknown key 'wieghts'; did you mean 'weights'? (expected id, weights, options)"),
    ('colour = "red"', ":9: [[backbone]] 2: unknown key 'colour' (expected id, weights, options)"),
    ('weights = 3', ":9: [[backbone]] 2: weights = 3: expected a string or a non-empty array of strings"),
    ('dtype = "bf16"', ":9: [[backbone]] 2: unknown key 'dtype' (expected id, weights, options); run options such as 'dtype' "
                       "go at the top of the file, before the first [[backbone]] or [[task]]"),
])
def test_a_bad_backbone_key_names_its_own_entry_and_line(tmp_path, line, expected):
    assert _error(tmp_path, TWO_BACKBONES.format(line=line)) == expected


@pytest.mark.parametrize(("text", "expected"), [
    ('[[backbone]]\nid = 3\n', ":2: [[backbone]] 1: id = 3: expected a non-empty string"),
    ('[[backbone]]\nid = ""\n', ":2: [[backbone]] 1: id = '': expected a non-empty string"),
    ('[[backbone]]\nid = "a/b"\n\n[[backbone]]\nweights = "random"\n',
     ":4: [[backbone]] 2: missing key 'id' (expected id, weights, options)"),
    ('[backbone]\nid = "a/b"\n', ":1: backbone must be [[backbone]] tables (an array of tables), not a single table"),
    ('backbone = "a/b"\n', ":1: backbone must be [[backbone]] tables (an array of tables), not a string"),
])
def test_a_bad_backbone_entry(tmp_path, text, expected):
    assert _error(tmp_path, text + '\n[[task]]\nid = "t/u"\n') == expected


TASKS = '''[[backbone]]
id = "a/b"

[[task]]
id = "tasks/one"
settings = { subset = "20" }

[[task]]  # the second
id = "tasks/two"
{line}
'''


@pytest.mark.parametrize(("line", "expected"), [
    ('setings = { subset = "20" }',
     ":10: [[task]] 2: unknown key 'setings'; did you mean 'settings'? (expected id, data, settings)"),
    ('data = 5', ":10: [[task]] 2: data = 5: expected a folder name (a string)"),
    ('settings = "subset=20"', ":10: [[task]] 2: settings = 'subset=20': expected a table, "
                               "e.g. settings = { subset = \"2000\" }"),
    ('settings = { subset = [1, [2]] }',
     ":10: [[task]] 2: settings.subset = [1, [2]]: expected a string, a number, a boolean or a non-empty array of "
     "those"),
    ('settings = { subset = [] }',
     ":10: [[task]] 2: settings.subset = []: expected a string, a number, a boolean or a non-empty array of those"),
    ('id = 7', ":9: [[task]] 2: id = 7: expected a non-empty string"),
])
def test_a_bad_task_key_names_its_own_entry_and_line(tmp_path, line, expected):
    text = TASKS.replace("{line}", line)
    if line.startswith("id ="):
        text = text.replace('id = "tasks/two"\n', "")
    assert _error(tmp_path, text) == expected


def test_a_settings_sub_table_is_located_too(tmp_path):
    text = TASKS.replace("{line}", "") + '\n[task.settings]\nsubset = "20"\nprobe = { name = "knn" }\n'
    assert _error(tmp_path, text) == (":14: [[task]] 2: settings.probe = {'name': 'knn'}: "
                                      "expected a string, a number, a boolean or a non-empty array of those")


def test_a_task_without_id(tmp_path):
    assert _error(tmp_path, '[[backbone]]\nid = "a/b"\n\n[[task]]\ndata = "d"\n') == (
        ":4: [[task]] 1: missing key 'id' (expected id, data, settings)")


def test_a_missing_file_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="config file does not exist"):
        load_config(tmp_path / "nope.toml")


def test_bad_toml_names_the_file_and_line(tmp_path):
    message = _error(tmp_path, 'dtype = "bf16\n')
    assert "line 1" in message


# -- what a good file becomes ------------------------------------------------------------------------------------

def test_a_good_file(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    path = _write(tmp_path, '''
[[backbone]]
id = "a/b"

[[backbone]]
id = "c/d"
weights = "w.safetensors"

[[task]]
id = "tasks/one"
data = "data/one"
settings = { subset = 20, probe = "knn", balanced = true, ratio = 0.5 }

[[task]]
id = "tasks/two"
data = "~/two"

[[task]]
id = "tasks/three"
data = "/abs/three"

[task.settings]
subset = "5"
''')
    config = load_config(path)
    assert config.backbones == [("a/b", None), ("c/d", "w.safetensors")]
    assert config.tasks == [
        TaskRequest("tasks/one", str(tmp_path / "data/one"),
                    (("subset", "20"), ("probe", "knn"), ("balanced", "true"), ("ratio", "0.5"))),
        TaskRequest("tasks/two", str(tmp_path / "home" / "two")),
        TaskRequest("tasks/three", "/abs/three", (("subset", "5"),)),
    ]
    assert config.options == {}


def test_identical_blocks_are_planned_once_with_a_note(tmp_path, in_process):
    """Issue 18: two identical [[task]] (or [[backbone]]) blocks were planned twice."""
    config = tmp_path / "twice.toml"
    block = '[[backbone]]\nid = "timm/resnet10t"\nweights = "random"\n\n'
    task = '[[task]]\nid = "animal-silhouettes"\nsettings = { subset = 100 }\n\n'
    config.write_text(f'results = "{tmp_path / "r"}"\n' + block + block + task + task)
    proc = in_process("plan", "--config", str(config))
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("1 experiments:"), proc.stdout
    notes = [line for line in proc.stderr.splitlines() if "given twice" in line]
    assert len(notes) == 2 and all(str(config) in line for line in notes), proc.stderr
