"""Typed task settings (issue 20): ``Setting(type=..., default=..., minimum=..., choices=...)``.

A value reaches the task converted (an ``int`` setting is an ``int``), with declared defaults filled in; a bad value
is refused in one line naming the task and the setting, before any work; a declaration that contradicts itself is
found. The identity of a result (its settings key and report column) stays the settings as given, so no stored
result changes. Through the real CLI, with a throwaway task plugin.
"""

from __future__ import annotations

import ast
import sqlite3

import pytest

from biobench_core.testing._distributions import write_distribution

TASKS = '''
import sys

from PIL import Image

from biobench_core import BackboneSpec, Example, Setting, Task, TaskSpec, hookimpl


class Visits(Task):
    """Pollinator visits at two sites; ``max_per_site`` caps how many train examples each site keeps."""

    settings_schema = {
        "max_per_site": Setting("at most N train examples per site", type=int, default=3, minimum=1),
        "contrast": Setting("a contrast factor", type=float, default=0.5, minimum=0.0, maximum=1.0),
        "flip": Setting("mirror the images", type=bool, default=False),
        "habitat": Setting("where the sites are", type="choice", choices=("meadow", "forest"), default="meadow"),
        "note": Setting("free text, unchecked"),
    }

    def __init__(self, spec, data=None, settings=None):
        super().__init__(spec, data, settings)
        print(f"typedset settings: {sorted(self.settings.items())!r}", file=sys.stderr)

    def examples(self, split):
        out = []
        for site in ("north", "south"):
            for i in range(4):
                if split == "train" and i + 1 > self.settings["max_per_site"]:  # the comparison of the issue
                    continue
                out.append(Example(id=f"{split}-{site}-{i}", label=i % 2, group=site))
        return out

    def load(self, example):
        shade = 200 if example.label else 40
        return Image.new("RGB", (8, 8), (shade, shade, shade))


class BadDefault(Visits):
    settings_schema = {"max_per_site": Setting("at most N per site", type=int, default=0, minimum=1)}


@hookimpl
def biobench_tasks():
    yield TaskSpec(id="typedset/visits", factory="typedset_pkg:Visits", needs_data=False, protocol="simpleshot")
    yield TaskSpec(id="typedset/bad-default", factory="typedset_pkg:BadDefault", needs_data=False)


@hookimpl
def biobench_backbones():
    yield BackboneSpec(id="typedset/net", factory="typedset_pkg.model:Net", embed_dim=4)
'''

MODEL = '''
import torch
from torchvision import transforms

from biobench_core import EncodedImgBatch, VisionBackbone


class Net(VisionBackbone):
    weights_id = "random:seed=0"

    def __init__(self, spec, weights=None):
        super().__init__()
        torch.manual_seed(0)
        self.net = torch.nn.Conv2d(3, 4, 1)

    def img_encode(self, batch):
        return EncodedImgBatch(self.net(batch).mean(dim=(2, 3)), None)

    def make_img_transform(self):
        return transforms.Compose([transforms.Resize((8, 8)), transforms.ToTensor()])
'''

ENV = {"BIOBENCH_LOAD_PLUGINS": "biobench-typedset"}


@pytest.fixture
def site(tmp_path):
    site = tmp_path / "site"
    write_distribution(site, "biobench-typedset", {"typedset_pkg.__init__": TASKS, "typedset_pkg.model": MODEL},
                       {"typedset": "typedset_pkg"})
    return site


def _settings_seen(stderr: str) -> dict:
    """What the task printed as its ``self.settings`` when it was built."""
    [line] = [line for line in stderr.splitlines() if line.startswith("typedset settings: ")]
    return dict(ast.literal_eval(line.partition(": ")[2]))


def _run(run_cli, site, tmp_path, *sets: str, command: str = "run", task: str = "typedset/visits"):
    return run_cli(command, "--backbone", "typedset/net", "--task", task, "--results", str(tmp_path / "results"),
                   "--workers", "0", *[a for s in sets for a in ("--set", s)], site=site, env=ENV)


def test_an_int_setting_with_a_default_compares_with_a_value_given_on_the_command_line(run_cli, site, tmp_path):
    """The issue's repro: ``--set max_per_site=5`` against an int default gave "TypeError: '<=' not supported"."""
    proc = _run(run_cli, site, tmp_path, "max_per_site=2")
    assert proc.returncode == 0, proc.stderr
    assert _settings_seen(proc.stderr)["max_per_site"] == 2
    with sqlite3.connect(tmp_path / "results" / "biobench.sqlite") as db:
        [(stored,)] = db.execute("SELECT settings FROM experiments").fetchall()
    assert stored == "max_per_site=2,probe=simpleshot,dtype=fp32"  # as given: no default joined the key


def test_values_reach_the_task_converted_with_defaults_filled_in(run_cli, site, tmp_path):
    proc = _run(run_cli, site, tmp_path, "max_per_site=4", "contrast=0.25", "flip=yes", "habitat=forest",
                "note=7", command="plan")
    assert proc.returncode == 0, proc.stderr
    seen = _settings_seen(proc.stderr)
    assert seen == {"max_per_site": 4, "contrast": 0.25, "flip": True, "habitat": "forest", "note": "7", "seed": 0}
    assert all(type(seen[name]) is kind for name, kind in [("max_per_site", int), ("contrast", float),
                                                           ("flip", bool), ("note", str), ("seed", int)])
    defaults = _settings_seen(_run(run_cli, site, tmp_path, command="plan").stderr)
    assert defaults == {"max_per_site": 3, "contrast": 0.5, "flip": False, "habitat": "meadow", "seed": 0}
    # the identity is the settings as given: the defaults are in no key or column
    assert "task  typedset/visits: 6 train, 8 test examples; probe=simpleshot" in \
        _run(run_cli, site, tmp_path, command="plan").stderr


