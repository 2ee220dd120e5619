"""The published BioBench's logistic regression for KABR and MammalNet: saga, class-balanced, ``C`` by a random search
scored by macro-F1.

The recipe, read from upstream's ``helpers.init_logreg_clf`` (samuelstevens/biobench at 6376d97):

* model: scikit-learn's ``StandardScaler`` then ``LogisticRegression(solver="saga", class_weight="balanced",
  max_iter=1000)`` (an L2 penalty and tolerance 1e-4, scikit-learn's defaults), seeded;
* search: 30 values of ``C`` drawn log-uniformly from ``[1e-3, 1e1]``, each scored by the mean over 5 stratified
  folds of the training split of the fold's macro-F1 (scikit-learn's ``f1_score(average="macro")``: the classes in
  the fold's truth or predictions); the best ``C`` is refitted on the whole training split.

The estimator is scikit-learn's own (a dependency of ``biobench-core[run]``), so each fit is upstream's fit; saga
is CPU-only, so this probe runs on the CPU whatever device a run uses. What is this probe's own:

* the draws: ``exp(U(log C_low, log C_high))`` from ``numpy.random.default_rng(seed)``, ``n_draws`` of them
  (upstream draws through scipy's ``loguniform`` with its own seeding, so the 30 values differ; their law is the
  same);
* the folds: :func:`~biobench_core.engine._probes.folds.stratified_folds` (shuffled by ``seed``, fewer folds when
  the rarest class is smaller than ``n_folds``), where upstream's are unshuffled;
* ties in the mean macro-F1 go to the smallest ``C`` (the strongest regularisation);
* every class has a single example: no search, ``C = 1`` (scikit-learn's default); ``describe()["cv"]`` says so.

Options: ``n_draws`` (30), ``C_low``/``C_high`` (1e-3, 10), ``n_folds`` (5), ``max_iter`` (1000), ``tol`` (1e-4),
``class_weight`` (``"balanced"``, or ``None``), ``n_jobs`` (1: fits run one after another; more runs that many at
once and changes nothing else). ``describe()`` records the draws, each one's score, the chosen ``C`` and whether
the final fit converged within ``max_iter`` (saga often does not; upstream accepts that too).
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np

from biobench_core.engine._probes.base import Probe
from biobench_core.engine._probes.folds import plan_folds, stratified_folds
from biobench_core.engine._probes.progress import fit_bar

__all__ = ["LogRegSagaProbe", "draw_Cs"]

#: ``C`` when nothing can be validated (every class has one example): scikit-learn's default.
DEFAULT_C = 1.0


def draw_Cs(n_draws: int, low: float, high: float, seed: int) -> list[float]:
    """``n_draws`` values of ``C``, log-uniform on ``[low, high]``, in the order drawn from ``default_rng(seed)``."""
    rng = np.random.default_rng(seed)
    return [float(c) for c in np.exp(rng.uniform(math.log(low), math.log(high), n_draws))]


def _fit_one(X: np.ndarray, y: np.ndarray, C: float, options: dict[str, Any]) -> Any:
    """A fitted ``StandardScaler`` + saga ``LogisticRegression`` pipeline (convergence warnings silenced)."""
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    model = make_pipeline(StandardScaler(), LogisticRegression(C=C, solver="saga", **options))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return model.fit(X, y)


def _fold_score(X: np.ndarray, y: np.ndarray, train: np.ndarray, C: float, options: dict[str, Any]) -> float:
    """Macro-F1 on the rows outside ``train`` of the model fitted on the rows in it."""
    from sklearn.metrics import f1_score

    model = _fit_one(X[train], y[train], C, options)
    return float(f1_score(y[~train], model.predict(X[~train]), average="macro"))


class LogRegSagaProbe(Probe):
    """scikit-learn's saga logistic regression with ``C`` from a seeded log-uniform random search (see the module
    docstring)."""

    name = "logreg-saga"

    def __init__(self, device: str = "cpu", seed: int = 0, n_draws: int = 30, C_low: float = 1e-3,
                 C_high: float = 10.0, n_folds: int = 5, max_iter: int = 1000, tol: float = 1e-4,
                 class_weight: str | None = "balanced", n_jobs: int = 1):
        super().__init__(device="cpu", seed=seed)  # saga is CPU-only: the stored description says where it ran
        if class_weight not in (None, "balanced"):
            raise ValueError(f"{self.name}: class_weight must be None or 'balanced', got {class_weight!r}")
        if int(n_draws) < 1:
            raise ValueError(f"{self.name}: n_draws must be >= 1, got {n_draws}")
        if not 0 < float(C_low) <= float(C_high):
            raise ValueError(f"{self.name}: need 0 < C_low <= C_high, got C_low={C_low}, C_high={C_high}")
        if int(n_folds) < 2:
            raise ValueError(f"{self.name}: n_folds must be >= 2, got {n_folds}")
        if int(max_iter) < 1 or not float(tol) > 0 or int(n_jobs) < 1:
            raise ValueError(f"{self.name}: max_iter and n_jobs must be >= 1 and tol > 0, got max_iter={max_iter}, "
                             f"tol={tol}, n_jobs={n_jobs}")
        self.C_low, self.C_high = float(C_low), float(C_high)
        self.n_folds, self.max_iter, self.tol = int(n_folds), int(max_iter), float(tol)
        self.class_weight, self.n_jobs = class_weight, int(n_jobs)
        self.C_draws = draw_Cs(int(n_draws), self.C_low, self.C_high, self.seed)
        self.model_: Any = None

    def _options(self) -> dict[str, Any]:
        return {"class_weight": self.class_weight, "max_iter": self.max_iter, "tol": self.tol,
                "random_state": self.seed}

    def _fit(self, X: np.ndarray, y_idx: np.ndarray, n_classes: int) -> None:
        from joblib import Parallel, delayed

        n_splits, self.cv_ = plan_folds(y_idx, self.n_folds)
        candidates = sorted(set(self.C_draws))
        self.cv_scores_: dict[float, float] = {}
        with fit_bar(self.name, len(candidates) * n_splits + 1,
                     f"{len(candidates)} C x {n_splits} folds" if n_splits else "final fit") as bar:
            if n_splits == 0:
                self.cv_ = f"skipped ({self.cv_}): default C={DEFAULT_C:g}"
                self.C_ = DEFAULT_C
            else:
                fold = stratified_folds(y_idx, n_splits, self.seed)
                jobs = [(C, f) for C in candidates for f in range(n_splits)]
                scores = Parallel(n_jobs=self.n_jobs, return_as="generator")(
                    delayed(_fold_score)(X, y_idx, fold != f, C, self._options()) for C, f in jobs)
                per_fold: dict[float, list[float]] = {C: [] for C in candidates}
                for (C, _), score in zip(jobs, scores):
                    per_fold[C].append(score)
                    bar.update()
                self.cv_scores_ = {C: float(np.mean(s)) for C, s in per_fold.items()}
                best = max(self.cv_scores_.values())
                self.C_ = min(C for C, s in self.cv_scores_.items() if s == best)
            bar.set_postfix_str(f"final fit C={self.C_:g}")
            self.model_ = _fit_one(X, y_idx, self.C_, self._options())
            bar.update()
        self.n_iter_ = int(np.max(self.model_[-1].n_iter_))

    def _predict(self, X: np.ndarray) -> np.ndarray:
        return self.model_.predict(X)

    def _describe(self) -> dict[str, Any]:
        info: dict[str, Any] = {
            "solver": "saga",
            "standardize": True,
            "class_weight": self.class_weight,
            "scoring": "macro-f1 (mean over folds)",
            "C_range": [self.C_low, self.C_high],
            "C_draws": self.C_draws,
            "n_folds": self.n_folds,
            "max_iter": self.max_iter,
            "tol": self.tol,
        }
        if self.model_ is not None:
            info |= {
                "C": self.C_,
                "cv": self.cv_,
                "cv_scores": [[c, s] for c, s in self.cv_scores_.items()],  # [C, mean macro-F1], by C
                "n_iter": self.n_iter_,
                "converged": self.n_iter_ < self.max_iter,
            }
        return info
