"""Which plots a leaderboard gets (``biobench report --plots DIR``), each with the numbers it shows and its caption.

From the same :class:`~biobench_core.results._leaderboard.Leaderboard` the report formats render:

- ``task-<column>``: per column, every backbone's score with its interval, best and ties marked;
- ``benchmark-mean-vs-images-per-second``: the benchmark mean against extraction speed (the median images/s of a
  backbone's results), and ``benchmark-mean-vs-parameters`` where backbone specs give their parameter count (the
  ``params`` entry of a spec's ``extra``; no model is loaded to count them);
- ``rank-heatmap``: each backbone's rank in each column;
- ``learning-curve-<task>``: score against ``n_train`` with interval bands, for columns that differ only by
  ``n_train``;
- ``splits-<column>``: a heatmap of the group scores (``Cell.splits``) of a column that has them.

A number that is undefined (NaN) is never drawn: its mark is left out and the caption names it. This module plans
the plots and holds no matplotlib code; :mod:`biobench_core.formats._figures` draws them.
"""

from __future__ import annotations

import bisect
import dataclasses
import math
import re
from collections.abc import Iterable
from typing import Any

from biobench_core.results._leaderboard import Cell, Column, Leaderboard, Row

__all__ = ["Plot", "plan_plots", "backbone_parameters", "row_labels", "PARAMS_KEY"]

#: The key of a backbone spec's ``extra`` that gives its parameter count (a number, e.g. ``"86567656"``).
PARAMS_KEY = "params"
#: How many names a caption lists before "and N more".
NAMED = 8


@dataclasses.dataclass
class Plot:
    """One plot: its file name (without suffix), its kind (which drawing), what it shows, its caption lines, and
    ``skipped``: why it is not drawn ("" when it is)."""

    name: str
    kind: str
    title: str
    data: dict[str, Any] = dataclasses.field(default_factory=dict)
    caption: list[str] = dataclasses.field(default_factory=list)
    skipped: str = ""


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9.]+", "-", text.lower()).strip("-.") or "plot"


def _defined(value: float | None) -> bool:
    return value is not None and not math.isnan(value)


def _names(items: list[str]) -> str:
    shown = ", ".join(items[:NAMED])
    return shown + (f" and {len(items) - NAMED} more" if len(items) > NAMED else "")


def row_labels(rows: Iterable[Row]) -> dict[Row, str]:
    """A label per row: the backbone id, with the weights and dtype where rows differ in them."""
    rows = list(rows)
    weights = len({r[1] for r in rows}) > 1
    dtypes = len({r[2] for r in rows}) > 1
    out = {}
    for row in rows:
        extra = [part for part, shown in ((row[1], weights), (row[2], dtypes)) if shown]
        out[row] = f"{row[0]} [{', '.join(extra)}]" if extra else row[0]
    return out


def backbone_parameters(rows: Iterable[Row]) -> dict[Row, float]:
    """The parameter count of each row whose backbone spec gives one (``extra["params"]``); from the installed
    specs only (a backbone with options is looked up by its listed id), never by loading a model."""
    from biobench_core.contract._catalog import list_backbones

    try:
        specs = {spec.id: spec for spec in list_backbones()}
    except Exception:  # noqa: BLE001 - a broken plugin costs only this plot
        return {}
    out = {}
    for row in rows:
        spec = specs.get(row[0]) or specs.get(row[0].split("?", 1)[0])
        if spec is None:
            continue
        try:
            value = float(dict(spec.extra).get(PARAMS_KEY, "nan"))
        except (TypeError, ValueError):
            continue
        if value > 0:
            out[row] = value
    return out


def _column_cells(board: Leaderboard, column: str) -> list[Cell]:
    return [c for c in board.cells if c.column == column]


def _by_score(cells: list[Cell]) -> list[Cell]:
    """Best score first; undefined scores last."""
    return sorted(cells, key=lambda c: -c.score if _defined(c.score) else math.inf)


def _undefined_lines(cells: list[Cell], labels: dict[Row, str], what: str) -> list[str]:
    """Caption lines naming the rows left out because their score is NaN, and those shown without an interval."""
    lines = []
    no_score = [labels[c.row] for c in cells if not _defined(c.score)]
    if no_score:
        lines.append(f"left out ({what} undefined, NaN): {_names(no_score)}")
    no_interval = [labels[c.row] for c in cells if _defined(c.score) and not (_defined(c.ci_low) and
                                                                               _defined(c.ci_high))]
    if no_interval:
        lines.append(f"no interval drawn (undefined, NaN): {_names(no_interval)}")
    return lines


