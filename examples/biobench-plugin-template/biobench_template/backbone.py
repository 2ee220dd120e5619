"""The template's backbone: a tiny real conv net, its weights, its image transform and that transform as data.

Replace :class:`TinyConvNet` with your architecture and :func:`build_model` with how your weights are read.
This module may import torch: biobench imports it only when ``template/tiny`` is used.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from jaxtyping import Float
from PIL import Image
from torch import Tensor, nn

from biobench_core import (BackboneSpec, EncodedImgBatch, Preprocessing, VisionBackbone, apply_geometry,
                           file_weights_id, normalise, random_weights_id, read_state_dict)

__all__ = ["TemplateBackbone", "TinyConvNet", "ImgTransform", "build_model"]

#: Seed of the placeholder weights used when ``weights`` is None. A real plugin loads pretrained weights here.
PLACEHOLDER_SEED = 0
#: Seed of ``weights="random"``: a fixed seed, so the feature cache's key ("random:seed=1") names one model.
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
    """PIL image -> normalised float tensor (3, size, size): resize the short side, centre-crop, normalise.

    What biobench asks of the object ``make_img_transform()`` returns:

    - **Picklable.** ``biobench run --workers N`` sends it to data-loader worker processes, so it must be a
      module-level class (or torchvision transforms), never a lambda or a closure.
    - **A stable ``repr`` naming every parameter** (see :meth:`__repr__`). The feature cache keys on it
      (:func:`biobench_core.engine._identity.describe_transform`): a default ``repr`` holds a memory address, so the core
      would not cache this backbone's features, and ``check_backbone`` fails it.
    - **Deterministic**, and every image comes out with the same shape: no random augmentation.
    - **Normalisation is yours**: ``img_encode`` receives exactly what this returns, and the core normalises
      nothing. Apply whatever your weights were trained with (here mean and std 0.5, i.e. pixels in [-1, 1]).

    This transform is a resize, a centre crop and a normalisation, so it is computed from its
    :class:`~biobench_core.Preprocessing` with biobench's own functions: what
    :meth:`TemplateBackbone.preprocessing` declares and what this computes cannot drift apart. A transform that
    is something else (a letterbox, a learned resize) is written by hand and declares no preprocessing.
    """

    def __init__(self, size: int, mean: tuple[float, ...] = (0.5, 0.5, 0.5), std: tuple[float, ...] = (0.5, 0.5, 0.5)):
        self.size = size
        self.preprocessing = Preprocessing.of(size, crop=size, interpolation="bicubic", mean=mean, std=std)

    def __repr__(self) -> str:
        # The class and every parameter, in full precision: two transforms that differ must differ here.
        # (What the code does is covered separately: the core fingerprints your plugin's files.)
        prep = self.preprocessing
        return f"{type(self).__name__}(size={self.size}, mean={prep.mean!r}, std={prep.std!r})"

    def __call__(self, img: Image.Image) -> Float[Tensor, "3 size size"]:
        pixels = torch.from_numpy(apply_geometry(img, self.preprocessing.geometry))  # (size, size, 3) uint8
        return normalise(pixels[None], self.preprocessing, torch.float32)[0]


def build_model(width: int, weights: str | None) -> tuple[TinyConvNet, str]:
    """Build the network and its weights; returns it with the ``weights_id`` that the feature cache keys on.

    - ``None``: the spec's own weights. In this template, a seeded random init standing in for pretrained
      weights; in your plugin, read your checkpoint here (from a local file or a cache that a separate download
      step filled: never touch the network while loading).
    - ``"random"``: a random initialisation (seeded, so that it is one reproducible model).
    - a path to a ``.safetensors`` file (or a ``.pt``/``.pth``/``.bin`` state dict), read by
      :func:`biobench_core.read_state_dict`: ``weights_only=True``, never an arbitrary unpickling.

    The ids are the canonical ones of :mod:`biobench_core` (``*_weights_id``): ``random:seed=<seed>`` for a seeded init
    (the placeholder is one too), ``sha256:<hex>`` for a file's content; a real plugin names its pretrained
    weights with ``pretrained_weights_id(source, revision)``, e.g. ``pretrained:hf-hub:you/your-model@<commit>``.
    """
    if weights is None or weights == "random":
        seed = PLACEHOLDER_SEED if weights is None else RANDOM_SEED
        with torch.random.fork_rng(devices=[]):  # seeded init that leaves the caller's RNG state alone
            torch.manual_seed(seed)
            model = TinyConvNet(width)
        return model, random_weights_id(seed)
    path = Path(weights).expanduser()
    if not path.is_file():
        raise FileNotFoundError(f"template/tiny: weights must be None, 'random' or a local file; {path} does not exist")
    state = read_state_dict(path)  # errors name the file; checkpoint containers and "module." are unwrapped
    model = TinyConvNet(width)
    model.load_state_dict(state, strict=True)
    return model, file_weights_id(path)


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
        """A fresh transform per call; picklable, with a stable ``repr`` (see :class:`ImgTransform`)."""
        return ImgTransform(self.spec.input_size or 64)

    def preprocessing(self) -> Preprocessing | None:
        """The transform as data (contract 2): biobench then resizes in its data-loader workers to 8-bit pixels,
        shares them with other backbones of the same geometry, and normalises on the GPU. Return ``None`` when
        your transform is not a resize, a centre crop and a normalisation; ``check_backbone`` checks the two agree.
        """
        return self.make_img_transform().preprocessing
