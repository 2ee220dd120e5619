"""Task metrics by name: pure functions of the stored per-example predictions, and their bootstrap replicates.

A task names its metric in its spec (``TaskSpec.metric``); every score biobench reports, the point value and each
bootstrap replicate alike, is that metric recomputed from the stored ``y_true``/``y_pred`` of the examples.
Metrics are plugins: a :class:`~biobench_core.MetricSpec` from the ``biobench_metrics`` hook names the function,
its optional vectorised ``replicates`` and what it needs. The built-in ones (:mod:`biobench_core.results._builtin`;
each checked against ``sklearn.metrics`` in the tests):

``accuracy``
    Fraction of examples with ``y_pred == y_true``.
``balanced-accuracy``
    Mean recall over the classes present in that sample's ``y_true`` (``balanced_accuracy_score``).
``macro-f1``
    Mean F1 over the classes present in that sample's ``y_true`` or ``y_pred`` (scikit-learn's default,
    ``f1_score(average="macro", zero_division=0)``).
``macro-f1-all``
    Mean F1 over every class the task declares, a class absent from the truth and the predictions scoring 0
    (upstream BioBench's convention; ``f1_score(average="macro", labels=range(n_classes), zero_division=0)``). A
    task is scored under ``macro-f1-all[N]``, its class count bound in (``MetricSpec.takes_n_classes``); without a
    count, every id from 0 to the largest label or prediction of the sample, which is upstream's literal rule and
    the same whenever the largest declared class occurs in the truth or the predictions.
``mean``
    Mean of the task's own per-example scores: how a task supplies a per-example cost, a mean over traits, or
    any score that is already per example.

Macro-F1 has a third convention, WILDS's: the classes present in ``y_true`` only (``macro-f1-present``, offered by
the ``biobench-tasks`` plugin for iWildCam). The three agree when every class is in the truth and every
prediction is one of them; they part where a split lacks classes: 100 of 182 classes present, each scored about
0.70, is 0.70 under the union and 0.385 over all 182.

Labels are arbitrary integers (class indices ``0..N-1`` for ``macro-f1-all``). ``y_pred == -1`` marks an example the
backbone could not score: it never equals a true label (true labels are never -1), so it is wrong for every metric. The
class-averaged metrics count it as a miss for its true class and as no class's prediction: -1 is not a class
(scikit-learn's ``f1_score`` with ``labels=`` the classes of ``y_true`` and the scored ``y_pred``). Counting -1 as a
class of its own, as scikit-learn does by default, made one unreadable image in 1,000 cost macro-F1 about 0.07
(``macro-f1`` version 2).

A metric's function is pure, ``function(y_true, y_pred) -> float`` over 1-D integer arrays, and must not depend on
the examples' order. Its vectorised form ``replicates(y_true, y_pred, weights)`` gets ``weights[r, i]``, the times
example ``i`` is drawn in replicate ``r``; :func:`class_counts` and :func:`f1_from_counts` build per-class metrics
from those weights. Without one, each replicate calls the function on the resampled examples (correct, only
slower). The old form, a ``"module:function"`` name whose function carries a ``replicates`` attribute, still works.

Only the standard library is imported at module level; numpy is imported inside the functions that compute.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from biobench_core.contract._errors import did_you_mean
from biobench_core.contract._extensions import UnknownExtensionError, extension_names, group_scores, metric_spec
from biobench_core.contract._specs import MetricSpec, SpecError

if TYPE_CHECKING:
    import numpy as np

__all__ = ["METRIC_NAMES", "validate_metric_name", "metric_score", "group_scores", "is_proportion", "metric_replicates",
           "Prepared", "prepare", "replicates_from_weights", "weights_from_index", "higher_is_better",
           "metric_description", "accuracy", "balanced_accuracy", "macro_f1", "macro_f1_all", "mean_score",
           "class_counts", "f1_from_counts", "accuracy_replicates", "balanced_accuracy_replicates",
           "macro_f1_replicates", "macro_f1_all_replicates"]

#: The built-ins of labels alone, whose failure is a bug (``macro-f1-all`` also reads the task's class count).
METRIC_NAMES: tuple[str, ...] = ("accuracy", "balanced-accuracy", "macro-f1", "mean")
NO_PREDICTION = -1

_CLASS_METRICS = ("balanced-accuracy", "macro-f1")


def _spec(name: str) -> MetricSpec:
    """The metric's spec; an unknown name is a ``ValueError`` naming the installed metrics."""
    if not isinstance(name, str):
        raise ValueError(f"a metric name is a string, got {type(name).__name__}")
    try:
        return metric_spec(name)
    except (UnknownExtensionError, SpecError):
        installed = extension_names("metrics")
        hint = did_you_mean(name.lower().replace("_", "-"), installed)
        raise ValueError(f"unknown metric {name!r}{hint}; installed metrics are {', '.join(installed)} (built-in "
                         f"metrics are {', '.join(METRIC_NAMES)}); a task's own metric is offered by the "
                         f"biobench_metrics hook, or named 'module:function'") from None


