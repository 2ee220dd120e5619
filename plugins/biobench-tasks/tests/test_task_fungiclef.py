"""tasks/fungiclef: FungiCLEF 2023's layout in miniature (two metadata CSVs, DF20_300/, DF21_300/, the poison list),
end to end and malformed; the cost score against a hand computation and against the competition's formulas;
macro-F1 against scikit-learn; the open-set rule against scikit-learn's Ledoit-Wolf and a brute-force distance."""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import numpy as np
import pytest
from sklearn.covariance import ledoit_wolf
from sklearn.metrics import f1_score

from biobench_core import SplitFeatures, TaskDataError, metric_replicates, metric_score
from biobench_tasks import biobench_tasks
from biobench_tasks._formats import DataWarning
from biobench_tasks.fungiclef import (POISON_CSV, TRAIN_CSV, TRAIN_DIR, UNKNOWN, VAL_CSV, VAL_DIR, FungiCLEF,
                                      cost_score, decode, encode, fit_open_set, within_class_covariance)
from biobench_tasks.samples.fungiclef import FRAMES, PER_CLASS, csv_row, make_fungiclef

SPEC = next(spec for spec in biobench_tasks() if spec.id == "tasks/fungiclef")
METRIC = "fungiclef-cost-score"


def build(root: Path, **settings: str) -> FungiCLEF:
    return FungiCLEF(SPEC, root, settings)


def test_fungiclef_end_to_end_cost_score_with_splits(tmp_path, run_task):
    data = make_fungiclef(tmp_path / "fungiclef")
    run, report = run_task("tasks/fungiclef", data)
    assert run.returncode == 0, run.stderr
    [cell] = report["results"]
    assert cell["metric"] == METRIC and cell["score"] >= 0.9  # random guessing scores about 0.5
    assert set(cell["splits"]) == {"macro-f1", "known", "unknown"}
    assert cell["splits"]["macro-f1"] >= 0.7 and cell["splits"]["unknown"] >= 0.9


def test_examples_labels_frames_and_groups(tmp_path):
    task = build(make_fungiclef(tmp_path))
    train, test = task.examples("train"), task.examples("test")
    assert len(train) == 4 * PER_CLASS and len(test) == 11
    assert train[0].id == "2-2237850000.JPG" and decode(train[0].label) == (0, False)
    assert {decode(ex.label) for ex in train} == {(0, False), (3, True), (7, False), (12, True)}
    lower = next(ex for ex in train if decode(ex.label)[0] == 7)
    assert lower.id.endswith(".JPG") and lower.source.endswith(".jpg")  # found in lower case, as in BioBench
    obs = test[0]
    assert obs.id == "3000100" and obs.label == encode(0, False) == 2 and obs.group == "known"
    frames = task.load(obs)
    assert isinstance(frames, list) and len(frames) == FRAMES and all(f.mode == "RGB" for f in frames)
    assert task.load(train[0]).mode == "RGB"
    unknown = [ex for ex in test if ex.group == "unknown"]
    assert len(unknown) == 3 and {ex.label for ex in unknown} == {UNKNOWN}
    assert task.frame_pooling == "mean"


def test_manifest_sees_every_frame(tmp_path):
    data = make_fungiclef(tmp_path)
    task = build(data)
    before = task.manifest("test")
    second = data / VAL_DIR / "3000100-1.JPG"
    os.utime(second, ns=(second.stat().st_atime_ns, second.stat().st_mtime_ns + 10**9))
    assert task.manifest("test") != before
    assert task.manifest("train") == build(data).manifest("train")


def test_conformance_kit_passes_a_declared_open_set_task(tmp_path):
    from biobench_core.testing import check_task

    report = check_task("tasks/fungiclef", data=make_fungiclef(tmp_path))
    assert report.ok, report.format()  # unknown species are never in train: declared open_set
    [check] = [c for c in report.checks if c.name == "open set"]
    assert "1 test label(s) never seen in train" in check.message


# -- the metric -----------------------------------------------------------------------------------------------------


