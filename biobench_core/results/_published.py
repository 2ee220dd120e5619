"""Published results beside this project's: a reference bundle's figures as extra rows of a leaderboard.

A plugin ships a reference (``ReferenceSpec``, the ``biobench_references`` hook): a bundle in the
``biobench-reference`` schema (docs/report-references.md) of another evaluation's published per-task scores and
intervals, the protocol they were made under, where they come from (repository, commit, licence) and how their
intervals were computed. ``biobench report --published`` adds them to the board as rows of their own, weights
``published:<name>``:

- only in a column run under the reference's protocol, on a task whose profile for that protocol is
  ``comparable`` (:class:`~biobench_core.contract._protocols.TaskProfile`), with no setting beyond the protocol's
  own and the protocol's metric; every other column gets a note saying why they are not shown there;
- their scores and intervals are the published figures, never recomputed, with a note on how they were computed;
- they never take part in the column's best or tie marks, nor in the benchmark mean (no replicates, no examples).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from typing import Any

from biobench_core.contract._protocols import DEFAULT_PROTOCOL, profile_of
from biobench_core.results._leaderboard import Cell, Column, Leaderboard

__all__ = ["Reference", "ReferenceError", "SCHEMA_NAME", "SCHEMA_VERSION", "load_reference", "read_reference",
           "add_published", "PUBLISHED_INTERVAL"]

SCHEMA_NAME = "biobench-reference"
SCHEMA_VERSION = 1
#: ``Cell.interval`` of a published cell: the interval as its source published it (the notes say how).
PUBLISHED_INTERVAL = "as published"


class ReferenceError(ValueError):
    """A reference that cannot be read: not installed, or a bundle that is not in the schema (one line)."""


@dataclasses.dataclass(frozen=True)
class Figure:
    """One published score: a checkpoint's score and interval on one task."""

    backbone: str  # this project's backbone id, or ``published/<ckpt>`` when no plugin here loads that checkpoint
    ckpt: str  # the source's own name of the checkpoint
    score: float
    ci_low: float
    ci_high: float


@dataclasses.dataclass(frozen=True)
class Reference:
    """A reference bundle, read and checked."""

    name: str
    title: str
    protocol: str
    source: dict[str, Any]  # repository, commit, path, license, copyright
    upstream_meta: dict[str, Any]
    score: str  # what the score is, in words
    interval: str  # how the intervals were computed, in words
    figures: dict[str, list[Figure]]  # task id -> its figures
    unmapped: tuple[str, ...]  # checkpoints kept as ``published/<ckpt>``

    @property
    def weights(self) -> str:
        """The weights label of this reference's rows."""
        return f"published:{self.name}"


def load_reference(name: str | None = None) -> Reference:
    """The installed reference ``name`` (the only one installed when ``None``), read and checked; a
    :class:`ReferenceError` naming it (with a "did you mean") when it is not installed or not readable."""
    from biobench_core.contract._extensions import UnknownExtensionError, extension_names, reference_spec

    if name is None:
        names = extension_names("references")
        if len(names) != 1:
            raise ReferenceError("no published results installed (a plugin offers them through the "
                                 "biobench_references hook; biobench-tasks ships BioBench's)" if not names else
                                 f"several published references installed ({', '.join(names)}): name one, "
                                 f"--published NAME")
        name = names[0]
    try:
        spec = reference_spec(name)
    except UnknownExtensionError as exc:
        raise ReferenceError(f"--published: {exc}") from None
    where = f"reference {spec.name} ({spec.factory})"
    try:
        bundle = spec.load()()
    except Exception as exc:  # noqa: BLE001 - a plugin's loader may raise anything
        raise ReferenceError(f"{where} could not be loaded: {type(exc).__name__}: {exc}") from exc
    return read_reference(bundle, where)


