"""The published BioBench's own probes as core probes (issue 19): ``adamw-head`` and ``logreg-saga``.

``adamw-head`` is checked against a reference training loop written here with torch's own modules, optimiser
and data loader and upstream's hyper-parameters; ``logreg-saga``'s choice of ``C`` against scikit-learn's
``GridSearchCV`` over the same draws and folds. Both pass the conformance kit; ``adamw-head`` runs through
``biobench run`` (probe options cannot be given there: a run uses upstream's defaults).
"""

from __future__ import annotations

import json
import math
import sqlite3

import numpy as np
import pytest
import torch

from biobench_core.contract._extensions import make_probe, probe_spec
from biobench_core.engine._probes.folds import stratified_folds
from biobench_core.testing import check_probe

UPSTREAM = {"lr": 3e-4, "weight_decay": 1e-2, "end_lr_fraction": 1e-2}


def _blobs(n_train: int, n_test: int, d: int, k: int, spread: float, seed: int, counts=None):
    """Gaussian classes that overlap (``spread`` is the noise scale against unit-scale centres), offset and scaled
    per feature so that a LayerNorm or a standardisation has something to do."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(k, d))
    offset, scale = rng.normal(size=d) * 3.0, rng.uniform(0.5, 3.0, size=d)

    def draw(n, sizes=None):
        y = np.repeat(np.arange(k), sizes) if sizes is not None else rng.integers(0, k, n)
        X = (centres[y] + rng.normal(size=(len(y), d)) * spread) * scale + offset
        return X.astype(np.float32), y.astype(np.int64)

    return (*draw(n_train, counts), *draw(n_test))


# -- adamw-head -----------------------------------------------------------------------------------------------------

def _reference_head(X, y, steps: int, batch_size: int, seed: int) -> torch.nn.Module:
    """Upstream's recipe with torch's modules: LayerNorm + Linear, AdamW (decay on the linear weights only), cosine
    from lr to lr/100 without warm-up, shuffled batches without replacement (the last one shorter), mean
    cross-entropy, float32."""
    torch.manual_seed(seed)
    d, k = X.shape[1], int(y.max()) + 1
    model = torch.nn.Sequential(torch.nn.LayerNorm(d), torch.nn.Linear(d, k))
    decay = [p for p in model.parameters() if p.ndim > 1]
    rest = [p for p in model.parameters() if p.ndim <= 1]
    lr = UPSTREAM["lr"]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": UPSTREAM["weight_decay"]},
                             {"params": rest, "weight_decay": 0.0}], lr=lr)
    data = torch.utils.data.TensorDataset(torch.from_numpy(X), torch.from_numpy(y))
    # shuffle=True with batch_size, drawn as whole batches (one indexing per batch, not one per row)
    batch_sampler = torch.utils.data.BatchSampler(torch.utils.data.RandomSampler(data), batch_size, drop_last=False)
    loader = torch.utils.data.DataLoader(data, sampler=batch_sampler, batch_size=None)

    def batches():
        while True:
            yield from loader

    end = lr * UPSTREAM["end_lr_fraction"]
    for step, (xb, yb) in zip(range(steps), batches()):
        for group in opt.param_groups:
            group["lr"] = end + (lr - end) * 0.5 * (1 + math.cos(math.pi * step / steps))
        loss = torch.nn.functional.cross_entropy(model(xb), yb)
        opt.zero_grad()
        loss.backward()
        opt.step()
    return model.eval()


@pytest.fixture
def one_thread():
    """The reference loop's tiny operations on one torch thread: a second one only slows them down."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.mark.parametrize("batch_size", [2048, 64], ids=["full-batch", "mini-batches"])
def test_adamw_head_reaches_the_accuracy_of_a_reference_torch_loop(batch_size, one_thread):
    X, y, X_test, y_test = _blobs(400, 600, 24, 6, spread=1.0, seed=3)
    steps = 1500  # fewer than upstream's 10,000, the same for both
    probe = make_probe("adamw-head", seed=0, steps=steps, batch_size=batch_size).fit(X, y)
    ours = float(np.mean(probe.predict(X_test) == y_test))
    reference = _reference_head(X, y, steps, batch_size, seed=0)
    with torch.no_grad():
        theirs = float(np.mean(reference(torch.from_numpy(X_test)).argmax(1).numpy() == y_test))
    assert 0.5 < theirs < 0.99, f"the fixture should be learnable but not trivial, reference got {theirs:.3f}"
    # 6 of 600 examples: three times the learning rate, or half the steps, moves the accuracy by more
    assert abs(ours - theirs) <= 0.01, f"adamw-head {ours:.3f} vs the reference loop {theirs:.3f}"
    info = probe.describe()
    assert info["probe"] == "adamw-head" and info["steps"] == steps and info["batch_size"] == batch_size
    assert info["full_batch"] is (batch_size >= len(X))
    assert (info["lr"], info["weight_decay"]) == (UPSTREAM["lr"], UPSTREAM["weight_decay"])


