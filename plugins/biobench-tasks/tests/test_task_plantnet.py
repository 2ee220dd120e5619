"""tasks/plantnet: Pl@ntNet-300K's layout (images/{train,val,test}/<species_id>/<image_id>.jpg) in miniature, end to
end and malformed; the archive's own top folder; the dataset's test folder as a separate result."""

from __future__ import annotations

import shutil
import warnings
from pathlib import Path

import pytest

from biobench_core import SettingsError, TaskDataError
from biobench_tasks import biobench_tasks
from biobench_tasks._formats import DataWarning
from biobench_tasks.plantnet import PlantNet
from biobench_tasks.samples.plantnet import SPECIES, make_plantnet

SPEC = next(spec for spec in biobench_tasks() if spec.id == "tasks/plantnet")


def build(root: Path, **settings: str) -> PlantNet:
    return PlantNet(SPEC, root, settings)


def test_plantnet_end_to_end_on_val_and_test_as_its_own_column(tmp_path, run_task):
    data = make_plantnet(tmp_path / "plantnet")
    run, report = run_task("tasks/plantnet", data)
    assert run.returncode == 0, run.stderr
    [cell] = report["results"]
    assert cell["metric"] == "macro-f1-all[4]" and cell["score"] >= 0.9  # chance is about 0.25
    assert cell["n_examples"] == 12  # scored on val only: 4 species x 3
    assert set(cell["splits"]) == {"val", "test"} and cell["splits"]["test"] >= 0.9
    assert cell["splits"]["val"] == pytest.approx(cell["score"])
    run, report = run_task("tasks/plantnet", data, "--set", "eval_split=test")
    assert run.returncode == 0, run.stderr
    cells = {c["settings"]: c for c in report["results"]}
    assert set(cells) == {"probe=logreg,dtype=fp32", "eval_split=test,probe=logreg,dtype=fp32"}
    assert all(c["score"] >= 0.9 for c in cells.values())


def test_the_test_folder_is_a_split_kept_out_of_the_score(tmp_path):
    task = build(make_plantnet(tmp_path))
    test = task.examples("test")
    assert sorted({ex.group for ex in test}) == ["test", "val"]
    assert [task.in_score(ex) for ex in test] == [ex.group == "val" for ex in test]
    only_test = build(tmp_path, eval_split="test")
    assert all(only_test.in_score(ex) for ex in only_test.examples("test"))
    assert {ex.group for ex in only_test.examples("test")} == {"test"}


def test_ids_are_image_ids_and_one_class_map(tmp_path):
    task = build(make_plantnet(tmp_path))
    assert task.class_names == list(SPECIES)
    test = [ex for ex in task.examples("test") if task.in_score(ex)]
    assert len(task.examples("train")) == 24 and len(test) == 12  # val, not test
    assert test[0].id == "va000".encode().hex().ljust(40, "0") and test[0].label == 0 and test[0].group == "val"
    assert task.load(test[0]).mode == "RGB"
    on_test = build(tmp_path, eval_split="test")
    assert len(on_test.examples("test")) == 8 and on_test.class_names == task.class_names


def test_the_unpacked_top_folder_is_found(tmp_path):
    make_plantnet(tmp_path / "plantnet_300K")
    task = build(tmp_path)
    assert task.root == (tmp_path / "plantnet_300K").absolute() and len(task.examples("test")) == 12 + 8


def test_the_test_folder_is_optional_unless_evaluated(tmp_path):
    data = make_plantnet(tmp_path, n={"train": 6, "val": 3})
    assert len(build(data).examples("test")) == 12
    with pytest.raises(TaskDataError, match=r"images/test: missing folder: expected images/test/<class>/<image>"):
        build(data, eval_split="test")


def test_unknown_eval_split_is_a_settings_error(tmp_path):
    with pytest.raises(SettingsError, match=r"setting eval_split='validation': expected one of val, test"):
        build(make_plantnet(tmp_path, n={"train": 1, "val": 1}), eval_split="validation")


def test_conformance_kit(tmp_path):
    from biobench_core.testing import check_task

    check_task("tasks/plantnet", data=make_plantnet(tmp_path)).assert_ok()


# -- malformed data ----------------------------------------------------------------------------------------------------


def test_missing_train_folder(tmp_path):
    data = make_plantnet(tmp_path)
    shutil.rmtree(data / "images" / "train")
    with pytest.raises(TaskDataError, match=r"images/train: missing folder: expected images/train/<class>/<image>; "
                                            r"get the data with: biobench data fetch tasks/plantnet"):
        build(data)


def test_val_species_without_train_images(tmp_path, synth_image):
    data = make_plantnet(tmp_path)
    synth_image(data / "images" / "val" / "1400000" / f"{'ab' * 20}.jpg", 0, 4)
    with pytest.raises(TaskDataError, match=r"images/val/1400000: class '1400000' has 1 image but no images in "
                                            r".*images/train/1400000$"):
        build(data)


def test_one_image_id_twice(tmp_path):
    data = make_plantnet(tmp_path)
    first = next((data / "images" / "train" / SPECIES[0]).iterdir())
    shutil.copy(first, data / "images" / "val" / SPECIES[1] / first.name)
    with pytest.raises(TaskDataError, match=rf"images/val/{SPECIES[1]}/{first.name}: duplicate image id "
                                            rf"'{first.stem}' \(also .*images/train/{SPECIES[0]}/{first.name}\)"):
        build(data)


def test_empty_class_folder_is_skipped_with_a_warning(tmp_path):
    data = make_plantnet(tmp_path)
    (data / "images" / "train" / "1999999").mkdir()
    with pytest.warns(DataWarning, match=r"images/train/1999999: empty class folder, skipped"):
        task = build(data)
    assert task.class_names == list(SPECIES)


def test_no_warning_on_clean_data(tmp_path):
    data = make_plantnet(tmp_path)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        build(data)
