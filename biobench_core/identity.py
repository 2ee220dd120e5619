"""What makes features reproducible: a backbone's identity, cheap enough to compute on every cache lookup.

The feature cache and the build memo key on this identity, so it must name everything that determines the
features a backbone produces for an image:

- the plugin distribution that provides the backbone (name and version), and a fingerprint of its own code:
  the size and modification time of every file under its packages, so an edited editable install (whose version
  never changes) is a different identity;
- the same for the distribution that provides the task (its ``load`` decodes the pixels the backbone sees);
- the versions of torch and of every library the plugin declares it builds on (timm, open_clip, ...);
- the weights (see :mod:`biobench_core.weights`), the transform's stable description and the dtype.

A transform whose ``repr`` is not stable across processes (it holds a memory address, as a plain class without
``__repr__`` or a ``lambda`` does) has no usable description: :func:`describe_transform` returns ``None`` and
the core does not cache that backbone's features.
"""

from __future__ import annotations

import hashlib
import importlib.metadata as metadata
import importlib.util
import os
import re
from functools import lru_cache
from pathlib import Path
from typing import Any

__all__ = ["describe_transform", "UNSTABLE_REPR", "code_fingerprint", "distribution_identity"]

#: What makes a ``repr`` unusable as a cache key: a memory address, e.g. ``<Foo object at 0x7f3a...>``.
UNSTABLE_REPR = re.compile(r"\bat 0x[0-9a-fA-F]+|<function <lambda>|<lambda>")


def describe_transform(transform: Any) -> str | None:
    """A description of ``transform`` that is the same in every process, or ``None`` when it has none.

    The description is its ``repr``. A ``repr`` holding a memory address or a lambda changes between
    processes (or hides what the transform does), so it cannot key a cache: give the transform a ``__repr__``
    that names every parameter (torchvision's transforms already do).
    """
    text = repr(transform)
    return None if UNSTABLE_REPR.search(text) else text


def _package_dirs(module: str) -> list[Path]:
    """Where the top-level package of ``module`` lives, found without importing it."""
    top = module.split(".")[0]
    try:
        spec = importlib.util.find_spec(top)
    except (ImportError, ValueError):
        return []
    if spec is None:
        return []
    if spec.submodule_search_locations:
        return [Path(p) for p in spec.submodule_search_locations]
    return [Path(spec.origin)] if spec.origin and spec.origin not in ("built-in", "frozen") else []


def _stat_files(root: Path) -> list[str]:
    if root.is_file():
        st = root.stat()
        return [f"{root.name}:{st.st_size}:{st.st_mtime_ns}"]
    stamps = []
    for folder, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if d != "__pycache__" and not d.startswith("."))
        for name in sorted(files):
            if name.endswith((".pyc", ".pyo")):
                continue
            path = Path(folder, name)
            try:
                st = path.stat()
            except OSError:
                continue
            stamps.append(f"{path.relative_to(root)}:{st.st_size}:{st.st_mtime_ns}")
    return stamps


def code_fingerprint(modules: tuple[str, ...]) -> str:
    """A hash of the sizes and mtimes of every file of the top-level packages of ``modules`` (not cached:
    an edit between two calls in one process must show)."""
    digest = hashlib.sha256()
    for module in sorted(set(m.split(".")[0] for m in modules)):
        digest.update(f"\0{module}".encode())
        for folder in _package_dirs(module):
            for stamp in _stat_files(folder):
                digest.update(f"\0{stamp}".encode())
    return digest.hexdigest()[:32]


@lru_cache(maxsize=None)
def _declared_libraries(dist_name: str) -> tuple[tuple[str, str], ...]:
    """The installed versions of what ``dist_name`` requires (unconditionally), and of torch."""
    names = {"torch"}
    try:
        for requirement in metadata.requires(dist_name) or ():
            if ";" in requirement and "extra" in requirement.split(";", 1)[1]:
                continue
            names.add(re.split(r"[\s\[<>=!~;(]", requirement.strip(), maxsplit=1)[0])
    except metadata.PackageNotFoundError:
        pass
    out = []
    for name in sorted(names):
        try:
            out.append((name, metadata.version(name)))
        except metadata.PackageNotFoundError:
            continue
    return tuple(out)


def distribution_identity(dist_name: str | None, dist_version: str | None, modules: tuple[str, ...]) -> dict[str, Any]:
    """The identity of a plugin's code: distribution, version, code fingerprint and its libraries' versions."""
    return {
        "distribution": dist_name,
        "version": dist_version,
        "code": code_fingerprint(modules),
        "libraries": dict(_declared_libraries(dist_name)) if dist_name else {},
    }
