"""Reading the datasets' own formats: tables by column name and class folders, with errors that name the place.

Every task module reads its metadata through these two functions, so a missing file, a missing column or a bad
row is always one :class:`~biobench_core.TaskDataError` line naming the file (and row or column).
"""

from __future__ import annotations

import csv
import dataclasses
import os
import warnings
from collections.abc import Iterable, Sequence
from operator import itemgetter
from pathlib import Path

from biobench_core import TaskDataError

__all__ = ["Table", "read_columns", "scan_class_folders", "class_index", "IMAGE_EXTENSIONS", "DataWarning",
           "FileIndex"]

IMAGE_EXTENSIONS = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".gif", ".tif", ".tiff", ".webp"})


class DataWarning(UserWarning):
    """The data is usable, but something was left out (an empty class folder, rows without a label...)."""


class FileIndex:
    """Whether files exist, answered from one listing per folder instead of one ``stat`` per file.

    Checking that each of 100,000 images exists with ``os.path.exists`` costs more than reading the metadata that
    names them; listing each folder once (``os.scandir``) and looking names up in a set costs a fraction of it.
    A name counts as present when the folder lists it as a file (or as a link to one); a folder that does not
    exist holds nothing.
    """

    def __init__(self) -> None:
        self._listed: dict[str, frozenset[str]] = {}

    def names(self, folder: str | os.PathLike[str]) -> frozenset[str]:
        """The file names in ``folder`` (cached for the life of this index)."""
        key = os.fspath(folder)
        names = self._listed.get(key)
        if names is None:
            try:
                with os.scandir(key) as entries:
                    names = frozenset([e.name for e in entries if e.is_file()])
            except (FileNotFoundError, NotADirectoryError):
                names = frozenset()
            self._listed[key] = names
        return names

    def exists(self, path: str | os.PathLike[str]) -> bool:
        """Whether ``path`` is a file, from its folder's listing."""
        folder, name = os.path.split(os.fspath(path))
        return name in self.names(folder)


@dataclasses.dataclass
class Table:
    """A delimited file read column-wise: fast for 100,000s of rows, still addressed by column name."""

    path: Path
    header: list[str]
    records: list[list[str]]
    lines: list[int]  # the file line of each record (1 = the first line of the file)
    _narrowest: int | None = dataclasses.field(default=None, init=False, repr=False, compare=False)

    def __len__(self) -> int:
        return len(self.records)

    def column(self, name: str) -> list[str]:
        """Every row's cell of column ``name``, stripped ("" where a short row lacks it)."""
        i = self.header.index(name)
        if self._narrowest is None:
            self._narrowest = min(map(len, self.records), default=0)
        if i < self._narrowest:  # every row has the cell
            return list(map(str.strip, map(itemgetter(i), self.records)))
        return [r[i].strip() if i < len(r) else "" for r in self.records]

    def where(self, index: int) -> str:
        """``"<file> row N"`` for record ``index``, for error messages."""
        return f"{self.path} row {self.lines[index]}"

    def empty(self, index: int, columns: Sequence[str]) -> str | None:
        """The first of ``columns`` that is empty in record ``index``, or ``None``."""
        record = self.records[index]
        for name in columns:
            i = self.header.index(name)
            if i >= len(record) or not record[i].strip():
                return name
        return None


def read_columns(path: Path, required: Sequence[str], *, delimiter: str = ",", names: Sequence[str] | None = None,
                 ) -> Table:
    """The rows of a delimited text file as a :class:`Table`, read by column name (never by position).

    The first line is the header unless ``names`` gives the columns of a header-less file. Columns named in
    ``required`` must exist. ``delimiter=" "`` splits on runs of spaces. Blank lines are dropped; row numbers count
    the file's lines from 1 (the header is line 1).
    """
    try:
        with open(path, newline="", encoding="utf-8-sig") as f:
            if delimiter == " ":
                records = [line.split() for line in f]
            else:
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
    missing = [c for c in required if c not in header]
    if missing:
        shown = delimiter.join(header) if len(header) < 30 else delimiter.join(header[:30]) + "..."
        raise TaskDataError(f"{path}: missing column {missing[0]!r} (header is {shown!r})")
    lines = list(range(first, first + len(records)))
    if not all(records):  # drop blank lines, keeping every other record's line number
        kept = [(r, n) for r, n in zip(records, lines) if any(c.strip() for c in r)]
        records, lines = [r for r, _ in kept], [n for _, n in kept]
    return Table(Path(path), header, records, lines)


def scan_class_folders(root: str | os.PathLike[str], *, extensions: Iterable[str] = IMAGE_EXTENSIONS,
                       ) -> list[tuple[str, list[str]]]:
    """``(class name, image paths)`` for every class folder ``root/<class>/`` with images, by name; the paths are
    strings, every image in the folder (recursively, as :func:`os.walk` orders them: a folder's files by name, then
    its sub-folders by name), skipping hidden entries.

    A missing ``root`` is an error naming it; an empty class folder is skipped with a :class:`DataWarning`. One
    ``os.scandir`` per folder and string paths: 100,000 images are listed in a fraction of what ``os.walk`` with
    :class:`~pathlib.Path` objects takes.
    """
    top = os.fspath(root)
    if not os.path.isdir(top):
        raise TaskDataError(f"{root}: missing folder: expected {Path(top).name}/<class>/<image>")
    suffixes = frozenset(e.lower() for e in extensions)
    with os.scandir(top) as entries:
        classes = sorted(e.name for e in entries if not e.name.startswith(".") and e.is_dir())
    prefix = os.path.join(top, "")
    found = []
    for name in classes:
        images: list[str] = []
        _scan_images(prefix + name, suffixes, images)
        if not images:
            warnings.warn(f"{prefix}{name}: empty class folder, skipped", DataWarning, stacklevel=2)
            continue
        found.append((name, images))
    if not found:
        raise TaskDataError(f"{root}: no images in any class folder (extensions: {', '.join(sorted(suffixes))})")
    return found


def _scan_images(folder: str, suffixes: frozenset[str], out: list[str]) -> None:
    """Append the images under ``folder`` to ``out`` in :func:`os.walk`'s order (unreadable folders skipped, links
    to folders listed but not followed, as ``os.walk`` does)."""
    try:
        with os.scandir(folder) as it:
            entries = [(e.name, e) for e in it if e.name[0] != "."]
    except OSError:
        return
    files = []
    folders = []
    for name, entry in entries:
        try:
            is_dir = entry.is_dir()
        except OSError:
            is_dir = False
        if is_dir:
            folders.append((name, entry))
        else:
            dot = name.rfind(".")  # os.path.splitext's extension for a name that does not start with a dot
            if dot > 0 and name[dot:].lower() in suffixes:
                files.append(name)
    prefix = folder + os.sep
    if files:
        files.sort()
        out += [prefix + name for name in files]
    if folders:
        folders.sort(key=lambda pair: pair[0])
        for name, entry in folders:
            if not entry.is_symlink():
                _scan_images(prefix + name, suffixes, out)


def class_index(names: Iterable[str]) -> dict[str, int]:
    """One label per class name, sorted by name: build it over every split so labels agree across splits."""
    return {name: i for i, name in enumerate(sorted(set(names)))}
