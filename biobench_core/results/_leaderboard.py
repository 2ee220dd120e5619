"""The leaderboard: backbones x task columns, each cell the task's own metric with a 95% interval, plus a benchmark
mean, and honest ties with the best.

Rows are (backbone, weights, dtype). Columns are (task, column settings, data identity, metric): results with
different settings (probe, task settings such as ``subset``, ``limit``) or from different data never share a column,
and results from an older biobench that recorded no data identity get columns of their own. When a task has
several columns each is labelled with what differs, and a note says why they are separate. A task marked as prior
work (``TaskSpec.prior_work``, recorded with each result) is shown but kept out of the benchmark mean, with a note.
A column whose rows come from different code of its task's plugin, probe or metric (some rows re-run after an
edit) gets a note naming which rows come from which code (:mod:`biobench_core.results._superseded`; ``biobench
prune`` deletes the older ones).

Each score is the task's metric (:mod:`biobench_core.results._metrics`) recomputed from the stored per-example predictions.
Each column draws one set of bootstrap replicates (:func:`biobench_core.results._stats.resample_index`) and every row in it
is scored on the same replicates, paired by example id; the cell intervals that need resampling, the tests against
the best and the benchmark mean all use those replicates. Intervals (:mod:`biobench_core.results._intervals`,
chosen by ``benchmarks/bench_coverage.py``): the exact Clopper-Pearson interval for proportions (accuracy, a mean
of 0/1 scores); for other metrics of labels and predictions, the percentile bootstrap widened to the metric at the
ends of the error count's exact interval; the percentile bootstrap for means of continuous scores; and for the
benchmark mean, the percentile bootstrap of the mean widened to its tasks' intervals combined (MOVER).
Ties: which rows are significantly below the column's best, by a bootstrap step-down over the paired differences
that allows for the best having been chosen and holds the family-wise error at alpha 0.05 per column; a row
compared with the best on too few examples for any test is marked "too few examples to compare"
(see :mod:`biobench_core.results._ties`). Torch-free.

This module assembles the board; the report formats (:mod:`biobench_core.formats`, or a plugin's) render it.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import math
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

import numpy as np

from biobench_core.contract._extensions import metric_spec
from biobench_core.contract._protocols import DEFAULT_PROTOCOL, profile_of
from biobench_core.contract._tasks import as_predictions
from biobench_core.results import _intervals as intervals
from biobench_core.results import _stats as stats
from biobench_core.results import _ties as ties
from biobench_core.results._superseded import mixed_code_note
from biobench_core.results._metrics import (METRIC_NAMES, is_proportion, metric_description, metric_score, prepare,
                                            replicates_from_weights, validate_metric_name)

__all__ = ["Leaderboard", "Cell", "Column", "build_leaderboard", "cell_interval", "interval", "column_statistics",
           "RowData", "ColumnStats"]

N_RESAMPLES = 2000
SEED = 42
ALPHA = stats.ALPHA
EXACT = "Clopper-Pearson exact"
PERCENTILE = "percentile bootstrap"
BOUNDED = "percentile bootstrap widened to the error-count bound"
COMBINED = "percentile bootstrap of the mean widened to the task intervals combined (MOVER)"
OLDER_NOTE = "results from an older biobench: their data cannot be checked for changes"

Row = tuple[str, str, str]  # (backbone, weights, dtype)


# -- one column's statistics, on arrays -------------------------------------------------------------------------


@dataclasses.dataclass
class RowData:
    """One row's results in a column: example ids and, per example, the label, the prediction and the score.

    ``y_true``/``y_pred`` may be ``None`` for metric ``mean``, which uses only the scores.
    """

    ids: Sequence[str]
    y_true: np.ndarray | None
    y_pred: np.ndarray | None
    scores: np.ndarray
    metric: str


@dataclasses.dataclass
class ColumnStats:
    points: np.ndarray  # (rows,) the metric on each row's examples
    replicates: np.ndarray  # (rows, R) the metric on each shared replicate
    intervals: list[tuple[float, float, str]]  # (low, high, method) per row
    best: int
    pvalues: np.ndarray  # against the best, allowing for its choice (1 for the best; NaN: not tested)
    adjusted: np.ndarray  # step-down adjusted over the column (see results._ties)
    below: np.ndarray  # significantly below the best
    n_examples: int  # examples in the column (the union over rows)
    unpaired: list[int]  # rows that share no example with the best (compared unpaired)
    too_few: np.ndarray | None = None  # compared with the best on too few examples for any test (None: no row)


def interval(metric: str, y_true: Any, y_pred: Any, scores: Any, replicates: Any = None,
             confidence: float = 95) -> tuple[float, float, str]:
    """A cell's interval: ``(low, high, method)`` (see :mod:`biobench_core.results._intervals`).

    A proportion (``accuracy``, or ``mean`` of 0/1 scores): the exact Clopper-Pearson interval of successes over
    examples, no resampling. A metric of labels and predictions: the hull of the percentile bootstrap of its
    ``replicates`` and the metric at the ends of the error count's exact interval, so a sample with few or no
    errors keeps its coverage. Any other (``mean`` of continuous scores): the percentile bootstrap.
    """
    if is_proportion(metric, scores if metric == "mean" else None):
        if metric == "accuracy":
            t, p = np.asarray(y_true), np.asarray(y_pred)
            k, n = int(np.count_nonzero(t == p)), t.size
        else:
            values = np.asarray(scores, dtype=np.float64)
            k, n = float(values.sum()), values.size
        low, high = intervals.clopper_pearson_interval(k, n, confidence)
        return low, high, EXACT
    if replicates is None:
        raise ValueError(f"metric {metric!r} needs bootstrap replicates for its interval")
    bootstrap = stats.percentile_interval(replicates, confidence)
    if y_true is None or y_pred is None or metric_spec(metric).needs == "scores":
        return *bootstrap, PERCENTILE
    low, high = intervals.hull(bootstrap, intervals.error_count_interval(metric, y_true, y_pred, confidence))
    return low, high, BOUNDED


def _column_seed(seed: int, column: tuple, rows: Sequence[RowData]) -> list[int]:
    """The column's bootstrap seed, from what is the same on every machine: the board's ``seed``, the column's task,
    settings and metric (``column`` is its key, ``(task, settings, data, metric)``) and the sorted example ids and
    labels of its ``rows``.

    Never the data hash: it holds file paths and mtimes, so the same predictions elsewhere drew other resamples and
    printed other intervals and, near the line, other tie marks. One independent stream per column, stable
    whatever other columns exist; a changed label is a changed column, and draws anew.
    """
    task, settings, _data, metric = column
    no_label = np.iinfo(np.int64).min  # a row without labels (metric ``mean``): ids alone
    distinct: list[tuple[list[str], np.ndarray]] = []
    for row in rows:  # rows of a column usually hold the same examples: hash each distinct set once
        ids = list(row.ids)
        labels = (np.full(len(ids), no_label, dtype=np.int64) if row.y_true is None
                  else np.asarray(row.y_true, dtype=np.int64))
        if not any(ids == seen and np.array_equal(labels, seen_labels) for seen, seen_labels in distinct):
            distinct.append((ids, labels))
    all_ids = np.array([i for ids, _ in distinct for i in ids], dtype=str)
    all_labels = np.concatenate([labels for _, labels in distinct]) if distinct else np.zeros(0, np.int64)
    order = np.lexsort((all_labels, all_ids))  # sorted (id, label) pairs, each once
    ids_sorted, labels_sorted = all_ids[order], all_labels[order]
    keep = np.ones(order.size, dtype=bool)
    keep[1:] = (ids_sorted[1:] != ids_sorted[:-1]) | (labels_sorted[1:] != labels_sorted[:-1])
    ids_sorted, labels_sorted = ids_sorted[keep], labels_sorted[keep]
    h = hashlib.blake2b(digest_size=16)
    h.update(json.dumps([task, [list(s) for s in settings], metric]).encode())
    h.update(np.char.str_len(ids_sorted).astype("<i8").tobytes())  # lengths: the joined ids read one way only
    h.update("".join(ids_sorted.tolist()).encode())
    h.update(labels_sorted.astype("<i8").tobytes())
    digest = h.digest()
    return [int(seed), *(int.from_bytes(digest[i:i + 4], "little") for i in range(0, 16, 4))]


class MetricFailure(Exception):
    """A column's metric raised while the leaderboard computed it; the message says which metric, where and what
    it raised (the original exception is the ``__cause__``)."""


@contextlib.contextmanager
def _failing(rows: Sequence[RowData], where: str) -> Iterator[None]:
    """Turn an exception raised by the rows' metric into a :class:`MetricFailure` naming the metric and ``where``."""
    try:
        yield
    except Exception as exc:  # noqa: BLE001 - a task's own metric may raise anything
        names = ", ".join(repr(m) for m in dict.fromkeys(r.metric for r in rows))
        raise MetricFailure(f"metric {names} failed {where} ({type(exc).__name__}: {exc})") from exc


