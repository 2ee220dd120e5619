"""Stratified k-fold assignment for choosing hyper-parameters on the training split.

Only training labels ever reach these functions: probes see test data only in ``predict``.
"""

from __future__ import annotations

import numpy as np

__all__ = ["plan_folds", "stratified_folds"]


def plan_folds(y_idx: np.ndarray, n_folds: int) -> tuple[int, str]:
    """How many folds to use for class indices ``y_idx``, and why (``0`` = no cross-validation).

    * Normally ``n_folds``.
    * If the rarest class has fewer examples than ``n_folds``, the number of folds drops to that count, so every
      class appears in every fold's training part.
    * If some class has a single example the floor is 2 folds: that class is missing from one fold's training part,
      which makes its example an error for every candidate value alike, so the choice is barely affected.
    * If every class has a single example there is nothing to validate on: ``0``, and the caller uses its default.
    """
    if n_folds < 2:
        raise ValueError(f"n_folds must be >= 2, got {n_folds}")
    counts = np.bincount(y_idx)
    counts = counts[counts > 0]
    if counts.max() < 2:
        return 0, "every class has a single training example"
    smallest = int(counts.min())
    if smallest >= n_folds:
        return n_folds, f"{n_folds}-fold stratified"
    folds = max(2, smallest)
    return folds, f"{folds}-fold stratified (reduced from {n_folds}: the rarest class has {smallest} example(s))"


def stratified_folds(y_idx: np.ndarray, n_folds: int, seed: int) -> np.ndarray:
    """A fold id in ``0..n_folds-1`` for every example; each class is spread over the folds as evenly as possible.

    Examples are shuffled (seeded), grouped by class, and dealt to folds round-robin; the deal continues from class
    to class, so the remainders of small classes do not all land in fold 0.
    """
    rng = np.random.default_rng(seed)
    perm = rng.permutation(len(y_idx))
    by_class = perm[np.argsort(y_idx[perm], kind="stable")]
    folds = np.empty(len(y_idx), dtype=np.int64)
    folds[by_class] = np.arange(len(y_idx)) % n_folds
    return folds
