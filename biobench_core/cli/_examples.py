"""``biobench report examples``: the test examples one backbone gets right and another gets wrong on a task, and
the reverse, with their ids, files, true and predicted classes; ``--montage`` draws them, ``--confusion`` draws
the first backbone's confusion matrix.

The results are chosen and compared by :mod:`biobench_core.results._drilldown`. Files and class names come from the
task itself when its plugin is installed and its data folder is known (``--data TASK=DIR``; else the ``--data``
or ``--config`` recorded in the result's argv); otherwise the class names its predictions stored (``pred_name``)
are shown, and ids stand for files.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from biobench_core.cli._common import UsageError, print_table
from biobench_core.cli._out import check_out, write_out

__all__ = ["cmd_report_examples", "add_examples_arguments"]

SHOWN = 50  # examples listed (and drawn) per direction unless --max says otherwise
MISSING_NAMED = 10  # missing images named one per line; past this, one line counts the rest


def add_examples_arguments(p: argparse.ArgumentParser) -> None:
    """The arguments of ``report examples``."""
    p.add_argument("--task", required=True, metavar="ID", help="the task: its id or short name, as stored")
    p.add_argument("--backbone", action="append", default=[], metavar="ID",
                   help="give two: A (first) and B; one alone is enough for --confusion")
    # --results, --force and --all may also come before 'examples' (report's own flags): SUPPRESS keeps those
    p.add_argument("--results", default=argparse.SUPPRESS, metavar="DIR",
                   help="results folder (default: ./results)")
    p.add_argument("--weights", action="append", default=[], metavar="W",
                   help="which of a backbone's results (its weights or dtype), when it has several: one for all "
                        "backbones or one per --backbone, in order")
    p.add_argument("--column", metavar="LABEL",
                   help="the task's column, as the leaderboard labels it, when the backbones share several (results "
                        "with other settings, data or metric)")
    p.add_argument("--data", action="append", default=[], metavar="TASK=DIR",
                   help="the task's data folder, for file paths and images (default: the one the run recorded)")
    p.add_argument("--max", type=int, default=SHOWN, metavar="N",
                   help=f"list and draw at most N examples each way (default: {SHOWN}; 0: all)")
    p.add_argument("--montage", metavar="PNG", help="write a captioned grid of the listed examples' images")
    p.add_argument("--confusion", metavar="PNG",
                   help="write the first backbone's confusion matrix on the task (its 20 most frequent confused "
                        "pairs when it has more than 30 classes)")
    p.add_argument("--json", action="store_true", help="print the lists as JSON")
    p.add_argument("--force", action="store_true", default=argparse.SUPPRESS,
                   help="let --montage/--confusion replace a file biobench did not write (never a SQLite database)")
    p.add_argument("--all", action="store_true", default=argparse.SUPPRESS,
                   help="include not-comparable (--limit) runs")


def _one_store(given: str | list[str] | None) -> str:
    """The one results folder ``report examples`` reads: given after ``examples``, or once before it."""
    if isinstance(given, list):
        if len(given) > 1:
            raise UsageError(f"report examples reads one results folder; --results is given {len(given)} times "
                             f"({', '.join(given)})")
        given = given[0]
    return given or "results"


def cmd_report_examples(args: argparse.Namespace) -> int:
    """List (and draw) where two backbones differ on a task; see the module doc."""
    from biobench_core.results._drilldown import DrillDownError, choose, drill_down, scored
    from biobench_core.results._store import ResultsStore

    if not args.backbone or len(args.backbone) > 2:
        raise UsageError("give two --backbone (A and B) to compare, or one with --confusion")
    if len(args.backbone) == 1 and not args.confusion:
        raise UsageError(f"one --backbone ({args.backbone[0]}) lists nothing: give a second to compare it with, or "
                         "--confusion PNG to draw its confusion matrix")
    if args.max < 0:
        raise UsageError(f"--max {args.max}: expected 0 (all) or more")
    results = _one_store(getattr(args, "results", None))
    outs = {flag: Path(value) for flag, value in (("--montage", args.montage), ("--confusion", args.confusion))
            if value}
    for flag, out in outs.items():
        try:
            check_out(out, ".png", force=args.force)
        except UsageError as exc:
            raise UsageError(str(exc).replace("--out", flag, 1)) from None
    try:
        with ResultsStore(results, readonly=True) as store:
            task_id, chosen = choose(store, args.task, args.backbone, weights=args.weights, column=args.column,
                                     include_not_comparable=args.all)
            got = [scored(store, c) for c in chosen]
    except DrillDownError as exc:
        raise UsageError(str(exc)) from None
    found = drill_down(task_id, *chosen, *got) if len(chosen) == 2 else None
    files, names = _task_files(task_id, chosen[0].record, args.data)
    names = names or {**got[-1].names, **got[0].names}

    def name(c: int | None) -> str:
        return "-" if c is None else "not scored" if c < 0 else names.get(c, str(c))

    if found is not None:
        limit = args.max or None
        directions = [(found.a, found.b, found.a_only), (found.b, found.a, found.b_only)]
        if args.json:
            print(json.dumps(_as_json(found, directions, files, name, limit)))
        else:
            _print(found, directions, files, name, limit)
        if args.montage:
            _write_montage(Path(args.montage), found, directions, files, name, limit)
    if args.confusion:
        _write_confusion(Path(args.confusion), chosen[0], got[0], name)
    return 0


def _task_files(task_id: str, record: Any, data: Sequence[str]) -> tuple[dict[str, str], dict[int, str]]:
    """Each test example's file and the class names, from the task built over its data folder; ``({}, {})`` with a
    warning saying why when it cannot be built here."""
    from biobench_core.contract._catalog import load_task, resolve_task

    try:
        spec = resolve_task(task_id)
    except Exception as exc:  # noqa: BLE001 - an uninstalled or broken plugin: the stored ids and names still show
        print(f"warning: task {task_id} cannot be loaded here ({_line(exc)}): example ids stand for files, and "
              "class names are those its predictions stored", file=sys.stderr)
        return {}, {}
    folder = _given_folder(task_id, data) or _recorded_folder(task_id, record) if spec.needs_data else None
    if spec.needs_data and folder is None:
        print(f"warning: {task_id}'s data folder is not known (the run recorded none): pass --data "
              f"{spec.name}=DIR for file paths and images", file=sys.stderr)
        return {}, {}
    try:
        task = load_task(task_id, folder)
        files = {ex.id: next(iter(task.files(ex)), None) for ex in task.examples("test")}
        names = dict(enumerate(task.class_names or []))
    except Exception as exc:  # noqa: BLE001 - a moved or changed data folder: say so, and go on without files
        print(f"warning: cannot read {task_id}'s examples from {folder} ({_line(exc)}): example ids stand for "
              f"files; pass --data {spec.name}=DIR", file=sys.stderr)
        return {}, {}
    return {i: f for i, f in files.items() if f is not None}, names


def _line(exc: BaseException) -> str:
    from biobench_core.contract._errors import one_line

    return one_line(exc)


def _same_task(name: str, task_id: str) -> bool:
    from biobench_core.contract._catalog import resolve_task

    if name == task_id:
        return True
    try:
        return resolve_task(name).id == task_id
    except Exception:  # noqa: BLE001 - a name that is no task here is simply not this one
        return False


def _given_folder(task_id: str, data: Sequence[str]) -> str | None:
    for item in data:
        name, sep, folder = item.partition("=")
        if not sep or not folder:
            raise UsageError(f"--data {item!r}: expected TASK=DIR")
        if _same_task(name, task_id):
            return folder
    if data:
        raise UsageError(f"--data: none of {', '.join(d.partition('=')[0] for d in data)} is task {task_id}")
    return None


def _recorded_folder(task_id: str, record: Any) -> str | None:
    """The data folder the result's run was given: its argv's ``--data NAME=DIR`` (relative to where it ran,
    which is taken to be here), else its ``--config`` file's ``[[task]] data`` (relative to that file)."""
    argv = [str(a) for a in (getattr(record, "argv", None) or [])]
    values: dict[str, list[str]] = {"--data": [], "--config": []}
    for i, arg in enumerate(argv):
        for flag in values:
            if arg == flag and i + 1 < len(argv):
                values[flag].append(argv[i + 1])
            elif arg.startswith(flag + "="):
                values[flag].append(arg[len(flag) + 1:])
    for item in values["--data"]:
        name, _, folder = item.partition("=")
        if folder and _same_task(name, task_id):
            return folder
    for config in values["--config"]:
        try:
            import tomllib
        except ImportError:  # Python 3.10
            return None
        try:
            entries = tomllib.loads(Path(config).read_text()).get("task", [])
        except (OSError, ValueError):
            continue
        for entry in entries if isinstance(entries, list) else []:
            if isinstance(entry, dict) and isinstance(entry.get("data"), str) and _same_task(str(entry.get("id")),
                                                                                              task_id):
                folder = Path(entry["data"]).expanduser()
                return str(folder if folder.is_absolute() else Path(config).parent / folder)
    return None


