"""The probe contract and the input checks every probe shares.

A probe is a cheap classifier fitted on frozen features. Every probe:

* takes float features ``X`` of shape ``(n, d)`` (any float or integer dtype, numpy or torch; they are converted
  to float32) and integer labels ``y`` that need not be ``0..k-1`` (``[3, 7, 42]`` is fine);
* returns predictions in the original label values;
* records how long :meth:`Probe.fit` took in ``fit_seconds``;
* reports the hyper-parameters it used (or chose) through :meth:`Probe.describe`.

Subclasses implement ``_fit(X, y_idx, n_classes)`` on class indices ``0..k-1`` and ``_predict(X)`` returning class
indices; the base class does the validation, the label mapping and the timing.
"""

from __future__ import annotations

import time
from typing import Any, ClassVar

import numpy as np

from biobench_core.engine._probes.device import resolve_device, synchronize

__all__ = ["Probe", "as_features", "as_labels"]


def as_features(X: Any, what: str = "X") -> np.ndarray:
    """``X`` as a C-contiguous float32 array of shape ``(n, d)``; ValueError naming the problem otherwise."""
    if hasattr(X, "detach") and hasattr(X, "cpu"):  # a torch tensor (possibly bfloat16 or on a GPU)
        X = X.detach().float().cpu().numpy()
    arr = np.asarray(X)
    if arr.dtype.kind not in "fiub":
        raise ValueError(f"{what} must hold numbers, got dtype {arr.dtype}")
    if arr.ndim != 2:
        raise ValueError(f"{what} must be 2-D (n_samples, n_features), got shape {arr.shape}")
    if arr.shape[0] == 0 or arr.shape[1] == 0:
        raise ValueError(f"{what} is empty: shape {arr.shape}")
    arr = np.ascontiguousarray(arr, dtype=np.float32)
    if not arr.flags.writeable:  # e.g. memory-mapped features from the cache: torch wants writable memory
        arr = arr.copy()
    finite = np.isfinite(arr)
    if not finite.all():
        bad_rows = np.flatnonzero(~finite.all(axis=1))
        kind = "NaN" if np.isnan(arr[bad_rows]).any() else "infinite"
        raise ValueError(
            f"{what} contains {kind} values (NaN or inf after conversion to float32) in {len(bad_rows)} "
            f"row(s), first at row {int(bad_rows[0])}"
        )
    return arr


def as_labels(y: Any, n: int) -> np.ndarray:
    """``y`` as a 1-D label array of length ``n`` (integers, or strings); ValueError naming the problem otherwise."""
    if hasattr(y, "detach") and hasattr(y, "cpu"):
        y = y.detach().cpu().numpy()
    arr = np.asarray(y)
    if arr.ndim != 1:
        raise ValueError(f"y must be 1-D (one label per row), got shape {arr.shape}")
    if len(arr) != n:
        raise ValueError(f"X has {n} rows but y has {len(arr)} labels")
    if arr.dtype.kind == "b":
        return arr.astype(np.int64)
    if arr.dtype.kind == "f":
        if not np.isfinite(arr).all():
            raise ValueError("y contains NaN or infinite labels")
        if not np.array_equal(arr, np.round(arr)):
            raise ValueError("y must hold integer class labels, got non-integer floats")
        return arr.astype(np.int64)
    if arr.dtype.kind not in "iuUS":
        raise ValueError(f"y must hold integer class labels, got dtype {arr.dtype}")
    return arr


class Probe:
    """Base class of all probes. ``device`` is a torch device string (``"cpu"``, ``"cuda"``, ``"cuda:1"``)."""

    name: ClassVar[str] = "probe"

    def __init__(self, device: str = "cpu", seed: int = 0):
        self.device = resolve_device(device)
        self.seed = int(seed)
        self.fit_seconds: float | None = None
        self.classes_: np.ndarray | None = None
        self.n_features_: int | None = None

    # -- what subclasses implement ---------------------------------------------------------------------------

    def _fit(self, X: np.ndarray, y_idx: np.ndarray, n_classes: int) -> None:
        raise NotImplementedError

    def _predict(self, X: np.ndarray) -> np.ndarray:
        """Class indices (into ``classes_``) for the rows of ``X``."""
        raise NotImplementedError

    def _describe(self) -> dict[str, Any]:
        return {}

    # -- the public API --------------------------------------------------------------------------------------

    def fit(self, X: Any, y: Any) -> Probe:
        """Fit on training features ``X`` (n, d) and labels ``y`` (n,). Only training data ever reaches a probe."""
        start = time.perf_counter()
        X = as_features(X, "X")
        y = as_labels(y, len(X))
        classes, y_idx = np.unique(y, return_inverse=True)
        if len(classes) < 2:
            raise ValueError(
                f"{self.name}: need at least 2 classes to fit a classifier, got only label {classes[0]!r} "
                f"({len(y)} examples)"
            )
        self.classes_ = classes
        self.n_features_ = X.shape[1]
        self._fit(X, y_idx.astype(np.int64).reshape(-1), len(classes))
        synchronize(self.device)
        self.fit_seconds = time.perf_counter() - start
        return self

    def predict(self, X: Any) -> np.ndarray:
        """Predicted labels (original label values) for the rows of ``X``."""
        if self.classes_ is None:
            raise RuntimeError(f"{self.name}: call fit() before predict()")
        X = as_features(X, "X")
        if X.shape[1] != self.n_features_:
            raise ValueError(f"{self.name}: fitted on {self.n_features_} features, X has {X.shape[1]}")
        idx = np.asarray(self._predict(X), dtype=np.int64)
        return self.classes_[idx]

    def describe(self) -> dict[str, Any]:
        """The probe's name and the hyper-parameters it used or chose (JSON-friendly)."""
        info: dict[str, Any] = {"probe": self.name, "device": str(self.device), "seed": self.seed}
        if self.classes_ is not None:
            info |= {"n_classes": len(self.classes_), "n_features": self.n_features_, "fit_seconds": self.fit_seconds}
        return info | self._describe()

    def __repr__(self) -> str:
        return f"{type(self).__name__}(device={str(self.device)!r})"
