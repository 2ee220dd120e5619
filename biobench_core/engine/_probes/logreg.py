"""Linear probe: multinomial logistic regression on standardised features, ``C`` chosen by cross-validation.

The objective is scikit-learn's ``LogisticRegression`` (multinomial, L2, unpenalised intercept) on
``StandardScaler``-transformed features, minimised by full-batch L-BFGS in torch on the probe's device. See
:mod:`biobench_core.engine._probes.linear` for the cross-validation protocol (stratified k-fold on the training split only,
warm-started sweep of the ``C`` grid). ``class_weight="balanced"`` weights each example by
``n / (n_classes * n_its_class)``. Default when cross-validation is impossible (every class has one example):
``C = 1.0``, scikit-learn's default.
"""

from __future__ import annotations

from biobench_core.engine._probes.linear import LinearProbe, multinomial_loss

__all__ = ["LogRegProbe"]


class LogRegProbe(LinearProbe):
    name = "logreg"
    loss = staticmethod(multinomial_loss)
    default_C = 1.0
