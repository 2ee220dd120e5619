"""Beluga ID 2022 in Wild Me's COCO export: four whales, five images each, viewpoints alternating.

Written by the task's tests and by ``biobench plugins validate`` (``sample_data``); colour (or brightness)
codes the label, so a probe on any backbone learns it."""

from __future__ import annotations

import json
from pathlib import Path

from biobench_tasks.beluga import ANNOTATIONS, IMAGES
from biobench_tasks.samples import write_image

__all__ = ["WHALES", "PER_WHALE", "VIEWPOINTS", "make_beluga"]

WHALES = ("BB-2016-017", "BB-2017-102", "BB-2018-003", "BB-2019-044")
PER_WHALE = 5
VIEWPOINTS = ("top", "left")


def make_beluga(root: Path, *, edit=None) -> Path:
    """Four whales, five images each (viewpoints alternate top/left), one annotation per image, in Wild Me's COCO
    export format. ``edit(coco)`` may change the COCO object before it is written."""
    images, annotations = [], []
    for w, whale in enumerate(WHALES):
        for i in range(PER_WHALE):
            image_id = 1000 + 10 * w + i
            file_name = f"{image_id:012d}.jpg"
            write_image(root / IMAGES / file_name, w, len(WHALES), seed=i)
            images.append({"license": 1, "file_name": file_name, "height": 20, "width": 24, "date_captured": None,
                           "id": image_id, "uuid": f"uuid-{image_id}"})
            annotations.append({"id": len(annotations) + 1, "image_id": image_id, "category_id": 0,
                                "bbox": [0, 0, 24, 20], "area": 480, "iscrowd": 0, "name": whale,
                                "viewpoint": VIEWPOINTS[i % 2], "segmentation": []})
    coco = {"info": {"description": "beluga"}, "licenses": [], "categories": [{"id": 0, "name": "beluga_whale"}],
            "images": images, "annotations": annotations}
    if edit is not None:
        coco = edit(coco)
    (root / ANNOTATIONS).parent.mkdir(parents=True, exist_ok=True)
    (root / ANNOTATIONS).write_text(json.dumps(coco))
    return root
