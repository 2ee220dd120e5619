"""``OpenClipBackbone``: the image tower of an open_clip model as a frozen biobench backbone.

``img_features`` is what ``model.encode_image(x)`` returns (pooled and projected, not normalised);
``patch_features`` are the tower's last visual tokens without the class token (ViTs), or its last spatial map
flattened to ``(batch, H*W, channels)`` (ModifiedResNet and timm CNN towers), or ``None`` where the tower has
neither (attention-pooled towers such as CoCa's, whose tokens are pooler queries rather than patches).

Only the image tower is kept; the text tower is never built for local or random weights and is dropped right
after open_clip loads pretrained weights.

``weights``:

- ``None``: the spec's pretrained weights through open_clip's own loading (network or a cached download);
- ``"random"`` or ``"random:<seed>"`` (or ``"random:seed=<seed>"``): a random initialisation with a fixed seed
  (default 0);
- a local ``.safetensors`` file (read with safetensors) or ``.pt``/``.pth``/``.bin``/``.ckpt`` file (read with
  ``torch.load(weights_only=True)``; never a free unpickling), holding a full CLIP state dict (``visual.*`` keys
  are used, the rest ignored) or the image tower's own state dict. Files are read by
  :func:`biobench_core.read_state_dict` (checkpoint containers unwrapped, ``module.`` stripped).

``weights_id`` takes the canonical forms of :mod:`biobench_core` (``*_weights_id``): ``pretrained:<arch>:<tag>`` or
``pretrained:hf-hub:<org>/<repo>``, each with ``@<commit>`` when the weights came from a Hugging Face Hub
revision the local cache knows; ``random:seed=<seed>``; ``sha256:<file content hash>``.

Preprocessing (contract 2): ``make_img_transform`` is open_clip's own eval transform for the model's preprocess
config; ``preprocessing`` declares the same as data (:func:`preprocessing_from_cfg`) for the ``shortest`` (square)
and ``squash`` resize modes, and nothing for the letterbox of ``longest``.
"""

from __future__ import annotations

import copy
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from biobench_core import (BackboneSpec, EncodedImgBatch, Geometry, Preprocessing, VisionBackbone, cached_hub_revision,
                           file_weights_id, is_offline, one_line, pretrained_weights_id, random_weights_id)
import biobench_core
from biobench_openclip import HF_HUB_PREFIX

__all__ = ["OpenClipBackbone", "WeightsError", "WeightsNotAvailableError", "preprocessing_from_cfg"]

_OFFLINE_HINT = "pass a local file via --weights FILE / weights=FILE"


class WeightsError(ValueError):
    """Weights that cannot be read, or that do not fit the architecture."""


class WeightsNotAvailableError(RuntimeError):
    """Pretrained weights that cannot be fetched (offline, not cached, or the download failed)."""


# -- parsing the spec and the weights argument ------------------------------------------------------------------


def _parse_name(spec: BackboneSpec) -> tuple[str | None, str | None, str | None]:
    """``(arch, tag, hub_repo)`` from the spec's name: ``arch:tag``, ``arch`` or ``hf-hub:org/repo``."""
    name = spec.name
    if name.startswith(HF_HUB_PREFIX):
        return None, None, name[len(HF_HUB_PREFIX):]
    arch, sep, tag = name.partition(":")
    return arch, (tag if sep else None), None


def _parse_random(weights: str) -> int | None:
    """The seed for ``"random"``/``"random:<seed>"``/``"random:seed=<seed>"``, else ``None``."""
    if weights == "random":
        return 0
    head, sep, seed = weights.partition(":")
    if head == "random" and sep:
        try:
            return int(seed.removeprefix("seed="))
        except ValueError:
            raise WeightsError(f"weights {weights!r}: the seed after 'random:' must be an integer") from None
    return None


