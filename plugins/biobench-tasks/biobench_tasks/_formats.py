"""Reading the datasets' own formats: tables by column name and class folders, with errors that name the place.

Every task module reads its metadata through these two functions, so a missing file, a missing column or a bad
row is always one :class:`~biobench_core.tasks.TaskDataError` line naming the file (and row or column).
"""

from __future__ import annotations

import csv
import os
import warnings
from collections.abc import Iterable, Sequence
from pathlib import Path

from biobench_core.tasks import TaskDataError

__all__ = ["Row", "read_table", "scan_class_folders", "class_index", "IMAGE_EXTENSIONS", "DataWarning"]

IMAGE_EXTENSIONS = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".gif", ".tif", ".tiff", ".webp"})


class DataWarning(UserWarning):
    """The data is usable, but something was left out (an empty class folder, rows without a label...)."""


class Row(dict):
    """One table row: column name -> stripped cell text, and ``where`` (``"<file> row N"``) for error messages."""

    where: str

    def need(self, column: str) -> str:
        """The cell, or a :class:`TaskDataError` naming the row when it is empty."""
        value = self.get(column, "")
        if not value:
            raise TaskDataError(f"{self.where}: empty {column!r}")
        return value


def read_table(path: Path, required: Sequence[str], *, delimiter: str = ",", names: Sequence[str] | None = None,
               ) -> list[Row]:
    """The rows of a delimited text file, read by column name (never by position).

    The first line is the header unless ``names`` gives the columns of a header-less file. Columns named in
    ``required`` must exist. ``delimiter=" "`` splits on runs of spaces. Blank lines are skipped; row numbers
    count the file's lines from 1 (the header is line 1).
    """
    try:
        with open(path, newline="", encoding="utf-8-sig") as f:
            lines = list(f) if delimiter == " " else None
            if lines is not None:
                records = [line.split() for line in lines]
            else:
                f.seek(0)
                records = list(csv.reader(f, delimiter=delimiter))
    except FileNotFoundError:
        raise TaskDataError(f"{path}: file not found") from None
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise TaskDataError(f"{path}: cannot read: {type(exc).__name__}: {exc}") from None
    first = 1
    if names is None:
        if not records:
            raise TaskDataError(f"{path}: empty file: expected a header with {', '.join(required)}")
        header, records, first = [h.strip() for h in records[0]], records[1:], 2
    else:
        header = list(names)
    positions: dict[str, int] = {}
    for i, name in enumerate(header):
        positions.setdefault(name, i)
    missing = [c for c in required if c not in positions]
    if missing:
        shown = delimiter.join(header) if len(header) < 30 else delimiter.join(header[:30]) + "..."
        raise TaskDataError(f"{path}: missing column {missing[0]!r} (header is {shown!r})")
    rows = []
    for number, record in enumerate(records, start=first):
        if not any(cell.strip() for cell in record):
            continue
        row = Row({name: (record[i].strip() if i < len(record) else "") for name, i in positions.items()})
        row.where = f"{path} row {number}"
        rows.append(row)
    return rows


def scan_class_folders(root: Path, *, extensions: Iterable[str] = IMAGE_EXTENSIONS) -> list[tuple[str, Path]]:
    """``(class name, image path)`` for every image in ``root/<class>/`` (recursively), sorted.

    A missing ``root`` is an error naming it; an empty class folder is skipped with a :class:`DataWarning`.
    """
    if not root.is_dir():
        raise TaskDataError(f"{root}: missing folder: expected {root.name}/<class>/<image>")
    suffixes = frozenset(e.lower() for e in extensions)
    found = []
    for entry in sorted(root.iterdir()):
        if not entry.is_dir() or entry.name.startswith("."):
            continue
        images = []
        for dirpath, dirnames, filenames in os.walk(entry):
            dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
            images += [Path(dirpath) / name for name in sorted(filenames)
                       if not name.startswith(".") and os.path.splitext(name)[1].lower() in suffixes]
        if not images:
            warnings.warn(f"{entry}: empty class folder, skipped", DataWarning, stacklevel=2)
        found += [(entry.name, path) for path in images]
    if not found:
        raise TaskDataError(f"{root}: no images in any class folder (extensions: {', '.join(sorted(suffixes))})")
    return found


def class_index(names: Iterable[str]) -> dict[str, int]:
    """One label per class name, sorted by name: build it over every split so labels agree across splits."""
    return {name: i for i, name in enumerate(sorted(set(names)))}
