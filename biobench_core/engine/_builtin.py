"""The core's built-in probes, registered through the ``biobench_probes`` hook like any plugin's.

Torch-free: each spec names its class lazily; the class (and torch) is imported only when a probe is fitted.
"""

from __future__ import annotations

from collections.abc import Iterator

from biobench_core.contract._specs import ProbeSpec
from biobench_core.contract.hookspecs import hookimpl

_PROBES = "biobench_core.engine._probes"


@hookimpl
def biobench_probes() -> Iterator[ProbeSpec]:
    yield ProbeSpec(name="simpleshot", factory=f"{_PROBES}.simpleshot:SimpleShotProbe",
                    description="centre + L2-normalise, nearest class centroid")
    # logreg, svm 1 -> 2: C is chosen by the task's metric (mean over folds), no longer by pooled accuracy.
    yield ProbeSpec(name="logreg", factory=f"{_PROBES}.logreg:LogRegProbe", aliases=("linear",), version="2",
                    description="multinomial logistic regression, C by stratified CV on train (task's metric)")
    yield ProbeSpec(name="svm", factory=f"{_PROBES}.svm:SVMProbe", version="2",
                    description="one-vs-rest linear SVM (squared hinge), C by CV on train (task's metric)")
    yield ProbeSpec(name="knn", factory=f"{_PROBES}.knn:KNNProbe",
                    description="k-nearest neighbours, cosine or Euclidean, k=10")
    yield ProbeSpec(name="adamw-head", factory=f"{_PROBES}.adamw_head:AdamWHeadProbe", version="1",
                    description="LayerNorm + linear head, AdamW 10,000 steps, cosine decay (published BioBench's)")
    yield ProbeSpec(name="logreg-saga", factory=f"{_PROBES}.logreg_saga:LogRegSagaProbe", version="1",
                    description="class-balanced saga logistic regression, C from 30 log-uniform draws scored by "
                                "macro-F1 (published BioBench's)")
