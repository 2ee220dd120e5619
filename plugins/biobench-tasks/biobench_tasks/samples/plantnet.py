"""Pl@ntNet-300K: four species of colour-coded photos in images/{train,val,test}.

Written by the task's tests and by ``biobench plugins validate`` (``sample_data``); colour (or brightness)
codes the label, so a probe on any backbone learns it."""

from __future__ import annotations

from pathlib import Path

from biobench_tasks.samples import write_image

__all__ = ["SPECIES", "make_plantnet"]

SPECIES = ("1355868", "1356022", "1363227", "1392475")


def make_plantnet(root: Path, *, n: dict[str, int] | None = None) -> Path:
    """Colour-coded photos named by a hex image id, as in the archive (``<40 hex digits>.jpg``)."""
    for split, count in (n or {"train": 6, "val": 3, "test": 2}).items():
        for c, species in enumerate(SPECIES):
            for i in range(count):
                image_id = f"{split[:2]}{c}{i:02d}".encode().hex().ljust(40, "0")
                write_image(root / "images" / split / species / f"{image_id}.jpg", c, len(SPECIES), seed=i)
    return root
