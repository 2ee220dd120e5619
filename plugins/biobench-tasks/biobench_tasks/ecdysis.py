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

Rows are checked when the task is built, each problem one :class:`~biobench_core.TaskDataError` line naming
``metadata.csv`` and the row: a missing column, an empty ``id``, a duplicate ``id``, a missing image, an empty or
unparseable ``visit_date``. Two kinds of rows are skipped, counted in one
:class:`~biobench_tasks._formats.DataWarning` each: an empty ``image_thumbnail_large`` (no image; BioBench skips
these too) and an empty taxonomy (all five ranks empty: no label).

**Dates.** ``visit_date`` accepts ISO 8601 (``2021-06-15``, ``2021-06-15 14:30``, ``2021-06-15T14:30:00Z``; anything
:meth:`datetime.datetime.fromisoformat` reads) and US ``MM/DD/YYYY`` with an optional ``HH:MM[:SS]``. A date with
a time-zone offset is converted to UTC; one without is taken as written. Anything else is an error naming the row.

**Protocol.** Per label, specimens are sorted by visit date (ties by ``id``, numerically when both are numbers)
and the earliest ``floor(0.8 n)`` go to train, the rest to test. A label with a single specimen goes to train only (it
has no test example; the probe can still predict it), where BioBench's ``int(0.8 * 1) = 0`` would put it in test only,
as a class the probe never saw; one warning counts these labels. Probe: the core's linear probe (``logreg``, alias
``linear``: multinomial logistic regression, C by stratified cross-validation on the training split). Metric: macro-F1
over every taxon of the task, one absent from the truth and the predictions scoring 0 (``macro-f1-all``, BioBench's
convention; a single-specimen taxon, in train only, has no test example and so counts 0, as in BioBench, where it is a
test class the probe never saw). ``Evaluation.splits``: that macro-F1 per taxonomic order (``order:<gbif_order>``;
specimens without an order have no group).

