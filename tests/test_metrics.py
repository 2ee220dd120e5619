"""Metrics by name, point values and bootstrap replicates, checked against sklearn.metrics."""

from __future__ import annotations

import subprocess
import sys
import warnings

import numpy as np
import pytest
from sklearn.metrics import accuracy_score, balanced_accuracy_score, f1_score

from biobench_core.results._metrics import (METRIC_NAMES, is_proportion, metric_replicates, metric_score, prepare,
                                   replicates_from_weights, validate_metric_name, weights_from_index)
from biobench_core.results._stats import resample_index


def _sklearn(name: str, y_true: np.ndarray, y_pred: np.ndarray) -> float:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "y_pred contains classes not in y_true", ill-defined F1: both intended
        if name == "accuracy":
            return accuracy_score(y_true, y_pred)
        if name == "balanced-accuracy":
            return balanced_accuracy_score(y_true, y_pred)
        # -1 (an example the backbone could not score) is a miss for its true class, not a class of its own:
        # scikit-learn with the classes named explicitly, -1 not among them (issue 18).
        labels = sorted((set(np.asarray(y_true).tolist()) | set(np.asarray(y_pred).tolist())) - {-1})
        return f1_score(y_true, y_pred, labels=labels, average="macro", zero_division=0)


def _predictions(seed: int, n: int, n_classes: int, right: float, skipped: float = 0.0, offset: int = 0):
    """Labels with rare classes (so resamples miss some), predictions partly wrong, some -1 (not scored)."""
    rng = np.random.default_rng(seed)
    weights = 1.0 / np.arange(1, n_classes + 1) ** 1.5
    y_true = rng.choice(n_classes, size=n, p=weights / weights.sum()) * 7 + offset  # arbitrary ints, not 0..k-1
    wrong = rng.integers(0, n_classes + 3, n) * 7 + offset  # includes classes that are never true
    y_pred = np.where(rng.random(n) < right, y_true, wrong)
    y_pred[rng.random(n) < skipped] = -1
    return y_true, y_pred


CASES = [
    _predictions(0, 200, 10, 0.7),
    _predictions(1, 150, 25, 0.5, skipped=0.05),  # -1 predictions, many rare classes
    _predictions(2, 90, 4, 0.9, skipped=0.2, offset=-30),  # negative labels
    _predictions(3, 500, 60, 0.3),
    (np.array([1, 1, 1, 2]), np.array([-1, -1, -1, -1])),  # nothing scored
    (np.array([5, 5, 5]), np.array([5, 5, 5])),  # one class, all right
]


@pytest.mark.parametrize("name", ["accuracy", "balanced-accuracy", "macro-f1"])
@pytest.mark.parametrize("case", range(len(CASES)))
def test_point_value_matches_sklearn(name, case):
    y_true, y_pred = CASES[case]
    assert metric_score(name, y_true, y_pred) == pytest.approx(_sklearn(name, y_true, y_pred), abs=1e-12)
    assert metric_score(name, list(y_true), list(y_pred)) == pytest.approx(_sklearn(name, y_true, y_pred), abs=1e-12)


@pytest.mark.parametrize("name", ["accuracy", "balanced-accuracy", "macro-f1"])
@pytest.mark.parametrize("case", range(4))
def test_every_replicate_matches_sklearn_on_the_resampled_examples(name, case):
    y_true, y_pred = CASES[case]
    [index] = list(resample_index(y_true.size, 50, seed=case, chunk=50))
    ours = metric_replicates(name, y_true, y_pred, None, index)
    ref = np.array([_sklearn(name, y_true[i], y_pred[i]) for i in index])
    np.testing.assert_allclose(ours, ref, rtol=0, atol=1e-12)
    # the resamples really do miss classes, so the "classes present in this sample" convention is exercised
    n_true, n_any = np.unique(y_true).size, np.unique(np.r_[y_true, y_pred]).size
    assert any(np.unique(y_true[i]).size < n_true or np.unique(np.r_[y_true[i], y_pred[i]]).size < n_any
               for i in index)


