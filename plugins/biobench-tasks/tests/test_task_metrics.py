"""The task plugin's own metrics are typed specs from its ``biobench_metrics`` hook, and the ``"module:function"``
names results were stored under before still give the same scores and replicates."""

from __future__ import annotations

import numpy as np
import pytest

from biobench_core import metric_replicates, metric_score
from biobench_tasks import biobench_metrics, biobench_tasks

# new name -> the "module:function" name stored by earlier versions, and labels that exercise it
LEGACY = {
    "macro-f1-present": "biobench_tasks.iwildcam:macro_f1_present",
    "mean-trait-macro-f1": "biobench_tasks.fishnet:mean_trait_macro_f1",
    "fungiclef-cost-score": "biobench_tasks.fungiclef:cost_score",
}


def _labels(name: str, rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    high = {"macro-f1-present": 12, "mean-trait-macro-f1": 512, "fungiclef-cost-score": 40}[name]
    t = rng.integers(0, high, n)
    p = np.where(rng.random(n) < 0.6, t, rng.integers(0, high, n))
    p[:2] = -1  # no prediction
    return t, p


def test_the_hook_offers_every_metric_a_task_names_with_its_vectorised_replicates():
    specs = {spec.name: spec for spec in biobench_metrics()}
    assert set(specs) == set(LEGACY)
    named = {spec.metric for spec in biobench_tasks()}
    assert set(LEGACY) <= named
    for spec in specs.values():
        assert spec.needs == "labels" and spec.higher_is_better and not spec.decomposes
        assert callable(spec.load()) and callable(spec.load_replicates())
        assert not hasattr(spec.load(), "replicates")  # the spec, not a function attribute, names the replicates


@pytest.mark.parametrize("name", sorted(LEGACY))
def test_old_module_function_names_still_score_the_same(name):
    rng = np.random.default_rng(7)
    t, p = _labels(name, rng, 60)
    index = rng.integers(0, t.size, (25, t.size))
    assert metric_score(LEGACY[name], t, p) == metric_score(name, t, p)
    np.testing.assert_allclose(metric_replicates(LEGACY[name], t, p, None, index),
                               metric_replicates(name, t, p, None, index), atol=1e-12)
    np.testing.assert_allclose(metric_replicates(name, t, p, None, index),
                               [metric_score(name, t[row], p[row]) for row in index], atol=1e-12)


# -- each task's macro-F1 convention is its source's (issue 19) ----------------------------------------------------

#: task -> the metric of its source: WILDS's classes present in the truth for iWildCam; BioBench's every declared
#: class where the macro-F1 is BioBench's choice; FishNet's and FungiCLEF's own rules; accuracy elsewhere.
SOURCE_METRIC = {
    "tasks/iwildcam": "macro-f1-present",
    "tasks/herbarium19": "macro-f1-all",
    "tasks/plantnet": "macro-f1-all",
    "tasks/plankton": "macro-f1-all",
    "tasks/ecdysis": "macro-f1-all",
    "tasks/beluga": "macro-f1-all",
    "tasks/kabr": "macro-f1-all",
    "tasks/mammalnet": "macro-f1-all",
    "tasks/fishnet": "mean-trait-macro-f1",
    "tasks/fungiclef": "fungiclef-cost-score",
    "tasks/newt": "accuracy",
    "tasks/inat21": "accuracy",
    "tasks/animal-silhouettes": "accuracy",
    "tasks/image-folder": "accuracy",
}


@pytest.mark.parametrize("task", sorted(SOURCE_METRIC))
def test_each_task_scores_by_the_convention_of_its_source(task):
    spec = next(spec for spec in biobench_tasks() if spec.id == task)
    assert spec.metric == SOURCE_METRIC[task]


def test_no_task_uses_the_union_convention_that_none_of_the_sources_uses():
    assert not [spec.id for spec in biobench_tasks() if spec.metric == "macro-f1"]


def test_the_wilds_convention_says_so_in_the_report_caption():
    [spec] = [spec for spec in biobench_metrics() if spec.name == "macro-f1-present"]
    assert spec.description == "macro-F1 over the classes present in the truth (WILDS's)"


def test_fishnet_scores_both_classes_of_a_trait_even_when_a_sample_shows_one():
    """BioBench averages each trait over 0 and 1; a trait whose truth and predictions are all 0 scores half its
    F1 for 0 (the union would give it the whole)."""
    from sklearn.metrics import f1_score

    from biobench_tasks.fishnet import TRAITS, decode, encode, mean_trait_macro_f1

    rng = np.random.default_rng(19)
    bits = rng.integers(0, 2, (60, len(TRAITS)))
    bits[:, TRAITS.index("Polar")] = 0  # no polar fish in truth or predictions
    pred_bits = np.where(rng.random(bits.shape) < 0.8, bits, 1 - bits)
    pred_bits[:, TRAITS.index("Polar")] = 0
    t, p = encode(bits), encode(pred_bits)
    bt, bp = decode(t), decode(p)
    both = np.mean([f1_score(bt[:, i], bp[:, i], labels=[0, 1], average="macro", zero_division=0)
                    for i in range(len(TRAITS))])
    union = np.mean([f1_score(bt[:, i], bp[:, i], average="macro", zero_division=0) for i in range(len(TRAITS))])
    assert mean_trait_macro_f1(t, p) == pytest.approx(both, abs=1e-12)
    assert union - both == pytest.approx(0.5 / len(TRAITS), abs=1e-12)  # polar: 1.0 under the union, 0.5 here
    assert metric_score("mean-trait-macro-f1", t, p) == pytest.approx(both, abs=1e-12)
    [spec] = [spec for spec in biobench_metrics() if spec.name == "mean-trait-macro-f1"]
    assert spec.version == "3"  # the value changed, so the results' identity does
