"""What every task gets from the core: n_train subsamples, a seed, frame pooling, per-group scores with the task's
metric, prior-work tasks kept out of the benchmark mean, and a store that records that flag."""

from __future__ import annotations

import os
import sqlite3
from collections import Counter

import numpy as np
import pytest
import torch
from sklearn.metrics import f1_score

from biobench_core.engine._extraction import pool_frames
from biobench_core.formats import render
from biobench_core.results._leaderboard import build_leaderboard
from biobench_core.results._metrics import group_scores
from biobench_core.contract._specs import TaskSpec
from biobench_core.results._store import SCHEMA_VERSION, ExperimentKey, ExperimentRecord, ResultsStore
from biobench_core.contract._tasks import Example, Task, balanced_subsample

SPEC = TaskSpec(id="toy/clips", factory="x:y", needs_data=False)


def _examples(counts):
    out = []
    for label, n in enumerate(counts):
        out += [Example(id=f"c{label}-{i}", label=label) for i in range(n)]
    return out


class Toy(Task):
    def examples(self, split):
        return _examples([50, 30, 3]) if split == "train" else _examples([5, 5, 5])


def test_n_train_is_class_balanced_nested_seeded_and_in_the_original_order():
    examples = _examples([50, 30, 3])
    small, large = balanced_subsample(examples, 20, 0), balanced_subsample(examples, 40, 0)
    assert Counter(ex.label for ex in small) == {0: 7, 1: 7, 2: 3} or Counter(ex.label for ex in small) == {
        0: 9, 1: 8, 2: 3}
    counts = Counter(ex.label for ex in small)
    assert counts[2] == 3 and abs(counts[0] - counts[1]) <= 1 and sum(counts.values()) == 20
    assert {ex.id for ex in small} <= {ex.id for ex in large}
    assert [examples.index(ex) for ex in small] == sorted(examples.index(ex) for ex in small)
    assert balanced_subsample(examples, 20, 0) == small
    assert balanced_subsample(examples, 20, 1) != small
    assert balanced_subsample(examples, 500, 0) == examples
    for n in range(1, len(examples)):  # nested for every size, never more than asked
        a, b = balanced_subsample(examples, n, 3), balanced_subsample(examples, n + 1, 3)
        assert len(a) == n and {ex.id for ex in a} < {ex.id for ex in b}


def test_n_train_balances_over_the_tasks_stratum():
    examples = [Example(id=f"{t}-{i}", label=i % 2, group=t) for t in "ab" for i in range(20)]
    chosen = balanced_subsample(examples, 8, 0, stratum=lambda ex: (ex.group, ex.label))
    assert Counter((ex.group, ex.label) for ex in chosen) == {(g, y): 2 for g in "ab" for y in (0, 1)}


def test_chosen_examples_apply_n_train_to_train_only_and_change_the_manifest():
    task = Toy(SPEC, settings={"n_train": "12", "seed": "4"})
    assert len(task.chosen_examples("train")) == 12 and len(task.chosen_examples("test")) == 15
    assert task.seed == 4
    full = Toy(SPEC)
    assert task.manifest("train", task.chosen_examples("train")) != full.manifest("train")


def test_decode_key_and_frame_pooling_are_part_of_the_manifest():
    class MaxPooled(Toy):
        frame_pooling = "max"

    class Seeded(Toy):
        def decode_key(self):
            return f"seed={self.seed}"

    plain = Toy(SPEC).manifest("test")
    assert MaxPooled(SPEC).manifest("test") != plain
    assert Seeded(SPEC).manifest("test") != Seeded(SPEC, settings={"seed": "1"}).manifest("test")

    class Bad(Toy):
        frame_pooling = "median"

    with pytest.raises(TypeError, match="frame_pooling"):
        Bad(SPEC)


def test_pool_frames_mean_and_max_per_example():
    feats = torch.tensor([[1.0, -1.0], [3.0, 5.0], [0.0, 2.0], [-4.0, 7.0], [2.0, 2.0], [6.0, -6.0]])
    counts = [2, 3, 1]
    mean, _ = pool_frames(feats, None, counts, "mean")
    high, _ = pool_frames(feats, None, counts, "max")
    assert torch.allclose(mean, torch.tensor([[2.0, 2.0], [-2 / 3, 11 / 3], [6.0, -6.0]]))
    assert torch.equal(high, torch.tensor([[3.0, 5.0], [2.0, 7.0], [6.0, -6.0]]))  # negatives: never max'd with 0
    patches = torch.arange(6 * 2 * 3, dtype=torch.float32).view(6, 2, 3)
    _, pooled = pool_frames(feats, patches, counts, "max")
    assert torch.equal(pooled[1], patches[4])


