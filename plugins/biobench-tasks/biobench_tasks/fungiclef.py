"""``tasks/fungiclef``: FungiCLEF 2023, open-set fungus species recognition scored by the cost of its mistakes.

**What it measures.** Whether a nearest-centroid probe on frozen features names the species of a fungus
observation (several photos of one specimen) while recognising species it was never trained on as *unknown*, and
above all whether it avoids calling a poisonous species edible. The score is the competition's "user-focused"
cost, normalised so that 1 is perfect and 0 is the worst possible answer for every observation.

**Citation.** Picek, Šulc, Chamidullin, Matas. *Overview of FungiCLEF 2023: Fungi Recognition Beyond 1/0 Cost.*
CLEF 2023 Working Notes; the data, Picek et al., *Danish Fungi 2020 - Not Just Another Image Recognition Dataset*,
WACV 2022 (https://sites.google.com/view/danish-fungi-dataset). The evaluation code followed is BohemianVRA's
``FGVC-Competitions/FungiCLEF2023/evaluate.py``, as adapted in BioBench (Stevens et al., 2025).

**Data** (``--data fungiclef=DIR``; ``biobench data fetch tasks/fungiclef --to DIR`` downloads everything from
ptak.felk.cvut.cz, no login, ~9 GB)::

    DIR/FungiCLEF2023_train_metadata_PRODUCTION.csv   image_path, class_id, observationID (others unused)
    DIR/FungiCLEF2023_val_metadata_PRODUCTION.csv     the same columns; class_id -1 is an unknown species
    DIR/DF20_300/<image_path>                         training images (DF20, max side 300 px)
    DIR/DF21_300/<image_path>                         validation images (DF21, max side 300 px)
    DIR/poison_status_list.csv                        class_id, poisonous (1 = poisonous, 0 = not)

Columns are read by name. As in BioBench, an ``image_path`` that is not in its folder is also looked for in lower
case. Every image's existence is checked when the task is built (one listing per folder). Training rows with
``class_id`` -1 are left out with a :class:`~biobench_tasks._formats.DataWarning` (an unknown species is not a
class to learn); a class missing from the poison list counts as edible (as in the competition's code), with a
warning.

*Examples.* A training example is one image, its id the ``image_path``. A validation (test) example is one
*observation*: its id is the ``observationID`` and :meth:`FungiCLEF.load` returns all of its images as frames,
which the core encodes and mean-pools (``frame_pooling = "mean"``), as BioBench pools features per observation.
All rows of one observation must share a ``class_id`` (an error names the row otherwise). A validation class with
no training image is an unknown species, like ``class_id`` -1; the test examples' group is ``known`` or
``unknown``.

*Labels* encode what the metric needs: ``label = 2 * (class_id + 1) + poisonous``, so the unknown species is
label 0 (treated as edible, as by the competition), a known class ``c`` is ``2c + 2`` or ``2c + 3``;
``label // 2 - 1`` gives the class_id back and ``label % 2`` its poison status.

**Protocol.** SimpleShot (the core's ``simpleshot``: centre on the training mean, L2-normalise, nearest class
centroid; ``--set probe=...`` picks another closed-set probe) names a known class; an open-set rule fitted on the
training features only then turns a prediction into *unknown* (label 0) when the test example's squared
Mahalanobis distance to the nearest class mean exceeds the 95th percentile of the training images' own distances
(Lee et al., NeurIPS 2018). The covariance is the within-class covariance of the raw features pooled over
classes, with Ledoit-Wolf shrinkage (``sklearn.covariance.ledoit_wolf`` of the class-centred features). Runs on
the evaluation's device (CPU or GPU), in float64.

**Metric** ``fungiclef-cost-score`` (:func:`cost_score`): ``1 - sum(cost) / sum(worst)`` over the examples, where an
example's cost is the competition's

* classification part: 10 when an unknown species is given a known class, 0.1 when a known species is called
  unknown, 1 when a known species is given another known class, 0 when right;
* poison part: 100 when a poisonous species is predicted as a non-poisonous class (or unknown), 1 when a
  non-poisonous species (or an unknown one) is predicted as a poisonous class;

and ``worst`` is the largest cost any prediction could have for that example: ``(10 if unknown else 1) +
(100 if poisonous else 1)``, i.e. 11 for an unknown species (called a known poisonous class), 101 for a known
poisonous species (called another, edible class) and 2 for a known edible one (called another, poisonous class).
This is BioBench's normalisation (``user_loss_score_normalized``) written per example. A prediction of -1 (the
backbone could not score the example) costs the worst case. ``Evaluation.splits``: ``macro-f1`` (the core's
macro-F1 over the labels, i.e. over species with *unknown* as one more class, scikit-learn's convention, as the
competition reports it) and the cost score over the ``known`` and the ``unknown`` observations.

**n_train.** ``--set n_train=N`` keeps N training images balanced over species (the core's nested sample). A
validation species left without training images becomes unknown, as in BioBench.

**Differences from the published BioBench protocol.**

* BioBench's open-set covariance is ``LinearDiscriminantAnalysis(solver="eigen", shrinkage="auto")``'s: a
  Ledoit-Wolf shrinkage per class, averaged over classes by their priors; here one Ledoit-Wolf shrinkage of the
  pooled within-class covariance (the same matrix without shrinkage), which needs no per-class estimate for the
  many species with one or two images and is computed in chunks on the evaluation's device.
* BioBench's SimpleShot returns the index of the nearest centroid, which is the class only when every class id
  from 0 has training images (not so with a small ``n_train``); here predictions are the class labels.
* BioBench hard-codes ``cuda:0`` for SimpleShot; here the evaluation's device is used.
* Training rows with ``class_id`` -1 are left out (BioBench would learn "-1" as a class); none are expected.
"""

