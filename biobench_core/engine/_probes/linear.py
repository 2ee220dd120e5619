"""Shared machinery of the linear probes (logistic regression, linear SVM): standardisation, full-batch L-BFGS in
torch, and the choice of the regularisation strength ``C`` by stratified k-fold cross-validation on the training
split.

Objective (the scikit-learn convention, divided by ``n``)::

    (1/n) * sum_i w_i * loss(x_i W + b, y_i)  +  |W|^2 / (2 C n)

where ``x_i`` are standardised features (mean 0, unit variance on the rows being fitted; constant features are
left unscaled), ``w_i`` the class weights (1, or ``n / (k * n_class)`` with ``class_weight="balanced"``). The
intercept ``b`` is not penalised, except by probes that set ``penalize_intercept`` (the SVM, as liblinear does). Standardisation is folded into the weights (``x W = X (W / s) - (mu / s) W``), so
each cross-validation fold uses its own training mean and scale without copying the features. The data are
centred once by the global training mean first, which keeps that folding numerically harmless.

Cross-validation (skipped when a fixed ``C`` is given):

* folds: :func:`~biobench_core.engine._probes.folds.plan_folds` / :func:`~biobench_core.engine._probes.folds.stratified_folds`,
  seeded by the probe's ``seed``; examples are reordered so that each fold is a contiguous block;
* ``C`` is tried from the smallest (strongest regularisation) up; each fold's fit is warm-started from its fit at
  the previous ``C``, with a looser tolerance than the final fit (``cv_tol``, ``cv_max_iter``);
* each validation fold is scored by ``scoring``, the task's metric (``Task.make_probe`` passes it; accuracy for a
  probe built from Python), found by name in the plugin registry; a metric that cannot score a fold falls back to
  accuracy, noted (:mod:`~biobench_core.engine._probes.scoring`); a ``C``'s score is the mean over its folds, as
  ``GridSearchCV``'s ``mean_test_score``; the best score wins, the smallest ``C`` on an exact tie; the sweep stops early
  once ``patience`` consecutive larger values have failed to beat the best;
* the final model is fitted on the whole training split at the chosen ``C``, warm-started from the mean of the
  fold models at that ``C``.

During a run (not ``--quiet``) the fit shows the ``C`` and the fold it is fitting, then the final fit, on stderr
(:mod:`~biobench_core.engine._probes.progress`); a probe fitted from Python prints nothing.

If every class has a single example there is nothing to validate on, and ``default_C`` (documented by each probe)
is used; ``describe()["cv"]`` says so. ``describe()`` records the scoring (``scoring``, and ``scoring_note`` after
a fall-back) and the class weights (``class_weight``). ``folds_`` holds each training row's fold (``None`` without
cross-validation), so the search can be replayed, e.g. by ``GridSearchCV`` with a ``PredefinedSplit``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch

from biobench_core.engine._probes.base import Probe
from biobench_core.engine._probes.device import rows_per_chunk
from biobench_core.engine._probes.folds import plan_folds, stratified_folds
from biobench_core.engine._probes.progress import fit_bar
from biobench_core.engine._probes.scoring import ACCURACY, FoldScorer, SearchScores

__all__ = ["LinearProbe", "DEFAULT_CS", "multinomial_loss", "squared_hinge_ovr_loss"]

#: The default grid of ``C`` values: 1e-4, 1e-3, ..., 1e2.
DEFAULT_CS: tuple[float, ...] = tuple(float(c) for c in np.logspace(-4, 2, 7))

Loss = Callable[[torch.Tensor, torch.Tensor, "torch.Tensor | None"], torch.Tensor]


def multinomial_loss(logits: torch.Tensor, y: torch.Tensor, w: torch.Tensor | None) -> torch.Tensor:
    """Sum over rows of (weighted) softmax cross-entropy."""
    per_row = torch.logsumexp(logits, dim=1) - logits.gather(1, y[:, None]).squeeze(1)
    return (per_row * w).sum() if w is not None else per_row.sum()


def squared_hinge_ovr_loss(logits: torch.Tensor, y: torch.Tensor, w: torch.Tensor | None) -> torch.Tensor:
    """Sum over rows and classes of the one-vs-rest squared hinge ``max(0, 1 - t * f)^2`` (t = +1 true class, -1 rest)."""
    true = logits.gather(1, y[:, None]).squeeze(1)
    per_row = (
        (1.0 + logits).clamp_min(0.0).square().sum(dim=1)  # every class as a negative ...
        - (1.0 + true).clamp_min(0.0).square()  # ... minus the true class as a negative ...
        + (1.0 - true).clamp_min(0.0).square()  # ... plus the true class as a positive
    )
    return (per_row * w).sum() if w is not None else per_row.sum()


def _column_stats(X: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Column sums and sums of squares of ``X`` in float64, a chunk of rows at a time."""
    s1 = torch.zeros(X.shape[1], dtype=torch.float64, device=X.device)
    s2 = torch.zeros_like(s1)
    for chunk in X.split(rows_per_chunk(X.shape[1] * 8 * 2)):
        c = chunk.double()
        s1 += c.sum(dim=0)
        s2 += (c * c).sum(dim=0)
    return s1, s2