def test_cost_score_by_hand():
    # class 0 edible (2), class 1 poisonous (5), class 2 edible (6), class 3 poisonous (9); 0 = unknown
    t = np.array([0, 0, 2, 2, 5, 5, 9, 6, 6])
    p = np.array([0, 5, 0, 6, 2, 0, 5, -1, 6])
    # costs: 0 | 10 + 1 | 0.1 | 1 | 1 + 100 | 0.1 + 100 | 1 | worst 2 (no prediction) | 0
    cost = 0 + 11 + 0.1 + 1 + 101 + 100.1 + 1 + 2 + 0
    worst = 11 + 11 + 2 + 2 + 101 + 101 + 101 + 2 + 2
    assert cost_score(t, p) == pytest.approx(1 - cost / worst, abs=1e-12)
    assert cost_score(t, t) == 1.0
    assert cost_score([0, 2, 5], [9, 9, 2]) == pytest.approx(0.0)  # the worst answer for each example
    with pytest.raises(ValueError):
        cost_score([], [])


def _competition(t_cls, p_cls, poisonous):
    """BioBench's user_loss_score_normalized, from the competition's formulas over class ids (-1 unknown)."""
    n = len(t_cls)
    t_unknown, p_unknown = t_cls == -1, p_cls == -1
    ce = ((t_unknown & ~p_unknown).sum() * 10 + (~t_unknown & p_unknown).sum() * 0.1
          + ((t_cls != p_cls) & ~t_unknown & ~p_unknown).sum()) / n
    t_poison, p_poison = np.isin(t_cls, poisonous), np.isin(p_cls, poisonous)
    psc = (100 * (t_poison & ~p_poison).sum() + (~t_poison & p_poison).sum()) / n
    worst = (10 - 1) * t_unknown.sum() / n + 1 + (100 * t_poison.sum() + (n - t_poison.sum())) / n
    return 1 - (ce + psc) / worst


def test_cost_score_matches_the_competition_formulas():
    rng = np.random.default_rng(0)
    poisonous = np.array([1, 4])
    status = {c: c in poisonous for c in range(6)}
    for _ in range(30):
        n = int(rng.integers(1, 50))
        t_cls, p_cls = rng.integers(-1, 6, n), rng.integers(-1, 6, n)
        enc = np.vectorize(lambda c: encode(c, status.get(int(c), False)) if c >= 0 else UNKNOWN)
        t, p = enc(t_cls), enc(p_cls)
        assert cost_score(t, p) == pytest.approx(_competition(t_cls, p_cls, poisonous), abs=1e-12)
        assert metric_score(METRIC, t, p) == pytest.approx(cost_score(t, p), abs=1e-12)


def test_cost_score_replicates_match_resamples():
    rng = np.random.default_rng(1)
    n = 40
    t = rng.choice([0, 2, 5, 6, 9], n)
    p = np.where(rng.random(n) < 0.5, t, rng.choice([-1, 0, 2, 5, 6, 9], n))
    index = rng.integers(0, n, (30, n))
    expected = [cost_score(t[row], p[row]) for row in index]
    np.testing.assert_allclose(metric_replicates(METRIC, t, p, None, index), expected, atol=1e-12)


# -- the protocol ---------------------------------------------------------------------------------------------------


def test_shrunk_covariance_matches_sklearn_ledoit_wolf():
    rng = np.random.default_rng(2)
    for n, d in ((60, 5), (12, 20), (30, 1)):
        X = rng.standard_normal((n, d)).astype(np.float32) * rng.uniform(0.5, 3, d).astype(np.float32)
        y = rng.integers(0, 4, n) * 7
        means, cov, shrinkage = within_class_covariance(X, y)
        classes, idx = np.unique(y, return_inverse=True)
        ref_means = np.stack([X[y == c].astype(np.float64).mean(axis=0) for c in classes])
        centred = X.astype(np.float64) - ref_means[idx]
        ref_cov, ref_shrinkage = ledoit_wolf(centred, assume_centered=True)
        np.testing.assert_allclose(means.numpy(), ref_means, atol=1e-6)
        np.testing.assert_allclose(cov.numpy(), ref_cov, rtol=1e-6, atol=1e-9)
        assert shrinkage == pytest.approx(ref_shrinkage, abs=1e-9)


