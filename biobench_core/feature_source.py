"""Features for one experiment: from the cache when they are provably the same, else extracted.

A backbone is built lazily (:class:`LazyBackbone`): a run whose features are all cached never loads the model.
To look features up without building, the cache keeps a *build memo*: under a key naming everything that
decides the built model (backbone id, the weights with a local file's content hash, the plugin's code identity
and the dtype), the ``weights_id`` and transform description of the last build. Because the memo's key holds
the plugin's code fingerprint, an edited plugin (even an editable install whose version never changes) misses
the memo and is rebuilt.

The feature key (:func:`feature_key_for`) holds, besides the backbone's identity, the transform's stable
description, dtype, patches, the split's manifest, and the code identity of the backbone's plugin, the task's
plugin and the core's extraction code. Both splits of one experiment are looked up and extracted under one
identity; if building the model shows the memo was wrong, hits found through it are discarded.
"""

from __future__ import annotations

import dataclasses
import warnings
from pathlib import Path
from typing import Any

from biobench_core.cache import CacheWriteError, FeatureCache, feature_key
from biobench_core.catalog import load_backbone
from biobench_core.identity import describe_transform, distribution_identity
from biobench_core.pixel_cache import PixelCache
from biobench_core.plugins import get_registry
from biobench_core.specs import BackboneSpec, TaskSpec
from biobench_core.tasks import SPLITS, Example, SplitFeatures, Task, TaskDataError

__all__ = ["LazyBackbone", "SplitInput", "experiment_features", "code_identity", "UncacheableTransformWarning"]

#: Core modules whose code decides the features (decoding order, pooling, dtype handling).
_CORE_FEATURE_MODULES = ("extraction.py", "interfaces.py", "tasks.py", "images.py", "preprocessing.py",
                         "pixel_cache.py")


class UncacheableTransformWarning(UserWarning):
    """A backbone's transform has no stable description, so its features are not cached."""


def code_identity(spec: BackboneSpec | TaskSpec) -> dict[str, Any]:
    """The code that provides ``spec``: its plugin distribution, version, code fingerprint and libraries."""
    owner = get_registry().owner_of(spec.id)
    modules = [spec.factory.partition(":")[0]]
    if owner is not None and owner.module is not None:
        modules.append(owner.module.__name__)
    return distribution_identity(owner.name if owner else None, owner.version if owner else None, tuple(modules))


def _core_identity() -> dict[str, Any]:
    import biobench_core

    root = Path(biobench_core.__file__).parent
    stamps = []
    for name in _CORE_FEATURE_MODULES:
        try:
            st = (root / name).stat()
            stamps.append(f"{name}:{st.st_size}:{st.st_mtime_ns}")
        except OSError:
            stamps.append(f"{name}:missing")
    return {"version": biobench_core.__version__, "code": stamps}


class LazyBackbone:
    """A backbone built on first use; see the module docstring for its memo."""

    def __init__(self, spec: BackboneSpec, weights: str | None, weights_key: str, device: Any, dtype: str) -> None:
        self.spec, self.weights, self.weights_key, self.device, self.dtype = spec, weights, weights_key, device, dtype
        self.code = code_identity(spec)
        self.memo_key = feature_key(kind="backbone-memo", backbone=spec.id, weights=weights_key, code=self.code,
                                    dtype=dtype)
        self._built: Any = None
        self._identity: dict[str, Any] | None = None

    def get(self) -> Any:
        from biobench_core.extraction import prepare_backbone

        if self._built is None:
            backbone = load_backbone(self.spec.id, self.weights)
            self._built = prepare_backbone(backbone, self.device, self.dtype)
        return self._built

    def identity(self) -> dict[str, Any]:
        """The built model's exact weights id, transform description (``None``: no stable description) and
        declared preprocessing (``None``: none the loop can use; the callable transform is used)."""
        from biobench_core.extraction import DECODE_RULE, declared_preprocessing

        if self._identity is None:
            backbone = self.get()
            declared = declared_preprocessing(backbone)
            self._identity = {"weights_id": str(backbone.weights_id),
                              "transform": describe_transform(backbone.make_img_transform()),
                              "preprocessing": (None if declared is None
                                                else f"{declared.describe()}; {DECODE_RULE}")}
        return self._identity


@dataclasses.dataclass(frozen=True)
class SplitInput:
    """The examples of one split that this experiment uses, and their manifest."""

    examples: list[Example]
    manifest: str


def feature_key_for(backbone: LazyBackbone, identity: dict[str, Any], task: Task, code: dict[str, Any],
                    manifest: str) -> str:
    """``code``: the task's plugin and the core's extraction code (:func:`experiment_features` computes it once)."""
    return feature_key(backbone=backbone.spec.id, weights=identity["weights_id"], transform=identity["transform"],
                       preprocessing=identity.get("preprocessing"), dtype=backbone.dtype, patches=task.needs_patches,
                       manifest=manifest, backbone_code=backbone.code, task_code=code["task"], core=code["core"])


def _check_width(spec: BackboneSpec, split: str, features: SplitFeatures) -> None:
    from biobench_core.interfaces import BackboneOutputError

    width = features.features.shape[1] if features.features.ndim == 2 else None
    if spec.embed_dim is not None and width is not None and width != spec.embed_dim and len(features.examples):
        raise BackboneOutputError(f"{spec.id}: img_features are {width} wide on the {split} split, "
                                  f"but its spec declares embed_dim={spec.embed_dim}")


