"""Task indexing overhead: building each task of the suite on 100,000 images of generated metadata, against reading
the same rows with Python's ``csv`` module (target: at most 3x).

Each format is generated in its exact layout, with empty image files (the tasks check that every image exists but
decode none while indexing). *Indexing* is the task's own work before extraction: ``load_task`` (reading and
checking the metadata, every listed file's existence, the class map) and both splits' examples. The baseline is
reading the task's own metadata files by column name with ``csv.DictReader`` into a list (what reading the
metadata takes before doing anything with it); the plain ``csv.reader`` pass (C-speed tokenising only, nothing
kept) is shown too, as is the core's manifest (a ``stat`` of every file for the data identity), which every task
pays alike and is not part of the format's indexing. A JSON metadata file (Beluga's COCO annotations) is read with
``json.load`` instead. For formats whose metadata is the folder tree (class folders) or lists clips but not their
frames (MammalNet), a CSV listing the same images (path, label, split) stands in for it. For video tasks the 100,000 images are frames. Best of three, files warm in the page cache. ``python benchmarks/bench_task_indexing.py``.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

TARGET = 3.0
N_IMAGES = 100_000


def _touch(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb"):
        pass


def _listing(root: Path, rows: list[tuple[str, str, str]]) -> list[Path]:
    """A stand-in CSV (path, label, split) of the same images, for formats whose metadata is not a CSV."""
    path = root / "_listing.csv"
    with open(path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["path", "label", "split"])
        writer.writerows(rows)
    return [path]


def _folders(root: Path, n: int, splits: dict[str, str], n_classes: int = 1000, ext: str = ".jpg") -> list[Path]:
    """``root/<split folder>/<class>/<image>`` for ``n`` images spread over ``splits`` (folder -> share)."""
    rows = []
    names = list(splits)
    for i in range(n):
        folder = names[i % len(names)] if len(names) > 1 else names[0]
        cls = f"c{(i // len(names)) % n_classes:04d}"
        rel = f"{folder}/{cls}/{i:07d}{ext}"
        _touch(root / rel)
        rows.append((rel, cls, folder))
    return _listing(root, rows)


def gen_newt(root: Path, n: int) -> list[Path]:
    path = root / "newt2021_labels.csv"
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["id", "task", "task_cluster", "task_subcluster", "label", "text_label", "split", "height",
                    "width"])
        for i in range(n):
            task = i % 164
            w.writerow([f"{i:08x}-newt", f"task_{task:03d}", f"cluster_{task % 8}",
                        f"sub_{task % 20}" if task % 3 else "", i // 164 % 2, f"side_{i // 164 % 2}",
                        "train" if i // 328 % 2 == 0 else "test", 375, 500])
            _touch(root / "newt2021_images" / f"{i:08x}-newt.jpg")
    return [path]


def gen_kabr(root: Path, n: int, clip: int = 20) -> list[Path]:
    paths = []
    (root / "annotation").mkdir(parents=True)
    for split, share in (("train", 0), ("val", 1)):
        path = root / "annotation" / f"{split}.csv"
        with open(path, "w") as f:
            f.write("original_vido_id video_id frame_id path labels\n")
            for i in range(share, n // clip, 2):
                for frame in range(clip):
                    rel = f"clip{i:05d}/{frame:03d}.jpg"
                    f.write(f"vid{i // 10:04d} {i} {frame} {rel} {i % 8}\n")
                    _touch(root / "dataset" / "image" / rel)
        paths.append(path)
    return paths


def gen_herbarium19(root: Path, n: int) -> list[Path]:
    return _folders(root, n, {"train": "train", "validation": "validation"})


def gen_plantnet(root: Path, n: int) -> list[Path]:
    return _folders(root / "images", n, {"train": "", "val": "", "test": ""})


def gen_plankton(root: Path, n: int) -> list[Path]:
    return _folders(root, n, {"train": "", "val": ""}, n_classes=50, ext=".png")


def gen_inat21(root: Path, n: int) -> list[Path]:
    return _folders(root, n, {"train_mini": "", "val": ""})


def gen_iwildcam(root: Path, n: int) -> list[Path]:
    base = root / "iwildcam_v2.0"
    base.mkdir(parents=True)
    path = base / "metadata.csv"
    splits = ("train", "train", "val", "test", "id_val", "id_test")
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["", "split", "location_remapped", "location", "sequence", "datetime", "y", "category_id",
                    "filename", "image_id", "sequence_remapped"])
        for i in range(n):
            name = f"{i:08x}.jpg"
            w.writerow([i, splits[i % len(splits)], i % 300, i % 300, f"s{i // 5}", "2013-06-05 08:02:32.000",
                        i % 180, i % 180, name, f"{i:08x}", i // 5])
            _touch(base / "train" / name)
    return [path]


FISH_COLUMNS = ["", "Unnamed: 0", "species", "image", "SpecCode", "Genus", "Subfamily", "Family", "Order", "Class",
                "SuperClass", "source", "Folder", "Troph", "FeedingPath", "Tropical", "Temperate", "Subtropical",
                "Boreal", "Polar", "freshwater", "saltwater", "brackish"]


def gen_fishnet(root: Path, n: int) -> list[Path]:
    paths = []
    for split, share in (("train", 0), ("test", 1)):
        path = root / f"{split}.csv"
        with open(path, "w", newline="") as f:
            w = csv.writer(f)
            w.writerow(FISH_COLUMNS)
            for i in range(share, n, 2):
                folder, name = f"Family{i % 400}", f"fish_{i:07d}.jpg"
                traits = [(i >> b) & 1 for b in range(8)]
                w.writerow([i, i, f"Species {i % 3000}", f"https://example.org/photos/{name}", i % 3000,
                            "Genus", "", "Family", "Order", "Actinopterygii", "", "fishbase", folder, 3.1,
                            "pelagic" if i % 2 else "benthic", *traits])
                _touch(root / "Image_Library" / folder / name)
        paths.append(path)
    return paths


def gen_beluga(root: Path, n: int) -> list[Path]:
    base = root / "beluga.coco"
    images, annotations = [], []
    for i in range(n):
        name = f"{i:07d}.jpg"
        images.append({"id": i, "file_name": name, "width": 500, "height": 375})
        annotations.append({"id": i, "image_id": i, "category_id": 1, "name": f"beluga{i % 800:03d}",
                            "bbox": [0, 0, 500, 375], "area": 187500, "iscrowd": 0})
        path = base / "images" / "train2022" / name
        _touch(path)
        os.truncate(path, 20_000 + i)  # sparse, and of distinct sizes like real photos (copies are found by size)
    (base / "annotations").mkdir(parents=True)
    path = base / "annotations" / "instances_train2022.json"
    with open(path, "w") as f:
        json.dump({"images": images, "annotations": annotations, "categories": [{"id": 1, "name": "beluga"}]}, f)
    return [path]  # the baseline reads it with json.load


def gen_fungiclef(root: Path, n: int) -> list[Path]:
    paths = []
    for split, folder, share in (("train", "DF20_300", 0), ("val", "DF21_300", 1)):
        path = root / f"FungiCLEF2023_{split}_metadata_PRODUCTION.csv"
        with open(path, "w", newline="") as f:
            w = csv.writer(f)
            w.writerow(["observationID", "image_path", "class_id", "poisonous", "species"])
            for i in range(share, n, 2):
                name, observation = f"{i:08d}.JPG", i // 4  # four images per observation
                cls = -1 if split == "val" and observation % 50 == 1 else observation % 1600
                w.writerow([observation, name, cls, int(cls % 30 == 0), f"species {cls}"])
                _touch(root / folder / name)
        paths.append(path)
    with open(root / "poison_status_list.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["class_id", "poisonous"])
        w.writerows((c, int(c % 30 == 0)) for c in range(1600))
    return paths


def gen_mammalnet(root: Path, n: int, frames: int = 32) -> list[Path]:
    """The annotation lists clips, not frames: the baseline is a CSV listing every frame (what is indexed)."""
    folder = root / "annotation" / "composition"
    folder.mkdir(parents=True)
    rows = []
    for split, share in (("train", 0), ("test", 1)):
        path = folder / f"{split}.csv"
        with open(path, "w") as f:
            for i in range(share, n // frames, 2):
                vid = f"v{i:06d}"
                f.write(f"trimmed_videos/{vid}.mp4 {i % 12} {i % 170}\n")
                for k in range(1, frames + 1):
                    _touch(root / "frames" / vid / f"frame_{k:02d}.jpg")
                    rows.append((f"frames/{vid}/frame_{k:02d}.jpg", str(i % 12), split))
    return _listing(root, rows)


def gen_ecdysis(root: Path, n: int) -> list[Path]:
    path = root / "metadata.csv"
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["id", "image_thumbnail_large", "visit_date", "gbif_class", "gbif_order", "gbif_family",
                    "gbif_genus", "gbif_species"])
        n_species = min(1500, max(2, n // 60))  # about 67 specimens per species at full size
        for i in range(n):
            name, sp = f"{i:08d}_large.jpg", i % n_species
            w.writerow([i, f"https://ecdysis.example.org/thumbs/{name}", f"2019-{i % 12 + 1:02d}-{i % 28 + 1:02d}",
                        "Insecta", f"Order{sp % 20}", f"Family{sp % 200}", f"Genus{sp % 800}", f"species {sp}"])
            _touch(root / "images" / name)
    return [path]


def gen_imagenet1k(root: Path, n: int) -> list[Path]:
    """The ILSVRC2012 files as unpacked: ``train/<wnid>/<wnid>_<n>.JPEG``, a flat ``val/`` and the devkit's ground
    truth (one ILSVRC2012_ID per validation image); a fifth of the images are validation images."""
    from biobench_tasks.imagenet1k import DEVKIT_DATA, GROUND_TRUTH, imagenet_classes

    classes = imagenet_classes()
    rows, truth = [], []
    for i in range(n):
        c = i % len(classes.wnids)
        if i % 5 == 4:
            rel = f"val/ILSVRC2012_val_{len(truth) + 1:08d}.JPEG"
            truth.append(f"{classes.ilsvrc_ids[c]}\n")
        else:
            rel = f"train/{classes.wnids[c]}/{classes.wnids[c]}_{i}.JPEG"
        _touch(root / rel)
        rows.append((rel, classes.wnids[c], rel.split("/", 1)[0]))
    (root / DEVKIT_DATA).mkdir(parents=True)
    (root / DEVKIT_DATA / GROUND_TRUTH).write_text("".join(truth))
    return _listing(root, rows)


GENERATORS: dict[str, Callable[[Path, int], list[Path]]] = {
    "tasks/newt": gen_newt, "tasks/kabr": gen_kabr, "tasks/herbarium19": gen_herbarium19,
    "tasks/plantnet": gen_plantnet, "tasks/iwildcam": gen_iwildcam, "tasks/fishnet": gen_fishnet,
    "tasks/beluga": gen_beluga, "tasks/fungiclef": gen_fungiclef, "tasks/plankton": gen_plankton,
    "tasks/mammalnet": gen_mammalnet, "tasks/inat21": gen_inat21, "tasks/ecdysis": gen_ecdysis,
    "tasks/imagenet-1k": gen_imagenet1k,
}


def _delimiter(path: Path) -> str:
    with open(path, newline="") as f:
        line = f.readline()
    return " " if " " in line and "," not in line else ","


def _read_csv(paths: list[Path]) -> int:
    """``csv.reader`` over every row, nothing kept (``json.load`` for a JSON file)."""
    rows = 0
    for path in paths:
        if path.suffix == ".json":
            with open(path) as f:
                rows += len(json.load(f).get("images", ()))
            continue
        with open(path, newline="") as f:
            for _ in csv.reader(f, delimiter=_delimiter(path)):
                rows += 1
    return rows


def _read_csv_by_name(paths: list[Path]) -> int:
    """``csv.DictReader`` into a list: the rows by column name (a header-less file gets numbered names); a JSON file
    (COCO annotations) is read with ``json.load``."""
    rows = 0
    for path in paths:
        if path.suffix == ".json":
            with open(path) as f:
                rows += len(json.load(f).get("images", ()))
            continue
        delimiter = _delimiter(path)
        with open(path, newline="") as f:
            first = next(csv.reader(f, delimiter=delimiter))
            f.seek(0)
            names = None if any(c and not c.replace(".", "").isdigit() and "/" not in c for c in first[:1]) else [
                f"c{i}" for i in range(len(first))]
            rows += len(list(csv.DictReader(f, fieldnames=names, delimiter=delimiter)))
    return rows


def _index(task_id: str, root: Path) -> Any:
    import warnings

    from biobench_core import SPLITS, load_task

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        task = load_task(task_id, root, {})
        return task, {split: task.chosen_examples(split) for split in SPLITS}


def _manifests(task: Any, examples: dict[str, Any]) -> None:
    for split, chosen in examples.items():
        task.manifest(split, chosen)


def _best(fn: Callable[[], Any], repeat: int = 3) -> tuple[float, Any]:
    times, out = [], None
    for _ in range(repeat):
        out = None  # the previous repetition's result is freed before the clock starts, not inside the timing
        start = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - start)
    return min(times), out


def run(quick: bool = False, tasks: list[str] | None = None) -> list[dict[str, Any]]:
    n = 10_000 if quick else N_IMAGES
    rows = []
    for task_id in tasks or list(GENERATORS):
        task = examples = None  # the previous task's index is freed before this one is timed
        root = Path(tempfile.mkdtemp(prefix="bench-index-"))
        try:
            metadata = GENERATORS[task_id](root, n)
            plain_s, n_rows = _best(lambda: _read_csv(metadata))
            csv_s, _ = _best(lambda: _read_csv_by_name(metadata))
            try:
                index_s, (task, examples) = _best(lambda: _index(task_id, root))
                manifest_s, _ = _best(lambda: _manifests(task, examples))
                n_examples, error = sum(len(e) for e in examples.values()), ""
            except Exception as exc:  # noqa: BLE001 - a format the generator got wrong is reported, not fatal
                index_s = manifest_s = float("nan")
                n_examples, error = 0, f"{type(exc).__name__}: {exc}"[:200]
            ratio = index_s / csv_s
            rows.append({"task": task_id, "images": n, "examples": n_examples, "csv_rows": n_rows,
                         "index_s": index_s, "csv_s": csv_s, "plain_csv_s": plain_s, "manifest_s": manifest_s,
                         "ratio": ratio, "ok": ratio <= TARGET, "error": error})
            print(f"{task_id}: {ratio:.2f}x ({index_s:.3f} s vs {csv_s:.3f} s) {error}", file=sys.stderr, flush=True)
        finally:
            shutil.rmtree(root, ignore_errors=True)
    return rows


def to_markdown(rows: list[dict[str, Any]]) -> str:
    lines = ["| task | images | examples | index (s) | csv.DictReader (s) | ratio | target | met | csv.reader (s) "
             "| index / csv.reader | core manifest (s) |",
             "|---|---:|---:|---:|---:|---:|---|---|---:|---:|---:|"]
    for r in rows:
        met = "yes" if r["ok"] else ("ERROR: " + r["error"] if r["error"] else "NO")
        lines.append(f"| {r['task']} | {r['images']:,} | {r['examples']:,} | {r['index_s']:.3f} | {r['csv_s']:.3f} | "
                     f"{r['ratio']:.2f} | <= {TARGET:g} | {met} | {r['plain_csv_s']:.3f} | "
                     f"{r['index_s'] / r['plain_csv_s']:.2f} | {r['manifest_s']:.3f} |")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="10,000 images per task instead of 100,000")
    parser.add_argument("tasks", nargs="*", help="task ids (default: all)")
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    print(to_markdown(run(args.quick, args.tasks or None)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
