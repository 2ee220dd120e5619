"""Turning an exception into the one line a user sees."""

from __future__ import annotations

import os

__all__ = ["one_line", "debug_enabled", "DEBUG_ENV"]

DEBUG_ENV = "BIOBENCH_DEBUG"

# Our own error types carry complete, user-facing messages; anything else gets its type name in front.
_SELF_DESCRIBING = {"PluginError", "UnknownIdError", "SpecError", "TaskDataError", "BackboneOutputError",
                    "CacheWriteError", "ConfigError", "UsageError", "StoreError"}


def one_line(exc: BaseException) -> str:
    """``exc`` as one line: its message's first line, prefixed with its type unless it is one of ours."""
    text = str(exc).strip()
    if isinstance(exc, KeyError) and len(exc.args) == 1:
        text = str(exc.args[0])
    first = text.splitlines()[0] if text else type(exc).__name__
    ours = any(cls.__name__ in _SELF_DESCRIBING for cls in type(exc).__mro__)
    return first if ours else f"{type(exc).__name__}: {first}"


def debug_enabled() -> bool:
    """``BIOBENCH_DEBUG`` set (and not ``0``): show full tracebacks instead of one line."""
    return os.environ.get(DEBUG_ENV, "") not in ("", "0")