def test_adamw_head_is_deterministic_under_a_seed():
    X, y, X_test, _ = _blobs(300, 200, 16, 5, spread=1.5, seed=4)

    def fit(seed):
        probe = make_probe("adamw-head", seed=seed, steps=60, batch_size=64).fit(X, y)
        return probe.predict(X_test), probe.params_["weight"].clone()

    (p1, w1), (p2, w2), (p3, w3) = fit(0), fit(0), fit(1)
    assert np.array_equal(p1, p2) and torch.equal(w1, w2)
    assert not torch.equal(w1, w3) and not np.array_equal(p1, p3)


def test_adamw_head_defaults_are_upstreams():
    info = make_probe("adamw-head").describe()
    assert (info["steps"], info["lr"], info["weight_decay"], info["batch_size"]) == (10_000, 3e-4, 1e-2, 2048)
    assert probe_spec("adamw-head").version == "1"


# -- logreg-saga ----------------------------------------------------------------------------------------------------

def test_logreg_saga_draws_are_reproducible_and_log_uniform_over_upstreams_range():
    from scipy.stats import kstest

    from biobench_core.engine._probes.logreg_saga import draw_Cs

    draws = make_probe("logreg-saga", seed=0).describe()["C_draws"]
    assert len(draws) == 30 and draws == make_probe("logreg-saga", seed=0).describe()["C_draws"]
    assert draws != make_probe("logreg-saga", seed=1).describe()["C_draws"]
    assert all(1e-3 <= c <= 10.0 for c in draws)
    many = np.log10(draw_Cs(5000, 1e-3, 10.0, seed=0))
    assert kstest((many + 3) / 4, "uniform").pvalue > 0.01


def _search(X, y, draws, folds, class_weight, max_iter, seed):
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import GridSearchCV, PredefinedSplit
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    model = make_pipeline(StandardScaler(), LogisticRegression(solver="saga", class_weight=class_weight,
                                                               max_iter=max_iter, random_state=seed))
    return GridSearchCV(model, {"logisticregression__C": sorted(draws)}, scoring="f1_macro",
                        cv=PredefinedSplit(folds)).fit(X, y)


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_logreg_saga_chooses_the_C_that_maximises_macro_f1_like_sklearn_and_is_class_balanced():
    X, y, X_test, _ = _blobs(0, 200, 10, 4, spread=1.2, seed=5, counts=[90, 30, 12, 8])
    options = {"n_draws": 8, "max_iter": 200}
    probe = make_probe("logreg-saga", seed=2, **options).fit(X, y)
    info = probe.describe()
    folds = stratified_folds(y, 5, seed=2)
    search = _search(X, y, info["C_draws"], folds, "balanced", options["max_iter"], seed=2)
    assert info["C"] == search.best_params_["logisticregression__C"]
    np.testing.assert_allclose([s for _, s in info["cv_scores"]], search.cv_results_["mean_test_score"], rtol=1e-12)
    assert info["C"] == max(info["cv_scores"], key=lambda cs: (cs[1], -cs[0]))[0]  # best score, then smallest C
    assert np.array_equal(probe.predict(X_test), search.predict(X_test))
    assert info["class_weight"] == "balanced" and info["scoring"].startswith("macro-f1")
    # The weights matter on this imbalanced fixture: without them the same search predicts otherwise.
    unweighted = make_probe("logreg-saga", seed=2, class_weight=None, **options).fit(X, y)
    assert not np.array_equal(unweighted.predict(X_test), probe.predict(X_test))


# -- the kit and the CLI --------------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["adamw-head", "logreg-saga"])
def test_the_kit_passes_both_at_their_defaults(name):
    check_probe(name).assert_ok()


def test_adamw_head_runs_through_biobench_run_on_an_image_folder(tmp_path, make_image_folder, run_cli):
    data = make_image_folder(tmp_path / "colours", n_train=4, n_test=2)  # 3 colours: 12 training images
    results = tmp_path / "results"
    proc = run_cli("run", "--backbone", "timm/resnet10t", "--weights", "random", "--task", "image-folder",
                   "--data", f"image-folder={data}", "--results", str(results), "--device", "cpu", "--workers", "0",
                   "--quiet", "--set", "probe=adamw-head")
    assert proc.returncode == 0, proc.stderr
    with sqlite3.connect(results / "biobench.sqlite") as db:
        [(settings, stored)] = db.execute("SELECT settings, probe FROM experiments").fetchall()
    probe = json.loads(stored)
    assert "probe=adamw-head" in settings, settings
    assert probe["probe"] == "adamw-head" and probe["steps"] == 10_000 and probe["full_batch"] is True, probe
