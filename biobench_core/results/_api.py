"""Results as data: :func:`load` reads results stores and bundles into typed, immutable results for notebooks.

``load("results")`` (a results folder), ``load("lab.biobench.json.gz")`` (a bundle, see
:mod:`biobench_core.results._bundle`) or ``load(a, b, ...)`` (several, merged as ``biobench report`` merges
them, see :mod:`biobench_core.results._sources`) returns :class:`Results`: a sequence of :class:`Result`, one per
experiment, each with its per-example :class:`Predictions` and its :class:`Provenance`. ``Results.to_pandas()`` and
``Results.to_polars()`` give one row per result, or with ``predictions=True`` one row per test example; pandas and
polars are optional extras (``pip install pandas``), never dependencies of the core.
"""

from __future__ import annotations

import dataclasses
import importlib
import json
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, overload

from biobench_core.results._sources import merge_sources

__all__ = ["load", "Result", "Results", "Predictions", "Provenance", "MissingExtraError"]


class MissingExtraError(ModuleNotFoundError):
    """An optional library a method needs is not installed; the message names the package to install."""


@dataclasses.dataclass(frozen=True)
class Predictions:
    """A result's test examples, in stored order: ``ids``, true and predicted classes (``None`` for a task whose
    metric reads only scores; a predicted class of -1 is an example the backbone could not score) and scores."""

    ids: tuple[str, ...]
    y_true: tuple[int | None, ...]
    y_pred: tuple[int | None, ...]
    scores: tuple[float, ...]

    def __len__(self) -> int:
        return len(self.ids)


@dataclasses.dataclass(frozen=True)
class Provenance:
    """Where and how a result was made, and where it was read from (``source``: a results folder or a bundle)."""

    source: str
    git_commit: str
    versions: dict[str, str] = dataclasses.field(hash=False)
    hostname: str
    device: str
    argv: tuple[str, ...]
    posix_time: float
    images_per_second: float | None
    extract_seconds: float | None
    fit_seconds: float | None
    peak_memory_mb: float | None
    weights_id: str | None
    probe: dict[str, Any] = dataclasses.field(hash=False)
    identity: dict[str, Any] = dataclasses.field(hash=False)


@dataclasses.dataclass(frozen=True)
class Result:
    """One experiment: a backbone (``weights``, ``dtype``) on a task under ``settings`` (the task's settings with
    the probe, dtype and limit; ``column_settings`` those that make a leaderboard column) and data (``data``: the
    hash of the train and test manifests), scored by ``metric`` (``score``: the task's metric on ``predictions``)."""

    backbone: str
    weights: str
    dtype: str
    task: str
    settings: str
    column_settings: dict[str, str] = dataclasses.field(hash=False)
    data: str | None
    metric: str
    score: float
    comparable: bool
    in_benchmark_mean: bool
    n_skipped: int
    splits: dict[str, float] = dataclasses.field(hash=False)
    predictions: Predictions
    provenance: Provenance = dataclasses.field(compare=False)

    @property
    def n_examples(self) -> int:
        return len(self.predictions)


def _result(record: Any, source: str) -> Result:
    examples = record.examples
    predictions = Predictions(tuple(p.id for p in examples), tuple(p.label for p in examples),
                              tuple(p.pred for p in examples), tuple(float(p.score) for p in examples))
    provenance = Provenance(source, record.git_commit, dict(record.versions), record.hostname, record.device,
                            tuple(record.argv), record.posix_time, record.images_per_second, record.extract_seconds,
                            record.fit_seconds, record.peak_memory_mb, record.weights_id, dict(record.probe),
                            dict(record.identity))
    key = record.key
    return Result(key.backbone, key.weights, record.dtype, key.task, key.settings, dict(record.column_settings),
                  key.data, record.metric, float(record.score), bool(record.comparable),
                  bool(record.in_benchmark_mean), int(record.n_skipped), dict(record.splits), predictions, provenance)


def _library(name: str, method: str) -> Any:
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError:
        raise MissingExtraError(f"Results.{method}() needs {name}, which is not installed: pip install {name} "
                                f"(or biobench-core[{name}])", name=name) from None


