"""tasks/imagenet-1k: both layouts labs have, in miniature (a few wnids, a few images each), end to end and malformed:
the ILSVRC2012 folders (validation labels from the devkit's ground truth, from val/<wnid>/ folders or from Kaggle's
LOC_val_solution.csv) and Hugging Face's parquet shards; reported as prior work, out of the benchmark mean."""

from __future__ import annotations

import os
import shutil
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest

from biobench_core import TaskDataError
from biobench_core.testing import cli_in_process
from biobench_tasks import biobench_tasks
from biobench_tasks._formats import DataWarning
from biobench_tasks.imagenet1k import GROUND_TRUTH, LOC_SOLUTION, ImageNet1K, imagenet_classes
from biobench_tasks.samples.imagenet1k import CLASSES, KAGGLE, make_imagenet, write_shard

pa = pytest.importorskip("pyarrow")
pq = pytest.importorskip("pyarrow.parquet")

SPEC = next(spec for spec in biobench_tasks() if spec.id == "tasks/imagenet-1k")
LAYOUTS = ("devkit", "folders", "kaggle", "parquet")


def build(root: Path, **settings: str) -> ImageNet1K:
    return ImageNet1K(SPEC, root, settings)


def labels_by_id(task: ImageNet1K, split: str) -> dict[str, int]:
    return {ex.id: ex.label for ex in task.examples(split)}


# -- the class list ------------------------------------------------------------------------------------------------


def test_the_class_list_is_imagenets():
    classes = imagenet_classes()
    assert len(classes.wnids) == 1000 and list(classes.wnids) == sorted(classes.wnids)
    assert sorted(classes.ilsvrc_ids) == list(range(1, 1001))
    for wnid, ilsvrc, label in CLASSES:
        assert classes.wnids[label] == wnid and classes.ilsvrc_ids[label] == ilsvrc
    assert classes.names[:3] == ("tench", "goldfish", "great white shark") and classes.names[999] == "toilet tissue"
    assert len(set(classes.names)) == 1000  # the two cranes and the two maillots carry their wnid
    assert "crane (n02012849)" in classes.names and "crane (n03126707)" in classes.names


# -- end to end ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("layout", ["devkit", "parquet"])
def test_imagenet1k_end_to_end_is_prior_work(tmp_path, run_task, layout):
    run, report = run_task("tasks/imagenet-1k", make_imagenet(tmp_path / "imagenet-1k", layout))
    assert run.returncode == 0, run.stderr
    [cell] = report["results"]
    assert cell["metric"] == "accuracy" and cell["score"] >= 0.9  # chance is 0.25
    assert cell["splits"] == {}
    [column] = [c for c in report["columns"] if c["task"] == "tasks/imagenet-1k"]
    assert column["prior_work"] is True and column["in_benchmark"] is False


# -- the layouts -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("layout", LAYOUTS)
def test_every_layout_gives_the_same_labels(tmp_path, layout):
    task = build(make_imagenet(tmp_path, layout))
    assert len(task.class_names) == 1000 and task.class_names[278] == "kit fox"
    train, test = labels_by_id(task, "train"), labels_by_id(task, "test")
    assert len(train) == 24 and len(test) == 12
    assert train["n02119789_0.JPEG"] == 278 and train["n01440764_5.JPEG"] == 0
    # the devkit numbers its validation images: image 3 is the third class, image 4 the fourth
    assert test["ILSVRC2012_val_00000003.JPEG"] == 65 and test["ILSVRC2012_val_00000004.JPEG"] == 278
    assert sorted(set(test.values())) == [0, 1, 65, 278]
    image = task.load(task.examples("test")[0])
    assert image.mode == "RGB" and image.size == (24, 20)


def test_parquet_images_decode_to_the_same_pixels_as_the_files(tmp_path):
    """Across shards and row groups, in and out of order, each example is its own row's image."""
    folders = build(make_imagenet(tmp_path / "a", "folders"))
    files = {ex.id: np.asarray(folders.load(ex)) for split in ("train", "test") for ex in folders.examples(split)}
    parquet = build(make_imagenet(tmp_path / "b", "parquet"))
    examples = [*parquet.examples("train"), *parquet.examples("test")]
    assert len({ex.source for ex in examples}) == 3
    for ex in [*examples, *reversed(examples)]:
        decoded = np.asarray(parquet.load(ex))
        assert decoded.shape == (20, 24, 3)
        assert np.abs(decoded.astype(int) - files[ex.id]).mean() < 40  # the same class colour (noise differs)
    first = examples[0]
    assert np.array_equal(np.asarray(parquet.load(first)), np.asarray(build(tmp_path / "b").load(first)))


