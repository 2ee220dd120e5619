"""A disk budget in GiB as the user gives it (a flag, a config value, an environment variable): standard library only,
so the command line can parse it without importing numpy."""

from __future__ import annotations

__all__ = ["gib_or_none"]


def gib_or_none(text: str) -> float | None:
    """``text`` as a number of GiB >= 0 (the pixel cache's budget, from a flag or the environment), else ``None``."""
    try:
        value = float(text)
    except ValueError:
        return None
    return value if value >= 0 else None  # NaN fails the comparison too
