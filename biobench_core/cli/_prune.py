"""``biobench prune``: the stored results that newer code or data superseded (see
:mod:`biobench_core.results._superseded`), listed; with ``--yes``, deleted in one transaction with their
predictions. The newest result of anything is never deleted."""

from __future__ import annotations

import argparse
import time
from typing import Any


def _line(item: Any) -> str:
    record = item.record
    key = record.key
    stored = time.strftime("%Y-%m-%d %H:%M", time.localtime(getattr(record, "posix_time", 0.0) or 0.0))
    return (f"{key.backbone} [{key.weights}, {getattr(record, 'dtype', 'fp32')}] on {key.task} ({key.settings}), "
            f"stored {stored}: superseded by {item.reason}")


def cmd_prune(args: argparse.Namespace) -> int:
    """List the superseded results of ``--results`` (reading only, so a read-only store works); with ``--yes``
    delete them. A missing store is a usage error (exit 2); ``--yes`` on a folder that cannot be written is
    refused in one line naming it, before any result is read."""
    from biobench_core.results._store import ResultsStore
    from biobench_core.results._superseded import superseded

    found: list[Any] = []
    with ResultsStore(args.results, readonly=True) as store:  # a missing store: exit 2, nothing is created
        path = store.path
        if not args.yes:
            found = superseded(list(store.experiments(include_not_comparable=True)))
    if args.yes:
        def select(records: list[Any]) -> list[Any]:
            found[:] = superseded(records)
            return [item.record for item in found]

        with ResultsStore(args.results) as store:  # a read-only folder or file is refused here, naming it
            store.delete(select)
    for item in found:
        print(_line(item))
    n = len(found)
    what = f"{n} superseded result{'' if n == 1 else 's'}"
    if not found:
        print(f"nothing superseded in {path}")
    elif args.yes:
        print(f"deleted {what} and their predictions from {path}")
    else:
        print(f"{what} in {path} (a dry run: nothing deleted); 'biobench prune --results {args.results} --yes' "
              "deletes them")
    return 0