def _looks_like_network_error(exc: BaseException) -> bool:
    """Walk the exception chain for connection or offline-cache errors."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        name = type(current).__name__
        text = str(current)
        if (isinstance(current, (ConnectionError, TimeoutError))
                or any(word in name for word in ("Connect", "Timeout", "Offline", "LocalEntryNotFound"))
                or "offline" in text.lower() or "cannot find the requested files in the local cache" in text):
            return True
        current = current.__cause__ or current.__context__
    return False


# -- reading state dicts --------------------------------------------------------------------------------------


def _read_state_dict(path: Path) -> dict[str, Tensor]:
    """:func:`biobench_core.read_state_dict`, a file it cannot read raised as :class:`WeightsError`."""
    try:
        return biobench_core.read_state_dict(path)
    except biobench_core.WeightsFileError as exc:
        raise WeightsError(str(exc)) from exc


def _visual_part(state_dict: dict[str, Tensor]) -> dict[str, Tensor]:
    """The image tower's entries: ``visual.*`` of a full CLIP state dict, or the whole dict if it has none."""
    prefix = "visual."
    if any(k.startswith(prefix) for k in state_dict):
        return {k[len(prefix):]: v for k, v in state_dict.items() if k.startswith(prefix)}
    return state_dict


def _count(n: int, what: str) -> str:
    return f"{n} {what}" if n != 1 else f"1 {what.replace('keys', 'key')}"


def _few(items: list[str], n: int = 3) -> str:
    shown = ", ".join(items[:n])
    return shown + (f" and {len(items) - n} more" if len(items) > n else "")


def _load_into(module: torch.nn.Module, state_dict: dict[str, Tensor], source: str, target: str) -> None:
    """Load strictly, or raise one line naming missing, unexpected and wrong-shape keys."""
    expected = module.state_dict()
    missing = [k for k in expected if k not in state_dict]
    unexpected = [k for k in state_dict if k not in expected]
    wrong = [f"{k} (file {tuple(state_dict[k].shape)}, model {tuple(v.shape)})"
             for k, v in expected.items() if k in state_dict and state_dict[k].shape != v.shape]
    if missing or unexpected or wrong:
        parts = []
        if missing:
            parts.append(f"{_count(len(missing), 'missing keys')}: {_few(missing)}")
        if unexpected:
            parts.append(f"{_count(len(unexpected), 'unexpected keys')}: {_few(unexpected)}")
        if wrong:
            parts.append(f"{_count(len(wrong), 'keys with the wrong shape')}: {_few(wrong)}")
        raise WeightsError(f"weights {source} do not fit {target}: " + "; ".join(parts))
    module.load_state_dict(state_dict, strict=True)


# -- the backbone ---------------------------------------------------------------------------------------------


class _ToRGB:
    """Convert any PIL image (grayscale, RGBA, palette, CMYK) to RGB, then apply open_clip's preprocess."""

    def __init__(self, transform: Callable[[Any], Tensor]) -> None:
        self.transform = transform

    def __call__(self, img: Any) -> Tensor:
        if hasattr(img, "mode") and hasattr(img, "convert") and img.mode != "RGB":
            img = img.convert("RGB")
        return self.transform(img)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.transform!r})"


