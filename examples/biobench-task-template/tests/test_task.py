"""The task plugin's tests: the kit's checks on generated data, the setting, the table's errors, the metric.

Keep these in your plugin: CI runs them. Each test writes its own tiny dataset (the ``sample`` fixture in
conftest.py), so they need no download and run in seconds.
"""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest

from biobench_core import SettingsError, TaskDataError, load_task
from biobench_core.testing import check_metric, check_plugin, check_task

# Turns the kit's fixtures on even when pytest runs from a parent project that does not set biobench_kit.
pytest_plugins = ["biobench_core.testing"]

TASK = "tasktemplate/pollinator-visits"
METRIC = "tasktemplate-macro-f1"


def test_plugin_metadata_and_discovery():
    """Entry point, contract version, cheap listing, namespaced specs, resolvable factory and metric, no network."""
    check_plugin("biobench-task-template").assert_ok()


def test_the_task_passes_the_kit_on_sample_data(biobench_registry, sample):
    """Splits of Examples, unique and disjoint ids, int labels, load() gives images, evaluate() scores each one."""
    check_task(TASK, data=sample).assert_ok()


def test_the_task_runs_end_to_end(biobench_registry, sample):
    """``biobench run`` with the kit's tiny backbone (no download) on the sample data, then the report: one score."""
    check_task(TASK, data=sample, run=True).assert_ok()


def test_sites_are_the_groups_and_classes_are_named(biobench_registry, sample):
    task = load_task(TASK, sample)
    assert task.class_names == ["bee", "butterfly", "hoverfly"]
    assert Counter(ex.group for ex in task.examples("test")) == {"meadow": 3, "orchard": 3, "verge": 3}
    assert task.settings["max_per_site"] == 100  # the declared default, filled in


def test_max_per_site_caps_each_site(biobench_registry, sample):
    task = load_task(TASK, sample, {"max_per_site": "4"})
    assert task.settings["max_per_site"] == 4  # converted: an int, not the string given
    train = task.examples("train")
    assert Counter(ex.group for ex in train) == {"meadow": 4, "orchard": 4, "verge": 4}
    assert Counter(ex.label for ex in train if ex.group == "meadow") == {0: 2, 1: 1, 2: 1}  # every pollinator kept
    check_task(TASK, data=sample, settings={"max_per_site": "4"}).assert_ok()


@pytest.mark.parametrize("value", ["0", "many"])
def test_a_bad_max_per_site_is_refused_before_any_work(biobench_registry, sample, value):
    with pytest.raises(SettingsError, match=f"{TASK}: setting max_per_site={value!r}"):
        load_task(TASK, sample, {"max_per_site": value})


@pytest.mark.parametrize(("row", "message"), [
    ("images/meadow-bee-00.png,wasp,meadow,test", r"row 38: pollinator 'wasp' has no training image"),
    ("images/meadow-bee-00.png,bee,meadow,val", r"row 38: split 'val': expected train or test"),
    ("images/meadow-bee-01.png,bee,meadow,test", r"row 38: image 'images/meadow-bee-01.png' is listed twice"),
    ("images/nowhere.png,bee,meadow,train", r"row 38: image 'images/nowhere.png' not found"),
    ("images/meadow-bee-00.png,,meadow,train", r"row 38: empty 'pollinator'"),
])
def test_a_bad_row_is_one_line_naming_the_file_and_row(biobench_registry, sample, row, message):
    index = sample / "visits.csv"
    lines = index.read_text().splitlines()
    if "listed twice" not in message:  # replace the first row's image by the bad row's, keeping the row count
        lines = [ln for ln in lines if not ln.startswith("images/meadow-bee-00.png,")]
    index.write_text("\n".join([*lines, row]) + "\n")
    expected_row = len(lines) + 1
    with pytest.raises(TaskDataError, match=message.replace("row 38", f"visits.csv row {expected_row}")):
        load_task(TASK, sample)


def test_the_metric_passes_the_kit_and_agrees_with_scikit_learn(biobench_registry):
    from sklearn.metrics import f1_score

    from biobench_task_template.metric import macro_f1_seen, macro_f1_seen_replicates

    check_metric(METRIC).assert_ok()
    rng = np.random.default_rng(0)
    y_true = rng.integers(0, 4, 60)
    y_pred = np.where(rng.random(60) < 0.1, -1, rng.integers(0, 6, 60))  # -1: an image the backbone could not read
    expected = f1_score(y_true, y_pred, labels=np.unique(y_true), average="macro", zero_division=0)
    assert macro_f1_seen(y_true, y_pred) == pytest.approx(expected)
    weights = rng.multinomial(60, np.full(60, 1 / 60), size=5)  # five bootstrap resamples
    for row, value in zip(weights, macro_f1_seen_replicates(y_true, y_pred, weights), strict=True):
        drawn = np.repeat(np.arange(60), row)
        assert value == pytest.approx(f1_score(y_true[drawn], y_pred[drawn], labels=np.unique(y_true[drawn]),
                                               average="macro", zero_division=0))
