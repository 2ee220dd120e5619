"""The task's metric: macro-F1 over the classes present in the truth.

A plugin's metric is a pure function of the stored predictions, so that the report can recompute it on each of its
bootstrap resamples: ``macro_f1_seen(y_true, y_pred)`` on the test examples, and its vectorised form
``macro_f1_seen_replicates(y_true, y_pred, weights)`` on many resamples at once (``weights[r, i]``: how often
example ``i`` is drawn in resample ``r``). A prediction of -1 marks an example the backbone could not read: it is
a miss for its true class and no class's prediction.

Replace this with your own rule, or drop it and name a core metric in the spec (``macro-f1``: the classes in the
truth or the predictions; ``macro-f1-all``: every class the task declares, an absent one scoring 0).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from biobench_core import class_counts

__all__ = ["macro_f1_seen", "macro_f1_seen_replicates"]


def macro_f1_seen_replicates(y_true: Any, y_pred: Any, weights: Any) -> np.ndarray:
    """One macro-F1 per row of ``weights``: the mean of ``2 tp / (true + predicted)`` over the classes with at
    least one true example in that resample (NaN for a resample without any)."""
    tp, predicted, true = class_counts(y_true, y_pred, weights)  # each (resamples, classes)
    f1 = np.divide(2 * tp, true + predicted, out=np.zeros_like(tp), where=(true + predicted) > 0)
    present = true > 0
    n_present = present.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(n_present > 0, (f1 * present).sum(axis=1) / np.maximum(n_present, 1), np.nan)


def macro_f1_seen(y_true: Any, y_pred: Any) -> float:
    """Macro-F1 over the classes present in ``y_true``: the metric on the examples as they are."""
    y_true = np.asarray(y_true, dtype=np.int64)
    return float(macro_f1_seen_replicates(y_true, y_pred, np.ones((1, y_true.size)))[0])
