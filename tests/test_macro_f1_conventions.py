"""Macro-F1's three conventions by name (issue 19): ``macro-f1`` (the union of the classes in the truth and the
predictions, scikit-learn's default), ``macro-f1-present`` (the classes in the truth, WILDS's) and ``macro-f1-all``
(every class the task declares, an absent one scoring 0, BioBench's). Each is checked, value and every bootstrap
replicate, against scikit-learn's ``f1_score(average="macro")`` with its classes named by ``labels=``."""

from __future__ import annotations

import json

import numpy as np
import pytest
from sklearn.metrics import f1_score

from biobench_core import TaskSpec
from biobench_core.contract._extensions import metric_spec
from biobench_core.contract._tasks import Example, Task
from biobench_core.engine._identity import metric_protocol
from biobench_core.results._metrics import metric_replicates, metric_score

N_DECLARED = 12


def _union(t, p):
    return np.unique(np.concatenate([t, p[p != -1]]))  # -1 (not scored) is a miss, never a class


#: name -> the labels scikit-learn is given for one sample (t, p)
CONVENTIONS = {
    "macro-f1": _union,
    "macro-f1-present": lambda t, p: np.unique(t),
    f"macro-f1-all[{N_DECLARED}]": lambda t, p: np.arange(N_DECLARED),
    "macro-f1-all": lambda t, p: np.arange(_union(t, p).max() + 1),  # no count: upstream's 0..largest seen
}


def _sample(rng, n=70):
    """Labels from 9 of 12 declared classes (0..8), predictions also into 9..10 (never 11), and a few -1."""
    t = rng.integers(0, 9, n)
    p = np.where(rng.random(n) < 0.6, t, rng.integers(0, 11, n))
    p[rng.random(n) < 0.05] = -1
    return t, p


def _sklearn(name, t, p):
    return f1_score(t, p, labels=CONVENTIONS[name](t, p), average="macro", zero_division=0)


@pytest.mark.parametrize("name", sorted(CONVENTIONS))
def test_each_convention_is_sklearns_f1_with_its_labels_on_the_value_and_every_resample(name):
    rng = np.random.default_rng(19)
    for _ in range(5):
        t, p = _sample(rng)
        assert metric_score(name, t, p) == pytest.approx(_sklearn(name, t, p), abs=1e-12)
        index = rng.integers(0, t.size, (40, t.size))
        expected = [_sklearn(name, t[row], p[row]) for row in index]
        np.testing.assert_allclose(metric_replicates(name, t, p, None, index), expected, atol=1e-12)


def test_the_conventions_differ_where_the_sample_lacks_classes():
    t, p = _sample(np.random.default_rng(3))
    values = {name: metric_score(name, t, p) for name in CONVENTIONS}
    # each sums the same per-class F1 (a class without a true example has none); only what it divides by differs
    assert values[f"macro-f1-all[{N_DECLARED}]"] < values["macro-f1"] < values["macro-f1-present"]
    assert values[f"macro-f1-all[{N_DECLARED}]"] == pytest.approx(values["macro-f1-present"] * 9 / N_DECLARED)
    # without a count, 0..10 (the largest prediction): every one occurs here, so the union's value
    assert values["macro-f1-all"] == pytest.approx(values["macro-f1"], abs=1e-12)


def test_the_issues_simulation_100_of_182_classes_present():
    """Issue 19: "Simulated with 100 of 182 ids present: 0.692 under the union and 0.385 under upstream's"."""
    rng = np.random.default_rng(4)
    present = rng.choice(182, 100, replace=False)
    t = rng.choice(present, 5000)
    p = np.where(rng.random(5000) < 0.7, t, rng.choice(present, 5000))  # each error is another present class
    union, every = metric_score("macro-f1", t, p), metric_score("macro-f1-all[182]", t, p)
    assert union == pytest.approx(0.700, abs=5e-4) and every == pytest.approx(0.385, abs=5e-4)
    assert every == pytest.approx(union * 100 / 182, abs=1e-12)  # the same F1s over 182 classes, not 100
    assert union == pytest.approx(0.692, abs=0.01)  # the issue's figures, to this simulation's noise
    assert metric_score("macro-f1-present", t, p) == pytest.approx(union, abs=1e-12)  # no prediction outside