def test_a_parquet_task_loads_in_another_process(tmp_path):
    """DataLoader workers get the task pickled (spawn) or inherited (fork, with the shard the parent has open):
    its shard reader starts afresh there."""
    import multiprocessing
    import pickle

    task = build(make_imagenet(tmp_path, "parquet"))
    example, other = task.examples("test")[5], task.examples("train")[0]
    expected = np.asarray(task.load(example))  # opens the shard here first
    assert np.array_equal(np.asarray(pickle.loads(pickle.dumps(task)).load(example)), expected)
    with multiprocessing.get_context("spawn").Pool(1) as pool:
        assert np.array_equal(pool.apply(_load_pixels, (task, example)), expected)
    fork = multiprocessing.get_context("fork")
    results = fork.SimpleQueue()
    child = fork.Process(target=_put_pixels, args=(task, [other, example], results))  # inherited, not pickled
    child.start()
    child.join(60)
    assert child.exitcode == 0 and np.array_equal(results.get()[1], expected)
    assert np.array_equal(np.asarray(task.load(example)), expected)  # the parent's reader is untouched


def _load_pixels(task, example):
    return np.asarray(task.load(example))


def _put_pixels(task, examples, results):
    results.put([np.asarray(task.load(example)) for example in examples])


def test_parquet_ids_without_paths_are_shard_and_row(tmp_path):
    root = make_imagenet(tmp_path, "parquet")
    shard = root / "data" / "validation-00000-of-00001.parquet"
    table = pq.read_table(shard)
    images = [{"bytes": image["bytes"], "path": None} for image in table.column("image").to_pylist()]
    write_shard(shard, list(zip(images, table.column("label").to_pylist())))
    task = build(root)
    ids = [ex.id for ex in task.examples("test")]
    assert ids[:2] == ["validation-00000-of-00001.parquet#0", "validation-00000-of-00001.parquet#1"]
    assert task.load(task.examples("test")[11]).mode == "RGB"


def test_the_manifest_sees_a_rewritten_shard(tmp_path):
    root = make_imagenet(tmp_path, "parquet")
    before = build(root).manifest("test")
    assert build(root).manifest("test") == before
    shard = root / "data" / "validation-00000-of-00001.parquet"
    stat = shard.stat()
    os.utime(shard, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))  # same ids and labels, new content stamp
    assert build(root).manifest("test") != before


def test_n_train_is_class_balanced(tmp_path):
    task = build(make_imagenet(tmp_path, "parquet"), n_train="8")
    chosen = task.chosen_examples("train")
    assert len(chosen) == 8 and sorted(ex.label for ex in chosen) == [0, 0, 1, 1, 65, 65, 278, 278]


@pytest.mark.parametrize("layout", ["devkit", "parquet"])
def test_conformance_kit(tmp_path, layout):
    from biobench_core.testing import check_task

    check_task("tasks/imagenet-1k", data=make_imagenet(tmp_path, layout)).assert_ok()


@pytest.mark.parametrize("layout", LAYOUTS)
def test_data_check_reads_every_layout(tmp_path, layout):
    root = make_imagenet(tmp_path / "in1k", layout)
    proc = cli_in_process("data", "check", "tasks/imagenet-1k", str(root))
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == f"tasks/imagenet-1k: ok: 24 train, 12 test examples, 1000 classes in {root}"


def test_data_fetch_prints_the_manual_steps(tmp_path):
    proc = cli_in_process("data", "fetch", "tasks/imagenet-1k", "--to", str(tmp_path / "in1k"))
    assert proc.returncode == 2, proc.stderr
    assert "image-net.org" in proc.stdout and "ILSVRC2012_devkit_t12.tar.gz" in proc.stdout
    assert "huggingface-cli download ILSVRC/imagenet-1k" in proc.stdout


def test_no_warning_on_clean_data(tmp_path):
    for layout in LAYOUTS:
        data = make_imagenet(tmp_path / layout, layout, n_train=2, n_val=1)
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            build(data)


# -- bad input -------------------------------------------------------------------------------------------------------


def one_line(proc) -> str:
    assert proc.returncode != 0 and "Traceback" not in proc.stderr, proc.stderr
    [line] = proc.stderr.splitlines()
    return line


def test_a_folder_missing_its_validation_labels_is_one_line_naming_the_folder_and_the_file(tmp_path,
                                                                                          run_task):
    root = make_imagenet(tmp_path / "in1k", "devkit")
    shutil.rmtree(root / "ILSVRC2012_devkit_t12")
    for proc in (cli_in_process("data", "check", "tasks/imagenet-1k", str(root)),
                 run_task("tasks/imagenet-1k", root)[0]):
        line = one_line(proc)
        assert f"{root / 'val'}: 12 validation images but no validation labels" in line, line
        assert (f"expected the ILSVRC2012 devkit's {GROUND_TRUTH} in {root} or {root / 'ILSVRC2012_devkit_t12/data'}, "
                f"Kaggle's {LOC_SOLUTION} in {root}, or the images in val/<wnid>/ folders") in line, line


def test_parquet_shards_without_the_image_column_are_one_line_naming_the_shard_and_the_columns(tmp_path, run_task):
    shard = tmp_path / "in1k" / "data" / "train-00000-of-00001.parquet"
    shard.parent.mkdir(parents=True)
    pq.write_table(pa.table({"img": pa.array([b"x"]), "label": pa.array([0])}), shard)
    write_shard(shard.with_name("validation-00000-of-00001.parquet"), [({"bytes": b"x", "path": "v.JPEG"}, 0)])
    root = tmp_path / "in1k"
    for proc in (cli_in_process("data", "check", "tasks/imagenet-1k", str(root)),
                 run_task("tasks/imagenet-1k", root)[0]):
        line = one_line(proc)
        assert f"{shard}: no 'image' column (columns found: img, label)" in line, line


