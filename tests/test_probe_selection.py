"""Model selection on the task's metric (issue 19): ``logreg`` and ``svm`` choose ``C`` by cross-validation scored
with the task's metric, optionally with class-balanced weights.

The reference is scikit-learn's ``GridSearchCV`` on the same folds (a ``PredefinedSplit`` from the probe's own
``folds_``) with the same scorer, over an estimator with the same objective: ``StandardScaler`` then
``LogisticRegression`` or ``LinearSVC``, balanced weights given as per-example weights computed on each fold's
training part (what the probes do; ``LinearSVC``'s own ``class_weight`` re-weights only each binary problem's
positive class). The probes' fold fits run to a tight tolerance here, so both sides score the same models.
"""

from __future__ import annotations

import json
import sqlite3
import sys

import numpy as np
import pytest
import torch
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import f1_score, make_scorer
from sklearn.model_selection import GridSearchCV, PredefinedSplit
from sklearn.preprocessing import StandardScaler
from sklearn.svm import LinearSVC
from sklearn.utils.class_weight import compute_sample_weight

from biobench_core.contract._extensions import make_probe
from biobench_core.testing._distributions import write_distribution

CS = [1e-3, 1e-2, 1e-1, 1.0]
#: Fold fits to convergence (the probes' defaults stop early during the search, to save time).
CONVERGED = {"cv_tol": 1e-6, "cv_max_iter": 1000, "patience": len(CS)}
SCORERS = {"accuracy": "accuracy", "macro-f1": make_scorer(f1_score, average="macro", zero_division=0)}


@pytest.fixture(autouse=True)
def one_thread():
    """Tiny problems: one thread is faster than several on a shared machine."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def imbalanced() -> tuple[np.ndarray, np.ndarray]:
    """Four overlapping Gaussian classes of 120, 40, 12 and 8 examples in 8 dimensions."""
    rng = np.random.default_rng(2)
    centres = rng.normal(size=(4, 8)) * 0.9
    y = np.repeat(np.arange(4), (120, 40, 12, 8))
    return (centres[y] + rng.normal(size=(len(y), 8))).astype(np.float32), y


class Reference(ClassifierMixin, BaseEstimator):
    """scikit-learn's form of the probe's objective at one ``C``."""

    def __init__(self, kind: str = "logreg", C: float = 1.0, class_weight: str | None = None):
        self.kind, self.C, self.class_weight = kind, C, class_weight

    def fit(self, X, y):
        self.scaler_ = StandardScaler().fit(X)
        weights = compute_sample_weight("balanced", y) if self.class_weight == "balanced" else None
        model = (LogisticRegression(C=self.C, max_iter=5000, tol=1e-8) if self.kind == "logreg"
                 else LinearSVC(C=self.C, max_iter=100_000, tol=1e-8))
        self.model_ = model.fit(self.scaler_.transform(X), y, sample_weight=weights)
        self.classes_ = self.model_.classes_
        return self

    def predict(self, X):
        return self.model_.predict(self.scaler_.transform(X))


@pytest.mark.parametrize("class_weight", [None, "balanced"])
@pytest.mark.parametrize("scoring", ["accuracy", "macro-f1"])
@pytest.mark.parametrize("kind", ["logreg", "svm"])
def test_the_chosen_C_is_grid_search_cvs(kind, scoring, class_weight):
    X, y = imbalanced()
    probe = make_probe(kind, seed=0, Cs=CS, scoring=scoring, class_weight=class_weight, **CONVERGED).fit(X, y)
    search = GridSearchCV(Reference(kind, class_weight=class_weight), {"C": CS}, scoring=SCORERS[scoring],
                          cv=PredefinedSplit(probe.folds_), refit=False).fit(X, y)
    assert probe.C_ == search.best_params_["C"]
    assert np.allclose([probe.cv_scores_[c] for c in CS], search.cv_results_["mean_test_score"], rtol=0, atol=1e-9)
    described = probe.describe()
    assert described["scoring"] == scoring and described["class_weight"] == class_weight
    assert "scoring_note" not in described


def test_any_registered_metric_of_labels_scores_the_folds():
    """Found by name in the registry, not known to the probe: balanced accuracy, checked the same way."""
    X, y = imbalanced()
    probe = make_probe("logreg", seed=0, Cs=CS, scoring="balanced-accuracy", **CONVERGED).fit(X, y)
    search = GridSearchCV(Reference("logreg"), {"C": CS}, scoring="balanced_accuracy",
                          cv=PredefinedSplit(probe.folds_), refit=False).fit(X, y)
    assert probe.C_ == search.best_params_["C"] and probe.describe()["scoring"] == "balanced-accuracy"
    assert np.allclose([probe.cv_scores_[c] for c in CS], search.cv_results_["mean_test_score"], rtol=0, atol=1e-9)


def test_a_metric_convention_over_every_declared_class_scores_the_folds():
    """``macro-f1-all[6]`` (a task declaring 6 classes, 2 without examples): each fold's F1 averaged over 6."""
    X, y = imbalanced()
    probe = make_probe("logreg", seed=0, Cs=CS, scoring="macro-f1-all[6]", **CONVERGED).fit(X, y)
    scorer = make_scorer(f1_score, average="macro", labels=range(6), zero_division=0)
    search = GridSearchCV(Reference("logreg"), {"C": CS}, scoring=scorer, cv=PredefinedSplit(probe.folds_),
                          refit=False).fit(X, y)
    assert probe.C_ == search.best_params_["C"] and probe.describe()["scoring"] == "macro-f1-all[6]"
    assert np.allclose([probe.cv_scores_[c] for c in CS], search.cv_results_["mean_test_score"], rtol=0, atol=1e-9)


