"""tasks/iwildcam: WILDS v2.0's layout (iwildcam_v2.0/metadata.csv + train/<filename>) in miniature, end to end
and malformed; the macro-F1 over present classes against scikit-learn."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest
from sklearn.metrics import f1_score

from biobench_core import TaskDataError, metric_replicates, metric_score
from biobench_tasks import biobench_tasks
from biobench_tasks._formats import DataWarning
from biobench_tasks.iwildcam import IWildCam, macro_f1_present, macro_f1_present_replicates
from biobench_tasks.samples.iwildcam import CLASSES, make_iwildcam

SPEC = next(spec for spec in biobench_tasks() if spec.id == "tasks/iwildcam")
METRIC = "macro-f1-present"


def build(root: Path, **settings: str) -> IWildCam:
    return IWildCam(SPEC, root, settings)


def test_iwildcam_end_to_end_scores_macro_f1_with_location_splits(tmp_path, run_task):
    data = make_iwildcam(tmp_path / "iwildcam")
    run, report = run_task("tasks/iwildcam", data)
    assert run.returncode == 0, run.stderr
    [cell] = report["results"]
    assert cell["metric"] == METRIC and cell["score"] >= 0.9  # chance is about 0.25
    assert set(cell["splits"]) == {"location:5", "location:6"}
    assert all(score >= 0.8 for score in cell["splits"].values())


def test_ids_labels_groups_and_class_names(tmp_path):
    task = build(make_iwildcam(tmp_path))
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


def test_conformance_kit(tmp_path):
    from biobench_core.testing import check_task

    check_task("tasks/iwildcam", data=make_iwildcam(tmp_path)).assert_ok()


# -- malformed data ----------------------------------------------------------------------------------------------------


def test_unknown_split_value(tmp_path):
    def edit(rows):
        rows[3]["split"] = "validation"
        return rows

    with pytest.raises(TaskDataError, match=r"metadata.csv row 5: unknown split 'validation' \(expected one of train, "
                                            r"val, test, id_val, id_test\)") as info:
        build(make_iwildcam(tmp_path, edit=edit))
    assert "\n" not in str(info.value)


def test_missing_column(tmp_path):
    data = make_iwildcam(tmp_path, edit=lambda rows: [{k: v for k, v in r.items() if k != "y"}
                                                                   for r in rows])
    with pytest.raises(TaskDataError, match=r"iwildcam_v2.0/metadata.csv: missing column 'y'"):
        build(data)


def test_missing_image(tmp_path):
    data = make_iwildcam(tmp_path)
    (data / "iwildcam_v2.0" / "train" / "te50120-8b31d3be-21bc-11ea.jpg").unlink()
    with pytest.raises(TaskDataError, match=r"metadata.csv row \d+: image not found: .*te50120-8b31d3be-21bc-11ea.jpg"):
        build(data)


def test_missing_folder(tmp_path):
    (tmp_path / "elsewhere").mkdir()
    with pytest.raises(TaskDataError, match=r"iwildcam_v2.0: missing folder: expected iwildcam_v2.0/metadata.csv"):
        build(tmp_path)


def test_bad_label(tmp_path):
    def edit(rows):
        rows[0]["y"] = "zebra"
        return rows

    with pytest.raises(TaskDataError, match=r"metadata.csv row 2: y 'zebra' is not a class index"):
        build(make_iwildcam(tmp_path, edit=edit))


def test_test_class_absent_from_train_is_kept_with_a_warning(tmp_path):
    def edit(rows):
        return [r for r in rows if not (r["split"] == "train" and r["y"] == "12")]

    data = make_iwildcam(tmp_path, edit=edit)
    with pytest.warns(DataWarning, match=r"metadata.csv: 4 test images of 1 classes without train images \(e.g. "
                                         r"y=12, .*\): they count in macro-F1 and score 0, as in WILDS"):
        task = build(data)
    assert sum(ex.label == 12 for ex in task.examples("test")) == 4
    assert task.open_set  # so that a run keeps them too: the core refuses unseen test labels otherwise


def test_no_warning_on_clean_data(tmp_path):
    data = make_iwildcam(tmp_path)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        build(data)