def test_minus_one_is_a_miss_not_a_predicted_class():
    y_true = np.array([0, 0, 1, 1, 2, 2])
    y_pred = np.array([0, -1, 1, 1, -1, 2])
    # classes 0, 1, 2 (-1 is none): F1 2/3, 1, 2/3 -> 7/9; recall over true classes 0, 1, 2: 1/2, 1, 1/2 -> 2/3
    assert metric_score("macro-f1", y_true, y_pred) == pytest.approx(7 / 9)
    assert metric_score("macro-f1", y_true, y_pred) == pytest.approx(_sklearn("macro-f1", y_true, y_pred))
    assert metric_score("balanced-accuracy", y_true, y_pred) == pytest.approx(2 / 3)
    assert metric_score("accuracy", y_true, y_pred) == pytest.approx(4 / 6)


def test_mean_metric_averages_the_scores_on_each_replicate():
    scores = np.random.default_rng(4).exponential(size=120)
    assert metric_score("mean", None, None, scores) == pytest.approx(scores.mean())
    [index] = list(resample_index(scores.size, 50, seed=1))
    np.testing.assert_allclose(metric_replicates("mean", None, None, scores, index), scores[index].mean(axis=1))
    with pytest.raises(ValueError, match="pass scores"):
        metric_score("mean", [1], [1])


def test_replicates_of_many_backbones_share_one_weight_matrix():
    y_true, y_pred = CASES[0]
    other = np.where(np.arange(y_true.size) % 3 == 0, -1, y_true)
    index = next(resample_index(y_true.size, 30, seed=5))
    weights = weights_from_index(index, y_true.size)
    classes = np.unique(np.r_[y_true, y_pred, other])
    prepared = [prepare(m, y_true, p, None, classes=classes) for m in ("macro-f1", "accuracy") for p in (y_pred, other)]
    out = replicates_from_weights(prepared, weights)
    for row, (m, p) in zip(out, [(m, p) for m in ("macro-f1", "accuracy") for p in (y_pred, other)]):
        np.testing.assert_allclose(row, [_sklearn(m, y_true[i], p[i]) for i in index], atol=1e-12)


def test_present_mask_restricts_a_row_to_its_examples():
    y_true, y_pred = CASES[1]
    present = np.arange(y_true.size) % 4 != 0
    index = next(resample_index(y_true.size, 40, seed=6))
    weights = weights_from_index(index, y_true.size)
    for name in ("accuracy", "macro-f1", "balanced-accuracy"):
        [ours] = replicates_from_weights([prepare(name, y_true, y_pred, present=present)], weights)
        ref = [_sklearn(name, y_true[i[present[i]]], y_pred[i[present[i]]]) for i in index]
        np.testing.assert_allclose(ours, ref, atol=1e-12)


