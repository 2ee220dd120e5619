"""Features for one experiment: from the cache when they are provably the same, else extracted.

A backbone is built lazily (:class:`LazyBackbone`): a run whose features are all cached never loads the model.
To look features up without building, the cache keeps a *build memo*: under a key naming everything that
decides the built model, the ``weights_id``, transform description and declared preprocessing of the last build.
Because the memo's key holds the plugin's code fingerprint, an edited plugin (even an editable install whose
version never changes) misses the memo and is rebuilt.

Every key (build memo, feature entry, pixel entry) is computed by :mod:`biobench_core.engine._identity`, whose
table says what goes into each. Both splits of one experiment are looked up and extracted under one identity; if
building the model shows the memo was wrong, hits found through it are discarded.
"""

from __future__ import annotations

import dataclasses
import warnings
from typing import Any

from biobench_core.engine._extracted import ExtractionResult
from biobench_core.engine._feature_cache import CacheWriteError, FeatureCache
from biobench_core.contract._catalog import load_backbone
from biobench_core.engine._identity import (describe_transform, extraction_protocol, feature_key_of, memo_key,
                                            pixel_base_key, plugin_identity)
from biobench_core.engine._pixel_cache import PixelCache
from biobench_core.contract._specs import BackboneSpec
from biobench_core.contract._tasks import SPLITS, Example, SplitFeatures, Task, TaskDataError

__all__ = ["LazyBackbone", "SplitInput", "experiment_features", "UncacheableTransformWarning"]


class UncacheableTransformWarning(UserWarning):
    """A backbone's transform has no stable description, so its features are not cached."""


class LazyBackbone:
    """A backbone built on first use; see the module docstring for its memo."""

    def __init__(self, spec: BackboneSpec, weights: str | None, weights_key: str, device: Any, dtype: str) -> None:
        self.spec, self.weights, self.weights_key, self.device, self.dtype = spec, weights, weights_key, device, dtype
        self.code = plugin_identity(spec)
        self.memo_key = memo_key(spec.id, weights_key, self.code, dtype)
        self._built: Any = None
        self._identity: dict[str, Any] | None = None

    def get(self) -> Any:
        from biobench_core.engine._extraction import prepare_backbone

        if self._built is None:
            backbone = load_backbone(self.spec.id, self.weights)
            self._built = prepare_backbone(backbone, self.device, self.dtype)
        return self._built

    def identity(self) -> dict[str, Any]:
        """The built model's exact weights id, transform description (``None``: no stable description) and
        declared preprocessing (``None``: none the loop can use; the callable transform is used)."""
        from biobench_core.engine._extraction import DECODE_RULE, declared_preprocessing

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
    """``code``: the task's plugin and the extraction protocol (:func:`experiment_features` computes it once)."""
    return feature_key_of(backbone_id=backbone.spec.id, built=identity, dtype=backbone.dtype,
                          patches=task.needs_patches, manifest=manifest, backbone_code=backbone.code,
                          task_code=code["task"], core=code["core"])


def _check_width(spec: BackboneSpec, split: str, features: SplitFeatures) -> None:
    from biobench_core.contract._backbone import BackboneOutputError

    width = features.features.shape[1] if features.features.ndim == 2 else None
    if spec.embed_dim is not None and width is not None and width != spec.embed_dim and len(features.examples):
        raise BackboneOutputError(f"{spec.id}: img_features are {width} wide on the {split} split, "
                                  f"but its spec declares embed_dim={spec.embed_dim}")


def experiment_features(backbone: LazyBackbone, task: Task, inputs: dict[str, SplitInput], cache: FeatureCache | None,
                        *, batch_size: int, workers: int, on_bad_image: str, progress: bool,
                        pixel_cache: PixelCache | None = None,
                        ) -> tuple[dict[str, ExtractionResult], dict[str, Any]]:
    """Both splits' features under one backbone identity, with per-split cost and cache status.

    ``pixel_cache``: decoded pixels shared between backbones of one geometry (:mod:`biobench_core.engine._pixel_cache`);
    by default the one in ``cache``'s folder.

    Returns ``(extraction by split, identity)``: each split's :class:`ExtractionResult` (its features, what
    extracting them cost, and whether they came from the cache); ``identity`` is what the features came from.
    """
    code = {"task": plugin_identity(task.spec), "core": extraction_protocol()}
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
    results: dict[str, ExtractionResult] = {}
    for split in SPLITS:
        key = None if identity["transform"] is None else feature_key_for(backbone, identity, task, code,
                                                                         inputs[split].manifest)
        hit = found.get(split)
        if hit is None and cache is not None and key is not None and key not in looked_up:
            hit = cache.get(key, inputs[split].examples)
        if hit is not None:
            split_features, stored = hit
            if stored.get("skipped") and on_bad_image == "fail":
                raise TaskDataError(stored["skipped"][0])  # the cached run skipped it; this run asked to fail on it
            results[split] = ExtractionResult.from_cache(split_features, stored, key)
        else:
            pixels = None if pixel_cache is None else (pixel_cache, pixel_base_key(task, code, inputs[split].manifest))
            results[split] = _extract(backbone, task, split, inputs[split].examples, cache, key, pixels,
                                      batch_size=batch_size, workers=workers, on_bad_image=on_bad_image,
                                      progress=progress)
        _check_width(backbone.spec, split, results[split].split)
    return results, identity


def _extract(backbone: LazyBackbone, task: Task, split: str, examples: list[Example], cache: FeatureCache | None,
             key: str | None, pixels: tuple[PixelCache, str] | None, **kwargs: Any,
             ) -> ExtractionResult:
    from biobench_core.engine._extraction import extract

    pixel_cache, base = pixels if pixels is not None else (None, None)
    result = extract(backbone.get(), task, split, examples, device=backbone.device, dtype=backbone.dtype,
                     need_patches=task.needs_patches, pixel_cache=pixel_cache, pixel_base_key=base, **kwargs)
    if cache is not None and key is not None:
        try:
            cache.put(key, result.split, result.stored())
        except CacheWriteError as exc:
            if not cache.write_failed:  # once per run: every later write would fail the same way
                warnings.warn(f"{exc}; continuing without caching features (pass --no-cache to skip the cache)",
                              stacklevel=2)
            cache.write_failed = True
    return dataclasses.replace(result, cache="miss" if cache is not None else "off", feature_key=key)
