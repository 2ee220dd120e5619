"""Reading the datasets' own formats: tables by column name and class folders, with errors that name the place.

Every task module reads its metadata through these two functions, so a missing file, a missing column or a bad
row is always one :class:`~biobench_core.TaskDataError` line naming the file (and row or column). Near misses are
named for what they are: a table whose header is separated by another delimiter than the format's, a NUL byte
(a binary or damaged file), two class names that differ only by Unicode normalisation (NFC and NFD, as a copy from
macOS may leave them); files in class folders whose extension is not an image's are counted and named.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import os
import unicodedata
import warnings
from collections.abc import Iterable, Sequence
from operator import itemgetter
from pathlib import Path

from biobench_core import TaskDataError

__all__ = ["Table", "read_columns", "read_text", "delimiter_mismatch", "scan_class_folders", "class_index",
           "check_normalisation", "warn_skipped", "IMAGE_EXTENSIONS", "DataWarning", "FileIndex"]

#: The extensions of the files read as images in class folders: the common formats and their other names (.jfif,
#: .jpe and .jif are JPEG; .pbm, .pgm and .ppm are Netpbm). A fixed list, not a probe of each file's content, so a
#: folder gives the same examples on every machine (which formats Pillow opens depends on its installed plugins)
#: and listing 100,000 images opens none of them; any other file is counted and named (:func:`warn_skipped`).
IMAGE_EXTENSIONS = frozenset({".jpg", ".jpeg", ".jpe", ".jfif", ".jif", ".png", ".bmp", ".gif", ".tif", ".tiff",
                              ".webp", ".pbm", ".pgm", ".ppm"})
#: Delimiters a table may turn out to be separated by, with their names for messages.
DELIMITERS = {",": "comma", "\t": "tab", ";": "semicolon", " ": "space", "|": "pipe"}


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
    the file's lines from 1 (the header is line 1). A NUL byte is refused naming its row (:func:`read_text`); a
    header that has the columns when split by another delimiter is named as such (:func:`delimiter_mismatch`).
    """
    text = read_text(path, first_row=1)
    stream = io.StringIO(text, newline="")
    try:
        records = ([line.split() for line in stream] if delimiter == " "
                   else list(csv.reader(stream, delimiter=delimiter)))
    except csv.Error as exc:
        raise TaskDataError(f"{path}: cannot read: {type(exc).__name__}: {exc}") from None
    first = 1
    if names is None:
        if not records:
            raise TaskDataError(f"{path}: empty file: expected a header with {', '.join(required)}")
        header, records, first = [h.strip() for h in records[0]], records[1:], 2
    else:
        header = list(names)
    missing = [c for c in required if c not in header]
    if missing and names is None:
        mismatch = delimiter_mismatch(path, text, required, delimiter)
        if mismatch is not None:
            raise mismatch
    if missing:
        shown = delimiter.join(header) if len(header) < 30 else delimiter.join(header[:30]) + "..."
        raise TaskDataError(f"{path}: missing column {missing[0]!r} (header is {shown!r})")
    lines = list(range(first, first + len(records)))
    if not all(records):  # drop blank lines, keeping every other record's line number
        kept = [(r, n) for r, n in zip(records, lines) if any(c.strip() for c in r)]
        records, lines = [r for r, _ in kept], [n for _, n in kept]
    return Table(Path(path), header, records, lines)


