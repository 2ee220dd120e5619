"""Superseded results: stored results that newer code or newer data replaced, for the report's note on a column
whose rows come from different code, and for ``biobench prune``.

A result records the code it came from (``identity["code"]``, :func:`biobench_core.engine._identity.result_code`):
one digest per part, the backbone's plugin, the task's plugin, ``extraction``, ``probe <name>`` and
``metric <name>``. Its **column code** is every part but the backbone's plugin: what every row of one report
column shares when nothing on the task's side changed. A column mixes code when its rows' column codes differ.

A stored result R is **superseded** when the store holds a newer result S (stored later) with either

1. *newer code*: S is the newest result of R's report column (same task, column settings, data and metric), both
   recorded their code under the same identity format, and their column codes differ (an edited task plugin, a
   new probe or metric version, a changed extraction protocol); or
2. *newer data*: S has R's backbone, weights, task and settings (probe, task settings, dtype, ``--limit``) and the
   same test examples (the same data read again), under another data hash (its files or labels changed since).

So the newest result of a column, and of a backbone on a task, is never superseded. A result that recorded no code
or no data identity (an older biobench) is superseded by neither rule; the report already notes those.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

__all__ = ["Superseded", "superseded", "column_code", "mixed_code_note"]

_FORMAT = "key-format"  # the part naming the identity format (biobench_core.engine._identity._CODE_FORMAT)
_CORE_PARTS = ("extraction", "probe ", "metric ")


def _is_plugin(part: str) -> bool:
    return part != _FORMAT and not part.startswith(_CORE_PARTS)


def column_code(record: Any) -> dict[str, str] | None:
    """The parts of ``record``'s code every row of its column shares (all but the backbone's plugin and the format),
    or ``None`` when it recorded no code. A backbone and a task from one distribution share one part: it is kept."""
    code = (getattr(record, "identity", None) or {}).get("code")
    if not isinstance(code, dict) or not code:
        return None
    backbone = ((record.identity.get("backbone_code") or {}).get("distribution")) or "unknown plugin"
    plugins = [part for part in code if _is_plugin(part)]
    drop = {_FORMAT} | ({backbone} if len(plugins) > 1 else set())
    return {part: digest for part, digest in code.items() if part not in drop}


def _format(record: Any) -> str | None:
    return ((getattr(record, "identity", None) or {}).get("code") or {}).get(_FORMAT)


def _age(record: Any, order: int) -> tuple[float, int]:
    return (getattr(record, "posix_time", 0.0) or 0.0, order)


def _column(record: Any) -> tuple:
    settings = tuple(sorted((getattr(record, "column_settings", None) or {}).items()))
    return (record.key.task, settings, record.key.data, getattr(record, "metric", None) or "accuracy")


def _changed(old: dict[str, str], new: dict[str, str]) -> list[str]:
    return [part for part in sorted(set(old) | set(new)) if old.get(part) != new.get(part)]


def _part_name(part: str) -> str:
    return f"the task's plugin {part}" if _is_plugin(part) else part


@dataclasses.dataclass
class Superseded:
    """A stored result that a newer one replaced: ``record``, the newer one (``by``) and why, in words."""

    record: Any
    by: Any
    reason: str


def superseded(records: Sequence[Any]) -> list[Superseded]:
    """The results among ``records`` (``ExperimentRecord``, in the order stored) that newer code or data replaced
    (see the module's docstring), oldest first."""
    ordered = sorted(enumerate(records), key=lambda pair: _age(pair[1], pair[0]))
    newest_of_column: dict[tuple, Any] = {}
    newest_of_slot: dict[tuple, Any] = {}
    for _, record in ordered:  # later ones overwrite: the newest stays
        newest_of_column[_column(record)] = record
        key = record.key
        if key.data is not None:
            newest_of_slot[(key.backbone, key.weights, key.task, key.settings)] = record
    out = []
    for _, record in ordered:
        key = record.key
        newest = newest_of_slot.get((key.backbone, key.weights, key.task, key.settings))
        if (key.data is not None and newest is not None and newest is not record and newest.key.data != key.data
                and [p.id for p in newest.examples] == [p.id for p in record.examples]):
            out.append(Superseded(record, newest, f"newer data (data {key.data[:6]}, now {newest.key.data[:6]}: "
                                                  "the same test examples, their files or labels changed)"))
            continue
        newest = newest_of_column[_column(record)]
        old, new = column_code(record), column_code(newest)
        if newest is record or old is None or new is None or _format(record) != _format(newest):
            continue
        changed = _changed(old, new)
        if changed:
            out.append(Superseded(record, newest, "newer code of " + ", ".join(_part_name(p) for p in changed)
                                  + f" ({newest.key.backbone} was run with it since)"))
    return out


def _code_label(record: Any, parts: list[str]) -> str:
    """``record``'s code in the differing ``parts``: a plugin's version and short hash, a protocol's short hash."""
    code = record.identity["code"]
    versions = getattr(record, "versions", None) or {}
    return ", ".join(f"{part} {versions[part] + ' ' if part in versions else ''}code {code.get(part, '?')[:8]}"
                     for part in parts)


def mixed_code_note(label: str, rows: Sequence[tuple[str, Any]]) -> str | None:
    """The report's note on column ``label`` when its rows (``(row name, record)``, in the order stored) come from
    different column code, naming which rows come from which code and what to do; ``None`` when they do not.
    Rows that recorded no code, or recorded it under another identity format than the newest, are left out."""
    if not rows:
        return None
    newest = max(enumerate(rows), key=lambda pair: _age(pair[1][1], pair[0]))[1][1]
    known = [(name, record, column_code(record)) for name, record in rows
             if column_code(record) is not None and _format(record) == _format(newest)]
    codes = [code for _, _, code in known]
    parts = sorted({part for code in codes for part in _changed(codes[0], code)}) if codes else []
    if not parts:
        return None
    groups: dict[str, list[str]] = {}
    for name, record, _ in known:
        groups.setdefault(_code_label(record, parts), []).append(name)
    newest_label = _code_label(newest, parts)
    shown = "; ".join(f"{code}{' (newest)' if code == newest_label else ''}: {', '.join(names)}"
                      for code, names in groups.items())
    return (f"{label}: its rows come from different code of {', '.join(_part_name(p) for p in parts)}, so "
            f"they are not comparable: {shown}; re-run the older rows ('biobench run' redoes them) or delete them with "
            "'biobench prune --results DIR'")
