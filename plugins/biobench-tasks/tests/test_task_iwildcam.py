"""tasks/iwildcam: WILDS v2.0's layout (iwildcam_v2.0/metadata.csv + train/<filename>) in miniature, end to end
and malformed; the macro-F1 over present classes against scikit-learn."""

from __future__ import annotations

import csv
import warnings
from pathlib import Path

import numpy as np
import pytest
from sklearn.metrics import f1_score

from biobench_core import TaskDataError, metric_replicates, metric_score
from biobench_tasks import biobench_tasks
from biobench_tasks._formats import DataWarning
from biobench_tasks.iwildcam import IWildCam, macro_f1_present, macro_f1_present_replicates

SPEC = next(spec for spec in biobench_tasks() if spec.id == "tasks/iwildcam")
METRIC = "macro-f1-present"
CLASSES = (0, 3, 7, 12)  # WILDS's y is a class index; not every index has images
HEADER = ["", "split", "location_remapped", "location", "sequence_remapped", "sequence", "datetime", "y",
          "category_id", "filename", "image_id"]


def make_iwildcam(root: Path, synth_image, *, edit=None) -> Path:
    """Train at locations 1-2, test (out of distribution) at locations 5-6, plus val/id_val/id_test rows whose
    images do not exist (they are not used). ``edit(rows)`` may change the rows before they are written."""
    base = root / "iwildcam_v2.0"
    rows = []
    plan = [("train", loc, 4) for loc in (1, 2)] + [("test", loc, 2) for loc in (5, 6)]
    plan += [("val", 3, 1), ("id_val", 1, 1), ("id_test", 2, 1)]
    for split, location, n in plan:
        for c, y in enumerate(CLASSES):
            for i in range(n):
                name = f"{split[:2]}{location}{y:03d}{i}-8b31d3be-21bc-11ea.jpg"
                if split in ("train", "test"):
                    synth_image(base / "train" / name, c, len(CLASSES), seed=i + 10 * location)
                rows.append({"": str(len(rows)), "split": split, "location_remapped": str(location),
                             "location": str(100 + location), "sequence_remapped": str(location * 10 + i),
                             "sequence": f"seq{location}{i}", "datetime": "2013-06-09 16:01:38.000", "y": str(y),
                             "category_id": str(1000 + y), "filename": name, "image_id": name[:-4]})
    if edit is not None:
        rows = edit(rows)
    base.mkdir(parents=True, exist_ok=True)
    with open(base / "metadata.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    with open(base / "categories.csv", "w", newline="") as f:
        f.write("y,category_id,name\n" + "".join(f"{y},{1000 + y},species {y}\n" for y in CLASSES))
    return root


def build(root: Path, **settings: str) -> IWildCam:
    return IWildCam(SPEC, root, settings)


def test_iwildcam_end_to_end_scores_macro_f1_with_location_splits(tmp_path, run_task, synth_image):
    data = make_iwildcam(tmp_path / "iwildcam", synth_image)
    run, report = run_task("tasks/iwildcam", data)
    assert run.returncode == 0, run.stderr
    [cell] = report["results"]
    assert cell["metric"] == METRIC and cell["score"] >= 0.9  # chance is about 0.25
    assert set(cell["splits"]) == {"location:5", "location:6"}
    assert all(score >= 0.8 for score in cell["splits"].values())


def test_ids_labels_groups_and_class_names(tmp_path, synth_image):
    task = build(make_iwildcam(tmp_path, synth_image))
    train, test = task.examples("train"), task.examples("test")
    assert len(train) == 2 * 4 * 4 and len(test) == 2 * 4 * 2  # val, id_val and id_test are not used
    assert train[0].id == "tr10000-8b31d3be-21bc-11ea.jpg" and train[0].label == 0 and train[0].group == "location:1"
    assert {ex.label for ex in test} == set(CLASSES)
    assert task.class_names[7] == "species 7" and len(task.class_names) == 13
    assert task.load(test[0]).mode == "RGB"


# -- the metric -----------------------------------------------------------------------------------------------------


def _reference(t, p):
    return f1_score(t, p, labels=np.unique(t), average="macro", zero_division=0)


def test_macro_f1_present_matches_sklearn():
    rng = np.random.default_rng(0)
    for trial in range(30):
        n = int(rng.integers(1, 60))
        t = rng.integers(0, 8, n)
        p = np.where(rng.random(n) < 0.5, t, rng.integers(-1, 11, n))  # -1 and classes absent from the truth
        assert macro_f1_present(t, p) == pytest.approx(_reference(t, p), abs=1e-12)
        assert metric_score(METRIC, t, p) == pytest.approx(_reference(t, p), abs=1e-12)


def test_macro_f1_present_replicates_match_sklearn_on_resamples():
    rng = np.random.default_rng(1)
    n = 50
    t = rng.integers(0, 6, n)
    p = np.where(rng.random(n) < 0.6, t, rng.integers(-1, 9, n))
    index = rng.integers(0, n, (40, n))
    weights = np.stack([np.bincount(row, minlength=n) for row in index]).astype(float)
    expected = [_reference(t[row], p[row]) for row in index]
    np.testing.assert_allclose(macro_f1_present_replicates(t, p, weights), expected, atol=1e-12)
    np.testing.assert_allclose(metric_replicates(METRIC, t, p, None, index), expected, atol=1e-12)


def test_conformance_kit(tmp_path, synth_image):
    from biobench_core.testing import check_task

    check_task("tasks/iwildcam", data=make_iwildcam(tmp_path, synth_image)).assert_ok()


# -- malformed data ----------------------------------------------------------------------------------------------------


def test_unknown_split_value(tmp_path, synth_image):
    def edit(rows):
        rows[3]["split"] = "validation"
        return rows

    with pytest.raises(TaskDataError, match=r"metadata.csv row 5: unknown split 'validation' \(expected one of train, "
                                            r"val, test, id_val, id_test\)") as info:
        build(make_iwildcam(tmp_path, synth_image, edit=edit))
    assert "\n" not in str(info.value)


def test_missing_column(tmp_path, synth_image):
    data = make_iwildcam(tmp_path, synth_image, edit=lambda rows: [{k: v for k, v in r.items() if k != "y"}
                                                                   for r in rows])
    with pytest.raises(TaskDataError, match=r"iwildcam_v2.0/metadata.csv: missing column 'y'"):
        build(data)


def test_missing_image(tmp_path, synth_image):
    data = make_iwildcam(tmp_path, synth_image)
    (data / "iwildcam_v2.0" / "train" / "te50120-8b31d3be-21bc-11ea.jpg").unlink()
    with pytest.raises(TaskDataError, match=r"metadata.csv row \d+: image not found: .*te50120-8b31d3be-21bc-11ea.jpg"):
        build(data)


def test_missing_folder(tmp_path):
    (tmp_path / "elsewhere").mkdir()
    with pytest.raises(TaskDataError, match=r"iwildcam_v2.0: missing folder: expected iwildcam_v2.0/metadata.csv"):
        build(tmp_path)


def test_bad_label(tmp_path, synth_image):
    def edit(rows):
        rows[0]["y"] = "zebra"
        return rows

    with pytest.raises(TaskDataError, match=r"metadata.csv row 2: y 'zebra' is not a class index"):
        build(make_iwildcam(tmp_path, synth_image, edit=edit))


def test_test_class_absent_from_train_is_kept_with_a_warning(tmp_path, synth_image):
    def edit(rows):
        return [r for r in rows if not (r["split"] == "train" and r["y"] == "12")]

    data = make_iwildcam(tmp_path, synth_image, edit=edit)
    with pytest.warns(DataWarning, match=r"metadata.csv: 4 test images of 1 classes without train images \(e.g. "
                                         r"y=12, .*\): they count in macro-F1 and score 0, as in WILDS"):
        task = build(data)
    assert sum(ex.label == 12 for ex in task.examples("test")) == 4


def test_no_warning_on_clean_data(tmp_path, synth_image):
    data = make_iwildcam(tmp_path, synth_image)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        build(data)
