"""The drill-down behind ``biobench report examples``: the test examples one backbone gets right and another gets
wrong on a task, and one backbone's confusions.

A result is chosen as the leaderboard chooses a cell: its row is (backbone, weights, dtype), its column the task's
column (settings, data, metric; :func:`~biobench_core.results._leaderboard.column_key`) with the leaderboard's
label, and of several results for one cell the latest. Not-comparable (``--limit``) results are left out unless
asked for, as in ``biobench report``. Names are matched against what the store holds, not against installed
plugins, so results of an uninstalled plugin can still be drilled into.

An example is *right* when its predicted class equals its true class (``pred == label``, both stored; ``pred`` is
-1 for an example the backbone could not score, which is wrong), and otherwise, for a task that stores no classes,
when its per-example score is 1. Examples are paired by id; only those both results scored are compared.

Only the metadata of the task's results is read to choose; then the predictions of the chosen results alone, as
columns (:meth:`~biobench_core.results._store.ResultsStore.prediction_columns`), so a 100,000-example task drills down in well under
two seconds. Torch-free.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any, NamedTuple

import numpy as np

from biobench_core.contract._errors import did_you_mean
from biobench_core.contract._tasks import Prediction
from biobench_core.results._leaderboard import _label_columns, column_key, row_of

__all__ = ["DrillDownError", "Chosen", "Pair", "DrillDown", "Scored", "choose", "scored", "drill_down", "confusion",
           "top_confusions", "TOP_K", "FULL_MATRIX_MAX"]

#: A confusion figure draws the full matrix up to this many classes, and past it the top :data:`TOP_K` confused
#: (true, predicted) pairs: at 30 classes a 900-cell matrix is still readable at a glance on one page; at
#: hundreds (iNat21's 10,000) it is a grey square, while 20 pairs are what one looks at first.
FULL_MATRIX_MAX = 30
TOP_K = 20

RULE = ("right = the predicted class equals the true class (a stored per-example score of 1 for a task that stores "
        "no classes)")


class DrillDownError(ValueError):
    """Bad drill-down input (an unknown task or backbone, no result, an ambiguous column): a usage error, exit 2."""

    exit_code = 2


@dataclasses.dataclass
class Chosen:
    """A backbone's result chosen for the drill-down: its leaderboard row and column label, and the stored record
    (with its predictions once :func:`drill_down` has read them)."""

    row: tuple[str, str, str]
    column: str
    record: Any

    @property
    def name(self) -> str:
        backbone, weights, dtype = self.row
        return f"{backbone} [{weights}, {dtype}]"


class Pair(NamedTuple):
    """One test example on which two results disagree: its id, true class, each result's predicted class
    (``None`` when not stored) and per-example score."""

    id: str
    label: int | None
    pred_a: int | None
    pred_b: int | None
    score_a: float
    score_b: float


@dataclasses.dataclass
class DrillDown:
    """What ``biobench report examples`` lists: ``a_only`` (A right, B wrong) and ``b_only`` (the reverse), in the
    order A's result stores its examples, over ``n_shared`` examples both scored."""

    task: str
    column: str
    a: Chosen
    b: Chosen
    a_only: list[Pair]
    b_only: list[Pair]
    n_shared: int
    n_a: int
    n_b: int
    rule: str = RULE


def match_name(given: str, stored: Sequence[str], kind: str, *, where: str = "") -> str | None:
    """The stored id ``given`` names: itself, or the one id whose short name (after the last ``/``) or tail
    (``nets/a`` of ``plugin/nets/a``) it is; ``None`` when none does. Several is a :class:`DrillDownError`."""
    if given in stored:
        return given
    found = [s for s in stored if s.endswith("/" + given) or s.rsplit("/", 1)[-1] == given]
    if len(found) > 1:
        raise DrillDownError(f"{kind} '{given}' is ambiguous{where}: it could be {', '.join(found)}; give the full id")
    return found[0] if found else None


def _unknown(given: str, stored: Sequence[str], kind: str, where: str) -> DrillDownError:
    choices = {**{s.rsplit("/", 1)[-1]: s for s in stored}, **{s: s for s in stored}}
    listed = ", ".join(stored[:10]) + (f", ... ({len(stored)} in all)" if len(stored) > 10 else "")
    return DrillDownError(f"no {kind} '{given}' {where}{did_you_mean(given, choices)} ({kind}s there: {listed})")


