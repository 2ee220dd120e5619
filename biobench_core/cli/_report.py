"""``biobench report``: the leaderboard in any installed report format."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from biobench_core.cli._common import EXIT_FAILURE, UsageError
from biobench_core.cli._out import check_out, write_out


def cmd_report(args: argparse.Namespace) -> int:
    """``biobench report``: the leaderboard of a results store, rendered by the report format ``--format`` names
    (any installed plugin's); an unknown name is a usage error listing the installed formats."""
    from biobench_core.contract._extensions import UnknownExtensionError, format_spec
    from biobench_core.formats import render
    from biobench_core.results._leaderboard import build_leaderboard
    from biobench_core.results._store import ResultsStore

    try:
        spec = format_spec(args.format)
    except UnknownExtensionError as exc:
        raise UsageError(f"--format: {exc}") from None
    if args.out:
        check_out(Path(args.out), spec.suffix, force=bool(getattr(args, "force", False)))
    with ResultsStore(args.results, readonly=True) as store:
        board = build_leaderboard(store.experiments(include_not_comparable=args.all))
    output = render(board, spec, {"results": str(args.results), "all": bool(args.all)})
    if args.out:
        try:
            write_out(Path(args.out), output)
        except OSError as exc:
            print(f"biobench report: error: cannot write --out {args.out}: {exc.strerror or exc}", file=sys.stderr)
            return EXIT_FAILURE
        print(f"wrote {args.out}", file=sys.stderr)
    elif isinstance(output, bytes):
        sys.stdout.flush()
        sys.stdout.buffer.write(output)
        sys.stdout.buffer.flush()
    else:
        print(output, end="" if output.endswith("\n") else "\n")
    return 0
