"""The template's task: photos of insects visiting flowers at several field sites, listed in a CSV.

The data folder holds ``visits.csv`` and the images it names::

    visits.csv           image,pollinator,site,split
    images/...           image: a path relative to the folder; pollinator: the class, by name;
                         site: where it was taken (the report's sub-scores); split: train or test

A row per image. The classes are the pollinators of the train split, in sorted order; a test pollinator without a
training image is refused (a linear probe could never predict it). Every problem with the table is one
:class:`~biobench_core.TaskDataError` naming the file and the row, raised when the task is built, before any image
is decoded.
"""

from __future__ import annotations

import csv
from pathlib import Path

from biobench_core import Example, ImageFileTask, Setting, TaskDataError

__all__ = ["PollinatorVisits", "INDEX", "COLUMNS"]

#: The table, relative to the data folder.
INDEX = "visits.csv"
#: The columns it must have (others are ignored).
COLUMNS = ("image", "pollinator", "site", "split")


class PollinatorVisits(ImageFileTask):
    """``--data pollinator-visits=DIR``: train a probe on the train rows' photos, score it on the test rows'."""

    # --set max_per_site=N. Task.__init__ checks it (an integer >= 1) before read() runs and puts the converted
    # value, or the default, in self.settings["max_per_site"].
    settings_schema = {
        "max_per_site": Setting("use at most N training images from any one site, taken in turn from its "
                                "pollinators, so that one busy site does not drown the others",
                                type=int, default=100, minimum=1),
    }

    def read(self) -> None:
        path = self.root / INDEX
        rows = self._rows(path)
        self._names = sorted({pollinator for _, _, pollinator, _, split in rows if split == "train"})
        label = {name: i for i, name in enumerate(self._names)}
        splits: dict[str, list[Example]] = {"train": [], "test": []}
        for line, image, pollinator, site, split in rows:
            if pollinator not in label:
                raise TaskDataError(f"{path} row {line}: pollinator {pollinator!r} has no training image "
                                    f"(the classes are the train split's: {', '.join(self._names)})")
            splits[split].append(Example(id=image, label=label[pollinator], group=site,
                                         source=str(self.root / image)))
        self.split_examples = {"train": self._cap_per_site(splits["train"]), "test": splits["test"]}

    def _rows(self, path: Path) -> list[tuple[int, str, str, str, str]]:
        """``(line, image, pollinator, site, split)`` for each row of the table; a bad row is one line naming it."""
        try:
            with open(path, newline="", encoding="utf-8-sig") as f:
                reader = csv.DictReader(f)
                missing = [c for c in COLUMNS if c not in (reader.fieldnames or [])]
                if missing:
                    raise TaskDataError(f"{path}: missing column {missing[0]!r} (the header must name "
                                        f"{', '.join(COLUMNS)}; it is {','.join(reader.fieldnames or [])!r})")
                records = [(reader.line_num, record) for record in reader]
        except FileNotFoundError:
            raise TaskDataError(f"{self.spec.id}: {path} not found: the data folder must hold {INDEX}") from None
        except (OSError, UnicodeDecodeError, csv.Error) as exc:
            raise TaskDataError(f"{path}: cannot read: {type(exc).__name__}: {exc}") from None
        rows, seen = [], {}
        for line, record in records:
            cells = {c: (record.get(c) or "").strip() for c in COLUMNS}
            empty = [c for c in COLUMNS if not cells[c]]
            if empty:
                raise TaskDataError(f"{path} row {line}: empty {empty[0]!r}")
            if cells["split"] not in ("train", "test"):
                raise TaskDataError(f"{path} row {line}: split {cells['split']!r}: expected train or test")
            if cells["image"] in seen:
                raise TaskDataError(f"{path} row {line}: image {cells['image']!r} is listed twice (first on row "
                                    f"{seen[cells['image']]})")
            seen[cells["image"]] = line
            if not (self.root / cells["image"]).is_file():
                raise TaskDataError(f"{path} row {line}: image {cells['image']!r} not found under {self.root}")
            rows.append((line, cells["image"], cells["pollinator"], cells["site"], cells["split"]))
        return rows

    def _cap_per_site(self, examples: list[Example]) -> list[Example]:
        """At most ``max_per_site`` examples from each site, taken in turn from its pollinators (each one's first
        images by path), so that a cap keeps every pollinator a site has; in the table's order."""
        cap = self.settings["max_per_site"]  # an int: typed settings arrive converted, the default filled in
        by_site: dict[str | None, dict[int, list[str]]] = {}
        for ex in examples:
            by_site.setdefault(ex.group, {}).setdefault(ex.label, []).append(ex.id)
        kept = set()
        for by_label in by_site.values():
            queues = [sorted(images) for _, images in sorted(by_label.items())]
            in_turn = [queue[rank] for rank in range(max(map(len, queues))) for queue in queues if rank < len(queue)]
            kept.update(in_turn[:cap])
        return [ex for ex in examples if ex.id in kept]

    @property
    def class_names(self) -> list[str]:
        """The pollinators, by label: the report and the stored predictions show these names."""
        return self._names
