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

__all__ = ["Example", "Task", "TaskDataError", "Evaluation"]

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
class Evaluation:
    """What :meth:`Task.evaluate` returns: per-example ``(id, score, info)`` and named sub-scores."""

    examples: list[tuple[str, float, dict[str, Any]]]
    splits: dict[str, float] = dataclasses.field(default_factory=dict)


class Task:
    """Base class for tasks. Subclasses implement :meth:`examples` and :meth:`load`.

    ``settings`` come from the command line (``--setting probe=simpleshot``); the base class understands
    ``probe`` (overrides the spec's protocol) and keeps the rest for the subclass.
    """

    needs_patches: bool = False
    data_version: str = "1"

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
        raise NotImplementedError

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

    def manifest(self, split: str) -> str:
        """A hash of everything that determines ``split``'s inputs: ids, labels and each file's size and mtime.

        The feature cache keys on it, so a changed, added or removed file never returns stale features.
        """
        digest = hashlib.sha256(f"{self.spec.id}\0{self.data_version}\0{split}".encode())
        for ex in self.examples(split):
            stamp = ""
            if ex.source is not None:
                try:
                    st = os.stat(ex.source)
                    stamp = f"{st.st_size}:{st.st_mtime_ns}"
                except OSError:
                    stamp = "missing"
            digest.update(f"\0{ex.id}\0{ex.label}\0{ex.group}\0{ex.source}\0{stamp}".encode())
        return digest.hexdigest()

    def evaluate(self, train: np.ndarray, test: np.ndarray, *, device: str = "cpu") -> Evaluation:
        """Fit this task's probe on ``train`` features and score every test example (1.0 = correct).

        ``train``/``test`` are float arrays with one row per example of :meth:`examples`, in order.
        Override for protocols that need more than one probe (e.g. one binary probe per sub-task).
        """
        from biobench_core.probes import make_probe

        train_examples, test_examples = self.examples("train"), self.examples("test")
        y_train = np.array([ex.label for ex in train_examples])
        y_test = np.array([ex.label for ex in test_examples])
        probe = make_probe(self.probe, device=device)
        probe.fit(train, y_train)
        pred = np.asarray(probe.predict(test))
        correct = (pred == y_test).astype(np.float64)
        names = self.class_names
        examples = [
            (ex.id, float(c), {"label": int(y), "pred": int(p)} | ({"pred_name": names[int(p)]} if names else {}))
            for ex, c, y, p in zip(test_examples, correct, y_test, pred, strict=True)
        ]
        splits: dict[str, float] = {}
        groups = sorted({ex.group for ex in test_examples if ex.group is not None})
        for group in groups:
            mask = np.array([ex.group == group for ex in test_examples])
            splits[group] = float(correct[mask].mean())
        return Evaluation(examples=examples, splits=splits)
