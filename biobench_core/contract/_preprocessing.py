"""A backbone's preprocessing as data: resize, centre crop, interpolation, mean and std.

A backbone that declares its preprocessing (:meth:`VisionBackbone.preprocessing
<biobench_core.contract._backbone.VisionBackbone.preprocessing>`, contract 2) lets the extraction loop split it in two:

- the *geometry* (:class:`Geometry`: resize, centre crop, interpolation) runs where images are decoded, in the
  DataLoader workers, on 8-bit pixels (:func:`apply_geometry`), so batches cross to the main process as uint8,
  a quarter of the bytes of float32, and can be kept on disk and shared by every backbone with the same geometry
  (:mod:`biobench_core.engine._pixel_cache`);
- the *normalisation* (mean and std, and the cast to the run's dtype) runs on the device, on whole batches
  (:func:`normalise`).

The two together compute exactly what torchvision's ``Resize(size, interpolation)``, ``CenterCrop(crop)``,
``ToTensor()`` and ``Normalize(mean, std)`` compute on a PIL image: the same output size arithmetic, PIL's own
resampling, the same crop offsets (zero padding where the crop is larger than the image), the same float32
operations in the same order. On CPU the pixels are bit for bit those of the torchvision pipeline; the tests
check it against torchvision and against the timm and open_clip plugins' own transforms.

A backbone whose preprocessing is something else (a letterbox with a fill colour, a learned resize) declares
nothing and keeps its callable transform (``make_img_transform``); the extraction loop then works as before.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
from PIL import Image

__all__ = ["Geometry", "Preprocessing", "apply_geometry", "normalise", "INTERPOLATIONS", "resized_size",
           "crop_box"]

#: Interpolation names (as timm, open_clip and torchvision spell them) and PIL's resampling filters.
INTERPOLATIONS: dict[str, int] = {
    "nearest": Image.Resampling.NEAREST,
    "bilinear": Image.Resampling.BILINEAR,
    "bicubic": Image.Resampling.BICUBIC,
    "lanczos": Image.Resampling.LANCZOS,
    "box": Image.Resampling.BOX,
    "hamming": Image.Resampling.HAMMING,
}


def _pair(value: Any, name: str) -> tuple[int, int]:
    if isinstance(value, int) and not isinstance(value, bool):
        value = (value, value)
    if (not isinstance(value, (tuple, list)) or len(value) != 2
            or not all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in value)):
        raise ValueError(f"{name} must be a positive int or a pair (height, width) of them, got {value!r}")
    return int(value[0]), int(value[1])


@dataclasses.dataclass(frozen=True)
class Geometry:
    """What happens to an image's pixels before normalisation: its shape on the way in to the backbone.

    ``resize``: an ``int`` resizes the *shorter* side to that many pixels, keeping the aspect ratio (the longer
    side becomes ``int(resize * long / short)``, as torchvision computes it); a pair ``(height, width)`` resizes
    to exactly that size (a squash). ``crop``: the centre crop ``(height, width)`` taken after resizing, or
    ``None``. ``interpolation``: one of :data:`INTERPOLATIONS` (PIL's filters, antialiased when shrinking).
    """

    resize: int | tuple[int, int]
    crop: tuple[int, int] | None = None
    interpolation: str = "bilinear"

    def __post_init__(self) -> None:
        if isinstance(self.resize, (tuple, list)):
            object.__setattr__(self, "resize", _pair(self.resize, "resize"))
        elif not isinstance(self.resize, int) or isinstance(self.resize, bool) or self.resize <= 0:
            raise ValueError(f"resize must be a positive int or a pair (height, width), got {self.resize!r}")
        if self.crop is not None:
            object.__setattr__(self, "crop", _pair(self.crop, "crop"))
        if self.interpolation not in INTERPOLATIONS:
            raise ValueError(f"interpolation must be one of {', '.join(INTERPOLATIONS)}, got {self.interpolation!r}")

    def output_size(self, image_size: tuple[int, int] | None = None) -> tuple[int, int] | None:
        """``(height, width)`` of the result; ``None`` when it depends on the image (shorter-side resize, no crop)."""
        if self.crop is not None:
            return self.crop
        if isinstance(self.resize, tuple):
            return self.resize
        return None if image_size is None else resized_size(image_size, self.resize)

    def min_side(self) -> int:
        """The fewest pixels the decoded image's shorter side needs for this geometry to lose nothing."""
        return self.resize if isinstance(self.resize, int) else max(self.resize)

    def describe(self) -> str:
        """A stable description: part of the pixel cache's and the feature cache's keys."""
        return f"Geometry(resize={self.resize!r}, crop={self.crop!r}, interpolation={self.interpolation!r})"


@dataclasses.dataclass(frozen=True)
class Preprocessing:
    """A backbone's whole preprocessing: its :class:`Geometry`, then ``(pixels / 255 - mean) / std`` per channel."""

    geometry: Geometry
    mean: tuple[float, float, float] = (0.485, 0.456, 0.406)
    std: tuple[float, float, float] = (0.229, 0.224, 0.225)

    def __post_init__(self) -> None:
        for name in ("mean", "std"):
            value = getattr(self, name)
            if isinstance(value, (int, float)):
                value = (value,) * 3
            if not isinstance(value, (tuple, list)) or len(value) != 3:
                raise ValueError(f"{name} must be three numbers (R, G, B), got {value!r}")
            object.__setattr__(self, name, tuple(float(v) for v in value))
        if any(s <= 0 for s in self.std):
            raise ValueError(f"std must be positive, got {self.std!r}")

    @classmethod
    def of(cls, resize: int | tuple[int, int], crop: int | tuple[int, int] | None = None,
           interpolation: str = "bilinear", mean: Any = (0.485, 0.456, 0.406),
           std: Any = (0.229, 0.224, 0.225)) -> Preprocessing:
        """Shorthand: ``Preprocessing.of(256, crop=224, interpolation="bicubic", mean=..., std=...)``."""
        return cls(Geometry(resize, None if crop is None else _pair(crop, "crop"), interpolation), mean, std)

    def describe(self) -> str:
        return f"Preprocessing({self.geometry.describe()}, mean={self.mean!r}, std={self.std!r})"


def resized_size(image_size: tuple[int, int], size: int) -> tuple[int, int]:
    """``(height, width)`` after resizing the shorter side of an image of ``image_size`` to ``size`` pixels."""
    height, width = image_size
    short, long = (width, height) if width <= height else (height, width)
    new_short, new_long = size, int(size * long / short)
    return (new_long, new_short) if width <= height else (new_short, new_long)


def crop_box(image_size: tuple[int, int], crop: tuple[int, int]) -> tuple[int, int, int, int]:
    """PIL's ``(left, top, right, bottom)`` of the centre crop; outside the image (a crop larger than it), PIL
    fills zeros, where torchvision pads with zeros first: the same pixels."""
    height, width = image_size
    crop_h, crop_w = crop
    pad_left = (crop_w - width) // 2 if crop_w > width else 0
    pad_top = (crop_h - height) // 2 if crop_h > height else 0
    padded_w = width + (crop_w - width if crop_w > width else 0)
    padded_h = height + (crop_h - height if crop_h > height else 0)
    top = int(round((padded_h - crop_h) / 2.0)) - pad_top
    left = int(round((padded_w - crop_w) / 2.0)) - pad_left
    return left, top, left + crop_w, top + crop_h


def apply_geometry(image: Image.Image, geometry: Geometry) -> np.ndarray:
    """``image`` resized and centre-cropped as ``geometry`` says: an ``(height, width, 3)`` uint8 array."""
    if image.mode != "RGB":
        image = image.convert("RGB")
    width, height = image.size
    target = (geometry.resize if isinstance(geometry.resize, tuple)
              else resized_size((height, width), geometry.resize))
    if target != (height, width):
        image = image.resize((target[1], target[0]), INTERPOLATIONS[geometry.interpolation])
    if geometry.crop is not None and geometry.crop != target:
        image = image.crop(crop_box(target, geometry.crop))
    return np.array(image, dtype=np.uint8)  # a writable copy: torch.from_numpy needs one


def normalise(pixels: Any, preprocessing: Preprocessing, dtype: Any, *, channels_last: bool = False) -> Any:
    """A ``(batch, height, width, 3)`` uint8 tensor (on any device) -> the backbone's ``(batch, 3, height, width)``
    input in ``dtype``: ``(pixels / 255 - mean) / std`` in float32, as torchvision's ``ToTensor`` and
    ``Normalize`` compute it, then cast. ``channels_last`` keeps the NHWC memory layout (convolutional nets)."""
    import torch

    batch = pixels.permute(0, 3, 1, 2)
    if not channels_last:
        batch = batch.contiguous()
    batch = batch.to(torch.float32).div_(255)
    mean = torch.as_tensor(preprocessing.mean, dtype=torch.float32, device=batch.device).view(1, 3, 1, 1)
    std = torch.as_tensor(preprocessing.std, dtype=torch.float32, device=batch.device).view(1, 3, 1, 1)
    batch.sub_(mean).div_(std)
    return batch if dtype == torch.float32 else batch.to(dtype)
