"""``biobench report --plots DIR``: the leaderboard's plots, each written as ``NAME.png`` and ``NAME.svg`` in DIR.

Which plots there are, and what each shows, is :mod:`biobench_core.formats._plots`; the drawing is
:mod:`biobench_core.formats._figures`. Here: refuse early what cannot be written (matplotlib not installed, named
in one line; a file that must not be replaced, by the same rule as ``--out``), then write each file atomically and
say so in one line per file (standard error: standard output carries the report itself).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from biobench_core.cli._common import UsageError
from biobench_core.cli._out import check_out, write_out

__all__ = ["require_plots", "plan_plot_files", "write_plot_files"]


def require_plots() -> None:
    """A usage error naming the extra to install when matplotlib is missing (before any work)."""
    from biobench_core.formats._figures import PlotsUnavailable, require_matplotlib

    try:
        require_matplotlib()
    except PlotsUnavailable as exc:
        raise UsageError(str(exc)) from None


def plan_plot_files(board: Any, directory: Path, sources: str, *, force: bool) -> list[Any]:
    """The plots to draw of ``board`` into ``directory``, each of whose files may be written there (else the
    ``--out`` rule's usage error); a line on standard error for each plot that cannot be drawn, and for an empty
    board, which gets none."""
    from biobench_core.formats._figures import SUFFIXES
    from biobench_core.formats._plots import plan_plots

    plots = plan_plots(board)
    if not plots:
        print(f"biobench report: no results in {sources}: no plots written", file=sys.stderr)
        return []
    drawn = []
    for plot in plots:
        if plot.skipped:
            print(f"biobench report: no plot {plot.name}: {plot.skipped}", file=sys.stderr)
            continue
        for suffix in SUFFIXES:
            check_out(directory / f"{plot.name}{suffix}", suffix, force=force)
        drawn.append(plot)
    return drawn


def write_plot_files(plots: list[Any], directory: Path) -> None:
    """Draw each plot and write its files, one line per file written; a file that cannot be written stops the rest
    (an :class:`~biobench_core.cli._out.OutputError`, one line naming it)."""
    from biobench_core.formats._figures import render_plot

    for plot in plots:
        for suffix, data in render_plot(plot).items():
            path = directory / f"{plot.name}{suffix}"
            write_out(path, data, f"--plots {path}")
            print(f"wrote {path}", file=sys.stderr)
