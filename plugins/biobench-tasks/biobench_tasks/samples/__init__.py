"""Tiny datasets of each first-party task, in its real layout: what the task's tests run on, and what
``biobench plugins validate biobench-tasks`` runs each task on end to end (each ``TaskSpec`` names its module's
``make_*`` function as ``sample_data``).

Each ``make_*(folder)`` writes a few images per class and split, in seconds, whose colour (or brightness) is the
label, so a probe on any backbone, even the kit's tiny random one, learns it. PIL and numpy only. Never imported
while listing tasks: a spec names its generator as a string.
"""

from __future__ import annotations

import colorsys
import csv
import zlib
from pathlib import Path

__all__ = ["colour_of", "write_image", "write_csv"]


def colour_of(label: int, n_classes: int) -> tuple[int, int, int]:
    """A distinct, saturated colour per label (hues evenly around the wheel)."""
    r, g, b = colorsys.hsv_to_rgb((label % max(n_classes, 1)) / max(n_classes, 1), 0.9, 0.85)
    return int(r * 255), int(g * 255), int(b * 255)


def write_image(path: Path, label: int, n_classes: int, *, seed: int = 0, size: tuple[int, int] = (24, 20)) -> Path:
    """An image (format from the suffix) whose colour is its label's, with noise; parents are created."""
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(zlib.crc32(f"{path.name}:{seed}".encode()))  # the same noise in every run
    pixels = np.clip(np.array(colour_of(label, n_classes)) + rng.normal(0, 12, (size[1], size[0], 3)), 0, 255)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(pixels.astype(np.uint8)).save(path)
    return path


def write_csv(path: Path, rows: list[dict[str, str]]) -> None:
    """``rows`` as a CSV file with a header (the first row's keys, in order)."""
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
