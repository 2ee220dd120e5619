"""The published BioBench's soft-max head: LayerNorm + linear layer trained by AdamW, no hyper-parameter search.

BioBench (Stevens et al.) fits this head on Herbarium19, Pl@ntNet, Plankton, iWildCam, Ecdysis and iNat21. The
recipe, read from upstream's ``linear_probing.py`` (samuelstevens/biobench at 6376d97):

* model: ``LayerNorm(d)`` with a learned scale and shift (eps 1e-5) on the raw features, then ``Linear(d, k)``
  with a bias; no other preprocessing;
* loss: the mean soft-max cross-entropy of each batch, unweighted;
* optimiser: AdamW (betas 0.9, 0.999, eps 1e-8), ``lr`` 3e-4; weight decay ``1e-2`` on the linear weights only
  (not on its bias nor on the LayerNorm's scale and shift);
* schedule: ``steps`` = 10,000 updates, no warm-up, the learning rate of update ``t`` (0-based) is
  ``lr_end + (lr - lr_end) * (1 + cos(pi * t / steps)) / 2`` with ``lr_end = lr / 100``;
* batches: ``batch_size`` = 2048 rows, drawn without replacement: each pass over the data is a fresh seeded
  permutation cut into consecutive batches, the last one shorter (no row dropped). With ``n <= batch_size``
  every update sees the whole training set.

Where this probe departs from upstream, deliberately:

* arithmetic is float32 throughout, where upstream trains under autocast (float16 with a gradient scaler on a
  GPU, bfloat16 on a CPU): no half-precision rounding, and the same predictions at every run on one device;
* the initial weights and the batch order come from the probe's ``seed`` (its own generator; the global torch
  random state is neither read nor changed): the linear layer starts as torch's default,
  ``U(-1/sqrt(d), 1/sqrt(d))`` for weights and bias, the LayerNorm as the identity;
* the head has one output per class present in the training labels (upstream's has ``max(label) + 1``, so
  classes absent from training exist there as outputs that are only ever pushed down).

Options (with upstream's defaults): ``steps``, ``lr``, ``weight_decay``, ``batch_size``. A run on the CPU with a
few thousand small feature vectors takes seconds; a large training set (iNat21's) wants a GPU.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from biobench_core.engine._probes.base import Probe
from biobench_core.engine._probes.device import rows_per_chunk
from biobench_core.engine._probes.progress import fit_bar

__all__ = ["AdamWHeadProbe", "cosine_lr"]

#: The learning rate at the end of the cosine decay, as a fraction of the initial one (upstream's 1e-2).
END_LR_FRACTION = 1e-2
#: LayerNorm's epsilon (torch's default, which upstream keeps).
LN_EPS = 1e-5
#: AdamW's moment decay rates and epsilon (torch's defaults, which upstream keeps).
BETA1, BETA2, EPS = 0.9, 0.999, 1e-8
#: Below this many feature values per batch a CPU trains on one torch thread: each update is then a few dozen tiny
#: operations, which a second thread only slows down (several-fold on a loaded machine).
ONE_THREAD_BELOW = 2**18


@contextlib.contextmanager
def _threads_for(device: torch.device, batch_values: int) -> Iterator[None]:
    """One torch thread for a small problem on the CPU (restored afterwards), torch's setting otherwise."""
    if device.type != "cpu" or batch_values >= ONE_THREAD_BELOW:
        yield
        return
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


def cosine_lr(step: int, steps: int, lr: float) -> float:
    """The learning rate of update ``step`` (0-based) of ``steps``: cosine from ``lr`` towards ``lr / 100``."""
    end = lr * END_LR_FRACTION
    return end + 0.5 * (lr - end) * (1.0 + math.cos(math.pi * step / steps))


def _adamw_step(theta: torch.Tensor, grad: torch.Tensor, m: torch.Tensor, v: torch.Tensor, t: int, lr: float,
                decayed: torch.Tensor, weight_decay: float) -> None:
    """One AdamW update (Loshchilov & Hutter; torch's defaults: betas 0.9, 0.999, eps 1e-8) of the flat parameter
    vector ``theta`` in place; ``decayed``: the view of ``theta`` that weight decay applies to; ``t`` counts from 1."""
    decayed.mul_(1.0 - lr * weight_decay)
    m.lerp_(grad, 1.0 - BETA1)
    v.mul_(BETA2).addcmul_(grad, grad, value=1.0 - BETA2)
    denom = (v.sqrt() / math.sqrt(1.0 - BETA2**t)).add_(EPS)
    theta.addcdiv_(m, denom, value=-lr / (1.0 - BETA1**t))


