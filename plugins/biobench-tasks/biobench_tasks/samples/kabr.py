"""KABR: clips of 16 to 40 frames of three behaviours, colour-coded, in train.csv and val.csv.

Written by the task's tests and by ``biobench plugins validate`` (``sample_data``); colour (or brightness)
codes the label, so a probe on any backbone learns it."""

from __future__ import annotations

import json
from pathlib import Path

from biobench_tasks.samples import write_image

__all__ = ["CLASSES", "USED", "HEADER", "SIZE", "make_kabr"]

CLASSES = {"Walk": 0, "Graze": 1, "Browse": 2, "Head Up": 3, "Auto-Groom": 4, "Trot": 5, "Run": 6, "Occluded": 7}
USED = (0, 1, 2)  # the behaviours the fixture's clips show
HEADER = ("original_vido_id", "video_id", "frame_id", "path", "labels")
SIZE = (12, 10)


def make_kabr(root: Path, *, n_train: int = 3, n_val: int = 2, edit=None, extra=None) -> Path:
    """Clips of 16 to 40 frames, colour-coded by the clip's behaviour, in train.csv and val.csv.

    Names alternate G (giraffe) and Z (zebra); video_id counts up over both files (as KABR's single data.csv
    split in two). Frame 3 of every clip is a "noise" frame: labelled and coloured as another behaviour (the
    clip's label is the mode). ``extra(split)`` returns more clips as ``(name, video_id, labels)``;
    ``edit(split, rows)`` may change the rows (dicts) before they are written.
    """
    rows: dict[str, list[dict[str, str]]] = {"train": [], "val": []}
    video_id = 0
    for split, n in (("train", n_train), ("val", n_val)):
        clips = []
        for label in USED:
            for i in range(n):
                video_id += 1
                length = (16, 20, 40)[(video_id + i) % 3]
                labels = [label] * length
                labels[2] = (label + 1) % len(USED)
                clips.append((f"{'GZ'[i % 2]}{video_id:04d}", str(video_id), labels))
        clips += extra(split) if extra is not None else []
        for name, vid, labels in clips:
            for k, label in enumerate(labels, start=1):
                rel = f"{name}/{k}.jpg"
                write_image(root / "dataset" / "image" / rel, label, len(USED), seed=k, size=SIZE)
                rows[split].append({"original_vido_id": name, "video_id": vid, "frame_id": str(k), "path": rel,
                                    "labels": str(label)})
    (root / "annotation").mkdir(parents=True, exist_ok=True)
    for split, split_rows in rows.items():
        if edit is not None:
            split_rows = edit(split, split_rows)
        header = list(split_rows[0]) if split_rows else list(HEADER)
        lines = [" ".join(header)] + [" ".join(r[c] for c in header if c in r) for r in split_rows]
        (root / "annotation" / f"{split}.csv").write_text("\n".join(lines) + "\n")
    (root / "annotation" / "classes.json").write_text(json.dumps(CLASSES))
    return root
