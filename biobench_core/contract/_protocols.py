"""Named protocols: one name that sets, per task and per backbone, everything another evaluation did differently.

``biobench`` (the default) is biobench's own protocol: each task's spec (its probe, its metric) and each backbone
as given. Another name, such as ``biobench-paper`` (upstream BioBench's published protocol), is declared by the
plugins that know what it means:

- a task spec lists a :class:`TaskProfile` per protocol it supports (``TaskSpec.profiles``): the settings it
  implies (``probe=adamw-head``), the metric convention, and what still differs from the original evaluation;
- a backbone spec lists the options a protocol gives it (``BackboneSpec.protocol_options``, e.g. ``pool=max-map``).

A run under a protocol (``biobench run --protocol NAME`` or ``protocol = "NAME"`` in a config) gives each task the
setting ``protocol=NAME``, so its results are keyed, stored and shown in columns of their own, labelled with the
protocol, and each backbone the options the protocol names for it, so its features and its row are its own too.
A task that declares no profile for the protocol is refused before any work, as is a setting or an option given
with another value than the protocol's.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from typing import Any

from biobench_core.contract._errors import did_you_mean

__all__ = ["DEFAULT_PROTOCOL", "TaskProfile", "ProtocolError", "known_protocols", "check_protocol",
           "profile_of", "settings_under"]

DEFAULT_PROTOCOL = "biobench"


class ProtocolError(ValueError):
    """An unknown protocol, a task without a profile for it, or a choice that contradicts it (one line)."""

    exit_code = 2


@dataclasses.dataclass(frozen=True)
class TaskProfile:
    """What protocol ``protocol`` means for one task.

    ``settings`` are set as if given with ``--set`` (``(("probe", "adamw-head"),)``); ``metric``, when given,
    replaces the spec's metric (``"macro-f1-all"``); ``differences`` say, one sentence each, what still differs
    from the original evaluation and which way its published number is expected to sit; the report prints them
    under a column run under the protocol. ``comparable`` says whether such a column can be set beside the
    original evaluation's published numbers (``False`` where they rest on a defect not reproduced here).
    """

    protocol: str
    settings: tuple[tuple[str, str], ...] = ()
    metric: str | None = None
    differences: tuple[str, ...] = ()
    comparable: bool = True

    def __post_init__(self) -> None:
        if not isinstance(self.protocol, str) or not self.protocol or self.protocol == DEFAULT_PROTOCOL:
            raise ValueError(f"a TaskProfile names a protocol other than {DEFAULT_PROTOCOL!r}, got {self.protocol!r}")
        if not isinstance(self.settings, tuple) or not all(
                isinstance(pair, tuple) and len(pair) == 2 and all(isinstance(x, str) for x in pair)
                for pair in self.settings):
            raise ValueError(f"TaskProfile {self.protocol}: settings must be a tuple of (name, value) strings")
        if "protocol" in dict(self.settings):
            raise ValueError(f"TaskProfile {self.protocol}: settings cannot set 'protocol'")
        if not isinstance(self.differences, tuple) or not all(isinstance(d, str) for d in self.differences):
            raise ValueError(f"TaskProfile {self.protocol}: differences must be a tuple of strings")

    def to_dict(self) -> dict[str, Any]:
        return {"protocol": self.protocol, "settings": dict(self.settings), "metric": self.metric,
                "differences": list(self.differences), "comparable": self.comparable}


def known_protocols(task_specs: Iterable[Any]) -> list[str]:
    """``biobench`` and every protocol one of ``task_specs`` (the installed tasks' specs) declares a profile for."""
    names = {profile.protocol for spec in task_specs for profile in getattr(spec, "profiles", ())}
    return [DEFAULT_PROTOCOL, *sorted(names)]


def check_protocol(name: str, task_specs: Iterable[Any]) -> str:
    """``name`` if one of ``task_specs`` declares it (or it is ``biobench``); else a :class:`ProtocolError`."""
    known = known_protocols(task_specs)
    if name not in known:
        raise ProtocolError(f"unknown protocol {name!r}{did_you_mean(name, known)} (protocols: {', '.join(known)})")
    return name


def profile_of(spec: Any, protocol: str | None) -> TaskProfile | None:
    """``spec``'s profile for ``protocol`` (``None`` for the default protocol); a :class:`ProtocolError` naming the
    task when it declares none."""
    if protocol in (None, DEFAULT_PROTOCOL):
        return None
    for profile in getattr(spec, "profiles", ()):
        if profile.protocol == protocol:
            return profile
    declared = [p.protocol for p in getattr(spec, "profiles", ())]
    have = ", ".join([DEFAULT_PROTOCOL, *declared])
    raise ProtocolError(f"{spec.id}: has no profile for protocol {protocol!r} (its protocols: {have}); leave the "
                        f"task out of this run or run it without --protocol")


def settings_under(spec: Any, settings: Mapping[str, str]) -> dict[str, str]:
    """``settings`` with the profile of their ``protocol`` setting applied: the profile's settings added, and the
    default protocol dropped (``protocol=biobench`` is the same experiment as no protocol). A setting given with
    another value than the profile's is a :class:`ProtocolError`: the column would claim a protocol it does not
    follow."""
    out = dict(settings)
    protocol = out.get("protocol")
    if protocol == DEFAULT_PROTOCOL:
        del out["protocol"]
        return out
    profile = profile_of(spec, protocol)
    if profile is None:
        return out
    for name, value in profile.settings:
        if name in out and str(out[name]) != value:
            raise ProtocolError(f"{spec.id}: setting {name}={out[name]!r} contradicts protocol {protocol!r}, which "
                                f"sets {name}={value!r}; drop the setting or the protocol")
        out[name] = value
    return out
