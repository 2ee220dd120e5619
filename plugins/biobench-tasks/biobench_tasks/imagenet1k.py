"""``tasks/imagenet-1k``: the 1,000 classes of ImageNet (ILSVRC2012). Prior work.

**What it measures.** General object recognition: 1,000 everyday classes (about 400 of them animals), about 1,300
training images each, scored on the 50,000 validation images. It is not a biology task, and most backbones are
trained or tuned on it, so, as in the published BioBench, the spec marks it as prior work (``TaskSpec.prior_work``):
it is reported, but kept out of the benchmark mean.

**Citation.** Russakovsky, Deng, Su, Krause, Satheesh, Ma, Huang, Karpathy, Khosla, Bernstein, Berg, Fei-Fei.
*ImageNet Large Scale Visual Recognition Challenge.* IJCV 2015.

**Data** (``--data imagenet-1k=DIR``). ImageNet's terms of access need an account, so ``biobench data fetch
tasks/imagenet-1k`` prints the steps (:data:`DATA`). Either layout labs have is read; the folder decides which:

* Hugging Face's parquet shards (``ILSVRC/imagenet-1k``; needs pyarrow: ``pip install 'biobench-tasks[parquet]'``)::

      DIR/data/train-*.parquet      DIR/data/validation-*.parquet      (or the shards directly in DIR)

  with the columns ``image`` (a struct with the JPEG's ``bytes`` and its ``path``) and ``label`` (0-999, the
  order below). The ``test-*`` shards (no labels) are not used. Example ids are the ``image.path`` file names, or
  ``<shard>#<row>`` where a shard stores none; each shard's size and mtime are part of every example's identity
  (:meth:`~biobench_core.Task.files`), so a rewritten shard is never served stale features.
* The classic ILSVRC2012 folders (``ILSVRC2012_img_train.tar`` with each class's tar unpacked into its folder)::

      DIR/train/<wnid>/<wnid>_<n>.JPEG

  and the validation images in one of the forms labs keep them in, tried in this order:

  - ``DIR/val/<wnid>/ILSVRC2012_val_<8 digits>.JPEG``: re-arranged into class folders (PyTorch's ImageNet example,
    torchvision's ``ImageNet``, ``valprep.sh``);
  - ``DIR/val/ILSVRC2012_val_<8 digits>.JPEG`` as the tar unpacks, with the devkit's
    ``ILSVRC2012_validation_ground_truth.txt`` (one ILSVRC2012_ID, 1-1000, per line: line *n* is image *n*) in
    ``DIR`` or ``DIR/ILSVRC2012_devkit_t12/data``, or else Kaggle's ``LOC_val_solution.csv`` (``ImageId``,
    ``PredictionString`` starting with the wnid) in ``DIR``.

  Kaggle's ImageNet Object Localization Challenge layout (``DIR/ILSVRC/Data/CLS-LOC/{train,val}`` beside
  ``DIR/LOC_val_solution.csv``) is read as is. Example ids are the image file names (unique across ImageNet).

The class order is ImageNet's usual one (WordNet ids sorted, as Hugging Face's labels and torchvision's folders
have it); the wnids, each one's ILSVRC2012_ID and WordNet lemmas are carried in ``imagenet1k_classes.tsv``, and
a class's name is its first lemma (``tench``; the two ``crane`` and the two ``maillot`` classes add their wnid).
The task always declares the 1,000 classes, so labels mean the same with any subset of the data.

**Protocol.** Train on the training images, evaluate on the validation images. Probe: the core's linear probe
(``logreg``: multinomial logistic regression, C by stratified cross-validation). Metric: accuracy.
``Evaluation.splits`` is empty.

**Differences from the published BioBench protocol.** BioBench reads the Hugging Face dataset (through the
``datasets`` library; ids are row numbers), fits its own linear soft-max classifier (AdamW, no hyper-parameter
search) and bootstraps over a fixed 49,362 of the validation predictions; here it is the core's logistic regression
with C chosen by cross-validation, over every validation image, from either layout.
"""

from __future__ import annotations

import functools
import io
import os
import re
import warnings
from collections import Counter
from importlib import resources
from itertools import repeat
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

