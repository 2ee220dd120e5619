"""Errors that blame the real culprit, before any extraction (issue 20, item 5), through the real command line.

A throwaway task plugin (``biobench-culprit``) offers one task per mistake a task author makes: duplicate example
ids, an id in both splits, a label that is no int, a test label no training example has, a ``load()`` that returns
a numpy array, a subclass that forgot ``super().__init__``. Each is run with the kit's ``scale/net`` backbone
(:class:`~biobench_core.testing.ScaleMatrix`) and must fail with one line naming the task (and, for data, the split
and the first offending example), not with a store constraint, a ``ValueError`` from ``int()`` after extraction,
per-image "cannot decode image" warnings or an ``AttributeError``. A plugin that fails at import is named on the
last line of ``biobench tasks``.
"""

from __future__ import annotations

import sys

import pytest

from biobench_core.testing import ScaleMatrix, cli_in_process, write_distribution

HOOKS = '''
from biobench_core import TaskSpec, hookimpl

TASKS = {"fine": "Fine", "dup": "Duplicate", "both": "InBothSplits", "word": "WordLabel", "digit": "DigitLabel",
         "flag": "FlagLabel", "unseen": "UnseenInTest", "openset": "OpenSet", "loo": "LeaveOneOut",
         "npstr": "NumpyStrLabel", "npint": "NumpyIntLabel", "ndarray": "ArrayLoad", "nosuper": "NoSuper",
         "late": "LateSuper"}


@hookimpl
def biobench_tasks():
    for name, cls in TASKS.items():
        yield TaskSpec(id=f"culprit/{name}", factory=f"culprit_tasks.code:{cls}", needs_data=False,
                       protocol="simpleshot")
'''

CODE = '''
import numpy as np
from PIL import Image

from biobench_core import Example, Task


class Fine(Task):
    """bee_00..bee_05 in train, bee_10..bee_13 in test; labels 0 and 1 in both."""

    def examples(self, split):
        base = 0 if split == "train" else 10
        return [Example(f"bee_{base + i:02d}", self.label(split, i)) for i in range(6 if split == "train" else 4)]

    def label(self, split, i):
        return i % 2

    def load(self, example):
        return Image.new("RGB", (8, 8), (20 * int(example.id[-1]), 40, 0))


class Duplicate(Fine):
    def examples(self, split):
        examples = super().examples(split)
        return examples + [examples[2]] if split == "test" else examples


class InBothSplits(Fine):
    def examples(self, split):
        examples = super().examples(split)
        return [Example("bee_03", 1)] + examples[1:] if split == "test" else examples


class WordLabel(Fine):
    def label(self, split, i):
        return "bee" if (split, i) == ("test", 1) else i % 2


class DigitLabel(Fine):
    def label(self, split, i):
        return "0" if (split, i) == ("test", 2) else i % 2


class FlagLabel(Fine):
    def label(self, split, i):
        return bool(i % 2) if split == "train" else i % 2


class NumpyStrLabel(Fine):
    def label(self, split, i):
        return np.array(["0", "1"])[i % 2] if split == "train" else i % 2


class NumpyIntLabel(Fine):
    def label(self, split, i):
        return np.int64(i % 2)


class UnseenInTest(Fine):
    def label(self, split, i):
        return 7 if (split, i) == ("test", 3) else i % 2


class OpenSet(UnseenInTest):
    open_set = True


class LeaveOneOut(Fine):
    leave_one_out = True

    def examples(self, split):
        return super().examples("train")


class ArrayLoad(Fine):
    def load(self, example):
        return np.asarray(super().load(example))


class NoSuper(Fine):
    def __init__(self, spec, data=None, settings=None):
        self.rows = 10  # and never calls Task.__init__


class LateSuper(Fine):
    def __init__(self, spec, data=None, settings=None):
        self.limit = int(self.settings.get("n_train", 6))  # read before Task.__init__ set it
        super().__init__(spec, data, settings)
'''

BROKEN = "raise ImportError('No module named pandaz')\n"


@pytest.fixture(scope="module")
def matrix(tmp_path_factory):
    """The plugins, installed under ``root/site``, and the environment that loads them, set in this process."""
    root = tmp_path_factory.mktemp("culprit")
    matrix = ScaleMatrix.create(root, load_plugins=["biobench-culprit", "biobench-broken"])
    write_distribution(root / "site", "biobench-culprit", {"culprit_tasks.__init__": HOOKS, "culprit_tasks.code": CODE},
                       {"culprit": "culprit_tasks"})
    write_distribution(root / "site", "biobench-broken", {"broken_tasks": BROKEN}, {"broken": "broken_tasks"},
                       version="0.3")
    with pytest.MonkeyPatch.context() as patch:
        for key, value in matrix.env.items():
            patch.setenv(key, value)
        patch.syspath_prepend(str(root / "site"))
        yield matrix
    for name in ("culprit_tasks", "culprit_tasks.code", "broken_tasks", "scale_backbone", "scale_backbone.model"):
        sys.modules.pop(name, None)


