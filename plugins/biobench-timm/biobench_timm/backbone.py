"""``TimmBackbone``: any timm image model as a frozen biobench backbone.

Features (DESIGN.md, section 4):

- token models (ViTs and kin, ``forward_features`` gives ``(batch, tokens, dim)``): ``img_features`` is the
  [CLS] token; with no class token, the maximum over the patch tokens. ``patch_features`` are the tokens without
  the prefix (class, distillation and register) tokens.
  Models that keep class tokens without declaring ``num_prefix_tokens`` (CoaT, VOLO, PiT) are recognised by
  their ``cls_token`` parameter; PiT returns only its class tokens, so it has no patch features.
- feature-map models (CNNs, ``(batch, C, H, W)`` or ``(batch, H, W, C)``): ``img_features`` is the global
  average of the map, ``patch_features`` the map flattened to ``(batch, H*W, C)``.

Options (``timm/<arch>.<tag>?pool=max&img_size=224``, declared in :mod:`biobench_timm.catalogue`):

- ``pool``: ``auto`` (the default) is the pooling above; ``token``, ``avg``, ``max`` and ``avgmax`` are timm's
  ``global_pool`` of the same name over the patch tokens (prefix tokens left out) or over the feature map, as
  ``create_model(..., global_pool=...)`` pools before its classifier. ``max-map`` is upstream BioBench's rule
  (the ``biobench-paper`` protocol gives it to every timm backbone): as ``auto``, except that a feature map (CNNs,
  Swin, SAM2's Hiera) is max-pooled. ``patch_features`` do not change.
- ``img_size``: the model is built with ``create_model(..., img_size=N)`` where its architecture takes one (ViTs
  and kin: pretrained position embeddings are interpolated to the new grid by timm, a weights file's by timm's
  ``checkpoint_filter_fn``); a convolutional model that takes none is built as it is. Either way the eval
  transform resizes and crops to ``N`` (timm's ``crop_pct`` kept).

``weights``: ``None`` (the tag's pretrained weights, fetched by timm from its hub), ``"random"`` or
``"random:<seed>"`` (or ``"random:seed=<seed>"``, the weights id's own form), ``"hf-hub:<org>/<repo>"``, or a
local ``.safetensors`` / ``.pt`` / ``.pth`` / ``.bin`` / ``.ckpt`` file holding a state dict (read by
:func:`biobench_core.read_state_dict`, with ``weights_only=True``: never unpickled freely).

``weights_id`` takes the canonical forms of :mod:`biobench_core` (``*_weights_id``): ``pretrained:<timm name>`` (with
``@<commit>`` when the weights came from a Hugging Face Hub revision the local cache knows),
``pretrained:hf-hub:<org>/<repo>[@<commit>]``, ``random:seed=<seed>`` and ``sha256:<file content hash>``.

Preprocessing (contract 2): ``make_img_transform`` is timm's own eval transform for the model's pretrained
config; ``preprocessing`` declares the same as data (:func:`preprocessing_from_config`) wherever it is a resize,
a centre crop and a normalisation, which covers timm's ``center`` and ``squash`` crop modes.
"""

from __future__ import annotations

import math
import os
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import timm
import torch
from jaxtyping import Float
from timm.data import DEFAULT_CROP_PCT, create_transform, resolve_model_data_config
from torch import Tensor

from biobench_core import (INTERPOLATIONS, BackboneSpec, EncodedImgBatch, Geometry, OptionError, Preprocessing,
                           VisionBackbone, cached_hub_revision, file_weights_id, is_offline, one_line,
                           pretrained_weights_id, random_weights_id)
import biobench_core
from biobench_timm.errors import (WeightsFileError, WeightsMismatchError, WeightsNotFoundError,
                                  WeightsUnavailableError)

__all__ = ["TimmBackbone", "DEFAULT_SEED", "preprocessing_from_config"]

DEFAULT_SEED = 0
_FETCH_ERROR_MODULES = {"huggingface_hub", "httpx", "httpx2", "requests", "urllib3", "urllib", "http", "socket"}
_HOW_TO = "pass a local file with --weights FILE (or weights=FILE), or weights='random' for a random baseline"


