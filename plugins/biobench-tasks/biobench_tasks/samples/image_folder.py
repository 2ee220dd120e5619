"""tasks/image-folder in both layouts: class folders, or labels.csv with groups.

Written by the task's tests and by ``biobench plugins validate`` (``sample_data``); colour (or brightness)
codes the label, so a probe on any backbone learns it."""

from __future__ import annotations

from pathlib import Path

__all__ = ["COLOURS", "png", "folder_dataset", "csv_dataset"]

COLOURS = {"ant": (200, 30, 30), "bee": (30, 200, 30), "cicada": (30, 30, 200)}


def png(path: Path, colour=(128, 128, 128), mode="RGB", size=(12, 10)) -> Path:
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new(mode, size, colour if mode == "RGB" else 128).save(path)
    return path


def folder_dataset(root: Path, train=3, test=2) -> Path:
    for name, colour in COLOURS.items():
        for i in range(train):
            png(root / "train" / name / f"{i:03d}.png", colour)
        for i in range(test):
            png(root / "test" / name / f"{i:03d}.png", colour)
    return root


def csv_dataset(root: Path, lines: list[str] | None = None, header="path,label,split,group") -> Path:
    root.mkdir(parents=True, exist_ok=True)
    if lines is None:
        lines = []
        for name, colour in COLOURS.items():
            for i in range(3):
                split = "train" if i < 2 else "test"
                png(root / "imgs" / f"{name}{i}.jpg", colour)
                lines.append(f"imgs/{name}{i}.jpg,{name},{split},site{i % 2}")
    (root / "labels.csv").write_text("\n".join([header, *lines]) + "\n")
    return root
