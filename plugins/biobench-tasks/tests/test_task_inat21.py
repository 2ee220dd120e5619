"""tasks/inat21: the challenge's layout (train_mini/<class>/*.jpg, val/<class>/*.jpg) in miniature, end to end and
malformed; per-kingdom splits; reported as prior work, out of the benchmark mean."""

from __future__ import annotations

import shutil
import warnings
from pathlib import Path

import pytest

from biobench_core import TaskDataError
from biobench_tasks import biobench_tasks
from biobench_tasks._formats import DataWarning
from biobench_tasks.inat21 import INat21, kingdom_of
from biobench_tasks.samples.inat21 import CLASSES, make_inat21

SPEC = next(spec for spec in biobench_tasks() if spec.id == "tasks/inat21")


def build(root: Path, **settings: str) -> INat21:
    return INat21(SPEC, root, settings)


def test_inat21_end_to_end_is_prior_work_with_kingdom_splits(tmp_path, run_task):
    run, report = run_task("tasks/inat21", make_inat21(tmp_path / "inat21"))
    assert run.returncode == 0, run.stderr
    [cell] = report["results"]
    assert cell["metric"] == "accuracy" and cell["score"] >= 0.9  # chance is 0.25
    assert set(cell["splits"]) == {"kingdom:Animalia", "kingdom:Fungi", "kingdom:Plantae"}
    assert all(score >= 0.8 for score in cell["splits"].values())
    [column] = [c for c in report["columns"] if c["task"] == "tasks/inat21"]
    assert column["prior_work"] is True and column["in_benchmark"] is False


def test_ids_labels_groups(tmp_path):
    task = build(make_inat21(tmp_path))
    assert task.class_names == list(CLASSES)
    train, test = task.examples("train"), task.examples("test")
    assert len(train) == 24 and len(test) == 12
    assert test[0].id.startswith(f"val/{CLASSES[0]}/00000000-0000-") and test[0].group == "kingdom:Animalia"
    assert [ex.group for ex in test if ex.label == 3] == ["kingdom:Plantae"] * 3
    assert task.load(test[0]).mode == "RGB"


def test_kingdom_of_folder_names():
    assert kingdom_of(CLASSES[2]) == "Fungi"
    assert kingdom_of("birds") is None and kingdom_of("00001_Animalia_Chordata") is None


def test_a_folder_name_without_taxonomy_has_no_group(tmp_path):
    data = make_inat21(tmp_path)
    for split in ("train_mini", "val"):
        shutil.move(data / split / CLASSES[3], data / split / "daisy")
    task = build(data)
    assert {ex.group for ex in task.examples("test") if task.class_names[ex.label] == "daisy"} == {None}


def test_conformance_kit(tmp_path):
    from biobench_core.testing import check_task

    check_task("tasks/inat21", data=make_inat21(tmp_path)).assert_ok()


# -- malformed data ----------------------------------------------------------------------------------------------------


def test_missing_train_mini_folder(tmp_path):
    data = make_inat21(tmp_path)
    shutil.move(data / "train_mini", data / "train")  # the full training set is not what the task reads
    with pytest.raises(TaskDataError, match=r"train_mini: missing folder: expected train_mini/<class>/<image>; "
                                            r"get the data with: biobench data fetch tasks/inat21"):
        build(data)


def test_val_class_without_train_images(tmp_path):
    data = make_inat21(tmp_path)
    shutil.rmtree(data / "train_mini" / CLASSES[1])
    with pytest.raises(TaskDataError, match=rf"val/{CLASSES[1]}: class '{CLASSES[1]}' has 3 images but no images "
                                            rf"in .*train_mini/{CLASSES[1]}$"):
        build(data)


def test_empty_class_folder_is_skipped_with_a_warning(tmp_path):
    data = make_inat21(tmp_path)
    (data / "val" / "09999_Plantae_x_x_x_x_x_x").mkdir()
    with pytest.warns(DataWarning, match=r"val/09999_Plantae_x_x_x_x_x_x: empty class folder, skipped"):
        task = build(data)
    assert len(task.class_names) == 4


def test_no_warning_on_clean_data(tmp_path):
    data = make_inat21(tmp_path)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        build(data)
