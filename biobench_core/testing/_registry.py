"""Point the catalogue at a registry of your choosing, and make a plugin checkout discoverable uninstalled."""

from __future__ import annotations

import contextlib
import importlib
import re
import sys
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path

from biobench_core.contract import _registry as plugins
from biobench_core.contract._registry import Registry

__all__ = ["use_registry", "isolated_registry", "plugin_from_source"]


@contextlib.contextmanager
def use_registry(registry: Registry) -> Iterator[Registry]:
    """Make ``registry`` the process-wide one (what ``load_backbone``, ``list_backbones``... use) for a block."""
    previous = plugins._REGISTRY
    plugins.reset_registry()
    plugins._REGISTRY = registry
    try:
        yield registry
    finally:
        plugins._REGISTRY = previous


def isolated_registry(distributions: Iterable[str] = (), *, strict: bool = False) -> Registry:
    """A registry of only the named installed distributions (none: an empty one, for in-process plugins)."""
    names = list(distributions)
    if not names:
        return Registry(entry_points=[], strict=strict)
    return Registry(load_only=names, strict=strict)


def _read_pyproject(project_dir: Path) -> dict:
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        import tomli as tomllib  # type: ignore[no-redef]
    return tomllib.loads((project_dir / "pyproject.toml").read_text())


@contextlib.contextmanager
def plugin_from_source(project_dir: str | Path) -> Iterator[Path]:
    """Make the plugin in ``project_dir`` (a folder with a ``pyproject.toml``) discoverable without installing it.

    Writes a ``.dist-info`` with its name, version and entry points to a temporary folder and puts that folder
    and ``project_dir`` first on ``sys.path`` for the block (flat layout; a ``src/`` folder is used when there
    is one). Does nothing but yield when the distribution is already installed. Subprocesses started by
    :func:`check_plugin` see the same ``sys.path``.
    """
    from importlib import metadata

    project_dir = Path(project_dir).resolve()
    project = _read_pyproject(project_dir)["project"]
    try:
        metadata.distribution(project["name"])
        yield project_dir
        return
    except metadata.PackageNotFoundError:
        pass
    code_dir = project_dir / "src" if (project_dir / "src").is_dir() else project_dir
    with tempfile.TemporaryDirectory(prefix="biobench-kit-") as tmp:
        site = Path(tmp)
        info = site / f"{re.sub(r'[-.]+', '_', project['name'])}-{project['version']}.dist-info"
        info.mkdir()
        (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {project['name']}\n"
                                       f"Version: {project['version']}\n")
        lines = []
        for group, entries in project.get("entry-points", {}).items():
            lines.append(f"[{group}]")
            lines += [f"{name} = {target}" for name, target in entries.items()]
        (info / "entry_points.txt").write_text("\n".join(lines) + "\n")
        added = [str(site), str(code_dir)]
        sys.path[:0] = added
        importlib.invalidate_caches()
        try:
            yield project_dir
        finally:
            for entry in added:
                with contextlib.suppress(ValueError):
                    sys.path.remove(entry)
            importlib.invalidate_caches()