from __future__ import annotations

import dataclasses
import os
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from biobench_core import DataRecipe, Download, Evaluation, Example, ImageFileTask, SplitFeatures, TaskDataError
from biobench_tasks._formats import DataWarning, FileIndex, read_columns

if TYPE_CHECKING:
    from PIL import Image

__all__ = ["FungiCLEF", "DATA", "cost_score", "cost_score_replicates", "encode", "decode", "OpenSetRule",
           "fit_open_set", "within_class_covariance", "UNKNOWN", "TRAIN_CSV", "VAL_CSV", "TRAIN_DIR", "VAL_DIR",
           "POISON_CSV"]

TRAIN_CSV = "FungiCLEF2023_train_metadata_PRODUCTION.csv"
VAL_CSV = "FungiCLEF2023_val_metadata_PRODUCTION.csv"
TRAIN_DIR = "DF20_300"
VAL_DIR = "DF21_300"
POISON_CSV = "poison_status_list.csv"
REQUIRED = ("image_path", "class_id", "observationID")
#: The label of an unknown species (class_id -1, not poisonous).
UNKNOWN = 0
#: Percentile of the training images' own Mahalanobis distances beyond which a test example is unknown.
PERCENTILE = 95.0

# The competition's costs.
COST_UNKNOWN_AS_KNOWN = 10.0
COST_KNOWN_AS_UNKNOWN = 0.1
COST_WRONG_KNOWN = 1.0
COST_POISONOUS_AS_EDIBLE = 100.0
COST_EDIBLE_AS_POISONOUS = 1.0

_BASE = "http://ptak.felk.cvut.cz/plants/DanishFungiDataset"
DATA = DataRecipe(
    downloads=(
        Download(f"{_BASE}/DF20-300px.tar.gz", "DF20-300px.tar.gz", unpack=True),
        Download(f"{_BASE}/DF21_300px.tar.gz", "DF21_300px.tar.gz", unpack=True),
        Download(f"{_BASE}/{TRAIN_CSV}", TRAIN_CSV),
        Download(f"{_BASE}/{VAL_CSV}", VAL_CSV),
        Download(f"{_BASE}/{POISON_CSV}", POISON_CSV),
    ),
    notes="The URLs of the BioBench download script and of the competition's evaluation code (poison list); the "
          "source publishes no checksums. The archives unpack to DF20_300/ (~6.5 GB) and DF21_300/ (~2.5 GB).",
)


def encode(class_id: int, poisonous: bool) -> int:
    """The label of a class: ``2 * (class_id + 1) + poisonous``; class_id -1 (unknown) gives 0 or 1."""
    return 2 * (int(class_id) + 1) + int(bool(poisonous))


def decode(label: int) -> tuple[int, bool]:
    """``(class_id, poisonous)`` of a label (class_id -1 for the unknown species)."""
    return int(label) // 2 - 1, bool(int(label) % 2)