class AdamWHeadProbe(Probe):
    """LayerNorm + linear soft-max head trained by AdamW with a cosine schedule (see the module docstring).

    The training loop computes the gradients in closed form rather than by autograd, and keeps the parameters in
    one flat vector: a small training set then costs a few dozen tensor operations per update, which makes 10,000
    updates affordable on a CPU. The LayerNorm's normalisation (before its scale and shift) does not depend on the
    parameters, so it is computed once for every row.
    """

    name = "adamw-head"

    def __init__(self, device: str = "cpu", seed: int = 0, steps: int = 10_000, lr: float = 3e-4,
                 weight_decay: float = 1e-2, batch_size: int = 2048):
        super().__init__(device=device, seed=seed)
        if int(steps) < 1:
            raise ValueError(f"{self.name}: steps must be >= 1, got {steps}")
        if not float(lr) > 0:
            raise ValueError(f"{self.name}: lr must be > 0, got {lr}")
        if not float(weight_decay) >= 0:
            raise ValueError(f"{self.name}: weight_decay must be >= 0, got {weight_decay}")
        if int(batch_size) < 1:
            raise ValueError(f"{self.name}: batch_size must be >= 1, got {batch_size}")
        self.steps, self.lr = int(steps), float(lr)
        self.weight_decay, self.batch_size = float(weight_decay), int(batch_size)
        self.params_: dict[str, torch.Tensor] | None = None

    @staticmethod
    def _normalise(X: torch.Tensor) -> torch.Tensor:
        """LayerNorm without its scale and shift: each row to mean 0 and variance 1 (biased variance + eps)."""
        return F.layer_norm(X, (X.shape[1],), eps=LN_EPS)

    def _logits(self, X: torch.Tensor, p: dict[str, torch.Tensor]) -> torch.Tensor:
        return torch.addmm(p["bias"], torch.addcmul(p["ln_bias"], self._normalise(X), p["ln_weight"]), p["weight"].T)

    def _fit(self, X: np.ndarray, y_idx: np.ndarray, n_classes: int) -> None:
        n, d = X.shape
        k = n_classes
        gen = torch.Generator().manual_seed(self.seed)
        # One flat vector holds the linear weights (k x d), its bias (k), the LayerNorm's scale (d) and shift (d).
        sizes = (k * d, k, d, d)
        bound = 1.0 / math.sqrt(d)
        theta = torch.cat([
            (torch.rand(k * d, generator=gen) * 2.0 - 1.0) * bound,  # torch's default Linear initialisation
            (torch.rand(k, generator=gen) * 2.0 - 1.0) * bound,
            torch.ones(d),
            torch.zeros(d),
        ]).to(self.device)
        grad, m, v = torch.zeros_like(theta), torch.zeros_like(theta), torch.zeros_like(theta)
        W, b, gamma, beta = (t.view(k, d) if i == 0 else t for i, t in enumerate(theta.split(sizes)))
        gW, gb, ggamma, gbeta = (t.view(k, d) if i == 0 else t for i, t in enumerate(grad.split(sizes)))

        Z = self._normalise(torch.as_tensor(X, device=self.device))
        yt = torch.as_tensor(y_idx, device=self.device)
        full_batch = n <= self.batch_size
        order, pos = None, n
        every = max(1, self.steps // 100)
        with fit_bar(self.name, self.steps, f"{self.steps} steps") as bar, \
                _threads_for(self.device, min(n, self.batch_size) * d):
            bar.unit = "step"  # the bar counts updates, not fits
            bar.refresh()
            for step in range(self.steps):
                if full_batch:
                    zb, yb = Z, yt
                else:
                    if pos >= n:  # a new pass over the data: a fresh permutation
                        order, pos = torch.randperm(n, generator=gen).to(self.device), 0
                    rows = order[pos : pos + self.batch_size]
                    pos += self.batch_size
                    zb, yb = Z[rows], yt[rows]
                h = torch.addcmul(beta, zb, gamma)
                logits = torch.addmm(b, h, W.T)
                if step + 1 == self.steps:  # the last batch's loss, before its update (as upstream logs it)
                    self.final_loss_ = float(F.cross_entropy(logits, yb))
                # d(mean cross-entropy)/d(logits) = (softmax - one-hot) / batch
                dlogits = torch.softmax(logits, dim=1)
                dlogits[torch.arange(len(yb), device=self.device), yb] -= 1.0
                dlogits /= len(yb)
                torch.mm(dlogits.T, h, out=gW)
                torch.sum(dlogits, dim=0, out=gb)
                dh = dlogits @ W
                torch.sum(dh * zb, dim=0, out=ggamma)
                torch.sum(dh, dim=0, out=gbeta)
                _adamw_step(theta, grad, m, v, step + 1, cosine_lr(step, self.steps, self.lr), W,
                            self.weight_decay)
                if (step + 1) % every == 0 or step + 1 == self.steps:
                    bar.update((step + 1) - bar.n)
        self.full_batch_ = full_batch
        self.params_ = {"weight": W, "bias": b, "ln_weight": gamma, "ln_bias": beta}

    def _predict(self, X: np.ndarray) -> np.ndarray:
        out = []
        step = rows_per_chunk((X.shape[1] + len(self.classes_)) * 4 * 3)
        with torch.no_grad():
            for start in range(0, len(X), step):
                chunk = torch.as_tensor(X[start : start + step], device=self.device)
                out.append(self._logits(chunk, self.params_).argmax(dim=1).cpu())
        return torch.cat(out).numpy()

    def _describe(self) -> dict[str, Any]:
        info: dict[str, Any] = {
            "head": "layernorm(affine)+linear",
            "optimizer": "adamw",
            "steps": self.steps,
            "lr": self.lr,
            "lr_schedule": f"cosine to lr*{END_LR_FRACTION:g}, no warm-up",
            "weight_decay": self.weight_decay,
            "weight_decay_on": "linear weights",
            "batch_size": self.batch_size,
            "loss": "cross-entropy",
            "precision": "float32",
        }
        if self.params_ is not None:
            info |= {"full_batch": self.full_batch_, "final_batch_loss": self.final_loss_}
        return info