def test_a_bound_name_carries_the_class_count_into_the_spec_and_the_results_identity():
    spec = metric_spec("macro-f1-all[182]")
    assert (spec.name, spec.n_classes, spec.takes_n_classes) == ("macro-f1-all", 182, True)
    assert metric_spec("macro-f1-all").n_classes is None
    identities = [metric_protocol(name) for name in ("macro-f1-all", "macro-f1-all[182]", "macro-f1-all[181]")]
    assert identities[1]["n_classes"] == 182 and "n_classes" not in identities[0]
    assert len({json.dumps(i, sort_keys=True) for i in identities}) == 3


def test_a_count_on_a_metric_that_takes_none_and_a_label_outside_the_declared_classes_are_one_line_each():
    with pytest.raises(ValueError, match=r"unknown metric 'accuracy\[3\]'"):
        metric_score("accuracy[3]", [0, 1], [0, 1])
    with pytest.raises(ValueError, match=r"label or prediction 7 is not one of the 5 classes 0\.\.4"):
        metric_score("macro-f1-all[5]", [0, 1, 7], [0, 1, 7])


class _Tiny(Task):
    """In-memory examples over labels 0, 2, 3 (1 has none); ``names`` declares the classes, or not."""

    def __init__(self, spec, names=None):
        super().__init__(spec)
        self.names = names
        self.split_examples = {split: [Example(f"{split}{i}", label) for i, label in enumerate((0, 2, 3, 3))]
                               for split in ("train", "test")}

    @property
    def class_names(self):
        return self.names


def _spec(metric):
    return TaskSpec(id="t/tiny", factory="x:y", metric=metric, needs_data=False)


def test_a_task_is_scored_under_its_metric_with_its_declared_class_count_bound_in():
    assert _Tiny(_spec("macro-f1-all"), names=list("abcdef")).metric == "macro-f1-all[6]"  # its class names
    assert _Tiny(_spec("macro-f1-all")).metric == "macro-f1-all[4]"  # no names: 1 + the largest label
    assert _Tiny(_spec("macro-f1")).metric == "macro-f1"  # a metric of the sample alone keeps its name
    task = _Tiny(_spec("macro-f1"), names=list("abcdef"))
    task.metric = "macro-f1-all"  # what a protocol assigns is bound the same way
    assert task.metric == "macro-f1-all[6]"


def _store(path, records):
    from biobench_core.results._store import ResultsStore

    with ResultsStore(path) as store:
        for record in records:
            store.save(record)
    return path


def _record(task, metric, y_true, y_pred):
    from biobench_core.contract._tasks import Prediction
    from biobench_core.results._store import ExperimentKey, ExperimentRecord

    examples = [Prediction.of(f"img/{i:03d}.png", label=int(t), pred=int(p), score=float(t == p))
                for i, (t, p) in enumerate(zip(y_true, y_pred))]
    key = ExperimentKey("m/a", "pretrained", task, "probe=logreg,dtype=fp32", data="0123456789abcdef")
    return ExperimentRecord(key=key, comparable=True, score=0.0, examples=examples, splits={}, metric=metric,
                            column_settings={"probe": "logreg"})


def test_the_report_names_each_columns_convention(tmp_path, run_cli):
    t, p = _sample(np.random.default_rng(5))
    results = _store(tmp_path / "results", [_record("t/union", "macro-f1", t, p),
                                            _record("t/all", f"macro-f1-all[{N_DECLARED}]", t, p),
                                            _record("t/acc", "accuracy", t, p)])
    table = run_cli("report", "--results", str(results))
    assert table.returncode == 0, table.stderr
    assert "t/union: macro-f1, " in table.stdout
    assert "macro-F1 over the classes in the truth or the predictions (scikit-learn's default)" in table.stdout
    assert (f"t/all: macro-f1-all[{N_DECLARED}], " in table.stdout
            and f"macro-F1 over every class the task declares, an absent class scoring 0 (BioBench's); "
                f"{N_DECLARED} classes" in table.stdout), table.stdout
    report = json.loads(run_cli("report", "--results", str(results), "--format", "json").stdout)
    described = {c["label"]: c["metric_description"] for c in report["columns"]}
    assert described["t/acc"] == "fraction of examples with y_pred == y_true"
    assert "(BioBench's)" in described["t/all"] and "(scikit-learn's default)" in described["t/union"]
    cell = next(c for c in report["results"] if c["task"] == "t/all")
    assert cell["score"] == pytest.approx(_sklearn(f"macro-f1-all[{N_DECLARED}]", t, p), abs=1e-12)
