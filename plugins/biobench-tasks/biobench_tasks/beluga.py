"""``tasks/beluga``: re-identification of individual beluga whales (Beluga ID 2022), leave-one-out k-NN.

**What it measures.** Whether images of the same individual whale lie close together in a frozen backbone's
feature space: every image is classified by its 5 nearest neighbours among all the *other* images, with no
training at all. Identities are told apart by scars and pigment marks on the back, a fine-grained cue.

**Citation.** The data: *Beluga ID 2022*, Cook Inlet Beluga Whale Photo-ID Project / Wild Me, released on
LILA BC with the DrivenData "Where's Whale-do?" competition (https://lila.science/datasets/beluga-id-2022/). The
protocol, as in BioBench (Stevens et al., 2025): Algasov et al., *Understanding the Impact of Training Set Size on
Animal Re-identification*, arXiv:2405.15976, 2024; Čermák et al., *WildlifeDatasets: An open-source toolkit for
animal re-identification*, WACV 2024.

**Data** (``--data beluga=DIR``; ``biobench data fetch tasks/beluga --to DIR`` downloads and unpacks LILA's
``beluga.coco.tar.gz``, ~590 MB, 5,902 images of 788 individuals)::

    DIR/beluga.coco/annotations/instances_train2022.json   COCO: images (id, file_name), annotations
                                                           (image_id, name = the individual, viewpoint)
    DIR/beluga.coco/images/train2022/<file_name>

Every image must have exactly one annotation (the dataset's images are pre-cropped to one whale); none or several
is an error naming the image. The identity is the annotation's ``name``; labels index the names in sorted order.
Example ids are the COCO ``file_name``; each example's group is ``viewpoint:<viewpoint>`` when the annotation has
one. Every image's existence is checked when the task is built (one folder listing).

**Protocol.** Leave-one-out k-nearest neighbours, k = 5, Euclidean distance on the raw features, one vote per
neighbour, a tie in the vote going to the lowest label: exactly scikit-learn's
``KNeighborsClassifier(n_neighbors=5).fit(X, y).predict(None)``, which is what BioBench runs. The ``probe``
setting is not accepted: the protocol is fixed.

*Splits.* The core extracts a train and a test split; here both hold every image. The train split is the
gallery (the images that vote), the test split the queries. A query never votes for itself: a gallery image is
skipped when it is the query (same id) or a byte-identical copy of the query's file (found before the first
evaluation by hashing the files whose sizes collide; a :class:`~biobench_tasks._formats.DataWarning` counts them).
This costs a second extraction of the same images (the feature cache stores them twice) but needs no core change, and
it gives ``n_train`` a meaning: ``--set n_train=N`` keeps a gallery of N images balanced over individuals, while
every image is still a query (a query outside the gallery has nothing to exclude).

**Metric.** Macro-F1 over every individual (the core's ``macro-f1-all``, BioBench's convention: an individual absent
from the truth and the predictions would score 0; every individual is a query, so none is). ``Evaluation.splits``:
``top1-accuracy`` (the fraction of images whose predicted individual is right), and macro-F1 per
``viewpoint:<viewpoint>`` group.

**Differences from the published BioBench protocol.**

* BioBench excludes the query by its row index only; here byte-identical copies of the query's file are excluded
  too, so a duplicated photo cannot find itself. Without duplicates (and without ``n_train``) the predictions are
  the same.
* BioBench's ``n_train`` is ignored for this task; here it sizes the gallery.
* BioBench's macro-F1 averages over every label from 0 to the largest seen; every individual occurs in the truth,
  so this is the same number. The ids are the COCO file names (BioBench: the COCO image ids).
* BioBench runs in mixed precision on the GPU; the distances here are float64.
"""

from __future__ import annotations

import hashlib
import json
import os
import warnings
from collections import defaultdict
from pathlib import Path, PurePosixPath
from typing import Any

import numpy as np

from biobench_core import DataRecipe, Download, Evaluation, Example, ImageFileTask, SplitFeatures, TaskDataError
from biobench_tasks._formats import DataWarning, FileIndex, class_index

__all__ = ["Beluga", "DATA", "ANNOTATIONS", "IMAGES", "K", "loo_knn"]

