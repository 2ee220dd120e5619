"""The seed's contracts: ``VisionBackbone``, ``EncodedImgBatch`` and ``BenchmarkReport``.

This module imports torch; ``biobench_core`` re-exports its names lazily so that listing stays torch-free.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import torch
from jaxtyping import Float
from torch import Tensor

from biobench_core.contract._preprocessing import Preprocessing
from biobench_core.contract._report import BenchmarkReport, get_git_hash

__all__ = ["VisionBackbone", "EncodedImgBatch", "BenchmarkReport", "get_git_hash", "BackboneOutputError",
           "check_encoded"]


class BackboneOutputError(RuntimeError):
    """A backbone returned features of the wrong type, shape or value."""


@dataclasses.dataclass(frozen=True)
class EncodedImgBatch:
    """What a backbone returns for a batch of images.

    ``img_features`` is one vector per image; ``patch_features`` the per-patch (or per-location) tokens, or
    ``None`` when the backbone has none.
    """

    img_features: Float[Tensor, "batch img_dim"]
    patch_features: Float[Tensor, "batch n_patches patch_dim"] | None = None


class VisionBackbone(torch.nn.Module):
    """A frozen image encoder. Plugins subclass this.

    Subclasses implement :meth:`img_encode` and :meth:`make_img_transform`, and may declare
    :meth:`preprocessing` (the same transform as data). ``backbone_id`` is set by
    ``load_backbone``; ``weights_id`` should identify the weights exactly (a pretrained tag, a file's hash, or
    ``"random"``) because the feature cache keys on it.
    """

    backbone_id: str = "unknown"
    weights_id: str = "unknown"

    def img_encode(self, batch: Float[Tensor, "batch 3 width height"]) -> EncodedImgBatch:
        raise NotImplementedError

    def make_img_transform(self) -> Callable[[Any], Tensor]:
        raise NotImplementedError

    def preprocessing(self) -> Preprocessing | None:
        """The transform as data (contract 2): resize, centre crop, interpolation, mean and std, or ``None``.

        When declared, the extraction loop decodes and resizes in its workers to uint8, shares those pixels
        between backbones with the same geometry, and normalises on the device; it must compute what
        :meth:`make_img_transform` computes (the conformance kit checks the two agree). ``None`` (the default,
        and every contract-1 plugin): the callable transform is used as it is.
        """
        return None


def check_encoded(out: object, batch_size: int, backbone_id: str, *, need_patches: bool = False) -> EncodedImgBatch:
    """Check a backbone's output at run time: types, shapes (with jaxtyping) and finiteness.

    Raises :class:`BackboneOutputError` naming ``backbone_id`` and what is wrong.
    """
    if not isinstance(out, EncodedImgBatch):
        raise BackboneOutputError(f"{backbone_id}: img_encode returned {type(out).__name__}, not EncodedImgBatch")
    feats = out.img_features
    if not isinstance(feats, Float[Tensor, "batch img_dim"]):
        shape = tuple(getattr(feats, "shape", ())) or type(feats).__name__
        raise BackboneOutputError(
            f"{backbone_id}: img_features must be a float tensor of shape (batch, img_dim), got {shape}"
        )
    if feats.shape[0] != batch_size:
        raise BackboneOutputError(
            f"{backbone_id}: img_features has {feats.shape[0]} rows for a batch of {batch_size} images"
        )
    if not bool(torch.isfinite(feats).all()):
        raise BackboneOutputError(f"{backbone_id}: img_features contains NaN or infinite values")
    patches = out.patch_features
    if patches is not None:
        if not isinstance(patches, Float[Tensor, "batch n_patches patch_dim"]) or patches.shape[0] != batch_size:
            raise BackboneOutputError(
                f"{backbone_id}: patch_features must have shape (batch={batch_size}, n_patches, patch_dim), "
                f"got {tuple(patches.shape) if isinstance(patches, Tensor) else type(patches).__name__}"
            )
        if need_patches and not bool(torch.isfinite(patches).all()):
            raise BackboneOutputError(f"{backbone_id}: patch_features contains NaN or infinite values")
    elif need_patches:
        raise BackboneOutputError(f"{backbone_id}: this task needs patch_features but the backbone returned None")
    return out
