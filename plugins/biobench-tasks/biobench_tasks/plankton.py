"""``tasks/plankton``: phytoplankton taxa in imaging-flow-cytometry images, across a change of site and year.

**What it measures.** Recognition of phytoplankton taxa in greyscale microscope images from an Imaging FlowCytobot
(IFCB), an image domain far from pre-training photos, with a distribution shift: train on the SYKE 2022 labelled
set (Baltic Sea), test on images taken at the Utö station in 2021.

**Citation.** Kraft et al. *Towards operational phytoplankton recognition with automated high-throughput imaging,
near-real-time data processing, and convolutional neural networks.* Frontiers in Marine Science 9, 2022
(doi:10.3389/fmars.2022.867695). Data: Kraft et al. *SYKE-plankton_IFCB_2022*
(doi:10.23728/B2SHARE.ABF913E5A6AD47E6BAA273AE0ED6617A) and *SYKE-plankton_IFCB_Utö_2021*
(doi:10.23728/B2SHARE.7C273B6F409C47E98A868D6517BE3AE3), B2SHARE.

**Data** (``--data plankton=DIR``; ``biobench data fetch tasks/plankton --to DIR`` downloads both B2SHARE archives,
the URLs of BioBench's download script)::

    DIR/train/<class>/*.png      (or DIR/labeled_20201020/<class>/, as phytoplankton_labeled.zip unpacks)
    DIR/val/<class>/*.png        (or DIR/phytoplankton_Utö_2021_labeled/<class>/, as the Utö archive unpacks)

``train/`` and ``val/`` (BioBench's names) win over the unpacked names. Images are greyscale PNGs, converted to
RGB. Example ids are the paths relative to ``DIR`` (``val/<class>/<file>.png``; the file name is the IFCB image
id). The source publishes no checksum.

**Protocol.** Train on SYKE 2022 (``train``), evaluate on Utö 2021 (``val``). One class map by folder name over
both splits: the Utö set holds only some of the classes, and each keeps its train label. A val class without train
images is an error naming its folder. Probe: the core's linear probe (``logreg``, alias ``linear``: multinomial logistic
regression, C by stratified cross-validation on the training split). Metric: macro-F1 over every class of the map, those
absent from Utö scoring 0 (``macro-f1-all``, BioBench's convention). ``Evaluation.splits`` is empty: the folders carry
no grouping beyond the class.

**Differences from the published BioBench protocol.** BioBench numbers the classes of each split separately
(``sorted(os.listdir(split))``), so when ``val`` lacks a class every later val label is shifted and scored against
the wrong train class; here one class map covers both splits. BioBench fits its own linear soft-max classifier
(AdamW, no hyper-parameter search); here it is the core's logistic regression with C chosen by cross-validation.
BioBench's ids are the bare file names; here they are relative paths, unique even if two folders shared a name.
"""

from __future__ import annotations

from pathlib import Path

from biobench_core import DataRecipe, Download
from biobench_tasks._folders import ClassFolderTask

__all__ = ["Plankton", "DATA"]

TRAIN_UNPACKED = "labeled_20201020"
VAL_UNPACKED = "phytoplankton_Utö_2021_labeled"

DATA = DataRecipe(
    downloads=(
        Download("https://b2share.eudat.eu/records/xvnrp-7ga56/files/phytoplankton_labeled.zip",
                 "phytoplankton_labeled.zip", unpack=True),
        Download("https://b2share.eudat.eu/records/w7y96-6jd66/files/phytoplankton_Ut%C3%B6_2021_labeled.zip",
                 "phytoplankton_Uto_2021_labeled.zip", unpack=True),
    ),
    notes=f"SYKE-plankton_IFCB_2022 (train) and SYKE-plankton_IFCB_Utö_2021 (val) from B2SHARE; no checksums are "
          f"published. They unpack to {TRAIN_UNPACKED}/ and {VAL_UNPACKED}/, which the task reads as train/ and val/.",
)


class Plankton(ClassFolderTask):
    """``train/<class>/*.png`` (SYKE 2022) and ``val/<class>/*.png`` (Utö 2021); see the module docstring."""

    folders = {"train": ("train", TRAIN_UNPACKED), "test": ("val", VAL_UNPACKED)}
    missing_hint = "get the data with: biobench data fetch tasks/plankton --to DIR"

    def resolve_root(self, data: Path) -> Path:
        # A zip may store "Utö" decomposed (o + combining diaeresis): accept the folder however it is spelled.
        if not (data / "val").is_dir() and not (data / VAL_UNPACKED).is_dir():
            import unicodedata

            for entry in sorted(data.iterdir()):
                if entry.is_dir() and unicodedata.normalize("NFC", entry.name) == VAL_UNPACKED:
                    self.folders = {"train": self.folders["train"], "test": ("val", entry.name)}
                    break
        return data