ANNOTATIONS = "beluga.coco/annotations/instances_train2022.json"
IMAGES = "beluga.coco/images/train2022"
#: Neighbours that vote, as published.
K = 5

DATA = DataRecipe(
    downloads=(
        Download("http://us-west-2.opendata.source.coop.s3.amazonaws.com/agentmorris/lila-wildlife/wild-me/"
                 "beluga.coco.tar.gz", "beluga.coco.tar.gz", unpack=True),
    ),
    notes="LILA BC's Beluga ID 2022 (the URL of the BioBench download script); LILA publishes no sha256. It "
          "unpacks to beluga.coco/annotations/instances_train2022.json and beluga.coco/images/train2022/.",
)


class Beluga(ImageFileTask):
    """Beluga ID 2022: leave-one-out 5-NN over every image; see the module docstring."""

    settings_schema = {"probe": None}  # the protocol is leave-one-out k-NN, not a probe fitted on train
    leave_one_out = True  # train (the gallery) and test (the queries) are the same images

    def read(self) -> None:
        path = self.root / ANNOTATIONS
        images_dir = self.root / IMAGES
        coco = _read_json(path)
        images = _entries(coco, "images", path)
        annotations = _entries(coco, "annotations", path)
        if not images_dir.is_dir():
            raise TaskDataError(f"{images_dir}: missing folder: expected {IMAGES}/<file_name>")

        by_id: dict[Any, tuple[int, str]] = {}  # COCO image id -> (position in images, file_name)
        seen_names: dict[str, int] = {}
        for i, image in enumerate(images):
            image_id, file_name = image.get("id"), image.get("file_name")
            if image_id is None or file_name is None:
                _field(image, "file_name" if image_id is not None else "id", f"{path} images[{i}]")
            if not isinstance(file_name, str) or not file_name.strip():
                raise TaskDataError(f"{path} images[{i}]: file_name {file_name!r} is not a file name")
            if isinstance(image_id, (dict, list)):
                raise TaskDataError(f"{path} images[{i}]: id {image_id!r} is not an image id")
            if image_id in by_id:
                raise TaskDataError(f"{path} images[{i}]: duplicate image id {image_id!r} (first at "
                                    f"images[{by_id[image_id][0]}])")
            if file_name in seen_names:
                raise TaskDataError(f"{path} images[{i}]: duplicate file_name {file_name} "
                                    f"(first at images[{seen_names[file_name]}])")
            by_id[image_id] = (i, file_name)
            seen_names[file_name] = i

        found: dict[Any, list[int]] = defaultdict(list)  # image id -> positions of its annotations
        for j, ann in enumerate(annotations):
            image_id = ann.get("image_id")
            if image_id is None:
                _field(ann, "image_id", f"{path} annotations[{j}]")
            if isinstance(image_id, (dict, list)) or image_id not in by_id:
                raise TaskDataError(f"{path} annotations[{j}]: image_id {image_id!r} is not the id of any image in "
                                    "'images'")
            found[image_id].append(j)

        files = FileIndex()
        folder = os.fspath(images_dir) + os.sep
        present = files.names(images_dir)
        rows = []  # (file_name, identity, viewpoint, path)
        for image_id, (i, file_name) in by_id.items():
            positions = found.get(image_id, ())
            if len(positions) != 1:
                listed = f" (annotations{positions[:5]})" if positions else ""
                raise TaskDataError(f"{path} images[{i}] ({file_name}): {len(positions)} annotations{listed}; "
                                    "expected exactly one per image")
            ann = annotations[positions[0]]
            name = ann.get("name")
            if name is None:
                _field(ann, "name", f"{path} annotations[{positions[0]}]")
            identity = name.strip() if isinstance(name, str) else str(name)
            if not isinstance(name, (str, int)) or not identity:
                raise TaskDataError(f"{path} annotations[{positions[0]}]: name {name!r} is not an individual's name")
            if "/" in file_name:
                image_path = os.fspath(images_dir / PurePosixPath(file_name))
                missing = not files.exists(image_path)
            else:
                image_path, missing = folder + file_name, file_name not in present
            if missing:
                raise TaskDataError(f"{path} images[{i}] ({file_name}): image not found: {image_path}")
            rows.append((file_name, identity, ann.get("viewpoint"), image_path))
        if not rows:
            raise TaskDataError(f"{path}: no images")

        self._names = sorted({identity for _, identity, _, _ in rows})
        index = class_index(self._names)
        examples = tuple(Example(id=file_name, label=index[identity],
                                 group=f"viewpoint:{viewpoint}" if viewpoint not in (None, "") else None,
                                 source=image_path)
                         for file_name, identity, viewpoint, image_path in rows)
        # The gallery (train) and the queries (test) are the same images: leave-one-out.
        self.split_examples = {"train": examples, "test": examples}
        self._images_dir = images_dir
        self._copies: dict[str, str] | None = None

    @property
    def _copy_of(self) -> dict[str, str]:
        """Byte-identical copies (``{id: id of the first copy}``): found once, before the first evaluation (it reads
        every file's size, and the bytes of those whose sizes collide), with a warning when there are any."""
        if self._copies is None:
            self._copies = _byte_identical(self.split_examples["test"])
            if self._copies:
                first = next(iter(self._copies.items()))
                warnings.warn(f"{self._images_dir}: {len(self._copies)} images are byte-identical copies of others "
                              f"(e.g. {first[0]} = {first[1]}): a query's copies never vote for it", DataWarning,
                              stacklevel=3)
        return self._copies

    # -- the Task contract -----------------------------------------------------------------------------------

    def image_path(self, example: Example) -> str | Path:
        return example.source if example.source is not None else self.root / IMAGES / example.id

    @property
    def class_names(self) -> list[str]:
        return list(self._names)

    def evaluate(self, train: SplitFeatures, test: SplitFeatures, *, device: str = "cpu") -> Evaluation:
        """Each test image is classified by its K nearest train images other than itself and its copies."""
        from biobench_core import group_scores, metric_score

        def file_key(ex: Example) -> str:
            return self._copy_of.get(ex.id, ex.id)

        keys: dict[str, int] = {}
        gallery_keys = np.array([keys.setdefault(file_key(ex), len(keys)) for ex in train.examples], dtype=np.int64)
        query_keys = np.array([keys.setdefault(file_key(ex), len(keys)) for ex in test.examples], dtype=np.int64)
        pred = loo_knn(train.features, train.labels, gallery_keys, test.features, query_keys, k=K, device=device)
        y_true = test.labels
        correct = (pred == y_true).astype(np.float64)
        names = self._names
        examples = []
        for ex, ok, y, p in zip(test.examples, correct, y_true, pred, strict=True):
            info: dict[str, Any] = {"label": int(y), "pred": int(p), "name": names[int(y)],
                                    "pred_name": names[int(p)] if p >= 0 else None}
            examples.append((ex.id, float(ok), info))
        splits = {"top1-accuracy": metric_score("accuracy", y_true, pred)}
        splits |= group_scores(self.metric, [ex.group for ex in test.examples], y_true, pred)
        probe = {"probe": "leave-one-out knn", "k": K, "metric": "euclidean", "tie_break": "lowest label",
                 "gallery": len(train.examples), "excluded": "the query and byte-identical copies of it",
                 "device": str(device)}
        return Evaluation(examples=examples, splits=splits, probe=probe)


