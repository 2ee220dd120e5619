"""``biobench report``: the leaderboard in any installed report format."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from biobench_core.cli._common import UsageError
from biobench_core.cli._out import check_out, write_out
from biobench_core.cli._plots import plan_plot_files, require_plots, write_plot_files


def cmd_report(args: argparse.Namespace) -> int:
    """``biobench report``: the leaderboard of a results store, rendered by the report format ``--format`` names
    (any installed plugin's); an unknown name is a usage error listing the installed formats."""
    from biobench_core.contract._extensions import UnknownExtensionError, format_spec
    from biobench_core.formats import render
    from biobench_core.results._sources import load_leaderboard

    try:
        spec = format_spec(args.format)
    except UnknownExtensionError as exc:
        raise UsageError(f"--format: {exc}") from None
    if args.out:
        check_out(Path(args.out), spec.suffix, force=bool(getattr(args, "force", False)))
    plots_dir = Path(args.plots) if getattr(args, "plots", None) else None
    if plots_dir is not None:
        require_plots()
    reference = _reference(getattr(args, "published", None))
    sources = args.results or ["results"]  # folders and bundles, merged (results._sources)
    board = load_leaderboard(sources, include_not_comparable=args.all)
    if reference is not None:
        from biobench_core.results._published import add_published

        board = add_published(board, reference)
    force = bool(getattr(args, "force", False))
    plots = [] if plots_dir is None else plan_plot_files(board, plots_dir, ", ".join(map(str, sources)), force=force)
    output = render(board, spec, {"results": ", ".join(map(str, sources)), "all": bool(args.all)})
    if args.out:
        write_out(Path(args.out), output, f"--out {args.out}")
        print(f"wrote {args.out}", file=sys.stderr)
    elif isinstance(output, bytes):
        sys.stdout.flush()
        sys.stdout.buffer.write(output)
        sys.stdout.buffer.flush()
    else:
        print(output, end="" if output.endswith("\n") else "\n")
    if plots:
        write_plot_files(plots, plots_dir)
    return 0


def _reference(name: str | None):  # noqa: ANN202 - a results._published.Reference
    """The reference ``--published`` names (``""``: the only one installed), read before any work; ``None`` without
    ``--published``. Not installed: a usage error; a bundle that cannot be read: one line naming it."""
    if name is None:
        return None
    from biobench_core.results._published import ReferenceError, load_reference

    try:
        return load_reference(name or None)
    except ReferenceError as exc:
        raise UsageError(str(exc)) from None
