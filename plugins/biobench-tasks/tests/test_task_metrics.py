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
