"""``tasks/herbarium19``: species of pressed herbarium specimens (Herbarium Challenge 2019, FGVC6).

**What it measures.** Fine-grained recognition of 683 species of the Melastomataceae flowering-plant family from
scans of dried, mounted specimens: a long-tailed, out-of-photo-domain task (sheets with labels, rulers and colour
bars rather than living plants in the field).

**Citation.** Tan, Liu, Ambrose, Tulig, Belongie. *The Herbarium Challenge 2019 Dataset.* arXiv:1906.05372, 2019.

**Data** (``--data herbarium19=DIR``; ``biobench data fetch tasks/herbarium19 --to DIR`` downloads the competition's
``train.tar.gz`` (34,225 images, ~38 GB) and ``validation.tar.gz`` (2,679 images, ~3 GB) from the New York
Botanical Garden's public bucket, the URLs of BioBench's download script; the test archive is not used)::

    DIR/train/<class>/**/<image>          DIR/validation/<class>/**/<image>

Class folders are the competition's category ids; images may sit in sub-folders of a class folder. One class
map is built by folder name over both splits. Example ids are the images' paths relative to ``DIR``
(``validation/<class>/<file>``). The source publishes MD5 checksums only, so the recipe has no sha256.

**Protocol.** Train on ``train``, evaluate on ``validation`` (the competition's test labels are private). Probe:
the core's linear probe (``logreg``, alias ``linear``: multinomial logistic regression, C by stratified cross-validation
on the training split). Metric: macro-F1 over every species of the class map, one absent from the truth and the
predictions scoring 0 (``macro-f1-all``, BioBench's convention). ``Evaluation.splits`` is empty: the folders carry no
grouping beyond the class.

**Differences from the published BioBench protocol.** BioBench fits its own linear soft-max classifier (trained
by AdamW, no hyper-parameter search); here it is the core's logistic regression with C chosen by cross-validation.
BioBench builds a class map per split (``torchvision.datasets.ImageFolder``), which shifts the validation labels if
a class folder is missing there; here one map covers both splits, and a validation class without train images is
an error naming its folder. BioBench's ids are absolute paths; here they are relative to ``DIR``.
"""

from __future__ import annotations

from biobench_core import DataRecipe, Download
from biobench_tasks._folders import ClassFolderTask

__all__ = ["Herbarium19", "DATA"]

_BUCKET = "https://storage.googleapis.com/nybg/herbarium-2019-fgvc6"

DATA = DataRecipe(
    downloads=(
        Download(f"{_BUCKET}/train.tar.gz", "train.tar.gz", unpack=True),
        Download(f"{_BUCKET}/validation.tar.gz", "validation.tar.gz", unpack=True),
    ),
    notes="Herbarium 2019 FGVC6 (train ~38 GB, validation ~3 GB); the source publishes MD5 checksums only "
          "(train 53c6b9ee2f831f5101dbe00958091dc8, validation 2f854d580949e54f114993a74adc3d4b). They unpack to "
          "train/<class>/ and validation/<class>/.",
)


class Herbarium19(ClassFolderTask):
    """``train/<class>/*`` and ``validation/<class>/*``; see the module docstring."""

    folders = {"train": ("train",), "test": ("validation",)}
    missing_hint = "get the data with: biobench data fetch tasks/herbarium19 --to DIR"
