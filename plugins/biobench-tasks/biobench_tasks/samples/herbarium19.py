"""Herbarium 2019: four categories of colour-coded sheets in train/ and validation/.

Written by the task's tests and by ``biobench plugins validate`` (``sample_data``); colour (or brightness)
codes the label, so a probe on any backbone learns it."""

from __future__ import annotations

from pathlib import Path

from biobench_tasks.samples import write_image

__all__ = ["CLASSES", "make_herbarium"]

CLASSES = ("0", "107", "23", "5")  # category ids: sorted by name, not by number


def make_herbarium(root: Path, *, n_train: int = 6, n_val: int = 3) -> Path:
    """Colour-coded sheets; the train images of each class sit partly in a sub-folder, as archives may have them."""
    for split, n in (("train", n_train), ("validation", n_val)):
        for c, name in enumerate(CLASSES):
            for i in range(n):
                sub = "sub/" if split == "train" and i % 2 else ""
                write_image(root / split / name / f"{sub}{split[0]}{name}_{i}.jpg", c, len(CLASSES), seed=i)
    return root