def test_selecting_on_accuracy_and_on_macro_f1_choose_different_C():
    """Accuracy rewards the 120-example class; macro-F1 needs the 8- and 12-example ones, so a weaker penalty."""
    X, y = imbalanced()
    by_accuracy = make_probe("logreg", seed=0, Cs=CS, scoring="accuracy").fit(X, y)
    by_f1 = make_probe("logreg", seed=0, Cs=CS, scoring="macro-f1").fit(X, y)
    assert (by_accuracy.C_, by_f1.C_) == (0.1, 1.0)
    assert np.array_equal(by_accuracy.folds_, by_f1.folds_)  # the same folds: only the scorer differs


# -- metrics that cannot score a fold ------------------------------------------------------------------------------

FLAKY = '''
import numpy as np
calls = 0

def fails_late(y_true, y_pred):
    """Macro-F1 for the first fold scores, then a failure: mid-search, after the first C."""
    global calls
    calls += 1
    if calls > 7:
        raise ZeroDivisionError("no classes to average over")
    from sklearn.metrics import f1_score
    return f1_score(y_true, y_pred, average="macro")

def not_a_number(y_true, y_pred):
    return float("nan")
'''


@pytest.fixture
def flaky(tmp_path, monkeypatch):
    (tmp_path / "flaky_metric.py").write_text(FLAKY)
    monkeypatch.syspath_prepend(str(tmp_path))
    yield "flaky_metric"
    sys.modules.pop("flaky_metric", None)


@pytest.mark.parametrize("metric", ["fails_late", "not_a_number"])
def test_a_metric_that_fails_on_a_fold_falls_back_to_accuracy_for_the_whole_search(flaky, metric):
    X, y = imbalanced()
    by_accuracy = make_probe("logreg", seed=0, Cs=CS, scoring="accuracy", patience=len(CS)).fit(X, y)
    fallen = make_probe("logreg", seed=0, Cs=CS, scoring=f"{flaky}:{metric}", patience=len(CS)).fit(X, y)
    assert fallen.cv_scores_ == by_accuracy.cv_scores_ and fallen.C_ == by_accuracy.C_  # no C scored two ways
    described = fallen.describe()
    assert described["scoring"] == "accuracy"
    assert f"{flaky}:{metric}" in described["scoring_note"] and "folds scored by accuracy" in described["scoring_note"]
    assert np.array_equal(fallen.predict(X), by_accuracy.predict(X))


def test_a_metric_of_per_example_scores_cannot_score_folds():
    probe = make_probe("svm", seed=0, Cs=CS, scoring="mean").fit(*imbalanced())
    assert probe.describe()["scoring"] == "accuracy"
    assert "reads per-example scores" in probe.describe()["scoring_note"]


def test_an_unknown_scoring_metric_is_refused_when_the_probe_is_built():
    with pytest.raises(ValueError, match=r"logreg: scoring: unknown metric 'macro-f'; did you mean 'macro-f1'"):
        make_probe("logreg", scoring="macro-f")


