"""biobench plugin for timm: every pretrained timm image model, as ``timm/<arch>.<tag>``.

Listing reads a shipped snapshot of timm's catalogue (``catalogue.json``) and never imports torch or timm;
the model itself is built by :class:`biobench_timm.backbone.TimmBackbone` only when a backbone is loaded.
``timm/<arch>`` is an alias of timm's default tag for that architecture.
"""

from __future__ import annotations

from collections.abc import Iterator

from biobench_core import BackboneSpec, hookimpl

from biobench_timm.catalogue import pretrained_specs, spec_for

__version__ = "0.1.0"

BIOBENCH_CONTRACT = 2


@hookimpl
def biobench_backbones() -> Iterator[BackboneSpec]:
    """Every pretrained tag of the timm version the snapshot was made from."""
    yield from pretrained_specs()


@hookimpl
def biobench_resolve_backbone(backbone_id: str) -> BackboneSpec | None:
    """``timm/hf-hub:<org>/<repo>`` and architectures without pretrained weights, e.g. ``timm/vit_tiny_patch8_224``."""
    return spec_for(backbone_id)
