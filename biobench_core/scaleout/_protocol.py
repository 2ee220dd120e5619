"""A matrix under a named protocol (``biobench run --protocol NAME``, ``protocol = "NAME"`` in a config).

The protocol becomes part of what each experiment is, before anything is planned: every task gets the setting
``protocol=NAME`` (its profile then sets the probe and the metric when the task is built; see
:mod:`biobench_core.contract._protocols`) and every backbone the options the protocol gives it, written into its
id (``timm/resnet50.a1_in1k?pool=max-map``). So planning, workers, the feature cache, the store and the report see
ordinary ids and settings, and a result under a protocol can never be mistaken for one without it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from biobench_core.contract._catalog import list_tasks, resolve_backbone, resolve_task
from biobench_core.contract._protocols import DEFAULT_PROTOCOL, ProtocolError, check_protocol, profile_of
from biobench_core.scaleout._config import TaskRequest

__all__ = ["under_protocol"]


def under_protocol(protocol: str, backbones: Sequence[tuple[str, str | None]], tasks: Sequence[TaskRequest],
                   ) -> tuple[list[tuple[str, str | None]], list[TaskRequest]]:
    """``backbones`` and ``tasks`` with ``protocol`` applied; unchanged for the default protocol.

    Refused with one line (:class:`ProtocolError`), before any work: an unknown protocol, a task that declares no
    profile for it, a task given its own ``protocol`` setting, and a backbone given an option with another value
    than the protocol's.
    """
    for request in tasks:
        if "protocol" in dict(request.settings):
            raise ProtocolError(f"{request.id}: give the protocol for the whole run (--protocol NAME, or protocol = "
                                f"in the config), not as a task setting: it sets backbone options too")
    check_protocol(protocol, list_tasks())
    if protocol == DEFAULT_PROTOCOL:
        return list(backbones), list(tasks)
    for request in tasks:
        profile_of(resolve_task(request.id), protocol)  # a task without a profile: refused now
    out_tasks = [dataclasses.replace(request, settings=(*request.settings, ("protocol", protocol)))
                 for request in tasks]
    return [(_backbone_under(protocol, backbone), weights) for backbone, weights in backbones], out_tasks


def _backbone_under(protocol: str, backbone: str) -> str:
    """``backbone``'s id with the options ``protocol`` gives it; one given with another value is refused."""
    spec = resolve_backbone(backbone)
    wanted = spec.options_under(protocol)
    if not wanted:
        return backbone
    given = dict(spec.values)
    for name, value in wanted.items():
        if name in given and given[name] != value:
            raise ProtocolError(f"{backbone}: option {name}={given[name]} contradicts protocol {protocol!r}, which "
                                f"sets {name}={value}; drop the option or the protocol")
    return spec.with_options(wanted).id
