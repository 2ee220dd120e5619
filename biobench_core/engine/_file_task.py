"""A base class for tasks whose examples are image files in a data folder (``--data NAME=DIR``).

Every such task starts the same way: the base :class:`~biobench_core.Task` checks the settings and the folder,
then the task reads its index (a CSV, a JSON file, class folders) under the folder, and later decodes each
example's file to 8-bit RGB. :class:`ImageFileTask` owns that: a subclass implements :meth:`~ImageFileTask.read`
(fill ``split_examples``) and, when its files are not ``example.source``, :meth:`~ImageFileTask.image_path`.

It lives in the engine, not the contract, because :meth:`~ImageFileTask.load` decodes through
:func:`biobench_core.engine._images.load_rgb` (the contract imports nothing above it). Importing this module imports
neither torch nor PIL: PIL is imported when the first image is decoded.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from biobench_core.contract._specs import TaskSpec
from biobench_core.contract._tasks import Example, Task, TaskDataError

if TYPE_CHECKING:
    from PIL import Image

__all__ = ["ImageFileTask"]


class ImageFileTask(Task):
    """A task over image files under its data folder: builds :attr:`root`, calls :meth:`read`, decodes in :meth:`load`.

    ``Task.__init__`` runs first (so ``self.settings`` are checked), then :attr:`root` is the absolute data folder
    (or the folder :meth:`resolve_root` picks in it), then :meth:`read` builds the splits. A subclass that needs
    more in its constructor overrides ``__init__`` and calls ``super().__init__`` first.
    """

    #: The folder the task's files are under: :meth:`resolve_root` of the absolute data folder.
    root: Path

    def __init__(self, spec: TaskSpec, data: str | Path | None = None, settings: dict[str, str] | None = None):
        super().__init__(spec, data, settings)
        if self.data is None:  # only when the spec says needs_data=False; Task.__init__ refuses it otherwise
            raise TaskDataError(f"{spec.id}: needs a data folder: pass --data {spec.name}=DIR")
        self.root = self.resolve_root(self.data.absolute())
        self.read()

    def resolve_root(self, data: Path) -> Path:
        """The folder the task's files are under, given the absolute data folder (the folder itself by default)."""
        return data

    def read(self) -> None:
        """Read the task's index under :attr:`root` and fill ``split_examples``; a problem is a
        :class:`~biobench_core.TaskDataError` naming the file, folder or row."""
        raise NotImplementedError(f"{type(self).__name__} must implement read()")

    def image_path(self, example: Example) -> str | Path:
        """The file :meth:`load` decodes for ``example``: its ``source``, else ``root / example.id``."""
        return example.source if example.source is not None else self.root / example.id

    def load(self, example: Example) -> Image.Image | list[Image.Image]:
        from biobench_core.engine._images import load_rgb

        return load_rgb(self.image_path(example))
