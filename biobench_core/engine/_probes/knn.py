"""k-nearest-neighbour probe with cosine or Euclidean distance, computed in chunks.

* ``k`` (default 10) is clipped to the number of training examples.
* ``metric="cosine"`` (default) uses ``1 - cos(x, t)``; ``"euclidean"`` uses ``|x - t|``. Distances are computed in
  float64, a block of test rows against a block of training rows at a time, keeping a running top-k, so memory
  stays bounded (about :data:`~biobench_core.engine._probes.device.CHUNK_BYTES` per block) whatever the data size.
* Each neighbour gets one vote. Ties in the vote are broken by ``tie_break``:

  - ``"distance"`` (default): among the tied classes, the one whose tied neighbours have the smallest sum of
    distances wins; if that is tied as well, the lowest label.
  - ``"label"``: the lowest label wins, exactly like :class:`sklearn.neighbors.KNeighborsClassifier`.

  Without vote ties both rules agree with scikit-learn (``algorithm="brute"``, uniform weights). Ties between
  *distances* at the k-th neighbour (exact duplicates) are resolved by ``torch.topk``, in no documented order.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from biobench_core.engine._probes.base import Probe
from biobench_core.engine._probes.device import rows_per_chunk

__all__ = ["KNNProbe"]

METRICS = ("cosine", "euclidean")
TIE_BREAKS = ("distance", "label")
TRAIN_BLOCK = 4096


class KNNProbe(Probe):
    name = "knn"

    def __init__(
        self, device: str = "cpu", seed: int = 0, k: int = 10, metric: str = "cosine", tie_break: str = "distance"
    ):
        super().__init__(device=device, seed=seed)
        if int(k) < 1:
            raise ValueError(f"knn: k must be >= 1, got {k}")
        if metric not in METRICS:
            raise ValueError(f"knn: metric must be one of {METRICS}, got {metric!r}")
        if tie_break not in TIE_BREAKS:
            raise ValueError(f"knn: tie_break must be one of {TIE_BREAKS}, got {tie_break!r}")
        self.k = int(k)
        self.metric = metric
        self.tie_break = tie_break

    def _prepare(self, X: torch.Tensor) -> torch.Tensor:
        X = X.double()
        if self.metric == "cosine":
            X = X / X.norm(dim=1, keepdim=True).clamp_min(1e-12)
        return X

    def _fit(self, X: np.ndarray, y_idx: np.ndarray, n_classes: int) -> None:
        self.train_ = torch.as_tensor(X, device=self.device)  # float32; blocks are upcast when used
        self.train_sq_ = torch.cat(
            [(b * b).sum(dim=1) for b in map(self._prepare, self.train_.split(TRAIN_BLOCK))]
        )
        self.y_ = torch.as_tensor(y_idx, device=self.device)
        self.n_classes_ = n_classes
        self.k_ = min(self.k, len(X))

    def kneighbors(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Distances and training-row indices of the ``k_`` nearest neighbours of each row, nearest first."""
        dists, idx = zip(*self._neighbour_chunks(X), strict=True)
        return torch.cat(dists).cpu().numpy(), torch.cat(idx).cpu().numpy()

    def _neighbour_chunks(self, X: np.ndarray):
        k, train = self.k_, self.train_
        block = min(len(train), TRAIN_BLOCK)
        step = rows_per_chunk((block + k) * 8 * 4)
        for start in range(0, len(X), step):
            q = self._prepare(torch.as_tensor(X[start : start + step], device=self.device))
            q_sq = (q * q).sum(dim=1, keepdim=True)
            best_d = torch.empty(len(q), 0, dtype=torch.float64, device=self.device)
            best_i = torch.empty(len(q), 0, dtype=torch.int64, device=self.device)
            for b0 in range(0, len(train), block):
                t = self._prepare(train[b0 : b0 + block])
                if self.metric == "cosine":
                    d = 1.0 - q @ t.T
                else:  # squared Euclidean, the expansion scikit-learn uses; sqrt is taken at the end
                    d = (q_sq - 2.0 * q @ t.T + self.train_sq_[b0 : b0 + block]).clamp_min_(0.0)
                ids = torch.arange(b0, b0 + len(t), device=self.device).expand(len(q), -1)
                cand_d, cand_i = torch.cat([best_d, d], dim=1), torch.cat([best_i, ids], dim=1)
                best_d, pos = cand_d.topk(min(k, cand_d.shape[1]), dim=1, largest=False, sorted=True)
                best_i = cand_i.gather(1, pos)
            if self.metric == "euclidean":
                best_d = best_d.sqrt()
            yield best_d, best_i

    def _predict(self, X: np.ndarray) -> np.ndarray:
        out = []
        for dist, idx in self._neighbour_chunks(X):
            labels = self.y_[idx]
            votes = torch.zeros(len(idx), self.n_classes_, dtype=torch.float64, device=self.device)
            votes.scatter_add_(1, labels, torch.ones_like(dist))
            if self.tie_break == "label":
                pred = votes.argmax(dim=1)  # first maximum = lowest label
            else:
                dist_sum = torch.zeros_like(votes).scatter_add_(1, labels, dist)
                dist_sum[votes < votes.max(dim=1, keepdim=True).values] = torch.inf
                pred = dist_sum.argmin(dim=1)  # smallest distance sum among the most-voted; then lowest label
            out.append(pred.cpu())
        return torch.cat(out).numpy()

    def _describe(self) -> dict[str, Any]:
        return {"k": self.k_ if self.classes_ is not None else self.k, "metric": self.metric, "tie_break": self.tie_break}
