"""SYKE/Utö IFCB plankton: single-channel images whose brightness is the class; val holds a subset.

Written by the task's tests and by ``biobench plugins validate`` (``sample_data``); colour (or brightness)
codes the label, so a probe on any backbone learns it."""

from __future__ import annotations

from pathlib import Path

import numpy as np

__all__ = ["CLASSES", "VAL_CLASSES", "make_plankton", "grey_png"]

CLASSES = ("Aphanizomenon_flosaquae", "Chaetoceros_sp", "Dinophysis_acuminata", "Oocystis_sp", "Snowella_sp")
VAL_CLASSES = ("Chaetoceros_sp", "Oocystis_sp", "Snowella_sp")  # Utö holds a subset: later names, not a prefix


def make_plankton(root: Path, *, train: str = "train", val: str = "val", n_train: int = 6,
                  n_val: int = 3) -> Path:
    """Single-channel IFCB-like PNGs whose brightness is the class; val holds only ``VAL_CLASSES``."""
    for folder, n, classes in ((train, n_train, CLASSES), (val, n_val, VAL_CLASSES)):
        for name in classes:
            c = CLASSES.index(name)
            for i in range(n):
                grey_png(root / folder / name / f"D2021{c}{i:02d}T1200_IFCB114_{i:05d}.png", 30 + 45 * c, seed=i)
    return root


def grey_png(path: Path, level: int, *, seed: int = 0) -> Path:
    from PIL import Image

    rng = np.random.default_rng(seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.clip(level + rng.normal(0, 6, (20, 24)), 0, 255).astype(np.uint8), mode="L").save(path)
    return path
