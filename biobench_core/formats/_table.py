"""The terminal table and Markdown report formats: backbones x columns, each cell ``score [low, high]`` with the
best of its column marked ``*``, the rows tied with it ``=`` and those with too few examples to compare ``?``, then
a caption saying which metric and interval each column uses, and the leaderboard's notes."""

from __future__ import annotations

import math
from typing import Any

from biobench_core.engine._textable import format_table
from biobench_core.results._leaderboard import ALPHA, PERCENTILE, Column, Leaderboard

__all__ = ["render_table", "render_markdown", "caption_facts", "shows_too_few"]

NO_RESULTS = "no results to show: run 'biobench run' first (--limit runs are hidden unless --all)\n"
NOT_AVAILABLE = "n/a"
FAILED = "failed"


def _fmt(score: float, low: float, high: float, mark: str = "") -> str:
    """``score [low, high]`` and its mark; an undefined (NaN) score is ``n/a`` alone, a withheld interval
    ``[n/a]``."""
    if math.isnan(score):
        return NOT_AVAILABLE
    shown = f"[{low:.3f}, {high:.3f}]" if not (math.isnan(low) or math.isnan(high)) else f"[{NOT_AVAILABLE}]"
    return f"{score:.3f} {shown}" + {"best": " *", "tied": " =", "too few": " ?"}.get(mark, "")


def _grid(board: Leaderboard) -> tuple[list[str], list[list[str]]]:
    headers = ["backbone", "weights", "dtype", *board.tasks, "benchmark mean"]
    rows = []
    for row in board.rows:
        line = list(row)
        for label, column in zip(board.tasks, board.columns):
            cell = board.cell(row, label)
            mark = ("best" if cell and cell.best else "tied" if cell and cell.tied_with_best else
                    "too few" if cell and cell.too_few else "")
            line.append("-" if not cell else FAILED if column.failure else
                        _fmt(cell.score, cell.ci_low, cell.ci_high, mark))
        bench = board.benchmark.get(row)
        line.append(_fmt(*bench, board.benchmark_marks.get(row, "")) if bench else
                    "- (published)" if row in board.published else
                    "- (not every task)" if any(c.in_benchmark for c in board.columns) else "-")
        rows.append(line)
    return headers, rows


#: The caption's first line, the tie rule and the "too few" mark's meaning: shared with every format that captions
#: the board (table, Markdown, LaTeX), each with its own marks.
HEADLINE = "score [95% CI] per column, the task's own metric recomputed from the stored predictions"
TIES = (f"not significantly below the best (bootstrap step-down over the paired differences, allowing for the "
        f"best's selection: family-wise error at alpha {ALPHA} per column)")
TOO_FEW = "too few examples to compare with the best (the notes say how many)"


def caption_facts(board: Leaderboard) -> tuple[list[str], list[str]]:
    """What a caption states besides the marks: one line per column (its metric and interval), then the lines
    after them (the benchmark mean's definition and interval; what ``n/a`` and ``failed`` mean, when shown)."""
    after = []
    if any(c.in_benchmark for c in board.columns):
        cols = [c.label for c in board.columns if c.in_benchmark]
        after.append(f"benchmark mean = mean over {', '.join(cols)}; CI: "
                     + (f"{board.benchmark_interval}" if len(cols) == 1 else
                        f"percentile bootstrap of the mean over the same replicates ({board.n_resamples} resamples), "
                        "widened to the tasks' intervals combined (MOVER: each side's half-widths in quadrature)"))
    if any(math.isnan(v) for c in board.cells for v in (c.score, c.ci_low, c.ci_high)):
        after.append(f"{NOT_AVAILABLE}: undefined, the score or its interval (the notes say why); "
                     f"{FAILED}: the column's metric raised")
    return [_column_caption(board, c) for c in board.columns], after


def shows_too_few(board: Leaderboard) -> bool:
    """Whether some cell or benchmark mean is marked "too few examples to compare"."""
    return any(c.too_few for c in board.cells) or "too few" in board.benchmark_marks.values()


def _caption(board: Leaderboard) -> str:
    columns, after = caption_facts(board)
    lines = ["", f"{HEADLINE}:", *(f"  {line}" for line in columns), *after, f"* best in its column; = {TIES}"]
    if shows_too_few(board):
        lines.append(f"? {TOO_FEW}")
    return "\n".join(lines) + "\n"


def _column_caption(board: Leaderboard, column: Column) -> str:
    if column.failure:
        return f"{column.label}: {column.metric} {FAILED}, no score shown (see the note)"
    metric = (f"the {column.computed} per-example score, not {column.metric} (see the note)" if column.computed
              else column.metric)
    return (f"{column.label}: {metric}, {column.interval} interval"
            + (f" ({board.n_resamples} resamples)" if PERCENTILE in column.interval else "")
            + (f"; {column.metric_description}"
               if column.metric_description and not column.computed else ""))


def _notes(board: Leaderboard) -> str:
    notes = "".join(f"\nnote: {n}" for n in board.notes)
    return notes + ("\n" if notes else "")


def render_table(board: Leaderboard, options: dict[str, Any] | None = None) -> str:
    """The leaderboard as an aligned terminal table, its caption and its notes."""
    headers, rows = _grid(board)
    if not rows:
        return NO_RESULTS
    return format_table(headers, rows) + _caption(board) + _notes(board)


def render_markdown(board: Leaderboard, options: dict[str, Any] | None = None) -> str:
    """The leaderboard as a Markdown table, its caption and its notes."""
    headers, rows = _grid(board)
    if not rows:
        return NO_RESULTS
    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines) + "\n" + _caption(board) + _notes(board)
