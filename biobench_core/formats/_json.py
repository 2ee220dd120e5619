"""The JSON report format: every result, the columns, the benchmark means, the statistics used and the notes."""

from __future__ import annotations

import json
from typing import Any

from biobench_core.results._leaderboard import ALPHA, PERCENTILE, WILSON, Leaderboard

__all__ = ["render_json"]


def _benchmark_row(board: Leaderboard, row: tuple[str, str, str]) -> dict[str, Any]:
    names = {"backbone": row[0], "weights": row[1], "dtype": row[2]}
    bench = board.benchmark[row]
    if not bench:
        return {**names, "score": None}
    mark = board.benchmark_marks.get(row)
    return {**names, "score": bench[0], "ci_low": bench[1], "ci_high": bench[2], "best": mark == "best",
            "tied_with_best": mark == "tied"}


def render_json(board: Leaderboard, options: dict[str, Any] | None = None) -> str:
    """The board as one JSON object (indented by one space)."""
    return json.dumps({
        "results": [c.to_dict() for c in board.cells],
        "columns": [c.to_dict() for c in board.columns],
        "benchmark": [_benchmark_row(board, r) for r in board.rows],
        "benchmark_interval": board.benchmark_interval,
        "tasks": board.tasks,
        "statistics": {"n_resamples": board.n_resamples, "seed": board.seed, "alpha": ALPHA,
                       "ties": "one-sided paired bootstrap test against the column's best, allowing for its "
                               "selection, Holm-corrected per column",
                       "intervals": {WILSON: "proportions (accuracy, mean of 0/1 scores)",
                                     PERCENTILE: "every other metric, recomputed on each replicate"}},
        "notes": board.notes,
    }, indent=1)