def validate_metric_name(name: str) -> None:
    """``None`` when a plugin offers the metric ``name`` (or it is a well-formed ``"module:function"``); else
    ``ValueError``. Nothing is imported."""
    _spec(name)


def higher_is_better(name: str) -> bool:
    """How the leaderboard ranks the metric ``name``."""
    return _spec(name).higher_is_better


def is_proportion(name: str, scores: Sequence[float] | np.ndarray | None = None) -> bool:
    """Whether the metric is a proportion of successes, so a binomial (Wilson) interval applies.

    ``accuracy`` is; ``mean`` is when ``scores`` are given and every one is 0 or 1; the others are not.
    """
    if name == "accuracy":
        return True
    if _spec(name).decomposes and scores is not None:
        import numpy as np

        values = np.asarray(scores, dtype=np.float64)
        return bool(values.size) and bool(np.all((values == 0.0) | (values == 1.0)))
    return False


@functools.lru_cache(maxsize=64)
def _custom(name: str) -> tuple[Callable[..., Any], Callable[..., Any] | None]:
    """A metric's function and its vectorised replicates (or ``None``)."""
    spec = _spec(name)
    function = spec.load()
    if not callable(function):
        raise TypeError(f"metric {name!r} is not callable")
    replicates = spec.load_replicates() if spec.replicates else getattr(function, "replicates", None)
    return function, replicates


def _arrays(y_true: Any, y_pred: Any) -> tuple[np.ndarray, np.ndarray]:
    import numpy as np

    t, p = np.asarray(y_true), np.asarray(y_pred)
    if t.ndim != 1 or t.shape != p.shape:
        raise ValueError(f"y_true and y_pred must be 1-D of one length, got shapes {t.shape} and {p.shape}")
    if t.size and not (np.issubdtype(t.dtype, np.integer) and np.issubdtype(p.dtype, np.integer)):
        raise ValueError("labels and predictions must be integers")
    return t.astype(np.int64, copy=False), p.astype(np.int64, copy=False)


def metric_score(name: str, y_true: Any, y_pred: Any, scores: Any = None) -> float:
    """The metric's value over these examples; ``scores`` (one per example) are what ``mean`` averages."""
    import numpy as np

    spec = _spec(name)
    if spec.needs == "scores":
        if scores is None:
            raise ValueError(f"metric {name!r} averages the per-example scores: pass scores")
        values = np.asarray(scores, dtype=np.float64)
        if values.ndim != 1 or values.size == 0:
            raise ValueError("need a non-empty 1-D sequence of scores")
        return float(_custom(name)[0](values))
    t, p = _arrays(y_true, y_pred)
    if t.size == 0:
        raise ValueError(f"metric {name!r}: no examples")
    return float(_custom(name)[0](t, p))


