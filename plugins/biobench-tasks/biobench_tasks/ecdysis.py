"""``tasks/ecdysis``: insect taxa of the Ecdysis Foundation's specimen images, trained on earlier collections.

**What it measures.** Recognition of insect taxa in photos of pinned specimens from the Ecdysis Foundation's
public collection (regenerative-agriculture field surveys), with a temporal shift: for every taxon the earliest
80% of the specimens (by visit date) are for training and the latest 20% for testing, as a deployed classifier
would meet next season's catch.

**Citation.** Ecdysis Foundation, public insect collection (https://bugbox.ecdysis.bio); task as in Stevens et
al., BioBench (github.com/samuelstevens/biobench).

**Data** (``--data ecdysis=DIR``; the source has no fixed download URL, so ``biobench data fetch tasks/ecdysis``
prints the manual steps)::

    DIR/metadata.csv     id, image_thumbnail_large, visit_date, gbif_class, gbif_order, gbif_family,
                         gbif_genus, gbif_species (other columns ignored)
    DIR/images/<basename of image_thumbnail_large>

Columns are read by name. ``image_thumbnail_large`` is a URL or a path; its last path component (query and
fragment dropped, not percent-decoded) names the image file in ``DIR/images``. Example ids are the ``id`` column.
The label is the taxonomy ``gbif_class|gbif_order|gbif_family|gbif_genus|gbif_species`` (an empty rank stays
empty, e.g. a specimen identified to genus only). Every image's existence is checked when the task is built.

Rows are checked when the task is built, each problem one :class:`~biobench_core.tasks.TaskDataError` line naming
``metadata.csv`` and the row: a missing column, an empty ``id``, a duplicate ``id``, a missing image, an empty or
unparseable ``visit_date``. Two kinds of rows are skipped, counted in one
:class:`~biobench_tasks._formats.DataWarning` each: an empty ``image_thumbnail_large`` (no image; BioBench skips
these too) and an empty taxonomy (all five ranks empty: no label).

**Dates.** ``visit_date`` accepts ISO 8601 (``2021-06-15``, ``2021-06-15 14:30``, ``2021-06-15T14:30:00Z``; anything
:meth:`datetime.datetime.fromisoformat` reads) and US ``MM/DD/YYYY`` with an optional ``HH:MM[:SS]``. A date with
a time-zone offset is converted to UTC; one without is taken as written. Anything else is an error naming the row.

**Protocol.** Per label, specimens are sorted by visit date (ties by ``id``, numerically when both are numbers)
and the earliest ``floor(0.8 n)`` go to train, the rest to test. A label with a single specimen goes to train only
(it has no test example; the probe can still predict it), where BioBench's ``int(0.8 * 1) = 0`` would put it in
test only, as a class the probe never saw; one warning counts these labels. Probe: the core's linear probe
(``logreg``, alias ``linear``: multinomial logistic regression, C by stratified cross-validation on the training
split). Metric: macro-F1. ``Evaluation.splits``: macro-F1 per taxonomic order (``order:<gbif_order>``; specimens
without an order have no group).

**Differences from the published BioBench protocol.** BioBench sorts the visit dates as strings (so ``6/9/2021``
sorts after ``10/1/2021``) and leaves ties in file order; here they are parsed dates, ties broken by ``id``.
Single-specimen labels are in train, not test (above). BioBench fits its own linear soft-max classifier (AdamW, no
hyper-parameter search); here it is the core's logistic regression with C chosen by cross-validation.
"""

from __future__ import annotations

import datetime as dt
import os
import posixpath
import warnings
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from biobench_core.data import DataRecipe
from biobench_core.specs import TaskSpec
from biobench_core.tasks import Example, Task, TaskDataError
from biobench_tasks._formats import DataWarning, FileIndex, class_index, read_table
from biobench_tasks.image_folder import load_rgb

if TYPE_CHECKING:
    from PIL import Image

__all__ = ["Ecdysis", "DATA", "parse_visit_date", "image_name", "TAXONOMY", "TRAIN_FRACTION"]

METADATA = "metadata.csv"
IMAGES = "images"
TAXONOMY = ("gbif_class", "gbif_order", "gbif_family", "gbif_genus", "gbif_species")
REQUIRED = ("id", "image_thumbnail_large", "visit_date", *TAXONOMY)
TRAIN_FRACTION = (4, 5)  # the earliest 4/5 of each label's specimens train
_US_FORMATS = ("%m/%d/%Y", "%m/%d/%Y %H:%M", "%m/%d/%Y %H:%M:%S")

DATA = DataRecipe(
    manual_steps="""\
The Ecdysis Foundation publishes its collection through a download page whose CSV link changes:
1. Open https://bugbox.ecdysis.bio/samples/collection-download/1 and download the linked .csv.zip file.
2. Unzip it into DIR and name the CSV inside DIR/metadata.csv (it may unzip as a file called 'zip').
3. For every row of metadata.csv, download the image at its public_url into DIR/images/, saved under the last
   path component of its image_thumbnail_large column. (BioBench's script, python -m biobench.ecdysis.download
   --dir DIR, does steps 1-3 but names each image after the last path component of public_url: rename the
   files where the two differ.)""",
    notes="Ecdysis Foundation public insect specimen images; no checksums are published.",
)


