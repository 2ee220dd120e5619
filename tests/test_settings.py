"""Task settings: a task declares the settings it accepts, and anything else is refused before any work."""

from __future__ import annotations

import sys

import pytest

from biobench_core.contract._specs import TaskSpec
from biobench_core.contract._tasks import Example, Setting, SettingsError, Task, TaskDataError, positive_int

SPEC = TaskSpec(id="toy/shapes", factory="unused:Shapes", needs_data=False)


class Shapes(Task):
    settings_schema = {"subset": Setting("keep N train examples", check=positive_int),
                       "colour": Setting("any colour name")}

    def examples(self, split):
        return [Example(id=f"{split}-{i}", label=i % 2) for i in range(4)]


class NoProbe(Shapes):
    """A task whose evaluate() ignores the probe withdraws the inherited setting."""

    settings_schema = {"probe": None}


def test_declared_settings_merge_along_the_class_hierarchy():
    base = {"probe", "n_train", "seed", "class_weight"}  # class_weight: issue 19, a probe setting every task accepts
    assert set(Task.accepted_settings()) == base
    assert set(Shapes.accepted_settings()) == base | {"subset", "colour"}
    assert set(NoProbe.accepted_settings()) == {"n_train", "seed", "class_weight", "subset", "colour"}
    task = Shapes(SPEC, settings={"subset": "3", "colour": "teal", "probe": "knn"})
    assert task.given_settings == {"subset": "3", "colour": "teal", "probe": "knn"}
    assert task.settings == {"subset": "3", "colour": "teal", "probe": "knn", "seed": 0}  # issue 20: defaults filled
    assert task.probe == "knn"
    assert task.settings_key() == "colour=teal,probe=knn,subset=3"


def test_an_unknown_setting_is_refused_with_did_you_mean_and_the_valid_names():
    with pytest.raises(SettingsError) as info:
        Shapes(SPEC, settings={"subsett": "5"})
    message = str(info.value)
    assert "toy/shapes" in message and "'subsett'" in message
    assert "did you mean 'subset'?" in message
    assert "colour, n_train, probe, seed, subset" in message
    assert "\n" not in message
    with pytest.raises(SettingsError, match="unknown setting 'probe'"):
        NoProbe(SPEC, settings={"probe": "knn"})


def test_the_base_task_accepts_only_probe_n_train_seed_and_class_weight():
    with pytest.raises(SettingsError, match=r"unknown setting 'subset' \(settings of toy/shapes: class_weight, n_train, "
                                            r"probe, seed\)"):
        Task(SPEC, settings={"subset": "5"})


@pytest.mark.parametrize(("settings", "expected"), [
    ({"subset": "0"}, "subset='0': expected an integer >= 1"),
    ({"subset": "ten"}, "subset='ten': expected an integer >= 1"),
    ({"probe": "logrg"}, "probe='logrg': expected one of adamw-head, knn, linear, logreg, logreg-saga, simpleshot, svm; "
                         "did you mean 'logreg'?"),
])
def test_a_bad_value_names_the_setting_and_what_is_expected(settings, expected):
    with pytest.raises(SettingsError) as info:
        Shapes(SPEC, settings=settings)
    assert str(info.value) == f"toy/shapes: setting {expected}"


def test_probe_aliases_are_accepted():
    assert Shapes(SPEC, settings={"probe": "linear"}).probe == "linear"


def test_settings_error_is_a_one_line_usage_error():
    from biobench_core.contract._errors import one_line

    assert issubclass(SettingsError, TaskDataError)  # callers catching data errors still catch it
    error = SettingsError("toy/shapes: unknown setting 'x'")
    assert one_line(error) == "toy/shapes: unknown setting 'x'"  # no type-name prefix: the message is complete
    assert SettingsError.exit_code == 2


def test_settings_are_checked_before_the_subclass_reads_data(tmp_path):
    reads = []

    class Folder(Task):
        def __init__(self, spec, data=None, settings=None):
            super().__init__(spec, data, settings)
            reads.append(self.data)  # where a real task would scan its folder

    spec = TaskSpec(id="toy/folder", factory="unused:Folder", needs_data=True)
    with pytest.raises(SettingsError):
        Folder(spec, tmp_path, {"prob": "knn"})
    assert reads == []
    # and a setting error wins over a missing folder: the cheaper mistake is reported first
    with pytest.raises(SettingsError, match="did you mean 'probe'"):
        Folder(spec, None, {"prob": "knn"})


KIT_TASKS = '''
from PIL import Image

from biobench_core import TaskSpec, hookimpl
from biobench_core.contract._tasks import Example, Setting, Task


class Declared(Task):
    settings_schema = {"subset": Setting("keep N examples")}

    def examples(self, split):
        return [Example(id=f"{split}-{i}", label=i % 2) for i in range(6 if split == "train" else 4)]

    def load(self, example):
        return Image.new("RGB", (8, 8), (int(example.id[-1]) * 20, 0, 0))


class Swallows(Declared):
    """Reads settings itself and never hands them to Task.__init__: a typo would pass unnoticed."""

    def __init__(self, spec, data=None, settings=None):
        super().__init__(spec, data)
        self.settings = dict(settings or {})


class BadSchema(Declared):
    settings_schema = {"subset": "keep N examples"}


@hookimpl
def biobench_tasks():
    for name in ("Declared", "Swallows", "BadSchema"):
        yield TaskSpec(id=f"kitset/{name}", factory=f"kitset_tasks:{name}", needs_data=False)
'''


@pytest.fixture
def kit_registry(tmp_path, monkeypatch):
    import importlib

    from biobench_core.testing import isolated_registry, use_registry

    (tmp_path / "kitset_tasks.py").write_text(KIT_TASKS)
    monkeypatch.syspath_prepend(str(tmp_path))
    registry = isolated_registry()
    registry.register(importlib.import_module("kitset_tasks"), "kitset")
    with use_registry(registry):
        yield registry
    sys.modules.pop("kitset_tasks", None)


def _settings_check(report):
    return [(c.status, c.message) for c in report.checks if c.name == "settings"]


def test_check_task_checks_the_declared_settings(kit_registry):
    from biobench_core.testing import check_task

    report = check_task("kitset/Declared", settings={"subset": "3"}, evaluate=False)
    assert report.ok and _settings_check(report) == [], report.format()
    assert "settings class_weight, n_train, probe, seed, subset, an unknown one refused" in report.format()
    swallows = check_task("kitset/Swallows", evaluate=False)
    assert [status for status, _ in _settings_check(swallows)] == ["fail"]
    assert "accepted silently" in _settings_check(swallows)[0][1]
    bad = check_task("kitset/BadSchema", evaluate=False)
    assert any(status == "fail" and "['subset']" in detail for status, detail in _settings_check(bad)), bad.format()
