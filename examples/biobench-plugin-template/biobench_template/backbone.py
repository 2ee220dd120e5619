"""The template's backbone: a tiny real conv net, its weights and its own image transform.

Replace :class:`TinyConvNet` with your architecture and :func:`build_model` with how your weights are read.
This module may import torch: biobench imports it only when ``template/tiny`` is used.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import numpy as np
import torch
from jaxtyping import Float
from PIL import Image
from torch import Tensor, nn

from biobench_core import BackboneSpec
from biobench_core.interfaces import EncodedImgBatch, VisionBackbone

__all__ = ["TemplateBackbone", "TinyConvNet", "ImgTransform", "build_model"]

#: Seed of the placeholder weights used when ``weights`` is None. A real plugin loads pretrained weights here.
PLACEHOLDER_SEED = 0
#: Seed of ``weights="random"``: a fixed seed, so the feature cache's key ("random-seed1") names one model.
RANDOM_SEED = 1


class TinyConvNet(nn.Module):
    """Three strided 3x3 convolutions: a 64x64 image becomes an 8x8 grid of 32-d tokens."""

    def __init__(self, width: int = 32) -> None:
        super().__init__()
        self.layers = nn.Sequential(
            nn.Conv2d(3, 16, 3, stride=2, padding=1), nn.GELU(),
            nn.Conv2d(16, width, 3, stride=2, padding=1), nn.GELU(),
            nn.Conv2d(width, width, 3, stride=2, padding=1),
        )
        self.norm = nn.LayerNorm(width)

    def forward(self, x: Tensor) -> Tensor:
        grid = self.layers(x)  # (batch, width, 8, 8)
        return self.norm(grid.flatten(2).transpose(1, 2))  # (batch, 64 tokens, width)


class ImgTransform:
    """PIL image -> normalised float tensor (3, size, size): resize the short side, centre-crop.

    A module-level class rather than a lambda, so that data-loader worker processes can pickle it. No random
    augmentation: features must be reproducible.
    """

    def __init__(self, size: int, mean: tuple[float, ...] = (0.5, 0.5, 0.5), std: tuple[float, ...] = (0.5, 0.5, 0.5)):
        self.size = size
        self.mean = torch.tensor(mean).view(3, 1, 1)
        self.std = torch.tensor(std).view(3, 1, 1)

    def __call__(self, img: Image.Image) -> Float[Tensor, "3 size size"]:
        img = img.convert("RGB")
        scale = self.size / min(img.size)
        width, height = max(self.size, round(img.width * scale)), max(self.size, round(img.height * scale))
        img = img.resize((width, height), Image.Resampling.BICUBIC)
        left, top = (width - self.size) // 2, (height - self.size) // 2
        img = img.crop((left, top, left + self.size, top + self.size))
        pixels = torch.from_numpy(np.asarray(img, dtype=np.float32).copy()).permute(2, 0, 1) / 255.0
        return (pixels - self.mean) / self.std


def build_model(width: int, weights: str | None) -> tuple[TinyConvNet, str]:
    """Build the network and its weights; returns it with the ``weights_id`` that the feature cache keys on.

    - ``None``: the spec's own weights. In this template, a seeded random init standing in for pretrained
      weights; in your plugin, read your checkpoint here (from a local file or a cache that a separate download
      step filled: never touch the network while loading).
    - ``"random"``: a random initialisation (seeded, so that it is one reproducible model).
    - a path to a ``.safetensors`` file (or a ``.pt``/``.pth`` state dict, read with ``weights_only=True``).
    """
    if weights is None or weights == "random":
        seed = PLACEHOLDER_SEED if weights is None else RANDOM_SEED
        with torch.random.fork_rng(devices=[]):  # seeded init that leaves the caller's RNG state alone
            torch.manual_seed(seed)
            model = TinyConvNet(width)
        return model, ("placeholder-seed0" if weights is None else f"random-seed{seed}")
    path = Path(weights).expanduser()
    if not path.is_file():
        raise FileNotFoundError(f"template/tiny: weights must be None, 'random' or a local file; {path} does not exist")
    if path.suffix == ".safetensors":
        from safetensors.torch import load_file

        state = load_file(str(path))
    elif path.suffix in (".pt", ".pth"):
        state = torch.load(path, map_location="cpu", weights_only=True)  # never unpickle arbitrary objects
    else:
        raise ValueError(f"template/tiny: unsupported weights file {path.name}: use .safetensors (or .pt/.pth)")
    model = TinyConvNet(width)
    model.load_state_dict(state, strict=True)
    return model, "sha256:" + hashlib.sha256(path.read_bytes()).hexdigest()[:16]


class TemplateBackbone(VisionBackbone):
    """The factory named by the spec: ``TemplateBackbone(spec, weights)`` returns a frozen backbone."""

    def __init__(self, spec: BackboneSpec, weights: str | None = None) -> None:
        super().__init__()
        self.spec = spec
        self.model, self.weights_id = build_model(spec.embed_dim or 32, weights)
        self.eval()
        self.requires_grad_(False)

    def img_encode(self, batch: Float[Tensor, "batch 3 width height"]) -> EncodedImgBatch:
        tokens = self.model(batch)  # (batch, n_patches, dim)
        return EncodedImgBatch(img_features=tokens.mean(dim=1), patch_features=tokens)

    def make_img_transform(self) -> Any:
        return ImgTransform(self.spec.input_size or 64)
