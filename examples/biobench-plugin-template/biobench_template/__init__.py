"""A template biobench plugin: the hooks. Keep this module torch-free.

``biobench backbones`` imports this module and calls the hooks below for every listing, so it must stay cheap:
no torch, no model, no network. The model lives in :mod:`biobench_template.backbone`, which biobench imports
only when someone uses ``template/tiny``.
"""

from __future__ import annotations

from collections.abc import Iterator

from biobench_core import BackboneSpec, hookimpl

__all__ = ["BIOBENCH_CONTRACT", "biobench_backbones"]

#: The plugin-contract version this plugin was written for (see docs/hookspecs.md).
BIOBENCH_CONTRACT = 2


@hookimpl
def biobench_backbones() -> Iterator[BackboneSpec]:
    yield BackboneSpec(
        id="template/tiny",  # "<namespace>/<name>": the namespace is the entry-point name in pyproject.toml
        factory="biobench_template.backbone:TemplateBackbone",  # "module:attr", imported only when used
        description="A 3-layer conv net with seeded random weights: replace it with your model",
        license="MIT",
        embed_dim=32,
        input_size=64,
        weights_source=None,  # e.g. "hf-hub:you/your-model" or a URL: where pretrained weights come from
    )
