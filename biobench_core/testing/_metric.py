"""``check_metric``: a metric's values on tiny inputs, its vectorised replicates and the properties it declares."""

from __future__ import annotations

import math
from typing import Any

from biobench_core.testing._report import Report, exception_line

__all__ = ["check_metric"]

#: Resamples the replicates are compared on.
N_REPLICATES = 25
TOLERANCE = 1e-9


def _inputs(needs: str) -> dict[str, tuple[Any, ...]]:
    """Named tiny inputs: ``(y_true, y_pred)`` for a labels metric, ``(scores,)`` for a scores metric."""
    import numpy as np

    if needs == "scores":
        return {"all ones": (np.ones(6),), "all zeros": (np.zeros(6),),
                "mixed 0/1": (np.array([1.0, 0.0, 1.0, 1.0, 0.0, 1.0, 0.0, 1.0]),)}
    y_true = np.array([0, 0, 0, 1, 1, 1, 2, 2, 5, 5, 5, 5], dtype=np.int64)
    return {"perfect": (y_true, y_true.copy()),
            "all wrong": (y_true, np.array([1, 1, 1, 2, 2, 2, 3, 3, 0, 0, 0, 0], dtype=np.int64)),
            "mixed": (y_true, np.array([0, 1, 0, 1, 1, 2, 2, 0, 5, 5, 1, 5], dtype=np.int64)),
            "unscored (pred -1)": (y_true, np.array([0, -1, 0, 1, -1, 1, 2, 2, 5, -1, 5, 5], dtype=np.int64))}


def check_metric(name: str, *, seed: int = 0) -> Report:
    """Check the metric ``name`` (through the current registry); return a :class:`Report`.

    Checks, on tiny inputs (labels that are not 0..k-1, and ``-1`` for an example the backbone could not score):
    the name resolves to a :class:`~biobench_core.contract._specs.MetricSpec` whose function imports; each value is
    a finite number; a proportion-like metric (one that is 1 on perfect predictions, or that decomposes into 0/1
    scores) stays within [0, 1] and ranks perfect predictions above wrong ones the way ``higher_is_better`` says;
    the value does not depend on the examples' order; a metric declared ``decomposes`` is the mean of its
    per-example values; and its vectorised ``replicates``, if declared, equal the function on each resampled draw
    (``weights[r, i]`` copies of example ``i``).
    """
    import numpy as np

    from biobench_core.contract._extensions import metric_spec

    report = Report(f"metric {name}")
    try:
        spec = metric_spec(name)
        function = spec.load()
        vectorised = spec.load_replicates()
    except Exception as exc:  # noqa: BLE001
        report.fail("load", f"metric {name!r} does not load: {exception_line(exc)}")
        return report
    report.subject = f"metric {spec.name} (version {spec.version})"
    if not callable(function) or (vectorised is not None and not callable(vectorised)):
        report.fail("load", f"{spec.factory} or its replicates is not callable")
        return report
    report.ok_("load", f"{spec.factory} (needs {spec.needs}"
                       + (f", replicates {spec.replicates})" if spec.replicates else ")"))

    values: dict[str, float] = {}
    for label, args in _inputs(spec.needs).items():
        try:
            value = float(function(*args))
        except Exception as exc:  # noqa: BLE001
            report.fail("values", f"on {label} inputs raised {exception_line(exc)}")
            return report
        if not math.isfinite(value):
            report.fail("values", f"{value} on {label} inputs; a metric is a finite number")
            return report
        values[label] = value
    report.ok_("values", ", ".join(f"{label}: {value:.4g}" for label, value in values.items()))

    best, worst = ("all ones", "all zeros") if spec.needs == "scores" else ("perfect", "all wrong")
    proportion = spec.decomposes if spec.needs == "scores" else values[best] == 1.0
    if proportion:
        outside = {label: v for label, v in values.items() if not 0.0 <= v <= 1.0}
        ranked = values[best] > values[worst] if spec.higher_is_better else values[best] < values[worst]
        if outside:
            report.fail("range", f"a proportion-like metric must stay in [0, 1]: {outside}")
        elif not ranked:
            report.fail("range", f"{best} ({values[best]:.4g}) vs {worst} ({values[worst]:.4g}) contradicts "
                                 f"higher_is_better={spec.higher_is_better}")
        else:
            report.ok_("range", "in [0, 1], ranked as higher_is_better says")

    rng = np.random.default_rng(seed)
    args = _inputs(spec.needs)["mixed 0/1" if spec.needs == "scores" else "unscored (pred -1)"]
    n = len(args[0])
    order = rng.permutation(n)
    permuted = float(function(*(a[order] for a in args)))
    if abs(permuted - float(function(*args))) > TOLERANCE:
        report.fail("order-free", f"shuffling the examples changes the value ({float(function(*args))!r} -> "
                                  f"{permuted!r}); a metric must not depend on their order")
    else:
        report.ok_("order-free", "shuffling the examples keeps the value")

    if spec.decomposes:
        per_example = float(np.mean([function(*(a[i:i + 1] for a in args)) for i in range(n)]))
        if abs(per_example - float(function(*args))) > TOLERANCE:
            report.fail("decomposes", f"declared decomposes=True, but the mean of per-example values "
                                      f"({per_example!r}) differs from the value ({float(function(*args))!r})")
        else:
            report.ok_("decomposes", "the value is the mean of the per-example values")

    if vectorised is None:
        report.ok_("replicates", "none declared: each bootstrap replicate calls the function (correct, slower)")
        return report
    if spec.needs == "scores":
        report.add("replicates", "warn", "declared for a scores metric, which the core resamples by its "
                                         "per-example values; it is not used")
        return report
    index = rng.integers(0, n, size=(N_REPLICATES, n))
    weights = np.stack([np.bincount(row, minlength=n) for row in index]).astype(np.float64)
    try:
        fast = np.asarray(vectorised(*args, weights), dtype=np.float64)
    except Exception as exc:  # noqa: BLE001
        report.fail("replicates", f"{spec.replicates}(y_true, y_pred, weights) raised {exception_line(exc)}")
        return report
    if fast.shape != (N_REPLICATES,):
        report.fail("replicates", f"returned shape {fast.shape} for weights of shape {weights.shape}; expected "
                                  f"({N_REPLICATES},), one value per row of weights")
        return report
    slow = np.array([float(function(*(np.repeat(a, w.astype(np.int64)) for a in args))) for w in weights])
    wrong = np.flatnonzero(~np.isclose(fast, slow, rtol=TOLERANCE, atol=TOLERANCE))
    if wrong.size:
        r = int(wrong[0])
        report.fail("replicates", f"{wrong.size} of {N_REPLICATES} replicates differ from the function on the "
                                  f"resampled examples, first replicate {r}: {fast[r]!r} vs {slow[r]!r}")
    else:
        report.ok_("replicates", f"equal to the function on {N_REPLICATES} resampled draws")
    return report