def loo_knn(gallery: np.ndarray, gallery_labels: np.ndarray, gallery_keys: np.ndarray, queries: np.ndarray,
            query_keys: np.ndarray, *, k: int = K, device: str = "cpu") -> np.ndarray:
    """k-NN labels of ``queries`` among ``gallery``, skipping gallery rows with the query's key.

    Euclidean distance in float64; neighbours ordered by distance, then gallery row (a stable sort); one vote
    each; a tie in the vote goes to the lowest label (scikit-learn's ``KNeighborsClassifier``). A query with no
    eligible neighbour gets -1 (no prediction). With ``gallery is queries`` and distinct keys this equals
    ``KNeighborsClassifier(n_neighbors=k).fit(gallery, labels).predict(None)``.
    """
    import torch

    from biobench_core import resolve_device, rows_per_chunk

    dev = resolve_device(device)
    labels = np.asarray(gallery_labels, dtype=np.int64)
    classes, label_idx = np.unique(labels, return_inverse=True)
    if len(queries) == 0:
        return np.empty(0, dtype=np.int64)
    if len(gallery) == 0:
        return np.full(len(queries), -1, dtype=np.int64)
    g = torch.as_tensor(np.asarray(gallery, dtype=np.float32), device=dev).double()
    g_sq = (g * g).sum(dim=1)
    g_keys = torch.as_tensor(np.asarray(gallery_keys, dtype=np.int64), device=dev)
    g_idx = torch.as_tensor(label_idx.reshape(-1), device=dev)
    kk = min(k, len(g))
    out = []
    step = rows_per_chunk(len(g) * 8 * 4)
    for start in range(0, len(queries), step):
        q = torch.as_tensor(np.asarray(queries[start:start + step], dtype=np.float32), device=dev).double()
        d = ((q * q).sum(dim=1, keepdim=True) - 2.0 * q @ g.T + g_sq).clamp_min_(0.0)
        q_keys = torch.as_tensor(np.asarray(query_keys[start:start + step], dtype=np.int64), device=dev)
        d[q_keys[:, None] == g_keys[None, :]] = torch.inf
        dist, order = torch.sort(d, dim=1, stable=True)
        dist, order = dist[:, :kk], order[:, :kk]
        valid = torch.isfinite(dist).double()
        votes = torch.zeros(len(q), len(classes), dtype=torch.float64, device=dev)
        votes.scatter_add_(1, g_idx[order], valid)
        best = votes.argmax(dim=1)  # the first maximum: the lowest label
        best = torch.where(valid.sum(dim=1) > 0, best, torch.full_like(best, -1))
        out.append(best.cpu())
    idx = torch.cat(out).numpy()
    return np.where(idx >= 0, classes[np.clip(idx, 0, None)], -1).astype(np.int64)


