"""``biobench export``: a results store as one bundle file to share (see :mod:`biobench_core.results._bundle`)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from biobench_core.cli._common import EXIT_FAILURE, UsageError
from biobench_core.cli._out import check_out, write_out


def cmd_export(args: argparse.Namespace) -> int:
    """Write every experiment of ``--results`` (smoke runs too, marked not comparable, as in the store) with its
    per-example predictions and provenance to ``--out``, a checksummed bundle ``biobench report --results`` and
    ``biobench_core.results.load`` read."""
    from biobench_core.results._bundle import SUFFIX, bundle_bytes
    from biobench_core.results._store import ResultsStore

    out = Path(args.out)
    if not out.name.endswith(".json.gz"):
        raise UsageError(f"--out {out}: a bundle's name ends in {SUFFIX}, e.g. lab{SUFFIX}")
    check_out(out, SUFFIX, force=bool(args.force))
    with ResultsStore(args.results, readonly=True) as store:
        records = list(store.experiments(include_not_comparable=True))
    if not records:
        print(f"biobench export: error: results store {Path(args.results) / 'biobench.sqlite'} holds no results; "
              "nothing to export (run 'biobench run' first)", file=sys.stderr)
        return EXIT_FAILURE
    data = bundle_bytes(records, source=str(args.results))
    write_out(out, data, f"--out {out}")
    print(f"wrote {out}: {len(records)} result(s), {len(data) / 1e6:.2f} MB", file=sys.stderr)
    return 0
