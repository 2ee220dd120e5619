"""The probes against scikit-learn on synthetic features, the registry, label mapping and input errors."""

from __future__ import annotations

import inspect
import warnings

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("sklearn")

from sklearn.datasets import make_classification  # noqa: E402
from sklearn.exceptions import ConvergenceWarning  # noqa: E402
from sklearn.linear_model import LogisticRegression  # noqa: E402
from sklearn.neighbors import KNeighborsClassifier, NearestCentroid  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402
from sklearn.svm import LinearSVC  # noqa: E402

from biobench_core.engine._probes import PROBES, Probe, make_probe  # noqa: E402
from biobench_core.engine._probes.folds import plan_folds, stratified_folds  # noqa: E402

#: Cross-validation is not what the generic tests are about: fix C there to keep the file fast.
FAST = {"logreg": {"C": 1.0}, "svm": {"C": 0.1}}
DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])


def _data(n=900, d=64, k=6, seed=0, sep=1.0, shift=True):
    X, y = make_classification(
        n_samples=n, n_features=d, n_informative=d // 2, n_redundant=d // 4, n_classes=k,
        n_clusters_per_class=1, class_sep=sep, random_state=seed,
    )
    X = X.astype(np.float32)
    if shift:  # uneven offsets and scales, like real features
        rng = np.random.default_rng(seed)
        X = X * np.exp(rng.normal(size=d)).astype(np.float32) + rng.normal(size=d).astype(np.float32) * 3
    half = n * 2 // 3
    return X[:half], y[:half], X[half:], y[half:]


@pytest.fixture(scope="module")
def data():
    return _data()


def _acc(pred, y):
    return float((np.asarray(pred) == y).mean())


# -- registry ---------------------------------------------------------------------------------------------------


def test_registry_names_and_alias():
    assert set(PROBES) == {"simpleshot", "logreg", "svm", "knn"}
    assert type(make_probe("linear")) is PROBES["logreg"]
    for name in PROBES:
        assert isinstance(make_probe(name), Probe)


def test_unknown_probe_lists_valid_names():
    with pytest.raises(ValueError, match="valid names: adamw-head, knn, linear, logreg, logreg-saga, simpleshot, svm"):
        make_probe("ridge")


def test_options_reach_the_probe():
    probe = make_probe("knn", k=3, metric="euclidean")
    assert probe.describe()["k"] == 3 and probe.describe()["metric"] == "euclidean"
    with pytest.raises(ValueError, match="metric"):
        make_probe("knn", metric="manhattan")
    with pytest.raises(ValueError, match="class_weight"):
        make_probe("logreg", class_weight="auto")


# -- simpleshot -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("device", DEVICES)
def test_simpleshot_equals_nearest_centroid_on_transformed_features(data, device):
    Xtr, ytr, Xte, yte = data
    probe = make_probe("simpleshot", device=device).fit(Xtr, ytr)
    Ztr, Zte = probe.transform(Xtr), probe.transform(Xte)
    np.testing.assert_allclose(np.linalg.norm(Ztr, axis=1), 1.0, rtol=1e-10)
    ref = NearestCentroid().fit(Ztr, ytr).predict(Zte)
    np.testing.assert_array_equal(probe.predict(Xte), ref)
    assert _acc(ref, yte) > 0.3  # well above chance (1/6)


def test_simpleshot_many_classes():
    Xtr, ytr, Xte, _ = _data(n=3000, d=128, k=100, sep=2.0, shift=False)
    probe = make_probe("simpleshot").fit(Xtr, ytr)
    ref = NearestCentroid().fit(probe.transform(Xtr), ytr).predict(probe.transform(Xte))
    np.testing.assert_array_equal(probe.predict(Xte), ref)


# -- logistic regression ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("C", [0.01, 1.0])
@pytest.mark.parametrize("class_weight", [None, "balanced"])
def test_logreg_matches_sklearn_at_same_C(data, C, class_weight):
    Xtr, ytr, Xte, yte = data
    if class_weight:  # make the classes uneven so the weights matter
        keep = (ytr != 0) | (np.arange(len(ytr)) % 4 == 0)
        Xtr, ytr = Xtr[keep], ytr[keep]
    probe = make_probe("logreg", C=C, class_weight=class_weight).fit(Xtr, ytr)
    scaler = StandardScaler().fit(Xtr)
    ref = LogisticRegression(C=C, class_weight=class_weight, max_iter=1000).fit(scaler.transform(Xtr), ytr)
    ours, theirs = _acc(probe.predict(Xte), yte), _acc(ref.predict(scaler.transform(Xte)), yte)
    assert abs(ours - theirs) <= 0.01, (ours, theirs)
    assert probe.describe()["C"] == C and probe.describe()["cv"].startswith("skipped")


