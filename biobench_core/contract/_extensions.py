"""Probes, metrics, report formats and executors by name, from the plugin registry, with a "did you mean".

Each lookup returns the spec; its ``load()`` imports the code. An unknown name raises
:class:`UnknownExtensionError` listing what the installed plugins offer.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from biobench_core.contract._errors import did_you_mean
from biobench_core.contract._registry import PluginError, get_registry
from biobench_core.contract._specs import ExecutorSpec, MetricSpec, ProbeSpec, ReportFormatSpec

__all__ = ["UnknownExtensionError", "probe_spec", "metric_spec", "format_spec", "executor_spec", "make_probe",
           "extension_names", "group_scores"]


class UnknownExtensionError(LookupError):
    """No installed plugin offers this probe, metric, report format or executor."""

    def __str__(self) -> str:
        return str(self.args[0])


def extension_names(attribute: str) -> list[str]:
    """Every usable name (aliases included) of one kind: ``"probes"``, ``"metrics"``, ``"formats"``, ``"executors"``."""
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
    whose ``replicates`` attribute, if any, is its vectorised form."""
    if ":" in name:
        registered = [spec for spec in get_registry().metrics.listed() if spec.factory == name]
        if registered:  # a result stored before its metric was a plugin: the registered spec, replicates and all
            return registered[0]
        return MetricSpec(name=_legacy_name(name), factory=name, replicates=None)
    return _lookup("metrics", name)


def _legacy_name(reference: str) -> str:
    return reference.lower().replace(":", ".").replace("_", "-")


def format_spec(name: str) -> ReportFormatSpec:
    return _lookup("formats", name)


def executor_spec(name: str) -> ExecutorSpec:
    return _lookup("executors", name)


def make_probe(name: str, device: str = "cpu", **options: Any) -> Any:
    """A new, unfitted probe called ``name`` on ``device``; ``options`` go to its constructor."""
    try:
        spec = probe_spec(name)
    except UnknownExtensionError as exc:
        raise ValueError(str(exc)) from None
    return spec.load()(device=device, **options)


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