_RESULT_COLUMNS = ("backbone", "weights", "dtype", "task", "settings", "column_settings", "data", "metric", "score",
                   "n_examples", "n_skipped", "comparable", "in_benchmark_mean")
_PROVENANCE_COLUMNS = ("device", "images_per_second", "fit_seconds", "git_commit", "hostname", "posix_time", "source")
_PREDICTION_COLUMNS = ("backbone", "weights", "dtype", "task", "settings", "data", "example_id", "y_true", "y_pred",
                       "score", "correct")


class Results(Sequence[Result]):
    """The results :func:`load` read: a sequence of :class:`Result`, the ``sources`` read, and the merge's
    ``notes`` (results in several sources: shown once when they agree, left out, named, when they disagree)."""

    def __init__(self, results: Sequence[Result], sources: Sequence[str] = (), notes: Sequence[str] = ()) -> None:
        self._results = tuple(results)
        self.sources = tuple(sources)
        self.notes = tuple(notes)

    @overload
    def __getitem__(self, index: int) -> Result: ...

    @overload
    def __getitem__(self, index: slice) -> Results: ...

    def __getitem__(self, index: int | slice) -> Result | Results:
        if isinstance(index, slice):
            return Results(self._results[index], self.sources, self.notes)
        return self._results[index]

    def __len__(self) -> int:
        return len(self._results)

    def __iter__(self) -> Iterator[Result]:
        return iter(self._results)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Results) and self._results == other._results

    __hash__ = None  # type: ignore[assignment]  # equal by content, not hashable

    def __repr__(self) -> str:
        return f"<Results: {len(self)} from {', '.join(self.sources) or 'nothing'}>"

    def columns(self, predictions: bool = False) -> dict[str, list[Any]]:
        """The table's columns as lists: one row per result, or with ``predictions`` one per test example."""
        if predictions:
            table: dict[str, list[Any]] = {name: [] for name in _PREDICTION_COLUMNS}
            for r in self._results:
                p = r.predictions
                n = len(p)
                for name in ("backbone", "weights", "dtype", "task", "settings", "data"):
                    table[name] += [getattr(r, name)] * n
                table["example_id"] += p.ids
                table["y_true"] += p.y_true
                table["y_pred"] += p.y_pred
                table["score"] += p.scores
                table["correct"] += [None if t is None or q is None else t == q for t, q in zip(p.y_true, p.y_pred)]
            return table
        table = {name: [] for name in _RESULT_COLUMNS + _PROVENANCE_COLUMNS}
        for r in self._results:
            for name in _RESULT_COLUMNS:
                value = getattr(r, name)
                table[name].append(json.dumps(value, sort_keys=True) if name == "column_settings" else value)
            for name in _PROVENANCE_COLUMNS:
                table[name].append(getattr(r.provenance, name))
        return table

    def to_pandas(self, predictions: bool = False) -> Any:
        """A pandas DataFrame: one row per result, or with ``predictions=True`` one row per test example (needs
        pandas: ``pip install pandas``)."""
        pandas = _library("pandas", "to_pandas")
        return pandas.DataFrame(self.columns(predictions))

    def to_polars(self, predictions: bool = False) -> Any:
        """A polars DataFrame: one row per result, or with ``predictions=True`` one row per test example (needs
        polars: ``pip install polars``)."""
        polars = _library("polars", "to_polars")
        return polars.DataFrame(self.columns(predictions), strict=False)


def load(source: str | Path = "results", *more: str | Path, include_not_comparable: bool = False) -> Results:
    """The results of a results folder or a bundle (``biobench export``), or of several merged.

    ``include_not_comparable`` adds the smoke runs (``--limit``) that reports leave out. An unreadable source
    raises with one line naming it; a result the sources disagree on is left out, with a note in
    ``Results.notes``.
    """
    merged = merge_sources([source, *more], include_not_comparable=include_not_comparable)
    return Results([_result(r, origin) for r, origin in zip(merged.records, merged.origins)], merged.sources,
                   merged.notes)