def test_without_pyarrow_the_parquet_layout_names_the_extra(tmp_path, monkeypatch):
    root = make_imagenet(tmp_path / "in1k", "parquet")
    monkeypatch.setitem(sys.modules, "pyarrow.parquet", None)  # what an environment without pyarrow imports
    line = one_line(cli_in_process("data", "check", "tasks/imagenet-1k", str(root)))
    assert "needs pyarrow" in line and "pip install 'biobench-tasks[parquet]'" in line, line


def test_no_data_at_all_names_both_layouts(tmp_path):
    (tmp_path / "in1k").mkdir()
    with pytest.raises(TaskDataError, match=r"in1k: no ImageNet-1K data: expected train/<wnid>/\*\.JPEG and val/ .* "
                                            r"data/train-\*\.parquet and data/validation-\*\.parquet"):
        build(tmp_path / "in1k")


def test_train_shards_without_validation_shards(tmp_path):
    root = make_imagenet(tmp_path, "parquet")
    (root / "data" / "validation-00000-of-00001.parquet").unlink()
    with pytest.raises(TaskDataError, match=r"data: 2 train-\*\.parquet shards but no validation-\*\.parquet"):
        build(root)


def test_a_test_shard_label_is_refused_naming_shard_and_row(tmp_path):
    root = make_imagenet(tmp_path, "parquet")
    shard = root / "data" / "validation-00000-of-00001.parquet"
    rows = [({"bytes": b"x", "path": f"t{i}.JPEG"}, -1 if i == 2 else 0) for i in range(4)]
    write_shard(shard, rows)
    with pytest.raises(TaskDataError, match=r"validation-00000-of-00001.parquet row 2: label -1 is not an "
                                            r"ImageNet-1K class \(0-999\) \(an unlabelled test shard\?\)"):
        build(root)


def test_a_train_folder_that_is_not_a_wnid(tmp_path, synth_image):
    root = make_imagenet(tmp_path, "devkit")
    synth_image(root / "train" / "n0144076" / "x.JPEG", 0, 4)
    with pytest.raises(TaskDataError, match=r"train/n0144076: 'n0144076' is not one of the 1,000 ILSVRC2012 wnids"):
        build(root)


def test_a_bad_ground_truth_line_and_an_image_it_does_not_reach(tmp_path):
    root = make_imagenet(tmp_path, "devkit")
    gt = root / "ILSVRC2012_devkit_t12" / "data" / GROUND_TRUTH
    lines = gt.read_text().splitlines()
    gt.write_text("\n".join([*lines[:4], "1001", *lines[5:]]) + "\n")
    with pytest.raises(TaskDataError, match=rf"{GROUND_TRUTH} line 5: '1001' is not an ILSVRC2012_ID \(1-1000\)"):
        build(root)
    gt.write_text("\n".join(lines[:10]) + "\n")
    with pytest.raises(TaskDataError, match=rf"val/ILSVRC2012_val_00000011.JPEG: no label for it in .*{GROUND_TRUTH}"):
        build(root)


def test_labelled_validation_images_missing_from_the_folder_are_named_in_a_warning(tmp_path):
    root = make_imagenet(tmp_path, "kaggle")
    (root / KAGGLE / "val" / "ILSVRC2012_val_00000012.JPEG").unlink()
    with pytest.warns(DataWarning, match=rf"{LOC_SOLUTION}: 1 of its 12 labelled validation images are not in"):
        task = build(root)
    assert len(task.examples("test")) == 11


def test_a_loose_image_beside_wnid_folders_is_skipped_with_a_warning(tmp_path, synth_image):
    root = make_imagenet(tmp_path, "folders")
    synth_image(root / "val" / "stray.JPEG", 0, 4)
    with pytest.warns(DataWarning, match=r"val: 1 images beside its <wnid>/ folders skipped \(e.g. stray.JPEG\)"):
        task = build(root)
    assert len(task.examples("test")) == 12


def test_an_undecodable_parquet_image_names_the_shard_and_row(tmp_path):
    root = make_imagenet(tmp_path, "parquet")
    shard = root / "data" / "validation-00000-of-00001.parquet"
    table = pq.read_table(shard)
    images = table.column("image").to_pylist()
    images[1] = {"bytes": b"not a jpeg", "path": images[1]["path"]}
    write_shard(shard, list(zip(images, table.column("label").to_pylist())))
    task = build(root)
    with pytest.raises(TaskDataError, match=r"validation-00000-of-00001.parquet row 1 "
                                            r"\(ILSVRC2012_val_00000002.JPEG\): cannot decode image: "
                                            r"UnidentifiedImageError"):
        task.load(task.examples("test")[1])
