"""Decode once, extract many: a bounded on-disk cache of decoded, resized, cropped uint8 pixels.

Backbones that declare the same :class:`~biobench_core.contract._preprocessing.Geometry` see the same pixels before
normalisation (e.g. one backbone under several weights, or a family of models trained at one resolution).
The first extraction of a split under a geometry decodes the images and writes their uint8 pixels here; every
later extraction with that geometry reads them back, memory-mapped, instead of decoding again.

**The key** (:func:`biobench_core.engine._identity.pixel_entry_key`) names everything that decides the pixels:
the task and the code that loads its images (its plugin's code and the extraction protocol), the split's manifest
(every file's size and modification time, the examples and their order), the task's decode key (e.g. a video's
frame sampling), the geometry and the decoding rule. Mean, std, dtype and the backbone do not decide the pixels
and are not in it. Two geometries or two manifests never share an entry.

**An entry** is a folder ``<root>/<key>/`` with ``pixels.u8`` (the frames, ``(frames, height, width, 3)``
uint8, in example order) and ``index.json`` (the geometry, which examples were kept and how many frames each
has, the messages of the images that could not be decoded, and how many were scaled from a high bit depth). It is
written to a temporary folder and renamed into place when the whole split is done, so an interrupted
extraction never leaves a partial entry, and two processes writing one key keep one of the two. A change of this
layout bumps :data:`~biobench_core.engine._identity.KEY_FORMAT`.

**The budget** (``budget_bytes``, ``--pixel-cache-gb``) bounds the entries' total size: before an entry is
written, the least recently used entries are evicted until it fits; an entry larger than the whole budget is
not kept (the extraction runs as without the cache, and says so in its metadata).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import shutil
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["PixelCache", "PixelEntry", "PixelWriter", "DEFAULT_BUDGET_GB"]

DEFAULT_BUDGET_GB = 50.0
_INDEX, _PIXELS = "index.json", "pixels.u8"


@dataclasses.dataclass
class PixelEntry:
    """One split's decoded pixels, read back memory-mapped."""

    path: Path
    pixels: np.ndarray  # (frames, height, width, 3) uint8, memory-mapped
    kept: list[int]  # positions (in the requested examples) of the examples that were decoded
    counts: list[int]  # frames of each kept example
    skipped: list[str]  # one message per example that could not be decoded, naming its file
    n_scaled: int  # frames scaled to 8 bits from a higher bit depth

    def batches(self, batch_size: int) -> Any:
        """``(positions, pixels, counts)`` batch by batch, in order. Batches hold the kept examples of the
        positions a decoding pass would have batched together (``position // batch_size``), so the backbone sees
        the same batches, and gives the same features, as when the images are decoded."""
        offsets = np.concatenate([[0], np.cumsum(self.counts, dtype=np.int64)])
        start = 0
        while start < len(self.kept):
            group = self.kept[start] // batch_size
            stop = start + 1
            while stop < len(self.kept) and self.kept[stop] // batch_size == group:
                stop += 1
            yield self.kept[start:stop], self.pixels[offsets[start]:offsets[stop]], self.counts[start:stop]
            start = stop


class PixelCache:
    """Entries of decoded pixels under ``root``, at most ``budget_bytes`` in all (see the module docstring)."""

    def __init__(self, root: str | Path, budget_bytes: int) -> None:
        self.root = Path(root)
        self.budget_bytes = int(budget_bytes)

    def get(self, key: str, example_ids: Sequence[str]) -> PixelEntry | None:
        """The entry for ``key`` if it holds exactly these examples, else ``None`` (a damaged entry is removed)."""
        folder = self.root / key
        try:
            index = json.loads((folder / _INDEX).read_text())
        except (OSError, ValueError):
            return None
        try:
            if index.get("key") != key or index.get("n_examples") != len(example_ids):
                raise ValueError("index does not match")
            if index.get("ids_digest") != _ids_digest(example_ids):
                raise ValueError("examples differ")
            shape = tuple(index["shape"])
            pixels = np.memmap(folder / _PIXELS, dtype=np.uint8, mode="r", shape=shape) if shape[0] else \
                np.zeros(shape, dtype=np.uint8)
            entry = PixelEntry(folder, pixels, list(index["kept"]), list(index["counts"]), list(index["skipped"]),
                               int(index["n_scaled"]))
            if sum(entry.counts) != shape[0] or len(entry.kept) != len(entry.counts):
                raise ValueError("counts do not add up")
        except (OSError, ValueError, KeyError, TypeError):
            shutil.rmtree(folder, ignore_errors=True)  # damaged (truncated, hand-edited): decode again
            return None
        now = time.time()
        try:
            os.utime(folder / _INDEX, (now, now))  # least recently used goes first
        except OSError:
            pass
        return entry

    def writer(self, key: str, example_ids: Sequence[str], frame_shape: tuple[int, int, int],
               expected_frames: int) -> PixelWriter | None:
        """A writer for a new entry, after evicting what the budget needs; ``None`` if it cannot fit at all."""
        needed = expected_frames * int(np.prod(frame_shape))
        if self.budget_bytes <= 0 or needed > self.budget_bytes:
            return None
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            self._evict(needed, keep=key)
            tmp = Path(tempfile.mkdtemp(prefix=f".{key[:16]}-", dir=self.root))
        except OSError:
            return None
        return PixelWriter(self, key, tmp, list(example_ids), frame_shape)

    def entries(self) -> list[tuple[float, int, Path]]:
        """``(last used, bytes, folder)`` of every complete entry, least recently used first."""
        out = []
        try:
            children = list(self.root.iterdir())
        except OSError:
            return []
        for folder in children:
            if folder.name.startswith("."):
                continue
            try:
                used = (folder / _INDEX).stat().st_mtime
                size = (folder / _PIXELS).stat().st_size
            except OSError:
                continue
            out.append((used, size, folder))
        return sorted(out)

    def size_bytes(self) -> int:
        return sum(size for _, size, _ in self.entries())

    def _evict(self, needed: int, keep: str) -> None:
        entries = self.entries()
        total = sum(size for _, size, _ in entries)
        for _, size, folder in entries:
            if total + needed <= self.budget_bytes:
                break
            if folder.name == keep:
                continue
            shutil.rmtree(folder, ignore_errors=True)
            total -= size