def read_reference(bundle: Any, where: str = "reference") -> Reference:
    """``bundle`` (a dict in the ``biobench-reference`` schema) as a :class:`Reference`; a :class:`ReferenceError`
    naming ``where`` and what is wrong (a newer schema, a missing field, a malformed figure)."""
    def bad(what: str) -> ReferenceError:
        return ReferenceError(f"{where}: {what}")

    if not isinstance(bundle, Mapping):
        raise bad(f"is a {type(bundle).__name__}, not a {SCHEMA_NAME} bundle (a JSON object)")
    schema = bundle.get("schema")
    if not isinstance(schema, Mapping) or schema.get("name") != SCHEMA_NAME:
        raise bad(f"is not a {SCHEMA_NAME} bundle (its schema is {schema!r})")
    version = schema.get("version")
    if not isinstance(version, int) or version > SCHEMA_VERSION or version < 1:
        raise bad(f"is {SCHEMA_NAME} version {version!r}; this biobench reads versions up to {SCHEMA_VERSION}: "
                  "upgrade biobench-core")
    for field, kind in (("name", str), ("protocol", str), ("source", Mapping), ("interval", str), ("score", str),
                        ("tasks", list), ("backbones", list), ("fields", list), ("results", list)):
        if not isinstance(bundle.get(field), kind):
            raise bad(f"field {field!r} is missing or not a {'string' if kind is str else kind.__name__.lower()}")
    try:
        tasks = {t["name"]: str(t["id"]) for t in bundle["tasks"]}
        backbones = {b["ckpt"]: (str(b["id"]), bool(b["mapped"])) for b in bundle["backbones"]}
    except (KeyError, TypeError) as exc:
        raise bad(f"a task or backbone entry lacks {exc}") from None
    fields = list(bundle["fields"])
    missing = {"task", "ckpt", "mean", "ci_low", "ci_high"} - set(fields)
    if missing:
        raise bad(f"'fields' lacks {', '.join(sorted(missing))}")
    at = {field: i for i, field in enumerate(fields)}
    figures: dict[str, list[Figure]] = {}
    seen: set[tuple[str, str]] = set()
    for n, row in enumerate(bundle["results"]):
        if not isinstance(row, list) or len(row) != len(fields):
            raise bad(f"result {n} is not a list of {len(fields)} values ({', '.join(fields)})")
        task, ckpt = row[at["task"]], row[at["ckpt"]]
        task = tasks.get(task, task)  # a task named by the source's name or by its id
        if ckpt not in backbones:
            raise bad(f"result {n} names checkpoint {ckpt!r}, which 'backbones' does not list")
        numbers = [row[at[f]] for f in ("mean", "ci_low", "ci_high")]
        if not all(isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x) for x in numbers):
            raise bad(f"result {n} ({task}, {ckpt}): score and interval must be finite numbers, got {numbers}")
        if (task, ckpt) in seen:
            raise bad(f"result {n}: a second figure for {ckpt} on {task}")
        seen.add((task, ckpt))
        figures.setdefault(task, []).append(Figure(backbones[ckpt][0], ckpt, *map(float, numbers)))
    for task, group in figures.items():
        ids = [f.backbone for f in group]
        if len(set(ids)) != len(ids):
            raise bad(f"two checkpoints map to one backbone id on {task}")
    unmapped = tuple(ckpt for ckpt, (_, mapped) in backbones.items() if not mapped)
    return Reference(str(bundle["name"]), str(bundle.get("title") or bundle["name"]), bundle["protocol"],
                     dict(bundle["source"]), dict(bundle.get("upstream_meta") or {}), bundle["score"],
                     bundle["interval"], figures, unmapped)


