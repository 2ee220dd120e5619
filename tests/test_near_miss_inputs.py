"""Files whose format is a near miss, through the real ``biobench`` command: each gets one line that names the file
and the cause (issue 18), never a traceback or a misleading "missing column" or "ok".

A config with a UTF-8 byte-order mark; a tab-separated ``labels.csv``; a NUL byte in a CSV; a file given where a
data folder belongs; two class folders whose names differ only by Unicode normalisation (NFC and NFD); images
with an extension outside the usual few (``.jfif``) and files that are no image at all; training data of a single
class. KABR's comma-separated annotation file is tested with the task, in ``plugins/biobench-tasks/tests``.
"""

from __future__ import annotations

import os
import unicodedata
from pathlib import Path

import pytest

from biobench_core.testing import make_image_folder

CAFE_NFC = unicodedata.normalize("NFC", "café")
CAFE_NFD = unicodedata.normalize("NFD", "café")


def error_line(proc) -> str:
    """The command's one error line (stderr holds nothing else but warnings), after checking it failed cleanly."""
    assert proc.returncode != 0, proc.stdout
    assert "Traceback" not in proc.stderr, proc.stderr
    errors = [line for line in proc.stderr.splitlines() if line.startswith("biobench ")]
    assert len(errors) == 1, proc.stderr
    return errors[0]


def labels_csv(root: Path, delimiter: str = ",") -> Path:
    """Write ``root/labels.csv`` listing every image of ``make_image_folder``'s layout; returns its path."""
    rows = [delimiter.join(("path", "label", "split"))]
    for image in sorted(root.glob("*/*/*.png")):
        rel = image.relative_to(root)
        rows.append(delimiter.join((rel.as_posix(), rel.parts[1], rel.parts[0])))
    path = root / "labels.csv"
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return path


def test_a_config_with_a_byte_order_mark_is_named_as_such(tmp_path, run_cli):
    config = tmp_path / "bench.toml"
    config.write_bytes(b"\xef\xbb\xbf" + b'[[backbone]]\nid = "timm/resnet10t"\nweights = "random"\n\n'
                       b'[[task]]\nid = "animal-silhouettes"\n')
    line = error_line(run_cli("run", "--config", str(config), "--results", str(tmp_path / "r")))
    assert str(config) in line and "byte-order mark" in line and "without" in line, line
    assert not (tmp_path / "r").exists()


def test_a_tab_separated_labels_csv_names_the_delimiters(tmp_path, run_cli):
    root = make_image_folder(tmp_path / "data", n_train=2, n_test=1)
    csv_path = labels_csv(root, "\t")
    line = error_line(run_cli("data", "check", "image-folder", str(root)))
    assert str(csv_path) in line and "tab-separated" in line and "comma-separated" in line, line


def test_a_nul_byte_in_a_csv_names_the_file_and_row(tmp_path, run_cli):
    root = make_image_folder(tmp_path / "data", n_train=2, n_test=1)
    csv_path = labels_csv(root)
    lines = csv_path.read_text().splitlines()
    lines[3] = lines[3].replace(".png", "\0.png")  # the third data row
    csv_path.write_text("\n".join(lines) + "\n")
    line = error_line(run_cli("data", "check", "image-folder", str(root)))
    assert f"{csv_path} row 3" in line and "NUL byte" in line, line
    assert "embedded null byte" not in line


def test_data_check_given_a_file_says_it_is_not_a_folder(tmp_path, run_cli):
    root = make_image_folder(tmp_path / "data", n_train=2, n_test=1)
    csv_path = labels_csv(root)
    line = error_line(run_cli("data", "check", "image-folder", str(csv_path)))
    assert str(csv_path) in line and "is a file, not a folder" in line and str(root) in line, line
    assert "does not exist" not in line


@pytest.mark.parametrize("where", ["train", "test"])
def test_class_folders_that_differ_by_unicode_normalisation_are_named(tmp_path, run_cli, where):
    colours = {CAFE_NFC: (200, 40, 40), "tea": (40, 200, 40)}
    root = make_image_folder(tmp_path / "data", n_train=2, n_test=1, colours=colours)
    (root / where / CAFE_NFC).rename(root / where / CAFE_NFD)  # e.g. one split copied from a Mac
    if where == "train":  # both spellings side by side in one split
        make_image_folder(tmp_path / "more", n_train=2, n_test=1, colours={CAFE_NFC: (200, 40, 40)})
        (tmp_path / "more" / "train" / CAFE_NFC).rename(root / "train" / CAFE_NFC)
    if CAFE_NFD not in os.listdir(root / where):
        pytest.skip("this file system normalises file names itself")
    line = error_line(run_cli("data", "check", "image-folder", str(root)))
    assert "Unicode normalisation" in line and "NFC" in line and "NFD" in line, line
    assert str(root / where / CAFE_NFD) in line, line


def test_images_with_other_extensions_are_read_and_files_that_are_not_are_counted(tmp_path, run_cli):
    from PIL import Image

    root = make_image_folder(tmp_path / "data", n_train=2, n_test=1)  # 3 classes: 6 train, 3 test images
    red = next(p for p in (root / "train").iterdir() if p.name == "red")
    for i in range(3):
        Image.new("RGB", (16, 16), (220, 30, 30)).save(red / f"extra{i}.jfif", format="JPEG")
    (red / "notes.txt").write_text("taken in May\n")
    (red / "scan.heic").write_bytes(b"\0\0\0\x18ftypheic")
    proc = run_cli("data", "check", "image-folder", str(root))
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    assert "ok: 9 train, 3 test examples, 3 classes" in proc.stdout, proc.stdout
    [warning] = [line for line in proc.stderr.splitlines() if "skipped" in line]
    assert "2 files" in warning and ".heic" in warning and ".txt" in warning and str(red) in warning, warning


def test_training_data_of_one_class_fails_the_data_check(tmp_path, run_cli):
    root = make_image_folder(tmp_path / "data", n_train=2, n_test=1, colours={"red": (220, 30, 30)})
    line = error_line(run_cli("data", "check", "image-folder", str(root)))
    assert str(root) in line and "only one class" in line and "'red'" in line, line


def test_training_data_of_one_class_fails_a_run_before_any_extraction(tmp_path, run_cli):
    root = make_image_folder(tmp_path / "data", n_train=2, n_test=1, colours={"red": (220, 30, 30)})
    proc = run_cli("run", "--backbone", "timm/resnet10t", "--weights", "random", "--task", "image-folder",
                   "--data", f"image-folder={root}", "--results", str(tmp_path / "r"), "--device", "cpu",
                   "--workers", "0")
    line = error_line(proc)
    assert str(root) in line and "only one class" in line, line
    assert "extract" not in proc.stderr.lower() and not (tmp_path / "r").exists(), proc.stderr


def test_run_given_a_file_for_the_data_folder_says_it_is_not_a_folder(tmp_path, run_cli):
    root = make_image_folder(tmp_path / "data", n_train=2, n_test=1)
    csv_path = labels_csv(root)
    line = error_line(run_cli("plan", "--backbone", "timm/resnet10t", "--weights", "random", "--task", "image-folder",
                              "--data", f"image-folder={csv_path}", "--results", str(tmp_path / "r")))
    assert str(csv_path) in line and "is a file, not a folder" in line and str(root) in line, line
    assert "does not exist" not in line