def _task_plot(board: Leaderboard, column: Column, labels: dict[Row, str]) -> Plot:
    cells = _by_score(_column_cells(board, column.label))
    shown = [c for c in cells if _defined(c.score)]
    metric = column.computed or column.metric
    caption = [f"{metric} on {column.n_examples} test examples, {column.interval or 'no'} 95% interval; "
               "filled: best or tied with the best (bootstrap step-down, alpha 0.05), open: below the best, "
               "grey: too few examples to compare"]
    if column.prior_work:
        caption.append("prior work: not in the benchmark mean")
    caption += _undefined_lines(cells, labels, "score")
    plot = Plot(f"task-{_slug(column.label)}", "task", column.label, caption=caption)
    if column.failure:
        plot.skipped = f"no scores: {column.failure}"
    elif not shown:
        plot.skipped = "every score is undefined (NaN)"
    plot.data = {"metric": metric, "labels": [labels[c.row] for c in shown], "scores": [c.score for c in shown],
                 "lows": [c.ci_low for c in shown], "highs": [c.ci_high for c in shown],
                 "marks": ["best" if c.best else "tied" if c.tied_with_best else "too few" if c.too_few else ""
                           for c in shown]}
    return plot


def _median(values: list[float]) -> float:
    values = sorted(values)
    middle = len(values) // 2
    return values[middle] if len(values) % 2 else (values[middle - 1] + values[middle]) / 2


def _cost_plots(board: Leaderboard, labels: dict[Row, str], parameters: dict[Row, float]) -> list[Plot]:
    speed: dict[Row, float] = {}
    for row in board.rows:
        values = [c.images_per_second for c in board.cells if c.row == row and _defined(c.images_per_second)
                  and c.images_per_second > 0]
        if values:
            speed[row] = _median(values)
    means = {row: value for row, value in board.benchmark.items() if value is not None and _defined(value[0])}
    no_mean = [labels[r] for r in board.rows if r not in means]
    plots = []
    costs = [("images-per-second", "extraction images/s (median over the backbone's results; higher is faster)",
              speed, "no extraction speed recorded")]
    if parameters:
        costs.append(("parameters", "parameters (from the backbone spec)", parameters, "no parameter count"))
    for name, axis, cost, missing in costs:
        rows = [r for r in board.rows if r in means and r in cost]
        caption = [f"benchmark mean ({board.benchmark_interval or 'no'} 95% interval) against {axis}"]
        if no_mean:
            caption.append(f"left out (no benchmark mean: not every benchmark column, or an undefined score): "
                           f"{_names(no_mean)}")
        lacking = [labels[r] for r in board.rows if r in means and r not in cost]
        if lacking:
            caption.append(f"left out ({missing}): {_names(lacking)}")
        plot = Plot(f"benchmark-mean-vs-{name}", "cost", f"benchmark mean vs {name.replace('-', ' ')}",
                    caption=caption)
        plot.data = {"axis": axis, "labels": [labels[r] for r in rows], "costs": [cost[r] for r in rows],
                     "means": [means[r][0] for r in rows], "lows": [means[r][1] for r in rows],
                     "highs": [means[r][2] for r in rows]}
        if not rows:
            plot.skipped = ("no backbone has a benchmark mean" if not means
                            else f"no backbone with a benchmark mean has {missing.removeprefix('no ')}")
        plots.append(plot)
    return plots


def _rank_plot(board: Leaderboard, labels: dict[Row, str]) -> Plot:
    published = set(getattr(board, "published", ()) or ())  # figures shown as published: never ranked with ours
    rows = [r for r in board.rows if r not in published]
    if published:
        labels = row_labels(rows)
    scores: dict[str, dict[Row, float]] = {column: {} for column in board.tasks}
    for cell in board.cells:
        if _defined(cell.score) and cell.row not in published:
            scores[cell.column][cell.row] = cell.score
    rank: dict[str, dict[Row, float]] = {}
    for column, by_row in scores.items():  # 1 + how many score higher: equal scores share the better rank
        descending = sorted(-value for value in by_row.values())
        rank[column] = {row: float(1 + bisect.bisect_left(descending, -value)) for row, value in by_row.items()}
    ranks = [[rank[column].get(row, math.nan) for column in board.tasks] for row in rows]
    cells = [c for c in board.cells if c.row not in published]
    caption = ["rank of each backbone in each column by its score (1 = best; equal scores share the better rank); "
               "blank: no result"]
    undefined = [f"{labels[c.row]} on {c.column}" for c in cells if not _defined(c.score)]
    if undefined:
        caption.append(f"left out (score undefined, NaN): {_names(undefined)}")
    prior = [c.label for c in board.columns if c.prior_work]
    if prior:
        caption.append(f"prior work (not in the benchmark mean): {_names(prior)}")
    if published:
        caption.append(f"{len(published)} published rows left out: their figures are not ranked with the results "
                       "computed here")
    return Plot("rank-heatmap", "heatmap", "rank per column", caption=caption,
                data={"values": ranks, "rows": [labels[r] for r in rows], "columns": list(board.tasks),
                      "colour": "rank (1 = best)", "format": "{:.0f}", "reverse": True})