def pixel_base_key(task: Task, code: dict[str, Any], manifest: str) -> str:
    """What decides a split's decoded pixels besides the geometry: the task, the code that loads its images
    (the task's plugin and the core's decoding), and the manifest (files, examples, order, decode key)."""
    return feature_key(kind="pixels", task=task.spec.id, task_code=code["task"], core=code["core"], manifest=manifest,
                       decode=task.decode_key())


def experiment_features(backbone: LazyBackbone, task: Task, inputs: dict[str, SplitInput], cache: FeatureCache | None,
                        *, batch_size: int, workers: int, on_bad_image: str, progress: bool,
                        pixel_cache: PixelCache | None = None,
                        ) -> tuple[dict[str, SplitFeatures], dict[str, dict[str, Any]], dict[str, Any]]:
    """Both splits' features under one backbone identity, with per-split cost and cache status.

    ``pixel_cache``: decoded pixels shared between backbones of one geometry (:mod:`biobench_core.pixel_cache`);
    by default the one in ``cache``'s folder.

    Returns ``(features by split, meta by split, identity)``; ``identity`` is what the features came from.
    """
    code = {"task": code_identity(task.spec), "core": _core_identity()}
    if pixel_cache is None and cache is not None:
        pixel_cache = cache.pixels
    found: dict[str, tuple[SplitFeatures, dict[str, Any]]] = {}
    identity: dict[str, Any] | None = None
    looked_up: set[str] = set()  # keys already read (a corrupt entry is counted once)
    if cache is not None:
        remembered = cache.recall(backbone.memo_key)
        if remembered is not None and remembered.get("transform") is not None:
            for split in SPLITS:
                key = feature_key_for(backbone, remembered, task, code, inputs[split].manifest)
                looked_up.add(key)
                hit = cache.get(key, inputs[split].examples)
                if hit is not None:
                    found[split] = hit
            if len(found) == len(SPLITS):
                identity = {k: remembered.get(k) for k in ("weights_id", "transform", "preprocessing")}
    if identity is None:  # something must be extracted: build, and trust only what the built model says
        identity = backbone.identity()
        if cache is not None and found and remembered != identity:
            found = {}  # the memo was wrong: never mix those features with the real model's
        if cache is not None:
            cache.remember(backbone.memo_key, identity)
        if identity["transform"] is None and cache is not None:
            warnings.warn(UncacheableTransformWarning(
                f"{backbone.spec.id}: its transform's repr holds a memory address or a lambda, so it has no stable "
                "description; its features are not cached (give the transform a __repr__ naming its parameters)"),
                stacklevel=2)
            cache = None
    features: dict[str, SplitFeatures] = {}
    metas: dict[str, dict[str, Any]] = {}
    for split in SPLITS:
        key = None if identity["transform"] is None else feature_key_for(backbone, identity, task, code,
                                                                         inputs[split].manifest)
        hit = found.get(split)
        if hit is None and cache is not None and key is not None and key not in looked_up:
            hit = cache.get(key, inputs[split].examples)
        if hit is not None:
            split_features, meta = hit
            if meta.get("skipped") and on_bad_image == "fail":
                raise TaskDataError(meta["skipped"][0])  # the cached run skipped it; this run asked to fail on it
            features[split], metas[split] = split_features, {**meta, "cache": "hit", "feature_key": key}
        else:
            pixels = None if pixel_cache is None else (pixel_cache, pixel_base_key(task, code, inputs[split].manifest))
            features[split], metas[split] = _extract(backbone, task, split, inputs[split].examples, cache, key,
                                                     pixels, batch_size=batch_size, workers=workers,
                                                     on_bad_image=on_bad_image, progress=progress)
        _check_width(backbone.spec, split, features[split])
    return features, metas, identity


def _extract(backbone: LazyBackbone, task: Task, split: str, examples: list[Example], cache: FeatureCache | None,
             key: str | None, pixels: tuple[PixelCache, str] | None, **kwargs: Any,
             ) -> tuple[SplitFeatures, dict[str, Any]]:
    from biobench_core.extraction import extract

    pixel_cache, base = pixels if pixels is not None else (None, None)
    result = extract(backbone.get(), task, split, examples, device=backbone.device, dtype=backbone.dtype,
                     need_patches=task.needs_patches, pixel_cache=pixel_cache, pixel_base_key=base, **kwargs)
    meta = {"images_per_second": result.images_per_second, "seconds": result.seconds, "skipped": result.skipped,
            "n_images": result.n_images, "n_converted": result.n_converted, "pipeline": result.pipeline,
            "pixels": result.pixels}
    if cache is not None and key is not None:
        try:
            cache.put(key, result.split, meta)
        except CacheWriteError as exc:
            if not cache.write_failed:  # once per run: every later write would fail the same way
                warnings.warn(f"{exc}; continuing without caching features (pass --no-cache to skip the cache)",
                              stacklevel=2)
            cache.write_failed = True
    return result.split, {**meta, "cache": "miss" if cache is not None else "off", "feature_key": key}