def parse_visit_date(text: str) -> dt.datetime | None:
    """The visit date as a naive datetime (UTC when the text has an offset), or ``None`` when it is not a date."""
    value = text.strip()
    parsed: dt.datetime | None = None
    try:
        parsed = dt.datetime.fromisoformat(value)
    except ValueError:
        for fmt in _US_FORMATS:
            try:
                parsed = dt.datetime.strptime(value, fmt)
                break
            except ValueError:
                continue
    if parsed is not None and parsed.tzinfo is not None:
        parsed = parsed.astimezone(dt.timezone.utc).replace(tzinfo=None)
    return parsed


def image_name(reference: str) -> str:
    """The image's file name: the last path component of a URL (query and fragment dropped) or of a path."""
    path = urlsplit(reference).path if "://" in reference else reference
    return posixpath.basename(path.replace("\\", "/"))


def _id_key(example_id: str) -> tuple[int, int, str]:
    return (0, int(example_id), example_id) if example_id.isdigit() else (1, 0, example_id)


class Ecdysis(Task):
    """``metadata.csv`` + ``images/``, an 80/20 temporal split per taxon; see the module docstring."""

    def __init__(self, spec: TaskSpec, data: str | Path | None = None, settings: dict[str, str] | None = None):
        super().__init__(spec, data, settings)
        assert self.data is not None  # spec.needs_data: the base class refuses a missing folder
        self.root = self.data.absolute()
        self._read()

    def _read(self) -> None:
        csv_path = self.root / METADATA
        rows = read_table(csv_path, REQUIRED)
        images = self.root / IMAGES
        if not images.is_dir():
            raise TaskDataError(f"{images}: missing folder: expected {IMAGES}/<basename of image_thumbnail_large>")
        files = FileIndex()
        seen: dict[str, str] = {}
        no_image: list[str] = []
        no_label: list[str] = []
        # (file position, id, label name, order, date, path)
        records: list[tuple[int, str, str, str, dt.datetime, str]] = []
        for row in rows:
            reference = row.get("image_thumbnail_large", "")
            ranks = [row.get(column, "") for column in TAXONOMY]
            if not reference:
                no_image.append(row.where)
                continue
            if not any(ranks):
                no_label.append(row.where)
                continue
            example_id = row.need("id")
            if example_id in seen:
                raise TaskDataError(f"{row.where}: duplicate id {example_id!r} (first in {seen[example_id]})")
            seen[example_id] = row.where
            text = row.need("visit_date")
            date = parse_visit_date(text)
            if date is None:
                raise TaskDataError(f"{row.where}: visit_date {text!r} is not a date (expected ISO 8601 such as "
                                    "2021-06-15 or 2021-06-15T14:30:00, or MM/DD/YYYY)")
            name = image_name(reference)
            if not name:
                raise TaskDataError(f"{row.where}: image_thumbnail_large {reference!r} names no file")
            path = os.path.join(images, name)
            if not files.exists(path):
                raise TaskDataError(f"{row.where}: image not found: {path} (from image_thumbnail_large {reference!r})")
            records.append((len(records), example_id, "|".join(ranks), row.get("gbif_order", ""), date, path))
        for skipped, why in ((no_image, "an empty image_thumbnail_large (no image)"),
                             (no_label, "an empty taxonomy (gbif_class to gbif_species all empty)")):
            if skipped:
                warnings.warn(f"{csv_path}: {len(skipped)} row{'s' * (len(skipped) != 1)} with {why} skipped "
                              f"(first: row {skipped[0].rsplit(' ', 1)[-1]})",
                              DataWarning, stacklevel=3)
        if not records:
            raise TaskDataError(f"{csv_path}: no usable rows")
        self._split(csv_path, records)

    def _split(self, csv_path: Path, records: list[tuple[int, str, str, str, dt.datetime, str]]) -> None:
        by_label: dict[str, list[tuple[int, str, str, str, dt.datetime, str]]] = {}
        for record in records:
            by_label.setdefault(record[2], []).append(record)
        in_train: set[int] = set()
        singles = []
        for label, members in by_label.items():
            members.sort(key=lambda r: (r[4], _id_key(r[1])))
            n = len(members)
            n_train = max(1, n * TRAIN_FRACTION[0] // TRAIN_FRACTION[1])
            if n == 1:
                singles.append(label)
            in_train.update(r[0] for r in members[:n_train])
        if singles:
            warnings.warn(f"{csv_path}: {len(singles)} label{'s' * (len(singles) != 1)} with a single specimen "
                          f"(e.g. {singles[0]}): in train only, no test example", DataWarning, stacklevel=4)
        self._classes = sorted(class_index(by_label))
        index = {name: i for i, name in enumerate(self._classes)}
        self.split_examples = {"train": [], "test": []}
        for position, example_id, label, order, _, path in records:
            example = Example(id=example_id, label=index[label], group=f"order:{order}" if order else None,
                              source=path)
            self.split_examples["train" if position in in_train else "test"].append(example)
        if not self.split_examples["test"]:
            raise TaskDataError(f"{csv_path}: no test examples: every label has a single specimen")

    # -- the Task contract -------------------------------------------------------------------------------------

    def load(self, example: Example) -> Image.Image:
        assert example.source is not None
        return load_rgb(example.source)

    @property
    def class_names(self) -> list[str]:
        return list(self._classes)