def _shown(pairs: list[Any], limit: int | None) -> list[Any]:
    return pairs if limit is None else pairs[:limit]


def _print(found: Any, directions: list, files: dict[str, str], name: Any, limit: int | None) -> None:
    print(f"{found.column}: {found.a.name} and {found.b.name}, on the {found.n_shared} test examples both scored "
          f"({found.rule})")
    if found.n_shared < max(found.n_a, found.n_b):
        print(f"note: {found.a.name} scored {found.n_a} examples and {found.b.name} {found.n_b}; only the "
              f"{found.n_shared} both scored are compared")
    for right, wrong, pairs in directions:
        print(f"\n{right.name} right, {wrong.name} wrong: {len(pairs)}")
        if not pairs:
            continue
        first = right is found.a
        rows = [[p.id, name(p.label), name(p.pred_a if first else p.pred_b), name(p.pred_b if first else p.pred_a),
                 files.get(p.id, "-")] for p in _shown(pairs, limit)]
        print_table(rows, ["id", "true", f"{right.row[0]} predicted", f"{wrong.row[0]} predicted", "file"])
        if limit is not None and len(pairs) > limit:
            print(f"... {len(pairs) - limit} more not shown (--max 0 lists all)")


def _as_json(found: Any, directions: list, files: dict[str, str], name: Any, limit: int | None) -> dict[str, Any]:
    def side(chosen: Any) -> dict[str, Any]:
        return {"backbone": chosen.row[0], "weights": chosen.row[1], "dtype": chosen.row[2],
                "settings": chosen.record.key.settings}

    out: dict[str, Any] = {"task": found.task, "column": found.column, "a": side(found.a), "b": side(found.b),
                           "rule": found.rule, "n_compared": found.n_shared}
    for key, (_right, _wrong, pairs) in zip(("a_right_b_wrong", "b_right_a_wrong"), directions):
        out[key] = {"count": len(pairs), "examples": [
            {"id": p.id, "file": files.get(p.id), "true": p.label, "true_name": name(p.label), "pred_a": p.pred_a,
             "pred_a_name": name(p.pred_a), "pred_b": p.pred_b, "pred_b_name": name(p.pred_b)}
            for p in _shown(pairs, limit)]}
    return out


