"""``tasks/image-folder``: a classification task over a folder of the user's own images.

Two layouts, paths relative to the data folder ``DIR``::

    DIR/train/<class>/<image>          DIR/labels.csv: path,label,split[,group]
    DIR/test/<class>/<image>

``labels.csv`` wins when both are present. Ids are the relative paths (``train/cat/001.jpg``); classes are
sorted by name to give label indices. In class folders, files are images by their extension
(:data:`~biobench_tasks._formats.IMAGE_EXTENSIONS`: ``.jpg``, ``.jfif``, ``.png``, ``.tif``, ``.webp``...); any
other file is skipped, and counted and named in a warning. ``labels.csv`` is comma-separated (a tab- or
semicolon-separated one is named as such); its rows may list images of any extension. Two class names that differ
only by Unicode normalisation (NFC and NFD) are refused, naming both. Every problem with the data is a one-line
:class:`TaskDataError` that names the file, folder, row or column, raised when the task is built (a corrupt image,
when it is loaded).

A path in ``labels.csv`` must stay inside ``DIR`` as written (no ``../`` out of it, no absolute path; links
inside ``DIR`` may point anywhere) unless the task is given ``--set allow_outside=true``. One image file may
appear only once: the same file in train and test is refused, naming both rows or files, however it is reached
(``./imgs/../imgs/x.jpg``, a symbolic link, a hard link). In the folder layout, a class folder that holds the
same files as another (a linked class folder) is a warning, since its images count in both classes.

Images are decoded by :func:`biobench_core.load_rgb`: upright, 8-bit RGB, 16-bit and float images
scaled by their range, very large JPEGs decoded at reduced size; see that module for the rules.
"""

from __future__ import annotations

import csv
import io
import os
import stat
import warnings
from pathlib import Path, PurePosixPath

from biobench_core import SPLITS, Example, ImageFileTask, Setting, TaskDataError
from biobench_tasks._formats import IMAGE_EXTENSIONS, check_normalisation, delimiter_mismatch, read_text, warn_skipped

__all__ = ["ImageFolderTask", "ImageFolderWarning", "IMAGE_EXTENSIONS"]

LABELS_CSV = "labels.csv"
REQUIRED_COLUMNS = ("path", "label", "split")


class ImageFolderWarning(UserWarning):
    """The data folder is usable but probably not what was meant (e.g. a class folder linked to another)."""


def _is_image(path: Path) -> bool:
    return path.suffix.lower() in IMAGE_EXTENSIONS and not path.name.startswith(".")


def _flag(value: str) -> bool:
    """A :attr:`Setting.check` for true/false (also yes/no, on/off, 1/0)."""
    word = value.strip().lower()
    if word in ("true", "yes", "on", "1"):
        return True
    if word in ("false", "no", "off", "0"):
        return False
    raise ValueError("expected true or false")


def _inside(root: Path, path: Path) -> bool:
    """Whether ``path`` stays in ``root`` as written (``..`` resolved lexically; links are not followed)."""
    try:
        return os.path.commonpath([os.path.normpath(root), os.path.normpath(path)]) == os.path.normpath(root)
    except ValueError:  # Windows: another drive
        return False


def _identity(st: os.stat_result, path: Path) -> object:
    """What makes two paths the same file: device and inode (links followed), else the resolved path."""
    return (st.st_dev, st.st_ino) if st.st_ino else os.path.realpath(path)