class TimmBackbone(VisionBackbone):
    """A timm model, frozen, in eval mode. Built by ``biobench_core.load_backbone('timm/<arch>.<tag>')``."""

    def __init__(self, spec: BackboneSpec, weights: str | os.PathLike[str] | None = None) -> None:
        super().__init__()
        self.backbone_id = spec.id
        self.timm_name = spec.name  # 'resnet18.a1_in1k' or 'hf-hub:org/repo'
        self.pool = spec.option("pool") if spec.options else "auto"
        self.img_size = dict(spec.values).get("img_size")
        self.model, self.weights_id = _build(spec, weights, {} if self.img_size is None else
                                             {"img_size": self.img_size})
        self.eval()
        self.requires_grad_(False)
        self._n_prefix, self._has_cls = _prefix_tokens(self.model)
        if self.pool == "token" and not self._has_cls:
            raise OptionError(f"{spec.id}: option pool=token: {type(self.model).__name__} has no class token "
                              "(use pool=avg, max or avgmax)")
        fmt = getattr(self.model, "output_fmt", None)
        self._map_fmt = None if fmt is None else str(getattr(fmt, "value", fmt)).upper()

    def img_encode(self, batch: Float[Tensor, "batch 3 width height"]) -> EncodedImgBatch:
        feats = self.model.forward_features(batch)
        if isinstance(feats, (list, tuple)):
            self._pools_tokens_only(len(feats))
            # Multi-branch token models, each branch led by a class token. CrossViT's branches differ in width
            # and its num_features is their sum: concatenate the class tokens. CoaT's parallel branches share
            # one width (num_features): the last branch's class token. Patches: the last branch's tokens.
            branches = list(feats)
            if all(f.ndim == 3 for f in branches):
                if len({f.shape[-1] for f in branches}) == 1:
                    img = branches[-1][:, 0]
                else:
                    img = torch.cat([f[:, 0] for f in branches], dim=-1)
                return EncodedImgBatch(img_features=img, patch_features=_or_none(branches[-1][:, 1:]))
            feats = branches[-1]
        if feats.ndim == 4:
            if self._map_fmt is not None:
                channels_last = self._map_fmt == "NHWC"
            else:  # no declared layout: the channel axis is the one of size num_features
                width = getattr(self.model, "num_features", None)
                channels_last = feats.shape[-1] == width and feats.shape[1] != width
            tokens = feats.flatten(1, 2) if channels_last else feats.flatten(2).transpose(1, 2)
            pool = {"auto": "avg", "max-map": "max"}.get(self.pool, self.pool)
            return EncodedImgBatch(img_features=_pooled(tokens, pool), patch_features=tokens)
        if feats.ndim == 3:
            patches = feats[:, self._n_prefix:]
            pool = ("token" if self._has_cls else "max") if self.pool in ("auto", "max-map") else self.pool
            img = feats[:, 0] if pool == "token" else _pooled(patches, pool)
            return EncodedImgBatch(img_features=img, patch_features=_or_none(patches))
        if feats.ndim == 2:
            self._pools_tokens_only(0)
            return EncodedImgBatch(img_features=feats, patch_features=None)
        raise RuntimeError(f"{self.backbone_id}: forward_features returned a tensor of shape {tuple(feats.shape)}; "
                           "expected (batch, tokens, dim) or a feature map")

    def _pools_tokens_only(self, branches: int) -> None:
        """Refuse a ``pool`` other than ``auto`` or ``token`` where the features are no one map or token sequence."""
        if self.pool not in ("auto", "max-map", "token"):
            what = f"{branches} branches of tokens" if branches else "one pooled vector"
            raise OptionError(f"{self.backbone_id}: option pool={self.pool}: {type(self.model).__name__} returns "
                              f"{what}, which only pool=auto (or max-map) pools")

    def data_config(self) -> dict[str, Any]:
        """timm's data config for this model, with ``input_size`` the ``img_size`` option where one was given."""
        config = dict(resolve_model_data_config(self.model))
        if self.img_size is not None:
            config["input_size"] = (3, self.img_size, self.img_size)
        return config

    def make_img_transform(self) -> Callable[[Any], Tensor]:
        """timm's eval transform for this model's pretrained config (resize, centre crop, normalise)."""
        return _ToRGBThen(create_transform(**self.data_config(), is_training=False))

    def preprocessing(self) -> Preprocessing | None:
        """The same eval transform as data, or ``None`` where it is not one (see :func:`preprocessing_from_config`)."""
        return preprocessing_from_config(self.data_config())


#: The keys of timm's resolved data config that :func:`preprocessing_from_config` understands.
_DATA_CONFIG_KEYS = frozenset({"input_size", "interpolation", "mean", "std", "crop_pct", "crop_mode"})