# -- through `biobench run`: the stored description, and class_weight ----------------------------------------------

SELECTION = '''
from biobench_core import BackboneSpec, TaskSpec, hookimpl

@hookimpl
def biobench_backbones():
    yield BackboneSpec(id="sel/net", factory="sel_pkg.model:Net", embed_dim=16)

@hookimpl
def biobench_tasks():
    yield TaskSpec(id="sel/f1-folder", factory="biobench_tasks.image_folder:ImageFolderTask", metric="macro-f1",
                   protocol="logreg")
'''

SELECTION_MODEL = '''
import torch
from torchvision import transforms
from biobench_core import EncodedImgBatch, VisionBackbone

class Net(VisionBackbone):
    weights_id = "random:seed=0"

    def __init__(self, spec, weights=None):
        super().__init__()
        torch.manual_seed(0)
        self.net = torch.nn.Sequential(torch.nn.Conv2d(3, 16, 3, padding=1), torch.nn.ReLU())

    def img_encode(self, batch):
        return EncodedImgBatch(self.net(batch).mean(dim=(2, 3)), None)

    def make_img_transform(self):
        return transforms.Compose([transforms.Resize((16, 16)), transforms.ToTensor()])
'''


@pytest.fixture
def selection(tmp_path, monkeypatch, make_image_folder, in_process):
    site = tmp_path / "site"
    write_distribution(site, "biobench-sel", {"sel_pkg.__init__": SELECTION, "sel_pkg.model": SELECTION_MODEL},
                       {"sel": "sel_pkg"})
    monkeypatch.setenv("BIOBENCH_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("BIOBENCH_LOAD_PLUGINS", "biobench-sel,biobench-tasks")
    monkeypatch.syspath_prepend(str(site))
    data = make_image_folder(tmp_path / "colours", n_train=6, n_test=2)
    results = tmp_path / "results"

    def run(task: str, *settings: str):
        name = task.partition("/")[2]
        return in_process("run", "--backbone", "sel/net", "--task", task, "--data", f"{name}={data}", "--results",
                          str(results), "--quiet", "--workers", "0", *[a for s in settings for a in ("--set", s)])

    return {"run": run, "results": results, "tmp": tmp_path}


def _stored_probes(results) -> dict[tuple[str, str], dict]:
    with sqlite3.connect(results / "biobench.sqlite") as db:
        return {(task, settings): json.loads(probe)
                for task, settings, probe in db.execute("SELECT task, settings, probe FROM experiments")}


def test_the_stored_probe_description_names_the_scoring_and_the_weights(selection):
    for task, settings in (("sel/f1-folder", ()), ("tasks/image-folder", ()),
                           ("sel/f1-folder", ("class_weight=balanced",))):
        proc = selection["run"](task, *settings)
        assert proc.returncode == 0, proc.stderr
    stored = {(task, "class_weight" in settings): probe
              for (task, settings), probe in _stored_probes(selection["results"]).items()}
    assert stored[("sel/f1-folder", False)]["scoring"] == "macro-f1"
    assert stored[("sel/f1-folder", False)]["class_weight"] is None
    assert stored[("tasks/image-folder", False)]["scoring"] == "accuracy"
    assert stored[("sel/f1-folder", True)]["scoring"] == "macro-f1"
    assert stored[("sel/f1-folder", True)]["class_weight"] == "balanced"  # and its own result: another setting
    assert len(stored) == 3


@pytest.mark.parametrize("probe", ["simpleshot", "knn"])
def test_class_weight_with_a_probe_without_class_weights_is_refused_in_one_line(selection, probe):
    proc = selection["run"]("tasks/image-folder", f"probe={probe}", "class_weight=balanced")
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in proc.stderr, proc.stderr
    assert f"probe {probe} has no class weights" in lines[0] and "class_weight='balanced'" in lines[0]
    assert "tasks/image-folder" in lines[0]
    assert not (selection["tmp"] / "cache").exists() or not any((selection["tmp"] / "cache").rglob("*.npy"))


def test_class_weight_takes_only_balanced(selection):
    proc = selection["run"]("tasks/image-folder", "class_weight=balancd")
    assert proc.returncode == 2 and len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    assert "class_weight='balancd': expected balanced" in proc.stderr

