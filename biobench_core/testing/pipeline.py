"""Checking a declared preprocessing end to end: image files on disk, and the extraction loop's two paths.

A plugin that declares :meth:`VisionBackbone.preprocessing` promises features equal to its callable transform's.
:func:`pipeline_features` runs the one extraction loop both ways over an :class:`ImageFilesTask` (files written as
a task's files would be, decoded by :func:`biobench_core.engine._images.load_image`), so a plugin's tests compare what the
loop really does, file decoding included.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from biobench_core.engine._images import load_image
from biobench_core.contract._specs import TaskSpec
from biobench_core.contract._tasks import Example, Task

__all__ = ["photo_like_image", "ImageFilesTask", "pipeline_features", "MIXED_IMAGE_FILES", "LARGE_JPEG_FILES"]

#: (width, height, mode): larger and smaller than common crops, wide, tall, square, and the modes the loop meets.
MIXED_IMAGE_FILES = [(320, 240, "RGB"), (64, 48, "RGB"), (500, 120, "RGB"), (90, 260, "L"), (160, 160, "RGBA"),
                     (33, 21, "P"), (241, 199, "RGB"), (175, 300, "RGB")]

#: Large enough that the declared path decodes them at 1/2 scale for a 224-256 px geometry
#: (:func:`biobench_core.engine._images.decoding_for`).
LARGE_JPEG_FILES = [(1400, 1100, "RGB"), (1000, 1700, "RGB")]


def photo_like_image(width: int, height: int, mode: str, seed: int) -> Image.Image:
    """Smooth waves plus noise (so resampling filters differ as on photos), in ``mode``."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width]
    base = np.stack([np.sin(x / 17), np.cos(y / 11), np.sin((x + y) / 29)], axis=-1) * 90 + 128
    pixels = np.clip(base + rng.normal(0, 30, size=base.shape), 0, 255).astype(np.uint8)
    img = Image.fromarray(pixels, mode="RGB")
    return img.convert(mode, palette=Image.Palette.ADAPTIVE) if mode == "P" else img.convert(mode)


class ImageFilesTask(Task):
    """A task over image files written to ``folder`` (JPEG quality 90 for RGB, PNG for other modes), one per
    ``(width, height, mode)`` of ``sizes``, decoded as every task decodes them; every example is in ``train``."""

    def __init__(self, folder: str | Path, sizes: list[tuple[int, int, str]]) -> None:
        super().__init__(TaskSpec(id="test/files", factory="x:y", needs_data=False))
        self.paths = []
        for i, (width, height, mode) in enumerate(sizes):
            path = Path(folder) / f"img{i}.{'jpg' if mode == 'RGB' else 'png'}"
            photo_like_image(width, height, mode, seed=i).save(path, **({"quality": 90} if mode == "RGB" else {}))
            self.paths.append(path)

    def examples(self, split: str) -> list[Example]:
        return [Example(id=path.name, label=i % 2, source=str(path)) for i, path in enumerate(self.paths)]

    def load(self, example: Example) -> Image.Image:
        return load_image(example.source)


def pipeline_features(backbone: Any, task: Task, dtype: str = "fp32", batch_size: int = 4,
                      ) -> tuple[np.ndarray, np.ndarray]:
    """``task``'s train features on CPU through the declared preprocessing and through the callable transform.

    Raises ``AssertionError`` if the backbone declares nothing the loop can use (both would be the callable path)
    or the two paths kept different examples.
    """
    import torch

    from biobench_core.engine._extraction import extract, prepare_backbone

    device = torch.device("cpu")
    backbone = prepare_backbone(backbone, device, dtype)
    runs = [extract(backbone, task, "train", device=device, dtype=dtype, batch_size=batch_size, progress=False,
                    use_declared_preprocessing=declared) for declared in (True, False)]
    assert runs[1].pipeline == "callable transform" != runs[0].pipeline, "the declared path did not run"
    assert runs[0].split.examples == runs[1].split.examples and not runs[0].skipped
    return runs[0].split.features, runs[1].split.features