# -- the built-in metrics: point values and vectorised replicates ------------------------------------------------


def accuracy(y_true: Any, y_pred: Any) -> float:
    import numpy as np

    t, p = _arrays(y_true, y_pred)
    return float(np.mean(t == p))


def mean_score(scores: Any) -> float:
    import numpy as np

    return float(np.mean(np.asarray(scores, dtype=np.float64)))


def class_counts(y_true: Any, y_pred: Any, weights: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-replicate, per-class counts for a per-class metric: (true positives, predicted, true), each of shape
    (R, classes) over the classes in ``y_true`` or ``y_pred``; ``weights`` is (R, n) draw counts.

    A prediction of -1 (an example the backbone could not score) is a miss for its true class and no class's
    prediction: it adds to ``true`` only, and -1 is not a class.
    """
    return _class_counts(*_arrays(y_true, y_pred), weights)[1:]


def _class_counts(t: np.ndarray, p: np.ndarray, weights: Any) -> tuple[np.ndarray, ...]:
    """:func:`class_counts` after the classes they are counted over (sorted): (classes, tp, pred, true)."""
    import numpy as np

    w = np.atleast_2d(np.asarray(weights, dtype=np.float64))
    scored = p != NO_PREDICTION
    classes, inverse = np.unique(np.concatenate([t, p[scored]]), return_inverse=True)
    k = classes.size
    ti = inverse[: t.size]
    pi = np.full(p.size, -1, dtype=np.int64)
    pi[scored] = inverse[t.size:]
    hit = ti == pi
    if k == 0:
        empty = np.zeros((w.shape[0], 0))
        return classes, empty, empty, empty
    rows = w.shape[0]
    offsets = (np.arange(rows, dtype=np.int64) * k)[:, None]  # one bincount for every replicate at once

    def per_class(keys: np.ndarray, weights: np.ndarray) -> np.ndarray:
        flat = (offsets + keys[None, :]).ravel()
        return np.bincount(flat, weights=weights.ravel(), minlength=rows * k).reshape(rows, k)

    true = per_class(ti, w)
    pred = per_class(pi[scored], w[:, scored])
    tp = per_class(ti[hit], w[:, hit])
    return classes, tp.astype(np.float64), pred.astype(np.float64), true.astype(np.float64)


def f1_from_counts(tp: Any, pred: Any, true: Any, n_classes: Any = None) -> np.ndarray:
    """Macro F1 per row from per-class counts (rows, classes): the mean, over the classes with a true or a
    predicted example, of ``2 tp / (true + pred)``; NaN for a row with neither.

    With ``n_classes`` (one count, or one per row), the sum of those F1 divided by ``n_classes`` instead: the mean
    over that many declared classes, each one without a true or a predicted example scoring 0 (the counts' classes
    must be among them); NaN for a row without a true example.
    """
    import numpy as np

    tp, pred, true = (np.asarray(a, dtype=np.float64) for a in (tp, pred, true))
    if n_classes is None:
        return _from_counts("macro-f1", tp, pred, true)
    f1 = np.divide(2 * tp, true + pred, out=np.zeros_like(tp), where=(true + pred) > 0)
    count = np.broadcast_to(np.asarray(n_classes, dtype=np.float64), (tp.shape[0],))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where((true.sum(axis=1) > 0) & (count > 0), f1.sum(axis=1) / np.maximum(count, 1), np.nan)


def metric_description(name: str) -> str:
    """What metric ``name`` computes, its convention named (its spec's ``description``, with the class count of
    a ``NAME[N]``), for the report's caption of a column; "" when no installed plugin offers it."""
    try:
        spec = _spec(name)
    except ValueError:
        return ""
    if spec.n_classes is None:
        return spec.description
    return f"{spec.description}; {spec.n_classes:,} classes"


def _one(replicates: Callable[..., Any], y_true: Any, y_pred: Any) -> float:
    import numpy as np

    t, p = _arrays(y_true, y_pred)
    return float(replicates(t, p, np.ones((1, t.size)))[0])


def macro_f1(y_true: Any, y_pred: Any) -> float:
    return _one(macro_f1_replicates, y_true, y_pred)


def macro_f1_all(y_true: Any, y_pred: Any, n_classes: int | None = None) -> float:
    """Macro-F1 over every class ``0..n_classes-1``, an absent one scoring 0 (``n_classes=None``: one more than the
    largest label or prediction); see :func:`macro_f1_all_replicates`."""
    return _one(functools.partial(macro_f1_all_replicates, n_classes=n_classes), y_true, y_pred)


def balanced_accuracy(y_true: Any, y_pred: Any) -> float:
    return _one(balanced_accuracy_replicates, y_true, y_pred)


def macro_f1_replicates(y_true: Any, y_pred: Any, weights: Any) -> np.ndarray:
    return f1_from_counts(*class_counts(y_true, y_pred, weights))


def macro_f1_all_replicates(y_true: Any, y_pred: Any, weights: Any, n_classes: int | None = None) -> np.ndarray:
    """Macro-F1 over every declared class on each replicate (row of ``weights``): the F1 of the classes drawn in
    the truth or the predictions, summed, over ``n_classes`` (``f1_score(average="macro",
    labels=range(n_classes), zero_division=0)``).

    ``n_classes=None`` takes upstream BioBench's literal rule: every id from 0 to the largest label or prediction
    drawn in that replicate. A label or prediction outside ``0..n_classes-1`` (other than -1, no prediction) is a
    ``ValueError`` naming it: it is no class the task declares.
    """
    import numpy as np

    t, p = _arrays(y_true, y_pred)
    classes, tp, pred, true = _class_counts(t, p, weights)
    if classes.size and (classes[0] < 0 or (n_classes is not None and classes[-1] >= n_classes)):
        bad = int(classes[0] if classes[0] < 0 else classes[-1])
        declared = "class indices 0, 1, ..." if n_classes is None else f"the {n_classes} classes 0..{n_classes - 1}"
        raise ValueError(f"macro-f1-all: label or prediction {bad} is not one of {declared}")
    if n_classes is None:
        drawn = (true + pred) > 0
        n_classes = np.where(drawn, classes[None, :] + 1, 0).max(axis=1, initial=0)
    return f1_from_counts(tp, pred, true, n_classes)


def balanced_accuracy_replicates(y_true: Any, y_pred: Any, weights: Any) -> np.ndarray:
    return _from_counts("balanced-accuracy", *class_counts(y_true, y_pred, weights))


def accuracy_replicates(y_true: Any, y_pred: Any, weights: Any) -> np.ndarray:
    import numpy as np

    t, p = _arrays(y_true, y_pred)
    w = np.atleast_2d(np.asarray(weights, dtype=np.float64))
    with np.errstate(invalid="ignore", divide="ignore"):
        return w @ (t == p).astype(np.float64) / w.sum(axis=1)


def _from_counts(name: str, tp: np.ndarray, pred: np.ndarray, true: np.ndarray) -> np.ndarray:
    """Per-row metric from per-class counts of shape (rows, classes): true positives, predicted, true."""
    import numpy as np

    if name == "macro-f1":
        present = (true + pred) > 0
        f1 = np.divide(2 * tp, true + pred, out=np.zeros_like(tp), where=present)
        n_present = present.sum(axis=1)
    else:  # balanced-accuracy
        present = true > 0
        f1 = np.divide(tp, true, out=np.zeros_like(tp), where=present)
        n_present = present.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(n_present > 0, f1.sum(axis=1) / np.maximum(n_present, 1), np.nan)


# -- bootstrap replicates ------------------------------------------------------------------------------------------
#
# A bootstrap replicate draws n of the n examples with replacement. Every metric here depends on the drawn examples
# only through how often each one was drawn, so a replicate is a vector of counts ("weights", one per example),
# and R replicates are an (R, n) matrix. One matrix is drawn per leaderboard column and shared by every backbone in
# it: that is what pairs the backbones (the same examples, by id, in every replicate). Then
#   accuracy, mean:        weights @ values / weights @ present   (one matrix product for all backbones)
#   per-class metrics:     np.bincount of each example's class key weighted by its count: true positives and
#                          predictions per class per replicate; true counts are shared by the backbones.


def weights_from_index(index: np.ndarray, n: int) -> np.ndarray:
    """(R, n) resampled positions -> (R, n) float64 counts of how often each example was drawn."""
    import numpy as np

    index = np.asarray(index)
    weights = np.empty((index.shape[0], n), dtype=np.float64)
    for r, row in enumerate(index):
        weights[r] = np.bincount(row, minlength=n)
    return weights


@dataclasses.dataclass
class Prepared:
    """One backbone's examples ready for replicates, aligned to the positions 0..n-1 of a shared resample.

    Built by :func:`prepare`. ``present`` marks the positions this backbone has (a backbone can lack a few of a
    column's examples, or be restricted to those it shares with another).
    """

    metric: str
    n: int
    kind: str  # "mean" (accuracy, mean), "classes" (per-class metrics) or "custom"
    values: np.ndarray | None = None  # "mean": per-position value, 0 where absent
    present: np.ndarray | None = None  # float 0/1 per position
    true_key: np.ndarray | None = None  # "classes": class index per position, n_classes where absent
    pred_key: np.ndarray | None = None  # class index, + n_classes when wrong, 2 * n_classes where absent
    n_classes: int = 0
    truth_digest: str = ""
    y_true: np.ndarray | None = None  # "custom": the present examples, in position order
    y_pred: np.ndarray | None = None


def prepare(name: str, y_true: Any, y_pred: Any, scores: Any = None, *, present: Any = None,
            classes: Any = None) -> Prepared:
    """Arrays for :func:`replicates_from_weights`, one entry per resampled position.

    ``present`` (bool per position, default all) marks the positions that belong to this backbone; the arrays
    hold a value at every position (anything at absent ones). ``classes`` (sorted) fixes the class encoding so
    several backbones share their true-class counts; by default it is this backbone's labels and predictions.
    """
    import numpy as np

    spec = _spec(name)
    n = len(scores) if spec.needs == "scores" else len(y_true)
    mask = np.ones(n, dtype=bool) if present is None else np.asarray(present, dtype=bool)
    if mask.shape != (n,):
        raise ValueError(f"present must have one flag per position ({n}), got shape {mask.shape}")
    if spec.needs == "scores" and spec.decomposes:
        values = np.where(mask, np.asarray(scores, dtype=np.float64), 0.0)
        return Prepared(name, n, "mean", values=values, present=mask.astype(np.float64))
    t, p = _arrays(y_true, y_pred)
    if name == "accuracy":
        return Prepared(name, n, "mean", values=((t == p) & mask).astype(np.float64),
                        present=mask.astype(np.float64))
    if name in _CLASS_METRICS:
        scored = mask & (p != NO_PREDICTION)  # an unscored example: a miss for its class, no class's prediction
        if classes is None:
            classes = np.unique(np.concatenate([t[mask], p[scored]]))
        classes = np.asarray(classes, dtype=np.int64)
        k = classes.size
        ti = np.searchsorted(classes, t).clip(0, max(k - 1, 0))
        pi = np.searchsorted(classes, p).clip(0, max(k - 1, 0))
        if k == 0 or np.any(classes[ti[mask]] != t[mask]) or np.any(classes[pi[scored]] != p[scored]):
            raise ValueError("classes must include every label and prediction of the present examples")
        true_key = np.where(mask, ti, k)
        pred_key = np.where(scored, np.where(ti == pi, pi, pi + k), 2 * k)
        digest = hashlib.blake2b(true_key.tobytes(), digest_size=16).hexdigest() + f":{k}"
        return Prepared(name, n, "classes", present=mask.astype(np.float64), true_key=true_key, pred_key=pred_key,
                        n_classes=k, truth_digest=digest)
    return Prepared(name, n, "custom", present=mask.astype(np.float64), y_true=t, y_pred=p)


def replicates_from_weights(prepared: Sequence[Prepared], weights: np.ndarray) -> np.ndarray:
    """(len(prepared), R) metric values, one per backbone and replicate, from (R, n) draw counts.

    A replicate of a backbone counts only the positions it has; one where it has none drawn is NaN.
    """
    import numpy as np

    weights = np.asarray(weights, dtype=np.float64)
    r_count = weights.shape[0]
    out = np.full((len(prepared), r_count), np.nan)
    means = [i for i, p in enumerate(prepared) if p.kind == "mean"]
    if means:
        values = np.stack([prepared[i].values for i in means])
        totals: dict[bytes, np.ndarray] = {}
        with np.errstate(invalid="ignore", divide="ignore"):
            sums = weights @ values.T  # (R, rows): one matrix product for every backbone
            for j, i in enumerate(means):
                present = prepared[i].present
                key = hashlib.blake2b(present.tobytes(), digest_size=16).digest()
                if key not in totals:
                    totals[key] = weights @ present
                out[i] = sums[:, j] / totals[key]
    truth: dict[str, np.ndarray] = {}
    for i, p in enumerate(prepared):
        if p.kind == "classes":
            k = p.n_classes
            if p.truth_digest not in truth:
                truth[p.truth_digest] = np.stack([np.bincount(p.true_key, weights=w, minlength=k + 1)[:k]
                                                  for w in weights])
            counts = np.stack([np.bincount(p.pred_key, weights=w, minlength=2 * k + 1) for w in weights])
            tp, wrong = counts[:, :k], counts[:, k:2 * k]
            out[i] = _from_counts(p.metric, tp, tp + wrong, truth[p.truth_digest])
        elif p.kind == "custom":
            out[i] = _custom_replicates(p, weights)
    return out


def _custom_replicates(p: Prepared, weights: np.ndarray) -> np.ndarray:
    import numpy as np

    fn, vectorised = _custom(p.metric)
    keep = p.present.astype(bool)
    w = weights[:, keep]
    t, y = p.y_true[keep], p.y_pred[keep]
    if vectorised is not None:
        return np.asarray(vectorised(t, y, w), dtype=np.float64).reshape(weights.shape[0])
    out = np.full(weights.shape[0], np.nan)
    positions = np.arange(t.size)
    for r, row in enumerate(w):
        drawn = np.repeat(positions, row.astype(np.int64))
        if drawn.size:
            out[r] = float(fn(t[drawn], y[drawn]))
    return out


def metric_replicates(name: str, y_true: Any, y_pred: Any, scores: Any, index: Any) -> np.ndarray:
    """The metric on each bootstrap replicate: ``index`` is (R, n) resampled example positions; returns R values.

    Equal (to rounding) to ``metric_score(name, y_true[index[r]], y_pred[index[r]], scores[index[r]])`` for every
    ``r``, computed without materialising the resampled arrays.
    """
    import numpy as np

    index = np.asarray(index)
    if index.ndim != 2:
        raise ValueError(f"index must be (R, n), got shape {index.shape}")
    spec = _spec(name)
    if name not in METRIC_NAMES and _custom(name)[1] is None:  # keep the drawn order for a plain function
        fn = _custom(name)[0]
        if spec.needs == "scores":
            s = np.asarray(scores, dtype=np.float64)
            return np.array([float(fn(s[row])) for row in index])
        t, p = _arrays(y_true, y_pred)
        return np.array([float(fn(t[row], p[row])) for row in index])
    n = len(scores) if spec.needs == "scores" else len(y_true)
    return replicates_from_weights([prepare(name, y_true, y_pred, scores)], weights_from_index(index, n))[0]
