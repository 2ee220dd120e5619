"""``tasks/plantnet``: plant species in Pl@ntNet-300K, a long-tailed set with high label ambiguity.

**What it measures.** Recognition of 1,081 plant species from 306,146 photos taken by Pl@ntNet users (flowers,
leaves, fruits, bark, whole plants): a strongly long-tailed distribution with visually ambiguous species, scored by
macro-F1 so that rare species count as much as common ones.

**Citation.** Garcin et al. *Pl@ntNet-300K: a plant image dataset with high label ambiguity and a long-tailed
distribution.* NeurIPS Datasets and Benchmarks 2021.

**Data** (``--data plantnet=DIR``; ``biobench data fetch tasks/plantnet --to DIR`` downloads ``plantnet_300K.zip``,
~30 GB, from Zenodo record 5645731, the URL of BioBench's download script)::

    DIR/images/train/<species_id>/<image_id>.jpg
    DIR/images/val/<species_id>/<image_id>.jpg
    DIR/images/test/<species_id>/<image_id>.jpg      (optional: scored as the split "test")

The archive unpacks to ``DIR/plantnet_300K/images/...``: when ``DIR/images`` is absent, ``DIR/plantnet_300K`` is
used. Example ids are the image ids (the file names without ``.jpg``), which are unique across the splits. Zenodo
publishes an MD5 checksum only, so the recipe has no sha256.

**Protocol.** Train on ``train``, evaluate on ``val`` (as published). One class map by species-id folder name over
the train split and the evaluated one; an evaluated species without train images is an error naming its folder. Probe:
the core's linear probe (``logreg``, alias ``linear``: multinomial logistic regression, C by stratified cross-validation
on the training split). Metric: macro-F1 over every species of the class map, one absent from the truth and the
predictions scoring 0 (``macro-f1-all``, BioBench's convention). ``--set eval_split=test`` evaluates on the dataset's
``test`` folder instead, as a separate result (settings key the results store).

**Group splits.** ``Evaluation.splits`` has ``val`` (the score itself) and, when the dataset's ``test`` folder is
present, ``test``: its images are extracted and predicted with the same probe, reported as that split, but kept
out of the score and its interval (:meth:`Task.in_score`), so the headline stays the published ``val`` score. A
``test`` image of a species without train images cannot be predicted: such images are left out, with a warning
counting them. With ``--set eval_split=test`` the ``test`` folder is the scored one and there is no extra split.

**Differences from the published BioBench protocol.** BioBench fits its own linear soft-max classifier (AdamW, no
hyper-parameter search); here it is the core's logistic regression with C chosen by cross-validation. Neither
weights the classes (BioBench's docstring mentions a ridge classifier with ``class_weight='balanced'``; its code
does not use one). BioBench's class map is
an ordinal encoding of the species ids over train and val together; here it is the sorted species ids of the
same splits, the same labels up to renumbering.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Sequence
from itertools import repeat
from pathlib import Path

from biobench_core import DataRecipe, Download, Example, Setting, TaskDataError
from biobench_tasks._folders import ClassFolderTask
from biobench_tasks._formats import DataWarning, scan_class_folders

__all__ = ["PlantNet", "DATA", "EVAL_SPLITS"]

UNPACKED = "plantnet_300K"
EVAL_SPLITS = ("val", "test")

DATA = DataRecipe(
    downloads=(Download("https://zenodo.org/records/5645731/files/plantnet_300K.zip", "plantnet_300K.zip",
                        unpack=True),),
    notes="Pl@ntNet-300K v1.1 from Zenodo (~30 GB); Zenodo publishes an MD5 checksum only. It unpacks to "
          "plantnet_300K/images/{train,val,test}/, which the task finds by itself.",
)


class PlantNet(ClassFolderTask):
    """``images/{train,val,test}/<species_id>/<image_id>.jpg``; see the module docstring."""

    settings_schema = {
        "eval_split": Setting("the folder scored: val (as published) or test", type="choice", choices=EVAL_SPLITS,
                              default="val"),
    }
    missing_hint = "get the data with: biobench data fetch tasks/plantnet --to DIR"

    def resolve_root(self, data: Path) -> Path:
        if not (data / "images").is_dir() and (data / UNPACKED / "images").is_dir():
            return data / UNPACKED
        return data

    def split_folders(self) -> dict[str, Sequence[str]]:
        return {"train": ("images/train",), "test": (f"images/{self.settings['eval_split']}",)}

    def example_ids(self, split: str, class_name: str, paths: list[str]) -> list[str]:
        return [_stem(path) for path in paths]

    def class_group(self, class_name: str) -> str | None:
        return self.settings["eval_split"]

    def read(self) -> None:
        super().read()
        extra = self.root / "images" / "test"
        if self.settings["eval_split"] != "val" or not extra.is_dir():
            return
        index = {name: i for i, name in enumerate(self._classes)}
        scored = {ex.id for split in self.split_examples.values() for ex in split}
        added, unseen = [], 0
        for name, paths in scan_class_folders(extra, extensions=self.extensions):
            if name not in index:
                unseen += len(paths)
                continue
            ids = self.example_ids("test", name, paths)
            if not scored.isdisjoint(ids):
                example_id, path = next((i, p) for i, p in zip(ids, paths) if i in scored)
                raise TaskDataError(f"{path}: duplicate image id '{example_id}' (also in train or val)")
            added += map(Example, ids, repeat(index[name]), repeat("test"), paths)
        if unseen:
            warnings.warn(f"{extra}: {unseen} image{'s' * (unseen != 1)} of species without train images left out "
                          "of the 'test' split", DataWarning, stacklevel=2)
        self.split_examples["test"] = (*self.split_examples["test"], *added)

    def in_score(self, example: Example) -> bool:
        return example.group != "test" or self.settings["eval_split"] == "test"


def _stem(path: str) -> str:
    """The file name without its extension (:attr:`pathlib.PurePath.stem` of ``path``, from a string)."""
    name = path[path.rfind(os.sep) + 1:]
    dot = name.rfind(".")
    return name[:dot] if 0 < dot < len(name) - 1 else name