def preprocessing_from_config(config: Mapping[str, Any]) -> Preprocessing | None:
    """What ``create_transform(**config, is_training=False)`` computes on a PIL image, as a :class:`Preprocessing`.

    It mirrors timm's ``transforms_imagenet_eval``: the scale size is ``floor(side / crop_pct)`` (``crop_pct``
    0.875 when unset); crop mode ``center`` (or unset) with a square input resizes the shorter side to it and
    centre-crops the input size; ``squash`` resizes both sides to it, ignoring the aspect ratio, and centre-crops.
    ``None`` (the callable transform stays in use) for what is no plain resize and crop: crop mode ``border``
    (the longer side resized, padded with the mean colour), a non-square input in ``center`` mode (timm's
    ``ResizeKeepRatio``), an interpolation PIL has no one filter for (``random``), an input that is not 3
    channels, a mean or std that is neither 1 nor 3 values, and any config key this mapping does not know.
    """
    if set(config) - _DATA_CONFIG_KEYS:
        return None
    input_size = config.get("input_size", 224)
    size = tuple(input_size) if isinstance(input_size, (tuple, list)) else (3, input_size, input_size)
    if len(size) != 3 or size[0] != 3:
        return None
    height, width = int(size[1]), int(size[2])
    mean, std = _three(config.get("mean")), _three(config.get("std"))
    interpolation = config.get("interpolation", "bilinear")
    if mean is None or std is None or interpolation not in INTERPOLATIONS:
        return None
    crop_pct = config.get("crop_pct") or DEFAULT_CROP_PCT
    scale = (math.floor(height / crop_pct), math.floor(width / crop_pct))
    crop_mode = config.get("crop_mode")
    if crop_mode == "squash":
        resize: int | tuple[int, int] = scale
    elif crop_mode in (None, "center") and scale[0] == scale[1]:
        resize = scale[0]
    else:
        return None
    return Preprocessing(Geometry(resize, (height, width), interpolation), mean, std)


def _three(values: Any) -> tuple[float, float, float] | None:
    """A per-channel mean or std as three numbers; one number is broadcast, as ``Normalize`` does."""
    values = tuple(values) if isinstance(values, (tuple, list)) else ()
    if len(values) == 1:
        values = values * 3
    return (float(values[0]), float(values[1]), float(values[2])) if len(values) == 3 else None


def _prefix_tokens(model: torch.nn.Module) -> tuple[int, bool]:
    """How many prefix tokens lead ``forward_features``' sequence, and whether the first is a class token."""
    declared = getattr(model, "num_prefix_tokens", None)
    if isinstance(declared, int):
        has_cls = getattr(model, "has_class_token", None)
        if not isinstance(has_cls, bool):  # models that only count their prefix: class token(s) + registers
            has_cls = declared - int(getattr(model, "num_reg_tokens", 0) or 0) > 0
        return declared, has_cls and declared > 0
    # Models that keep class tokens without declaring num_prefix_tokens (CoaT, VOLO, PiT): a class-token
    # parameter on the model itself; PiT counts its class and distillation tokens in num_tokens.
    if any(name.startswith("cls_token") and value is not None for name, value in model._parameters.items()):
        count = getattr(model, "num_tokens", 1)
        return (count if isinstance(count, int) and count > 0 else 1), True
    return 0, False


def _pooled(tokens: Tensor, pool: str) -> Tensor:
    """timm's global pools over the token axis of ``(batch, tokens, dim)`` (``timm.layers.global_pool_nlc``'s)."""
    if pool == "avg":
        return tokens.mean(dim=1)
    if pool == "max":
        return tokens.amax(dim=1)
    if pool == "avgmax":
        return 0.5 * (tokens.amax(dim=1) + tokens.mean(dim=1))
    raise ValueError(f"unknown pool {pool!r}")


def _or_none(patches: Tensor) -> Tensor | None:
    """No patch tokens at all (PiT returns only its class tokens) means no patch features."""
    return patches if patches.shape[1] > 0 else None


class _ToRGBThen:
    """Convert a PIL image (grayscale, palette, RGBA, CMYK...) to RGB, then apply ``transform``. Picklable, so
    DataLoader workers can use it."""

    def __init__(self, transform: Callable[[Any], Tensor]) -> None:
        self.transform = transform

    def __call__(self, img: Any) -> Tensor:
        if getattr(img, "mode", "RGB") != "RGB":
            img = img.convert("RGB")
        return self.transform(img)

    def __repr__(self) -> str:
        return f"ToRGBThen({self.transform!r})"


# -- building and loading ------------------------------------------------------------------------------------


