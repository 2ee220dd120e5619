"""The CSV report format: one row per result (cell) with its interval, its test against the column's best, its
cost and its provenance, for spreadsheets and scripts."""

from __future__ import annotations

import csv
import io
from typing import Any

from biobench_core.results._leaderboard import Leaderboard

__all__ = ["render_csv", "FIELDS"]

#: The columns, in order (a subset of :meth:`Cell.to_dict`'s keys).
FIELDS = ("backbone", "weights", "task", "column", "dtype", "metric", "score", "ci_low", "ci_high", "interval",
          "best", "tied_with_best", "p_value", "p_holm", "n_examples", "n_skipped", "comparable", "settings",
          "data", "images_per_second", "fit_seconds", "peak_memory_mb", "device", "undefined", "too_few",
          "p_adjusted", "published")


def render_csv(board: Leaderboard, options: dict[str, Any] | None = None) -> str:
    """A header line, then one line per cell of the board; an undefined number is an empty field, and
    ``undefined`` says why."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(FIELDS), extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    for cell in board.cells:
        writer.writerow(cell.to_dict())
    return out.getvalue()