def column_statistics(rows: Sequence[RowData], *, n_resamples: int = N_RESAMPLES, seed: Any = SEED,
                      alpha: float = ALPHA, chunk: int | None = None) -> ColumnStats:
    """Scores, intervals, shared replicates and ties with the best for the rows of one column.

    The column's examples are the union of the rows' example ids; each replicate draws that many positions, and a
    row's replicate is its metric on the drawn examples it has. A row lacking some of the best's examples is
    tested against the best on the examples both have. A metric that raises, on the examples, the resamples or
    the interval's bounds, raises :class:`MetricFailure` saying which and where.
    """
    union: list[str] = list(rows[0].ids)
    where: dict[str, int] | None = None
    positions = []
    for row in rows:
        ids = list(row.ids)
        if len(ids) <= len(union) and ids == union[: len(ids)]:  # the common case: the same examples, in order
            positions.append(np.arange(len(ids)))
            continue
        if where is None:
            where = {ex_id: i for i, ex_id in enumerate(union)}
        pos = np.empty(len(ids), dtype=np.int64)
        for i, ex_id in enumerate(ids):
            if ex_id not in where:
                where[ex_id] = len(union)
                union.append(ex_id)
            pos[i] = where[ex_id]
        positions.append(pos)
    n = len(union)
    present = []
    full = []
    for row, pos in zip(rows, positions):
        mask = np.zeros(n, dtype=bool)
        mask[pos] = True
        present.append(mask)
        full.append(tuple(None if a is None else _spread(np.asarray(a), pos, n)
                          for a in (row.y_true, row.y_pred, row.scores)))
    with _failing(rows, "on the test examples"):
        points = np.array([metric_score(r.metric, r.y_true, r.y_pred, r.scores) for r in rows])
    best = ties.best_of(points)  # known before resampling: a row lacking some of its examples is paired on shared
    classes = None
    if any(r.metric in ("balanced-accuracy", "macro-f1") for r in rows):
        classes = np.unique(np.concatenate([np.asarray(a) for r in rows if r.y_true is not None
                                            for a in (r.y_true, r.y_pred)]))
    prepared = [prepare(r.metric, *f, present=m, classes=classes) for r, f, m in zip(rows, full, present)]
    pairs: dict[int, tuple[int, int, float, float]] = {}  # row -> (its prepared index, best's, points on shared)
    unpaired = []
    for j, row in enumerate(rows):
        if j == best or np.array_equal(present[j], present[best]):
            continue
        shared = present[j] & present[best]
        if not shared.any():
            unpaired.append(j)
            continue
        sub = []
        for k in (best, j):
            y_true, y_pred, scores = full[k]
            sub.append(metric_score(rows[k].metric, *(None if a is None else a[shared] for a in full[k])))
            prepared.append(prepare(rows[k].metric, y_true, y_pred, scores, present=shared, classes=classes))
        pairs[j] = (len(prepared) - 1, len(prepared) - 2, sub[0], sub[1])
    with _failing(rows, "on the bootstrap resamples"):
        replicates = np.concatenate(
            [replicates_from_weights(prepared, w) for w in stats.resample_weights(n, n_resamples, seed, chunk)],
            axis=1)
    paired = {j: (b_point, j_point, replicates[ib], replicates[ij]) for j, (ij, ib, b_point, j_point) in pairs.items()}
    counts = [int(m.sum()) for m in present]
    n_compared = [int((m & present[best]).sum()) if j not in unpaired else min(counts[j], counts[best])
                  for j, m in enumerate(present)]
    tie = ties.below_best(points, replicates[: len(rows)], alpha, paired=paired, n_compared=n_compared)
    with _failing(rows, "computing the intervals"):
        intervals = [interval(r.metric, r.y_true, r.y_pred, r.scores, replicates[i]) for i, r in enumerate(rows)]
    return ColumnStats(points, replicates[: len(rows)], intervals, best, tie.pvalues, tie.adjusted, tie.below, n,
                       unpaired, tie.too_few)