class _Block:
    """Rows ``lo:hi`` of the fold-ordered training data with their statistics."""

    def __init__(self, X: torch.Tensor, y: torch.Tensor, lo: int, hi: int, n_classes: int):
        self.X, self.y = X[lo:hi], y[lo:hi]
        self.lo, self.hi = lo, hi
        self.s1, self.s2 = _column_stats(self.X)
        self.counts = torch.bincount(self.y, minlength=n_classes)


class LinearProbe(Probe):
    """Base of the linear probes. Subclasses set ``loss`` and ``default_C``.

    Options: ``C`` (fixed, skips cross-validation), ``Cs`` (the grid), ``n_folds`` (5), ``scoring`` (the metric
    that scores the folds, by name; ``"accuracy"``), ``class_weight`` (``None`` or ``"balanced"``), ``standardize`` (True), ``max_iter``/``tol`` (final fit: L-BFGS iterations and
    the max-abs-gradient tolerance, as in scikit-learn), ``cv_max_iter``/``cv_tol`` (fits during cross-validation),
    ``patience`` (early stop of the ``C`` sweep).
    """

    loss: Loss = staticmethod(multinomial_loss)
    default_C: float = 1.0
    #: Penalise the intercept like a weight (liblinear's convention, used by ``LinearSVC``).
    penalize_intercept: bool = False

    def __init__(
        self,
        device: str = "cpu",
        seed: int = 0,
        C: float | None = None,
        Cs: Sequence[float] = DEFAULT_CS,
        n_folds: int = 5,
        scoring: str = ACCURACY,
        class_weight: str | None = None,
        standardize: bool = True,
        max_iter: int = 200,
        tol: float = 1e-4,
        cv_max_iter: int = 60,
        cv_tol: float = 1e-3,
        patience: int = 2,
    ):
        super().__init__(device=device, seed=seed)
        if class_weight not in (None, "balanced"):
            raise ValueError(f"{self.name}: class_weight must be None or 'balanced', got {class_weight!r}")
        Cs = sorted(float(c) for c in Cs)
        if C is not None and not float(C) > 0:
            raise ValueError(f"{self.name}: C must be > 0, got {C}")
        if not Cs or Cs[0] <= 0:
            raise ValueError(f"{self.name}: Cs must be a non-empty list of positive numbers, got {Cs}")
        if int(n_folds) < 2:
            raise ValueError(f"{self.name}: n_folds must be >= 2, got {n_folds}")
        self.C = None if C is None else float(C)
        self.Cs = Cs
        self.n_folds = int(n_folds)
        try:
            self.scoring = FoldScorer(scoring)
        except ValueError as exc:
            raise ValueError(f"{self.name}: {exc}") from None
        self.class_weight = class_weight
        self.standardize = bool(standardize)
        self.max_iter, self.tol = int(max_iter), float(tol)
        self.cv_max_iter, self.cv_tol = int(cv_max_iter), float(cv_tol)
        self.patience = int(patience)

    # -- pieces ----------------------------------------------------------------------------------------------

    def _scaling(self, s1: torch.Tensor, s2: torch.Tensor, m: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Mean and 1/std (float32) of ``m`` rows with column sums ``s1`` and sums of squares ``s2``."""
        if not self.standardize:
            return torch.zeros_like(s1).float(), torch.ones_like(s1).float()
        mu = s1 / m
        std = (s2 / m - mu * mu).clamp_min(0.0).sqrt()
        std = torch.where(std > 1e-10, std, torch.ones_like(std))
        return mu.float(), (1.0 / std).float()

    def _weights(self, counts: torch.Tensor) -> torch.Tensor | None:
        """Per-class weights for training rows with class ``counts`` (``None``: all 1)."""
        if self.class_weight is None:
            return None
        present = (counts > 0).sum()
        return torch.where(counts > 0, counts.sum() / (present * counts.clamp_min(1)), 0.0).float()

    @staticmethod
    def _effective(W, b, mu, inv_s):
        """Weights and bias acting on the (globally centred) raw features."""
        return W * inv_s[:, None], b - (mu * inv_s) @ W

    def _fit_C(self, blocks: list[_Block], C: float, init, max_iter: int, tol: float):
        """Minimise the objective over ``blocks`` by L-BFGS from ``init``; returns ``(W, b, mu, inv_s, n_iter)``."""
        m = sum(len(bl.y) for bl in blocks)
        mu, inv_s = self._scaling(sum(bl.s1 for bl in blocks), sum(bl.s2 for bl in blocks), m)
        cw = self._weights(sum(bl.counts for bl in blocks))
        W = init[0].clone().requires_grad_(True)
        b = init[1].clone().requires_grad_(True)
        opt = torch.optim.LBFGS(
            [W, b],
            lr=1.0,
            max_iter=max_iter,
            max_eval=2 * max_iter,
            tolerance_grad=tol,
            tolerance_change=1e-10,
            history_size=10,
            line_search_fn="strong_wolfe",
        )

        def closure():
            opt.zero_grad()
            We, be = self._effective(W, b, mu, inv_s)
            total = 0.0
            for bl in blocks:
                total = total + self.loss(bl.X @ We + be, bl.y, None if cw is None else cw[bl.y])
            penalty = (W * W).sum() + ((b * b).sum() if self.penalize_intercept else 0.0)
            objective = total / m + penalty / (2.0 * C * m)
            objective.backward()
            return objective

        opt.step(closure)
        n_iter = int(opt.state[W].get("n_iter", 0))
        self.n_evals_ += int(opt.state[W].get("func_evals", 0))
        return W.detach(), b.detach(), mu, inv_s, n_iter

    def _scores(self, X: torch.Tensor, We: torch.Tensor, be: torch.Tensor) -> torch.Tensor:
        return X @ We + be

    # -- fit / predict ---------------------------------------------------------------------------------------

    def _fit(self, X: np.ndarray, y_idx: np.ndarray, n_classes: int) -> None:
        n, d = X.shape
        self.n_evals_ = 0  # objective evaluations (each one pass over the data), cross-validation included
        if self.C is not None:
            n_splits, self.cv_ = 0, f"skipped: fixed C={self.C:g}"
        elif len(self.Cs) == 1:
            n_splits, self.cv_ = 0, f"skipped: a single candidate C={self.Cs[0]:g}"
        else:
            n_splits, self.cv_ = plan_folds(y_idx, self.n_folds)
            if n_splits == 0:
                self.cv_ = f"skipped ({self.cv_}): default C={self.default_C:g}"
        fold = stratified_folds(y_idx, n_splits, self.seed) if n_splits else np.zeros(n, dtype=np.int64)
        self.folds_ = fold if n_splits else None
        order = np.argsort(fold, kind="stable")
        Xt = torch.as_tensor(X[order], device=self.device)
        yt = torch.as_tensor(y_idx[order], device=self.device)
        whole = _Block(Xt, yt, 0, n, n_classes)
        self.center_ = (whole.s1 / n).float()
        Xt -= self.center_
        whole = _Block(Xt, yt, 0, n, n_classes)  # statistics of the centred data
        zeros = (
            torch.zeros(d, n_classes, dtype=torch.float32, device=self.device),
            torch.zeros(n_classes, dtype=torch.float32, device=self.device),
        )

        self.cv_scores_: dict[float, float] = {}
        with fit_bar(self.name, len(self.Cs) * n_splits + 1,
                     f"C={self.Cs[0]:g} fold 1/{n_splits}" if n_splits else "final fit") as bar:
            init = self._choose_C(Xt, yt, fold[order], n_splits, n_classes, zeros, bar)
            bar.set_postfix_str(f"final fit C={self.C_:g}")
            W, b, mu, inv_s, self.n_iter_ = self._fit_C([whole], self.C_, init, self.max_iter, self.tol)
        self.coef_, self.intercept_ = self._effective(W, b, mu, inv_s)

    def _choose_C(self, Xt: torch.Tensor, yt: torch.Tensor, fold: np.ndarray, n_splits: int, n_classes: int,
                  zeros: tuple[torch.Tensor, torch.Tensor], bar: Any) -> tuple[torch.Tensor, torch.Tensor]:
        """Set ``C_`` (by cross-validation over ``n_splits`` folds of the fold-ordered rows, when there are any)
        and return the final fit's starting point; ``bar`` shows the C and the fold being fitted."""
        n = len(yt)
        init = zeros
        if n_splits:
            bounds = np.searchsorted(fold, np.arange(n_splits + 1))
            folds = [_Block(Xt, yt, int(lo), int(hi), n_classes) for lo, hi in zip(bounds[:-1], bounds[1:])]
            # Each fold's training part is the rows before and after its block: two views, no copy.
            trains = [
                [bl for bl in (_Block(Xt, yt, 0, val.lo, n_classes), _Block(Xt, yt, val.hi, n, n_classes)) if len(bl.y)]
                for val in folds
            ]
            state = [zeros] * n_splits
            search = SearchScores(self.scoring, [self.classes_[val.y.cpu().numpy()] for val in folds])
            best_C = None
            for C in self.Cs:
                preds = []
                for f, val in enumerate(folds):
                    bar.set_postfix_str(f"C={C:g} fold {f + 1}/{n_splits}", refresh=False)
                    W, b, mu, inv_s, _ = self._fit_C(trains[f], C, state[f], self.cv_max_iter, self.cv_tol)
                    bar.update()
                    state[f] = (W, b)
                    pred = self._scores(val.X, *self._effective(W, b, mu, inv_s)).argmax(dim=1)
                    preds.append(self.classes_[pred.cpu().numpy()])
                search.add(C, preds)
                leader = search.best()
                if leader == C:  # the final fit starts from the mean of the fold models at the chosen C
                    init = (torch.stack([s[0] for s in state]).mean(dim=0),
                            torch.stack([s[1] for s in state]).mean(dim=0))
                elif leader != best_C:  # a fall-back to accuracy re-ranked the Cs already tried: start cold
                    init = zeros
                best_C = leader
                if self.Cs.index(C) - self.Cs.index(best_C) >= self.patience:
                    break
            self.cv_scores_ = search.scores
            self.C_ = best_C
        else:
            self.C_ = self.C if self.C is not None else (self.Cs[0] if len(self.Cs) == 1 else self.default_C)
        return init

    def _predict(self, X: np.ndarray) -> np.ndarray:
        out = []
        step = rows_per_chunk(X.shape[1] * 4 * 2)
        for start in range(0, len(X), step):
            chunk = torch.as_tensor(X[start : start + step], device=self.device)
            out.append(self._scores(chunk - self.center_, self.coef_, self.intercept_).argmax(dim=1).cpu())
        return torch.cat(out).numpy()

    def decision_function(self, X: Any) -> np.ndarray:
        """Per-class scores (logits for logistic regression, margins for the SVM), columns in ``classes_`` order."""
        from biobench_core.engine._probes.base import as_features

        X = as_features(X)
        return self._scores(torch.as_tensor(X, device=self.device) - self.center_, self.coef_, self.intercept_).cpu().numpy()

    def _describe(self) -> dict[str, Any]:
        info: dict[str, Any] = {
            "scoring": self.scoring.used,
            "class_weight": self.class_weight,
            "standardize": self.standardize,
            "Cs": list(self.Cs) if self.C is None else None,
        }
        if self.classes_ is not None:
            info |= {
                "C": self.C_,
                "cv": self.cv_,
                "cv_scores": {f"{c:g}": s for c, s in self.cv_scores_.items()},
                **({"scoring_note": self.scoring.note} if self.scoring.note else {}),
                "n_iter": self.n_iter_,
                "n_evals": self.n_evals_,
            }
        else:
            info["C"] = self.C
        return info