class ImageFolderTask(ImageFileTask):
    """Images of ``DIR/{train,test}/<class>/`` or listed in ``DIR/labels.csv``; see the module docstring."""

    settings_schema = {
        "allow_outside": Setting("accept labels.csv paths outside the data folder (../, absolute paths): "
                                 "true or false (default false)", check=_flag),
    }

    def read(self) -> None:
        self.allow_outside = _flag(self.settings.get("allow_outside", "false"))
        if not any(self.root.iterdir()):
            raise TaskDataError(f"{self.root}: data folder is empty: expected train/<class>/* and test/<class>/*, "
                                f"or {LABELS_CSV}")
        csv_path = self.root / LABELS_CSV
        if csv_path.is_file():
            rows = self._read_csv(csv_path)
        elif (self.root / "train").is_dir() or (self.root / "test").is_dir():
            rows = self._scan_folders()
        else:
            raise TaskDataError(f"{self.root}: found neither {LABELS_CSV} nor train/ and test/ class folders")
        self._build(rows)

    # -- reading the two layouts: each yields (id, label name, split, group, absolute path, where) -----------

    def _scan_folders(self) -> list[tuple[str, str, str, str | None, Path, str]]:
        rows = []
        skipped: list[str] = []  # files in class folders that are not images by extension
        for split in SPLITS:
            split_dir = self.root / split
            if not split_dir.is_dir():
                raise TaskDataError(f"{split_dir}: missing folder: expected {split}/<class>/<image>")
            for entry in sorted(split_dir.iterdir()):
                if entry.is_file() and _is_image(entry):
                    raise TaskDataError(f"{entry}: image outside a class folder: move it into {split}/<class>/")
                if not entry.is_dir() or entry.name.startswith("."):
                    continue
                for dirpath, dirnames, filenames in os.walk(entry):
                    dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
                    for name in sorted(filenames):
                        path = Path(dirpath) / name
                        if _is_image(path):
                            example_id = path.relative_to(self.root).as_posix()
                            rows.append((example_id, entry.name, split, None, path, str(entry)))
                        elif not name.startswith("."):
                            skipped.append(str(path))
        warn_skipped(self.root, skipped, IMAGE_EXTENSIONS)
        self._check_folder_twins(rows)
        return rows

    def _check_folder_twins(self, rows: list[tuple[str, str, str, str | None, Path, str]]) -> None:
        """One file in train and test is an error; one file in two classes (a linked class folder), a warning."""
        first: dict[object, tuple[str, str, str]] = {}  # file identity -> (split, class, id) of its first listing
        twins: dict[tuple[str, str, str], int] = {}  # (split, class, class of the first listing) -> count
        for example_id, name, split, _, path, _ in rows:
            try:
                key = _identity(os.stat(path), path)
            except OSError:
                continue  # a broken link: reported by name when it is loaded
            if key not in first:
                first[key] = (split, name, example_id)
                continue
            first_split, first_class, first_id = first[key]
            if first_split != split:
                raise TaskDataError(f"{self.root}: the same image is in train and test: {first_id} and {example_id} "
                                    f"are one file (a link?); remove one of them")
            twins[(split, name, first_class)] = twins.get((split, name, first_class), 0) + 1
        for (split, name, first_class), count in twins.items():
            folder = self.root / split / name
            images = f"{count} image{'s' * (count != 1)}"
            if name == first_class:
                message = f"{folder}: {images} of class '{name}' appear twice under different names (links?)"
            else:
                link = f" (a link to {os.path.realpath(folder)})" if folder.is_symlink() else ""
                message = (f"{folder}{link}: {images} of class '{name}' are the same files as images of class "
                           f"'{first_class}' ({self.root / split / first_class}): they count in both classes")
            warnings.warn(message, ImageFolderWarning, stacklevel=5)

    def _read_csv(self, csv_path: Path) -> list[tuple[str, str, str, str | None, Path, str]]:
        text = read_text(csv_path, first_row=0)  # row 1 is the first line after the header
        try:
            reader = csv.reader(io.StringIO(text, newline=""))
            header = next(reader, None)
            if header is None:
                raise TaskDataError(f"{csv_path}: empty file: expected a header line path,label,split[,group]")
            columns = {name.strip().lower(): i for i, name in enumerate(header)}
            for column in REQUIRED_COLUMNS:
                if column not in columns:
                    mismatch = delimiter_mismatch(csv_path, text, REQUIRED_COLUMNS, ",")
                    raise mismatch or TaskDataError(f"{csv_path}: missing column '{column}' (header is "
                                                    f"{','.join(header)}; expected path,label,split[,group])")
            records = list(enumerate(reader, start=1))
        except csv.Error as exc:
            raise TaskDataError(f"{csv_path}: cannot read: {type(exc).__name__}: {exc}") from exc

        rows = []
        seen: dict[str, tuple[int, str, str]] = {}  # id -> (row, path as written, split)
        files: dict[object, tuple[int, str, str]] = {}  # file identity -> (row, path as written, split)
        for row_number, record in records:
            if not any(cell.strip() for cell in record):
                continue  # blank line
            where = f"{csv_path} row {row_number}"
            cell = {name: (record[i].strip() if i < len(record) else "") for name, i in columns.items()}
            if not cell["path"]:
                raise TaskDataError(f"{where}: empty path")
            if not cell["label"]:
                raise TaskDataError(f"{where}: empty label for {cell['path']}")
            split = cell["split"].lower()
            if not split:
                raise TaskDataError(f"{where}: empty split for {cell['path']} (expected 'train' or 'test')")
            if split not in SPLITS:
                raise TaskDataError(f"{where}: unknown split '{cell['split']}' (expected 'train' or 'test')")
            example_id = PurePosixPath(cell["path"].replace("\\", "/")).as_posix()
            path = self.root / example_id
            if not self.allow_outside and not _inside(self.root, path):
                raise TaskDataError(f"{where}: path {cell['path']} is outside the data folder {self.root}: move the "
                                    f"image into it, or accept such paths with --set allow_outside=true")
            both = "; the same image in train and test"
            if example_id in seen:
                first_row, first_path, first_split = seen[example_id]
                alias = f" as {first_path}" if first_path != cell["path"] else ""
                raise TaskDataError(f"{where}: duplicate path {cell['path']} (first listed in row {first_row}{alias})"
                                    f"{both if first_split != split else ''}")
            seen[example_id] = (row_number, cell["path"], split)
            try:
                st = os.stat(path)
            except (FileNotFoundError, NotADirectoryError):
                raise TaskDataError(f"{where}: file not found: {path}") from None
            except OSError as exc:
                raise TaskDataError(f"{where}: cannot read {path}: {exc.strerror or exc}") from None
            if stat.S_ISDIR(st.st_mode):
                raise TaskDataError(f"{where}: {path} is a folder, not an image file")
            if not stat.S_ISREG(st.st_mode):
                raise TaskDataError(f"{where}: {path} is not a regular file")
            key = _identity(st, path)
            if key in files:
                first_row, first_path, first_split = files[key]
                raise TaskDataError(f"{where}: {cell['path']} is the same file as {first_path} in row {first_row}"
                                    f"{both if first_split != split else f'; the same image twice in {split}'}")
            files[key] = (row_number, cell["path"], split)
            group = cell.get("group") or None
            rows.append((example_id, cell["label"], split, group, path, where))
        return rows

    # -- common checks ---------------------------------------------------------------------------------------

    def _build(self, rows: list[tuple[str, str, str, str | None, Path, str]]) -> None:
        first_place: dict[str, str] = {}  # class name -> where it first appears (its class folder, its first row)
        for _, label, _, _, _, where in rows:
            first_place.setdefault(label, where)
        check_normalisation(first_place.items())
        source = self.root / LABELS_CSV if (self.root / LABELS_CSV).is_file() else None
        for split in SPLITS:
            if not any(r[2] == split for r in rows):
                where = source if source is not None else self.root / split
                raise TaskDataError(f"{where}: no {split} images (extensions: {', '.join(sorted(IMAGE_EXTENSIONS))})")
        train_classes = {r[1] for r in rows if r[2] == "train"}
        for example_id, label, split, _, _, where in rows:
            if split == "test" and label not in train_classes:
                raise TaskDataError(f"{where}: class '{label}' has test images ({example_id}) but no train images")
        self._classes = sorted(train_classes)
        index = {name: i for i, name in enumerate(self._classes)}
        self.split_examples = {
            split: tuple(Example(id=example_id, label=index[label], group=group, source=str(path))
                         for example_id, label, s, group, path, _ in rows if s == split)
            for split in SPLITS
        }

    # -- the Task contract -----------------------------------------------------------------------------------

    @property
    def class_names(self) -> list[str]:
        return list(self._classes)
