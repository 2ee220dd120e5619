"""The task contract: what a task plugin's factory returns.

A task declares its data (train and test examples with stable ids, integer labels, optional groups), its
protocol (which probe) and its metric. It never writes an extraction loop: the core decodes images through
:meth:`Task.load`, batches them through the backbone, and hands the features to :meth:`Task.evaluate`.

A video task returns a list of frames from :meth:`Task.load`; the core encodes every frame and mean-pools them
into one feature vector per example.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from biobench_core.specs import TaskSpec

if TYPE_CHECKING:
    from PIL import Image

__all__ = ["Example", "Task", "TaskDataError", "Evaluation", "SplitFeatures"]

SPLITS = ("train", "test")


class TaskDataError(ValueError):
    """A task's data is missing or malformed; the message names the file, folder or row."""


@dataclasses.dataclass(frozen=True)
class Example:
    """One labelled example. ``source`` is the file it comes from (``None`` for in-memory data)."""

    id: str
    label: int
    group: str | None = None
    source: str | None = None


@dataclasses.dataclass
class SplitFeatures:
    """A split's features: row ``i`` of ``features`` (and ``patches``) belongs to ``examples[i]``.

    Examples whose image could not be decoded are absent, so use these examples, not :meth:`Task.examples`.
    """

    examples: list[Example]
    features: np.ndarray  # (n, dim) float32
    patches: np.ndarray | None = None  # (n, n_patches, patch_dim), only when the task needs patches

    @property
    def labels(self) -> np.ndarray:
        return np.array([ex.label for ex in self.examples], dtype=np.int64)


@dataclasses.dataclass
class Evaluation:
    """What :meth:`Task.evaluate` returns: per-example ``(id, score, info)`` and named sub-scores."""

    examples: list[tuple[str, float, dict[str, Any]]]
    splits: dict[str, float] = dataclasses.field(default_factory=dict)
    probe: dict[str, Any] = dataclasses.field(default_factory=dict)  # the fitted probe's chosen settings


class Task:
    """Base class for tasks. Subclasses implement :meth:`examples` and :meth:`load`.

    ``settings`` come from the command line (``--setting probe=simpleshot``); the base class understands
    ``probe`` (overrides the spec's protocol) and keeps the rest for the subclass.
    """

    needs_patches: bool = False
    data_version: str = "1"
    #: Subclasses with fixed splits fill this (``{"train": [...], "test": [...]}``) instead of overriding examples().
    split_examples: dict[str, Sequence[Example]] | None = None

    def __init__(self, spec: TaskSpec, data: str | Path | None = None, settings: dict[str, str] | None = None):
        self.spec = spec
        self.data = Path(data) if data is not None else None
        self.settings = dict(settings or {})
        self.probe = self.settings.get("probe", spec.protocol)
        self.metric = spec.metric
        if spec.needs_data:
            if self.data is None:
                raise TaskDataError(f"{spec.id}: needs a data folder: pass --data {spec.name}=DIR")
            if not self.data.is_dir():
                raise TaskDataError(f"{spec.id}: data folder {self.data} does not exist")

    # -- what subclasses implement ---------------------------------------------------------------------------

    def examples(self, split: str) -> Sequence[Example]:
        """The examples of ``split`` (``"train"`` or ``"test"``), in a stable order."""
        if self.split_examples is None:
            raise NotImplementedError(f"{type(self).__name__} must fill split_examples or override examples()")
        try:
            return self.split_examples[split]
        except KeyError:
            raise ValueError(f"unknown split {split!r}: expected one of {', '.join(self.split_examples)}") from None

    def load(self, example: Example) -> Image.Image | list[Image.Image]:
        """Decode one example: a PIL image, or a list of frames for a video clip."""
        raise NotImplementedError

    @property
    def class_names(self) -> list[str] | None:
        return None

    # -- what the core calls ---------------------------------------------------------------------------------

    def settings_key(self) -> str:
        """Settings that change results (they key the results store, not the feature cache)."""
        return ",".join(f"{k}={v}" for k, v in sorted({**self.settings, "probe": self.probe}.items()))

    def manifest(self, split: str, examples: Sequence[Example] | None = None) -> str:
        """A hash of everything that determines ``split``'s inputs: ids, labels and each file's size and mtime.

        ``examples`` defaults to the whole split (pass a prefix for ``--limit`` runs). The feature cache keys
        on it, so a changed, added or removed file never returns stale features.
        """
        digest = hashlib.sha256(f"{self.spec.id}\0{self.data_version}\0{split}".encode())
        for ex in self.examples(split) if examples is None else examples:
            stamp = ""
            if ex.source is not None:
                try:
                    st = os.stat(ex.source)
                    stamp = f"{st.st_size}:{st.st_mtime_ns}"
                except OSError:
                    stamp = "missing"
            digest.update(f"\0{ex.id}\0{ex.label}\0{ex.group}\0{ex.source}\0{stamp}".encode())
        return digest.hexdigest()

    def evaluate(self, train: SplitFeatures, test: SplitFeatures, *, device: str = "cpu") -> Evaluation:
        """Fit this task's probe on ``train`` and score every test example (1.0 = correct, 0.0 = wrong).

        Override for protocols that need more than one probe (e.g. one binary probe per sub-task). Sub-scores
        per example group go to ``Evaluation.splits``.
        """
        from biobench_core.probes import make_probe

        probe = make_probe(self.probe, device=device)
        probe.fit(train.features, train.labels)
        pred = np.asarray(probe.predict(test.features))
        y_test = test.labels
        correct = (pred == y_test).astype(np.float64)
        names = self.class_names
        examples = []
        for ex, ok, y, p in zip(test.examples, correct, y_test, pred, strict=True):
            info: dict[str, Any] = {"label": int(y), "pred": int(p)}
            if names:
                info["pred_name"] = names[int(p)] if 0 <= int(p) < len(names) else str(p)
            examples.append((ex.id, float(ok), info))
        splits: dict[str, float] = {}
        for group in sorted({ex.group for ex in test.examples if ex.group is not None}):
            mask = np.array([ex.group == group for ex in test.examples])
            splits[group] = float(correct[mask].mean())
        return Evaluation(examples=examples, splits=splits, probe=probe.describe())
