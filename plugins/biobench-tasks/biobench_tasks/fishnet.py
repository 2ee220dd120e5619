"""``tasks/fishnet``: FishNet functional-trait prediction, nine binary traits of fish from one photo.

**What it measures.** Whether frozen features carry ecological information about a fish beyond its identity:
from one image (in-situ iNaturalist photos and FishBase specimen pictures), predict its feeding path (pelagic or
benthic), its climate zones (tropical, temperate, subtropical, boreal, polar) and its waters (freshwater,
saltwater, brackish).

**Citation.** Khan, Li, Temple, Elhoseiny. *FishNet: A Large-scale Dataset and Benchmark for Fish Recognition,
Detection, and Functional Trait Prediction.* ICCV 2023. https://github.com/faixan-khan/FishNet

**Data** (``--data fishnet=DIR``; ``biobench data fetch tasks/fishnet --to DIR`` downloads the two CSVs from the
FishNet repository; the 5.4 GB image archive is on Google Drive and is a manual step)::

    DIR/train.csv, DIR/test.csv    two unnamed index columns, then species, image, ..., Folder, Troph,
                                   FeedingPath (pelagic/benthic), Tropical, Temperate, Subtropical, Boreal, Polar,
                                   freshwater, saltwater, brackish (0/1), ...
    DIR/Image_Library/<Folder>/<file name of image>

Columns are read by name. ``image`` may be a file name or a URL (FishBase pictures): its last path component is
the file name, and the example id. A row with any of the nine traits empty is dropped (a warning counts them per
file: 886 of test.csv's 18,901 rows); any other value than pelagic/benthic or 0/1 is an error naming the row.
A file listed twice in one split is kept once (a warning counts them); a file in both splits is a warning.
Every image's existence is checked when the task is built.

**Protocol.** One probe per trait, fitted on the training images' features: the core's ``logreg`` (binary
logistic regression on standardised features, C by stratified cross-validation on the training split);
``--set probe=...`` picks another. A trait whose training labels are all one value predicts that value.

**Metric.** ``mean-trait-macro-f1`` (:func:`mean_trait_macro_f1`): for each trait, macro-F1 over both of its
classes, 0 and 1, a class absent from the truth and the predictions scoring 0 (BioBench's convention, the core's
``macro-f1-all`` with two classes: ``f1_score(average="macro", labels=[0, 1], zero_division=0)``), then the mean over
the nine traits. An example's label and prediction are its nine 0/1 traits packed into one integer (bit ``i`` is trait
``i`` of :data:`TRAITS`; FeedingPath is bit 0, pelagic = 1), so the bootstrap resamples images with all nine traits
together. A prediction of -1 (image not scored) is a miss for each of its nine traits' true class, and no class's
prediction (it is not a third class: one unreadable image would otherwise cost every trait a third of its score).
``Evaluation.splits``: each trait's macro-F1 as ``trait:<name>``. The per-example score is the fraction of its nine
traits predicted correctly.

**n_train.** ``--set n_train=N`` balances the subsample over FeedingPath (pelagic/benthic), the one trait that is
not a habitat flag and the most balanced one; the habitat traits keep roughly their training frequencies.

**Differences from the published BioBench protocol.** BioBench fits one two-layer "MLP" for all nine traits
(its two linear layers have no nonlinearity between them, so it is a linear model) with binary cross-entropy and
Adam, whose step-decayed learning rate reaches zero after a few hundred of its 30,000 steps; here each trait has
its own probe with a searched regularisation. BioBench reads the CSV columns by position, draws ``n_train`` rows
uniformly at random, and its bootstrap resamples each trait separately (a different draw per trait). Its
macro-F1 averages over every class index up to the largest seen, counting a class absent from both truth and
prediction as 0: both classes of every trait, as here. Here columns are read by name and the bootstrap draws whole
images.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path, PurePosixPath
from typing import Any

import numpy as np

from biobench_core import DataRecipe, Download, Evaluation, Example, ImageFileTask, SplitFeatures, TaskDataError
from biobench_tasks._formats import DataWarning, FileIndex, Table, read_columns

__all__ = ["FishNet", "DATA", "TRAITS", "encode", "decode", "mean_trait_macro_f1",
           "mean_trait_macro_f1_replicates", "trait_macro_f1"]

#: The nine traits, in bit order: an example's label is ``sum(trait_i << i)``.
TRAITS = ("FeedingPath", "Tropical", "Temperate", "Subtropical", "Boreal", "Polar", "freshwater", "saltwater",
          "brackish")
FEEDING = {"pelagic": 1, "benthic": 0}
IMAGES = "Image_Library"
FILES = {"train": "train.csv", "test": "test.csv"}
NO_PREDICTION = -1  # each trait of an example predicted -1: not scored (a miss, never a class)

_ANNS = "https://raw.githubusercontent.com/faixan-khan/FishNet/refs/heads/main/anns"
DATA = DataRecipe(
    downloads=(Download(f"{_ANNS}/train.csv", "train.csv"), Download(f"{_ANNS}/test.csv", "test.csv")),
    manual_steps=(
        "FishNet's images are a 5.4 GB zip on Google Drive, which needs a browser to confirm the download:\n"
        "  1. open https://drive.google.com/file/d/1mqLoap9QIVGYaPJ7T_KSBfLxJOg2yFY3/view and click Download\n"
        "     (or: pip install gdown; gdown 1mqLoap9QIVGYaPJ7T_KSBfLxJOg2yFY3 -O fishnet.zip)\n"
        "  2. unzip it into the data folder, so that DIR/Image_Library/<Folder>/<image>.jpg exist\n"
        "  3. run `biobench data check tasks/fishnet DIR`"),
    notes="train.csv and test.csv come from the FishNet repository (no checksums published).",
)


def encode(bits: np.ndarray) -> np.ndarray:
    """(n, 9) 0/1 traits -> (n,) labels, bit ``i`` = trait ``i``."""
    bits = np.asarray(bits, dtype=np.int64)
    return (bits << np.arange(len(TRAITS), dtype=np.int64)).sum(axis=1)


def decode(labels: np.ndarray) -> np.ndarray:
    """(n,) labels -> (n, 9) traits in {0, 1}; a label of -1 (no prediction) gives :data:`NO_PREDICTION` (-1)."""
    labels = np.asarray(labels, dtype=np.int64)
    bits = (labels[:, None] >> np.arange(len(TRAITS), dtype=np.int64)) & 1
    return np.where(labels[:, None] < 0, NO_PREDICTION, bits)


class FishNet(ImageFileTask):
    """FishNet's nine binary functional traits, one probe per trait; see the module docstring."""

    # Its per-trait probes are built without the task's class weights or metric-scored search (the trait metric
    # is not computable per trait): refused, never silently ignored.
    settings_schema = {"class_weight": None}

    def read(self) -> None:
        self.split_examples = {split: self._read(self.root / name) for split, name in FILES.items()}
        both = {ex.id for ex in self.split_examples["train"]} & {ex.id for ex in self.split_examples["test"]}
        if both:
            warnings.warn(f"{self.root}: {len(both)} images are listed in both train.csv and test.csv "
                          f"(e.g. {min(both)})", DataWarning, stacklevel=3)

    def _read(self, csv_path: Path) -> tuple[Example, ...]:
        table = read_columns(csv_path, ("image", "Folder", *TRAITS))
        images = self.root / IMAGES
        if not images.is_dir():
            raise TaskDataError(f"{images}: missing folder: expected {IMAGES}/<Folder>/<image>")
        files = FileIndex()
        folders: dict[str, tuple[str, frozenset[str]]] = {}  # Folder -> (its path + separator, its file names)
        labels: dict[tuple[str, ...], int] = {}  # the nine trait cells -> label (-1: a trait is empty, dropped)
        examples: list[Example] = []
        seen: set[str] = set()
        dropped = repeated = 0
        traits_of = zip(*(table.column(trait) for trait in TRAITS))
        for i, (image, folder, traits) in enumerate(zip(table.column("image"), table.column("Folder"), traits_of)):
            label = labels.get(traits)
            if label is None:
                label = labels[traits] = _label(traits, table, i)
            if label < 0:
                dropped += 1
                continue
            if not image or not folder:
                raise TaskDataError(f"{table.where(i)}: empty {table.empty(i, ('image', 'Folder'))!r}")
            name = image.replace("\\", "/").rpartition("/")[2]
            if not name or name == ".":  # pathlib's rules for what is left
                name = PurePosixPath(image.replace("\\", "/")).name
                if not name:
                    raise TaskDataError(f"{table.where(i)}: image {image!r} has no file name")
            if name in seen:
                repeated += 1
                continue
            seen.add(name)
            known = folders.get(folder)
            if known is None:
                path = images / folder
                known = folders[folder] = (os.path.join(path, ""), files.names(path))
            if name not in known[1]:
                raise TaskDataError(f"{table.where(i)}: image not found: {images / folder / name}")
            examples.append(Example(name, label, None, known[0] + name))
        if dropped:
            warnings.warn(f"{csv_path}: {dropped} rows with a missing trait dropped", DataWarning, stacklevel=4)
        if repeated:
            warnings.warn(f"{csv_path}: {repeated} rows repeat an image listed earlier in the file; kept once",
                          DataWarning, stacklevel=4)
        if not examples:
            raise TaskDataError(f"{csv_path}: no rows with all nine traits ({', '.join(TRAITS)})")
        return tuple(examples)

    # -- the Task contract -----------------------------------------------------------------------------------

    def stratum(self, example: Example) -> object:
        return example.label & 1  # FeedingPath: pelagic 1, benthic 0

    def evaluate(self, train: SplitFeatures, test: SplitFeatures, *, device: str = "cpu") -> Evaluation:
        from biobench_core import make_probe

        bits_train, bits_test = decode(train.labels), decode(test.labels)
        pred_bits = np.empty_like(bits_test)
        probes: dict[str, Any] = {}
        for i, trait in enumerate(TRAITS):
            values = np.unique(bits_train[:, i])
            if len(values) == 1:
                pred_bits[:, i] = values[0]
                probes[trait] = {"probe": "constant", "value": int(values[0])}
                continue
            probe = make_probe(self.probe, device=device, seed=self.seed)
            probe.fit(train.features, bits_train[:, i])
            pred_bits[:, i] = np.asarray(probe.predict(test.features))
            probes[trait] = probe.describe()
        y_test, pred = test.labels, encode(pred_bits)
        examples = []
        for ex, y, p, truth, guess in zip(test.examples, y_test, pred, bits_test, pred_bits, strict=True):
            wrong = [trait for trait, a, b in zip(TRAITS, truth, guess, strict=True) if a != b]
            examples.append((ex.id, 1.0 - len(wrong) / len(TRAITS), {"label": int(y), "pred": int(p), "wrong": wrong}))
        splits = {f"trait:{trait}": trait_macro_f1(y_test, pred, trait) for trait in TRAITS}
        return Evaluation(examples=examples, splits=splits, probe={"probe": self.probe, "traits": probes})


