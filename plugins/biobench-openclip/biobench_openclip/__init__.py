"""biobench plugin for open_clip image encoders (namespace ``openclip/``).

Ids:

- ``openclip/<arch>:<tag>``: every pretrained pair of ``open_clip.list_pretrained()``, e.g.
  ``openclip/ViT-B-16:openai``.
- ``openclip/hf-hub:<org>/<repo>``: any open_clip model on the Hugging Face Hub, e.g.
  ``openclip/hf-hub:imageomics/bioclip`` (BioCLIP). A few well-known ones are listed; any other resolves.
- ``openclip/<arch>``: an architecture without pretrained weights, for ``weights=FILE`` or ``weights="random"``.

Listing and resolving read the shipped ``catalogue.json`` (regenerate it with ``scripts/make_snapshot.py``)
and never import torch or open_clip; the backbone itself lives in :mod:`biobench_openclip.backbone`.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterator
from importlib import resources
from typing import Any

from biobench_core import BackboneSpec, hookimpl

__all__ = ["BIOBENCH_CONTRACT", "NAMESPACE", "FACTORY", "HF_HUB_PREFIX", "catalogue", "arch_spec",
           "pretrained_spec", "hub_spec", "biobench_backbones", "biobench_resolve_backbone"]

BIOBENCH_CONTRACT = 2
NAMESPACE = "openclip"
FACTORY = "biobench_openclip.backbone:OpenClipBackbone"
HF_HUB_PREFIX = "hf-hub:"

# Well-known open_clip models on the Hugging Face Hub, listed so that they show up in 'biobench backbones'.
# (repo, description, embed_dim, input_size, license)
_HUB_MODELS: tuple[tuple[str, str, int | None, int | None, str | None], ...] = (
    ("imageomics/bioclip", "BioCLIP: CLIP ViT-B/16 trained on TreeOfLife-10M (Stevens et al., CVPR 2024)",
     512, 224, "MIT"),
    ("imageomics/bioclip-2", "BioCLIP 2: CLIP ViT-L/14 trained on TreeOfLife-200M (Gu et al., 2025)",
     768, 224, None),
)


@functools.cache
def catalogue() -> dict[str, Any]:
    """The shipped snapshot of the installed open_clip's configs and pretrained tags (read once)."""
    text = resources.files(__name__).joinpath("catalogue.json").read_text(encoding="utf-8")
    return json.loads(text)


def _arch_info(arch: str) -> dict[str, Any]:
    return catalogue()["archs"].get(arch, {})


def pretrained_spec(entry: dict[str, Any]) -> BackboneSpec:
    arch, tag = entry["arch"], entry["tag"]
    info = _arch_info(arch)
    extra = [("arch", arch), ("pretrained", tag)]
    if entry.get("quick_gelu"):
        extra.append(("quick_gelu", "true"))
    return BackboneSpec(
        id=f"{NAMESPACE}/{arch}:{tag}",
        factory=FACTORY,
        description=f"open_clip {arch} image encoder, pretrained '{tag}'",
        embed_dim=info.get("embed_dim"),
        input_size=info.get("input_size"),
        weights_source=entry.get("weights_source"),
        extra=tuple(extra),
    )


def arch_spec(arch: str) -> BackboneSpec | None:
    """A spec for an architecture without weights; ``None`` when open_clip has no config of that name."""
    if arch not in catalogue()["archs"]:
        return None
    info = _arch_info(arch)
    return BackboneSpec(
        id=f"{NAMESPACE}/{arch}",
        factory=FACTORY,
        description=f"open_clip {arch} architecture without pretrained weights (needs weights=FILE or 'random')",
        embed_dim=info.get("embed_dim"),
        input_size=info.get("input_size"),
        weights_source=None,
        extra=(("arch", arch),),
    )


def hub_spec(repo: str, description: str = "", embed_dim: int | None = None, input_size: int | None = None,
             license: str | None = None) -> BackboneSpec:  # noqa: A002 - the spec's field name
    """A spec for an open_clip model on the Hugging Face Hub (``repo`` is ``org/name``)."""
    return BackboneSpec(
        id=f"{NAMESPACE}/{HF_HUB_PREFIX}{repo}",
        factory=FACTORY,
        description=description or f"open_clip model from the Hugging Face Hub repository {repo}",
        embed_dim=embed_dim,
        input_size=input_size,
        license=license,
        weights_source=f"{HF_HUB_PREFIX}{repo}",
        extra=(("hf_hub", repo),),
    )


@hookimpl
def biobench_backbones() -> Iterator[BackboneSpec]:
    for entry in catalogue()["pretrained"]:
        yield pretrained_spec(entry)
    for repo, description, embed_dim, input_size, license_ in _HUB_MODELS:
        yield hub_spec(repo, description, embed_dim, input_size, license_)


def _is_hub_repo(repo: str) -> bool:
    org, sep, name = repo.partition("/")
    return bool(org and sep and name and "/" not in name and ":" not in repo)


@hookimpl
def biobench_resolve_backbone(backbone_id: str) -> BackboneSpec | None:
    namespace, sep, name = backbone_id.partition("/")
    if namespace != NAMESPACE or not sep:
        return None
    if name.startswith(HF_HUB_PREFIX):
        repo = name[len(HF_HUB_PREFIX):]
        return hub_spec(repo) if _is_hub_repo(repo) else None
    if ":" in name:  # '<arch>:<tag>' pairs are all listed; an unknown tag is an unknown id
        return None
    return arch_spec(name)
