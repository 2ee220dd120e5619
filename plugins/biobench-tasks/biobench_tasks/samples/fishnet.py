"""FishNet's train.csv/test.csv: four trait profiles, one family and colour each.

Written by the task's tests and by ``biobench plugins validate`` (``sample_data``); colour (or brightness)
codes the label, so a probe on any backbone learns it."""

from __future__ import annotations

import csv
from pathlib import Path

from biobench_tasks.fishnet import TRAITS
from biobench_tasks.samples import write_image

__all__ = ["HEADER", "PROFILES", "make_fishnet"]

HEADER = ["", "Unnamed: 0", "species", "image", "SpecCode", "Genus", "Subfamily", "Family", "Order", "Class",
          "SuperClass", "source", "Folder", "Troph", "FeedingPath", "Tropical", "Temperate", "Subtropical", "Boreal",
          "Polar", "freshwater", "saltwater", "brackish", "NewOrder", "Frequency"]


# four trait profiles (bit i = trait i), one family and one colour each; every trait takes both values
PROFILES = [("Sparidae", 0b101010101), ("Sciaenidae", 0b010101010), ("Acanthuridae", 0b110011001),
            ("Salmonidae", 0b001100110)]


def make_fishnet(root: Path, *, n_train: int = 5, n_test: int = 3, edit=None) -> Path:
    """``train.csv``/``test.csv`` with ``n_train``/``n_test`` images per profile; every third FishBase-style row
    gives its image as a URL. One extra row per file has empty traits (FishNet has such rows): it is dropped.
    ``edit(split, rows)`` may change the rows before they are written."""
    for split, n in (("train", n_train), ("test", n_test)):
        rows = []
        for p, (family, bits) in enumerate(PROFILES):
            for i in range(n):
                name = f"{family[:4]}{split}{i}.jpg"
                image = f"https://www.fishbase.se/images/species/{name}" if i % 3 == 2 else name
                write_image(root / "Image_Library" / family / name, p, len(PROFILES), seed=i + 100 * (split == "test"))
                traits = {t: str((bits >> k) & 1) for k, t in enumerate(TRAITS)}
                traits["FeedingPath"] = "pelagic" if bits & 1 else "benthic"
                rows.append({"": str(len(rows)), "Unnamed: 0": str(len(rows)), "species": "", "image": image,
                             "SpecCode": "", "Genus": "Genus", "Subfamily": "", "Family": family,
                             "Order": "Perciformes", "Class": "Actinopterygii", "SuperClass": "",
                             "source": "fishbase" if image.startswith("http") else "inat", "Folder": family,
                             "Troph": "3.4", **traits, "NewOrder": "Perciformes", "Frequency": "0.28"})
        rows.append({**rows[0], "image": f"untraited-{split}.jpg", **{t: "" for t in TRAITS}})
        if edit is not None:
            rows = edit(split, rows)
        root.mkdir(parents=True, exist_ok=True)
        with open(root / f"{split}.csv", "w", newline="") as f:
            writer = csv.writer(f)
            columns = list(rows[0])
            writer.writerow(columns)
            writer.writerows([[row.get(c, "") for c in columns] for row in rows])
    return root
