"""The JSON report format: every result, the columns, the benchmark means, the statistics used and the notes, under
a named, versioned schema that docs/report-json.md documents field by field.

Strict JSON: an undefined number (NaN: a metric undefined on a row, a failed column, a withheld interval) is
``null``."""

from __future__ import annotations

import json
import math
from typing import Any

from biobench_core.results._leaderboard import ALPHA, BOUNDED, COMBINED, EXACT, PERCENTILE, Leaderboard
from biobench_core.results._published import PUBLISHED_INTERVAL

__all__ = ["render_json", "SCHEMA"]

#: The report's schema: its name and version (docs/report-json.md). The version goes up when a field is renamed,
#: removed or changes meaning; a field added leaves it as it is.
SCHEMA = {"name": "biobench-report", "version": 1}


def _number(value: float) -> float | None:
    return None if math.isnan(value) else value


def _benchmark_row(board: Leaderboard, row: tuple[str, str, str]) -> dict[str, Any]:
    names = {"backbone": row[0], "weights": row[1], "dtype": row[2]}
    bench = board.benchmark[row]
    if not bench or math.isnan(bench[0]):  # not every benchmark column, or an undefined score in one
        return {**names, "score": None}
    mark = board.benchmark_marks.get(row)
    return {**names, "score": bench[0], "ci_low": _number(bench[1]), "ci_high": _number(bench[2]),
            "best": mark == "best",
            "tied_with_best": mark == "tied", "too_few": mark == "too few"}


def render_json(board: Leaderboard, options: dict[str, Any] | None = None) -> str:
    """The board as one JSON object (indented by one space)."""
    return json.dumps({
        "schema": SCHEMA,
        "results": [c.to_dict() for c in board.cells],
        "columns": [c.to_dict() for c in board.columns],
        "benchmark": [_benchmark_row(board, r) for r in board.rows],
        "benchmark_interval": board.benchmark_interval,
        "tasks": board.tasks,
        "statistics": {"n_resamples": board.n_resamples, "seed": board.seed, "alpha": ALPHA,
                       "ties": "bootstrap step-down (Romano-Wolf; Hsu's comparison with the best at its last step) "
                               "over the paired differences, allowing for the best's selection, family-wise error "
                               "alpha per column; too_few: too few examples to compare with the best; p_holm is "
                               "the former name of p_adjusted",
                       "intervals": {EXACT: "proportions (accuracy, mean of 0/1 scores)",
                                     BOUNDED: "other metrics of labels and predictions: the hull of the percentile "
                                              "bootstrap and the metric at the ends of the error count's exact "
                                              "interval",
                                     PERCENTILE: "means of continuous per-example scores, recomputed on each "
                                                 "replicate",
                                     COMBINED: "the benchmark mean: the hull of the percentile bootstrap of the "
                                               "mean and its tasks' intervals combined (MOVER)",
                                     **({PUBLISHED_INTERVAL: "published results (results[].published): the "
                                                             "interval as its source published it, not recomputed "
                                                             "(the notes say how it was computed)"}
                                        if board.published else {})}},
        "notes": board.notes,
    }, indent=1, allow_nan=False)  # strict JSON: an undefined number is null, never NaN
