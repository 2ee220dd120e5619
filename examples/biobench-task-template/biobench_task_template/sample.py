"""A tiny dataset of the template's task, for its tests and for ``biobench plugins validate``.

The spec names :func:`write_sample` as its ``sample_data``: ``write_sample(folder)`` writes ``visits.csv`` and a
few small PNGs into ``folder`` in well under a second. Each pollinator has its own colour, so even the kit's tiny
backbone tells them apart and a run scores well above chance; the pictures mean nothing else.
"""

from __future__ import annotations

import csv
from pathlib import Path

__all__ = ["write_sample", "POLLINATORS", "SITES"]

#: Each class and its colour (R, G, B).
POLLINATORS = {"bee": (230, 180, 30), "butterfly": (190, 50, 170), "hoverfly": (40, 120, 200)}
#: The field sites: the task's groups.
SITES = ("meadow", "orchard", "verge")


def write_sample(folder: Path, *, n_train: int = 3, n_test: int = 1, size: int = 32) -> None:
    """Write ``n_train`` + ``n_test`` images per pollinator and site (32 x 32 PNGs) and their ``visits.csv``."""
    import numpy as np
    from PIL import Image

    folder = Path(folder)
    (folder / "images").mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)  # seeded: the same files every time
    rows = []
    for site in SITES:
        for name, colour in POLLINATORS.items():
            for i in range(n_train + n_test):
                image = f"images/{site}-{name}-{i:02d}.png"
                noise = rng.integers(-40, 41, size=(size, size, 3))
                pixels = np.clip(np.array(colour) + noise, 0, 255).astype(np.uint8)
                Image.fromarray(pixels, "RGB").save(folder / image)
                rows.append({"image": image, "pollinator": name, "site": site,
                             "split": "train" if i < n_train else "test"})
    with open(folder / "visits.csv", "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=["image", "pollinator", "site", "split"])
        writer.writeheader()
        writer.writerows(rows)