class FungiCLEF(ImageFileTask):
    """FungiCLEF 2023: SimpleShot + Mahalanobis open-set rule, observations pooled; see the module docstring."""

    open_set = True  # unknown species (label 0) are in the test split only, by design

    def read(self) -> None:
        self._files = FileIndex()
        poisonous = self._read_poison_list()
        train = self._read_train(poisonous)
        self._frames: dict[str, tuple[str, ...]] = {}
        test = self._read_val(poisonous, {decode(ex.label)[0] for ex in train})
        self.split_examples = {"train": tuple(train), "test": tuple(test)}

    # -- reading ---------------------------------------------------------------------------------------------

    def _read_poison_list(self) -> dict[int, bool]:
        path = self.root / POISON_CSV
        if not path.is_file():
            raise TaskDataError(f"{path}: file not found (the poisonous-species list; 'biobench data fetch "
                                f"tasks/fungiclef --to DIR' downloads it)")
        columns = ("class_id", "poisonous")
        table = read_columns(path, columns)
        status: dict[int, tuple[bool, str]] = {}
        for i, (class_cell, cell) in enumerate(zip(table.column("class_id"), table.column("poisonous"))):
            where = table.where(i)
            if not (class_cell and cell):
                raise TaskDataError(f"{where}: empty {table.empty(i, columns)!r}")
            class_id = _int_cell(class_cell, "class_id", where)
            if cell not in ("0", "1"):
                raise TaskDataError(f"{where}: poisonous {cell!r} is not 0 or 1")
            value = cell == "1"
            if class_id in status and status[class_id][0] != value:
                raise TaskDataError(f"{where}: class_id {class_id} is poisonous={cell} here but "
                                    f"poisonous={int(status[class_id][0])} in {status[class_id][1]}")
            status.setdefault(class_id, (value, where))
        return {class_id: value for class_id, (value, _) in status.items()}

    def _locator(self, folder: Path) -> Callable[[str], str | None]:
        """``locate(name)``: the path of image ``name`` in ``folder`` (as written, else in lower case) from one
        listing of the folder, or ``None`` when it is not there."""
        present = self._files.names(folder)
        prefix = f"{folder}{os.sep}"

        def locate(name: str) -> str | None:
            if "/" not in name:
                if name in present:
                    return prefix + name
                if name.lower() in present:
                    return prefix + name.lower()
                return None
            for candidate in (name, name.lower()):
                if self._files.exists(folder / candidate):
                    return str(folder / candidate)
            return None

        return locate

    def _rows(self, csv_name: str) -> list[tuple[str, str, int, Callable[[], str]]]:
        """``(image_path, observationID, class_id, row index)`` per row of a metadata file; ``self._where(index)``
        names the row of the file read last."""
        table = read_columns(self.root / csv_name, REQUIRED)
        paths, obs, classes = table.column("image_path"), table.column("observationID"), table.column("class_id")
        rows = []
        where = table.where
        for i, (path, observation, cell) in enumerate(zip(paths, obs, classes)):
            if not (path and observation and cell):
                raise TaskDataError(f"{where(i)}: empty {table.empty(i, REQUIRED)!r}")
            class_id = int(cell) if cell.isdigit() else _int_cell(cell, "class_id", where(i))
            if class_id < -1:
                raise TaskDataError(f"{where(i)}: class_id {class_id} is not a class (>= 0) or -1 (unknown)")
            rows.append((path, observation, class_id, i))
        self._where = where
        if not rows:
            raise TaskDataError(f"{self.root / csv_name}: no rows")
        return rows

    def _read_train(self, poisonous: dict[int, bool]) -> list[Example]:
        folder = self.root / TRAIN_DIR
        if not folder.is_dir():
            raise TaskDataError(f"{folder}: missing folder: expected {TRAIN_DIR}/<image_path>")
        examples, seen, n_unknown = [], {}, 0
        locate = self._locator(folder)
        rows = self._rows(TRAIN_CSV)
        where = self._where
        for image_path, _, class_id, row in rows:
            if class_id == -1:
                n_unknown += 1
                continue
            if image_path in seen:
                raise TaskDataError(f"{where(row)}: duplicate image_path {image_path} "
                                    f"(first in {where(seen[image_path])})")
            seen[image_path] = row
            source = locate(image_path)
            if source is None:
                raise TaskDataError(f"{where(row)}: image not found: {folder / image_path}")
            examples.append(Example(id=image_path, label=encode(class_id, poisonous.get(class_id, False)),
                                    source=source))
        if n_unknown:
            warnings.warn(f"{self.root / TRAIN_CSV}: {n_unknown} rows with class_id -1 (unknown species) left out of "
                          "training", DataWarning, stacklevel=5)
        if not examples:
            raise TaskDataError(f"{self.root / TRAIN_CSV}: no training rows with a class_id >= 0")
        missing = sorted({decode(ex.label)[0] for ex in examples} - set(poisonous))
        if missing:
            warnings.warn(f"{self.root / POISON_CSV}: {len(missing)} training classes are not listed (e.g. class_id "
                          f"{missing[0]}): they count as not poisonous", DataWarning, stacklevel=5)
        return examples

    def _read_val(self, poisonous: dict[int, bool], train_classes: set[int]) -> list[Example]:
        folder = self.root / VAL_DIR
        if not folder.is_dir():
            raise TaskDataError(f"{folder}: missing folder: expected {VAL_DIR}/<image_path>")
        observations: dict[str, tuple[int, int, list[str]]] = {}  # id -> (class_id, first row, frames)
        locate = self._locator(folder)
        rows = self._rows(VAL_CSV)
        where = self._where
        for image_path, obs_id, class_id, row in rows:
            source = locate(image_path)
            if source is None:
                raise TaskDataError(f"{where(row)}: image not found: {folder / image_path}")
            if obs_id not in observations:
                observations[obs_id] = (class_id, row, [source])
                continue
            first_class, first_row, frames = observations[obs_id]
            if class_id != first_class:
                raise TaskDataError(f"{where(row)}: observationID {obs_id} has class_id {class_id} here but "
                                    f"{first_class} in {where(first_row)}")
            if source in frames:
                raise TaskDataError(f"{where(row)}: image {image_path} is listed twice for observationID {obs_id}")
            frames.append(source)
        examples = []
        for obs_id, (class_id, _, frames) in observations.items():
            known = class_id in train_classes
            label = encode(class_id, poisonous.get(class_id, False)) if known else UNKNOWN
            self._frames[obs_id] = tuple(frames)
            examples.append(Example(id=obs_id, label=label, group="known" if known else "unknown", source=frames[0]))
        return examples

    # -- the Task contract -----------------------------------------------------------------------------------

    def load(self, example: Example) -> Image.Image | list[Image.Image]:
        frames = self._frames.get(example.id)
        if frames is not None and example.group is not None:  # a validation observation: all its images
            from biobench_core import load_rgb

            return [load_rgb(path) for path in frames]
        return super().load(example)

    def image_path(self, example: Example) -> str | Path:
        return example.source if example.source is not None else self.root / TRAIN_DIR / example.id

    def files(self, example: Example) -> Sequence[str]:
        """Every image of a validation observation (so :meth:`manifest` stamps each), else the image itself."""
        frames = self._frames.get(example.id)
        if frames is not None and example.group is not None:
            return frames
        return super().files(example)

    def evaluate(self, train: SplitFeatures, test: SplitFeatures, *, device: str = "cpu") -> Evaluation:
        """SimpleShot names a known class; the Mahalanobis rule fitted on ``train`` turns it into unknown."""
        from biobench_core import group_scores, make_probe, metric_score

        train_labels = train.labels
        y_true = np.where(np.isin(test.labels, np.unique(train_labels)), test.labels, UNKNOWN)
        probe = make_probe(self.probe, device=device, seed=self.seed)
        probe.fit(train.features, train_labels)
        closed = np.asarray(probe.predict(test.features), dtype=np.int64)
        rule = fit_open_set(train.features, train_labels, device=device)
        distance = rule.distances(test.features)
        known = distance <= rule.threshold
        pred = np.where(known, closed, UNKNOWN).astype(np.int64)

        correct = (pred == y_true).astype(np.float64)
        examples = []
        for ex, ok, y, p, d in zip(test.examples, correct, y_true, pred, distance, strict=True):
            class_id, poison = decode(y)
            pred_id, pred_poison = decode(p)
            info: dict[str, Any] = {"label": int(y), "pred": int(p), "class_id": class_id, "poisonous": poison,
                                    "pred_class_id": pred_id, "pred_poisonous": pred_poison,
                                    "mahalanobis_sq": float(d)}
            examples.append((ex.id, float(ok), info))
        groups = ["unknown" if y == UNKNOWN else "known" for y in y_true]
        splits = {"macro-f1": metric_score("macro-f1", y_true, pred)}
        splits |= group_scores(self.metric, groups, y_true, pred)
        described = probe.describe() | {
            "open_set": "mahalanobis (pooled within-class covariance, Ledoit-Wolf shrinkage)",
            "percentile": PERCENTILE, "threshold": rule.threshold, "shrinkage": rule.shrinkage,
            "rejected": float(np.mean(~known)),
        }
        return Evaluation(examples=examples, splits=splits, probe=described)


