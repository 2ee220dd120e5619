"""FungiCLEF 2023: four species in DF20 train, observations of them and of unknown species in DF21 val.

Written by the task's tests and by ``biobench plugins validate`` (``sample_data``); colour (or brightness)
codes the label, so a probe on any backbone learns it."""

from __future__ import annotations

from pathlib import Path

from biobench_tasks.fungiclef import POISON_CSV, TRAIN_CSV, TRAIN_DIR, VAL_CSV, VAL_DIR
from biobench_tasks.samples import write_csv, write_image

__all__ = ["CLASSES", "POISONOUS", "HUES", "PER_CLASS", "FRAMES", "HEADER", "make_fungiclef"]

CLASSES = {0: 0, 3: 2, 7: 4, 12: 6}  # class_id -> hue (of 8); unknown species get hues 1 and 5
POISONOUS = {3, 12}
HUES = 8
PER_CLASS = 16  # training images per species (fewer make the 16-d covariance, and so the rejection rule, noisy)
FRAMES = 4  # images per validation observation
# Columns in the competition's order, a few of them (the task reads by name).
HEADER = ["eventDate", "observationID", "scientificName", "Substrate", "image_path", "class_id", "species",
          "poisonous", "filename"]


def csv_row(obs: int, image: str, class_id: int) -> dict[str, str]:
    species = f"Species {class_id}" if class_id >= 0 else "unknown"
    return {"eventDate": "2021-09-14", "observationID": str(obs), "scientificName": species, "Substrate": "soil",
            "image_path": image, "class_id": str(class_id), "species": species,
            "poisonous": str(int(class_id in POISONOUS)), "filename": image}



def make_fungiclef(root: Path, *, edit_train=None, edit_val=None, poison_rows=None) -> Path:
    """Train: PER_CLASS images of each of 4 species (class 7's files on disk in lower case, the CSV in upper case).
    Val: 2 observations of FRAMES images per species, and 3 observations of unknown species (class_id -1) in other
    colours."""
    train, val = [], []
    for class_id, hue in CLASSES.items():
        for i in range(PER_CLASS):
            name = f"2-{2237850000 + 100 * class_id + i}.JPG"
            on_disk = name.lower() if class_id == 7 else name
            write_image(root / TRAIN_DIR / on_disk, hue, HUES, seed=i)
            train.append(csv_row(500000 + 100 * class_id + i, name, class_id))
    observations = [(class_id, hue, j) for class_id, hue in CLASSES.items() for j in range(2)]
    observations += [(-1, 1, 0), (-1, 5, 1), (-1, 1, 2)]
    for class_id, hue, j in observations:
        obs = 3000000 + 100 * (class_id + 1) + j
        for k in range(FRAMES):
            name = f"{obs}-{k}.JPG"
            write_image(root / VAL_DIR / name, hue, HUES, seed=100 + FRAMES * j + k)
            val.append(csv_row(obs, name, class_id))
    train = edit_train(train) if edit_train else train
    val = edit_val(val) if edit_val else val
    write_csv(root / TRAIN_CSV, train)
    write_csv(root / VAL_CSV, val)
    if poison_rows is None:
        poison_rows = [{"class_id": str(c), "poisonous": str(int(c in POISONOUS))} for c in (*CLASSES, 40)]
    write_csv(root / POISON_CSV, poison_rows)
    return root
