"""A leaderboard through a report format named in the registry: the one way ``biobench report`` and the kit
render, whoever offers the format (the core's built-in plugin or a third party's)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from biobench_core.contract._extensions import UnknownExtensionError, format_spec
from biobench_core.contract._specs import ReportFormatSpec

if TYPE_CHECKING:
    from biobench_core.results._leaderboard import Leaderboard

__all__ = ["render", "UnknownFormatError"]


class UnknownFormatError(UnknownExtensionError, ValueError):
    """No installed plugin offers this report format (a ``LookupError`` and a ``ValueError``)."""


def render(board: Leaderboard, fmt: str | ReportFormatSpec, options: dict[str, Any] | None = None) -> str | bytes:
    """``board`` rendered by the report format ``fmt`` (its name, or its spec): ``str``, or ``bytes`` for a
    format that declares ``binary``. ``options`` are the report's options (see :class:`ReportFormatSpec`).

    An unknown name raises :class:`UnknownFormatError` with a "did you mean" and the installed formats; a format
    that returns the wrong type raises ``TypeError`` naming it.
    """
    if isinstance(fmt, ReportFormatSpec):
        spec = fmt
    else:
        try:
            spec = format_spec(fmt)
        except UnknownExtensionError as exc:
            raise UnknownFormatError(str(exc)) from None
    output = spec.load()(board, dict(options or {}))
    expected = bytes if spec.binary else str
    if not isinstance(output, expected):
        raise TypeError(f"report format {spec.name!r} ({spec.factory}) returned {type(output).__name__}, not "
                        f"{expected.__name__}" + (" (it declares binary=True)" if spec.binary else
                                                  " (declare binary=True in its ReportFormatSpec to return bytes)"))
    return output
