"""How a probe's hyper-parameter search scores its validation folds: by the task's metric, found by name.

A search that picks ``C`` by accuracy on a macro-F1 task favours the head classes that macro-F1 is meant to
discount, so a searching probe takes ``scoring``, the name of a metric (``Task.make_probe`` passes the task's):

* ``"accuracy"`` (the default of a probe built from Python): the fraction of correct predictions;
* any other metric is looked up in the plugin registry (:func:`~biobench_core.contract._extensions.metric_spec`),
  so a metric a plugin adds, or a new convention of a built-in one, scores folds with no change here; it is called
  as ``function(y_true, y_pred)`` on one fold's true and predicted labels (the original label values);
* a metric that reads per-example scores (``needs="scores"``) cannot score a classifier's fold, and a metric that
  raises on a fold, or returns a value that is not a finite number, cannot rank candidates: the whole search is
  then scored by accuracy, and :attr:`FoldScorer.note` says why (the probe's ``describe()`` records it).

:class:`SearchScores` holds each candidate's predictions per fold, so a fall-back mid-search rescores every
candidate already tried by accuracy: one search never mixes two scorings. A candidate's score is the mean of its
folds' scores, and the best is the highest, the first on an exact tie: scikit-learn's ``GridSearchCV``
(``mean_test_score``, ``rank_test_score``), which the tests check it against.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence
from typing import Any

import numpy as np

__all__ = ["ACCURACY", "FoldScorer", "SearchScores"]

ACCURACY = "accuracy"


def _accuracy(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    return float(np.mean(y_true == y_pred))


class FoldScorer:
    """The scorer of metric ``metric``'s name, or of accuracy where that metric cannot score a fold.

    An unknown metric name is a :class:`ValueError` with a "did you mean", raised when the probe is built.
    """

    def __init__(self, metric: str = ACCURACY):
        from biobench_core.contract._extensions import UnknownExtensionError, metric_spec

        self.requested = str(metric)
        self.note: str | None = None
        self._function: Callable[[Any, Any], Any] = _accuracy
        if self.requested == ACCURACY:
            return
        try:
            spec = metric_spec(self.requested)
        except UnknownExtensionError as exc:
            raise ValueError(f"scoring: {exc}") from None
        if spec.needs != "labels":
            self.note = (f"metric {self.requested!r} reads per-example scores, not predicted labels: folds scored by "
                         f"{ACCURACY}")
        else:
            self._function = spec.load()

    @property
    def used(self) -> str:
        """The metric the folds are scored with: the one asked for, or accuracy after a fall-back."""
        return ACCURACY if self._function is _accuracy else self.requested

    def __call__(self, y_true: np.ndarray, y_pred: np.ndarray) -> float:
        """One fold's score; on a metric that fails, switches to accuracy (noting why) and scores by it."""
        try:
            value = float(self._function(y_true, y_pred))
            if not np.isfinite(value):
                raise ValueError(f"returned {value}")
            return value
        except Exception as exc:  # a metric plugin's own failure: any exception, named in the note
            if self._function is _accuracy:
                raise
            self.note = (f"metric {self.requested!r} failed on a validation fold ({type(exc).__name__}: {exc}): "
                         f"folds scored by {ACCURACY}")
            self._function = _accuracy
            return _accuracy(y_true, y_pred)


class SearchScores:
    """The cross-validated score of each candidate of a search, by ``scorer``, over folds whose true labels are
    ``fold_truth``; see the module docstring for the fall-back."""

    def __init__(self, scorer: FoldScorer, fold_truth: Sequence[np.ndarray]):
        self.scorer = scorer
        self.fold_truth = [np.asarray(y) for y in fold_truth]
        self.predictions: dict[Hashable, list[np.ndarray]] = {}
        self.scores: dict[Hashable, float] = {}

    def add(self, candidate: Hashable, fold_predictions: Sequence[np.ndarray]) -> None:
        """Score ``candidate`` from its predictions on each fold (in ``fold_truth``'s order)."""
        self.predictions[candidate] = [np.asarray(p) for p in fold_predictions]
        before = self.scorer.used
        self.scores[candidate] = self._score(self.predictions[candidate])
        if self.scorer.used != before:  # fell back on this candidate: rescore the earlier ones the same way
            self.scores = {c: self._score(p) for c, p in self.predictions.items()}

    def _score(self, predictions: list[np.ndarray]) -> float:
        return float(np.mean([self.scorer(y, p) for y, p in zip(self.fold_truth, predictions, strict=True)]))

    def best(self) -> Hashable:
        """The candidate with the highest score, the first added among equal ones, as ``GridSearchCV`` ranks
        them: with candidates added from the simplest model up, a tie goes to the simplest."""
        return max(self.scores, key=self.scores.__getitem__)
