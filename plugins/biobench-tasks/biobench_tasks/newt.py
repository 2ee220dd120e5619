"""``tasks/newt``: NeWT (Natural World Tasks), 164 binary classification tasks over iNaturalist photos.

**What it measures.** Whether a frozen backbone's features separate the two sides of many small, expert-made
natural-world questions (species look-alikes, age, health, behaviour, context, counting...): each sub-task is a
binary problem with a few hundred images, solved by a linear SVM on the features.

**Citation.** Van Horn, Cole, Beery, Wilber, Belongie, Mac Aodha. *Benchmarking Representation Learning for
Natural World Image Collections.* CVPR 2021. https://github.com/visipedia/newt

**Data** (``--data newt=DIR``; ``biobench data fetch tasks/newt --to DIR`` downloads both files, ~4.1 GB)::

    DIR/newt2021_labels.csv        id, task, task_cluster, task_subcluster (may be empty), label (0/1),
                                   text_label, split, height, width (the last two unused)
    DIR/newt2021_images/<id>.jpg

Columns are read by name. A row whose ``split`` is ``train`` is a training image; every other value is a test
image (as in the published BioBench code); a value other than ``train`` or ``test`` is accepted with a warning
that counts them. Example ids are the dataset's ``id``; each example's group is its sub-task.

**Protocol.** Per sub-task: features L2-normalised, centred on the sub-task's training mean, L2-normalised again;
a linear-kernel SVM (``sklearn.svm.SVC(kernel="linear")``) fitted on the sub-task's training images predicts its
test images. ``--set C=1`` (default) fixes C = 1 with no search, as the published BioBench does at its default
(all training images): NeWT's sub-tasks have only ~50-200 training images, so a per-task search is noisy and
164 searches would dominate the run time, and a fixed C keeps results comparable with the published ones.
``--set C=cv`` chooses C per sub-task from 1e-4 ... 1e2 by stratified 5-fold cross-validation on that
sub-task's training images (fewer folds when a label has fewer than 5 images). The base ``probe`` setting is
not accepted: the protocol is the per-sub-task SVM.

**Metric.** Accuracy pooled over the test images of all sub-tasks (each example's label and prediction are its
sub-task's 0/1, so pooled accuracy is the mean correctness). ``Evaluation.splits``: accuracy per
``cluster:<task_cluster>`` and per ``subcluster:<task_subcluster>`` (rows without a sub-cluster have none).

**n_train.** ``--set n_train=N`` keeps N training images in all, balanced over (sub-task, label), so every
sub-task keeps about N / 328 images of each label; N must be at least 2 per sub-task. With
``--set n_train_per=subtask`` (which ``--protocol biobench-paper`` sets), N counts images per sub-task, as the
published BioBench samples them: ``N // 2`` of label 0 and the rest of label 1, a label with fewer images keeping
all of its; N must be at least 2 and at most the largest sub-task's training images. Both choices are seeded and
nested (the images chosen for N are among those chosen for any larger N).

**Differences from the published BioBench protocol.**

* BioBench's ``n_train`` is per sub-task (here: ``n_train_per=subtask``; the default is the core's total count)
  and, from 10 images on, switches to a 100-draw random search over kernels (rbf, linear, sigmoid, poly) with
  standardised features; here the probe is always the linear SVM (C fixed, or by cross-validation with
  ``C=cv``), so that the number of training images is the only thing that changes between settings.
* The first L2 normalisation happens here in the probe, on the cached raw features, rather than during
  extraction (the same arithmetic).
* A sub-task left with training images of one label only (its other images could not be decoded) predicts
  that label; one left with no training image scores its test images as errors (prediction -1). BioBench would
  crash.

NeWT is reported as prior work (kept out of the benchmark mean), as in BioBench.
"""

from __future__ import annotations

import hashlib
import os
import warnings
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

from biobench_core import (DataRecipe, Download, Evaluation, Example, ImageFileTask, Setting, SettingsError,
                           SplitFeatures, TaskDataError)
from biobench_tasks._formats import DataWarning, FileIndex, read_columns

__all__ = ["NeWT", "DATA", "LABELS_CSV", "IMAGES_DIR", "C_GRID"]