def _build(spec: BackboneSpec, weights: str | os.PathLike[str] | None,
           kwargs: dict[str, Any]) -> tuple[torch.nn.Module, str]:
    """The timm model for ``spec`` with ``weights`` loaded, and the id of those weights. ``kwargs`` go to
    ``timm.create_model`` (``img_size``, see :func:`_create`)."""
    name = spec.name
    if weights is None:
        model = _pretrained(spec, name, kwargs)
        source = name if name.startswith("hf-hub:") else spec.weights_source
        return model, pretrained_weights_id(name, revision=_hub_revision(source))
    if isinstance(weights, str) and (weights == "random" or weights.startswith("random:")):
        seed_text = weights.partition(":")[2].removeprefix("seed=") or str(DEFAULT_SEED)  # also random:seed=N
        if not seed_text.lstrip("-").isdigit():
            raise ValueError(f"weights {weights!r}: expected 'random' or 'random:<integer seed>'")
        seed = int(seed_text)

        def seeded(**kw: Any) -> torch.nn.Module:
            torch.manual_seed(seed)
            return timm.create_model(name, pretrained=False, **kw)

        with torch.random.fork_rng(devices=[]):
            model = _fetching(spec, lambda: _create(seeded, kwargs))
        return model, random_weights_id(seed)
    if isinstance(weights, str) and weights.startswith("hf-hub:"):
        repo = weights[len("hf-hub:"):]
        if name.startswith("hf-hub:"):
            raise ValueError(f"{spec.id} already names a hub repository; leave weights unset")
        overlay = {"hf_hub_id": repo, "hf_hub_filename": None, "source": "hf-hub"}
        model = _fetching(spec, lambda: _create(lambda **kw: timm.create_model(
            name, pretrained=True, pretrained_cfg_overlay=overlay, **kw), kwargs), source=weights)
        return model, pretrained_weights_id(weights, revision=_hub_revision(weights))
    path = Path(weights).expanduser()
    model = _fetching(spec, lambda: _create(lambda **kw: timm.create_model(name, pretrained=False, **kw), kwargs))
    state_dict = _read_state_dict(path)
    _load_fitting(model, state_dict, spec.id, path)
    return model, file_weights_id(path)


def _create(build: Callable[..., torch.nn.Module], kwargs: dict[str, Any]) -> torch.nn.Module:
    """``build(**kwargs)``; an architecture that takes no ``img_size`` (a convolutional model, which takes any
    input size) is built without it, and only the transform follows the option."""
    try:
        return build(**kwargs)
    except TypeError as exc:
        if "img_size" not in kwargs or "img_size" not in str(exc):
            raise
    return build(**{k: v for k, v in kwargs.items() if k != "img_size"})


def _hub_revision(source: str | None) -> str | None:
    """The commit the local Hub cache resolved ``hf-hub:<org>/<repo>[@rev]`` to (what timm just loaded)."""
    if not source or not source.startswith("hf-hub:"):
        return None
    return cached_hub_revision(source[len("hf-hub:"):])


def _read_state_dict(path: Path) -> dict[str, Tensor]:
    """:func:`biobench_core.read_state_dict`, its errors raised as this plugin's error types."""
    try:
        return biobench_core.read_state_dict(path)
    except biobench_core.WeightsNotFoundError as exc:
        raise WeightsNotFoundError(str(exc)) from exc
    except biobench_core.WeightsFileError as exc:
        raise WeightsFileError(str(exc)) from exc


def _pretrained(spec: BackboneSpec, name: str, kwargs: dict[str, Any]) -> torch.nn.Module:
    source = spec.weights_source
    if name.startswith("hf-hub:"):
        source = name
    elif source is None:
        raise WeightsUnavailableError(f"timm has no pretrained weights for {spec.id}; {_HOW_TO}")
    elif source.startswith("hf-hub:") and is_offline() and not _in_hub_cache(source[len("hf-hub:"):]):
        # answer before building the model: offline, the hub can only fail.
        raise WeightsUnavailableError(_offline_message(spec.id, source))
    elif not source.startswith("hf-hub:") and is_offline():
        # timm would try the url through torch.hub, which does not know offline mode: answer now.
        cached = Path(torch.hub.get_dir()) / "checkpoints" / os.path.basename(urlparse(source).path)
        if not cached.is_file():
            raise WeightsUnavailableError(_offline_message(spec.id, source))
    return _fetching(spec, lambda: _create(lambda **kw: timm.create_model(name, pretrained=True, **kw), kwargs),
                     source=source)


