"""The leaderboard: backbones x tasks, each with its mean score and 95% bootstrap interval, plus a benchmark mean.

The benchmark mean's interval resamples each task's examples independently and averages the per-task means of
every resample, so it reflects every task's sampling noise.

Ties are reported honestly: in each column the best row is marked, and so is every row whose difference from
the best is not significant. The difference is bootstrapped *paired*: both rows are scored on the same test
examples, so each resample draws the same examples for both, which is far tighter than comparing two separate
intervals. Torch-free.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import json
from collections.abc import Iterable
from typing import Any

import numpy as np

from biobench_core.report_model import bootstrap_interval
from biobench_core.store import ExperimentRecord
from biobench_core.textable import format_table

__all__ = ["Leaderboard", "build_leaderboard", "render", "FORMATS"]

FORMATS = ("table", "markdown", "csv", "json")
N_RESAMPLES = 500
SEED = 42


@dataclasses.dataclass
class Cell:
    backbone: str
    weights: str
    task: str
    settings: str
    score: float
    ci_low: float
    ci_high: float
    n_examples: int
    n_skipped: int
    splits: dict[str, float]
    comparable: bool
    images_per_second: float | None
    fit_seconds: float | None
    peak_memory_mb: float | None
    device: str
    scores: np.ndarray = dataclasses.field(repr=False)
    example_ids: list[str] = dataclasses.field(repr=False)
    best: bool = False
    tied_with_best: bool = False

    def to_dict(self) -> dict[str, Any]:
        out = dataclasses.asdict(self)
        out.pop("scores")
        out.pop("example_ids")
        return out


@dataclasses.dataclass
class Leaderboard:
    cells: list[Cell]
    tasks: list[str]
    rows: list[tuple[str, str]]  # (backbone, weights), best benchmark mean first
    benchmark: dict[tuple[str, str], tuple[float, float, float] | None]  # mean, low, high (None: tasks missing)
    notes: list[str]
    benchmark_marks: dict[tuple[str, str], str] = dataclasses.field(default_factory=dict)  # "best" | "tied" | ""

    def cell(self, row: tuple[str, str], task: str) -> Cell | None:
        for c in self.cells:
            if (c.backbone, c.weights) == row and c.task == task:
                return c
        return None


def build_leaderboard(records: Iterable[ExperimentRecord]) -> Leaderboard:
    """One cell per (backbone, weights, task): the latest experiment when several settings were run."""
    latest: dict[tuple[str, str, str], ExperimentRecord] = {}
    notes: list[str] = []
    for record in records:
        k = record.key
        cell_key = (k.backbone, k.weights, k.task)
        if cell_key in latest and latest[cell_key].key.settings != k.settings:
            notes.append(f"{k.backbone} [{k.weights}] on {k.task}: several settings stored; showing the latest "
                         f"({k.settings})")
        latest[cell_key] = record
    cells = []
    for (backbone, weights, task), record in latest.items():
        scores = np.array([s for _, s, _ in record.examples], dtype=np.float64)
        low, high = bootstrap_interval(scores, n_resamples=N_RESAMPLES, seed=SEED)
        cells.append(Cell(backbone, weights, task, record.key.settings, float(scores.mean()), low, high, len(scores),
                          record.n_skipped, record.splits, record.comparable, record.images_per_second,
                          record.fit_seconds, record.peak_memory_mb, record.device, scores,
                          [ex_id for ex_id, _, _ in record.examples]))
        if record.n_skipped:
            notes.append(f"{backbone} [{weights}] on {task}: {record.n_skipped} undecodable image(s) were skipped")
    tasks = sorted({c.task for c in cells})
    row_keys = list(dict.fromkeys((c.backbone, c.weights) for c in cells))
    benchmark = {row: _benchmark_mean([c for c in cells if (c.backbone, c.weights) == row], tasks)
                 for row in row_keys}
    row_keys.sort(key=lambda r: -(benchmark[r][0] if benchmark[r] else -np.inf))
    for task in tasks:
        column = [c for c in cells if c.task == task]
        best = max(column, key=lambda c: c.score)
        best.best = True
        for c in column:
            if c is not best:
                c.tied_with_best = _not_significantly_worse([(best, c)])
    marks: dict[tuple[str, str], str] = {}
    complete = [r for r in row_keys if benchmark[r] is not None]
    if complete:
        top = complete[0]
        marks[top] = "best"
        for row in complete[1:]:
            pairs = [(_cell(cells, top, t), _cell(cells, row, t)) for t in tasks]
            marks[row] = "tied" if _not_significantly_worse(pairs) else ""
    return Leaderboard(cells, tasks, row_keys, benchmark, list(dict.fromkeys(notes)), marks)


def _cell(cells: list[Cell], row: tuple[str, str], task: str) -> Cell:
    return next(c for c in cells if (c.backbone, c.weights) == row and c.task == task)


def paired_difference_interval(pairs: list[tuple[Cell, Cell]]) -> tuple[float, float] | None:
    """95% paired-bootstrap interval of the mean over tasks of ``mean(a) - mean(b)``, for ``(a, b)`` pairs.

    Within a task only the examples both cells scored count, and every resample draws the same examples for
    both. ``None`` when some pair shares no example (nothing to pair).
    """
    rng = np.random.default_rng(SEED)
    total = np.zeros(N_RESAMPLES)
    for a, b in pairs:
        position = {ex_id: k for k, ex_id in enumerate(b.example_ids)}
        shared = [(k, position[ex_id]) for k, ex_id in enumerate(a.example_ids) if ex_id in position]
        if not shared:
            return None
        ia, ib = (np.array(side) for side in zip(*shared))
        diff = a.scores[ia] - b.scores[ib]
        if len(pairs) == 1:
            return bootstrap_interval(diff, n_resamples=N_RESAMPLES, seed=SEED)
        index = rng.integers(0, diff.size, size=(N_RESAMPLES, diff.size))
        total += diff[index].mean(axis=1)
    low, high = np.percentile(total / len(pairs), [2.5, 97.5])
    return float(low), float(high)


def _not_significantly_worse(pairs: list[tuple[Cell, Cell]]) -> bool:
    """Is the better side's lead within noise? Paired when possible, else by overlapping intervals."""
    interval = paired_difference_interval(pairs)
    if interval is not None:
        return interval[0] <= 0.0
    return all(b.ci_high >= a.ci_low for a, b in pairs)