def _spread(values: np.ndarray, pos: np.ndarray, n: int) -> np.ndarray:
    if pos.size == n and (pos.size == 0 or (pos[0] == 0 and pos[-1] == n - 1 and np.all(np.diff(pos) == 1))):
        return values
    out = np.zeros(n, dtype=values.dtype)
    out[pos] = values
    return out


# -- the board --------------------------------------------------------------------------------------------------


@dataclasses.dataclass
class Column:
    label: str
    task: str
    settings: dict[str, str]
    data: str | None
    metric: str
    interval: str = ""  # EXACT, BOUNDED, PERCENTILE, or several joined by " / "
    in_benchmark: bool = False
    prior_work: bool = False  # the task is marked as prior work: shown, never in the benchmark mean
    n_examples: int = 0
    n_rows: int = 0
    computed: str = ""  # the metric actually computed, when not ``metric`` (the mean score, when it cannot load)
    metric_description: str = ""  # what ``metric`` computes, its convention named (its spec's description)
    failure: str = ""  # why the column shows no score: its metric raised (what, where); "" when it did not

    @property
    def older(self) -> bool:
        return self.data is None

    def to_dict(self) -> dict[str, Any]:
        return {**dataclasses.asdict(self), "older": self.older}


@dataclasses.dataclass
class Cell:
    backbone: str
    weights: str
    dtype: str
    task: str
    column: str
    settings: str
    metric: str
    score: float
    ci_low: float
    ci_high: float
    interval: str
    n_examples: int
    n_skipped: int
    splits: dict[str, float]
    comparable: bool
    images_per_second: float | None
    fit_seconds: float | None
    peak_memory_mb: float | None
    device: str
    data: str | None
    best: bool = False
    tied_with_best: bool = False
    p_value: float | None = None  # against the column's best, allowing for its choice (None: not tested)
    p_holm: float | None = None  # the former name of p_adjusted, kept for readers of older reports
    too_few: bool = False  # compared with the best on too few examples for any test: no mark ("too few")
    p_adjusted: float | None = None  # step-down adjusted over the column: below the best when <= alpha
    replicates: np.ndarray | None = dataclasses.field(default=None, repr=False)
    example_ids: list[str] = dataclasses.field(default_factory=list, repr=False)
    undefined: str = ""  # why the score or its interval is not shown (NaN); "" when both are
    # where the result came from (argv, versions, git commit, host, time), for reports that show it on demand
    provenance: dict[str, Any] = dataclasses.field(default_factory=dict, repr=False)
    # a published figure (``biobench report --published``: results._published), not a result of this project: its
    # score and interval as published, never best or tied, never in the benchmark mean
    published: bool = False

    @property
    def row(self) -> Row:
        return (self.backbone, self.weights, self.dtype)

    def to_dict(self) -> dict[str, Any]:
        """The cell's fields as plain values; an undefined number (NaN) is ``None`` (JSON ``null``)."""
        return {f.name: _defined(getattr(self, f.name)) for f in dataclasses.fields(self)
                if f.name not in ("replicates", "example_ids", "provenance")}