def test_logreg_chooses_C_by_cv_on_train_only(data):
    Xtr, ytr, Xte, yte = data
    # By construction: fit() takes only training data, and predict() cannot change the fitted model.
    assert list(inspect.signature(Probe.fit).parameters) == ["self", "X", "y"]
    probe = make_probe("logreg").fit(Xtr, ytr)
    info = probe.describe()
    assert info["C"] in probe.Cs and info["cv"] == "5-fold stratified"
    assert info["cv_scores"][f"{info['C']:g}"] == max(info["cv_scores"].values())
    before = probe.coef_.clone()
    probe.predict(Xte)
    assert torch.equal(before, probe.coef_)
    # Same training data, different test data -> same choice; different seed -> same kind of answer.
    assert make_probe("logreg").fit(Xtr, ytr).describe()["C"] == info["C"]
    # Within a point of sklearn fitted at the chosen C.
    scaler = StandardScaler().fit(Xtr)
    ref = LogisticRegression(C=info["C"], max_iter=1000).fit(scaler.transform(Xtr), ytr)
    assert abs(_acc(probe.predict(Xte), yte) - _acc(ref.predict(scaler.transform(Xte)), yte)) <= 0.01


def test_logreg_deterministic(data):
    Xtr, ytr, Xte, _ = data
    a = make_probe("logreg", seed=3).fit(Xtr, ytr)
    b = make_probe("logreg", seed=3).fit(Xtr, ytr)
    assert a.describe()["cv_scores"] == b.describe()["cv_scores"]
    np.testing.assert_array_equal(a.predict(Xte), b.predict(Xte))


def test_logreg_rare_class_reduces_folds():
    Xtr, ytr, Xte, _ = _data(n=600, d=32, k=4)
    rare = np.flatnonzero(ytr == 3)
    keep = np.ones(len(ytr), bool)
    keep[rare[3:]] = False  # class 3 keeps 3 examples
    probe = make_probe("logreg").fit(Xtr[keep], ytr[keep])
    assert probe.describe()["cv"].startswith("3-fold")
    keep[rare[1:]] = False  # a single example: 2 folds
    probe = make_probe("logreg").fit(Xtr[keep], ytr[keep])
    assert probe.describe()["cv"].startswith("2-fold")
    assert set(probe.predict(Xte)) <= {0, 1, 2, 3}


def test_logreg_one_example_per_class_uses_default_C():
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(5, 8)).astype(np.float32), np.array([4, 1, 9, 2, 7])
    probe = make_probe("logreg").fit(X, y)
    assert probe.describe()["C"] == 1.0 and "skipped" in probe.describe()["cv"]
    np.testing.assert_array_equal(probe.predict(X), y)


def test_folds_are_stratified_and_seeded():
    y = np.repeat(np.arange(4), [50, 20, 7, 3])
    assert plan_folds(y, 5) == (3, "3-fold stratified (reduced from 5: the rarest class has 3 example(s))")
    folds = stratified_folds(y, 5, seed=0)
    for c in range(4):
        counts = np.bincount(folds[y == c], minlength=5)
        assert counts.max() - counts.min() <= 1
    np.testing.assert_array_equal(folds, stratified_folds(y, 5, seed=0))
    assert not np.array_equal(folds, stratified_folds(y, 5, seed=1))
    assert plan_folds(np.arange(6), 5)[0] == 0


# -- svm --------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("C", [0.01, 0.1])
def test_svm_matches_linearsvc_at_same_C(data, C):
    Xtr, ytr, Xte, yte = data
    probe = make_probe("svm", C=C).fit(Xtr, ytr)
    scaler = StandardScaler().fit(Xtr)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        ref = LinearSVC(C=C, max_iter=5000).fit(scaler.transform(Xtr), ytr)
    ours, theirs = _acc(probe.predict(Xte), yte), _acc(ref.predict(scaler.transform(Xte)), yte)
    assert abs(ours - theirs) <= 0.01, (ours, theirs)


def test_svm_cv_within_a_point_of_linearsvc(data):
    Xtr, ytr, Xte, yte = data
    probe = make_probe("svm").fit(Xtr, ytr)
    C = probe.describe()["C"]
    assert C in probe.Cs
    scaler = StandardScaler().fit(Xtr)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        ref = LinearSVC(C=C, max_iter=5000).fit(scaler.transform(Xtr), ytr)
    assert abs(_acc(probe.predict(Xte), yte) - _acc(ref.predict(scaler.transform(Xte)), yte)) <= 0.01


# -- knn --------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("metric", ["cosine", "euclidean"])
def test_knn_label_tie_break_equals_sklearn(data, metric, device):
    Xtr, ytr, Xte, _ = data
    probe = make_probe("knn", device=device, k=10, metric=metric, tie_break="label").fit(Xtr, ytr)
    ref = KNeighborsClassifier(n_neighbors=10, metric=metric, algorithm="brute").fit(Xtr, ytr)
    np.testing.assert_array_equal(probe.predict(Xte), ref.predict(Xte))
    dist, idx = probe.kneighbors(Xte)
    ref_dist, ref_idx = ref.kneighbors(Xte)
    np.testing.assert_allclose(dist, ref_dist, atol=1e-6)