def test_open_set_distances_and_threshold_by_brute_force():
    rng = np.random.default_rng(3)
    X = rng.standard_normal((80, 6)).astype(np.float32)
    y = rng.integers(0, 5, 80)
    rule = fit_open_set(X, y)
    means, cov, _ = within_class_covariance(X, y)
    inv = np.linalg.inv(cov.numpy())
    queries = rng.standard_normal((15, 6)).astype(np.float32) * 2
    diff = queries[:, None, :].astype(np.float64) - means.numpy()[None]
    expected = np.einsum("ncd,de,nce->nc", diff, inv, diff).min(axis=1)
    np.testing.assert_allclose(rule.distances(queries), expected, rtol=1e-8)
    diff = X[:, None, :].astype(np.float64) - means.numpy()[None]
    train_d2 = np.einsum("ncd,de,nce->nc", diff, inv, diff).min(axis=1)
    assert rule.threshold == pytest.approx(np.percentile(train_d2, 95), rel=1e-8)


def _features(examples, centres, rng, noise=0.3):
    return SplitFeatures(list(examples), np.array([centres[ex.label] + rng.standard_normal(4) * noise
                                                   for ex in examples], dtype=np.float32))


def test_evaluate_rejects_far_examples_and_reports_macro_f1_like_sklearn(tmp_path):
    task = build(make_fungiclef(tmp_path))
    train, test = task.examples("train"), task.examples("test")
    rng = np.random.default_rng(4)
    centres = {label: rng.standard_normal(4) * 10 for label in {ex.label for ex in (*train, *test)}}
    centres[UNKNOWN] = np.full(4, 40.0)
    result = task.evaluate(_features(train, centres, rng), _features(test, centres, rng))
    info = {ex_id: i for ex_id, _, i in result.examples}
    assert all(info[ex.id]["pred"] == UNKNOWN for ex in test if ex.group == "unknown")
    t = np.array([i["label"] for _, _, i in result.examples])
    p = np.array([i["pred"] for _, _, i in result.examples])
    assert result.splits["macro-f1"] == pytest.approx(f1_score(t, p, average="macro", zero_division=0), abs=1e-12)
    t_cls, p_cls = t // 2 - 1, p // 2 - 1  # the same partition over class ids (-1 unknown)
    assert result.splits["macro-f1"] == pytest.approx(f1_score(t_cls, p_cls, average="macro", zero_division=0))
    groups = np.array([ex.group for ex in test])
    for group in ("known", "unknown"):
        assert result.splits[group] == pytest.approx(cost_score(t[groups == group], p[groups == group]))
    assert result.probe["probe"] == "simpleshot" and 0 < result.probe["threshold"] < float("inf")


def test_threshold_is_fitted_on_train_only(tmp_path):
    task = build(make_fungiclef(tmp_path))
    train, test = task.examples("train"), task.examples("test")
    rng = np.random.default_rng(5)
    centres = {label: rng.standard_normal(4) * 10 for label in {ex.label for ex in (*train, *test)}}
    train_features = _features(train, centres, rng)
    first = task.evaluate(train_features, _features(test, centres, rng))
    second = task.evaluate(train_features, _features(test, centres, rng, noise=5.0))
    assert first.probe["threshold"] == second.probe["threshold"]


def test_class_missing_from_the_chosen_train_becomes_unknown(tmp_path):
    task = build(make_fungiclef(tmp_path))
    train = [ex for ex in task.examples("train") if decode(ex.label)[0] != 12]
    test = task.examples("test")
    rng = np.random.default_rng(6)
    centres = {label: rng.standard_normal(4) * 10 for label in {ex.label for ex in (*train, *test)}}
    result = task.evaluate(_features(train, centres, rng), _features(test, centres, rng))
    labels = {ex_id: i["label"] for ex_id, _, i in result.examples}
    assert all(labels[ex.id] == UNKNOWN for ex in test if decode(ex.label)[0] == 12)
    assert len(build(tmp_path, n_train="8").chosen_examples("train")) == 8