def _why_not(column: Column, reference: Reference) -> str:
    """Why the reference's figures are not shown in ``column`` (``""``: they are)."""
    protocol = column.settings.get("protocol", DEFAULT_PROTOCOL)
    if protocol != reference.protocol:
        return (f"the column is under protocol {protocol} and the published figures under {reference.protocol} "
                f"(run with --protocol {reference.protocol} to set them side by side)")
    if column.task not in reference.figures:
        return f"the reference has no figures for {column.task}"
    from biobench_core.contract._catalog import resolve_task

    try:
        spec = resolve_task(column.task)
        profile = profile_of(spec, protocol)
    except Exception:  # noqa: BLE001 - the task's plugin uninstalled or changed: say so, show nothing
        return f"the task's {protocol} profile is not installed here, so whether it is comparable is unknown"
    if profile is None or not profile.comparable:
        why = "; ".join(profile.differences) if profile is not None and profile.differences else "no reason given"
        return f"the task's {protocol} profile marks it not comparable with the published figures ({why})"
    implied = {"probe": spec.protocol, **dict(profile.settings), "protocol": protocol}
    extra = {k: v for k, v in column.settings.items() if implied.get(k) != v}
    if extra:
        return ("the column's settings " + ", ".join(f"{k}={v}" for k, v in sorted(extra.items()))
                + " differ from the protocol's own, under which the figures were published")
    metric = profile.metric or spec.metric
    if column.metric.partition("[")[0] != metric:
        return f"the column's metric is {column.metric}, the protocol's {metric}"
    return ""


def add_published(board: Leaderboard, reference: Reference) -> Leaderboard:
    """``board`` with ``reference``'s figures as rows of their own, in the columns where they compare (see the
    module's docstring), and notes: how they were computed, which checkpoints keep an unmapped id, and why they
    are not shown in each other column. Their cells are never best or tied, and their rows have no benchmark mean."""
    cells: list[Cell] = []
    notes: list[str] = []
    source = reference.source
    provenance = {k: source[k] for k in ("repository", "commit", "path", "license", "copyright") if k in source}
    for column in board.columns:
        why = _why_not(column, reference)
        if why:
            notes.append(f"{column.label}: published rows ({reference.name}) not shown: {why}")
            continue
        for figure in reference.figures[column.task]:
            cells.append(Cell(figure.backbone, reference.weights, "-", column.task, column.label, "published",
                              column.metric, figure.score, figure.ci_low, figure.ci_high, PUBLISHED_INTERVAL, 0, 0,
                              {}, True, None, None, None, "", None,
                              provenance={**provenance, "checkpoint": figure.ckpt}, published=True))
    by_row: dict[tuple[str, str, str], list[float]] = {}
    for cell in cells:
        by_row.setdefault(cell.row, []).append(cell.score)
    # most columns first, then the best mean over them: the published leaderboard's own order, below this project's
    rows = sorted(by_row, key=lambda row: (-len(by_row[row]), -sum(by_row[row]) / len(by_row[row]), row))
    if cells:
        notes.append(
            f"published rows (weights {reference.weights}): {reference.title}: the scores and 95% intervals as "
            f"{source.get('repository', 'its source')} published them at commit {str(source.get('commit', '?'))[:7]} "
            f"({source.get('path', '')}, {source.get('license', 'licence unknown')} licence"
            + (f", {source['copyright']}" if source.get("copyright") else "") + "), not recomputed here; score: "
            f"{reference.score}; interval: {reference.interval}; never marked best or tied, never in the benchmark "
            "mean")
        outside = [c for c in cells if not c.ci_low <= c.score <= c.ci_high]
        if outside:
            notes.append(f"published rows: {len(outside)} published score(s) lie outside their published interval "
                         f"(e.g. {outside[0].backbone} on {outside[0].column}): the score is on all test examples, "
                         "the interval from resamples, which for a metric such as macro-F1 sit lower (a resample "
                         "loses rare classes); shown as published")
        shown = {c.provenance["checkpoint"] for c in cells}
        unmapped = [ckpt for ckpt in reference.unmapped if ckpt in shown]
        if unmapped:
            notes.append(f"published rows: no backbone plugin here loads the checkpoint of {', '.join(unmapped)}, "
                         "so each keeps the id published/<checkpoint>; the others carry this project's backbone id "
                         "of the same checkpoint")
    benchmark = {**board.benchmark, **{row: None for row in rows}}
    return dataclasses.replace(board, cells=[*board.cells, *cells], rows=[*board.rows, *rows], benchmark=benchmark,
                               notes=list(dict.fromkeys([*board.notes, *notes])),
                               published=[*board.published, *rows])