def test_group_scores_use_the_tasks_metric_like_sklearn():
    rng = np.random.default_rng(0)
    y_true, y_pred = rng.integers(0, 4, 300), rng.integers(0, 4, 300)
    groups = [None if i % 7 == 0 else "abc"[i % 3] for i in range(300)]
    got = group_scores("macro-f1", groups, y_true, y_pred)
    assert sorted(got) == ["a", "b", "c"]
    for g in "abc":
        mask = np.array([x == g for x in groups])
        assert got[g] == pytest.approx(f1_score(y_true[mask], y_pred[mask], average="macro", zero_division=0))
    assert group_scores("accuracy", [None] * 3, [0, 1, 2], [0, 1, 1]) == {}


def _record(task, backbone, *, in_mean=True, correct=0.8, n=100):
    rng = np.random.default_rng(hash((task, backbone)) % 2**32)
    right = rng.random(n) < correct
    examples = [(f"e{i}", float(ok), {"label": 0, "pred": 0 if ok else 1}) for i, ok in enumerate(right)]
    return ExperimentRecord(key=ExperimentKey(backbone, "pretrained", task, "probe=logreg,dtype=fp32", "d" * 16),
                            comparable=True, score=float(right.mean()), examples=examples, splits={},
                            metric="accuracy", column_settings={"probe": "logreg"}, in_benchmark_mean=in_mean)


def test_a_prior_work_task_is_shown_but_kept_out_of_the_benchmark_mean():
    records = [_record(t, b, in_mean=t != "tasks/inat21", correct=c)
               for b, cs in (("m/a", (0.9, 0.9, 0.1)), ("m/b", (0.8, 0.8, 0.99)))
               for t, c in zip(("tasks/one", "tasks/two", "tasks/inat21"), cs)]
    board = build_leaderboard(records, n_resamples=200)
    assert [c.task for c in board.columns if c.in_benchmark] == ["tasks/one", "tasks/two"]
    assert board.cell(("m/a",), "tasks/inat21") is not None
    mean_a = np.mean([board.cell(("m/a",), t).score for t in ("tasks/one", "tasks/two")])
    assert board.benchmark[("m/a", "pretrained", "fp32")][0] == pytest.approx(mean_a)
    assert board.rows[0][0] == "m/a"
    assert "not in the benchmark mean: tasks/inat21 (prior work" in render(board, "table")


def test_the_store_keeps_the_prior_work_flag_and_upgrades_a_version_2_store(tmp_path):
    with ResultsStore(tmp_path) as store:
        store.save(_record("tasks/inat21", "m/a", in_mean=False))
        store.save(_record("tasks/one", "m/a"))
    with ResultsStore(tmp_path, readonly=True) as store:
        assert {r.key.task: r.in_benchmark_mean for r in store.experiments()} == {"tasks/inat21": False,
                                                                                 "tasks/one": True}
    path = tmp_path / "biobench.sqlite"
    with sqlite3.connect(path) as db:  # what biobench 0.2 wrote: no flag, user_version 2
        db.execute("ALTER TABLE experiments DROP COLUMN in_benchmark_mean")
        db.execute("PRAGMA user_version=2")
    with ResultsStore(tmp_path, readonly=True) as store:  # read as is: every result counts
        assert all(r.in_benchmark_mean for r in store.experiments())
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA user_version").fetchone()[0] == 2
    with ResultsStore(tmp_path) as store:  # opened for writing: upgraded in place, results kept
        store.save(_record("tasks/inat21", "m/b", in_mean=False))
        flags = {(r.key.backbone, r.key.task): r.in_benchmark_mean for r in store.experiments()}
    assert flags == {("m/a", "tasks/inat21"): True, ("m/a", "tasks/one"): True, ("m/b", "tasks/inat21"): False}
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == 4


def test_the_manifest_stamps_every_file_a_task_reads(tmp_path):
    frames = [tmp_path / f"f{i}.jpg" for i in range(3)]
    for f in frames:
        f.write_bytes(b"x")

    class Clips(Task):
        def examples(self, split):
            return [Example(id="clip", label=0, source=str(tmp_path))]

        def files(self, example):
            return [str(f) for f in frames]

    task = Clips(SPEC)
    before = task.manifest("test")
    os.utime(frames[1], ns=(1, 1))  # one frame rewritten in place: the folder itself is unchanged
    assert task.manifest("test") != before
