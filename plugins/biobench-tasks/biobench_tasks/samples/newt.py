"""NeWT 2021: three binary tasks, images coloured by (task, label).

Written by the task's tests and by ``biobench plugins validate`` (``sample_data``); colour (or brightness)
codes the label, so a probe on any backbone learns it."""

from __future__ import annotations

import hashlib
from pathlib import Path

from biobench_tasks.samples import write_csv, write_image

__all__ = ["HEADER", "TASKS", "uid", "make_newt"]

HEADER = ["id", "height", "width", "task", "task_cluster", "task_subcluster", "label", "text_label", "split"]
# (task, cluster, subcluster): the second has no sub-cluster, as some NeWT tasks do
TASKS = [("appearance_age_bird", "appearance", "age"), ("species_frog", "species", ""),
         ("appearance_health_bee", "appearance", "health")]


def uid(*parts: object) -> str:
    return hashlib.md5("/".join(map(str, parts)).encode()).hexdigest()


def make_newt(root: Path, *, n_train: int = 5, n_test: int = 3, edit=None) -> Path:
    """A NeWT folder: per task and label, ``n_train`` train and ``n_test`` test images coloured by (task, label).

    ``edit(rows)`` may change the rows (dicts) before they are written; the header follows the first row's keys.
    """
    rows = []
    for t, (task, cluster, subcluster) in enumerate(TASKS):
        for label in (0, 1):
            for split, n in (("train", n_train), ("test", n_test)):
                for i in range(n):
                    example_id = uid(task, label, split, i)
                    write_image(root / "newt2021_images" / f"{example_id}.jpg", 2 * t + label, 2 * len(TASKS), seed=i)
                    rows.append({"id": example_id, "height": "20", "width": "24", "task": task,
                                 "task_cluster": cluster, "task_subcluster": subcluster, "label": str(label),
                                 "text_label": f"{task}-{'yes' if label else 'no'}", "split": split})
    if edit is not None:
        rows = edit(rows)
    write_csv(root / "newt2021_labels.csv", rows)
    return root
