"""The drill-down's figures, drawn with Pillow alone (``biobench report examples --montage / --confusion``).

- :func:`montage`: a captioned grid of the examples two backbones disagree on, one section per direction. Each tile
  is the example's image (or a grey placeholder saying why there is none: no file known, missing from disk,
  unreadable) with its id, true class and both predictions.
- :func:`confusion_figure`: one backbone's confusion matrix on a task, every cell shaded by its share of the true
  class's row, up to :data:`~biobench_core.results._drilldown.FULL_MATRIX_MAX` classes; past that, a bar chart of
  its :data:`~biobench_core.results._drilldown.TOP_K` most frequent confused (true, predicted) pairs.

Pillow is part of the ``run`` extra; without it, one line says what to install.
"""

from __future__ import annotations

import dataclasses
import io
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from biobench_core.results._drilldown import FULL_MATRIX_MAX, TOP_K, top_confusions

__all__ = ["Tile", "montage", "confusion_figure", "PillowMissing"]

TILE = 128  # the image's box, pixels
CAPTION_LINES = 4
LINE = 13
PAD = 6
COLUMNS = 6
BACKGROUND = (255, 255, 255)
INK = (20, 20, 20)
PLACEHOLDER = (200, 200, 200)


class PillowMissing(RuntimeError):
    """Pillow is not installed; the message says what to install."""

    exit_code = 2


def _pil() -> Any:
    try:
        from PIL import Image, ImageDraw, ImageFont
    except ImportError:
        raise PillowMissing("--montage and --confusion draw with Pillow, which is not installed: "
                            "pip install pillow (or biobench-core[run])") from None
    return Image, ImageDraw, ImageFont


@dataclasses.dataclass
class Tile:
    """One example of the montage: its image file (``None``: not known), caption lines and, when its file is not
    known because the task no longer lists the example, a line saying so (the montage's warning names it)."""

    path: str | None
    caption: list[str]
    absent: str | None = None


def _fit(draw: Any, font: Any, text: str, width: int) -> str:
    """``text`` cut (with an ellipsis) to ``width`` pixels."""
    if draw.textlength(text, font=font) <= width:
        return text
    while text and draw.textlength(text + "…", font=font) > width:
        text = text[:-1]
    return text + "…"


def _thumbnail(path: str | None, Image: Any) -> tuple[Any | None, str]:
    """The image at ``path`` scaled to fit the tile, or ``None`` and why not."""
    if path is None:
        return None, "no file known"
    if not Path(path).is_file():
        return None, "missing"
    try:
        with Image.open(path) as image:
            image = image.convert("RGB")
        scale = TILE / max(image.width, image.height, 1)
        small = scale > 1  # a small image is enlarged with its pixels kept sharp
        size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
        return image.resize(size, Image.Resampling.NEAREST if small else Image.Resampling.LANCZOS), ""
    except Exception:  # noqa: BLE001 - any decoding failure is drawn as a placeholder, never a crash
        return None, "unreadable"


