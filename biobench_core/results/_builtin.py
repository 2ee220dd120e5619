"""The core's built-in metrics, registered through the ``biobench_metrics`` hook like any plugin's.

Their functions live in :mod:`biobench_core.results._metrics`, which also computes their bootstrap replicates from
per-class counts (``macro-f1``, ``macro-f1-all``, ``balanced-accuracy``) or per-example values (``accuracy``,
``mean``). Each description names the metric's convention: the report prints it in each column's caption. In every
class-averaged metric an unscored example (prediction -1) is a miss for its true class, not a class of its own.
"""

from __future__ import annotations

from collections.abc import Iterator

from biobench_core.contract._specs import MetricSpec
from biobench_core.contract.hookspecs import hookimpl

_METRICS = "biobench_core.results._metrics"


@hookimpl
def biobench_metrics() -> Iterator[MetricSpec]:
    yield MetricSpec(name="accuracy", factory=f"{_METRICS}:accuracy", decomposes=True,
                     replicates=f"{_METRICS}:accuracy_replicates",
                     description="fraction of examples with y_pred == y_true")
    yield MetricSpec(name="balanced-accuracy", factory=f"{_METRICS}:balanced_accuracy",
                     replicates=f"{_METRICS}:balanced_accuracy_replicates",
                     description="mean recall over the classes present in y_true (sklearn's balanced_accuracy_score)")
    # version 2: an unscored example (-1) is a miss for its true class, no longer a predicted class of its own
    yield MetricSpec(name="macro-f1", factory=f"{_METRICS}:macro_f1", replicates=f"{_METRICS}:macro_f1_replicates",
                     version="2",
                     description="macro-F1 over the classes in the truth or the predictions (scikit-learn's default)")
    yield MetricSpec(name="macro-f1-all", factory=f"{_METRICS}:macro_f1_all",
                     replicates=f"{_METRICS}:macro_f1_all_replicates", takes_n_classes=True,
                     description="macro-F1 over every class the task declares, an absent class scoring 0 "
                                 "(BioBench's)")
    yield MetricSpec(name="mean", factory=f"{_METRICS}:mean_score", needs="scores", decomposes=True,
                     description="mean of the task's own per-example scores")