from biobench_core import DataRecipe, Example, ImageFileTask, TaskDataError
from biobench_tasks._formats import IMAGE_EXTENSIONS, DataWarning, read_columns, read_text, scan_class_folders, \
    warn_skipped
from biobench_tasks._parquet import ShardImages, read_shard_index

if TYPE_CHECKING:
    from PIL import Image

__all__ = ["ImageNet1K", "DATA", "ImageNetClasses", "imagenet_classes", "GROUND_TRUTH", "LOC_SOLUTION"]

GROUND_TRUTH = "ILSVRC2012_validation_ground_truth.txt"
LOC_SOLUTION = "LOC_val_solution.csv"
DEVKIT_DATA = "ILSVRC2012_devkit_t12/data"
KAGGLE_ROOT = "ILSVRC/Data/CLS-LOC"
_VAL_NAME = re.compile(r"ILSVRC2012_val_(\d{8})\.[A-Za-z]+")

DATA = DataRecipe(
    manual_steps="""\
ImageNet's terms of access need an account: log in and accept them, then get ONE of these two layouts into DIR.
A. The ILSVRC2012 files: at https://image-net.org/download-images.php download ILSVRC2012_img_train.tar (138 GB),
   ILSVRC2012_img_val.tar (6.3 GB) and ILSVRC2012_devkit_t12.tar.gz (2.5 MB), then in DIR:
     mkdir train val && tar -xf ILSVRC2012_img_train.tar -C train && tar -xf ILSVRC2012_img_val.tar -C val
     cd train && for f in *.tar; do mkdir "${f%.tar}" && tar -xf "$f" -C "${f%.tar}" && rm "$f"; done && cd ..
     tar -xzf ILSVRC2012_devkit_t12.tar.gz
   (the devkit holds the validation labels: ILSVRC2012_devkit_t12/data/""" + GROUND_TRUTH + """)
B. Hugging Face's parquet shards: accept the terms at https://huggingface.co/datasets/ILSVRC/imagenet-1k, then
     pip install 'biobench-tasks[parquet]' huggingface_hub
     huggingface-cli login
     huggingface-cli download ILSVRC/imagenet-1k --repo-type dataset \\
       --include 'data/train-*' 'data/validation-*' --local-dir DIR""",
    notes="ImageNet (ILSVRC2012): 1,281,167 training and 50,000 validation images; non-commercial research and "
          "education use under ImageNet's terms of access, which is why biobench cannot download it.",
)


class ImageNetClasses(NamedTuple):
    """The 1,000 classes in label order: WordNet ids, their ILSVRC2012_IDs (the devkit's) and display names."""

    wnids: tuple[str, ...]
    ilsvrc_ids: tuple[int, ...]
    names: tuple[str, ...]


@functools.cache
def imagenet_classes() -> ImageNetClasses:
    """The classes of ``imagenet1k_classes.tsv`` (wnid, ILSVRC2012_ID, lemmas; ``#`` lines are comments)."""
    text = resources.files("biobench_tasks").joinpath("imagenet1k_classes.tsv").read_text(encoding="utf-8")
    rows = [line.split("\t") for line in text.splitlines() if line and not line.startswith("#")]
    firsts = [lemmas.split(",")[0].strip() for _, _, lemmas in rows]
    shared = {name for name, count in Counter(firsts).items() if count > 1}
    names = tuple(f"{name} ({wnid})" if name in shared else name for name, (wnid, _, _) in zip(firsts, rows))
    return ImageNetClasses(tuple(r[0] for r in rows), tuple(int(r[1]) for r in rows), names)