def _n_train(column: Column) -> int | None:
    try:
        return int(column.settings["n_train"])
    except (KeyError, ValueError):
        return None


def _learning_plots(board: Leaderboard, labels: dict[Row, str]) -> list[Plot]:
    groups: dict[tuple, list[tuple[int, Column]]] = {}
    for column in board.columns:
        n = _n_train(column)
        if n is not None:
            others = tuple(sorted((k, v) for k, v in column.settings.items() if k != "n_train"))
            groups.setdefault((column.task, others, column.data, column.metric), []).append((n, column))
    by_slot = {(c.column, c.row): c for c in board.cells}
    plots = []
    for (task, others, _data, metric), members in groups.items():
        if len({n for n, _ in members}) < 2:
            continue
        members.sort(key=lambda m: m[0])
        curves, empty = [], []
        for row in board.rows:
            points = [(n, by_slot[(col.label, row)]) for n, col in members if (col.label, row) in by_slot]
            points = [(n, c) for n, c in points if _defined(c.score)]
            if not points:
                if any((col.label, row) in by_slot for _, col in members):
                    empty.append(labels[row])
                continue
            curves.append({"label": labels[row], "n": [n for n, _ in points], "scores": [c.score for _, c in points],
                           "lows": [c.ci_low for _, c in points], "highs": [c.ci_high for _, c in points]})
        n_of = {col.label: n for n, col in members}
        setting = ", ".join(f"{k}={v}" for k, v in others)
        caption = [f"{metric} against the number of training examples (n_train), 95% interval bands"
                   + (f"; {setting}" if setting else "")]
        if empty:
            caption.append(f"left out (every score undefined, NaN): {_names(empty)}")
        gaps = [f"{labels[c.row]} at n_train={n_of[c.column]}" for c in board.cells
                if c.column in n_of and not _defined(c.score)]
        if gaps:
            caption.append(f"points left out (undefined, NaN): {_names(gaps)}")
        suffix = _slug(task) + (f"-{_slug(setting)}" if setting else "")
        plots.append(Plot(f"learning-curve-{suffix}", "curve", f"{task}: learning curve", caption=caption,
                          data={"metric": metric, "curves": curves, "ticks": sorted({n for n, _ in members})}))
    return plots


def _split_plots(board: Leaderboard, labels: dict[Row, str]) -> list[Plot]:
    plots = []
    for column in board.columns:
        cells = [c for c in _by_score(_column_cells(board, column.label)) if c.splits]
        if not cells:
            continue
        names = sorted({name for c in cells for name in c.splits}, key=_natural)
        values = [[float(c.splits[name]) if name in c.splits else math.nan for name in names] for c in cells]
        caption = [f"each backbone's score on each group of the test set, as its task reports it ({column.label})",
                   "blank: not reported"]
        undefined = [f"{labels[c.row]} on {name}" for c in cells for name in names
                     if name in c.splits and not _defined(float(c.splits[name]))]
        if undefined:
            caption.append(f"left out (undefined, NaN): {_names(undefined)}")
        plots.append(Plot(f"splits-{_slug(column.label)}", "heatmap", f"{column.label}: groups", caption=caption,
                          data={"values": values, "rows": [labels[c.row] for c in cells], "columns": names,
                                "colour": "score", "format": "{:.2f}", "reverse": False}))
    return plots


def _natural(text: str) -> list[Any]:
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", text)]


def _unique(plots: list[Plot]) -> list[Plot]:
    seen: dict[str, int] = {}
    for plot in plots:
        seen[plot.name] = seen.get(plot.name, 0) + 1
        if seen[plot.name] > 1:
            plot.name = f"{plot.name}-{seen[plot.name]}"
    return plots


def plan_plots(board: Leaderboard, parameters: dict[Row, float] | None = None) -> list[Plot]:
    """Every plot of ``board`` (an empty list for an empty board); ``parameters``: each row's parameter count
    (default: from the installed backbone specs, :func:`backbone_parameters`)."""
    if not board.cells:
        return []
    if parameters is None:
        parameters = backbone_parameters(board.rows)
    labels = row_labels(board.rows)
    plots = [_task_plot(board, column, labels) for column in board.columns]
    plots += _cost_plots(board, labels, parameters)
    plots.append(_rank_plot(board, labels))
    plots += _learning_plots(board, labels)
    plots += _split_plots(board, labels)
    return _unique(plots)