**Differences from the published BioBench protocol.** BioBench sorts the visit dates as strings (so ``6/9/2021``
sorts after ``10/1/2021``) and leaves ties in file order; here they are parsed dates, ties broken by ``id``.
Single-specimen labels are in train, not test (above). BioBench fits its own linear soft-max classifier (AdamW, no
hyper-parameter search); here it is the core's logistic regression with C chosen by cross-validation.
"""

from __future__ import annotations

import datetime as dt
import operator
import os
import warnings
from collections.abc import Sequence
from itertools import compress
from pathlib import Path
from urllib.parse import urlsplit

from biobench_core import DataRecipe, Example, ImageFileTask, TaskDataError
from biobench_tasks._formats import DataWarning, FileIndex, Table, class_index, read_columns

__all__ = ["Ecdysis", "DATA", "parse_visit_date", "image_name", "image_names", "TAXONOMY", "TRAIN_FRACTION"]

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
    path = path.replace("\\", "/")
    return path[path.rfind("/") + 1:]


def image_names(references: list[str]) -> list[str]:
    """``[image_name(r) for r in references]``, without parsing each URL where none needs it.

    ``urlsplit`` splits off a query (``?``) or fragment (``#``), removes tabs and newlines, checks the host (``[``,
    ``]``, non-ASCII) and strips leading control characters; where none of these can occur, the path of an
    ``http(s)://`` URL is what follows the host, so its last component is what follows the last ``/`` if a ``/``
    follows the host (more than the two of ``://``), and is empty otherwise.
    """
    # Most often every URL is one folder's: the common prefix up to its last "/" is checked once (an empty cell's
    # name is empty either way).
    prefix = os.path.commonprefix(list(filter(None, references)))
    cut = prefix.rfind("/") + 1
    head = prefix[:cut]
    if (head.startswith(("https://", "http://")) and head.count("/") > 2 and head.isascii() and head.isprintable()
            and not any(c in head for c in "?#[]\\")):
        names = [reference[cut:] for reference in references]
        tails = "".join(names)
        if not any(c in tails for c in "/\\?#\t\r\n"):
            return names
    blob = "".join(references)
    if not (blob.isascii() and blob.isprintable()) or any(c in blob for c in "?#[]\\"):
        return [image_name(r) for r in references]
    web = ("https://", "http://")
    return [(r[r.rfind("/") + 1:] if r.count("/") > 2 else "") if r.startswith(web) else image_name(r)
            for r in references]


def _id_key(example_id: str) -> tuple[int, int, str]:
    return (0, int(example_id), example_id) if example_id.isdigit() else (1, 0, example_id)


class Ecdysis(ImageFileTask):
    """``metadata.csv`` + ``images/``, an 80/20 temporal split per taxon; see the module docstring."""

    def read(self) -> None:
        csv_path = self.root / METADATA
        table = read_columns(csv_path, REQUIRED)
        images = self.root / IMAGES
        if not images.is_dir():
            raise TaskDataError(f"{images}: missing folder: expected {IMAGES}/<basename of image_thumbnail_large>")
        present = FileIndex().names(images)
        ids, references = table.column("id"), table.column("image_thumbnail_large")
        names = image_names(references)
        texts = table.column("visit_date")
        ranks_of = list(zip(*(table.column(column) for column in TAXONOMY)))
        unranked = ("",) * len(TAXONOMY)
        by_label: dict[tuple[str, ...], list[int]] = {}  # taxonomy cells -> the row indices of its specimens
        date_of: list[dt.datetime | None] = [None] * len(ids)  # row index -> visit date (usable rows)
        # Rows without an image or a taxonomy are skipped; the others must have an id of their own, a date and an
        # image. Checked column-wise first: when nothing is wrong, the row-by-row checks (which name the first bad
        # row) have nothing to find.
        no_image = [] if all(references) else [i for i, reference in enumerate(references) if not reference]
        no_label = [] if unranked not in ranks_of else [
            i for i, (reference, ranks) in enumerate(zip(references, ranks_of)) if reference and ranks == unranked]
        kept: Sequence[int] = range(len(ids))  # the usable rows' indices, in file order
        kept_ids, kept_texts, kept_names = ids, texts, names
        if no_image or no_label:
            skipped = {*no_image, *no_label}
            kept = [i for i in kept if i not in skipped]
            kept_ids, kept_texts, kept_names = ([column[i] for i in kept] for column in (ids, texts, names))
        fine = all(kept_ids) and len(set(kept_ids)) == len(kept_ids) and present.issuperset(kept_names)
        if fine:
            try:
                dates = {text: parse_visit_date(text) if text else None for text in set(kept_texts)}
            except (OverflowError, ValueError):  # left to the row-by-row checks, which meet it in file order
                fine = False
            else:
                fine = None not in dates.values()
        if fine:
            for i in kept:
                ranks = ranks_of[i]
                members = by_label.get(ranks)
                if members is None:
                    by_label[ranks] = [i]
                else:
                    members.append(i)
            date_of = list(map(dates.get, texts))
        else:
            self._check_rows(table, images, present, names, ranks_of, by_label, date_of)
        for skipped, why in ((no_image, "an empty image_thumbnail_large (no image)"),
                             (no_label, "an empty taxonomy (gbif_class to gbif_species all empty)")):
            if skipped:
                warnings.warn(f"{csv_path}: {len(skipped)} row{'s' * (len(skipped) != 1)} with {why} skipped "
                              f"(first: row {table.lines[skipped[0]]})",
                              DataWarning, stacklevel=3)
        if not kept:
            raise TaskDataError(f"{csv_path}: no usable rows")
        in_train = self._split(csv_path, by_label, date_of, ids)
        names_of = {ranks: "|".join(ranks) for ranks in by_label}
        self._classes = sorted(class_index(names_of.values()))
        index = {name: i for i, name in enumerate(self._classes)}
        labels = {ranks: index[name] for ranks, name in names_of.items()}
        order = TAXONOMY.index("gbif_order")
        groups = {ranks: f"order:{ranks[order]}" if ranks[order] else None for ranks in by_label}
        # The examples of the kept rows in file order, built column-wise (no Python loop but Example's own).
        kept_ranks = list(map(ranks_of.__getitem__, kept))
        examples = list(map(Example, map(ids.__getitem__, kept), map(labels.__getitem__, kept_ranks),
                            map(groups.__getitem__, kept_ranks),
                            map(os.path.join(images, "").__add__, map(names.__getitem__, kept))))
        trains = list(map(in_train.__contains__, kept))
        train = list(compress(examples, trains))
        test = list(compress(examples, map(operator.not_, trains)))
        self.split_examples = {"train": train, "test": test}
        if not test:
            raise TaskDataError(f"{csv_path}: no test examples: every label has a single specimen")

    def _check_rows(self, table: Table, images: Path, present: frozenset[str], names: list[str],
                    ranks_of: list[tuple[str, ...]], by_label: dict[tuple[str, ...], list[int]],
                    date_of: list[dt.datetime | None]) -> None:
        """Check the usable rows one by one, in file order, raising the first bad row's error (``_read`` calls this
        when a column-wise check found something); fill ``by_label`` and ``date_of``."""
        seen: dict[str, int] = {}  # id -> the row index it was first listed in
        parsed: dict[str, dt.datetime | None] = {}  # visit_date text -> its date
        columns = zip(table.column("id"), table.column("image_thumbnail_large"), table.column("visit_date"),
                      ranks_of, names)
        for i, (example_id, reference, text, ranks, name) in enumerate(columns):
            if not reference or not any(ranks):
                continue  # skipped (counted by _read)
            if not example_id:
                raise TaskDataError(f"{table.where(i)}: empty 'id'")
            if example_id in seen:
                raise TaskDataError(f"{table.where(i)}: duplicate id {example_id!r} (first in "
                                    f"{table.where(seen[example_id])})")
            seen[example_id] = i
            if not text:
                raise TaskDataError(f"{table.where(i)}: empty 'visit_date'")
            if text not in parsed:
                parsed[text] = parse_visit_date(text)
            date = date_of[i] = parsed[text]
            if date is None:
                raise TaskDataError(f"{table.where(i)}: visit_date {text!r} is not a date (expected ISO 8601 such as "
                                    "2021-06-15 or 2021-06-15T14:30:00, or MM/DD/YYYY)")
            if not name:
                raise TaskDataError(f"{table.where(i)}: image_thumbnail_large {reference!r} names no file")
            if name not in present:
                raise TaskDataError(f"{table.where(i)}: image not found: {os.path.join(images, name)} (from "
                                    f"image_thumbnail_large {reference!r})")
            by_label.setdefault(ranks, []).append(i)

    def _split(self, csv_path: Path, by_label: dict[tuple[str, ...], list[int]], date_of: list, ids: list[str],
               ) -> set[int]:
        """The rows that train: per label, the earliest :data:`TRAIN_FRACTION` of its specimens (at least one), by
        visit date, ties by id (numerically when both are numbers)."""
        in_train: set[int] = set()
        singles = []
        by_date = date_of.__getitem__
        for ranks, members in by_label.items():
            n = len(members)
            if n == 1:
                singles.append(ranks)
                in_train.add(members[0])
                continue
            members.sort(key=by_date)
            k = max(1, n * TRAIN_FRACTION[0] // TRAIN_FRACTION[1])
            if k < n and date_of[members[k - 1]] == date_of[members[k]]:
                # Specimens of one date on both sides of the cut: which of them train is decided by id.
                date = date_of[members[k]]
                lo = k - 1
                while lo > 0 and date_of[members[lo - 1]] == date:
                    lo -= 1
                hi = k + 1
                while hi < n and date_of[members[hi]] == date:
                    hi += 1
                members[lo:hi] = sorted(members[lo:hi], key=lambda i: _id_key(ids[i]))
            in_train.update(members[:k])
        if singles:
            warnings.warn(f"{csv_path}: {len(singles)} label{'s' * (len(singles) != 1)} with a single specimen "
                          f"(e.g. {'|'.join(singles[0])}): in train only, no test example", DataWarning, stacklevel=4)
        return in_train

    # -- the Task contract -------------------------------------------------------------------------------------

    @property
    def class_names(self) -> list[str]:
        return list(self._classes)