def _label(cells: tuple[str, ...], table: Table, index: int) -> int:
    """The label of the nine trait ``cells`` of row ``index`` (``sum(trait_i << i)``), -1 when one is empty."""
    if not all(cells):
        return -1
    return sum(_trait(cell, trait, table, index) << i for i, (cell, trait) in enumerate(zip(cells, TRAITS)))


def _trait(cell: str, trait: str, table: Table, index: int) -> int:
    if trait == "FeedingPath":
        if cell.lower() not in FEEDING:
            raise TaskDataError(f"{table.where(index)}: FeedingPath {cell!r} is not pelagic or benthic")
        return FEEDING[cell.lower()]
    try:
        value = float(cell)
    except ValueError:
        value = float("nan")
    if value not in (0.0, 1.0):
        raise TaskDataError(f"{table.where(index)}: {trait} {cell!r} is not 0 or 1")
    return int(value)


# -- the metric ------------------------------------------------------------------------------------------------


def mean_trait_macro_f1(y_true, y_pred) -> float:
    """Mean over the nine traits of each trait's macro-F1 over both its classes; labels are packed traits.

    Equal to ``mean(f1_score(decode(y_true)[:, i], decode(y_pred)[:, i], labels=[0, 1], average="macro",
    zero_division=0))`` over the traits ``i``: a class absent from a trait's truth and predictions scores 0, and
    a prediction of -1 is a miss for every trait, not a class.
    """
    return float(_per_trait(y_true, y_pred, np.ones((1, len(y_true))))[0].mean())


