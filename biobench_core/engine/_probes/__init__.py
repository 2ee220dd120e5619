"""Probes: cheap classifiers fitted on frozen features.

>>> probe = make_probe("logreg", device="cpu")          # doctest: +SKIP
>>> probe.fit(X_train, y_train).predict(X_test)         # doctest: +SKIP

=============  ==============================================================================================
name           probe
=============  ==============================================================================================
``simpleshot``  centre + L2-normalise, nearest class centroid (:mod:`~biobench_core.engine._probes.simpleshot`)
``logreg``      multinomial logistic regression, C by stratified CV on train (:mod:`~biobench_core.engine._probes.logreg`);
                alias ``linear``
``svm``         one-vs-rest linear SVM (squared hinge), C by CV on train (:mod:`~biobench_core.engine._probes.svm`)
``knn``         k-nearest neighbours, cosine or Euclidean, k=10 (:mod:`~biobench_core.engine._probes.knn`)
``adamw-head``  LayerNorm + linear head, AdamW, 10,000 steps, cosine decay: the published BioBench's
                (:mod:`~biobench_core.engine._probes.adamw_head`)
``logreg-saga`` class-balanced saga logistic regression, C from 30 log-uniform draws scored by macro-F1: the
                published BioBench's (:mod:`~biobench_core.engine._probes.logreg_saga`)
=============  ==============================================================================================

Options are passed through ``make_probe(name, device, **options)`` to the probe's constructor, e.g.
``make_probe("logreg", C=0.1)`` or ``make_probe("knn", k=20, metric="euclidean")``.
"""

from __future__ import annotations

from typing import Any

from biobench_core.engine._probes.base import Probe, as_features, as_labels
from biobench_core.engine._probes.knn import KNNProbe
from biobench_core.engine._probes.logreg import LogRegProbe
from biobench_core.engine._probes.simpleshot import SimpleShotProbe
from biobench_core.engine._probes.svm import SVMProbe

__all__ = ["PROBES", "ALIASES", "Probe", "make_probe", "as_features", "as_labels"]

PROBES: dict[str, type[Probe]] = {
    "simpleshot": SimpleShotProbe,
    "logreg": LogRegProbe,
    "svm": SVMProbe,
    "knn": KNNProbe,
}

#: Other names accepted by :func:`make_probe`.
ALIASES: dict[str, str] = {"linear": "logreg"}


def make_probe(name: str, device: str = "cpu", **options: Any) -> Probe:
    """A new, unfitted probe called ``name`` (any installed plugin's, these included) on ``device``; ``options``
    go to its constructor."""
    from biobench_core.contract._extensions import make_probe as make_registered_probe

    return make_registered_probe(name, device=device, **options)