class OpenClipBackbone(VisionBackbone):
    """The image tower of an open_clip model; see the module docstring for ``weights``."""

    def __init__(self, spec: BackboneSpec, weights: str | os.PathLike[str] | None = None) -> None:
        super().__init__()
        self.spec = spec
        self.backbone_id = spec.id
        arch, tag, repo = _parse_name(spec)
        if weights is None:
            visual, preprocess_cfg, weights_id = self._load_pretrained(spec, arch, tag, repo)
        else:
            weights = os.fspath(weights)
            model_cfg, preprocess_cfg = self._configs(spec, arch, tag, repo)
            seed = _parse_random(weights)
            if seed is not None:
                with torch.random.fork_rng(devices=[]):
                    torch.manual_seed(seed)
                    visual = self._build_visual(model_cfg)
                weights_id = random_weights_id(seed)
            else:
                path = Path(weights).expanduser()
                if not path.is_file():
                    what = "is a directory, not a file" if path.is_dir() else "not found"
                    raise FileNotFoundError(f"weights file {weights} {what} (for {spec.id})")
                visual = self._build_visual(model_cfg)
                target = f"the image tower of {spec.id}"
                _load_into(visual, _visual_part(_read_state_dict(path)), str(path), target)
                weights_id = file_weights_id(path)
            size = getattr(visual, "image_size", None)
            if size is not None:
                preprocess_cfg["size"] = size
        self.visual = visual
        self.preprocess_cfg = preprocess_cfg
        self.weights_id = weights_id
        self._kind = self._tower_kind(visual)
        if self._kind == "vit":
            visual.output_tokens = True
        self.eval()
        self.requires_grad_(False)

    # -- building ---------------------------------------------------------------------------------------------

    @staticmethod
    def _configs(spec: BackboneSpec, arch: str | None, tag: str | None,
                 repo: str | None) -> tuple[dict[str, Any], dict[str, Any]]:
        """The model config and preprocess config, without downloading any weights."""
        import open_clip
        from open_clip.transform import PreprocessCfg, merge_preprocess_dict

        preprocess: dict[str, Any] = merge_preprocess_dict(PreprocessCfg(), {})
        if repo is not None:
            config = _hub_config(spec, repo)
            model_cfg = config.get("model_cfg")
            if not isinstance(model_cfg, dict):
                raise WeightsError(f"open_clip_config.json of {HF_HUB_PREFIX}{repo} has no 'model_cfg'")
            return copy.deepcopy(model_cfg), merge_preprocess_dict(preprocess, config.get("preprocess_cfg", {}))
        model_cfg = open_clip.get_model_config(arch)
        if model_cfg is None:
            raise WeightsError(f"{spec.id}: open_clip {open_clip.__version__} has no model config {arch!r}")
        if tag is not None:
            tag_cfg = open_clip.get_pretrained_cfg(arch, tag)
            if tag_cfg.get("quick_gelu"):
                model_cfg["quick_gelu"] = True
            preprocess = merge_preprocess_dict(preprocess, tag_cfg)
        return model_cfg, preprocess

    @staticmethod
    def _build_visual(model_cfg: dict[str, Any]) -> torch.nn.Module:
        """Build only the image tower (randomly initialised) from an open_clip model config."""
        from open_clip import model as oc_model

        vision_cfg = dict(model_cfg["vision_cfg"])
        if "timm_model_name" in vision_cfg:
            vision_cfg["timm_model_pretrained"] = False  # never fetch timm weights behind the user's back
        build = getattr(oc_model, "_build_vision_tower", None)
        if build is not None:
            return build(model_cfg["embed_dim"], vision_cfg, bool(model_cfg.get("quick_gelu", False)))
        # Fallback for an open_clip without the helper: build the whole model, keep the image tower.
        import open_clip

        cfg = dict(model_cfg, vision_cfg=vision_cfg)
        cls = open_clip.CustomTextCLIP if cfg.pop("custom_text", False) else open_clip.CLIP
        return cls(**cfg).visual

    @staticmethod
    def _load_pretrained(spec: BackboneSpec, arch: str | None, tag: str | None,
                         repo: str | None) -> tuple[torch.nn.Module, dict[str, Any], str]:
        import open_clip

        hub_repo: str | None = None  # the Hub repository open_clip fetches the weights from, if any
        if repo is not None:
            source = id_source = f"{HF_HUB_PREFIX}{repo}"
            hub_repo = repo
            kwargs: dict[str, Any] = {"model_name": source}
        elif tag is None:
            raise WeightsError(
                f"{spec.id} is an architecture without pretrained weights: pass weights=FILE (--weights FILE) or "
                f"weights='random', or pick a pretrained tag such as 'openclip/{arch}:<tag>' (see "
                f"'biobench backbones openclip/{arch}:*')"
            )
        else:
            tag_cfg = open_clip.get_pretrained_cfg(arch, tag)
            if not tag_cfg:
                raise WeightsError(f"{spec.id}: open_clip {open_clip.__version__} has no pretrained tag {tag!r} "
                                   f"for {arch}")
            source = spec.weights_source or f"{arch}:{tag}"
            id_source = f"{arch}:{tag}"
            if tag_cfg.get("hf_hub"):  # "org/repo/" or "org/repo/filename"
                hub_repo = "/".join(str(tag_cfg["hf_hub"]).strip("/").split("/")[:2])
            kwargs = {"model_name": arch, "pretrained": tag,
                      "force_quick_gelu": bool(tag_cfg.get("quick_gelu", False))}
            if is_offline() and not tag_cfg.get("hf_hub") and tag_cfg.get("url"):
                cached = Path(os.path.expanduser("~/.cache/clip")) / os.path.basename(tag_cfg["url"])
                if not cached.is_file():  # open_clip would try the network for a URL-only tag
                    raise WeightsNotAvailableError(_offline_message(spec, source))
        try:
            model = open_clip.create_model(**kwargs, require_pretrained=True, pretrained_text=False,
                                           device="cpu", precision="fp32")
        except Exception as exc:
            if is_offline() or _looks_like_network_error(exc):
                raise WeightsNotAvailableError(_offline_message(spec, source)) from exc
            raise WeightsNotAvailableError(
                f"could not load the pretrained weights of {spec.id} from {source} "
                f"({one_line(exc, typed=True)}); "
                f"{_OFFLINE_HINT}"
            ) from exc
        visual = model.visual
        preprocess = dict(visual.preprocess_cfg)
        del model  # drop the text tower
        revision = cached_hub_revision(hub_repo) if hub_repo else None
        return visual, preprocess, pretrained_weights_id(id_source, revision=revision)

    @staticmethod
    def _tower_kind(visual: torch.nn.Module) -> str:
        from open_clip.modified_resnet import ModifiedResNet
        from open_clip.timm_model import TimmModel
        from open_clip.transformer import VisionTransformer

        if isinstance(visual, VisionTransformer):
            return "vit" if visual.attn_pool is None and visual.pool_type in ("tok", "avg") else "other"
        if isinstance(visual, ModifiedResNet):
            return "resnet"
        if isinstance(visual, TimmModel) and hasattr(visual.trunk, "forward_features") \
                and hasattr(visual.trunk, "forward_head"):
            return "timm"
        return "other"

    # -- the contract -----------------------------------------------------------------------------------------

    @torch.no_grad()
    def img_encode(self, batch: Tensor) -> EncodedImgBatch:
        visual = self.visual
        patches: Tensor | None = None
        if self._kind == "vit":
            pooled, patches = visual(batch)
        elif self._kind == "resnet":
            fmap = visual.stem(batch)
            for layer in (visual.layer1, visual.layer2, visual.layer3, visual.layer4):
                fmap = layer(fmap)
            pooled = visual.attnpool(fmap)
            patches = fmap.flatten(2).transpose(1, 2)
        elif self._kind == "timm":
            trunk = visual.trunk
            feats = trunk.forward_features(batch)
            pooled = visual.head(trunk.forward_head(feats))
            patches = _timm_patches(trunk, feats)
        else:
            out = visual(batch)
            pooled = out[0] if isinstance(out, (tuple, list)) else out
        return EncodedImgBatch(img_features=pooled, patch_features=patches)

    def make_img_transform(self) -> Callable[[Any], Tensor]:
        from open_clip.transform import PreprocessCfg, image_transform_v2

        return _ToRGB(image_transform_v2(PreprocessCfg(**self.preprocess_cfg), is_train=False))

    def preprocessing(self) -> Preprocessing | None:
        """The same eval transform as data, or ``None`` where it is not one (see :func:`preprocessing_from_cfg`)."""
        return preprocessing_from_cfg(self.preprocess_cfg)

    def extra_repr(self) -> str:
        return f"backbone_id={self.backbone_id!r}, weights_id={self.weights_id!r}"


