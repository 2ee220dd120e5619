"""Shared by the video tasks (``tasks/kabr``, ``tasks/mammalnet``): a clip is a list of frame files.

A video task never decodes in a loop of its own: :meth:`VideoTask.load` returns the clip's frames as a list of
8-bit RGB PIL images, and the core's extraction loop encodes every frame and pools the frame features per clip with
the task's :attr:`~biobench_core.Task.frame_pooling` (``"max"`` here: both BioBench video tasks take the
maximum over frames). Which files make up each clip is fixed when the task is built (:attr:`VideoTask.clip_frames`),
so the frames never depend on the order in which workers load clips.

Torch-free and PIL-free at import: PIL is imported by :func:`biobench_core.load_rgb` when a frame is
decoded.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, ClassVar

from biobench_core import Example, ImageFileTask
from biobench_tasks._formats import DataWarning

if TYPE_CHECKING:
    from PIL import Image

__all__ = ["VideoTask", "clip_folder", "warn_unseen_test_labels"]


class VideoTask(ImageFileTask):
    """A task whose examples are clips of frame files; a subclass fills ``split_examples`` and ``clip_frames`` in
    :meth:`~biobench_core.ImageFileTask.read`."""

    frame_pooling: ClassVar[str] = "max"
    #: example id -> the absolute paths of the frames :meth:`load` returns, in temporal order.
    clip_frames: dict[str, tuple[str, ...]]

    def frame_paths(self, example: Example) -> tuple[str, ...]:
        """The files of the frames :meth:`load` decodes for ``example``, in temporal order."""
        return self.clip_frames[example.id]

    def files(self, example: Example) -> Sequence[str]:
        return self.frame_paths(example)

    def load(self, example: Example) -> list[Image.Image]:
        from biobench_core import load_rgb

        return [load_rgb(path) for path in self.frame_paths(example)]


def clip_folder(paths: Sequence[str]) -> str:
    """The folder holding a clip's frames ``paths`` (their common folder), the clip's ``Example.source``.

    The core stamps every frame :meth:`VideoTask.files` names (size and modification time) into the example's
    manifest, so a frame rewritten in place is a change too.
    """
    folders = {os.path.dirname(path) for path in paths}
    return folders.pop() if len(folders) == 1 else os.path.commonpath(sorted(folders))


def warn_unseen_test_labels(where: object, splits: Mapping[str, Sequence[Example]], what: str = "classes") -> None:
    """A :class:`DataWarning` when test clips carry labels no training clip has: they are kept (and score 0)."""
    seen = {ex.label for ex in splits["train"]}
    unseen = [ex for ex in splits["test"] if ex.label not in seen]
    if unseen:
        labels = sorted({ex.label for ex in unseen})
        shown = ", ".join(map(str, labels[:5])) + (", ..." if len(labels) > 5 else "")
        warnings.warn(f"{where}: {len(unseen)} test clips of {len(labels)} {what} without training clips (label "
                      f"{shown}; e.g. clip {unseen[0].id}): kept, they count in macro-F1 and cannot be predicted",
                      DataWarning, stacklevel=4)
