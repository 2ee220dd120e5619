"""Content-addressed feature cache: re-probing costs seconds, and a changed input never returns stale features.

An entry's key (:func:`biobench_core.engine._identity.feature_key_of`; the module's table says what goes into it)
hashes everything that determines the features: backbone id, weights identity, the transform's stable description,
dtype, whether patches were kept, the split's data manifest, the backbone's and the task's plugin code (with their
libraries' versions) and the extraction protocol. It never holds the stamps of the core's files, so upgrading
biobench-core keeps every entry unless the extraction protocol changed.

An entry is a folder of ``.npy`` arrays, read back memory-mapped, plus ``meta.json`` that repeats the entry's
key and records a checksum of each array's bytes (:mod:`biobench_core.engine._checksum`), both checked on every
read; it is written to a temporary folder and renamed into place, so a crash or a full disk never leaves a
half-written entry behind. Writing over an existing entry replaces it atomically; an entry that cannot be read
back (truncated, corrupt, or content that fails its checksum) is counted in ``n_corrupt`` and replaced by the next
write. An entry written before checksums were recorded cannot be checked, so it is a miss (counted in
``n_unchecked``), re-extracted once and replaced. A change of this layout bumps
:data:`~biobench_core.engine._identity.KEY_FORMAT`, so old entries are never misread.

The folder also holds the decoded-pixel cache (``pixels/``, :mod:`biobench_core.engine._pixel_cache`), bounded by
``$BIOBENCH_PIXEL_CACHE_GB`` (or ``--pixel-cache-gb``).
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from biobench_core.engine._budget import gib_or_none
from biobench_core.engine._checksum import array_checksum
from biobench_core.engine._pixel_cache import DEFAULT_BUDGET_GB, PixelCache
from biobench_core.contract._tasks import Example, SplitFeatures

__all__ = ["FeatureCache", "default_cache_dir", "CACHE_ENV", "CacheWriteError", "PIXEL_BUDGET_ENV",
           "pixel_budget_gb_from_env"]

CACHE_ENV = "BIOBENCH_CACHE"
PIXEL_BUDGET_ENV = "BIOBENCH_PIXEL_CACHE_GB"


class CacheWriteError(OSError):
    """An entry could not be written (e.g. disk full); nothing partial was kept."""


def default_cache_dir() -> Path:
    """``$BIOBENCH_CACHE``, else the user cache directory (``~/.cache/biobench/features`` on Linux)."""
    env = os.environ.get(CACHE_ENV)
    if env:
        return Path(env).expanduser()
    import platformdirs

    return Path(platformdirs.user_cache_dir("biobench")) / "features"


def pixel_budget_gb_from_env() -> float:
    """``$BIOBENCH_PIXEL_CACHE_GB`` (GiB of decoded pixels kept for reuse; 0 turns it off), else the default."""
    text = os.environ.get(PIXEL_BUDGET_ENV, "").strip()
    if not text:
        return DEFAULT_BUDGET_GB
    value = gib_or_none(text)
    if value is None:
        raise ValueError(f"{PIXEL_BUDGET_ENV}={text!r}: expected a number of GiB >= 0 (0 turns the pixel cache off)")
    return value


class FeatureCache:
    """Feature arrays by key under ``root``."""

    def __init__(self, root: str | Path | None = None, *, pixel_budget_gb: float | None = None) -> None:
        self.root = Path(root) if root is not None else default_cache_dir()
        self.n_corrupt = 0  # entries found unreadable, or failing their checksum, by get() in this process
        self.n_unchecked = 0  # entries written before checksums were recorded, found by get() (then re-extracted)
        self.write_failed = False  # set by callers after a failed put(), so they warn once
        self.pixel_budget_gb = pixel_budget_gb_from_env() if pixel_budget_gb is None else float(pixel_budget_gb)

    @property
    def pixels(self) -> PixelCache | None:
        """The decoded-pixel cache kept beside the features (``<root>/pixels``); ``None`` with a budget of 0."""
        if self.pixel_budget_gb <= 0:
            return None
        return PixelCache(self.root / "pixels", int(self.pixel_budget_gb * 2**30))

    def path(self, key: str) -> Path:
        return self.root / key[:2] / key

    def get(self, key: str, examples: list[Example]) -> tuple[SplitFeatures, dict[str, Any]] | None:
        """The cached features of ``examples`` (the split's full example list), or ``None`` on a miss."""
        entry = self.path(key)
        if not entry.is_dir():
            return None
        by_id = {ex.id: ex for ex in examples}
        try:
            meta = json.loads((entry / "meta.json").read_text())
            features = np.load(entry / "features.npy", mmap_mode="r")
            patches = np.load(entry / "patches.npy", mmap_mode="r") if meta.get("has_patches") else None
            kept_ids = meta["kept_ids"]
            well_formed = (meta.get("key") == key and features.ndim == 2 and len(kept_ids) == features.shape[0]
                           and (patches is None or patches.shape[0] == features.shape[0])
                           and all(i in by_id for i in kept_ids))
            checksums = meta.get("checksums")
            if well_formed and checksums is not None:
                arrays = {"features.npy": features, **({} if patches is None else {"patches.npy": patches})}
                well_formed = checksums == {name: array_checksum(a) for name, a in arrays.items()}
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            well_formed = False
        if not well_formed:
            self.n_corrupt += 1  # never trusted; the caller re-extracts and put() replaces it
            return None
        if checksums is None:
            self.n_unchecked += 1  # cannot be checked: redone once, like a miss, and put() replaces it
            return None
        return SplitFeatures([by_id[i] for i in kept_ids], features, patches), meta

    def recall(self, memo_key: str) -> dict[str, Any] | None:
        """A small record stored by :meth:`remember` (e.g. a backbone's weights id and transform), or ``None``."""
        try:
            return json.loads((self.root / "memo" / f"{memo_key}.json").read_text())
        except (OSError, ValueError):
            return None

    def remember(self, memo_key: str, record: dict[str, Any]) -> None:
        """Store ``record`` under ``memo_key``, atomically; a failure only costs a rebuild next time."""
        folder = self.root / "memo"
        try:
            folder.mkdir(parents=True, exist_ok=True)
            tmp = folder / f".{memo_key}.{os.getpid()}.tmp"
            tmp.write_text(json.dumps(record))
            os.replace(tmp, folder / f"{memo_key}.json")
        except OSError:
            pass

    def put(self, key: str, split: SplitFeatures, meta: dict[str, Any]) -> Path:
        """Write an entry atomically; raises :class:`CacheWriteError` (leaving nothing behind) on failure."""
        final = self.path(key)
        tmp: Path | None = None
        try:
            final.parent.mkdir(parents=True, exist_ok=True)
            tmp = Path(tempfile.mkdtemp(prefix=f".{key[:12]}-", dir=final.parent))
            checksums = {"features.npy": _save(tmp / "features.npy", split.features)}
            if split.patches is not None:
                checksums["patches.npy"] = _save(tmp / "patches.npy", split.patches)
            full_meta = {**meta, "key": key, "kept_ids": [ex.id for ex in split.examples],
                         "has_patches": split.patches is not None, "checksums": checksums}
            with open(tmp / "meta.json", "w") as fh:
                json.dump(full_meta, fh)
                fh.flush()
                os.fsync(fh.fileno())
            _replace_dir(tmp, final)
        except OSError as exc:
            if tmp is not None:
                shutil.rmtree(tmp, ignore_errors=True)
            raise CacheWriteError(f"cannot write feature cache entry {final}: {exc.strerror or exc}; "
                                  "no partial entry was kept") from exc
        return final


def _replace_dir(new: Path, final: Path) -> None:
    """Move the folder ``new`` to ``final``; an existing ``final`` is replaced, never kept or merged.

    ``rename`` onto a non-empty folder fails, so the old entry is first renamed aside (readers in between see a
    miss, never a mix of old and new files) and deleted afterwards.
    """
    try:
        os.rename(new, final)
        return
    except OSError:
        if not final.exists():
            raise
    aside = final.with_name(f".{final.name}.old-{os.getpid()}-{os.urandom(4).hex()}")
    try:
        os.rename(final, aside)
    except FileNotFoundError:
        pass  # another writer moved it first
    os.rename(new, final)
    shutil.rmtree(aside, ignore_errors=True)


def _save(path: Path, array: np.ndarray) -> str:
    """Write ``array`` as float32 ``.npy``; returns the checksum of the bytes written."""
    # Plain writes, not a writable memmap: a full disk must raise ENOSPC here, not SIGBUS on a page fault later.
    array = np.ascontiguousarray(array, dtype=np.float32)
    with open(path, "wb") as fh:
        np.save(fh, array)
        fh.flush()
        os.fsync(fh.fileno())
    return array_checksum(array)