def read_text(path: Path, *, first_row: int) -> str:
    """The text of a table file (UTF-8, a byte-order mark dropped), refusing a NUL byte as a binary or damaged
    file, naming its row: the file's line, counted so that its first line is row ``first_row`` (0 when the
    header is row 0)."""
    try:
        with open(path, newline="", encoding="utf-8-sig") as f:
            text = f.read()
    except FileNotFoundError:
        raise TaskDataError(f"{path}: file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise TaskDataError(f"{path}: cannot read: {type(exc).__name__}: {exc}") from None
    at = text.find("\0")
    if at >= 0:
        row = text.count("\n", 0, at) + first_row
        where = f"{path} row {row}" if row > 0 else f"{path} header"
        raise TaskDataError(f"{where}: a NUL byte (\\0): the file is binary or damaged, not delimited text")
    return text


def delimiter_mismatch(path: Path, text: str, required: Sequence[str], expected: str) -> TaskDataError | None:
    """The error for a table whose header has the ``required`` columns when split by another delimiter than
    ``expected`` (a tab-separated file where commas belong, ...), naming both; ``None`` when no other fits."""
    line = text.split("\n", 1)[0].rstrip("\r")
    wanted = {name.lower() for name in required}
    for found, name in DELIMITERS.items():
        if found == expected:
            continue
        cells = line.split() if found == " " else line.split(found)
        if wanted <= {cell.strip().strip('"').lower() for cell in cells}:
            return TaskDataError(f"{path}: the columns are {name}-separated, but this file must be "
                                 f"{DELIMITERS.get(expected, repr(expected))}-separated (header is {line!r})")
    return None


def check_normalisation(places: Iterable[tuple[str, str]]) -> None:
    """Refuse two class names that differ only by Unicode normalisation, given ``(class name, where it is)`` pairs.

    ``café`` written with one code point (NFC) and with ``e`` and a combining accent (NFD) look the same but are
    two classes; the error names both places and shows each name's code points.
    """
    seen: dict[str, tuple[str, str]] = {}
    for name, where in places:
        first_name, first_where = seen.setdefault(unicodedata.normalize("NFC", name), (name, where))
        if first_name != name:
            raise TaskDataError(f"{first_where} ({ascii(first_name)}, {_form(first_name)}) and {where} "
                                f"({ascii(name)}, {_form(name)}): class names that differ only by Unicode "
                                f"normalisation look alike but would be two classes: rename one to match the other")


def _form(name: str) -> str:
    return next((form for form in ("NFC", "NFD") if unicodedata.is_normalized(form, name)), "mixed")


def warn_skipped(where: str | os.PathLike[str], skipped: Sequence[str], extensions: Iterable[str]) -> None:
    """Warn (:class:`DataWarning`) that the files ``skipped`` under ``where`` were not read as images: how many,
    by extension, and the first of them."""
    if not skipped:
        return
    counts: dict[str, int] = {}
    for path in skipped:
        extension = os.path.splitext(path)[1].lower() or "no extension"
        counts[extension] = counts.get(extension, 0) + 1
    shown = ", ".join(f"{ext} ({n})" for ext, n in sorted(counts.items(), key=lambda item: (-item[1], item[0])))
    n = len(skipped)
    warnings.warn(f"{where}: skipped {n} file{'s' * (n != 1)} in class folders that are not images by extension: "
                  f"{shown}; e.g. {min(skipped)} (read as images: {', '.join(sorted(extensions))})", DataWarning,
                  stacklevel=3)


def scan_class_folders(root: str | os.PathLike[str], *, extensions: Iterable[str] = IMAGE_EXTENSIONS,
                       ) -> list[tuple[str, list[str]]]:
    """``(class name, image paths)`` for every class folder ``root/<class>/`` with images, by name; the paths are
    strings, every image in the folder (recursively, as :func:`os.walk` orders them: a folder's files by name, then
    its sub-folders by name), skipping hidden entries.

    A missing ``root`` is an error naming it; an empty class folder is skipped with a :class:`DataWarning`, and so
    are files whose extension is not in ``extensions``, counted and named (:func:`warn_skipped`). One
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
    skipped: list[str] = []
    for name in classes:
        images: list[str] = []
        _scan_images(prefix + name, suffixes, images, skipped)
        if not images:
            warnings.warn(f"{prefix}{name}: empty class folder, skipped", DataWarning, stacklevel=2)
            continue
        found.append((name, images))
    warn_skipped(root, skipped, suffixes)
    if not found:
        raise TaskDataError(f"{root}: no images in any class folder (extensions: {', '.join(sorted(suffixes))})")
    return found


def _scan_images(folder: str, suffixes: frozenset[str], out: list[str], skipped: list[str]) -> None:
    """Append the images under ``folder`` to ``out`` in :func:`os.walk`'s order (unreadable folders skipped, links
    to folders listed but not followed, as ``os.walk`` does), and its other files to ``skipped``."""
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
            else:
                skipped.append(os.path.join(folder, name))
    prefix = folder + os.sep
    if files:
        files.sort()
        out += [prefix + name for name in files]
    if folders:
        folders.sort(key=lambda pair: pair[0])
        for name, entry in folders:
            if not entry.is_symlink():
                _scan_images(prefix + name, suffixes, out, skipped)


def class_index(names: Iterable[str]) -> dict[str, int]:
    """One label per class name, sorted by name: build it over every split so labels agree across splits."""
    return {name: i for i, name in enumerate(sorted(set(names)))}
