"""tasks/image-folder over tiny datasets written at test time, in both layouts, and every kind of bad input."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from PIL import Image

from biobench_core import TaskDataError, load_task
from biobench_tasks.samples.image_folder import COLOURS, csv_dataset, folder_dataset, png

TASK = "tasks/image-folder"


def data_error(tmp_path, data, *fragments: str) -> str:
    with pytest.raises(TaskDataError) as info:
        load_task(TASK, data=data)
    message = str(info.value)
    assert "\n" not in message
    for fragment in fragments:
        assert fragment in message, (fragment, message)
    return message


# -- good data ---------------------------------------------------------------------------------------------------


def test_folder_layout(tmp_path):
    root = folder_dataset(tmp_path / "bugs")
    png(root / "train" / "bee" / "grey.png", mode="L")  # greyscale becomes RGB
    (root / "train" / "bee" / ".DS_Store").write_bytes(b"\0\1")
    png(root / "train" / "bee" / "._000.png")  # macOS resource-fork twin: hidden, ignored
    (root / "train" / "bee" / "notes.txt").write_text("not an image")
    (root / "train" / "empty-class").mkdir()
    task = load_task(TASK, data=root)
    assert task.class_names == ["ant", "bee", "cicada"]
    train, test = task.examples("train"), task.examples("test")
    assert (len(train), len(test)) == (10, 6)
    assert train[0].id == "train/ant/000.png" and train[0].label == 0
    assert {e.id for e in train if e.label == 1} == {f"train/bee/{i:03d}.png" for i in range(3)} | {"train/bee/grey.png"}
    for example in (*train, *test):
        assert Path(example.source).is_absolute() and Path(example.source).is_file()
        assert example.group is None
    img = task.load(next(e for e in train if e.id.endswith("grey.png")))
    assert (img.mode, img.size) == ("RGB", (12, 10))
    assert task.load(test[-1]).getpixel((0, 0)) == COLOURS["cicada"]


def test_csv_layout_with_groups(tmp_path):
    root = csv_dataset(tmp_path / "csv")
    task = load_task(TASK, data=str(root))
    assert task.class_names == ["ant", "bee", "cicada"]
    train, test = task.examples("train"), task.examples("test")
    assert [e.id for e in test] == ["imgs/ant2.jpg", "imgs/bee2.jpg", "imgs/cicada2.jpg"]
    assert [e.label for e in test] == [0, 1, 2]
    assert {e.group for e in train} == {"site0", "site1"}
    assert test[0].source == str((root / "imgs" / "ant2.jpg").absolute())
    assert task.load(train[0]).mode == "RGB"


def test_csv_wins_over_folders_and_columns_are_flexible(tmp_path):
    root = folder_dataset(tmp_path / "both")
    csv_dataset(root, ["TRAIN,train/ant/000.png,ant", " test ,test/ant/000.png,ant"], header="Split,Path,Label")
    task = load_task(TASK, data=root)
    assert [e.id for e in task.examples("train")] == ["train/ant/000.png"]
    assert task.class_names == ["ant"]


def test_manifest_changes_when_an_image_changes(tmp_path):
    root = folder_dataset(tmp_path / "bugs")
    before = load_task(TASK, data=root).manifest("test")
    assert load_task(TASK, data=root).manifest("test") == before
    target = root / "test" / "bee" / "000.png"
    png(target, (1, 2, 3), size=(13, 10))
    os.utime(target, ns=(1, 1))
    assert load_task(TASK, data=root).manifest("test") != before


# -- bad data: each is a one-line TaskDataError naming what is wrong ------------------------------------------------


def test_no_data_folder(tmp_path):
    with pytest.raises(TaskDataError, match="--data image-folder=DIR"):
        load_task(TASK)
    data_error(tmp_path, tmp_path / "nope", str(tmp_path / "nope"))


def test_empty_data_folder(tmp_path):
    (tmp_path / "empty").mkdir()
    data_error(tmp_path, tmp_path / "empty", str(tmp_path / "empty"), "empty")


def test_neither_layout(tmp_path):
    png(tmp_path / "d" / "loose.png")
    data_error(tmp_path, tmp_path / "d", str(tmp_path / "d"), "labels.csv")


def test_missing_test_folder(tmp_path):
    root = folder_dataset(tmp_path / "d")
    for path in sorted((root / "test").rglob("*"), reverse=True):
        path.unlink() if path.is_file() else path.rmdir()
    (root / "test").rmdir()
    data_error(tmp_path, root, str(root / "test"), "missing folder")


def test_no_train_images(tmp_path):
    root = folder_dataset(tmp_path / "d", train=0)
    (root / "train" / "ant").mkdir(parents=True)
    (root / "train" / "ant" / "readme.txt").write_text("x")
    data_error(tmp_path, root, str(root / "train"), "no train images")


def test_no_test_images_csv(tmp_path):
    root = csv_dataset(tmp_path / "d", ["a.png,ant,train"])
    png(root / "a.png")
    data_error(tmp_path, root, str(root / "labels.csv"), "no test images")


def test_image_outside_class_folder(tmp_path):
    root = folder_dataset(tmp_path / "d")
    png(root / "train" / "stray.png")
    data_error(tmp_path, root, str(root / "train" / "stray.png"))


def test_class_only_in_test_folder_layout(tmp_path):
    root = folder_dataset(tmp_path / "d")
    png(root / "test" / "dragonfly" / "x.png")
    data_error(tmp_path, root, "'dragonfly'", str(root / "test" / "dragonfly"), "no train images")


@pytest.mark.parametrize("column", ["path", "label", "split"])
def test_csv_missing_column(tmp_path, column):
    header = ",".join(c for c in ("path", "label", "split") if c != column)
    root = csv_dataset(tmp_path / "d", ["a,b"], header=header)
    data_error(tmp_path, root, str(root / "labels.csv"), f"missing column '{column}'")


def test_csv_empty_file(tmp_path):
    root = tmp_path / "d"
    root.mkdir()
    (root / "labels.csv").write_text("")
    data_error(tmp_path, root, str(root / "labels.csv"), "empty")


@pytest.mark.parametrize("row, fragment", [
    ("b.png,bee,", "empty split"),
    ("b.png,bee,val", "unknown split 'val'"),
    ("missing.png,bee,test", "file not found"),
    (",bee,test", "empty path"),
    ("b.png,,test", "empty label"),
    ("a.png,bee,test", "duplicate path a.png (first listed in row 1)"),
])
def test_csv_bad_row_names_the_row(tmp_path, row, fragment):
    root = tmp_path / "d"
    png(root / "a.png")
    png(root / "b.png")
    csv_dataset(root, ["a.png,ant,train", row])
    data_error(tmp_path, root, f"{root / 'labels.csv'} row 2", fragment)


def test_csv_class_only_in_test(tmp_path):
    root = tmp_path / "d"
    for name in "abc":
        png(root / f"{name}.png")
    csv_dataset(root, ["a.png,ant,train", "b.png,ant,test", "c.png,wasp,test"])
    data_error(tmp_path, root, f"{root / 'labels.csv'} row 3", "class 'wasp'", "no train images")


@pytest.mark.parametrize("damage", ["truncated", "garbage", "empty"])
def test_corrupt_image_fails_on_load_naming_the_file(tmp_path, damage):
    root = folder_dataset(tmp_path / "d")
    bad = root / "test" / "ant" / "bad.png"
    png(bad, size=(64, 64))
    data = bad.read_bytes()
    bad.write_bytes({"truncated": data[: len(data) // 2], "garbage": b"not a png at all" * 10, "empty": b""}[damage])
    task = load_task(TASK, data=root)  # building the task does not decode images
    example = next(e for e in task.examples("test") if e.id == "test/ant/bad.png")
    with pytest.raises(TaskDataError, match="cannot decode image") as info:
        task.load(example)
    assert str(bad) in str(info.value) and "\n" not in str(info.value)


def test_conformance_kit(tmp_path):
    from biobench_core.testing import check_plugin, check_task

    check_plugin("biobench-tasks").assert_ok()
    check_task(TASK, data=folder_dataset(tmp_path / "folders")).assert_ok()
    check_task(TASK, data=csv_dataset(tmp_path / "csv")).assert_ok()


# -- images the data folder holds, and paths that alias or leave it (issue 8) --------------------------------------


def test_16_bit_and_float_images_keep_their_gradient(tmp_path):
    import numpy as np

    root = folder_dataset(tmp_path / "d")
    ramp = np.tile(np.linspace(0, 65535, 256).astype(np.uint16), (8, 1))
    Image.fromarray(ramp).save(root / "train" / "ant" / "deep.png")
    Image.fromarray(ramp).save(root / "train" / "bee" / "deep.tif")
    Image.fromarray(np.tile(np.linspace(0, 1, 256, dtype=np.float32), (8, 1))).save(root / "train" / "cicada" / "f.tif")
    task = load_task(TASK, data=root)
    for example_id in ("train/ant/deep.png", "train/bee/deep.tif", "train/cicada/f.tif"):
        img = task.load(next(e for e in task.examples("train") if e.id == example_id))
        row = np.asarray(img)[0, :, 0].astype(int)
        assert img.mode == "RGB" and row[0] == 0 and row[-1] == 255, example_id
        assert (np.diff(row) >= 0).all() and (row == 255).mean() < 0.01 and row.mean() > 100, example_id


def test_csv_row_pointing_at_a_folder_says_so(tmp_path):
    root = tmp_path / "d"
    png(root / "a.png")
    png(root / "imgs" / "b.png")
    csv_dataset(root, ["a.png,ant,train", "imgs,ant,test"])
    message = data_error(tmp_path, root, f"{root / 'labels.csv'} row 2", "is a folder", str(root / "imgs"))
    assert "not found" not in message


@pytest.mark.parametrize("where", ["parent", "absolute", "deep"])
def test_csv_paths_outside_the_data_folder_are_refused_unless_allowed(tmp_path, where):
    root = tmp_path / "d"
    png(root / "a.png")
    outside = png(tmp_path / "elsewhere" / "b.png")
    path = {"parent": "../elsewhere/b.png", "absolute": str(outside),
            "deep": "sub/../../elsewhere/b.png"}[where]
    (root / "sub").mkdir()
    csv_dataset(root, ["a.png,ant,train", f"{path},ant,test"])
    data_error(tmp_path, root, f"{root / 'labels.csv'} row 2", path, "outside the data folder", "allow_outside=true")
    task = load_task(TASK, data=root, settings={"allow_outside": "true"})
    (test,) = task.examples("test")
    assert Path(test.source).resolve() == outside.resolve()
    assert task.load(test).size == (12, 10)
    with pytest.raises(TaskDataError, match="outside the data folder"):
        load_task(TASK, data=root, settings={"allow_outside": "false"})


def test_allow_outside_is_a_declared_setting_with_a_checked_value(tmp_path):
    from biobench_core import SettingsError

    root = csv_dataset(tmp_path / "d")
    assert "allow_outside" in load_task(TASK, data=root).accepted_settings()
    with pytest.raises(SettingsError, match="allow_outside"):
        load_task(TASK, data=root, settings={"allow_outside": "maybe"})


def test_a_dotdot_path_that_stays_inside_is_fine(tmp_path):
    root = csv_dataset(tmp_path / "d")
    png(root / "extra" / "z.png")
    lines = (root / "labels.csv").read_text().splitlines()
    (root / "labels.csv").write_text("\n".join([*lines, "imgs/../extra/z.png,ant,train"]) + "\n")
    assert "imgs/../extra/z.png" in {e.id for e in load_task(TASK, data=root).examples("train")}


@pytest.mark.parametrize("alias", ["./imgs/../imgs/x.png", "imgs//x.png/.", "link.png", "linked/x.png"])
def test_csv_same_image_in_train_and_test_is_refused_naming_both_rows(tmp_path, alias):
    root = tmp_path / "d"
    png(root / "imgs" / "x.png")
    png(root / "imgs" / "y.png")
    (root / "link.png").symlink_to(root / "imgs" / "x.png")
    (root / "linked").symlink_to(root / "imgs", target_is_directory=True)
    csv_dataset(root, ["imgs/y.png,ant,train", "imgs/x.png,ant,train", f"{alias},ant,test"])
    data_error(tmp_path, root, f"{root / 'labels.csv'} row 3", "row 2", "train and test", alias, "imgs/x.png")


def test_csv_same_image_twice_in_one_split_is_a_duplicate(tmp_path):
    root = tmp_path / "d"
    png(root / "imgs" / "x.png")
    png(root / "imgs" / "y.png")
    csv_dataset(root, ["imgs/x.png,ant,train", "imgs/y.png,ant,test", "imgs/../imgs/x.png,bee,train"])
    data_error(tmp_path, root, f"{root / 'labels.csv'} row 3", "row 1", "same file")


def test_folder_same_image_in_train_and_test_is_refused(tmp_path):
    root = folder_dataset(tmp_path / "d")
    (root / "test" / "ant" / "leak.png").symlink_to(root / "train" / "bee" / "001.png")
    data_error(tmp_path, root, "train/bee/001.png", "test/ant/leak.png", "train and test")


def test_folder_symlinked_test_class_folder_is_refused(tmp_path):
    root = folder_dataset(tmp_path / "d")
    for path in (root / "test" / "cicada").iterdir():
        path.unlink()
    (root / "test" / "cicada").rmdir()
    (root / "test" / "cicada").symlink_to(root / "train" / "cicada", target_is_directory=True)
    data_error(tmp_path, root, "train/cicada/000.png", "test/cicada/000.png", "train and test")


def test_folder_symlinked_class_folder_warns_of_a_duplicate_class(tmp_path):
    root = folder_dataset(tmp_path / "d")
    (root / "train" / "wasp").symlink_to(root / "train" / "bee", target_is_directory=True)
    with pytest.warns(UserWarning) as record:
        task = load_task(TASK, data=root)
    messages = [str(w.message) for w in record if "wasp" in str(w.message)]
    assert len(messages) == 1, [str(w.message) for w in record]
    assert "'bee'" in messages[0] and "'wasp'" in messages[0] and str(root / "train" / "wasp") in messages[0]
    assert "\n" not in messages[0]
    assert task.class_names == ["ant", "bee", "cicada", "wasp"]  # a warning, not an error


def test_large_jpeg_warning_names_the_file(tmp_path, monkeypatch):
    root = folder_dataset(tmp_path / "d")
    big = root / "test" / "ant" / "big.jpg"
    Image.new("RGB", (300, 200), (200, 30, 30)).save(big)
    task = load_task(TASK, data=root)
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 40_000)
    with pytest.warns(Image.DecompressionBombWarning, match="big.jpg") as record:
        task.load(next(e for e in task.examples("test") if e.id == "test/ant/big.jpg"))
    assert all(str(big) in str(w.message) for w in record if w.category is Image.DecompressionBombWarning)
