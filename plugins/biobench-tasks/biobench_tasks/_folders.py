"""A base class for tasks whose data is one folder of class folders per split (``<split>/<class>/<image>``).

Shared by ``herbarium19``, ``plantnet``, ``plankton`` and ``inat21``. A subclass names the folders of its train
and test splits (each with alternatives tried in order, e.g. the name an archive unpacks to) and may override how
example ids are made (:meth:`~ClassFolderTask.example_ids`) and each class's group
(:meth:`~ClassFolderTask.class_group`). What it guarantees:

* One class map, by class-folder name, over both splits (:func:`~biobench_tasks._formats.class_index`), so a test
  split that holds only some of the classes keeps the train split's labels (a per-split ``sorted(os.listdir)``
  would shift them).
* A missing split folder, a split without images, a test class without train images, two images with one id, or
  two class folders whose names differ only by Unicode normalisation (NFC and NFD) is one
  :class:`~biobench_core.TaskDataError` line naming the folders or files, raised when the task is built. An empty
  class folder is skipped with a :class:`~biobench_tasks._formats.DataWarning` naming it, and so are files that
  are not images by extension, counted.
* Images are found by listing the folders, so each one exists when the task is built; it is decoded to 8-bit RGB
  (:func:`biobench_core.load_rgb`) when loaded.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from itertools import repeat
from pathlib import Path
from typing import ClassVar

from biobench_core import SPLITS, Example, ImageFileTask, TaskDataError
from biobench_tasks._formats import IMAGE_EXTENSIONS, check_normalisation, class_index, scan_class_folders

__all__ = ["ClassFolderTask"]


class ClassFolderTask(ImageFileTask):
    """``<root>/<train folder>/<class>/<image>`` and ``<root>/<test folder>/<class>/<image>``; see the module."""

    #: split -> the folder names (relative to :attr:`root`) tried in order; the first that exists is used.
    folders: ClassVar[dict[str, Sequence[str]]] = {"train": ("train",), "test": ("val",)}
    #: What the error for a missing split folder adds after the expected layout (e.g. where the data comes from).
    missing_hint: ClassVar[str] = ""
    extensions: ClassVar[frozenset[str]] = IMAGE_EXTENSIONS

    # -- what subclasses may override (and :meth:`resolve_root`: the folder the split folders are in) -------------

    def split_folders(self) -> dict[str, Sequence[str]]:
        """:attr:`folders`, or a choice that depends on the task's settings."""
        return self.folders

    def example_ids(self, split: str, class_name: str, paths: list[str]) -> list[str]:
        """The ids of a class folder's images (``paths``, strings): their paths relative to :attr:`root`
        (``train/<class>/<file>``, with ``/``) by default."""
        start = len(os.path.join(self.root, ""))
        if os.sep == "/":
            return [path[start:] for path in paths]
        return [path[start:].replace(os.sep, "/") for path in paths]

    def class_group(self, class_name: str) -> str | None:
        """The group (for ``Evaluation.splits``) of every example of a class; ``None`` (no group splits) by
        default."""
        return None

    # -- building ----------------------------------------------------------------------------------------------

    def _folder(self, split: str, names: Sequence[str]) -> Path:
        for name in names:
            if (self.root / name).is_dir():
                return self.root / name
        first = names[0]
        others = f" (or {', '.join(n + '/' for n in names[1:])})" if len(names) > 1 else ""
        hint = f"; {self.missing_hint}" if self.missing_hint else ""
        raise TaskDataError(f"{self.root / first}: missing folder: expected {first}/<class>/<image>{others}{hint}")

    def read(self) -> None:
        dirs = {split: self._folder(split, names) for split, names in self.split_folders().items()}
        found = {split: scan_class_folders(folder, extensions=self.extensions) for split, folder in dirs.items()}
        self.split_dirs = dirs
        check_normalisation((name, str(dirs[split] / name)) for split, classes in found.items() for name, _ in classes)
        self._classes = sorted(class_index(name for classes in found.values() for name, _ in classes))
        train_classes = {name for name, _ in found["train"]}
        for split in SPLITS:
            if split == "train":
                continue
            unseen = {name: len(paths) for name, paths in found[split] if name not in train_classes}
            if unseen:
                name, count = next(iter(unseen.items()))
                more = f" ({len(unseen) - 1} more such classes)" if len(unseen) > 1 else ""
                raise TaskDataError(f"{dirs[split] / name}: class '{name}' has {count} image{'s' * (count != 1)} "
                                    f"but no images in {dirs['train'] / name}{more}")
        index = {name: i for i, name in enumerate(self._classes)}
        seen: dict[str, str] = {}  # example id -> its image
        self.split_examples = {}
        for split in SPLITS:
            examples: list[Example] = []
            for name, paths in found[split]:
                ids = self.example_ids(split, name, paths)
                size = len(seen)
                seen.update(zip(ids, paths))
                if len(seen) != size + len(paths):
                    _raise_duplicate(self, found)
                examples += map(Example, ids, repeat(index[name], len(ids)), repeat(self.class_group(name), len(ids)),
                                paths)
            self.split_examples[split] = tuple(examples)

    # -- the Task contract -------------------------------------------------------------------------------------

    @property
    def class_names(self) -> list[str]:
        return list(self._classes)


def _raise_duplicate(task: ClassFolderTask, found: dict[str, list[tuple[str, list[str]]]]) -> None:
    """The error for the first image whose id an earlier image has (in the order the examples are built)."""
    seen: dict[str, str] = {}
    for split in SPLITS:
        for name, paths in found[split]:
            for example_id, path in zip(task.example_ids(split, name, paths), paths):
                if example_id in seen:
                    raise TaskDataError(f"{path}: duplicate image id '{example_id}' (also {seen[example_id]})")
                seen[example_id] = path
    raise AssertionError("no duplicate id found")  # pragma: no cover - called only when there is one