def _run(matrix, task, *extra):
    return cli_in_process("run", "--backbone", "scale/net", "--task", f"culprit/{task}", "--results",
                          str(matrix.root / f"results-{task}"), "--device", "cpu", "--workers", "0", "--quiet", *extra)


def _error_line(proc) -> str:
    lines = proc.stderr.strip().splitlines()
    assert "Traceback" not in proc.stderr, proc.stderr
    return lines[-1] if lines else ""


@pytest.mark.parametrize(("task", "message"), [
    ("dup", "culprit/dup: test example 'bee_12' appears twice in the test split (example ids must be unique)"),
    ("both", "culprit/both: test example 'bee_03' is in the train split too (train and test must not share ids; "
             "a task scoring each example against the others declares leave_one_out = True)"),
    ("word", "culprit/word: test example 'bee_11' has label 'bee' (str); labels must be ints (class indices)"),
    ("digit", "culprit/digit: test example 'bee_12' has label '0' (str); labels must be ints (class indices)"),
    ("flag", "culprit/flag: train example 'bee_00' has label False (bool); labels must be ints (class indices)"),
    ("npstr", "culprit/npstr: train example 'bee_00' has label '0' (numpy.str_); labels must be ints "
              "(class indices)"),
    ("unseen", "culprit/unseen: test example 'bee_13' has label 7, which no train example has (a task whose test "
               "classes may be missing from train declares open_set = True)"),
])
def test_bad_examples_are_one_line_naming_task_split_and_example_before_extraction(matrix, task, message):
    proc = _run(matrix, task)
    assert proc.returncode == 2, proc.stderr
    assert _error_line(proc) == f"biobench run: error: {message}"
    assert not (matrix.root / f"results-{task}").exists()  # refused while planning: no store, no extraction


def test_data_check_refuses_the_same_examples(matrix):
    proc = cli_in_process("data", "check", "culprit/both", str(matrix.root))
    assert proc.returncode == 2, proc.stderr
    assert _error_line(proc) == ("biobench data: error: culprit/both: test example 'bee_03' is in the train split too "
                                 "(train and test must not share ids; a task scoring each example against the others "
                                 "declares leave_one_out = True)")


@pytest.mark.parametrize("task", ["fine", "npint", "openset", "loo"])
def test_declared_exceptions_run(matrix, task):
    proc = _run(matrix, task)
    assert proc.returncode == 0, proc.stderr
    assert "done  scale/net" in proc.stderr


def test_a_load_returning_no_image_names_the_tasks_load_once(matrix):
    proc = _run(matrix, "ndarray")
    assert proc.returncode == 1, proc.stderr
    assert "cannot decode image" not in proc.stderr and "warning" not in proc.stderr, proc.stderr
    fails = [line for line in proc.stderr.splitlines() if line.startswith("FAIL")]
    assert len(fails) == 1, proc.stderr
    assert fails[0].endswith("culprit/ndarray: ArrayLoad.load() returned numpy.ndarray for example 'bee_00', "
                             "expected a PIL image or a list of PIL images (frames)"), fails[0]
    assert proc.stderr.count("numpy.ndarray") == 1


def test_a_load_returning_no_image_fails_in_dataloader_workers_too(matrix):
    proc = _run(matrix, "ndarray", "--workers", "1")
    assert proc.returncode == 1, proc.stderr
    fails = [line for line in proc.stderr.splitlines() if line.startswith("FAIL")]
    assert len(fails) == 1 and "ArrayLoad.load() returned numpy.ndarray for example 'bee_00'" in fails[0], proc.stderr
    assert "cannot decode image" not in proc.stderr


@pytest.mark.parametrize(("task", "message"), [
    ("nosuper", "culprit/nosuper: NoSuper.__init__ did not call super().__init__(spec, data, settings)"),
    ("late", "culprit/late: LateSuper.__init__ used self.settings before calling super().__init__(spec, data, "
             "settings)"),
])
def test_a_forgotten_super_init_says_so(matrix, task, message):
    proc = _run(matrix, task)
    assert proc.returncode == 1, proc.stderr
    assert _error_line(proc) == f"biobench run: error: {message}"


def test_tasks_names_the_failed_plugins_on_its_last_line(matrix):
    assert "culprit/fine" in cli_in_process("tasks").stdout
    for kind in ("tasks", "backbones"):
        proc = cli_in_process(kind)
        assert proc.returncode == 0, proc.stderr
        last = proc.stderr.strip().splitlines()[-1]
        assert last == (f"failed plugins, whose {kind} are not listed: biobench-broken 0.3 (import failed: "
                        "ImportError: No module named pandaz); see 'biobench plugins'"), proc.stderr