#: The record's fields a cell keeps as its provenance (when the record has them).
PROVENANCE = ("argv", "versions", "git_commit", "hostname", "posix_time", "extract_seconds", "weights_id")


def _provenance(record: Any) -> dict[str, Any]:
    values = {name: getattr(record, name, None) for name in PROVENANCE}
    return {name: value for name, value in values.items() if value not in (None, "", [], {})}


def _defined(value: Any) -> Any:
    return None if isinstance(value, float) and math.isnan(value) else value


@dataclasses.dataclass
class Leaderboard:
    cells: list[Cell]
    tasks: list[str]  # column labels, in order (a task's id when it has one column)
    rows: list[Row]  # best benchmark mean first
    benchmark: dict[Row, tuple[float, float, float] | None]  # mean, low, high (None: not every benchmark column)
    notes: list[str]
    benchmark_marks: dict[Row, str] = dataclasses.field(default_factory=dict)  # "best" | "tied" | "too few" | ""
    columns: list[Column] = dataclasses.field(default_factory=list)
    benchmark_interval: str = ""
    n_resamples: int = N_RESAMPLES
    seed: int = SEED
    published: list[Row] = dataclasses.field(default_factory=list)  # rows of published figures (results._published)

    def cell(self, row: Sequence[str], column: str) -> Cell | None:
        """The cell of ``row`` ((backbone, weights[, dtype])) in ``column`` (its label, or its task's id)."""
        for c in self.cells:
            if c.row[: len(row)] == tuple(row) and column in (c.column, c.task):
                return c
        return None


@dataclasses.dataclass
class _Result:
    record: Any
    order: int
    row: Row
    task: str
    settings: tuple[tuple[str, str], ...]
    data: str | None
    metric: str  # the task's metric, as shown
    computed: str  # the metric recomputed (``mean`` of the scores when predictions were not stored)
    ids: list[str]
    y_true: np.ndarray | None
    y_pred: np.ndarray | None
    scores: np.ndarray
    n_skipped: int

    @property
    def column_key(self) -> tuple:
        return (self.task, self.settings, self.data, self.metric)


def row_of(record: Any) -> Row:
    """The leaderboard row of a stored result: ``(backbone, weights, dtype)``."""
    return (record.key.backbone, record.key.weights, str(getattr(record, "dtype", "fp32") or "fp32"))


def column_key(record: Any) -> tuple:
    """The leaderboard column of a stored result, from its metadata alone: ``(task, settings, data, metric)``."""
    key = record.key
    data = getattr(key, "data", None)
    metric = getattr(record, "metric", None) or "accuracy"
    column_settings = getattr(record, "column_settings", None) or {}
    if column_settings:
        settings = tuple(sorted((str(k), str(v)) for k, v in column_settings.items()))
    elif data is None:
        settings = (("settings", str(key.settings)),)  # an older result: its settings compared as given, unparsed
    else:
        settings = ()
    return (key.task, settings, data, metric)


