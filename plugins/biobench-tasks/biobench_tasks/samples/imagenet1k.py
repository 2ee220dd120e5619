"""ImageNet-1K in its four layouts: four classes of colour-coded images.

Written by the task's tests and by ``biobench plugins validate`` (``sample_data``); colour (or brightness)
codes the label, so a probe on any backbone learns it."""

from __future__ import annotations

import shutil
from pathlib import Path

from biobench_tasks.imagenet1k import GROUND_TRUTH, LOC_SOLUTION
from biobench_tasks.samples import write_image

__all__ = ["CLASSES", "make_imagenet", "KAGGLE", "write_shard"]

#: (wnid, ILSVRC2012_ID in the devkit, label in the usual sorted-wnid order): facts of ImageNet, checked by the
#: task's tests.
CLASSES = (("n01440764", 449, 0), ("n01443537", 450, 1), ("n01751748", 490, 65), ("n02119789", 1, 278))


def make_imagenet(root: Path, layout: str = "devkit", *, n_train: int = 6, n_val: int = 3) -> Path:
    """A tiny ImageNet in ``layout``: colour-coded images (colour = position in :data:`CLASSES`), ``n_train`` per
    class in ``train/<wnid>/`` and ``n_val`` per class in the validation images, interleaved by class (image ``n`` is
    class ``(n - 1) % 4``), as in the real validation set.

    ``devkit``: flat ``val/`` with ``ILSVRC2012_devkit_t12/data/ILSVRC2012_validation_ground_truth.txt``;
    ``folders``: ``val/<wnid>/``; ``kaggle``: ``ILSVRC/Data/CLS-LOC/{train,val}`` and ``LOC_val_solution.csv``;
    ``parquet``: ``data/train-0000{0,1}-of-00002.parquet`` and ``data/validation-00000-of-00001.parquet``
    (Hugging Face's columns, row groups of 5 rows).
    """
    n = len(CLASSES)
    images = root / KAGGLE if layout == "kaggle" else root
    scratch = root / ".scratch"
    train = [(f"{wnid}_{i}.JPEG", c) for i in range(n_train) for c, (wnid, _, _) in enumerate(CLASSES)]
    val = [(f"ILSVRC2012_val_{k + 1:08d}.JPEG", k % n) for k in range(n * n_val)]
    if layout == "parquet":
        def rows(items, split):
            data = []
            for name, c in items:
                path = write_image(scratch / name, c, n, seed=len(split) + len(data))
                data.append(({"bytes": path.read_bytes(), "path": name}, CLASSES[c][2]))
            return data

        train_rows, val_rows = rows(train, "train"), rows(val, "val")
        half = len(train_rows) // 2
        write_shard(root / "data" / "train-00000-of-00002.parquet", train_rows[:half])
        write_shard(root / "data" / "train-00001-of-00002.parquet", train_rows[half:])
        write_shard(root / "data" / "validation-00000-of-00001.parquet", val_rows)
        shutil.rmtree(scratch)
        return root
    for i, (name, c) in enumerate(train):
        write_image(images / "train" / CLASSES[c][0] / name, c, n, seed=i)
    for i, (name, c) in enumerate(val):
        sub = f"{CLASSES[c][0]}/" if layout == "folders" else ""
        write_image(images / "val" / f"{sub}{name}", c, n, seed=100 + i)
    if layout == "devkit":
        gt = root / "ILSVRC2012_devkit_t12" / "data" / GROUND_TRUTH
        gt.parent.mkdir(parents=True)
        gt.write_text("".join(f"{CLASSES[c][1]}\n" for _, c in val))
    elif layout == "kaggle":
        lines = ["ImageId,PredictionString"]
        lines += [f"{name[:-5]},{CLASSES[c][0]} 10 20 30 40 {CLASSES[c][0]} 1 2 3 4 " for name, c in val]
        (root / LOC_SOLUTION).write_text("\n".join(lines) + "\n")
    return root


KAGGLE = "ILSVRC/Data/CLS-LOC"


def write_shard(path: Path, rows: list[tuple[dict | None, int]], *, row_group_size: int = 5, **extra) -> Path:
    """A parquet shard with Hugging Face's columns: ``image`` (struct of bytes and path) and ``label`` (needs
    pyarrow, the plugin's ``parquet`` extra)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    path.parent.mkdir(parents=True, exist_ok=True)
    image_type = pa.struct([("bytes", pa.binary()), ("path", pa.string())])
    columns = {"image": pa.array([r[0] for r in rows], type=image_type), "label": pa.array([r[1] for r in rows],
                                                                                             type=pa.int64())}
    pq.write_table(pa.table({**columns, **extra}), path, row_group_size=row_group_size)
    return path
