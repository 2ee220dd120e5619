"""Decoding image files for tasks: 8-bit RGB, upright, failures and warnings naming the file.

:func:`load_image` is what a task's :meth:`~biobench_core.contract._tasks.Task.load` calls for an image file;
:func:`to_rgb8` is its last step, for tasks that build PIL images some other way.

**High bit depth.** A 16-bit grey image (``I;16`` PNG or TIFF, common in microscopy), a 32-bit integer image
(``I``) or a 32-bit float image (``F``) is scaled to 8 bits *by its own range*: the smallest finite value becomes
0, the largest 255, linearly, then the grey is copied to R, G and B. (PIL's ``convert("RGB")`` clips instead:
a 16-bit image became 99.6% white and a float image in 0..1 black.) The image's range, not the dtype's, so that
12-bit camera data in a 16-bit file uses all 256 levels. A constant image becomes black; NaN becomes 0, +inf 255
and -inf 0, and they do not count towards the range. The scaled image is marked (:func:`was_scaled`), and the
extraction loop reports how many it encoded (``ExtractionResult.n_converted`` and one
:class:`HighBitDepthWarning` per split). 16-bit *colour* PNG and TIFF files are reduced by PIL itself to their
high byte (the dtype's range); 8-bit images of any mode (``L``, ``P``, ``RGBA``, ``CMYK``...) are converted by
``convert("RGB")`` as before, pixel for pixel.

**Large JPEGs.** A JPEG whose *shorter* side is at least 2 x ``DRAFT_KEEP_SIDE`` = 2 x 2048 = 4096 pixels is
decoded at 1/2, 1/4 or 1/8 scale (JPEG's DCT scaling, the largest reduction that keeps the shorter side at least
2048 pixels), which cuts decoding memory and time by up to 64x. 2048 pixels is twice the largest input side any
backbone we know of uses (1024 pixels, e.g. SAM's ViT): a backbone's transform shrinks the image much further
anyway, so features change only by resampling noise. Smaller JPEGs (every photo of up to 4096 pixels on its
shorter side, e.g. 24-megapixel 6000 x 4000) and every other format are decoded in full, pixel for pixel as PIL
decodes them. **Decoding for a known geometry.** When the extraction loop knows the backbone's geometry (a declared
preprocessing, :mod:`biobench_core.contract._preprocessing`), it decodes under :func:`decoding_for`: a JPEG is then
decoded at the largest reduction that keeps its shorter side at least ``DRAFT_FACTOR`` = 2 times the pixels the
geometry needs (e.g. a 4000 x 3000 camera-trap photo for a 256-pixel resize is decoded at 1/4 scale, 1000 x
750, instead of in full): the resize that follows still shrinks it by 2x or more, with antialiasing, so the
pixels differ from a full decode by resampling noise only, at a fraction of the decoding time. These pixels
are keyed apart from full decodes (the pixel and feature caches' keys hold the rule). A 500 x 375 photo for a
256-pixel resize is decoded in full, as is every other format.
PIL's decompression-bomb warning (over ``PIL.Image.MAX_IMAGE_PIXELS``) is re-issued naming the
file; past twice that limit PIL refuses the image and the :class:`~biobench_core.contract._tasks.TaskDataError` names the
file.
"""

from __future__ import annotations

import contextlib
import os
import threading
import warnings
from collections.abc import Iterator
from typing import Any

import numpy as np
from PIL import Image, ImageOps

from biobench_core.contract._tasks import TaskDataError

__all__ = ["load_image", "load_rgb", "to_rgb8", "was_scaled", "HighBitDepthWarning", "DRAFT_KEEP_SIDE", "DRAFT_FACTOR",
           "SCALED_KEY", "decoding_for"]

#: A JPEG is decoded at reduced scale only when that keeps its shorter side at least this many pixels.
DRAFT_KEEP_SIDE = 2048
#: Under :func:`decoding_for`, at least this many times the pixels the backbone's geometry needs are kept.
DRAFT_FACTOR = 2

_hint = threading.local()

#: The key in ``image.info`` that marks an image scaled to 8 bits by :func:`to_rgb8`.
SCALED_KEY = "biobench.scaled_to_8bit"

_JPEG_FORMATS = frozenset({"JPEG", "MPO"})  # MPO: a camera's multi-picture JPEG, decoded like one


class HighBitDepthWarning(UserWarning):
    """Images of more than 8 bits per channel (or floats) were scaled to 8 bits by their range."""


def _is_high_bit_depth(mode: str) -> bool:
    return mode in ("I", "F") or mode.startswith("I;16")