class PixelWriter:
    """Appends a split's batches of pixels in order; :meth:`commit` makes the entry visible, :meth:`abort`
    drops it. Stops writing (and keeps nothing) if the split grows past the cache's budget."""

    def __init__(self, cache: PixelCache, key: str, tmp: Path, example_ids: list[str],
                 frame_shape: tuple[int, int, int]) -> None:
        self.cache, self.key, self.tmp, self.example_ids = cache, key, tmp, example_ids
        self.frame_shape = tuple(frame_shape)
        self.kept: list[int] = []
        self.counts: list[int] = []
        self.skipped: list[str] = []
        self.n_scaled = 0
        self.n_frames = 0
        self.failed: str | None = None
        self._file = open(tmp / _PIXELS, "wb")  # noqa: SIM115 - closed in commit/abort

    def add(self, positions: Sequence[int], pixels: np.ndarray | None, counts: Sequence[int], skipped: Sequence[str],
            n_scaled: int) -> None:
        """One loader batch: its kept examples' frames (``None`` when none was decoded) and its skipped ones."""
        self.skipped.extend(skipped)
        self.n_scaled += n_scaled
        if self.failed is not None or pixels is None:
            return
        if tuple(pixels.shape[1:]) != self.frame_shape or pixels.dtype != np.uint8:
            self.failed = f"frames of shape {tuple(pixels.shape[1:])}, expected {self.frame_shape}"
            return
        if (self.n_frames + pixels.shape[0]) * int(np.prod(self.frame_shape)) > self.cache.budget_bytes:
            self.failed = "larger than the pixel cache's budget"
            return
        try:
            self._file.write(np.ascontiguousarray(pixels).data)
        except OSError as exc:
            self.failed = f"cannot write: {exc}"
            return
        self.kept.extend(int(p) for p in positions)
        self.counts.extend(int(c) for c in counts)
        self.n_frames += int(pixels.shape[0])

    def commit(self) -> bool:
        """Write the index and rename the entry into place; ``False`` if nothing was kept."""
        try:
            self._file.close()
            if self.failed is not None:
                return False
            index = {"key": self.key, "n_examples": len(self.example_ids), "ids_digest": _ids_digest(self.example_ids),
                     "shape": [self.n_frames, *self.frame_shape], "kept": self.kept, "counts": self.counts,
                     "skipped": self.skipped, "n_scaled": self.n_scaled}
            (self.tmp / _INDEX).write_text(json.dumps(index))
            final = self.cache.root / self.key
            if final.exists():
                return False  # another process wrote the same pixels first: keep theirs
            os.replace(self.tmp, final)
            return True
        except OSError as exc:
            self.failed = f"cannot write: {exc}"
            return False
        finally:
            shutil.rmtree(self.tmp, ignore_errors=True)

    def abort(self) -> None:
        try:
            self._file.close()
        finally:
            shutil.rmtree(self.tmp, ignore_errors=True)


def _ids_digest(example_ids: Sequence[str]) -> str:
    digest = hashlib.sha256()
    for example_id in example_ids:
        digest.update(f"{example_id}\0".encode())
    return digest.hexdigest()