@pytest.mark.parametrize("metric", ["cosine", "euclidean"])
def test_knn_default_equals_sklearn_without_vote_ties(data, metric):
    Xtr, ytr, Xte, _ = data
    probe = make_probe("knn", metric=metric).fit(Xtr, ytr)
    ref = KNeighborsClassifier(n_neighbors=10, metric=metric, algorithm="brute").fit(Xtr, ytr)
    _, idx = ref.kneighbors(Xte)
    votes = np.stack([np.bincount(row, minlength=ytr.max() + 1) for row in ytr[idx]])
    top = np.sort(votes, axis=1)
    no_tie = top[:, -1] > top[:, -2]
    assert no_tie.mean() > 0.6
    np.testing.assert_array_equal(probe.predict(Xte)[no_tie], ref.predict(Xte)[no_tie])


def test_knn_distance_tie_break():
    # Two "a" neighbours far away, two "b" neighbours close: a 2-2 tie, won by the closer class.
    Xtr = np.array([[0.0, 1.0], [0.0, 1.1], [10.0, 0.0], [10.0, 0.2]], dtype=np.float32)
    ytr = np.array([5, 5, 3, 3])
    q = np.array([[0.0, 0.9]], dtype=np.float32)
    assert make_probe("knn", k=4, metric="euclidean").fit(Xtr, ytr).predict(q)[0] == 5
    assert make_probe("knn", k=4, metric="euclidean", tie_break="label").fit(Xtr, ytr).predict(q)[0] == 3


def test_knn_k_is_clipped_and_chunks_agree(monkeypatch, data):
    Xtr, ytr, Xte, _ = data
    probe = make_probe("knn", k=50).fit(Xtr[:12], ytr[:12])
    assert probe.describe()["k"] == 12
    full = make_probe("knn").fit(Xtr, ytr).predict(Xte)
    import biobench_core.engine._probes.knn as knn_mod

    monkeypatch.setattr(knn_mod, "TRAIN_BLOCK", 37)
    monkeypatch.setattr(knn_mod, "rows_per_chunk", lambda *a, **k: 13)
    np.testing.assert_array_equal(make_probe("knn").fit(Xtr, ytr).predict(Xte), full)


# -- every probe: labels and errors -----------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(PROBES))
def test_arbitrary_labels_are_mapped_back(name):
    Xtr, ytr, Xte, yte = _data(n=450, d=32, k=3, sep=2.0)
    labels = np.array([3, 7, 42])
    probe = make_probe(name, **FAST.get(name, {})).fit(Xtr, labels[ytr])
    pred = probe.predict(Xte)
    assert set(np.unique(pred)) <= {3, 7, 42}
    assert _acc(pred, labels[yte]) > 0.6
    assert probe.fit_seconds is not None and probe.fit_seconds >= 0
    info = probe.describe()
    assert info["probe"] == name and info["n_classes"] == 3


@pytest.mark.parametrize("name", sorted(PROBES))
def test_float16_and_torch_input(name):
    Xtr, ytr, Xte, _ = _data(n=300, d=16, k=3, sep=2.0)
    a = make_probe(name, **FAST.get(name, {})).fit(Xtr.astype(np.float16), ytr).predict(Xte.astype(np.float16))
    b = make_probe(name, **FAST.get(name, {})).fit(torch.from_numpy(Xtr).bfloat16(), torch.from_numpy(ytr)).predict(torch.from_numpy(Xte))
    assert a.shape == b.shape == (len(Xte),)


@pytest.mark.parametrize("name", sorted(PROBES))
def test_bad_input_errors(name):
    Xtr, ytr, _, _ = _data(n=150, d=8, k=3)
    probe = make_probe(name, **FAST.get(name, {}))
    with pytest.raises(RuntimeError, match="fit"):
        probe.predict(Xtr)
    with pytest.raises(ValueError, match=f"{len(Xtr)} rows but y has 99 labels"):
        probe.fit(Xtr, ytr[:99])
    bad = Xtr.copy()
    bad[5, 2] = np.nan
    with pytest.raises(ValueError, match="NaN.*row 5"):
        probe.fit(bad, ytr)
    bad[5, 2] = np.inf
    with pytest.raises(ValueError, match="infinite"):
        probe.fit(bad, ytr)
    with pytest.raises(ValueError, match="at least 2 classes"):
        probe.fit(Xtr, np.full(len(Xtr), 7))
    with pytest.raises(ValueError, match="2-D"):
        probe.fit(Xtr[0], ytr[:1])
    with pytest.raises(ValueError, match="integer"):
        probe.fit(Xtr, ytr + 0.5)
    probe.fit(Xtr, ytr)
    with pytest.raises(ValueError, match="8 features"):
        probe.predict(Xtr[:, :5])
    nan_test = Xtr.copy()
    nan_test[0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        probe.predict(nan_test)