@pytest.fixture()
def custom_metric(tmp_path, monkeypatch):
    (tmp_path / "my_cost_metric.py").write_text(
        "import numpy as np\n"
        "COST = np.array([[0.0, 1.0, 4.0], [1.0, 0.0, 2.0], [4.0, 2.0, 0.0]])\n"
        "def cost(y_true, y_pred):\n"
        "    return float(np.mean(COST[y_true, y_pred]))\n"
        "def fast_cost(y_true, y_pred):\n"
        "    return cost(y_true, y_pred)\n"
        "fast_cost.replicates = lambda y_true, y_pred, w: w @ COST[y_true, y_pred] / w.sum(axis=1)\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    yield
    sys.modules.pop("my_cost_metric", None)


def test_a_tasks_own_metric_by_module_and_function(custom_metric):
    rng = np.random.default_rng(7)
    y_true, y_pred = rng.integers(0, 3, 80), rng.integers(0, 3, 80)
    cost = np.array([[0, 1, 4], [1, 0, 2], [4, 2, 0]], dtype=float)[y_true, y_pred]
    index = next(resample_index(80, 25, seed=2))
    for name in ("my_cost_metric:cost", "my_cost_metric:fast_cost"):
        validate_metric_name(name)
        assert metric_score(name, y_true, y_pred) == pytest.approx(cost.mean())
        np.testing.assert_allclose(metric_replicates(name, y_true, y_pred, None, index), cost[index].mean(axis=1))
        [via_weights] = replicates_from_weights([prepare(name, y_true, y_pred)], weights_from_index(index, 80))
        np.testing.assert_allclose(via_weights, cost[index].mean(axis=1))


def test_metric_names_are_validated_with_a_suggestion_and_without_importing():
    assert METRIC_NAMES == ("accuracy", "balanced-accuracy", "macro-f1", "mean")
    for name in METRIC_NAMES + ("some_package.metrics:cost", "pkg:module.attr"):
        validate_metric_name(name)  # a module:attr name is not imported (this package does not exist)
    for bad, hint in (("macro_f1", "did you mean 'macro-f1'"), ("Accuracy", "did you mean 'accuracy'"),
                      ("balanced_acc", "did you mean 'balanced-accuracy'"), ("pkg:", "module:function"),
                      ("f1 score", "built-in metrics")):
        with pytest.raises(ValueError, match=hint):
            validate_metric_name(bad)


def test_proportions_are_accuracy_and_means_of_zeros_and_ones():
    assert is_proportion("accuracy")
    assert not is_proportion("macro-f1") and not is_proportion("balanced-accuracy") and not is_proportion("x:y")
    assert is_proportion("mean", [0, 1, 1.0]) and not is_proportion("mean", [0, 0.5]) and not is_proportion("mean")


def test_bad_inputs_are_clear():
    with pytest.raises(ValueError, match="one length"):
        metric_score("accuracy", [1, 2], [1])
    with pytest.raises(ValueError, match="no examples"):
        metric_score("macro-f1", [], [])
    with pytest.raises(ValueError, match="integers"):
        metric_score("accuracy", [0.5], [1.0])


def test_importing_metrics_imports_only_the_standard_library():
    code = ("import sys; import biobench_core.results._metrics as m; m.validate_metric_name('macro-f1'); "
            "m.is_proportion('accuracy'); print('numpy' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60)
    assert out.stdout.strip() == "False"


def _sklearn_scored(name: str, y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """The reference for an unreadable example (``y_pred`` -1): a miss for its true class and no class's false
    positive, i.e. scikit-learn with the classes named explicitly and -1 not among them."""
    labels = sorted((set(y_true.tolist()) | set(y_pred.tolist())) - {-1})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if name == "macro-f1":
            return f1_score(y_true, y_pred, labels=labels, average="macro", zero_division=0)
        return balanced_accuracy_score(y_true, y_pred)


def test_an_unreadable_example_is_a_miss_and_no_extra_class():
    """Issue 18: -1 was a class of its own in macro-F1: one unreadable image in 1,000 moved 0.812 to 0.739."""
    rng = np.random.default_rng(18)
    y_true = rng.integers(0, 10, 1000)
    y_pred = np.where(rng.random(1000) < 0.8, y_true, rng.integers(0, 10, 1000))
    one_unreadable = y_pred.copy()
    one_unreadable[0] = -1
    for name in ("macro-f1", "balanced-accuracy"):
        for pred in (y_pred, one_unreadable, np.where(np.arange(1000) % 7 == 0, -1, y_pred)):
            assert metric_score(name, y_true, pred) == pytest.approx(_sklearn_scored(name, y_true, pred), abs=1e-12)
    assert abs(metric_score("macro-f1", y_true, one_unreadable) - metric_score("macro-f1", y_true, y_pred)) < 0.002
    index = next(resample_index(y_true.size, 20, seed=3))
    weights = weights_from_index(index, y_true.size)
    [replicates] = replicates_from_weights([prepare("macro-f1", y_true, one_unreadable)], weights)
    np.testing.assert_allclose(replicates, [_sklearn_scored("macro-f1", y_true[i], one_unreadable[i]) for i in index],
                               atol=1e-12)