def _write_montage(out: Path, found: Any, directions: list, files: dict[str, str], name: Any,
                   limit: int | None) -> None:
    from biobench_core.formats._drilldown_figures import Tile, montage

    def absent(example_id: str) -> str | None:  # the task, read from its folder, no longer lists the example
        return (f"{example_id}: not among {found.task}'s test examples in its data folder now (its file is missing)"
                if files and example_id not in files else None)

    sections = []
    for right, wrong, pairs in directions:
        first = right is found.a
        shown = _shown(pairs, limit)
        tiles = [Tile(files.get(p.id), [p.id, f"true: {name(p.label)}",
                                        f"{right.row[0]}: {name(p.pred_a if first else p.pred_b)}",
                                        f"{wrong.row[0]}: {name(p.pred_b if first else p.pred_a)}"],
                      absent(p.id)) for p in shown]
        more = f", {len(shown)} shown" if len(shown) < len(pairs) else ""
        sections.append((f"{right.name} right, {wrong.name} wrong: {len(pairs)}{more}", tiles))
    missing: list[str] = []
    png = montage(sections, warn=missing.append)
    for line in missing[:MISSING_NAMED]:
        print(f"warning: {line}", file=sys.stderr)
    if len(missing) > MISSING_NAMED:
        print(f"warning: --montage: {len(missing) - MISSING_NAMED} more images missing or unreadable, drawn as "
              "placeholders", file=sys.stderr)
    if not files and any(tiles for _, tiles in sections):
        print("warning: --montage: no example's file is known, so every tile is a placeholder", file=sys.stderr)
    write_out(out, png, f"--montage {out}")
    print(f"wrote {out}", file=sys.stderr)


def _write_confusion(out: Path, chosen: Any, got: Any, name: Any) -> None:
    from biobench_core.formats._drilldown_figures import confusion_figure
    from biobench_core.results._drilldown import DrillDownError, confusion

    try:
        classes, counts = confusion(got)
    except DrillDownError as exc:
        raise UsageError(f"--confusion: {chosen.row[0]} on {chosen.column}: {exc}") from None
    png, what = confusion_figure(classes, counts, name, f"{chosen.name} on {chosen.column}")
    write_out(out, png, f"--confusion {out}")
    print(f"wrote {out}: {what} of {chosen.name} on {chosen.column}", file=sys.stderr)