def _result(record: Any, order: int, notes: list[str]) -> _Result | None:
    key = record.key
    row = row_of(record)
    dtype = row[2]
    _task, settings, data, metric = column_key(record)
    examples = as_predictions(record.examples, "stored result")
    name = f"{key.backbone} [{key.weights}, {dtype}] on {key.task}"
    if not examples:
        notes.append(f"{name}: no test examples stored; not shown")
        return None
    ids = [p.id for p in examples]
    scores = np.array([p.score for p in examples], dtype=np.float64)
    try:
        y_true = np.array([p.label for p in examples], dtype=np.int64)
        y_pred = np.array([p.pred for p in examples], dtype=np.int64)
    except (KeyError, TypeError, ValueError):
        y_true = y_pred = None
    computed = metric
    if y_true is None and metric != "mean":
        computed = "mean"
        if metric != "accuracy":
            notes.append(f"{name}: stored without per-example predictions, so its {metric} cannot be recomputed; "
                         "showing the mean per-example score")
    n_skipped = getattr(record, "n_skipped", None)
    if n_skipped is None:
        n_skipped = sum(1 for p in examples if p.info.get("skipped"))
    return _Result(record, order, row, key.task, settings, data, metric, computed, ids, y_true, y_pred, scores,
                   int(n_skipped))


def _row_name(row: Row) -> str:
    return f"{row[0]} [{row[1]}, {row[2]}]"


def _label_columns(keys: list[tuple], notes: list[str]) -> dict[tuple, str]:
    """Column labels: the task id, plus what differs when a task has several columns."""
    labels: dict[tuple, str] = {}
    by_task: dict[str, list[tuple]] = {}
    for key in keys:
        by_task.setdefault(key[0], []).append(key)
    for task, group in by_task.items():
        if len(group) == 1:
            protocol = dict(group[0][1]).get("protocol")
            labels[group[0]] = f"{task} [protocol={protocol}]" if protocol else task
            continue
        settings = [dict(k[1]) for k in group]
        differing_in: dict[bool, list[str]] = {}  # newer and older results: settings compared among their own
        for older in (False, True):
            same_age = [s for k, s in zip(group, settings) if (k[2] is None) == older]
            names = sorted({name for s in same_age for name in s})
            differing_in[older] = [n for n in names if len({s.get(n, "default") for s in same_age}) > 1]
        differing = list(dict.fromkeys(differing_in[False] + differing_in[True]))
        datas = {k[2] for k in group if k[2] is not None}
        metrics = {k[3] for k in group}
        for key, s in zip(group, settings):
            parts = []
            named = differing_in[key[2] is None]
            if "protocol" in s and "protocol" not in named:  # a column under a protocol always says which
                named = ["protocol", *named]
            shown = ",".join(f"{name}={s.get(name, DEFAULT_PROTOCOL if name == 'protocol' else 'default')}"
                             for name in named)
            if shown:
                parts.append(shown)
            if len(metrics) > 1:
                parts.append(f"metric={key[3]}")
            if key[2] is None:
                parts.append("older results")
            elif len(datas) > 1:
                parts.append(f"data {key[2][:6]}")
            labels[key] = f"{task} [{'; '.join(parts)}]" if parts else task
        reasons = []
        if differing:
            reasons.append(f"different settings ({', '.join(differing)})")
        if len(datas) > 1:
            reasons.append("different data (the train/test manifests differ: "
                           + ", ".join(f"data {d[:6]}" for d in sorted(datas)) + ")")
        if any(k[2] is None for k in group) and datas:
            reasons.append("results from an older biobench, whose data is unknown, next to newer ones")
        if len(metrics) > 1:
            reasons.append(f"different metrics ({', '.join(sorted(metrics))})")
        notes.append(f"{task} has {len(group)} columns, never mixed: " + "; ".join(reasons))
    seen: dict[str, int] = {}
    for key, label in list(labels.items()):
        seen[label] = seen.get(label, 0) + 1
        if seen[label] > 1:
            labels[key] = f"{label} #{seen[label]}"
    return labels