LABELS_CSV = "newt2021_labels.csv"
IMAGES_DIR = "newt2021_images"
REQUIRED = ("id", "task", "task_cluster", "label", "split")
#: The values of C tried by ``--set C=cv``.
C_GRID = tuple(float(c) for c in np.logspace(-4, 2, 7))
#: What ``n_train`` counts: training images in all (biobench's), or per sub-task (the published BioBench's).
N_TRAIN_PER = ("total", "subtask")

DATA = DataRecipe(
    downloads=(
        Download("https://ml-inat-competition-datasets.s3.amazonaws.com/newt/newt2021_images.tar.gz",
                 "newt2021_images.tar.gz", unpack=True),
        Download("https://ml-inat-competition-datasets.s3.amazonaws.com/newt/newt2021_labels.csv.tar.gz",
                 "newt2021_labels.csv.tar.gz", unpack=True),
    ),
    notes="The source publishes no checksums. Unpacks to newt2021_images/ and newt2021_labels.csv.",
)


def _check_C(value: str) -> str:
    if value.strip().lower() == "cv":
        return "cv"
    try:
        number = float(value)
    except ValueError:
        number = 0.0
    if not number > 0 or not np.isfinite(number):
        raise ValueError("expected a number > 0, or 'cv' to choose C per sub-task by cross-validation")
    return value


def _check_n_train_per(value: str) -> str:
    if value not in N_TRAIN_PER:
        raise ValueError(f"expected one of {', '.join(N_TRAIN_PER)}")
    return value