def _int_cell(cell: str, column: str, where: str) -> int:
    try:
        return int(cell)
    except ValueError:
        try:
            value = float(cell)
        except ValueError:
            value = float("nan")
        if value == value and value == int(value):  # "12.0", as some exports write integers
            return int(value)
        raise TaskDataError(f"{where}: {column} {cell!r} is not an integer") from None


# -- the open-set rule ---------------------------------------------------------------------------------------------


@dataclasses.dataclass
class OpenSetRule:
    """Squared Mahalanobis distance to the nearest class mean, and the threshold beyond which it is unknown."""

    chol: Any  # torch (d, d) lower Cholesky factor of the shrunk covariance
    means_white: Any  # torch (classes, d): the class means whitened by ``chol``
    threshold: float
    shrinkage: float
    device: Any

    def distances(self, X: np.ndarray) -> np.ndarray:
        """Squared Mahalanobis distance of each row of ``X`` to its nearest class mean (float64)."""
        import torch

        from biobench_core import rows_per_chunk

        X = np.asarray(X, dtype=np.float32)
        m = self.means_white
        m_sq = (m * m).sum(dim=1)
        out = []
        step = rows_per_chunk((X.shape[1] + len(m)) * 8 * 3)
        for start in range(0, len(X), step):
            x = torch.as_tensor(X[start:start + step], device=self.device).double()
            z = torch.linalg.solve_triangular(self.chol, x.T, upper=False).T
            d2 = ((z * z).sum(dim=1, keepdim=True) - 2.0 * z @ m.T + m_sq).clamp_min_(0.0)
            out.append(d2.min(dim=1).values.cpu())
        return torch.cat(out).numpy() if out else np.empty(0)


