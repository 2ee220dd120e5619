"""iWildCam2020-WILDS: four classes, train at two locations, test at two others.

Written by the task's tests and by ``biobench plugins validate`` (``sample_data``); colour (or brightness)
codes the label, so a probe on any backbone learns it."""

from __future__ import annotations

from pathlib import Path

from biobench_tasks.samples import write_csv, write_image

__all__ = ["CLASSES", "HEADER", "make_iwildcam"]

CLASSES = (0, 3, 7, 12)  # WILDS's y is a class index; not every index has images
HEADER = ["", "split", "location_remapped", "location", "sequence_remapped", "sequence", "datetime", "y",
          "category_id", "filename", "image_id"]


def make_iwildcam(root: Path, *, edit=None) -> Path:
    """Train at locations 1-2, test (out of distribution) at locations 5-6, plus val/id_val/id_test rows whose
    images do not exist (they are not used). ``edit(rows)`` may change the rows before they are written."""
    base = root / "iwildcam_v2.0"
    rows = []
    plan = [("train", loc, 4) for loc in (1, 2)] + [("test", loc, 2) for loc in (5, 6)]
    plan += [("val", 3, 1), ("id_val", 1, 1), ("id_test", 2, 1)]
    for split, location, n in plan:
        for c, y in enumerate(CLASSES):
            for i in range(n):
                name = f"{split[:2]}{location}{y:03d}{i}-8b31d3be-21bc-11ea.jpg"
                if split in ("train", "test"):
                    write_image(base / "train" / name, c, len(CLASSES), seed=i + 10 * location)
                rows.append({"": str(len(rows)), "split": split, "location_remapped": str(location),
                             "location": str(100 + location), "sequence_remapped": str(location * 10 + i),
                             "sequence": f"seq{location}{i}", "datetime": "2013-06-09 16:01:38.000", "y": str(y),
                             "category_id": str(1000 + y), "filename": name, "image_id": name[:-4]})
    if edit is not None:
        rows = edit(rows)
    base.mkdir(parents=True, exist_ok=True)
    write_csv(base / "metadata.csv", rows)
    with open(base / "categories.csv", "w", newline="") as f:
        f.write("y,category_id,name\n" + "".join(f"{y},{1000 + y},species {y}\n" for y in CLASSES))
    return root
