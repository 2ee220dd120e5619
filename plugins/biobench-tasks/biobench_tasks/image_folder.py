"""``tasks/image-folder``: a classification task over a folder of the user's own images.

Two layouts, paths relative to the data folder ``DIR``::

    DIR/train/<class>/<image>          DIR/labels.csv: path,label,split[,group]
    DIR/test/<class>/<image>

``labels.csv`` wins when both are present. Ids are the relative paths (``train/cat/001.jpg``); classes are
sorted by name to give label indices. Every problem with the data is a one-line :class:`TaskDataError` that
names the file, folder, row or column, raised when the task is built (a corrupt image, when it is loaded).
"""

from __future__ import annotations

import csv
import os
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING

from biobench_core.specs import TaskSpec
from biobench_core.tasks import SPLITS, Example, Task, TaskDataError

if TYPE_CHECKING:
    from PIL import Image

__all__ = ["ImageFolderTask", "IMAGE_EXTENSIONS", "load_rgb"]

IMAGE_EXTENSIONS = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".ppm", ".pgm"})
LABELS_CSV = "labels.csv"
REQUIRED_COLUMNS = ("path", "label", "split")


def _is_image(path: Path) -> bool:
    return path.suffix.lower() in IMAGE_EXTENSIONS and not path.name.startswith(".")


def load_rgb(path: str | Path) -> Image.Image:
    """Decode ``path`` fully, upright (EXIF orientation applied) and in RGB; failures name the file."""
    from PIL import Image, ImageOps

    try:
        with Image.open(path) as img:
            img.load()  # decode now, so a truncated file fails here and not later in a worker
            try:
                img = ImageOps.exif_transpose(img)
            except Exception:  # noqa: BLE001 - a broken EXIF block must not lose an otherwise good image
                pass
            return img.convert("RGB")
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as exc:
        raise TaskDataError(f"{path}: cannot decode image: {type(exc).__name__}: {exc}") from exc


class ImageFolderTask(Task):
    """Images of ``DIR/{train,test}/<class>/`` or listed in ``DIR/labels.csv``; see the module docstring."""

    def __init__(self, spec: TaskSpec, data: str | Path | None = None, settings: dict[str, str] | None = None):
        super().__init__(spec, data, settings)
        assert self.data is not None  # the base class refuses a missing folder (spec.needs_data)
        self.root = self.data.absolute()
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
        return rows

    def _read_csv(self, csv_path: Path) -> list[tuple[str, str, str, str | None, Path, str]]:
        try:
            with open(csv_path, newline="", encoding="utf-8-sig") as f:
                reader = csv.reader(f)
                header = next(reader, None)
                if header is None:
                    raise TaskDataError(f"{csv_path}: empty file: expected a header line path,label,split[,group]")
                columns = {name.strip().lower(): i for i, name in enumerate(header)}
                for column in REQUIRED_COLUMNS:
                    if column not in columns:
                        raise TaskDataError(f"{csv_path}: missing column '{column}' (header is {','.join(header)}; "
                                            f"expected path,label,split[,group])")
                records = list(enumerate(reader, start=1))
        except (OSError, UnicodeDecodeError, csv.Error) as exc:
            raise TaskDataError(f"{csv_path}: cannot read: {type(exc).__name__}: {exc}") from exc

        rows = []
        seen: dict[str, int] = {}
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
            if example_id in seen:
                raise TaskDataError(f"{where}: duplicate path {cell['path']} (first listed in row {seen[example_id]})")
            seen[example_id] = row_number
            path = self.root / example_id
            if not path.is_file():
                raise TaskDataError(f"{where}: file not found: {path}")
            group = cell.get("group") or None
            rows.append((example_id, cell["label"], split, group, path, where))
        return rows

    # -- common checks ---------------------------------------------------------------------------------------

    def _build(self, rows: list[tuple[str, str, str, str | None, Path, str]]) -> None:
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

    def load(self, example: Example) -> Image.Image:
        return load_rgb(example.source if example.source is not None else self.root / example.id)

    @property
    def class_names(self) -> list[str]:
        return list(self._classes)