def to_rgb8(image: Image.Image, source: str | os.PathLike[str] | None = None) -> tuple[Image.Image, bool]:
    """``image`` as 8-bit RGB, and whether it had to be scaled from a higher bit depth (see the module docstring).

    ``source`` (the file) names the image when its pixels cannot be read. A scaled image is marked in its
    ``info`` (:func:`was_scaled`), so the mark travels with it out of a DataLoader worker's ``Task.load``.
    """
    if not _is_high_bit_depth(image.mode):
        return (image if image.mode == "RGB" else image.convert("RGB")), False
    try:
        values = np.asarray(image)
    except Exception as exc:  # noqa: BLE001 - an exotic raw mode numpy cannot view
        raise TaskDataError(f"{source or 'image'}: cannot read {image.mode} pixels: {type(exc).__name__}: {exc}") \
            from exc
    values = values.astype(np.float32 if values.dtype.itemsize <= 2 else np.float64)  # a copy: safe to modify
    finite = np.isfinite(values)
    posinf = None if finite.all() else np.isposinf(values)
    present = values if posinf is None else values[finite]
    grey = np.zeros(values.shape, dtype=np.uint8)
    low, high = (float(present.min()), float(present.max())) if present.size else (0.0, 0.0)
    if high > low:
        values -= low
        values *= 255.0 / (high - low)
        if posinf is not None:
            values[~finite] = 0.0
        np.clip(values, 0.0, 255.0, out=values)
        grey = np.rint(values).astype(np.uint8)
    if posinf is not None:
        grey[posinf] = 255
    rgb = Image.fromarray(grey).convert("RGB")
    rgb.info = {**image.info, SCALED_KEY: True}
    return rgb, True


def was_scaled(image: Any) -> bool:
    """Whether ``image`` (a frame a task loaded) was scaled to 8 bits by :func:`to_rgb8`."""
    info = getattr(image, "info", None)
    return bool(isinstance(info, dict) and info.get(SCALED_KEY))


def load_image(path: str | os.PathLike[str]) -> Image.Image:
    """Decode ``path`` now, upright (EXIF orientation applied), as 8-bit RGB; see the module docstring.

    A file PIL cannot decode raises :class:`~biobench_core.contract._tasks.TaskDataError` naming it.
    """
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", Image.DecompressionBombWarning)
            img = Image.open(path)
        with img:
            reduced = _draft(img)
            for warning in caught:  # PIL's message names no file
                if issubclass(warning.category, Image.DecompressionBombWarning):
                    note = f" (decoding it at {reduced})" if reduced else ""
                    warnings.warn(Image.DecompressionBombWarning(f"{path}: {warning.message}{note}"), stacklevel=2)
                else:
                    warnings.warn_explicit(warning.message, warning.category, warning.filename, warning.lineno)
            img.load()  # decode now, so a truncated file fails here and not later in a worker
            try:
                ImageOps.exif_transpose(img, in_place=True)  # in place: no second full-size copy
            except Exception:  # noqa: BLE001 - a broken EXIF block must not lose an otherwise good image
                pass
            rgb, _ = to_rgb8(img, path)
            return rgb
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as exc:
        raise TaskDataError(f"{path}: cannot decode image: {type(exc).__name__}: {exc}") from exc


def load_rgb(path: str | os.PathLike[str]) -> Image.Image:
    """What a file-backed task's ``load`` returns for an image file: :func:`load_image` of ``path`` (decoded now,
    upright, 8-bit RGB; a failure is a :class:`~biobench_core.contract._tasks.TaskDataError` naming the file)."""
    return load_image(path)


@contextlib.contextmanager
def decoding_for(min_side: int) -> Iterator[None]:
    """While active (in this thread), :func:`load_image` decodes a JPEG at 1/2, 1/4 or 1/8 scale whenever that
    keeps its shorter side at least ``2 * min_side`` pixels (see the module docstring): the extraction loop
    says so for a backbone whose declared geometry needs ``min_side`` pixels."""
    previous = getattr(_hint, "keep_side", None)
    _hint.keep_side = min(DRAFT_KEEP_SIDE, DRAFT_FACTOR * int(min_side))
    try:
        yield
    finally:
        _hint.keep_side = previous


def _draft(img: Image.Image) -> str | None:
    """Ask a large JPEG to decode at reduced scale (see the module docstring); say at what size, or None."""
    keep = getattr(_hint, "keep_side", None) or DRAFT_KEEP_SIDE
    if img.format not in _JPEG_FORMATS or min(img.size) < 2 * keep:
        return None
    full = img.size
    if img.draft(img.mode, (keep, keep)) is None or img.size == full:
        return None
    return f"{img.size[0]}x{img.size[1]}, 1/{full[0] // img.size[0]} scale"
