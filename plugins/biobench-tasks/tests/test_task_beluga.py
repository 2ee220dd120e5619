"""tasks/beluga: Beluga ID 2022's COCO layout in miniature, end to end and malformed; the leave-one-out k-NN
against scikit-learn's ``KNeighborsClassifier.predict(None)``."""

from __future__ import annotations

import shutil
import warnings
from pathlib import Path

import numpy as np
import pytest
from sklearn.neighbors import KNeighborsClassifier

from biobench_core import SettingsError, SplitFeatures, TaskDataError
from biobench_tasks import biobench_tasks
from biobench_tasks._formats import DataWarning
from biobench_tasks.beluga import ANNOTATIONS, IMAGES, Beluga, loo_knn
from biobench_tasks.samples.beluga import PER_WHALE, WHALES, make_beluga

SPEC = next(spec for spec in biobench_tasks() if spec.id == "tasks/beluga")


def build(root: Path, **settings: str) -> Beluga:
    return Beluga(SPEC, root, settings)


def test_beluga_end_to_end_leave_one_out_with_splits(tmp_path, run_task):
    data = make_beluga(tmp_path / "beluga")
    run, report = run_task("tasks/beluga", data)
    assert run.returncode == 0, run.stderr
    [cell] = report["results"]
    assert cell["metric"] == "macro-f1-all[4]" and cell["score"] >= 0.9  # chance is about 0.25
    assert set(cell["splits"]) == {"top1-accuracy", "viewpoint:top", "viewpoint:left"}
    assert cell["splits"]["top1-accuracy"] >= 0.9


def test_examples_ids_labels_groups_and_rgb(tmp_path):
    data = make_beluga(tmp_path)
    from PIL import Image

    Image.open(data / IMAGES / "000000001000.jpg").convert("L").save(data / IMAGES / "000000001000.jpg")
    task = build(data)
    train, test = task.examples("train"), task.examples("test")
    assert train == test and len(test) == len(WHALES) * PER_WHALE  # gallery and queries: every image
    first = test[0]
    assert first.id == "000000001000.jpg" and first.label == 0 and first.group == "viewpoint:top"
    assert task.class_names == sorted(WHALES)
    assert task.load(first).mode == "RGB"
    assert len(task.chosen_examples("train")) == 20
    subset = build(data, n_train="8").chosen_examples("train")
    assert len(subset) == 8 and sorted({ex.label for ex in subset}) == [0, 1, 2, 3]  # balanced over whales
    assert len(build(data, n_train="8").chosen_examples("test")) == 20  # every image is still a query


def test_probe_setting_is_refused(tmp_path):
    with pytest.raises(SettingsError, match="unknown setting 'probe'"):
        build(make_beluga(tmp_path), probe="logreg")


# -- the protocol ---------------------------------------------------------------------------------------------------


def test_loo_knn_matches_sklearn_predict_none():
    rng = np.random.default_rng(0)
    for trial in range(20):
        n, dim, n_classes = int(rng.integers(6, 40)), int(rng.integers(2, 6)), int(rng.integers(2, 6))
        X = rng.standard_normal((n, dim)).astype(np.float32)
        y = rng.integers(0, n_classes, n) * 3 + 1  # labels need not be 0..k-1
        expected = KNeighborsClassifier(n_neighbors=5).fit(X, y).predict(None)
        got = loo_knn(X, y, np.arange(n), X, np.arange(n), k=5)
        np.testing.assert_array_equal(got, expected)


def test_loo_knn_vote_tie_goes_to_lowest_label_and_self_never_votes():
    X = np.array([[0.0], [1.0], [2.0], [3.0], [4.0], [10.0]], dtype=np.float32)
    y = np.array([5, 5, 2, 2, 9, 9])
    # Row 0's neighbours, itself excluded: rows 1-5 with labels 5, 2, 2, 9, 9: a tie between 2 and 9 goes to 2.
    pred = loo_knn(X, y, np.arange(6), X, np.arange(6), k=5)
    assert pred[0] == 2
    assert pred[0] == KNeighborsClassifier(n_neighbors=5).fit(X, y).predict(None)[0]
    one = loo_knn(X, y, np.arange(6), X, np.arange(6), k=1)
    np.testing.assert_array_equal(one, [5, 5, 5, 2, 2, 9])  # 1-NN without itself; row 2's tie goes to row 1
    alone = loo_knn(X[:1], y[:1], np.array([0]), X[:1], np.array([0]), k=5)
    assert alone.tolist() == [-1]  # nothing but itself in the gallery: no prediction