def within_class_covariance(X: np.ndarray, y: np.ndarray, *, device: str = "cpu"):
    """``(class means, shrunk covariance, shrinkage)`` as torch float64 tensors on ``device`` (shrinkage a float).

    The covariance is ``sklearn.covariance.ledoit_wolf(X - means[y], assume_centered=True)``: the biased
    within-class covariance ``S`` pooled over classes, shrunk towards ``trace(S) / d * I``.
    """
    import torch

    from biobench_core import resolve_device, rows_per_chunk

    dev = resolve_device(device)
    X = np.asarray(X, dtype=np.float32)
    n, d = X.shape
    classes, idx = np.unique(np.asarray(y), return_inverse=True)
    idx_t = torch.as_tensor(idx.reshape(-1), device=dev)
    step = rows_per_chunk(d * 8 * 4)
    sums = torch.zeros(len(classes), d, dtype=torch.float64, device=dev)
    for start in range(0, n, step):
        sums.index_add_(0, idx_t[start:start + step], torch.as_tensor(X[start:start + step], device=dev).double())
    means = sums / torch.bincount(idx_t, minlength=len(classes)).double()[:, None]
    scatter = torch.zeros(d, d, dtype=torch.float64, device=dev)
    fourth = 0.0  # sum over rows of |x - mean|^4
    for start in range(0, n, step):
        xc = torch.as_tensor(X[start:start + step], device=dev).double() - means[idx_t[start:start + step]]
        scatter += xc.T @ xc
        fourth += float(((xc * xc).sum(dim=1) ** 2).sum())
    emp = scatter / n
    mu = float(torch.trace(emp)) / d
    emp_sq = float((emp * emp).sum())
    # Ledoit-Wolf (as sklearn.covariance.ledoit_wolf_shrinkage computes it).
    delta = (emp_sq - 2.0 * mu * mu * d + d * mu * mu) / d
    beta = (fourth / n - emp_sq) / (d * n)
    beta = min(beta, delta)
    shrinkage = 0.0 if d == 1 or beta <= 0 or delta <= 0 else beta / delta
    cov = (1.0 - shrinkage) * emp + shrinkage * mu * torch.eye(d, dtype=torch.float64, device=dev)
    return means, cov, shrinkage