def choose(store: Any, task: str, backbones: Sequence[str], *, weights: Sequence[str] = (), column: str | None = None,
           include_not_comparable: bool = False) -> tuple[str, list[Chosen]]:
    """The stored task id ``task`` names and, per backbone, the result the leaderboard shows in their one shared
    column (``column``: that column's label, needed when they share several). ``weights``: one for all backbones or
    one per backbone, needed when a backbone has results under several weights or dtypes. Every problem is one
    :class:`DrillDownError` line naming what the store has."""
    by_task = store.backbones_by_task(include_not_comparable=include_not_comparable)
    if not by_task:
        extra = "" if include_not_comparable else " comparable"
        raise DrillDownError(f"results store {store.path} holds no{extra} results: run 'biobench run' first"
                             + ("" if include_not_comparable else " (--all includes --limit runs)"))
    tasks = sorted(by_task)
    task_id = match_name(task, tasks, "task")
    if task_id is None:
        raise _unknown(task, tasks, "task", f"in {store.path}")
    if weights and len(weights) not in (1, len(backbones)):
        raise DrillDownError(f"--weights: give one for every --backbone or one per --backbone ({len(backbones)}), "
                             f"not {len(weights)}")
    ids = []
    for given in backbones:
        found = match_name(given, by_task[task_id], "backbone", where=f" on {task_id}")
        if found is None:
            elsewhere = sorted(t for t, names in by_task.items() if match_name(given, names, "backbone"))
            if elsewhere:
                raise DrillDownError(f"backbone '{given}' has no result on {task_id} (it has results on "
                                     f"{', '.join(elsewhere)}); backbones with results on {task_id}: "
                                     f"{', '.join(by_task[task_id])}")
            raise _unknown(given, by_task[task_id], "backbone", f"with a result on {task_id}")
        ids.append(found)
    records = list(store.experiments(include_not_comparable=include_not_comparable, task=task_id,
                                     predictions=False))
    keys = list(dict.fromkeys(column_key(r) for r in records))
    labels = _label_columns(keys, [])
    cells: dict[tuple, dict[str, tuple[Any, int]]] = {}  # row -> column label -> (latest record, its order)
    for order, record in enumerate(records):
        slot = cells.setdefault(row_of(record), {})
        label = labels[column_key(record)]
        old = slot.get(label)
        if old is None or (record.posix_time or 0.0, order) >= (old[0].posix_time or 0.0, old[1]):
            slot[label] = (record, order)
    rows = [_row(backbone, [r for r in cells if r[0] == backbone], weights[i % len(weights)] if weights else None)
            for i, backbone in enumerate(ids)]
    shared = [label for label in labels.values() if all(label in cells[row] for row in rows)]
    if column is not None:
        if column not in shared:
            named = ", ".join(f"'{c}'" for c in shared) or "none"
            raise DrillDownError(f"--column '{column}': not a column where {' and '.join(ids)} both have a result"
                                 f"{did_you_mean(column, shared)} (columns they share: {named})")
        shared = [column]
    if not shared:
        raise DrillDownError(f"{' and '.join(ids)} share no column on {task_id}: they were run with other settings, "
                             "data or metric (" + "; ".join(f"{r[0]}: " + ", ".join(f"'{c}'" for c in cells[r])
                                                            for r in rows) + ")")
    if len(shared) > 1:
        raise DrillDownError(f"{task_id} has {len(shared)} columns where {' and '.join(ids)} both have a result: "
                             + ", ".join(f"'{c}'" for c in shared) + "; pick one with --column LABEL")
    return task_id, [Chosen(row, shared[0], cells[row][shared[0]][0]) for row in rows]


def _row(backbone: str, rows: list[tuple[str, str, str]], weights: str | None) -> tuple[str, str, str]:
    """The one row of ``backbone`` (under ``weights`` when given, matched on the weights or the dtype)."""
    if weights is not None:
        picked = [r for r in rows if weights in (r[1], r[2])]
        if not picked:
            raise DrillDownError(f"backbone {backbone} has no result under weights '{weights}'"
                                 f"{did_you_mean(weights, [r[1] for r in rows])} (it has: "
                                 + ", ".join(f"{r[1]} [{r[2]}]" for r in rows) + ")")
        rows = picked
    if len(rows) > 1:
        raise DrillDownError(f"backbone {backbone} has results under several weights or dtypes ("
                             + ", ".join(f"{r[1]} [{r[2]}]" for r in rows) + "); pick one with --weights W")
    return rows[0]