def test_byte_identical_copy_never_votes_for_its_original(tmp_path):
    data = make_beluga(tmp_path)
    shutil.copyfile(data / IMAGES / "000000001000.jpg", data / IMAGES / "copy.jpg")

    def edit(coco):
        coco["images"].append({"file_name": "copy.jpg", "id": 1, "height": 20, "width": 24})
        coco["annotations"].append({"id": 99, "image_id": 1, "name": WHALES[0], "viewpoint": "top"})
        return coco

    make_beluga(tmp_path, edit=edit)
    task = build(data)  # copies are found before the first evaluation, not while indexing
    with pytest.warns(DataWarning, match=r"1 images are byte-identical copies of others \(e.g. copy.jpg = "
                                         r"000000001000.jpg\): a query's copies never vote for it"):
        assert task._copy_of == {"copy.jpg": "000000001000.jpg"}
    examples = list(task.examples("test"))
    # On a line: the original and its copy at 0; then whale 1, 1, 0, 0, 1 at 1..5; everything else far away. The
    # copy's 5 neighbours would be the original and 1, 1, 0, 0 (whale 0 wins); without the original they are
    # 1, 1, 0, 0, 1 (whale 1 wins).
    place = {"000000001000.jpg": 0, "copy.jpg": 0, "000000001010.jpg": 1, "000000001011.jpg": 2,
             "000000001001.jpg": 3, "000000001002.jpg": 4, "000000001012.jpg": 5}
    X = np.array([[place.get(ex.id, 1000 + 10 * i)] for i, ex in enumerate(examples)], dtype=np.float32)
    features = SplitFeatures(examples, X)
    result = task.evaluate(features, features)
    pred = {ex_id: info["pred"] for ex_id, _, info in result.examples}
    assert pred["copy.jpg"] == 1 and pred["000000001000.jpg"] == 1
    plain = loo_knn(X, features.labels, np.arange(len(X)), X, np.arange(len(X)), k=5)  # index-only exclusion
    assert plain[[ex.id for ex in examples].index("copy.jpg")] == 0


def test_evaluate_gallery_subsample_scores_every_query(tmp_path):
    task = build(make_beluga(tmp_path), n_train="16")
    train, test = task.chosen_examples("train"), task.chosen_examples("test")
    rng = np.random.default_rng(0)
    centres = rng.standard_normal((len(WHALES), 4)) * 10

    def feats(examples):
        return SplitFeatures(list(examples), np.array([centres[ex.label] + rng.standard_normal(4) * 0.1
                                                       for ex in examples], dtype=np.float32))

    result = task.evaluate(feats(train), feats(test))
    assert [ex_id for ex_id, _, _ in result.examples] == [ex.id for ex in test]
    # Four gallery images per whale: a query in the gallery has 3 of its own among its 5 neighbours, one outside 4.
    assert all(score == 1.0 for _, score, _ in result.examples)
    assert result.probe["gallery"] == 16 and result.splits["top1-accuracy"] == 1.0


def test_conformance_kit_passes_a_declared_leave_one_out_task(tmp_path):
    from biobench_core.testing import check_task

    report = check_task("tasks/beluga", data=make_beluga(tmp_path))
    assert report.ok, report.format()
    assert "leave-one-out" in [c.name for c in report.checks]


# -- malformed data ----------------------------------------------------------------------------------------------------


def _edit_annotations(change):
    def edit(coco):
        change(coco)
        return coco
    return edit


@pytest.mark.parametrize(("change", "message"), [
    (lambda c: c["annotations"].append({"id": 50, "image_id": 1003, "name": WHALES[1]}),
     r"instances_train2022.json images\[3\] \(000000001003.jpg\): 2 annotations \(annotations\[3, 20\]\); "
     r"expected exactly one per image"),
    (lambda c: c["annotations"].pop(5),
     r"instances_train2022.json images\[5\] \(000000001010.jpg\): 0 annotations; expected exactly one per image"),
    (lambda c: c["annotations"][2].pop("name"), r"instances_train2022.json annotations\[2\]: missing 'name'"),
    (lambda c: c["annotations"][4].update(image_id=77),
     r"instances_train2022.json annotations\[4\]: image_id 77 is not the id of any image in 'images'"),
    (lambda c: c["images"][1].pop("file_name"), r"instances_train2022.json images\[1\]: missing 'file_name'"),
    (lambda c: c["images"][1].update(file_name="000000001000.jpg"),
     r"instances_train2022.json images\[1\]: duplicate file_name 000000001000.jpg \(first at images\[0\]\)"),
    (lambda c: c.pop("annotations"),
     r"instances_train2022.json: missing key 'annotations' \(a COCO file has 'images' and 'annotations'\)"),
])
def test_malformed_annotations(tmp_path, change, message):
    data = make_beluga(tmp_path, edit=_edit_annotations(change))
    with pytest.raises(TaskDataError, match=message) as info:
        build(data)
    assert "\n" not in str(info.value)


def test_missing_image(tmp_path):
    data = make_beluga(tmp_path)
    (data / IMAGES / "000000001012.jpg").unlink()
    with pytest.raises(TaskDataError, match=r"images\[7\] \(000000001012.jpg\): image not found: .*train2022/"
                                            r"000000001012.jpg"):
        build(data)


def test_missing_annotation_file_and_bad_json(tmp_path):
    data = make_beluga(tmp_path)
    (data / ANNOTATIONS).write_text('{"images": [')
    with pytest.raises(TaskDataError, match=r"instances_train2022.json: not valid JSON: .* at line 1"):
        build(data)
    (data / ANNOTATIONS).unlink()
    with pytest.raises(TaskDataError, match=r"instances_train2022.json: file not found"):
        build(data)


def test_missing_images_folder(tmp_path):
    data = make_beluga(tmp_path)
    shutil.rmtree(data / IMAGES)
    with pytest.raises(TaskDataError, match=r"train2022: missing folder: expected beluga.coco/images/train2022/"):
        build(data)


def test_no_warning_on_clean_data(tmp_path):
    data = make_beluga(tmp_path)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        build(data)
