"""tasks/herbarium19: the competition's layout (train/<class>/**, validation/<class>/**) in miniature, end to end and
malformed."""

from __future__ import annotations

import shutil
import warnings
from pathlib import Path

import pytest

from biobench_core import TaskDataError
from biobench_tasks import biobench_tasks
from biobench_tasks._formats import DataWarning
from biobench_tasks.herbarium19 import Herbarium19
from biobench_tasks.samples.herbarium19 import make_herbarium

SPEC = next(spec for spec in biobench_tasks() if spec.id == "tasks/herbarium19")


def build(root: Path, **settings: str) -> Herbarium19:
    return Herbarium19(SPEC, root, settings)


def test_herbarium19_end_to_end_macro_f1_without_group_splits(tmp_path, run_task):
    run, report = run_task("tasks/herbarium19", make_herbarium(tmp_path / "herbarium19"))
    assert run.returncode == 0, run.stderr
    [cell] = report["results"]
    assert cell["metric"] == "macro-f1-all[4]" and cell["score"] >= 0.9  # chance is about 0.25
    assert cell["splits"] == {}  # the folders have no grouping beyond the class (documented)


def test_one_class_map_ids_and_rgb(tmp_path):
    task = build(make_herbarium(tmp_path))
    assert task.class_names == ["0", "107", "23", "5"]
    train, test = task.examples("train"), task.examples("test")
    assert len(train) == 4 * 6 and len(test) == 4 * 3
    assert "train/107/sub/t107_1.jpg" in {ex.id for ex in train}  # images in sub-folders of a class count
    assert {ex.id: ex.label for ex in test}["validation/23/v23_0.jpg"] == 2
    assert all(ex.group is None for ex in test)
    assert task.load(test[0]).mode == "RGB"


def test_validation_with_fewer_classes_keeps_the_train_labels(tmp_path):
    data = make_herbarium(tmp_path)
    shutil.rmtree(data / "validation" / "0")
    task = build(data)
    assert task.class_names == ["0", "107", "23", "5"]
    assert {task.class_names[ex.label] for ex in task.examples("test")} == {"107", "23", "5"}
    assert all(ex.id.split("/")[1] == task.class_names[ex.label] for ex in task.examples("test"))


def test_n_train_is_class_balanced(tmp_path):
    task = build(make_herbarium(tmp_path), n_train="8")
    chosen = task.chosen_examples("train")
    assert len(chosen) == 8 and sorted(ex.label for ex in chosen) == [0, 0, 1, 1, 2, 2, 3, 3]


def test_conformance_kit(tmp_path):
    from biobench_core.testing import check_task

    check_task("tasks/herbarium19", data=make_herbarium(tmp_path)).assert_ok()


# -- malformed data ----------------------------------------------------------------------------------------------------


def test_missing_validation_folder(tmp_path):
    data = make_herbarium(tmp_path)
    shutil.rmtree(data / "validation")
    with pytest.raises(TaskDataError, match=r"validation: missing folder: expected validation/<class>/<image>; "
                                            r"get the data with: biobench data fetch tasks/herbarium19"):
        build(data)


def test_validation_class_without_train_images(tmp_path, synth_image):
    data = make_herbarium(tmp_path)
    synth_image(data / "validation" / "999" / "v999.jpg", 0, 4)
    with pytest.raises(TaskDataError, match=r"validation/999: class '999' has 1 image but no images in "
                                            r".*train/999$"):
        build(data)


def test_empty_class_folder_is_skipped_with_a_warning(tmp_path):
    data = make_herbarium(tmp_path)
    (data / "train" / "61").mkdir()
    with pytest.warns(DataWarning, match=r"train/61: empty class folder, skipped"):
        task = build(data)
    assert "61" not in task.class_names


def test_no_warning_on_clean_data(tmp_path):
    data = make_herbarium(tmp_path)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        build(data)
