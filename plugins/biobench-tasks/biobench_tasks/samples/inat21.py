"""iNat2021: four species of colour-coded photos in train_mini/ and val/.

Written by the task's tests and by ``biobench plugins validate`` (``sample_data``); colour (or brightness)
codes the label, so a probe on any backbone learns it."""

from __future__ import annotations

from pathlib import Path

from biobench_tasks.samples import write_image

__all__ = ["CLASSES", "make_inat21"]

CLASSES = (
    "00000_Animalia_Annelida_Clitellata_Haplotaxida_Lumbricidae_Lumbricus_terrestris",
    "00001_Animalia_Arthropoda_Insecta_Lepidoptera_Nymphalidae_Danaus_plexippus",
    "05729_Fungi_Basidiomycota_Agaricomycetes_Agaricales_Amanitaceae_Amanita_muscaria",
    "06200_Plantae_Tracheophyta_Magnoliopsida_Asterales_Asteraceae_Bellis_perennis",
)


def make_inat21(root: Path, *, n_train: int = 6, n_val: int = 3) -> Path:
    """Colour-coded photos named by a UUID, as in the archives."""
    for split, n in (("train_mini", n_train), ("val", n_val)):
        for c, name in enumerate(CLASSES):
            for i in range(n):
                uuid = f"{c:08x}-{i:04x}-4a5b-8c9d-{split.encode().hex()[:12]:0<12}"
                write_image(root / split / name / f"{uuid}.jpg", c, len(CLASSES), seed=i)
    return root
