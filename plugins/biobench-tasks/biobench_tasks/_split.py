"""Deterministic, machine-independent ordering and stratified selection of example indices."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence

import numpy as np


def stable_order(indices: Iterable[int], salt: str) -> list[int]:
    """``indices`` shuffled by a SHA-256 of ``salt:index``: the same on every machine and numpy version."""
    return sorted(indices, key=lambda i: hashlib.sha256(f"{salt}:{i}".encode()).digest())


def stratified_counts(total: int, n_classes: int) -> list[int]:
    """Split ``total`` over ``n_classes`` as evenly as possible; the first classes get the remainder."""
    base, rest = divmod(total, n_classes)
    return [base + (1 if c < rest else 0) for c in range(n_classes)]


def take_stratified(by_class: Sequence[Sequence[int]], counts: Sequence[int]) -> np.ndarray:
    """The first ``counts[c]`` indices of each class's (already shuffled) list, sorted."""
    chosen = [i for members, n in zip(by_class, counts, strict=True) for i in members[:n]]
    return np.array(sorted(chosen), dtype=np.int64)