def _benchmark_columns(columns: list[Column], notes: list[str]) -> list[Column]:
    """One column per task: its only one; else among those with current data, the one with no settings but the
    probe (and of several such, the one with the most rows). ``[]`` when some task has no such single column."""
    by_task: dict[str, list[Column]] = {}
    for column in columns:
        by_task.setdefault(column.task, []).append(column)
    chosen = []
    for task, group in by_task.items():
        candidates = [c for c in group if not c.older] or group
        if len(candidates) > 1:
            candidates = [c for c in candidates if set(c.settings) <= {"probe"}]
        if len(candidates) > 1:  # several probes: the one most backbones were run with
            most = max(c.n_rows for c in candidates)
            candidates = [c for c in candidates if c.n_rows == most]
        if len(candidates) != 1:
            notes.append(f"no benchmark mean: {task} has {len(group)} columns and no single one with its default "
                         "settings; a mean over tasks cannot be formed across mismatched columns")
            return []
        chosen.append(candidates[0])
    protocols = sorted({c.settings.get("protocol", DEFAULT_PROTOCOL) for c in chosen})
    if len(protocols) > 1:  # a mean over tasks evaluated under different protocols compares nothing
        notes.append(f"no benchmark mean: the tasks' columns are under different protocols ({', '.join(protocols)}); "
                     "run every task under one protocol")
        return []
    if len(chosen) < len(columns):
        notes.append("benchmark mean over the columns " + ", ".join(c.label for c in chosen)
                     + "; the other columns of the same tasks are not in it")
    return chosen


def protocol_notes(label: str, task: str, protocol: str | None) -> list[str]:
    """What still differs from the evaluation a column's protocol names, from the task's profile (its plugin's
    account, with the expected direction of the published number); a line saying so when the plugin is gone."""
    if protocol is None:
        return []
    from biobench_core.contract._catalog import resolve_task

    try:
        profile = profile_of(resolve_task(task), protocol)
    except Exception:  # noqa: BLE001 - the task's plugin uninstalled or changed: the results still show
        return [f"{label}: run under protocol {protocol}; its task's profile is not installed here, so what still "
                f"differs from that protocol's original evaluation is not shown"]
    differences = profile.differences if profile is not None else ()
    if not differences:
        return [f"{label}: run under protocol {protocol}; its task declares no difference from that protocol"]
    return [f"{label}: under protocol {protocol}, {text}" for text in differences]


def _unloadable(metric: str) -> Exception | None:
    """Why a task's own ``metric`` cannot be loaded here (not installed, or its module does not import); ``None``
    when it loads. Told apart from a metric that loads and then raises, which fails its column instead."""
    if metric in METRIC_NAMES:
        return None
    try:
        validate_metric_name(metric)
        spec = metric_spec(metric)
        spec.load()
        spec.load_replicates()
    except Exception as exc:  # noqa: BLE001 - a plugin's import may raise anything
        return exc
    return None


def _no_statistics(rows: Sequence[RowData], n_resamples: int) -> ColumnStats:
    """A failed column's statistics: every number undefined (NaN), no best."""
    n_rows = len(rows)
    nan = np.full(n_rows, np.nan)
    return ColumnStats(nan, np.full((n_rows, n_resamples), np.nan), [(math.nan, math.nan, "none")] * n_rows, 0,
                       nan, nan, np.zeros(n_rows, dtype=bool), len({i for r in rows for i in r.ids}), [])


#: The share of undefined (NaN) resamples past which a bootstrap interval is withheld: each tail of the 95%
#: interval is 2.5% of the resamples, and as many undefined ones could all belong to one tail, so past it the
#: bound is not identified by the defined ones (below it the interval is shown, and the count is said).
UNDEFINED_SHARE = (100 - 95) / 200


def _undefined(column: Column, results: Sequence[_Result], col: ColumnStats, notes: list[str]) -> list[str]:
    """Per row, why its score or interval is not shown ("" when both are), each said in a note: the column's
    metric failed; the metric is undefined (NaN) on the row's examples; or it is undefined on more than
    :data:`UNDEFINED_SHARE` of the resamples its bootstrap interval needs. Fewer undefined resamples are counted
    in a note."""
    if column.failure:
        return [column.failure] * len(results)
    out = []
    for i, r in enumerate(results):
        metric = r.computed
        if math.isnan(col.points[i]):
            notes.append(f"{_row_name(r.row)} on {column.label}: metric {metric!r} is undefined (NaN) on its "
                         "examples; shown as n/a, with no interval and no mark")
            out.append(f"metric {metric!r} is undefined on these examples")
            continue
        replicates = col.replicates[i]
        k, total = int(np.count_nonzero(np.isnan(replicates))), int(replicates.size)
        said = f"metric {metric!r} undefined on {k} of {total} resamples in column {column.label}"
        resampled = not is_proportion(metric, r.scores if metric == "mean" else None)
        if k and resampled and k > UNDEFINED_SHARE * total:
            notes.append(f"{_row_name(r.row)}: {said}; more than {UNDEFINED_SHARE:.1%} (a tail of the 95% "
                         "interval) could all fall in one tail, so its bounds are not identified: no interval shown")
            out.append(f"{said}: no interval")
            continue
        if k:
            notes.append(f"{_row_name(r.row)}: {said}; they are left out of its bootstrap statistics")
        out.append("")
    return out


