"""``tasks/inat21``: 10,000 species of the iNaturalist 2021 challenge (mini training set). Prior work.

**What it measures.** General fine-grained species recognition across the tree of life: 10,000 species, 50
training images each (``train_mini``), tested on the 10 validation images per species. It is a generic benchmark
rather than a real-world biology task, and several backbones are trained on iNat21 itself, so the spec marks it as
prior work (``TaskSpec.prior_work``): it is reported, but kept out of the benchmark mean.

**Citation.** Van Horn, Cole, Beery, Wilber, Belongie, Mac Aodha. *Benchmarking Representation Learning for
Natural World Image Collections.* CVPR 2021 (the iNat 2021 challenge, FGVC8).

**Data** (``--data inat21=DIR``; ``biobench data fetch tasks/inat21 --to DIR`` downloads ``train_mini.tar.gz``
(~42 GB) and ``val.tar.gz`` (~8.4 GB) from the challenge's public S3 bucket, the URLs of BioBench's download
script)::

    DIR/train_mini/<class>/<image>.jpg       DIR/val/<class>/<image>.jpg

Class folders are named ``<5-digit id>_<kingdom>_<phylum>_<class>_<order>_<family>_<genus>_<species>``; one
class map is built by folder name over both splits. Example ids are the paths relative to ``DIR``
(``val/<class>/<uuid>.jpg``). The challenge publishes MD5 checksums only, so the recipe has no sha256.

**Protocol.** Train on ``train_mini``, evaluate on ``val`` (the challenge's test labels are private). Probe: the
core's linear probe (``logreg``, alias ``linear``: multinomial logistic regression, C by stratified
cross-validation on the training split). Metric: accuracy. ``Evaluation.splits``: accuracy per kingdom
(``kingdom:Animalia``, ``kingdom:Plantae``, ``kingdom:Fungi``...), read from the class folder names; a folder name
without the taxonomy has no group.

**Differences from the published BioBench protocol.** BioBench fits its own linear soft-max classifier (AdamW, no
hyper-parameter search) on float16 features; here it is the core's logistic regression with C chosen by
cross-validation. BioBench's bootstrap draws a fixed 100,000 indices; here it resamples the test examples there
are. BioBench builds a class map per split (``ImageFolder``); here one map covers both (a val class without
train images is an error naming its folder).
"""

from __future__ import annotations


from biobench_core import DataRecipe, Download
from biobench_tasks._folders import ClassFolderTask

__all__ = ["INat21", "DATA", "kingdom_of"]

_BUCKET = "https://ml-inat-competition-datasets.s3.amazonaws.com/2021"

DATA = DataRecipe(
    downloads=(
        Download(f"{_BUCKET}/train_mini.tar.gz", "train_mini.tar.gz", unpack=True),
        Download(f"{_BUCKET}/val.tar.gz", "val.tar.gz", unpack=True),
    ),
    notes="iNat 2021 challenge: train_mini (500,000 images, ~42 GB) and val (100,000 images, ~8.4 GB); the "
          "challenge publishes MD5 checksums only. They unpack to train_mini/<class>/ and val/<class>/.",
)


def kingdom_of(class_name: str) -> str | None:
    """``"00000_Animalia_Annelida_..._Lumbricus_terrestris"`` -> ``"Animalia"``; ``None`` without the taxonomy."""
    parts = class_name.split("_")
    if len(parts) >= 8 and parts[0].isdigit() and parts[1]:
        return parts[1]
    return None


class INat21(ClassFolderTask):
    """``train_mini/<class>/*.jpg`` and ``val/<class>/*.jpg``; see the module docstring."""

    folders = {"train": ("train_mini",), "test": ("val",)}
    missing_hint = "get the data with: biobench data fetch tasks/inat21 --to DIR"

    def class_group(self, class_name: str) -> str | None:
        kingdom = kingdom_of(class_name)
        return None if kingdom is None else f"kingdom:{kingdom}"