def montage(sections: Sequence[tuple[str, Sequence[Tile]]], warn: Callable[[str], None] = lambda line: None) -> bytes:
    """``sections`` (a heading and its tiles each) drawn as one PNG (its bytes); each tile whose image cannot be
    drawn gets a placeholder, and ``warn`` one line naming its file."""
    Image, ImageDraw, ImageFont = _pil()
    font = ImageFont.load_default()
    tile_w, tile_h = TILE + 2 * PAD, TILE + 2 * PAD + CAPTION_LINES * LINE
    heading_h = 2 * LINE + PAD
    width = COLUMNS * tile_w
    heights = [heading_h + max(1, -(-len(tiles) // COLUMNS)) * tile_h for _, tiles in sections]
    canvas = Image.new("RGB", (width, sum(heights)), BACKGROUND)
    draw = ImageDraw.Draw(canvas)
    top = 0
    for (heading, tiles), height in zip(sections, heights):
        draw.text((PAD, top + PAD), _fit(draw, font, heading, width - 2 * PAD), fill=INK, font=font)
        if not tiles:
            draw.text((PAD, top + heading_h + PAD), "(none)", fill=INK, font=font)
        for n, tile in enumerate(tiles):
            x, y = (n % COLUMNS) * tile_w + PAD, top + heading_h + (n // COLUMNS) * tile_h + PAD
            image, why = _thumbnail(tile.path, Image)
            if image is None:
                draw.rectangle((x, y, x + TILE - 1, y + TILE - 1), fill=PLACEHOLDER)
                draw.text((x + PAD, y + TILE // 2 - LINE), "missing" if tile.absent else why, fill=INK, font=font)
                if tile.path is not None:
                    warn(f"--montage: image {why}: {tile.path} (drawn as a placeholder)")
                elif tile.absent:
                    warn(f"--montage: {tile.absent} (drawn as a placeholder)")
            else:
                canvas.paste(image, (x + (TILE - image.width) // 2, y + (TILE - image.height) // 2))
            for i, line in enumerate(tile.caption[:CAPTION_LINES]):
                draw.text((x, y + TILE + 2 + i * LINE), _fit(draw, font, line, TILE + PAD), fill=INK, font=font)
        top += height
    return _png(canvas)


def _png(image: Any) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def _shade(share: float) -> tuple[int, int, int]:
    """White (0) to dark blue (1)."""
    return (int(255 - 225 * share), int(255 - 180 * share), int(255 - 80 * share))


def confusion_figure(classes: np.ndarray, counts: np.ndarray, name: Callable[[int], str],
                     title: str) -> tuple[bytes, str]:
    """The confusion matrix (``counts[i, j]``: true ``classes[i]`` predicted ``classes[j]``) drawn as a PNG: the
    full matrix for up to :data:`FULL_MATRIX_MAX` classes, else its :data:`TOP_K` most frequent confusions.
    Returns its bytes and which was drawn, in words."""
    Image, ImageDraw, ImageFont = _pil()
    font = ImageFont.load_default()
    probe = ImageDraw.Draw(Image.new("RGB", (1, 1)))
    if classes.size <= FULL_MATRIX_MAX:
        image = _matrix(classes, counts, name, title, font, probe, Image, ImageDraw)
        what = f"the full {classes.size}x{classes.size} confusion matrix"
    else:
        pairs = top_confusions(classes, counts, TOP_K)
        image = _top_pairs(pairs, name, title + f" ({len(pairs)} most frequent confusions of {classes.size} classes)",
                           font, probe, Image, ImageDraw)
        what = f"the {len(pairs)} most frequent confusions ({classes.size} classes: more than {FULL_MATRIX_MAX})"
    return _png(image), what


def _matrix(classes: np.ndarray, counts: np.ndarray, name: Callable[[int], str], title: str, font: Any, probe: Any,
            Image: Any, ImageDraw: Any) -> Any:
    cell = 26
    names = [_fit(probe, font, name(int(c)), 140) for c in classes]
    margin = int(max(probe.textlength(n, font=font) for n in names)) + 2 * PAD
    head = 3 * LINE + PAD
    size = classes.size * cell
    subtitle = "rows: true class; columns: predicted; shade: share of the row"
    width = max(margin + size + PAD, *(int(probe.textlength(t, font=font)) + 2 * PAD for t in (title, subtitle)))
    image = Image.new("RGB", (width, head + margin + size + PAD), BACKGROUND)
    draw = ImageDraw.Draw(image)
    draw.text((PAD, PAD), title, fill=INK, font=font)
    draw.text((PAD, PAD + LINE), subtitle, fill=INK, font=font)
    totals = counts.sum(axis=1, keepdims=True)
    shares = np.divide(counts, totals, out=np.zeros(counts.shape), where=totals > 0)
    top = head + margin
    for i, label in enumerate(names):
        draw.text((PAD, top + i * cell + (cell - LINE) // 2), label, fill=INK, font=font)
        column = Image.new("RGB", (margin, LINE + 2), BACKGROUND)  # the column's name, turned upright
        ImageDraw.Draw(column).text((PAD, 0), label, fill=INK, font=font)
        image.paste(column.rotate(90, expand=True), (margin + i * cell + (cell - LINE) // 2, head))
    for i in range(classes.size):
        for j in range(classes.size):
            x, y = margin + j * cell, top + i * cell
            draw.rectangle((x, y, x + cell - 1, y + cell - 1), fill=_shade(float(shares[i, j])),
                           outline=(230, 230, 230))
            if counts[i, j]:
                text = str(int(counts[i, j]))
                ink = BACKGROUND if shares[i, j] > 0.5 else INK
                draw.text((x + (cell - draw.textlength(text, font=font)) / 2, y + (cell - LINE) / 2), text,
                          fill=ink, font=font)
    return image


def _top_pairs(pairs: list[tuple[int, int, int]], name: Callable[[int], str], title: str, font: Any, probe: Any,
               Image: Any, ImageDraw: Any) -> Any:
    bar, row_h = 300, LINE + 8
    labels = [_fit(probe, font, f"{name(t)} -> {name(p)}", 320) for t, p, _ in pairs]
    margin = int(max([probe.textlength(s, font=font) for s in labels] + [0])) + 2 * PAD
    width = max(margin + bar + 60, int(probe.textlength(title, font=font)) + 2 * PAD)
    head = 2 * LINE + PAD
    image = Image.new("RGB", (width, head + max(1, len(pairs)) * row_h + PAD), BACKGROUND)
    draw = ImageDraw.Draw(image)
    draw.text((PAD, PAD), title, fill=INK, font=font)
    most = max([n for _, _, n in pairs] + [1])
    for i, ((_t, _p, n), label) in enumerate(zip(pairs, labels)):
        y = head + i * row_h
        draw.text((PAD, y + 3), label, fill=INK, font=font)
        length = max(1, round(bar * n / most))
        draw.rectangle((margin, y + 2, margin + length, y + row_h - 3), fill=_shade(0.8))
        draw.text((margin + length + PAD, y + 3), str(n), fill=INK, font=font)
    if not pairs:
        draw.text((PAD, head + 3), "no confusions: every example is predicted as its true class", fill=INK, font=font)
    return image
