"""The terminal table and Markdown report formats: backbones x columns, each cell ``score [low, high]`` with the
best of its column marked ``*`` and the rows tied with it ``=``, then a caption saying which metric and interval
each column uses, and the leaderboard's notes."""

from __future__ import annotations

from typing import Any

from biobench_core.engine._textable import format_table
from biobench_core.results._leaderboard import ALPHA, PERCENTILE, Leaderboard

__all__ = ["render_table", "render_markdown"]

NO_RESULTS = "no results to show: run 'biobench run' first (--limit runs are hidden unless --all)\n"


def _fmt(score: float, low: float, high: float, mark: str = "") -> str:
    return f"{score:.3f} [{low:.3f}, {high:.3f}]" + {"best": " *", "tied": " ="}.get(mark, "")


def _grid(board: Leaderboard) -> tuple[list[str], list[list[str]]]:
    headers = ["backbone", "weights", "dtype", *board.tasks, "benchmark mean"]
    rows = []
    for row in board.rows:
        line = list(row)
        for label in board.tasks:
            cell = board.cell(row, label)
            mark = "best" if cell and cell.best else "tied" if cell and cell.tied_with_best else ""
            line.append(_fmt(cell.score, cell.ci_low, cell.ci_high, mark) if cell else "-")
        bench = board.benchmark.get(row)
        line.append(_fmt(*bench, board.benchmark_marks.get(row, "")) if bench else
                    "- (not every task)" if any(c.in_benchmark for c in board.columns) else "-")
        rows.append(line)
    return headers, rows


def _caption(board: Leaderboard) -> str:
    lines = ["", "score [95% CI] per column, the task's own metric recomputed from the stored predictions:"]
    lines += [f"  {c.label}: {c.metric}, {c.interval} interval"
              + (f" ({board.n_resamples} resamples)" if PERCENTILE in c.interval else "") for c in board.columns]
    if any(c.in_benchmark for c in board.columns):
        cols = [c.label for c in board.columns if c.in_benchmark]
        lines.append(f"benchmark mean = mean over {', '.join(cols)}; CI: "
                     + (f"{board.benchmark_interval}" if len(cols) == 1 else
                        f"percentile bootstrap of the mean over the same replicates ({board.n_resamples} resamples)"))
    lines.append(f"* best in its column; = not significantly below the best (one-sided paired bootstrap test against "
                 f"the best, allowing for its selection, Holm-corrected at alpha {ALPHA} per column)")
    return "\n".join(lines) + "\n"


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
