"""Linear SVM probe: one-vs-rest squared hinge with an L2 penalty (the ``LinearSVC`` objective), ``C`` by CV.

For every class ``c`` a binary problem ``0.5 |w_c|^2 + C * sum_i max(0, 1 - t_ic (x_i w_c + b_c))^2`` with
``t_ic = +1`` for examples of class ``c`` and ``-1`` otherwise; all classes are solved jointly by full-batch L-BFGS
in torch on standardised features; the prediction is the class with the largest margin (ties: lowest label).
As in :class:`sklearn.svm.LinearSVC` (liblinear, ``intercept_scaling=1``) the intercept is penalised like a weight.
Difference: ``class_weight="balanced"`` weights every example by its class's weight in every binary problem
(liblinear re-weights only the positive class of each binary problem).
Cross-validation as in :mod:`biobench_core.engine._probes.linear`; default when it is impossible: ``C = 1.0``.
"""

from __future__ import annotations

from biobench_core.engine._probes.linear import LinearProbe, squared_hinge_ovr_loss

__all__ = ["SVMProbe"]


class SVMProbe(LinearProbe):
    name = "svm"
    loss = staticmethod(squared_hinge_ovr_loss)
    default_C = 1.0
    penalize_intercept = True
