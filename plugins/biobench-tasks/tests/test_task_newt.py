"""tasks/newt: NeWT's exact layout (newt2021_labels.csv + newt2021_images/<id>.jpg) in miniature, end to end and
malformed."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest

from biobench_core import SettingsError, SplitFeatures, TaskDataError
from biobench_tasks import biobench_tasks
from biobench_tasks._formats import DataWarning
from biobench_tasks.newt import NeWT
from biobench_tasks.samples.newt import TASKS, make_newt, uid

SPEC = next(spec for spec in biobench_tasks() if spec.id == "tasks/newt")


def build(root: Path, **settings: str) -> NeWT:
    return NeWT(SPEC, root, settings)


def test_newt_end_to_end_learns_every_subtask_and_reports_cluster_splits(tmp_path, run_task):
    data = make_newt(tmp_path / "newt")
    run, report = run_task("tasks/newt", data)
    assert run.returncode == 0, run.stderr
    [cell] = report["results"]
    assert cell["task"] == "tasks/newt" and cell["score"] >= 0.9  # chance is 0.5
    splits = cell["splits"]
    assert {"cluster:appearance", "cluster:species", "subcluster:age", "subcluster:health"} <= set(splits)
    assert not any(name.startswith("subcluster:") and name.endswith(":") for name in splits)
    assert all(score >= 0.8 for score in splits.values())


def test_ids_labels_groups_and_stratum(tmp_path):
    task = build(make_newt(tmp_path))
    train, test = task.examples("train"), task.examples("test")
    assert len(train) == 3 * 2 * 5 and len(test) == 3 * 2 * 3
    first = train[0]
    assert first.id == uid(TASKS[0][0], 0, "train", 0) and first.label == 0 and first.group == TASKS[0][0]
    assert Path(first.source) == tmp_path.absolute() / "newt2021_images" / f"{first.id}.jpg"
    assert task.stratum(first) == (TASKS[0][0], 0)
    assert task.load(first).mode == "RGB"


def test_n_train_balances_within_each_subtask(tmp_path):
    task = build(make_newt(tmp_path), n_train="6")
    chosen = task.chosen_examples("train")
    assert sorted((ex.group, ex.label) for ex in chosen) == sorted((t, label) for t, _, _ in TASKS for label in (0, 1))


def test_n_train_below_two_per_subtask_is_refused(tmp_path):
    with pytest.raises(SettingsError, match=r"tasks/newt: setting n_train=5: expected at least 6 \(2 per sub-task, "
                                            r"3 sub-tasks\)"):
        build(make_newt(tmp_path), n_train="5")


def test_n_train_per_subtask_is_the_published_count_half_of_each_label_and_nested(tmp_path):
    data = make_newt(tmp_path)
    three = build(data, n_train="3", n_train_per="subtask").chosen_examples("train")
    counts = {(t, label): sum(1 for ex in three if (ex.group, ex.label) == (t, label))
              for t, _, _ in TASKS for label in (0, 1)}
    assert counts == {(t, label): 1 if label == 0 else 2 for t, _, _ in TASKS for label in (0, 1)}  # n // 2, rest
    five = {ex.id for ex in build(data, n_train="5", n_train_per="subtask").chosen_examples("train")}
    assert {ex.id for ex in three} < five and len(five) == 3 * 5
    other_seed = {ex.id for ex in build(data, n_train="3", n_train_per="subtask", seed="1").chosen_examples("train")}
    assert other_seed != {ex.id for ex in three}
    every = build(data, n_train="10", n_train_per="subtask")
    assert every.n_train_limit() == 10 and len(every.chosen_examples("train")) == 3 * 10
    assert build(data, n_train="6").n_train_limit() == 30  # the core's count: the whole train split


def test_n_train_per_subtask_needs_two_and_a_known_value(tmp_path):
    data = make_newt(tmp_path)
    with pytest.raises(SettingsError, match=r"setting n_train=1: expected at least 2 \(2 per sub-task"):
        build(data, n_train="1", n_train_per="subtask")
    with pytest.raises(SettingsError, match="setting n_train_per='task'"):
        build(data, n_train="4", n_train_per="task")


def test_the_published_protocol_counts_n_train_per_subtask(tmp_path):
    task = build(make_newt(tmp_path), n_train="4", protocol="biobench-paper")
    assert task.settings_key() == "n_train=4,n_train_per=subtask,probe=svm,protocol=biobench-paper"
    assert len(task.chosen_examples("train")) == 3 * 4 and task.metric == "accuracy"


def test_probe_setting_is_withdrawn_and_C_is_checked(tmp_path):
    data = make_newt(tmp_path)
    with pytest.raises(SettingsError, match="unknown setting 'probe'"):
        build(data, probe="logreg")
    with pytest.raises(SettingsError, match=r"setting C='-1': expected a number > 0, or 'cv'"):
        build(data, C="-1")


def _features(task: NeWT, split: str, rng: np.random.Generator) -> SplitFeatures:
    """Separable features: a direction per (task, label) plus noise."""
    examples = list(task.examples(split))
    centres = {key: rng.normal(size=8) * 3 for key in {(ex.group, ex.label) for ex in examples}}
    centres = {key: centres[key] for key in sorted(centres)}
    feats = np.stack([centres[(ex.group, ex.label)] + rng.normal(size=8) * 0.3 for ex in examples])
    return SplitFeatures(examples, feats.astype(np.float32))


def test_cv_setting_chooses_C_per_subtask(tmp_path):
    task = build(make_newt(tmp_path), C="cv")
    train, test = _features(task, "train", np.random.default_rng(0)), _features(task, "test", np.random.default_rng(0))
    evaluation = task.evaluate(train, test)
    assert evaluation.probe["C"] == "cv" and sum(evaluation.probe["C_chosen"].values()) == 3
    assert np.mean([score for _, score, _ in evaluation.examples]) >= 0.9
    default = build(tmp_path).evaluate(train, test)
    assert default.probe["C"] == 1.0 and default.probe["C_chosen"] == {"1": 3}


def test_a_subtask_left_with_one_label_predicts_it_and_one_without_train_scores_errors(tmp_path):
    task = build(make_newt(tmp_path))
    rng = np.random.default_rng(1)
    train, test = _features(task, "train", rng), _features(task, "test", rng)
    keep = [i for i, ex in enumerate(train.examples)
            if not (ex.group == TASKS[0][0] and ex.label == 1) and ex.group != TASKS[1][0]]
    train = SplitFeatures([train.examples[i] for i in keep], train.features[keep])
    evaluation = task.evaluate(train, test)
    by_task = {}
    for (_, _, info) in evaluation.examples:
        by_task.setdefault(info["task"], set()).add(info["pred"])
    assert by_task[TASKS[0][0]] == {0} and by_task[TASKS[1][0]] == {-1}
    assert evaluation.probe["n_constant"] == 1 and evaluation.probe["n_untrained"] == 1
    assert evaluation.examples[0][2]["pred_name"] == f"{TASKS[0][0]}-no"


def test_conformance_kit(tmp_path):
    from biobench_core.testing import check_task

    check_task("tasks/newt", data=make_newt(tmp_path)).assert_ok()


# -- malformed data: one line naming the file and row ----------------------------------------------------------------


def test_missing_column(tmp_path):
    data = make_newt(tmp_path, edit=lambda rows: [{k: v for k, v in r.items() if k != "task_cluster"}
                                                               for r in rows])
    with pytest.raises(TaskDataError, match=r"newt2021_labels.csv: missing column 'task_cluster'") as info:
        build(data)
    assert "\n" not in str(info.value)


def test_missing_image(tmp_path):
    data = make_newt(tmp_path)
    victim = uid(TASKS[1][0], 1, "test", 2)
    (data / "newt2021_images" / f"{victim}.jpg").unlink()
    with pytest.raises(TaskDataError, match=rf"newt2021_labels.csv row \d+: image not found: .*{victim}.jpg$"):
        build(data)


def test_missing_image_folder(tmp_path):
    data = make_newt(tmp_path)
    (data / "newt2021_images").rename(data / "images")
    with pytest.raises(TaskDataError, match=r"newt2021_images: missing folder"):
        build(data)


def test_bad_label(tmp_path):
    def edit(rows):
        rows[7]["label"] = "2"
        return rows

    with pytest.raises(TaskDataError, match=r"newt2021_labels.csv row 9: label '2' is not 0 or 1"):
        build(make_newt(tmp_path, edit=edit))


def test_empty_split_is_an_error_and_other_values_are_test_with_a_warning(tmp_path):
    def other(rows):
        rows[5]["split"] = "val"  # a test row of the first task
        return rows

    data = make_newt(tmp_path, edit=other)
    with pytest.warns(DataWarning, match=r"newt2021_labels.csv: 1 rows with a split other than train/test, used as "
                                         r"test images: 'val' \(1\)"):
        task = build(data)
    assert len(task.examples("test")) == 18

    def empty(rows):
        rows[0]["split"] = ""
        return rows

    with pytest.raises(TaskDataError, match=r"newt2021_labels.csv row 2: empty 'split'"):
        build(make_newt(tmp_path / "b", edit=empty))


def test_subtask_without_train_images_of_a_label(tmp_path):
    def edit(rows):
        return [r for r in rows if not (r["task"] == TASKS[2][0] and r["label"] == "1" and r["split"] == "train")]

    with pytest.raises(TaskDataError, match=rf"newt2021_labels.csv: task '{TASKS[2][0]}' has no train images with "
                                            r"label 1 \(first row: .*row \d+\)"):
        build(make_newt(tmp_path, edit=edit))


def test_inconsistent_cluster_and_duplicate_id(tmp_path):
    def cluster(rows):
        rows[3]["task_cluster"] = "behaviour"
        return rows

    with pytest.raises(TaskDataError, match=r"row 5: task 'appearance_age_bird' has task_cluster='behaviour'.*"
                                            r"but .*row 2 says 'appearance'"):
        build(make_newt(tmp_path / "a", edit=cluster))

    def duplicate(rows):
        rows[1]["id"] = rows[0]["id"]
        return rows

    with pytest.raises(TaskDataError, match=r"row 3: duplicate id \w+ in the train split \(first in .*row 2\)"):
        build(make_newt(tmp_path / "b", edit=duplicate))


def test_no_warning_on_clean_data(tmp_path):
    data = make_newt(tmp_path)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        build(data)