def _marks(best: int, below: np.ndarray, too_few: np.ndarray | None = None) -> list[str]:
    """Per row: "best", "" (significantly below it), "too few" (examples to compare) or "tied"."""
    few = np.zeros(below.size, dtype=bool) if too_few is None else too_few
    return ["best" if i == best else "" if below[i] else "too few" if few[i] else "tied" for i in range(below.size)]


def _too_few_note(row: Row, column: str, n: int) -> str:
    return (f"{_row_name(row)} on {column}: {ties.TOO_FEW} with the best (n={n}; an exact paired test needs at "
            f"least {ties.min_examples()} examples to reach alpha {ALPHA}): not marked")


def build_leaderboard(records: Iterable[Any], *, n_resamples: int = N_RESAMPLES, seed: int = SEED) -> Leaderboard:
    """The leaderboard of ``records`` (``ExperimentRecord`` or anything with its fields)."""
    notes: list[str] = []
    latest: dict[tuple, _Result] = {}
    for order, record in enumerate(records):
        result = _result(record, order, notes)
        if result is None:
            continue
        slot = (result.row, result.column_key)
        if slot in latest:
            old = latest[slot]
            newer = (getattr(record, "posix_time", 0.0) or 0.0, order) >= (
                getattr(old.record, "posix_time", 0.0) or 0.0, old.order)
            keep, drop = (result, old) if newer else (old, result)
            notes.append(f"{_row_name(result.row)} on {result.task}: several results for one cell "
                         f"({drop.record.key.settings} and {keep.record.key.settings}); showing the latest")
            result = keep
        latest[slot] = result
    keys = list(dict.fromkeys(r.column_key for r in latest.values()))
    labels = _label_columns(keys, notes)
    columns: list[Column] = []
    cells: list[Cell] = []
    marks: dict[tuple[str, Row], str] = {}
    for key in keys:
        results = [r for r in latest.values() if r.column_key == key]
        column = Column(labels[key], key[0], {k: v for k, v in key[1]}, key[2], key[3],
                        prior_work=any(not getattr(r.record, "in_benchmark_mean", True) for r in results))
        column.metric_description = metric_description(column.metric)
        columns.append(column)
        if column.older:
            notes.append(f"{column.label}: {OLDER_NOTE}")
        notes.extend(protocol_notes(column.label, column.task, column.settings.get("protocol")))
        mixed = mixed_code_note(column.label, [(_row_name(r.row), r.record) for r in results])
        if mixed:  # an edited task plugin (or probe, metric) re-run for some rows only
            notes.append(mixed)
        unloadable = _unloadable(column.metric)
        if unloadable is not None:  # a task's own metric that cannot be imported here
            notes.append(f"{column.label}: metric {column.metric!r} cannot be computed here "
                         f"({type(unloadable).__name__}: {unloadable}); showing the mean per-example score")
            column.computed = "mean"
            for r in results:
                r.computed = "mean"
        row_data = [RowData(r.ids, r.y_true, r.y_pred, r.scores, r.computed) for r in results]
        try:
            col = column_statistics(row_data, n_resamples=n_resamples, seed=_column_seed(seed, key, row_data))
        except MetricFailure as exc:  # it loads, and raised: the column fails in words, with no stand-in number
            if column.metric in METRIC_NAMES:
                raise
            column.failure = str(exc)
            notes.append(f"{column.label}: {exc}; the column shows no score")
            col = _no_statistics(row_data, n_resamples)
        column.n_examples, column.n_rows = col.n_examples, len(results)
        column.interval = " / ".join(dict.fromkeys(m for _, _, m in col.intervals))
        row_marks = _marks(col.best, col.below, col.too_few)
        undefined = _undefined(column, results, col, notes)
        for i, r in enumerate(results):
            rec = r.record
            low, high, method = col.intervals[i]
            point, p_value, p_holm = float(col.points[i]), float(col.pvalues[i]), float(col.adjusted[i])
            if undefined[i]:  # no interval; with no score, no mark or test either
                low = high = math.nan
                if math.isnan(point):
                    row_marks[i], p_value, p_holm, method = "", math.nan, math.nan, "none"
            cells.append(Cell(
                r.row[0], r.row[1], r.row[2], r.task, column.label, str(rec.key.settings), r.metric,
                point, low, high, method, len(r.ids), r.n_skipped, dict(getattr(rec, "splits", {})),
                bool(getattr(rec, "comparable", True)), getattr(rec, "images_per_second", None),
                getattr(rec, "fit_seconds", None), getattr(rec, "peak_memory_mb", None),
                str(getattr(rec, "device", "cpu")), r.data, best=row_marks[i] == "best",
                tied_with_best=row_marks[i] == "tied", p_value=_defined(p_value), p_holm=_defined(p_holm),
                too_few=row_marks[i] == "too few", p_adjusted=_defined(p_holm),
                replicates=col.replicates[i], example_ids=r.ids, undefined=undefined[i],
                provenance=_provenance(rec)))
            marks[(column.label, r.row)] = row_marks[i]
            if row_marks[i] == "too few":
                shared = len(set(r.ids) & set(results[col.best].ids))
                notes.append(_too_few_note(r.row, column.label, shared or min(len(r.ids), len(results[col.best].ids))))
            if r.n_skipped:
                notes.append(f"{_row_name(r.row)} on {column.label}: {r.n_skipped} undecodable image(s) were skipped "
                             "and count as wrong")
        short = [(r, len(r.ids)) for r in results if len(r.ids) < col.n_examples]
        if short:
            notes.append(f"{column.label}: not every row has all {col.n_examples} test examples: "
                         + ", ".join(f"{_row_name(r.row)} n={n}" for r, n in short)
                         + "; each is compared with the best on the examples both have")
        for i in col.unpaired:
            notes.append(f"{_row_name(results[i].row)} on {column.label} shares no test example with the best: "
                         "compared unpaired")
    rows = list(dict.fromkeys(c.row for c in cells))
    prior = list(dict.fromkeys(c.task for c in columns if c.prior_work))
    if prior:
        notes.append(f"not in the benchmark mean: {', '.join(prior)} (prior work: a task some backbones were "
                     "trained or tuned on)")
    candidates = [c for c in columns if c.task not in prior]
    bench_columns = _benchmark_columns(candidates, notes) if candidates else []
    for column in bench_columns:
        column.in_benchmark = True
    benchmark: dict[Row, tuple[float, float, float] | None] = {row: None for row in rows}
    benchmark_marks: dict[Row, str] = {}
    bench_interval = ""
    by_slot = {(c.column, c.row): c for c in cells}
    complete = [row for row in rows if bench_columns and all((c.label, row) in by_slot for c in bench_columns)]
    undefined_in = {row: [c.label for c in bench_columns if math.isnan(by_slot[(c.label, row)].score)]
                    for row in complete}
    for row, labels in undefined_in.items():
        if labels:  # a mean with an undefined term is undefined: n/a, never ranked or marked
            benchmark[row] = (math.nan, math.nan, math.nan)
            benchmark_marks[row] = ""
            notes.append(f"{_row_name(row)}: no benchmark mean: its score on {', '.join(labels)} is undefined")
    complete = [row for row in complete if not undefined_in[row]]
    if len(bench_columns) == 1:
        [column] = bench_columns
        bench_interval = column.interval
        for row in complete:
            c = by_slot[(column.label, row)]
            benchmark[row] = (c.score, c.ci_low, c.ci_high)
            benchmark_marks[row] = marks[(column.label, row)]
    elif complete:
        bench_interval = COMBINED
        points = np.array([np.mean([by_slot[(c.label, row)].score for c in bench_columns]) for row in complete])
        reps = np.stack([np.mean([by_slot[(c.label, row)].replicates for c in bench_columns], axis=0)
                         for row in complete])
        top = complete[ties.best_of(points)]
        n_compared = [sum(min(by_slot[(c.label, row)].n_examples, by_slot[(c.label, top)].n_examples)
                          for c in bench_columns) for row in complete]
        tie = ties.below_best(points, reps, n_compared=n_compared)
        for row, mark, point, rep in zip(complete, _marks(tie.best, tie.below, tie.too_few), points, reps):
            tasks = [by_slot[(c.label, row)] for c in bench_columns]
            combined = intervals.combined_mean_interval([c.score for c in tasks],
                                                        [(c.ci_low, c.ci_high) for c in tasks])
            benchmark[row] = (float(point), *intervals.hull(stats.percentile_interval(rep), combined))
            benchmark_marks[row] = mark
    rows.sort(key=lambda r: -(benchmark[r][0] if benchmark[r] is not None and not math.isnan(benchmark[r][0])
                              else -np.inf))
    return Leaderboard(cells, [c.label for c in columns], rows, benchmark, list(dict.fromkeys(notes)),
                       benchmark_marks, columns, bench_interval, n_resamples, seed)


def cell_interval(record: Any, *, n_resamples: int = N_RESAMPLES, seed: int = SEED) -> tuple[float, float, str]:
    """``(low, high, method)``: the interval the leaderboard shows for this one result."""
    result = _result(record, 0, [])
    if result is None:
        return float("nan"), float("nan"), "none"
    if is_proportion(result.computed, result.scores if result.computed == "mean" else None):
        return interval(result.computed, result.y_true, result.y_pred, result.scores)
    rows = [RowData(result.ids, result.y_true, result.y_pred, result.scores, result.computed)]
    col = column_statistics(rows, n_resamples=n_resamples, seed=_column_seed(seed, result.column_key, rows))
    return col.intervals[0]
