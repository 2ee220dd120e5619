"""Time and score each probe against its scikit-learn counterpart on synthetic features.

    python benchmarks/bench_probes.py            # 20,000 train + 5,000 test, 768 dims, 100 classes
    python benchmarks/bench_probes.py --quick    # a small size that runs in about 20 s
    python benchmarks/bench_probes.py --device cuda

Importable: ``run(quick) -> list[dict]`` gives one row per comparison, ``to_markdown(rows)`` the table.

The features are Gaussian class clusters (fixed seed) with an anisotropic noise spectrum and uneven per-feature
scales and offsets, so standardisation matters. The comparisons:

* ``simpleshot`` vs ``NearestCentroid`` on the same centred + L2-normalised features;
* ``logreg (CV)``: ours with its C chosen by 5-fold CV on train, vs ``LogisticRegression`` (lbfgs, standardised
  features) fitted once at the C we chose (a scikit-learn CV over the same grid would take many times longer);
  ``logreg (C fixed)``: both at that C, like for like;
* ``svm (CV)`` / ``svm (C fixed)``: the same against ``LinearSVC``;
* ``knn`` vs ``KNeighborsClassifier(n_neighbors=10, metric="cosine", algorithm="brute")``.

Times are fit + predict wall-clock seconds; sklearn's include its ``StandardScaler`` where used.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

if __name__ == "__main__" and str(Path(__file__).resolve().parents[1]) not in sys.path:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script from a checkout

FULL = {"n_train": 20_000, "n_test": 5_000, "dim": 768, "n_classes": 100}
QUICK = {"n_train": 3_000, "n_test": 1_000, "dim": 256, "n_classes": 20}


def make_data(n: int, dim: int, n_classes: int, seed: int = 0, sep: float = 0.035) -> tuple[np.ndarray, np.ndarray]:
    """``n`` float32 features in ``n_classes`` Gaussian clusters and their labels (deterministic in ``seed``)."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, n_classes, size=n)
    centers = rng.normal(size=(n_classes, dim)).astype(np.float32) * sep * np.sqrt(768 / dim)
    rotation, _ = np.linalg.qr(rng.normal(size=(dim, dim)))
    spectrum = (1.0 / np.sqrt(np.arange(1, dim + 1)) + 0.15).astype(np.float32)
    noise = (rng.normal(size=(n, dim)).astype(np.float32) * spectrum) @ rotation.astype(np.float32)
    X = centers[y] + noise
    X = X * np.exp(rng.normal(size=dim) * 0.5).astype(np.float32) + rng.normal(size=dim).astype(np.float32)
    return X.astype(np.float32), y


def _timed(fn: Callable[[], np.ndarray]) -> tuple[np.ndarray, float]:
    start = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - start


def _row(name: str, ours: tuple[np.ndarray, float], theirs: tuple[np.ndarray, float], y: np.ndarray, note: str = "") -> dict[str, Any]:
    acc_o, acc_s = float((ours[0] == y).mean()), float((theirs[0] == y).mean())
    return {
        "probe": name,
        "ours_s": ours[1],
        "sklearn_s": theirs[1],
        "ratio": ours[1] / theirs[1] if theirs[1] > 0 else float("nan"),
        "acc_ours": acc_o,
        "acc_sklearn": acc_s,
        "diff": acc_o - acc_s,
        "agreement": float((ours[0] == theirs[0]).mean()),
        "note": note,
    }


def run(quick: bool = False, device: str = "cpu", seed: int = 0, verbose: bool = False) -> list[dict[str, Any]]:
    """Run every comparison; one dict per row (keys: probe, ours_s, sklearn_s, ratio, acc_ours, acc_sklearn, diff,
    agreement, note)."""
    import warnings

    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import LogisticRegression
    from sklearn.neighbors import KNeighborsClassifier, NearestCentroid
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from sklearn.svm import LinearSVC

    from biobench_core import make_probe

    size = QUICK if quick else FULL
    X, y = make_data(size["n_train"] + size["n_test"], size["dim"], size["n_classes"], seed=seed)
    Xtr, ytr, Xte, yte = X[: size["n_train"]], y[: size["n_train"]], X[size["n_train"] :], y[size["n_train"] :]
    rows: list[dict[str, Any]] = []

    def log(msg: str) -> None:
        if verbose:
            print(msg, flush=True)

    def ours(name: str, **options: Any):
        probe = make_probe(name, device=device, seed=seed, **options)
        pred, secs = _timed(lambda: probe.fit(Xtr, ytr).predict(Xte))
        return probe, (pred, secs)

    def sk(model) -> tuple[np.ndarray, float]:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            return _timed(lambda: model.fit(Xtr, ytr).predict(Xte))

    log(f"data: {size}")
    probe, res = ours("simpleshot")
    Ztr, Zte = probe.transform(Xtr), probe.transform(Xte)  # transform cost is in ours' time, not sklearn's
    nc = NearestCentroid()
    theirs = _timed(lambda: nc.fit(Ztr, ytr).predict(Zte))
    rows.append(_row("simpleshot", res, theirs, yte, "sklearn on our CL2N features"))
    log(str(rows[-1]))

    for name, model in (("logreg", LogisticRegression), ("svm", LinearSVC)):
        probe, res = ours(name)
        C = probe.describe()["C"]
        theirs = sk(make_pipeline(StandardScaler(), model(C=C)))
        rows.append(_row(f"{name} (CV)", res, theirs, yte, f"ours: {probe.describe()['cv']}, chose C={C:g}; sklearn at that C"))
        log(str(rows[-1]))
        _, res = ours(name, C=C)
        rows.append(_row(f"{name} (C fixed)", res, theirs, yte, f"both at C={C:g}"))
        log(str(rows[-1]))

    _, res = ours("knn", k=10, metric="cosine")
    theirs = sk(KNeighborsClassifier(n_neighbors=10, metric="cosine", algorithm="brute"))
    rows.append(_row("knn", res, theirs, yte, "k=10, cosine"))
    log(str(rows[-1]))
    return rows


def to_markdown(rows: list[dict[str, Any]]) -> str:
    head = "| probe | ours (s) | sklearn (s) | ratio ours/sklearn | acc ours | acc sklearn | diff | agreement | note |"
    lines = [head, "|---|---:|---:|---:|---:|---:|---:|---:|---|"]
    for r in rows:
        lines.append(
            f"| {r['probe']} | {r['ours_s']:.2f} | {r['sklearn_s']:.2f} | {r['ratio']:.2f} | {r['acc_ours']:.4f} | "
            f"{r['acc_sklearn']:.4f} | {r['diff']:+.4f} | {r['agreement']:.4f} | {r['note']} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small size (about 20 s)")
    parser.add_argument("--device", default="cpu", help="torch device for our probes (sklearn runs on the CPU)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    import torch

    print(f"torch threads: {torch.get_num_threads()}, device: {args.device}")
    rows = run(quick=args.quick, device=args.device, seed=args.seed, verbose=True)
    print(to_markdown(rows))


if __name__ == "__main__":
    main()