@dataclasses.dataclass
class Scored:
    """A result's predictions as columns: example ids, per-example scores, true and predicted classes
    (:data:`NONE` where none is stored) and the class names the predictions record (``pred_name``)."""

    ids: list[str]
    scores: np.ndarray
    labels: np.ndarray
    preds: np.ndarray
    names: dict[int, str]

    @classmethod
    def of(cls, ids: Sequence[str], scores: Sequence[float], labels: Sequence[Any], preds: Sequence[Any],
           pred_names: Sequence[Any]) -> Scored:
        label_array, pred_array = _classes(labels), _classes(preds)
        names: dict[int, str] = {}
        classes, first = np.unique(pred_array, return_index=True)  # each class's name, read at its first prediction
        for c, i in zip(classes.tolist(), first.tolist()):
            if c != NONE and pred_names[i] is not None:
                names[c] = str(pred_names[i])
        return cls(list(ids), np.asarray(scores, dtype=np.float64), label_array, pred_array, names)

    @classmethod
    def from_predictions(cls, examples: Sequence[Prediction]) -> Scored:
        """From in-memory predictions (what a task's evaluation returns)."""
        info = [p.info for p in examples]
        return cls.of([p.id for p in examples], [p.score for p in examples], [i.get("label") for i in info],
                      [i.get("pred") for i in info], [i.get("pred_name") for i in info])

    def right(self) -> np.ndarray:
        """Per example, whether it is right: see the module doc."""
        classes = (self.labels != NONE) & (self.preds != NONE)
        return np.where(classes, (self.preds == self.labels) & (self.preds >= 0), self.scores >= 1.0)

    @property
    def has_classes(self) -> bool:
        return bool(np.any((self.labels != NONE) & (self.preds != NONE)))


def scored(store: Any, chosen: Chosen) -> Scored:
    """The chosen result's predictions, read from the store as columns
    (:meth:`~biobench_core.results._store.ResultsStore.prediction_columns`)."""
    return Scored.of(*store.prediction_columns(chosen.record.key))


NONE = np.iinfo(np.int64).min


def _classes(values: Sequence[Any]) -> np.ndarray:
    """Classes as an int array, :data:`NONE` where none is stored: in one C pass when every one is an int, as a
    run stores them, and one by one otherwise."""
    try:
        return np.array([NONE if v is None else v for v in values], dtype=np.int64)
    except (TypeError, ValueError, OverflowError):
        return np.array([_int(v) for v in values], dtype=np.int64)


def _int(value: Any) -> int:
    try:
        return NONE if value is None else int(value)
    except (TypeError, ValueError):
        return NONE


def drill_down(task_id: str, a: Chosen, b: Chosen, got_a: Scored, got_b: Scored) -> DrillDown:
    """The examples ``a`` gets right and ``b`` wrong, and the reverse, over the examples both scored."""
    ids_a, ids_b = got_a.ids, got_b.ids
    if ids_a == ids_b:  # the common case: the same examples in the same order
        ia = ib = np.arange(len(ids_a))
    else:
        position_b = {example_id: i for i, example_id in enumerate(ids_b)}
        ia = np.array([i for i, example_id in enumerate(ids_a) if example_id in position_b], dtype=np.int64)
        ib = np.array([position_b[ids_a[i]] for i in ia], dtype=np.int64)
    true, pred_a, pred_b = _optional(got_a.labels), _optional(got_a.preds), _optional(got_b.preds)
    score_a, score_b = got_a.scores.tolist(), got_b.scores.tolist()

    def pairs(mask: np.ndarray) -> list[Pair]:
        return [Pair(ids_a[i], true[i], pred_a[i], pred_b[j], score_a[i], score_b[j])
                for i, j in zip(ia[mask].tolist(), ib[mask].tolist())]

    ra, rb = got_a.right()[ia], got_b.right()[ib]
    return DrillDown(task_id, a.column, a, b, pairs(ra & ~rb), pairs(rb & ~ra), int(ia.size), len(ids_a),
                     len(ids_b))


def _optional(values: np.ndarray) -> list[int | None]:
    """``values`` as Python ints, ``None`` where none is stored."""
    return [None if v == NONE else v for v in values.tolist()]


def confusion(got: Scored) -> tuple[np.ndarray, np.ndarray]:
    """``(classes, counts)``: the classes seen as true or predicted (sorted; -1 is "not scored") and
    ``counts[i, j]``, the test examples of true class ``classes[i]`` predicted as ``classes[j]``. A
    :class:`DrillDownError` for a task that stores no classes."""
    keep = (got.labels != NONE) & (got.preds != NONE)
    if not keep.any():
        raise DrillDownError("this task stores no true and predicted classes per example (its metric reads scores "
                             "only), so it has no confusion matrix")
    labels, preds = got.labels[keep], got.preds[keep]
    classes, inverse = np.unique(np.concatenate([labels, preds]), return_inverse=True)
    counts = np.zeros((classes.size, classes.size), dtype=np.int64)
    np.add.at(counts, (inverse[: labels.size], inverse[labels.size:]), 1)
    return classes, counts


def top_confusions(classes: np.ndarray, counts: np.ndarray, k: int = TOP_K) -> list[tuple[int, int, int]]:
    """The ``k`` most frequent confusions ``(true class, predicted class, count)``, most first (ties by class)."""
    off = counts.copy()
    np.fill_diagonal(off, 0)
    true, pred = np.nonzero(off)
    order = np.lexsort((pred, true, -off[true, pred]))[:k]
    return [(int(classes[true[i]]), int(classes[pred[i]]), int(off[true[i], pred[i]])) for i in order]
