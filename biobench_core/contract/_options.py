"""Backbone options: how a user's choice of a backbone's options (``pool``, ``img_size``...) is read and written.

A plugin declares each option on its :class:`~biobench_core.contract._specs.BackboneSpec` as a
:class:`~biobench_core.contract._specs.BackboneOption` (name, type, default, allowed values or range). A user gives
values after the id, as a URL query (``timm/resnet50.a1_in1k?pool=max&img_size=224``) or as
``options = { pool = "max" }`` in a config.

A choice has one canonical spelling (:func:`canonical_query`): the options given at a value other than their
default, sorted by name, each value in its type's canonical text. The id with that query is the backbone's identity
everywhere (results, feature cache, report rows), so ``?pool=avg`` where ``avg`` is the default, and no query at
all, are one backbone; and a backbone given no option keeps the id it always had.

Torch-free: listing and resolving ids use this module.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from biobench_core.contract._errors import did_you_mean

__all__ = ["OptionError", "OPTION_TYPES", "split_options", "parse_query", "canonical_query", "choose", "typed",
           "text"]

#: The types an option may have, by the name ``--backbone`` errors use for each.
OPTION_TYPES: dict[type, str] = {str: "a string", int: "an integer", float: "a number", bool: "true or false"}
_TRUE, _FALSE = ("true", "1", "yes"), ("false", "0", "no")


class OptionError(ValueError):
    """An option that a backbone does not declare, or a value it does not accept; the message is one line naming
    the backbone and the option. A usage error (exit status 2), like a bad task setting."""

    exit_code = 2


def typed(value: Any, kind: type) -> Any:
    """``value`` as ``kind``, or ``None`` when it is not one (text is parsed; a TOML value must already be it)."""
    if isinstance(value, str) and kind is not str:
        word = value.strip().lower()
        if kind is bool:
            return True if word in _TRUE else False if word in _FALSE else None
        try:
            number = int(word) if kind is int else float(word)
        except ValueError:
            return None
        return number if kind is int or math.isfinite(number) else None
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    return value if type(value) is kind else None


def text(value: Any) -> str:
    """A value's canonical text in a query: ``true``/``false``, ``224``, ``0.5``, ``max``."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def split_options(text: str) -> tuple[str, str | None]:
    """``"timm/x?pool=max"`` -> ``("timm/x", "pool=max")``; an id without ``?`` -> ``(id, None)``."""
    base, sep, query = text.partition("?")
    return base, (query if sep else None)


def parse_query(query: str, backbone_id: str) -> dict[str, str]:
    """``"pool=max&img_size=224"`` as ``{name: text}``; :class:`OptionError` for a part without ``=``, an empty
    name or value, or a name given twice."""
    out: dict[str, str] = {}
    for part in query.split("&"):
        name, sep, value = part.partition("=")
        if not sep or not name or not value:
            raise OptionError(f"{backbone_id}: option {part!r} is not name=value "
                              f"(give options as '{backbone_id}?name=value&name=value')")
        if name in out:
            raise OptionError(f"{backbone_id}: option {name} is given twice")
        out[name] = value
    return out


def choose(declared: tuple[Any, ...], given: Mapping[str, Any],
           backbone_id: str) -> tuple[tuple[str, Any], ...]:
    """The values of ``given`` (text or typed) checked against ``declared``: those that differ from their default,
    typed and sorted by name (the canonical choice). :class:`OptionError` names ``backbone_id`` and the option."""
    by_name = {option.name: option for option in declared}
    chosen = []
    for name, value in given.items():
        option = by_name.get(name)
        if option is None:
            if not by_name:
                raise OptionError(f"{backbone_id}: unknown option {name!r}: this backbone declares no options")
            raise OptionError(f"{backbone_id}: unknown option {name!r}{did_you_mean(name, list(by_name))} "
                              f"(its options: {', '.join(sorted(by_name))})")
        typed = option.read(value, backbone_id)
        if typed != option.default:
            chosen.append((name, typed))
    return tuple(sorted(chosen))


def canonical_query(chosen: tuple[tuple[str, Any], ...]) -> str:
    """``?img_size=224&pool=max`` for a canonical choice (:func:`choose`); ``""`` when nothing differs from the
    defaults."""
    return "?" + "&".join(f"{name}={text(value)}" for name, value in chosen) if chosen else ""