# -- malformed data ----------------------------------------------------------------------------------------------------


def _drop(column):
    return lambda rows: [{k: v for k, v in r.items() if k != column} for r in rows]


def _set(index, **values):
    def edit(rows):
        rows[index].update(values)
        return rows
    return edit


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"edit_val": _drop("class_id")}, rf"{VAL_CSV}: missing column 'class_id' \(header is"),
    ({"edit_train": _drop("observationID")}, rf"{TRAIN_CSV}: missing column 'observationID'"),
    ({"edit_train": _set(4, class_id="Amanita")}, rf"{TRAIN_CSV} row 6: class_id 'Amanita' is not an integer"),
    ({"edit_train": _set(2, image_path="")}, rf"{TRAIN_CSV} row 4: empty 'image_path'"),
    ({"edit_train": _set(3, image_path="2-2237850001.JPG")},
     rf"{TRAIN_CSV} row 5: duplicate image_path 2-2237850001.JPG \(first in .*{TRAIN_CSV} row 3\)"),
    ({"edit_val": _set(1, class_id="3")},
     rf"{VAL_CSV} row 3: observationID 3000100 has class_id 3 here but 0 in .*{VAL_CSV} row 2"),
    ({"edit_val": _set(0, class_id="-7")}, rf"{VAL_CSV} row 2: class_id -7 is not a class \(>= 0\) or -1"),
    ({"poison_rows": [{"class_id": "0", "poisonous": "yes"}]}, rf"{POISON_CSV} row 2: poisonous 'yes' is not 0 or 1"),
    ({"poison_rows": [{"class_id": "0", "toxic": "1"}]}, rf"{POISON_CSV}: missing column 'poisonous'"),
])
def test_malformed_tables(tmp_path, kwargs, message):
    data = make_fungiclef(tmp_path, **kwargs)
    with pytest.raises(TaskDataError, match=message) as info:
        build(data)
    assert "\n" not in str(info.value)


def test_missing_images_and_folders(tmp_path):
    data = make_fungiclef(tmp_path)
    (data / VAL_DIR / "3000801-1.JPG").unlink()
    with pytest.raises(TaskDataError, match=rf"{VAL_CSV} row 23: image not found: .*{VAL_DIR}/3000801-1.JPG"):
        build(data)
    (data / TRAIN_DIR).rename(data / "DF20")
    with pytest.raises(TaskDataError, match=rf"{TRAIN_DIR}: missing folder: expected {TRAIN_DIR}/<image_path>"):
        build(data)


def test_missing_poison_list(tmp_path):
    data = make_fungiclef(tmp_path)
    (data / POISON_CSV).unlink()
    with pytest.raises(TaskDataError, match=rf"{POISON_CSV}: file not found \(the poisonous-species list; 'biobench "
                                            r"data fetch tasks/fungiclef --to DIR' downloads it\)"):
        build(data)


def test_documented_behaviours_warn(tmp_path):
    def unknown_in_train(rows):
        return rows + [csv_row(999, "2-2237850000.JPG", -1)]

    data = make_fungiclef(tmp_path, edit_train=unknown_in_train,
                          poison_rows=[{"class_id": "0", "poisonous": "0"}, {"class_id": "3", "poisonous": "1"}])
    with pytest.warns(DataWarning) as caught:
        task = build(data)
    messages = [str(w.message) for w in caught]
    assert any(f"{TRAIN_CSV}: 1 rows with class_id -1 (unknown species) left out of training" in m for m in messages)
    assert any("2 training classes are not listed (e.g. class_id 7): they count as not poisonous" in m
               for m in messages)
    assert len(task.examples("train")) == 4 * PER_CLASS


def test_val_class_absent_from_train_is_unknown(tmp_path):
    data = make_fungiclef(tmp_path, edit_val=lambda rows: rows + [csv_row(42, "3000100-0.JPG", 40)])
    task = build(data)
    obs = next(ex for ex in task.examples("test") if ex.id == "42")
    assert obs.label == UNKNOWN and obs.group == "unknown"


def test_no_warning_on_clean_data(tmp_path):
    data = make_fungiclef(tmp_path)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        build(data)
