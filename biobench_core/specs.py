"""What a plugin offers, described without importing any of its code.

A spec is a frozen, torch-free record. Listing backbones or tasks builds thousands of these and must stay
instant, so a spec never holds a model or a dataset: it names its factory as ``"module:attr"``, which the core
imports only when that backbone or task is actually used.
"""

from __future__ import annotations

import dataclasses
import re
from typing import Any

__all__ = ["BackboneSpec", "TaskSpec", "SpecError", "split_id"]

_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]*/\S+$")
_FACTORY_RE = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_][\w.]*$")


class SpecError(ValueError):
    """A spec, or an id, that is not well formed."""


def split_id(item_id: str) -> tuple[str, str]:
    """``"timm/resnet18"`` -> ``("timm", "resnet18")``; raises :class:`SpecError` on a malformed id."""
    if not isinstance(item_id, str) or not _ID_RE.match(item_id):
        raise SpecError(f"malformed id {item_id!r}: expected '<namespace>/<name>', e.g. 'timm/resnet18'")
    namespace, _, name = item_id.partition("/")
    return namespace, name


@dataclasses.dataclass(frozen=True)
class _Spec:
    """Fields every spec has: a namespaced id, a lazy factory and what listing shows."""

    id: str
    factory: str
    description: str = ""
    license: str | None = None
    aliases: tuple[str, ...] = ()
    extra: tuple[tuple[str, str], ...] = ()

    def __post_init__(self) -> None:
        split_id(self.id)
        if not isinstance(self.factory, str) or not _FACTORY_RE.match(self.factory):
            raise SpecError(f"{self.id}: factory must be a 'module:attr' string, got {self.factory!r}")
        if not isinstance(self.aliases, tuple):
            raise SpecError(f"{self.id}: aliases must be a tuple of ids")
        for alias in self.aliases:
            split_id(alias)

    @property
    def namespace(self) -> str:
        return split_id(self.id)[0]

    @property
    def name(self) -> str:
        return split_id(self.id)[1]

    def to_dict(self) -> dict[str, Any]:
        out = dataclasses.asdict(self)
        out["aliases"] = list(self.aliases)
        out["extra"] = dict(self.extra)
        return out


@dataclasses.dataclass(frozen=True)
class BackboneSpec(_Spec):
    """A frozen vision backbone that a plugin can build.

    Example::

        BackboneSpec(
            id="timm/vit_small_patch16_224.augreg_in21k",
            factory="biobench_timm.backbone:TimmBackbone",
            embed_dim=384,
            input_size=224,
            weights_source="hf-hub:timm/vit_small_patch16_224.augreg_in21k",
        )

    The factory is called as ``factory(spec, weights)`` and returns a ``VisionBackbone``. ``weights`` is
    ``None`` (the spec's own pretrained weights), ``"random"``, a local file path, or anything else the plugin
    documents.
    """

    embed_dim: int | None = None
    input_size: int | None = None
    weights_source: str | None = None


@dataclasses.dataclass(frozen=True)
class TaskSpec(_Spec):
    """A benchmark task that a plugin can build.

    Example::

        TaskSpec(
            id="tasks/animal-silhouettes",
            factory="biobench_tasks.silhouettes:AnimalSilhouettes",
            description="10,000 28x28 animal silhouettes, 10 classes",
            protocol="logreg",
            metric="accuracy",
            needs_data=False,
        )

    The factory is called as ``factory(spec, data, settings)`` with ``data`` the folder given by
    ``--data TASK=DIR`` (or ``None``) and ``settings`` a ``dict[str, str]``; it returns a ``Task``.
    """

    protocol: str = "logreg"
    metric: str = "accuracy"
    needs_data: bool = True
    data_source: str | None = None
    #: Prior work (e.g. iNat21 for backbones trained on it): reported, but kept out of the benchmark mean.
    prior_work: bool = False
    #: How much ``biobench data fetch`` downloads, for ``biobench data list`` (e.g. ``"4.1 GB"``).
    data_size: str | None = None
    #: ``"module:attr"`` naming the task's :class:`biobench_core.data.DataRecipe` (where and how to get its
    #: data); imported only by ``biobench data``, never at discovery.
    data_recipe: str | None = None

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.data_recipe is not None and (not isinstance(self.data_recipe, str)
                                             or not _FACTORY_RE.match(self.data_recipe)):
            raise SpecError(f"{self.id}: data_recipe must be a 'module:attr' string, got {self.data_recipe!r}")
