"""``tasks/iwildcam``: iWildCam2020-WILDS, species classification of camera-trap images at unseen locations.

**What it measures.** How well a linear probe on frozen features recognises animal species in camera-trap
images taken at camera locations that never appear in training (WILDS's out-of-distribution test split).

**Citation.** Beery, Cole, Gjoka. *The iWildCam 2020 Competition Dataset.* arXiv:2004.10340, 2020; and Koh et al.
*WILDS: A Benchmark of in-the-Wild Distribution Shifts.* ICML 2021.

**Data** (``--data iwildcam=DIR``; ``biobench data fetch tasks/iwildcam --to DIR`` downloads WILDS's v2.0
archive, ~12 GB, into ``DIR/iwildcam_v2.0``, which is where the ``wilds`` package puts it too)::

    DIR/iwildcam_v2.0/metadata.csv     split (train, val, test, id_val, id_test), filename, y,
                                       location_remapped (others, e.g. sequence_remapped and datetime, unused)
    DIR/iwildcam_v2.0/train/<filename> every image, whatever its split
    DIR/iwildcam_v2.0/categories.csv   optional: y, name (class names for the report)

The CSV is read directly, by column name (the ``wilds`` package reaches the network when it is imported).
Example ids are the image file names; each example's group is ``location:<location_remapped>``. A split value
other than the five above is an error naming the row; the val, id_val and id_test rows are read and checked
but not used. Every train and test image's existence is checked when the task is built.

**Protocol.** Train on ``train``, evaluate on ``test`` (the out-of-distribution camera locations). Probe: the
core's ``logreg`` (multinomial logistic regression on standardised features, C by stratified cross-validation on
the training split); ``--set probe=...`` picks another.

**Metric.** Macro-F1 averaged over the classes present in the test labels (``macro-f1-present``,
:func:`macro_f1_present`): ``sklearn.metrics.f1_score(y_true, y_pred, labels=np.unique(y_true), average="macro",
zero_division=0)``, the convention of WILDS's ``F1(average="macro")``, so scores compare with WILDS leaderboards. A
predicted class that is absent from the test labels counts only as a false negative of the true class.
``Evaluation.splits``: the same metric per camera location. Test classes without any training image are kept (they
score 0, as in WILDS) and counted in a warning when the task is built.

**Differences from the published BioBench protocol.** BioBench also fits a linear soft-max classifier
(LayerNorm + Linear trained by AdamW for 10,000 steps, no hyper-parameter search); here it is the core's logistic
regression with C chosen by cross-validation. BioBench's macro-F1 averages over every class index from 0 to the largest
label seen in the truth or the predictions (absent classes scoring 0: the core's ``macro-f1-all``), not over the classes
present in the test truth; this task follows WILDS instead. The test split lacks many of the 182 classes, so BioBench's
number is lower for the same predictions (each absent class counts 0). BioBench's example ids are row counters; here
they are the image file names. BioBench's ``n_train`` sample is class-balanced like the core's.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import numpy as np

from biobench_core import DataRecipe, Download, Example, ImageFileTask, TaskDataError
from biobench_tasks._formats import DataWarning, FileIndex, Table, read_columns

__all__ = ["IWildCam", "DATA", "macro_f1_present", "macro_f1_present_replicates", "SUBDIR", "SPLIT_VALUES"]

SUBDIR = "iwildcam_v2.0"
METADATA = "metadata.csv"
CATEGORIES = "categories.csv"
REQUIRED = ("split", "filename", "y", "location_remapped")
SPLIT_VALUES = ("train", "val", "test", "id_val", "id_test")
USED = {"train": "train", "test": "test"}  # WILDS split -> biobench split

DATA = DataRecipe(
    downloads=(
        Download("https://worksheets.codalab.org/rest/bundles/0x6313da2b204647e79a14b468131fcd64/contents/blob/",
                 "archive.tar.gz", unpack=True, into=SUBDIR),
    ),
    notes="WILDS iWildCam v2.0 (11,957,420,032 bytes compressed); the source publishes no checksum. It unpacks to "
          "iwildcam_v2.0/metadata.csv, categories.csv and train/.",
)


class IWildCam(ImageFileTask):
    """iWildCam2020-WILDS: train on ``train``, test on the unseen locations of ``test``; see the module docstring."""

    open_set = True  # test classes without train images are kept and score 0, as in WILDS

    def resolve_root(self, data: Path) -> Path:
        return data / SUBDIR

    def read(self) -> None:
        csv_path = self.root / METADATA
        if not self.root.is_dir():
            raise TaskDataError(f"{self.root}: missing folder: expected {SUBDIR}/{METADATA} and {SUBDIR}/train/")
        table = read_columns(csv_path, REQUIRED)
        images = self.root / "train"
        if not images.is_dir():
            raise TaskDataError(f"{images}: missing folder: expected {SUBDIR}/train/<filename>")
        files = FileIndex()
        present = files.names(images)
        folder = os.path.join(images, "")
        known_splits = frozenset(SPLIT_VALUES)
        splits: dict[str, list[Example]] = {"train": [], "test": []}
        used = {split: splits[target] for split, target in USED.items()}
        seen: dict[str, int] = {}  # filename -> the row index it was first listed in
        labels: dict[str, int] = {}  # y cell -> class index
        groups: dict[str, str] = {}  # location -> group
        columns = zip(table.column("split"), table.column("filename"), table.column("y"),
                      table.column("location_remapped"))
        for i, (split, filename, cell, location) in enumerate(columns):
            label = labels.get(cell)
            if label is None:
                try:
                    label = int(cell)
                except ValueError:
                    label = -1
                if label >= 0:
                    labels[cell] = label
            if split not in known_splits or not filename or label < 0 or not location:
                _row_error(table, i)
            examples = used.get(split)
            if examples is None:
                continue
            if filename in seen:
                raise TaskDataError(f"{table.where(i)}: duplicate filename {filename} (first in "
                                    f"{table.where(seen[filename])})")
            seen[filename] = i
            if "/" in filename or os.sep in filename or filename in (".", ".."):  # not a plain name: the full path
                path = str(images / filename)
                found = files.exists(path)
            else:
                path = folder + filename
                found = filename in present
            if not found:
                raise TaskDataError(f"{table.where(i)}: image not found: {path}")
            group = groups.get(location)
            if group is None:
                group = groups[location] = f"location:{location}"
            examples.append(Example(filename, label, group, path))
        for split, examples in splits.items():
            if not examples:
                raise TaskDataError(f"{csv_path}: no rows with split '{split}'")
        train_classes = {ex.label for ex in splits["train"]}
        unseen = [ex for ex in splits["test"] if ex.label not in train_classes]
        if unseen:
            n_classes = len({ex.label for ex in unseen})
            warnings.warn(f"{csv_path}: {len(unseen)} test images of {n_classes} classes without train images "
                          f"(e.g. y={unseen[0].label}, {unseen[0].id}): they count in macro-F1 and score 0, "
                          "as in WILDS", DataWarning, stacklevel=3)
        self.split_examples = {name: tuple(examples) for name, examples in splits.items()}
        self._names = self._read_names(max(ex.label for exs in splits.values() for ex in exs))

    def _read_names(self, largest: int) -> list[str] | None:
        path = self.root / CATEGORIES
        if not path.is_file():
            return None
        names = [str(i) for i in range(largest + 1)]
        table = read_columns(path, ("y", "name"))
        for i, (cell, name) in enumerate(zip(table.column("y"), table.column("name"))):
            y = _non_negative_int(cell, table.where(i), "y")
            if y <= largest:
                names[y] = name or names[y]
        return names

    # -- the Task contract -----------------------------------------------------------------------------------

    def image_path(self, example: Example) -> str | Path:
        return example.source if example.source is not None else self.root / "train" / example.id

    @property
    def class_names(self) -> list[str] | None:
        return self._names


def _row_error(table: Table, i: int) -> None:
    """The error for metadata row ``i`` (checked in the order its cells are read)."""
    where = table.where(i)
    cells = {name: table.column(name)[i] for name in REQUIRED}  # only on the failure path
    split = _need(cells, "split", where)
    if split not in SPLIT_VALUES:
        raise TaskDataError(f"{where}: unknown split {split!r} (expected one of {', '.join(SPLIT_VALUES)})")
    _need(cells, "filename", where)
    _non_negative_int(_need(cells, "y", where), where, "y")
    _need(cells, "location_remapped", where)
    raise AssertionError(f"{where}: no error found")  # pragma: no cover - called only for a bad row


def _need(cells: dict[str, str], column: str, where: str) -> str:
    if not cells[column]:
        raise TaskDataError(f"{where}: empty {column!r}")
    return cells[column]


def _non_negative_int(cell: str, where: str, column: str) -> int:
    if not cell:
        raise TaskDataError(f"{where}: empty {column!r}")
    try:
        value = int(cell)
    except ValueError:
        value = -1
    if value < 0:
        raise TaskDataError(f"{where}: {column} {cell!r} is not a class index (an integer >= 0)")
    return value


# -- the metric ------------------------------------------------------------------------------------------------


def macro_f1_present(y_true, y_pred) -> float:
    """Macro-F1 over the classes present in ``y_true`` (WILDS's convention).

    Equal to ``sklearn.metrics.f1_score(y_true, y_pred, labels=np.unique(y_true), average="macro",
    zero_division=0)``. A prediction of a class absent from ``y_true`` (or -1, no prediction) is a false negative
    of the true class and nothing else.
    """
    t = np.asarray(y_true, dtype=np.int64)
    if t.size == 0:
        raise ValueError("macro_f1_present: no examples")
    return float(macro_f1_present_replicates(t, y_pred, np.ones((1, t.size)))[0])


def macro_f1_present_replicates(y_true, y_pred, weights) -> np.ndarray:
    """``macro_f1_present`` on each bootstrap replicate; ``weights[r, i]`` is how often example i is drawn.

    The core's per-class counts (:func:`biobench_core.class_counts`), with the predictions of each class absent
    from the replicate's truth left out, so that :func:`biobench_core.f1_from_counts` averages over the classes
    present in the truth only.
    """
    from biobench_core import class_counts, f1_from_counts

    t, p = np.asarray(y_true, dtype=np.int64), np.asarray(y_pred, dtype=np.int64)
    tp, pred, true = class_counts(t, p, weights)
    return f1_from_counts(tp, np.where(true > 0, pred, 0.0), true)