def trait_macro_f1(y_true, y_pred, trait: str) -> float:
    """One trait's macro-F1 (``trait`` named as in :data:`TRAITS`)."""
    return float(_per_trait(y_true, y_pred, np.ones((1, len(y_true))))[0, TRAITS.index(trait)])


def mean_trait_macro_f1_replicates(y_true, y_pred, weights) -> np.ndarray:
    """``mean_trait_macro_f1`` on each bootstrap replicate; ``weights[r, i]``: how often example i is drawn."""
    return _per_trait(y_true, y_pred, weights).mean(axis=1)


def _per_trait(y_true, y_pred, weights) -> np.ndarray:
    """(R, 9): each trait's macro-F1 over its two classes on each replicate (row of ``weights``), from the core's
    per-class counts (:func:`biobench_core.class_counts`, :func:`biobench_core.f1_from_counts` with
    ``n_classes=2``); -1 (no prediction) decodes to -1 in every trait, which the counts take as a miss and no
    class."""
    from biobench_core import class_counts, f1_from_counts

    t, p = np.asarray(y_true, dtype=np.int64), np.asarray(y_pred, dtype=np.int64)
    if t.size == 0:
        raise ValueError("mean_trait_macro_f1: no examples")
    bt, bp = decode(t), decode(p)  # (n, 9): each trait's class, 0 or 1 (-1: no prediction)
    return np.stack([f1_from_counts(*class_counts(bt[:, i], bp[:, i], weights), n_classes=2)
                     for i in range(len(TRAITS))], axis=1)