class NeWT(ImageFileTask):
    """NeWT's 164 binary sub-tasks, one linear SVM each; see the module docstring."""

    settings_schema = {
        "probe": None,  # the protocol is one linear SVM per sub-task
        "class_weight": None,  # its SVMs are unweighted, as the published protocol's
        "C": Setting("the linear SVM's C: a number > 0 (default 1, as the published BioBench) or 'cv' (chosen per "
                     "sub-task by stratified 5-fold cross-validation on its training images)", check=_check_C),
        "n_train_per": Setting("what n_train counts: total (default; training images in all, balanced over sub-task "
                               "and label) or subtask (images per sub-task, n // 2 of label 0 and the rest of label 1, "
                               "a label with fewer keeping all of its, as the published BioBench)",
                               check=_check_n_train_per),
    }

    def read(self) -> None:
        value = _check_C(self.settings.get("C", "1"))
        self.C: float | None = None if value == "cv" else float(value)
        self._read()
        if "n_train" in self.settings:
            n, needed = int(self.settings["n_train"]), 2 * (1 if self._per_subtask else len(self.tasks))
            if n < needed:
                raise SettingsError(f"{self.spec.id}: setting n_train={n}: expected at least {needed} (2 per sub-task, "
                                    f"{len(self.tasks)} sub-tasks) so that every sub-task trains on both labels")

    @property
    def _per_subtask(self) -> bool:
        return str(self.settings.get("n_train_per", "total")) == "subtask"

    def _read(self) -> None:
        csv_path = self.root / LABELS_CSV
        table = read_columns(csv_path, REQUIRED)
        images = self.root / IMAGES_DIR
        if not images.is_dir():
            raise TaskDataError(f"{images}: missing folder: expected {IMAGES_DIR}/<id>.jpg")
        present = FileIndex().names(images)
        folder = f"{images}{os.sep}"
        tasks: dict[str, tuple[str, str | None]] = {}  # task -> (cluster, subcluster)
        self.tasks = tasks
        named: tuple[dict[str, str], dict[str, str]] = ({}, {})  # per label: task -> its first text_label
        first_row: dict[str, int] = {}  # task -> index of the row it was first seen in
        ids = table.column("id")
        check_ids = len(set(ids)) != len(ids)  # an id listed twice (perhaps once per split): check row by row
        seen: dict[tuple[bool, str], int] = {}  # (is_train, id) -> row index
        other_splits: Counter[str] = Counter()
        kinds: dict[str, int] = {}  # split cell -> 0 train, 1 test, 2 another value (a test image, counted)
        train: list[Example] = []
        test: list[Example] = []
        trained: tuple[set[str], set[str]] = (set(), set())  # per label: the tasks with train images of it
        tested: set[str] = set()  # the tasks with test images
        subclusters = table.column("task_subcluster") if "task_subcluster" in table.header else [""] * len(table)
        text = table.column("text_label") if "text_label" in table.header else [""] * len(table)
        columns = zip(ids, table.column("task"), table.column("task_cluster"), subclusters,
                      table.column("label"), table.column("split"), text)
        for i, (example_id, task, cluster, subcluster, cell, split, text_label) in enumerate(columns):
            if not (example_id and task and cluster and cell and split):
                raise TaskDataError(f"{table.where(i)}: empty {table.empty(i, REQUIRED)!r}")
            if cell == "1":
                label = 1
            elif cell == "0":
                label = 0
            else:
                try:
                    value = float(cell)
                except ValueError:
                    value = float("nan")
                if value not in (0.0, 1.0):
                    raise TaskDataError(f"{table.where(i)}: label {cell!r} is not 0 or 1")
                label = int(value)
            kind = kinds.get(split)
            if kind is None:
                kind = kinds[split] = 0 if split.lower() == "train" else 1 if split.lower() == "test" else 2
            if kind == 2:
                other_splits[split] += 1
            known = tasks.get(task)
            if known is None:
                tasks[task], first_row[task] = (cluster, subcluster or None), i
            elif known[0] != cluster or known[1] != (subcluster or None):
                raise TaskDataError(f"{table.where(i)}: task {task!r} has task_cluster={cluster!r}, task_subcluster="
                                    f"{subcluster!r}, but {table.where(first_row[task])} says {known[0]!r}, "
                                    f"{known[1] or ''!r}")
            if check_ids:
                key = (kind == 0, example_id)
                if key in seen:
                    raise TaskDataError(f"{table.where(i)}: duplicate id {example_id} in the "
                                        f"{'train' if kind == 0 else 'test'} split (first in {table.where(seen[key])})")
                seen[key] = i
            name = example_id + ".jpg"
            if name not in present:
                raise TaskDataError(f"{table.where(i)}: image not found: {folder}{name}")
            if text_label and task not in named[label]:
                named[label][task] = text_label
            if kind:
                test.append(Example(example_id, label, task, folder + name))
                tested.add(task)
            else:
                train.append(Example(example_id, label, task, folder + name))
                trained[label].add(task)
        self.text_labels: dict[tuple[str, int], str] = {(task, label): text_label for label in (0, 1)
                                                        for task, text_label in named[label].items()}
        splits = {"train": train, "test": test}
        rows = table.records
        if not rows:
            raise TaskDataError(f"{csv_path}: no rows")
        if other_splits:
            shown = ", ".join(f"{value!r} ({n})" for value, n in sorted(other_splits.items()))
            warnings.warn(f"{csv_path}: {sum(other_splits.values())} rows with a split other than train/test, "
                          f"used as test images: {shown}", DataWarning, stacklevel=4)
        for task in self.tasks:
            for label in (0, 1):
                if task not in trained[label]:
                    raise TaskDataError(f"{csv_path}: task {task!r} has no train images with label {label} "
                                        f"(first row: {table.where(first_row[task])})")
            if task not in tested:
                raise TaskDataError(f"{csv_path}: task {task!r} has no test images (first row: "
                                    f"{table.where(first_row[task])})")
        self.split_examples = {name: tuple(examples) for name, examples in splits.items()}

    # -- the Task contract -----------------------------------------------------------------------------------

    def image_path(self, example: Example) -> str | Path:
        return example.source if example.source is not None else self.root / IMAGES_DIR / f"{example.id}.jpg"

    def stratum(self, example: Example) -> object:
        return (example.group, example.label)

    def chosen_examples(self, split: str) -> list[Example]:
        """With ``n_train_per=subtask``: ``n_train`` training images per sub-task, ``n // 2`` of label 0 and the
        rest of label 1 (a label with fewer keeps all of its), as the published BioBench samples them; chosen in an
        order fixed by the seed and the example id, so the subsets are nested. Otherwise the core's total count."""
        if split != "train" or not self._per_subtask or "n_train" not in self.settings:
            return super().chosen_examples(split)
        n = int(self.settings["n_train"])
        members: dict[tuple[str | None, int], list[Example]] = {}
        for example in self.examples(split):
            members.setdefault((example.group, int(example.label)), []).append(example)
        chosen: set[str] = set()
        for (_, label), examples in members.items():
            order = sorted(examples, key=lambda ex: hashlib.sha256(f"{self.seed}\0{ex.id}".encode()).digest())
            chosen.update(ex.id for ex in order[:n // 2 if label == 0 else n - n // 2])
        return [ex for ex in self.examples(split) if ex.id in chosen]

    def n_train_limit(self) -> int:
        """Per sub-task: the largest sub-task's training images (beyond it, ``n_train`` chooses nothing more)."""
        if not self._per_subtask:
            return super().n_train_limit()
        return max(Counter(ex.group for ex in self.examples("train")).values(), default=0)

    def evaluate(self, train: SplitFeatures, test: SplitFeatures, *, device: str = "cpu") -> Evaluation:
        from biobench_core import group_scores

        x_train, x_test = _l2(train.features), _l2(test.features)
        y_train, y_test = train.labels, test.labels
        train_of: dict[str | None, list[int]] = {}
        for i, ex in enumerate(train.examples):
            train_of.setdefault(ex.group, []).append(i)
        test_of: dict[str | None, list[int]] = {}
        for i, ex in enumerate(test.examples):
            test_of.setdefault(ex.group, []).append(i)
        pred = np.full(len(test.examples), -1, dtype=np.int64)
        chosen: Counter[str] = Counter()
        constant = untrained = 0
        for task, te in test_of.items():
            tr = np.array(train_of.get(task, []), dtype=np.int64)
            te = np.array(te, dtype=np.int64)
            labels = np.unique(y_train[tr]) if len(tr) else np.array([], dtype=np.int64)
            if len(labels) == 0:
                untrained += 1
                continue
            if len(labels) == 1:
                pred[te] = labels[0]
                constant += 1
                continue
            mean = x_train[tr].mean(axis=0, keepdims=True)
            fitted, c = _fit_svc(_l2(x_train[tr] - mean), y_train[tr], self.C, self.seed)
            chosen[f"{c:g}"] += 1
            pred[te] = fitted.predict(_l2(x_test[te] - mean))
        correct = (pred == y_test).astype(np.float64)
        examples = []
        for ex, ok, y, p in zip(test.examples, correct, y_test, pred, strict=True):
            info: dict[str, Any] = {"label": int(y), "pred": int(p), "task": ex.group}
            name = self.text_labels.get((ex.group, int(p)))
            if name:
                info["pred_name"] = name
            examples.append((ex.id, float(ok), info))
        info_of = [self.tasks.get(ex.group, (None, None)) for ex in test.examples]
        splits = group_scores(self.metric, [f"cluster:{c}" if c else None for c, _ in info_of], y_test, pred, correct)
        splits |= group_scores(self.metric, [f"subcluster:{s}" if s else None for _, s in info_of], y_test, pred,
                               correct)
        probe: dict[str, Any] = {"probe": "svc", "kernel": "linear", "C": "cv" if self.C is None else self.C,
                                 "n_subtasks": len(test_of), "C_chosen": dict(sorted(chosen.items())),
                                 "features": "l2, centred on the sub-task's train mean, l2"}
        if constant or untrained:
            probe |= {"n_constant": constant, "n_untrained": untrained}
        return Evaluation(examples=examples, splits=splits, probe=probe)


def _l2(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return x / np.maximum(norms, 1e-12)


def _fit_svc(x: np.ndarray, y: np.ndarray, C: float | None, seed: int) -> tuple[Any, float]:
    """A fitted ``SVC(kernel="linear")`` and its C: ``C`` as given, or chosen by stratified k-fold CV."""
    from sklearn.svm import SVC

    if C is not None:
        return SVC(kernel="linear", C=C).fit(x, y), C
    folds = min(5, int(np.bincount(y).min()))
    if folds < 2:  # a label with one image: nothing to validate on
        return SVC(kernel="linear", C=1.0).fit(x, y), 1.0
    from sklearn.model_selection import GridSearchCV, StratifiedKFold

    search = GridSearchCV(SVC(kernel="linear"), {"C": list(C_GRID)}, cv=StratifiedKFold(folds, shuffle=True,
                          random_state=seed), n_jobs=1, refit=True)
    search.fit(x, y)
    return search.best_estimator_, float(search.best_params_["C"])