def _benchmark_mean(cells: list[Cell], tasks: list[str]) -> tuple[float, float, float] | None:
    if {c.task for c in cells} != set(tasks):
        return None
    rng = np.random.default_rng(SEED)
    resampled = np.zeros(N_RESAMPLES)
    for c in sorted(cells, key=lambda c: c.task):
        index = rng.integers(0, c.scores.size, size=(N_RESAMPLES, c.scores.size))
        resampled += c.scores[index].mean(axis=1)
    resampled /= len(cells)
    low, high = np.percentile(resampled, [2.5, 97.5])
    return float(np.mean([c.score for c in cells])), float(low), float(high)


def _fmt(score: float, low: float, high: float, mark: str = "") -> str:
    return f"{score:.3f} [{low:.3f}, {high:.3f}]" + {"best": " *", "tied": " ="}.get(mark, "")


def _grid(board: Leaderboard) -> tuple[list[str], list[list[str]]]:
    headers = ["backbone", "weights", *board.tasks, "benchmark mean"]
    rows = []
    for row in board.rows:
        line = [row[0], row[1]]
        for task in board.tasks:
            cell = board.cell(row, task)
            mark = "best" if cell and cell.best else "tied" if cell and cell.tied_with_best else ""
            line.append(_fmt(cell.score, cell.ci_low, cell.ci_high, mark) if cell else "-")
        bench = board.benchmark[row]
        line.append(_fmt(*bench, board.benchmark_marks.get(row, "")) if bench else "- (not every task)")
        rows.append(line)
    return headers, rows


def render(board: Leaderboard, fmt: str) -> str:
    """The leaderboard as ``table``, ``markdown``, ``csv`` or ``json`` text."""
    if fmt == "json":
        return json.dumps({
            "results": [c.to_dict() for c in board.cells],
            "benchmark": [{"backbone": r[0], "weights": r[1], "score": b[0], "ci_low": b[1], "ci_high": b[2],
                           "best": board.benchmark_marks.get(r) == "best",
                           "tied_with_best": board.benchmark_marks.get(r) == "tied"}
                          if (b := board.benchmark[r]) else {"backbone": r[0], "weights": r[1], "score": None}
                          for r in board.rows],
            "tasks": board.tasks,
            "notes": board.notes,
        }, indent=1)
    if fmt == "csv":
        out = io.StringIO()
        fields = ["backbone", "weights", "task", "score", "ci_low", "ci_high", "best", "tied_with_best", "n_examples",
                  "n_skipped", "comparable", "settings", "images_per_second", "fit_seconds", "peak_memory_mb",
                  "device"]
        writer = csv.DictWriter(out, fieldnames=fields, extrasaction="ignore", lineterminator="\n")
        writer.writeheader()
        for c in board.cells:
            writer.writerow(c.to_dict())
        return out.getvalue()
    headers, rows = _grid(board)
    if not rows:
        return "no results to show: run 'biobench run' first (--limit runs are hidden unless --all)\n"
    notes = "".join(f"\nnote: {n}" for n in board.notes)
    caption = ("\nscore [95% bootstrap CI] per task; benchmark mean = mean over tasks, CI resamples every task\n"
               "* best in its column; = not significantly below the best (paired bootstrap of the difference, 95%)\n")
    if fmt == "markdown":
        lines = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
        lines += ["| " + " | ".join(r) + " |" for r in rows]
        return "\n".join(lines) + "\n" + caption + notes + ("\n" if notes else "")
    if fmt == "table":
        return format_table(headers, rows) + caption + notes + ("\n" if notes else "")
    raise ValueError(f"format must be one of {', '.join(FORMATS)}, got {fmt!r}")