def _read_json(path: Path) -> dict:
    try:
        with open(path, encoding="utf-8") as f:
            coco = json.load(f)
    except FileNotFoundError:
        raise TaskDataError(f"{path}: file not found") from None
    except json.JSONDecodeError as exc:
        raise TaskDataError(f"{path}: not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise TaskDataError(f"{path}: cannot read: {type(exc).__name__}: {exc}") from None
    if not isinstance(coco, dict):
        raise TaskDataError(f"{path}: expected a COCO object with 'images' and 'annotations', got a "
                            f"{type(coco).__name__}")
    return coco


def _entries(coco: dict, key: str, path: Path) -> list[dict]:
    if key not in coco:
        raise TaskDataError(f"{path}: missing key {key!r} (a COCO file has 'images' and 'annotations')")
    entries = coco[key]
    if not isinstance(entries, list):
        raise TaskDataError(f"{path}: {key!r} is a {type(entries).__name__}, expected a list")
    for i, entry in enumerate(entries):
        if not isinstance(entry, dict):
            raise TaskDataError(f"{path} {key}[{i}]: expected an object, got {type(entry).__name__}")
    return entries


def _field(entry: dict, name: str, where: str) -> Any:
    if name not in entry or entry[name] is None:
        raise TaskDataError(f"{where}: missing {name!r}")
    return entry[name]


def _byte_identical(examples: tuple[Example, ...]) -> dict[str, str]:
    """``{id: id of the first example with the same bytes}`` for every later copy; only files whose sizes
    collide are read (and hashed)."""
    by_size: dict[int, list[Example]] = defaultdict(list)
    for ex in examples:
        try:
            by_size[os.stat(ex.source).st_size].append(ex)
        except OSError:
            continue  # reported by name when it is loaded
    copy_of: dict[str, str] = {}
    for group in by_size.values():
        if len(group) < 2:
            continue
        first: dict[str, str] = {}
        for ex in group:
            digest = _sha256(ex.source)
            if digest is None:
                continue
            if digest in first:
                copy_of[ex.id] = first[digest]
            else:
                first[digest] = ex.id
    return copy_of


def _sha256(path: str | None) -> str | None:
    if path is None:
        return None
    digest = hashlib.sha256()
    try:
        with open(path, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                digest.update(block)
    except OSError:
        return None
    return digest.hexdigest()