def preprocessing_from_cfg(cfg: dict[str, Any]) -> Preprocessing | None:
    """What open_clip's eval ``image_transform_v2(PreprocessCfg(**cfg))`` computes, as a :class:`Preprocessing`.

    It mirrors ``open_clip.transform.image_transform``: interpolation ``bilinear``, or ``bicubic`` for anything
    else (``random`` included, as open_clip falls back at inference); resize mode ``shortest`` (the default)
    with a square size resizes the shorter side to it and centre-crops a square; ``squash`` resizes to exactly
    the size, without a crop. ``None`` (the callable transform stays in use) for ``longest`` (a letterbox:
    resize the longer side, pad with ``fill_color``) and for ``shortest`` with a non-square size (open_clip's
    ``ResizeKeepRatio``).
    """
    from open_clip.constants import OPENAI_DATASET_MEAN, OPENAI_DATASET_STD

    size = cfg.get("size", 224)
    height, width = (size, size) if isinstance(size, int) else (int(size[0]), int(size[1]))
    interpolation = "bilinear" if cfg.get("interpolation") == "bilinear" else "bicubic"
    mean = _per_channel(cfg.get("mean") or OPENAI_DATASET_MEAN)
    std = _per_channel(cfg.get("std") or OPENAI_DATASET_STD)
    resize_mode = cfg.get("resize_mode") or "shortest"
    if resize_mode == "squash":
        geometry = Geometry((height, width), None, interpolation)
    elif resize_mode == "shortest" and height == width:
        geometry = Geometry(height, (height, width), interpolation)
    else:
        return None
    return Preprocessing(geometry, mean, std)