@pytest.mark.parametrize(("value", "seen"), [("YES", True), ("0", False)])  # the rest: test_every_boolean_spelling
def test_a_boolean_given_as_a_word_or_a_digit(run_cli, site, tmp_path, value, seen):
    proc = _run(run_cli, site, tmp_path, f"flip={value}", command="plan")
    assert proc.returncode == 0, proc.stderr
    assert _settings_seen(proc.stderr)["flip"] is seen


@pytest.mark.parametrize(("setting", "expected"), [
    ("max_per_site=abc", "typedset/visits: setting max_per_site='abc': expected an integer >= 1"),
    ("max_per_site=0", "typedset/visits: setting max_per_site='0': expected an integer >= 1"),
    ("contrast=2", "typedset/visits: setting contrast='2': expected a number from 0.0 to 1.0"),
    ("flip=maybe", "typedset/visits: setting flip='maybe': expected true or false (or yes/no, 1/0)"),
    ("habitat=forrest", "typedset/visits: setting habitat='forrest': expected one of meadow, forest; "
                        "did you mean 'forest'?"),
    ("seed=-1", "typedset/visits: setting seed='-1': expected an integer >= 0"),
    ("n_train=many", "typedset/visits: setting n_train='many': expected an integer >= 1"),
])
def test_a_bad_value_is_refused_in_one_line_before_any_work(run_cli, site, tmp_path, setting, expected):
    proc = _run(run_cli, site, tmp_path, setting)
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.strip().splitlines() == [f"biobench run: error: {expected}"]
    assert not (tmp_path / "results").exists()  # nothing was built, extracted or stored


def test_a_declaration_that_contradicts_itself_is_found(run_cli, site, tmp_path):
    proc = _run(run_cli, site, tmp_path, command="plan", task="typedset/bad-default")
    assert proc.returncode == 1, proc.stderr
    assert proc.stderr.strip().splitlines() == [
        "biobench plan: error: typedset/bad-default: setting max_per_site is declared wrongly: default 0 is below "
        "its minimum 1"]


# -- the declaration check itself, as `plugins validate` calls it ----------------------------------------------

@pytest.mark.parametrize(("setting", "problem"), [
    (dict(type=int, default="3"), "default '3' is not an integer"),
    (dict(type=int, default=True), "default True is not an integer"),
    (dict(type=float, default=2.0, maximum=1.0), "default 2.0 is above its maximum 1.0"),
    (dict(type=bool, default="false"), "default 'false' is not true or false"),
    (dict(type="choice", default="x", choices=("a", "b")), "default 'x' is not one of a, b"),
    (dict(type="choice"), "type 'choice' needs choices"),
    (dict(type=list), "type must be int, float, bool, str or 'choice'"),
    (dict(type=str, minimum=1), "minimum and maximum are for an int or float setting"),
    (dict(type=int, minimum=5, maximum=1), "minimum 5 is above its maximum 1"),
    (dict(choices=("a",)), "choices need type='choice'"),
])
def test_check_declaration_names_the_setting_and_the_problem(setting, problem):
    from biobench_core import Setting

    with pytest.raises(TypeError) as info:
        Setting("a setting", **setting).check_declaration("max_per_site")
    assert str(info.value).startswith("setting max_per_site is declared wrongly: ") and problem in str(info.value)


def test_a_good_declaration_passes_and_the_core_settings_are_typed():
    from biobench_core import Setting, Task

    Setting("n", type=int, default=3, minimum=1).check_declaration("n")
    Setting("f", type=float, default=1, minimum=0).check_declaration("f")  # an int default for a float is fine
    Task.check_declarations()
    core = Task.accepted_settings()
    assert (core["n_train"].type, core["n_train"].minimum, core["n_train"].default) == (int, 1, None)
    assert (core["seed"].type, core["seed"].minimum, core["seed"].default) == (int, 0, 0)
    assert (core["class_weight"].type, tuple(core["class_weight"].choice_names())) == ("choice", ("balanced",))
    assert core["probe"].type == "choice" and "logreg" in core["probe"].choice_names()


@pytest.mark.parametrize(("value", "seen"), [("true", True), ("1", True), ("YES", True), (" yes ", True),
                                             ("false", False), ("0", False), ("no", False), ("No", False)])
def test_every_boolean_spelling(value, seen):
    from biobench_core import Setting

    assert Setting("b", type=bool, default=False).convert(value) is seen


def test_check_declarations_names_the_task_and_an_entry_that_is_no_setting():
    from biobench_core import Setting, SettingDeclarationError, Task

    class Plain(Task):
        settings_schema = {"subset": "keep N examples"}

    class Contradicts(Task):
        settings_schema = {"k": Setting("neighbours", type=int, default=0, minimum=1)}

    with pytest.raises(SettingDeclarationError, match=r"^toy/plain: setting subset is declared as 'keep N examples', "
                                                      r"not as Setting\(description, \.\.\.\)$"):
        Plain.check_declarations("toy/plain")
    with pytest.raises(SettingDeclarationError, match=r"^Contradicts: setting k is declared wrongly: default 0 is "
                                                      r"below its minimum 1$"):
        Contradicts.check_declarations()
