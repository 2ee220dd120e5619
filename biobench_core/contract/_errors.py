"""Turning an exception into the one line a user sees."""

from __future__ import annotations

import os
import re

__all__ = ["one_line", "debug_enabled", "did_you_mean", "type_name", "DEBUG_ENV"]

DEBUG_ENV = "BIOBENCH_DEBUG"

# Our own error types carry complete, user-facing messages; anything else gets its type name in front.
_SELF_DESCRIBING = {"PluginError", "UnknownIdError", "SpecError", "TaskDataError", "BackboneOutputError",
                    "CacheWriteError", "ConfigError", "UsageError", "StoreError", "DataError", "MissingStoreError",
                    "UnknownExtensionError", "OptionError", "SettingDeclarationError", "ProtocolError",
                    "OutputError"}

# torch's load_state_dict lists every missing or unexpected key on one line: keep the first.
_KEY_LIST = re.compile(r"^((?:Missing|Unexpected) key\(s\) in state_dict: )(.*?)\.?$")
_QUOTED = re.compile(r'"[^"]*"')


def did_you_mean(value: str, choices, *, n: int = 1, cutoff: float = 0.6, quote: str = "'") -> str:
    """``"; did you mean 'x'?"`` naming the closest of ``choices`` to ``value`` (up to ``n`` of them: ``"'x' or
    'y'"``), or ``""`` when none is close.

    ``choices`` may be a mapping: ``value`` is matched against its keys and the hint names their values (a
    backbone's name matched, its full id shown). The one "did you mean" of biobench: every unknown id, name,
    setting, option or key gets its hint here.
    """
    import difflib

    shown = {str(k): str(v) for k, v in choices.items()} if hasattr(choices, "items") else {str(c): str(c)
                                                                                            for c in choices}
    close = difflib.get_close_matches(str(value), list(shown), n=n, cutoff=cutoff)
    return "; did you mean " + " or ".join(f"{quote}{shown[c]}{quote}" for c in close) + "?" if close else ""


def type_name(value: object) -> str:
    """The type of ``value`` as a message names it: ``str``, ``numpy.ndarray``, ``numpy.str_``."""
    kind = type(value)
    return kind.__qualname__ if kind.__module__ == "builtins" else f"{kind.__module__}.{kind.__qualname__}"


def _trim_key_list(line: str) -> tuple[str, bool]:
    """``Missing key(s) in state_dict: "a", "b", "c".`` -> ``... "a", ... (and 2 more)``; whether it cut."""
    match = _KEY_LIST.match(line)
    keys = _QUOTED.findall(match.group(2)) if match else []
    if len(keys) < 2:
        return line, False
    return f"{match.group(1)}{keys[0]}, ... (and {len(keys) - 1} more)", True


def _summary(text: str) -> tuple[str, int, bool]:
    """The line that says what is wrong in a (maybe multi-line) message: its first line, and when that only
    announces what follows (``Error(s) in loading state_dict for Net:``), the first detail line too.
    Returns it with the number of lines left out and whether a line was shortened."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    if not lines:
        return "", 0, False
    line, used, cut = lines[0], 1, False
    if line.endswith(":") and len(lines) > 1:
        detail, cut = _trim_key_list(lines[1])
        line, used = f"{line} {detail}", 2
    return line, len(lines) - used, cut


def one_line(exc: BaseException, *, typed: bool = False) -> str:
    """``exc`` as one line, prefixed with its type unless it is one of ours (or always, with ``typed``).

    A multi-line message keeps the line that says what is wrong (see :func:`_summary`: for torch's
    ``load_state_dict``, its first missing/unexpected key or size mismatch); when anything was left out,
    the line ends by pointing at ``BIOBENCH_DEBUG=1``, which shows the whole error.
    """
    text = str(exc).strip()
    if isinstance(exc, KeyError) and len(exc.args) == 1:
        text = str(exc.args[0])
    line, dropped, cut = _summary(text)
    line = line or type(exc).__name__
    if dropped:
        line += f" [+{dropped} more line{'s' if dropped > 1 else ''}: {DEBUG_ENV}=1 shows the full error]"
    elif cut:
        line += f" [{DEBUG_ENV}=1 shows the full error]"
    ours = any(cls.__name__ in _SELF_DESCRIBING for cls in type(exc).__mro__)
    return line if ours and not typed else f"{type(exc).__name__}: {line}"


def debug_enabled() -> bool:
    """``BIOBENCH_DEBUG`` set (and not ``0``): show full tracebacks instead of one line."""
    return os.environ.get(DEBUG_ENV, "") not in ("", "0")
