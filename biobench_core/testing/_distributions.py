"""Write throwaway installed distributions (``.dist-info`` + modules) to a folder, for tests of plugin discovery.

This is the format pip installs: a folder on ``sys.path`` holding the package's modules and a
``<name>-<version>.dist-info`` with ``METADATA`` and ``entry_points.txt``. ``importlib.metadata`` finds it
exactly as it finds a pip-installed plugin.
"""

from __future__ import annotations

import re
import textwrap
from pathlib import Path

__all__ = ["write_distribution"]


def write_distribution(
    site: str | Path,
    name: str,
    modules: dict[str, str],
    entry_points: dict[str, str],
    *,
    version: str = "1.0",
    group: str = "biobench",
) -> Path:
    """Install distribution ``name`` into ``site``: ``modules`` maps module names to source text and
    ``entry_points`` maps entry-point names to ``"module"`` or ``"module:attr"`` in ``group``."""
    site = Path(site)
    site.mkdir(parents=True, exist_ok=True)
    for module, source in modules.items():
        path = site.joinpath(*module.split(".")).with_suffix(".py")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(source))
    info = site / f"{re.sub(r'[-.]+', '_', name)}-{version}.dist-info"
    info.mkdir(exist_ok=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")
    lines = [f"[{group}]"] + [f"{ep} = {target}" for ep, target in entry_points.items()]
    (info / "entry_points.txt").write_text("\n".join(lines) + "\n")
    (info / "RECORD").write_text("")
    return info