def fit_open_set(X: np.ndarray, y: np.ndarray, *, device: str = "cpu", percentile: float = PERCENTILE) -> OpenSetRule:
    """The rule fitted on training features ``X`` and labels ``y`` only: the threshold is the ``percentile``-th
    percentile (linear interpolation, ``np.percentile``) of the training rows' own distances."""
    import torch

    from biobench_core import resolve_device

    dev = resolve_device(device)
    means, cov, shrinkage = within_class_covariance(X, y, device=device)
    d = cov.shape[0]
    scale = max(float(torch.trace(cov)) / d, 1e-12)
    eye = torch.eye(d, dtype=torch.float64, device=dev)
    for jitter in (0.0, 1e-10, 1e-8, 1e-6, 1e-4, 1e-2, 1.0):  # a singular covariance (no shrinkage possible)
        chol, info = torch.linalg.cholesky_ex(cov + jitter * scale * eye)
        if int(info) == 0:
            break
    else:
        raise RuntimeError("fungiclef: the within-class covariance of the training features is not positive definite")
    means_white = torch.linalg.solve_triangular(chol, means.T, upper=False).T
    rule = OpenSetRule(chol, means_white, threshold=float("inf"), shrinkage=float(shrinkage), device=dev)
    rule.threshold = float(np.percentile(rule.distances(X), percentile))
    return rule


# -- the metric ------------------------------------------------------------------------------------------------


def _costs(y_true, y_pred) -> tuple[np.ndarray, np.ndarray]:
    """Per-example competition cost and worst possible cost, from the encoded labels."""
    t, p = np.asarray(y_true, dtype=np.int64), np.asarray(y_pred, dtype=np.int64)
    if t.shape != p.shape or t.ndim != 1:
        raise ValueError(f"y_true and y_pred must be 1-D of one length, got shapes {t.shape} and {p.shape}")
    if np.any(t < 0):
        raise ValueError("cost_score: true labels must be >= 0 (2 * (class_id + 1) + poisonous)")
    none = p < 0  # -1: no prediction
    t_unknown, t_poison = t // 2 == 0, t % 2 == 1
    p_unknown, p_poison = (p // 2 == 0) & ~none, (p % 2 == 1) & ~none
    same_class = t // 2 == p // 2
    classification = np.where(t_unknown, np.where(p_unknown, 0.0, COST_UNKNOWN_AS_KNOWN),
                              np.where(p_unknown, COST_KNOWN_AS_UNKNOWN, np.where(same_class, 0.0, COST_WRONG_KNOWN)))
    poison = (COST_POISONOUS_AS_EDIBLE * (t_poison & ~p_poison)
              + COST_EDIBLE_AS_POISONOUS * (~t_poison & p_poison))
    worst = (np.where(t_unknown, COST_UNKNOWN_AS_KNOWN, COST_WRONG_KNOWN)
             + np.where(t_poison, COST_POISONOUS_AS_EDIBLE, COST_EDIBLE_AS_POISONOUS))
    return np.where(none, worst, classification + poison), worst


def cost_score(y_true, y_pred) -> float:
    """``1 - sum(cost) / sum(worst)``: FungiCLEF 2023's user-focused cost, normalised (1 = every example right).

    Labels are ``2 * (class_id + 1) + poisonous`` (0: unknown species). See the module docstring for the costs
    and the worst case; -1 (no prediction) costs the worst case.
    """
    cost, worst = _costs(y_true, y_pred)
    if cost.size == 0:
        raise ValueError("cost_score: no examples")
    return float(1.0 - cost.sum() / worst.sum())


def cost_score_replicates(y_true, y_pred, weights) -> np.ndarray:
    """``cost_score`` on each bootstrap replicate; ``weights[r, i]`` is how often example i is drawn."""
    cost, worst = _costs(y_true, y_pred)
    w = np.asarray(weights, dtype=np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        return 1.0 - (w @ cost) / (w @ worst)


