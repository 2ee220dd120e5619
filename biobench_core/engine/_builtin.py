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
    yield ProbeSpec(name="logreg", factory=f"{_PROBES}.logreg:LogRegProbe", aliases=("linear",),
                    description="multinomial logistic regression, C by stratified CV on train")
    yield ProbeSpec(name="svm", factory=f"{_PROBES}.svm:SVMProbe",
                    description="one-vs-rest linear SVM (squared hinge), C by CV on train")
    yield ProbeSpec(name="knn", factory=f"{_PROBES}.knn:KNNProbe",
                    description="k-nearest neighbours, cosine or Euclidean, k=10")
