"""``check_probe``: fit a probe on a small, well-separated dataset and check what it predicts and reports.

(Not ``_probe.py``: that is the discovery probe script ``check_plugin`` runs in a fresh interpreter.)
"""

from __future__ import annotations

import json
from typing import Any

from biobench_core.testing._report import Report, exception_line

__all__ = ["check_probe", "separable_dataset"]

#: Labels as a task may have them: not 0..k-1.
LABELS = (3, 7, 42)
#: A probe must get at least this share of the well-separated test examples right.
MIN_ACCURACY = 0.9


def separable_dataset(n_per_class: int = 20, dim: int = 8, seed: int = 0) -> tuple[Any, Any, Any, Any]:
    """``(X_train, y_train, X_test, y_test)``: one tight Gaussian cluster per label of :data:`LABELS`, far apart,
    float32 features, int64 labels, half as many test examples as train examples per class."""
    import numpy as np

    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(len(LABELS), dim)) * 10.0

    def draw(n: int) -> tuple[Any, Any]:
        X = np.concatenate([centre + rng.normal(scale=0.5, size=(n, dim)) for centre in centres])
        y = np.repeat(np.array(LABELS, dtype=np.int64), n)
        order = rng.permutation(len(y))
        return X[order].astype(np.float32), y[order]

    return (*draw(n_per_class), *draw(max(n_per_class // 2, 2)))


def _as_array(values: Any) -> Any:
    import numpy as np

    return np.asarray(values.detach().cpu() if hasattr(values, "detach") else values)


def check_probe(name: str, *, device: str = "cpu", seed: int = 0, options: dict[str, Any] | None = None) -> Report:
    """Check the probe ``name`` (through the current registry) on ``device``; return a :class:`Report`.

    Checks: the name resolves to a :class:`~biobench_core.contract._specs.ProbeSpec` whose factory builds a probe
    as ``factory(device=..., seed=..., **options)``; ``fit(X, y)`` on :func:`separable_dataset` (labels 3, 7 and
    42, not 0..k-1) works; ``predict(X)`` returns one prediction per row, every one a training label, and gets at
    least 90% of these well-separated examples right; ``describe()`` is a JSON-serialisable dict; a second probe
    with the same seed predicts the same.
    """
    import numpy as np

    from biobench_core.contract._extensions import probe_spec

    report = Report(f"probe {name}")
    try:
        spec = probe_spec(name)
        factory = spec.load()
    except Exception as exc:  # noqa: BLE001
        report.fail("load", f"probe {name!r} does not load: {exception_line(exc)}")
        return report
    report.subject = f"probe {spec.name} (version {spec.version})"

    def build() -> Any:
        return factory(device=device, seed=seed, **(options or {}))

    try:
        probe = build()
    except Exception as exc:  # noqa: BLE001
        report.fail("load", f"{spec.factory}(device={device!r}, seed={seed}) raised {exception_line(exc)}")
        return report
    missing = [m for m in ("fit", "predict", "describe") if not callable(getattr(probe, m, None))]
    if missing:
        report.fail("load", f"{type(probe).__name__} has no {', '.join(missing)} method(s)")
        return report
    report.ok_("load", f"{spec.factory} on {device}")

    X_train, y_train, X_test, y_test = separable_dataset(seed=seed)
    try:
        probe.fit(X_train, y_train)
        predictions = probe.predict(X_test)
    except Exception as exc:  # noqa: BLE001
        report.fail("fit/predict", f"fit or predict on {X_train.shape[0]} x {X_train.shape[1]} features raised "
                                   f"{exception_line(exc)}")
        return report
    predictions = _as_array(predictions)
    if predictions.shape != (len(X_test),):
        report.fail("fit/predict", f"predict() on {len(X_test)} rows returned shape {predictions.shape}, not "
                                   f"({len(X_test)},)")
        return report
    unknown = sorted({p.item() if hasattr(p, "item") else p for p in predictions} - set(LABELS), key=str)
    if unknown:
        report.fail("labels", f"predictions must be training labels {list(LABELS)} (not class indices); got "
                              f"{unknown[:5]}")
        return report
    accuracy = float(np.mean(predictions == y_test))
    if accuracy < MIN_ACCURACY:
        report.fail("fit/predict", f"{accuracy:.0%} right on well-separated clusters (at least "
                                   f"{MIN_ACCURACY:.0%} expected)")
    else:
        report.ok_("fit/predict", f"{accuracy:.0%} right; one training label per test row")

    try:
        described = probe.describe()
        json.dumps(described)
    except Exception as exc:  # noqa: BLE001
        report.fail("describe()", f"describe() must return a JSON-serialisable dict (it is stored with each "
                                  f"result): {exception_line(exc)}")
    else:
        if isinstance(described, dict):
            report.ok_("describe()", f"a dict of {len(described)} key(s)")
        else:
            report.fail("describe()", f"returned {type(described).__name__}, not a dict")

    try:
        second = build()
        second.fit(X_train, y_train)
        repeated = _as_array(second.predict(X_test))
    except Exception as exc:  # noqa: BLE001
        report.fail("deterministic", f"a second probe raised {exception_line(exc)}")
    else:
        if np.array_equal(repeated, predictions):
            report.ok_("deterministic", f"a second probe with seed {seed} predicts the same")
        else:
            report.fail("deterministic", f"two probes with seed {seed} on the same data predict differently")
    return report