def _fetching(spec: BackboneSpec, build: Callable[[], torch.nn.Module], source: str | None = None) -> torch.nn.Module:
    """Run ``build``; a failure to fetch anything from the network becomes one clear line."""
    try:
        return build()
    except Exception as exc:
        if not _is_fetch_error(exc):
            raise
        where = source or spec.weights_source or spec.name
        if is_offline() or _is_offline_error(exc):
            raise WeightsUnavailableError(_offline_message(spec.id, where)) from exc
        raise WeightsUnavailableError(f"cannot fetch the weights for {spec.id} from {where} "
                                      f"({one_line(exc, typed=True)}); {_HOW_TO}") from exc


def _in_hub_cache(repo: str) -> bool:
    """Whether the Hugging Face cache holds any file of ``repo`` (``org/name``, maybe ``@revision``)."""
    from huggingface_hub import constants

    folder = Path(constants.HF_HUB_CACHE) / ("models--" + repo.partition("@")[0].replace("/", "--")) / "snapshots"
    return folder.is_dir() and any(p.is_file() for p in folder.rglob("*"))


def _offline_message(spec_id: str, source: str) -> str:
    return (f"the weights for {spec_id} ({source}) are not available offline: they are not in the local cache "
            f"and there is no network (HF_HUB_OFFLINE is set, or the hub is unreachable); {_HOW_TO}")


def _is_fetch_error(exc: BaseException) -> bool:
    return isinstance(exc, OSError) or type(exc).__module__.partition(".")[0] in _FETCH_ERROR_MODULES


def _is_offline_error(exc: BaseException) -> bool:
    names = {cls.__name__ for cls in type(exc).__mro__}
    return bool(names & {"OfflineModeIsEnabled", "LocalEntryNotFoundError", "ConnectionError", "ConnectError",
                         "URLError", "gaierror", "TimeoutError"})


def _load_fitting(model: torch.nn.Module, state: dict[str, Tensor], spec_id: str, path: Path) -> None:
    """Load ``state`` into ``model`` or raise :class:`WeightsMismatchError` naming the keys that do not fit.

    The classifier head does not produce features, so head keys that are missing or sized for another number
    of classes are tolerated (the head stays randomly initialised). A checkpoint in an architecture's original
    layout is tried through timm's own ``checkpoint_filter_fn`` for that model family.
    """
    problems, fitted = _compare(model, state)
    if problems:
        filter_fn = getattr(sys.modules.get(type(model).__module__), "checkpoint_filter_fn", None)
        if callable(filter_fn):
            try:
                converted = filter_fn(dict(state), model)
            except Exception:  # noqa: BLE001 - the filter does not understand this file: report the plain diff
                converted = None
            if isinstance(converted, Mapping):
                retry, retry_fitted = _compare(model, dict(converted))
                if not retry:
                    problems, fitted = retry, retry_fitted
    if problems:
        raise WeightsMismatchError(f"weights file {path} does not fit {spec_id} ({type(model).__name__}): "
                                   + "; ".join(problems))
    model.load_state_dict(fitted, strict=False)


def _compare(model: torch.nn.Module, state: dict[str, Tensor]) -> tuple[list[str], dict[str, Tensor]]:
    own = model.state_dict()
    heads = getattr(model, "pretrained_cfg", {}).get("classifier") or ()
    heads = (heads,) if isinstance(heads, str) else tuple(heads)

    def is_head(key: str) -> bool:
        return any(key == h or key.startswith(h + ".") for h in heads)

    missing = [k for k in own if k not in state and not is_head(k)]
    unexpected = [k for k in state if k not in own]
    wrong = [k for k in state if k in own and state[k].shape != own[k].shape and not is_head(k)]
    problems = []
    if missing:
        problems.append(f"{len(missing)} missing keys: {_few(missing)}")
    if unexpected:
        problems.append(f"{len(unexpected)} unexpected keys: {_few(unexpected)}")
    if wrong:
        shapes = [f"{k} {tuple(state[k].shape)} vs model {tuple(own[k].shape)}" for k in wrong]
        problems.append(f"{len(wrong)} keys with wrong shapes: {_few(shapes, quote=False)}")
    fitted = {k: v for k, v in state.items() if k in own and v.shape == own[k].shape}
    return problems, fitted


def _few(items: list[str], n: int = 3, quote: bool = True) -> str:
    # BatchNorm step counters say nothing about the architecture: show real parameters first.
    items = sorted(items, key=lambda item: "num_batches_tracked" in item)
    shown = ", ".join(repr(i) if quote else i for i in items[:n])
    return shown + (f" and {len(items) - n} more" if len(items) > n else "")
