"""Probes, metrics, report formats, executors and references by name, from the plugin registry, with a "did you mean".

Each lookup returns the spec; its ``load()`` imports the code. An unknown name raises
:class:`UnknownExtensionError` listing what the installed plugins offer.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Sequence
from typing import Any

from biobench_core.contract._errors import did_you_mean
from biobench_core.contract._registry import PluginError, get_registry
from biobench_core.contract._specs import (ExecutorSpec, MetricSpec, ProbeSpec, ReferenceSpec, ReportFormatSpec,
                                          SpecError)

__all__ = ["UnknownExtensionError", "probe_spec", "metric_spec", "metric_for_task", "format_spec", "executor_spec",
           "reference_spec", "make_probe", "probe_options", "extension_names", "group_scores"]

#: ``NAME[N]``: a metric over every declared class, with the task's class count ``N`` bound in.
_BOUND_METRIC = re.compile(r"^(?P<name>[^\[\]]+)\[(?P<n>[1-9][0-9]*)\]$")


class UnknownExtensionError(LookupError):
    """No installed plugin offers this probe, metric, report format, executor or reference."""

    def __str__(self) -> str:
        return str(self.args[0])


def extension_names(attribute: str) -> list[str]:
    """Every usable name (aliases included) of one kind: ``"probes"``, ``"metrics"``, ``"formats"``, ``"executors"``,
    ``"references"``."""
    catalogue = getattr(get_registry(), attribute)
    names = {spec.name for spec in catalogue.listed()}
    names |= {alias for alias, name in catalogue.aliases.items() if name in names}
    return sorted(names)


def _lookup(attribute: str, name: str) -> Any:
    registry = get_registry()
    catalogue = getattr(registry, attribute)
    collision = catalogue.collision_for(name)
    if collision is not None:
        raise PluginError(collision.message)
    key = catalogue.aliases.get(name, name)
    spec = catalogue.specs.get(key)
    if spec is None:
        names = extension_names(attribute)
        raise UnknownExtensionError(f"unknown {catalogue.kind} {name!r}{did_you_mean(name, names)}; valid names: "
                                    f"{', '.join(names) or 'none installed'} (see 'biobench plugins')")
    owner = catalogue.owner[key]
    if not owner.ok:
        raise owner.failure()
    return spec


def probe_spec(name: str) -> ProbeSpec:
    return _lookup("probes", name)


def metric_spec(name: str) -> MetricSpec:
    """The metric ``name``; a ``"module:function"`` name (the old form) becomes a spec around that function,
    whose ``replicates`` attribute, if any, is its vectorised form. ``NAME[N]`` is the spec of a metric over every
    declared class (``takes_n_classes``) with ``n_classes = N`` bound (see :func:`metric_for_task`)."""
    bound = _BOUND_METRIC.match(name)
    if bound:
        spec = metric_spec(bound["name"])
        if not spec.takes_n_classes:
            raise SpecError(f"metric {spec.name!r} takes no class count: name it without [{bound['n']}]")
        return dataclasses.replace(spec, n_classes=int(bound["n"]))
    if ":" in name:
        registered = [spec for spec in get_registry().metrics.listed() if spec.factory == name]
        if registered:  # a result stored before its metric was a plugin: the registered spec, replicates and all
            return registered[0]
        return MetricSpec(name=_legacy_name(name), factory=name, replicates=None)
    return _lookup("metrics", name)


def metric_for_task(name: str, n_classes: Callable[[], int]) -> str:
    """The name a task is scored under: ``name``, or ``NAME[N]`` for a metric that averages over every class the
    task declares (``n_classes()`` is asked only then)."""
    try:
        takes = not _BOUND_METRIC.match(name) and metric_spec(name).takes_n_classes
    except (UnknownExtensionError, SpecError):  # refused, with a "did you mean", where the name is validated
        return name
    if not takes:
        return name
    return f"{name}[{int(n_classes())}]"


def _legacy_name(reference: str) -> str:
    return reference.lower().replace(":", ".").replace("_", "-")


def format_spec(name: str) -> ReportFormatSpec:
    return _lookup("formats", name)


def executor_spec(name: str) -> ExecutorSpec:
    return _lookup("executors", name)


def reference_spec(name: str) -> ReferenceSpec:
    return _lookup("references", name)


def make_probe(name: str, device: str = "cpu", **options: Any) -> Any:
    """A new, unfitted probe called ``name`` on ``device``; ``options`` go to its constructor."""
    try:
        spec = probe_spec(name)
    except UnknownExtensionError as exc:
        raise ValueError(str(exc)) from None
    return spec.load()(device=device, **options)


def probe_options(name: str) -> frozenset[str]:
    """The options probe ``name``'s constructor names (besides ``device`` and ``seed``); imports the probe's code.

    How a task knows what it may pass: ``scoring`` (its metric, for a probe that searches hyper-parameters) and
    ``class_weight`` only to a probe that takes them by name.
    """
    import inspect

    try:
        spec = probe_spec(name)
    except UnknownExtensionError as exc:
        raise ValueError(str(exc)) from None
    parameters = inspect.signature(spec.load()).parameters.values()
    named = {p.name for p in parameters if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)}
    return frozenset(named - {"self", "device", "seed"})


def group_scores(metric: str, groups: Sequence[str | None], y_true: Any, y_pred: Any, scores: Any = None,
                 ) -> dict[str, float]:
    """The metric over each group's examples (a task's ``Evaluation.splits``); examples without a group are left out.

    ``groups[i]`` is example ``i``'s group name, or ``None``. Groups are sorted by name.
    """
    import numpy as np

    spec = metric_spec(metric)
    function = spec.load()
    names = np.array(["" if g is None else str(g) for g in groups], dtype=object)
    has_group = np.array([g is not None for g in groups], dtype=bool)
    out: dict[str, float] = {}
    for group in sorted(set(names[has_group])):
        mask = has_group & (names == group)
        if spec.needs == "scores":
            out[group] = float(function(np.asarray(scores, dtype=np.float64)[mask]))
        else:
            out[group] = float(function(np.asarray(y_true, dtype=np.int64)[mask],
                                        np.asarray(y_pred, dtype=np.int64)[mask]))
    return out
