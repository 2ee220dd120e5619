"""Where results are read from: results stores (folders) and bundles (files), one or several merged.

``biobench report --results DIR --results other-lab.biobench.json.gz`` and :func:`biobench_core.results.load`
read each source's experiments and merge them. A result is one (backbone, weights, dtype, task, settings, data
hash); the leaderboard keys its columns on the data hash as for one store, so results on different data never
share a column. A result present in several sources is kept once when every copy has the same predictions (the
same example ids, labels, predicted classes and per-example scores), with one note counting such results; when the
copies disagree, none is kept, and a note names the result and every source holding it, with each one's score:
a leaderboard cannot tell which copy is right, and showing either would hide that they differ.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from biobench_core.results._bundle import read_bundle
from biobench_core.results._store import ExperimentRecord, MissingStoreError, ResultsStore

__all__ = ["Merged", "read_source", "merge_sources", "load_leaderboard", "result_id"]

_SQLITE_MAGIC = b"SQLite format 3\x00"


def read_source(source: str | Path, *, include_not_comparable: bool = False) -> list[ExperimentRecord]:
    """The experiments of one source: a results folder (or its ``biobench.sqlite``) or a bundle file."""
    path = Path(source)
    if path.is_file():
        with open(path, "rb") as handle:
            sqlite = handle.read(len(_SQLITE_MAGIC)) == _SQLITE_MAGIC
        if not sqlite and _bundle_like(path):  # a bundle; a malformed one is refused by read_bundle, naming it
            return [r for r in read_bundle(path) if include_not_comparable or r.comparable]
        if sqlite:
            path = path.parent  # the store's database given instead of its folder
    elif not path.exists() and path.name.endswith((".json", ".json.gz")):
        raise MissingStoreError(f"no bundle at {source}")
    with ResultsStore(path, readonly=True) as store:
        return list(store.experiments(include_not_comparable=include_not_comparable))


def _bundle_like(path: Path) -> bool:
    """Whether a file given as ``--results`` is meant as a bundle: named like one, or gzip or JSON inside; any other
    file is the results folder given as a file, which the store refuses in its own words."""
    if path.name.endswith((".json", ".json.gz")):
        return True
    with open(path, "rb") as handle:
        head = handle.read(64).lstrip()
    return head.startswith((b"\x1f\x8b", b"{"))


def result_id(record: Any) -> tuple:
    """What makes two records the same result: backbone, weights, task, settings, data hash and dtype."""
    return (*dataclasses.astuple(record.key), str(getattr(record, "dtype", "fp32") or "fp32"))


def _predictions(record: Any) -> list[tuple]:
    return [(p.id, p.info.get("label"), p.info.get("pred"), float(p.score)) for p in record.examples]


def _name(rid: tuple) -> str:
    backbone, weights, task, settings, data, dtype = rid
    return f"{backbone} [{weights}, {dtype}] on {task} ({settings}; data {str(data)[:6]})"


@dataclasses.dataclass
class Merged:
    """The merged experiments of several sources, each with the source it came from, and the merge's notes."""

    records: list[ExperimentRecord]
    origins: list[str]  # the source of each record, in order
    notes: list[str]
    sources: list[str]


def merge_sources(sources: Sequence[str | Path], *, include_not_comparable: bool = False) -> Merged:
    """The experiments of every source, each result once (see the module doc for agreement and disagreement)."""
    names = [str(s) for s in sources]
    seen: dict[tuple, list[tuple[str, ExperimentRecord]]] = {}
    for name in names:
        for record in read_source(name, include_not_comparable=include_not_comparable):
            seen.setdefault(result_id(record), []).append((name, record))
    records, origins, notes = [], [], []
    agreed = 0
    for rid, copies in seen.items():
        first_name, first = copies[0]
        if len(copies) == 1:
            records.append(first)
            origins.append(first_name)
            continue
        if all(_predictions(r) == _predictions(first) for _, r in copies[1:]):
            agreed += 1
            records.append(first)
            origins.append(first_name)
            continue
        held = ", ".join(f"{name} ({r.metric} {r.score:.3f}, n={len(r.examples)})" for name, r in copies)
        notes.append(f"{_name(rid)}: the sources disagree: {held} hold different predictions for it; not shown "
                     "(re-run it, or report the sources apart)")
    if agreed:
        notes.append(f"{agreed} result(s) are in more than one source with the same predictions; each is shown once")
    return Merged(records, origins, notes, names)


def load_leaderboard(sources: Sequence[str | Path], *, include_not_comparable: bool = False) -> Any:
    """The leaderboard of the merged ``sources``, the merge's notes first among its notes."""
    from biobench_core.results._leaderboard import build_leaderboard

    merged = merge_sources(sources, include_not_comparable=include_not_comparable)
    board = build_leaderboard(merged.records)
    board.notes[:0] = [n for n in merged.notes if n not in board.notes]
    return board