def _per_channel(values: Any) -> Any:
    """One number, or a sequence of one, broadcast to the three channels as ``Normalize`` does."""
    if isinstance(values, (tuple, list)) and len(values) == 1:
        return tuple(values) * 3
    return values


def _timm_patches(trunk: torch.nn.Module, feats: Tensor) -> Tensor | None:
    """A timm trunk's ``forward_features`` output as ``(batch, n_patches, dim)`` without prefix tokens."""
    if feats.ndim == 3:
        return feats[:, int(getattr(trunk, "num_prefix_tokens", 0) or 0):]
    if feats.ndim == 4:
        if str(getattr(trunk, "output_fmt", "NCHW")) == "NHWC":
            return feats.flatten(1, 2)
        return feats.flatten(2).transpose(1, 2)
    return None


def _offline_message(spec: BackboneSpec, source: str) -> str:
    return (f"weights for {spec.id} are not available offline ({source} is not in the local cache); "
            f"{_OFFLINE_HINT}, or download them once with network access")


def _hub_config(spec: BackboneSpec, repo: str) -> dict[str, Any]:
    """``open_clip_config.json`` of a hub repository (from the cache when offline)."""
    from huggingface_hub import hf_hub_download

    try:
        path = hf_hub_download(repo_id=repo, filename="open_clip_config.json")
    except Exception as exc:
        if is_offline() or _looks_like_network_error(exc):
            raise WeightsNotAvailableError(
                f"the open_clip config of {spec.id} is not available offline ({HF_HUB_PREFIX}{repo}/"
                f"open_clip_config.json is not in the local cache); for a local weights file without it use the "
                f"architecture id instead, e.g. openclip/ViT-B-16 with --weights FILE / weights=FILE"
            ) from exc
        raise WeightsNotAvailableError(f"cannot fetch open_clip_config.json of {HF_HUB_PREFIX}{repo} for {spec.id}: "
                                       f"{type(exc).__name__}: {exc}") from exc
    with open(path, encoding="utf-8") as fh:
        return json.load(fh)