class ImageNet1K(ImageFileTask):
    """ImageNet-1K from the ILSVRC2012 folders or Hugging Face's parquet shards; see the module docstring."""

    def resolve_root(self, data: Path) -> Path:
        kaggle = data / KAGGLE_ROOT
        return kaggle if not (data / "train").is_dir() and kaggle.is_dir() else data

    # -- building ----------------------------------------------------------------------------------------------

    def read(self) -> None:
        self._rows: dict[str, int] = {}  # example id -> its row in its shard (parquet only)
        self._images = ShardImages()
        self._index = {wnid: i for i, wnid in enumerate(imagenet_classes().wnids)}
        shards = self._find_shards()
        if shards is not None:
            self.split_examples = {split: self._read_shards(files) for split, files in shards.items()}
        elif (self.root / "train").is_dir():
            self.split_examples = {"train": self._read_train(self.root / "train"), "test": self._read_val()}
        else:
            raise TaskDataError(f"{self.root}: no ImageNet-1K data: expected train/<wnid>/*.JPEG and val/ (the "
                                f"ILSVRC2012 files) or data/train-*.parquet and data/validation-*.parquet (Hugging "
                                f"Face's ILSVRC/imagenet-1k); see: biobench data fetch tasks/imagenet-1k --to DIR")
        self._check_duplicates()

    def _find_shards(self) -> dict[str, list[Path]] | None:
        """``{"train": [...], "test": [...]}`` from ``data/`` (or the folder itself), or ``None`` without shards."""
        for folder in (self.root / "data", self.root):
            if not folder.is_dir():
                continue
            train, val = sorted(folder.glob("train-*.parquet")), sorted(folder.glob("validation-*.parquet"))
            if not train and not val:
                continue
            if not train or not val:
                have, lack = ("train", "validation") if train else ("validation", "train")
                raise TaskDataError(f"{folder}: {len(train or val)} {have}-*.parquet shards but no {lack}-*.parquet: "
                                    f"ImageNet-1K needs both splits")
            return {"train": train, "test": val}
        return None

    def _read_shards(self, shards: list[Path]) -> tuple[Example, ...]:
        examples: list[Example] = []
        for shard in shards:
            index = read_shard_index(shard)
            labels = index.labels
            bad = (labels < 0) | (labels >= len(self._index))
            if bad.any():
                row = int(bad.argmax())
                why = " (an unlabelled test shard?)" if labels[row] == -1 else ""
                raise TaskDataError(f"{shard} row {row}: label {int(labels[row])} is not an ImageNet-1K class "
                                    f"(0-{len(self._index) - 1}){why}")
            n = len(labels)
            ids = [path.replace("\\", "/").rpartition("/")[2] if path else f"{shard.name}#{row}"
                   for row, path in enumerate(index.paths)]
            self._rows.update(zip(ids, range(n)))
            examples += map(Example, ids, labels.tolist(), repeat(None, n), repeat(str(shard), n))
        return tuple(examples)

    def _label(self, wnid: str, where: object) -> int:
        label = self._index.get(wnid)
        if label is None:
            raise TaskDataError(f"{where}: {wnid!r} is not one of the 1,000 ILSVRC2012 wnids")
        return label

    def _read_train(self, folder: Path) -> tuple[Example, ...]:
        examples: list[Example] = []
        for wnid, paths in scan_class_folders(folder):
            label = self._label(wnid, folder / wnid)
            ids = [path.rpartition(os.sep)[2] for path in paths]
            examples += map(Example, ids, repeat(label, len(ids)), repeat(None, len(ids)), paths)
        return tuple(examples)

    def _read_val(self) -> tuple[Example, ...]:
        folder = self.root / "val"
        if not folder.is_dir():
            raise TaskDataError(f"{folder}: missing folder: expected val/ with the validation images "
                                f"(ILSVRC2012_img_val.tar unpacked) or val/<wnid>/ folders")
        with os.scandir(folder) as entries:
            listed = [(e.name, e.is_dir()) for e in entries if not e.name.startswith(".")]
        files = [name for name, is_dir in listed if not is_dir]
        images = sorted(name for name in files if os.path.splitext(name)[1].lower() in IMAGE_EXTENSIONS)
        if any(is_dir and name in self._index for name, is_dir in listed):
            if images:
                warnings.warn(f"{folder}: {len(images)} images beside its <wnid>/ folders skipped (e.g. {images[0]})",
                              DataWarning, stacklevel=4)
            return self._read_train(folder)
        labels_file = self._labels_file()
        if labels_file is None:
            places = " or ".join(str(p.parent) for p in self._label_places(GROUND_TRUTH))
            raise TaskDataError(f"{folder}: {len(images)} validation images but no validation labels: expected the "
                                f"ILSVRC2012 devkit's {GROUND_TRUTH} in {places}, Kaggle's {LOC_SOLUTION} in "
                                f"{self.data.absolute()}, or the images in val/<wnid>/ folders")
        kept = set(images)
        warn_skipped(folder, [os.path.join(folder, name) for name in files if name not in kept], IMAGE_EXTENSIONS)
        if labels_file.name == GROUND_TRUTH:
            by_name, n_labels = self._ground_truth(labels_file, folder, images)
        else:
            by_name, n_labels = self._loc_solution(labels_file, images)
        prefix = os.path.join(folder, "")
        examples = []
        for name in images:
            label = by_name.get(name)
            if label is None:
                raise TaskDataError(f"{prefix}{name}: no label for it in {labels_file}")
            examples.append(Example(name, label, None, prefix + name))
        if n_labels > len(examples):
            warnings.warn(f"{labels_file}: {n_labels - len(examples)} of its {n_labels} labelled validation images "
                          f"are not in {folder} (left out)", DataWarning, stacklevel=4)
        return tuple(examples)

    def _label_places(self, name: str) -> list[Path]:
        data = self.data.absolute()
        folders = dict.fromkeys([data, data / DEVKIT_DATA, self.root, self.root / DEVKIT_DATA])
        return [folder / name for folder in folders]

    def _labels_file(self) -> Path | None:
        for path in (*self._label_places(GROUND_TRUTH), *self._label_places(LOC_SOLUTION)):
            if path.is_file():
                return path
        return None

    def _ground_truth(self, path: Path, folder: Path, images: list[str]) -> tuple[dict[str, int], int]:
        """The label of each image in ``images`` from the devkit's ground truth: line n is ILSVRC2012_val_<n>."""
        by_id = {ilsvrc: i for i, ilsvrc in enumerate(imagenet_classes().ilsvrc_ids)}
        lines = read_text(path, first_row=1).rstrip().splitlines()
        labels = []
        for n, line in enumerate(lines, 1):
            label = by_id.get(int(line)) if line.strip().isdigit() else None
            if label is None:
                raise TaskDataError(f"{path} line {n}: {line.strip()!r} is not an ILSVRC2012_ID (1-1000)")
            labels.append(label)
        by_name = {}
        for name in images:
            match = _VAL_NAME.fullmatch(name)
            if match is None:
                raise TaskDataError(f"{folder / name}: not named ILSVRC2012_val_<8 digits>.JPEG, the "
                                    f"numbering {GROUND_TRUTH} labels images by")
            number = int(match.group(1))
            if 1 <= number <= len(labels):
                by_name[name] = labels[number - 1]
        return by_name, len(labels)

    def _loc_solution(self, path: Path, images: list[str]) -> tuple[dict[str, int], int]:
        """The label of each validation image from Kaggle's ``LOC_val_solution.csv`` (the first wnid of a row's
        boxes), by file name with any image extension."""
        table = read_columns(path, ["ImageId", "PredictionString"])
        stems = {}
        for i, (image, boxes) in enumerate(zip(table.column("ImageId"), table.column("PredictionString"))):
            wnid = boxes.split(maxsplit=1)[0] if boxes else ""
            stems[image] = self._label(wnid, table.where(i))
        return {name: stems[os.path.splitext(name)[0]] for name in images
                if os.path.splitext(name)[0] in stems}, len(stems)

    def _check_duplicates(self) -> None:
        assert self.split_examples is not None
        examples = [ex for split in ("train", "test") for ex in self.split_examples[split]]
        if len({ex.id for ex in examples}) == len(examples):
            return
        seen: dict[str, Example] = {}
        for ex in examples:
            first = seen.setdefault(ex.id, ex)
            if first is not ex:
                where = f" row {self._rows[ex.id]}" if ex.id in self._rows else ""
                raise TaskDataError(f"{ex.source}{where}: duplicate image id '{ex.id}' (also {first.source})")

    # -- the Task contract -------------------------------------------------------------------------------------

    @property
    def class_names(self) -> list[str]:
        return list(imagenet_classes().names)

    def load(self, example: Example) -> Image.Image | list[Image.Image]:
        row = self._rows.get(example.id)
        if row is None:
            return super().load(example)
        from biobench_core import load_rgb

        try:
            return load_rgb(io.BytesIO(self._images.read(str(example.source), row)))
        except TaskDataError as exc:
            cause = exc.__cause__ or exc
            raise TaskDataError(f"{example.source} row {row} ({example.id}): cannot decode image: "
                                f"{type(cause).__name__}: {cause}") from exc
