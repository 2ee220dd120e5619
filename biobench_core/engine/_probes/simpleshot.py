"""SimpleShot (Wang et al., 2019): centre, L2-normalise, nearest class centroid.

Features are centred by the training mean and scaled to unit L2 norm ("CL2N"); each class is represented by the
mean of its transformed training features, and a test example gets the class of the nearest centroid in Euclidean
distance. Predictions equal :class:`sklearn.neighbors.NearestCentroid` fitted on :meth:`SimpleShotProbe.transform`
of the training features (ties in distance go to the lowest label, as there). All arithmetic is float64.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from biobench_core.engine._probes.base import Probe, as_features
from biobench_core.engine._probes.device import rows_per_chunk

__all__ = ["SimpleShotProbe"]


class SimpleShotProbe(Probe):
    name = "simpleshot"

    def __init__(self, device: str = "cpu", seed: int = 0):
        super().__init__(device=device, seed=seed)
        self.mean_: torch.Tensor | None = None
        self.centroids_: torch.Tensor | None = None

    def _transform(self, X: np.ndarray) -> torch.Tensor:
        Z = torch.as_tensor(X, device=self.device).double() - self.mean_
        return Z / Z.norm(dim=1, keepdim=True).clamp_min(1e-12)

    def transform(self, X: Any) -> np.ndarray:
        """The CL2N-transformed features (float64): centred by the training mean, then unit L2 norm per row."""
        if self.mean_ is None:
            raise RuntimeError("simpleshot: call fit() before transform()")
        return self._transform(as_features(X)).cpu().numpy()

    def _fit(self, X: np.ndarray, y_idx: np.ndarray, n_classes: int) -> None:
        X_t = torch.as_tensor(X, device=self.device)
        self.mean_ = X_t.double().mean(dim=0)
        y_t = torch.as_tensor(y_idx, device=self.device)
        sums = torch.zeros(n_classes, X.shape[1], dtype=torch.float64, device=self.device)
        step = rows_per_chunk(X.shape[1] * 8 * 2)
        for start in range(0, len(X), step):
            sums.index_add_(0, y_t[start : start + step], self._transform(X[start : start + step]))
        counts = torch.bincount(y_t, minlength=n_classes).double()
        self.centroids_ = sums / counts[:, None]

    def _predict(self, X: np.ndarray) -> np.ndarray:
        c = self.centroids_
        c_sq = (c * c).sum(dim=1)
        out = []
        step = rows_per_chunk((X.shape[1] + len(c)) * 8 * 3)
        for start in range(0, len(X), step):
            z = self._transform(X[start : start + step])
            # The same expansion scikit-learn uses: |z|^2 - 2 z.c + |c|^2 (clamped at 0); argmin takes the first.
            d2 = ((z * z).sum(dim=1, keepdim=True) - 2.0 * z @ c.T + c_sq).clamp_min_(0.0)
            out.append(d2.argmin(dim=1).cpu())
        return torch.cat(out).numpy()

    def _describe(self) -> dict[str, Any]:
        return {"transform": "center+l2", "distance": "euclidean"}
