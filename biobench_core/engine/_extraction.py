"""The one extraction loop: a task's examples -> a frozen backbone's features.

Tasks never write their own loop. DataLoader workers decode images in parallel; the main process runs the
backbone under ``torch.inference_mode`` in the requested dtype (channels_last for CNNs).

- A backbone that declares its preprocessing (:mod:`biobench_core.contract._preprocessing`) gets uint8 batches: workers
  decode, resize and crop to 8-bit pixels, the batch crosses to the main process (in pinned memory on a GPU)
  at a quarter of float32's bytes, and ``(pixels / 255 - mean) / std`` and the cast to the dtype run on the
  device. Those pixels go to the pixel cache (:mod:`biobench_core.engine._pixel_cache`), so the next backbone with the
  same geometry reads them instead of decoding again (decode once, extract many).
- Any other backbone's callable transform runs in the workers and float batches cross, as in contract 1.

A video example (a list of frames) is encoded frame by frame and pooled (the task's ``frame_pooling``: mean or
max). A corrupt image is skipped with a warning naming the file (``on_bad_image="skip"``) or fails the run
(``"fail"``); read from the pixel cache, the same images are named again. A ``load()`` that returns something
other than a PIL image or a non-empty list of them is the task's fault, not the file's: the first such example
fails the extraction with one error naming the task's ``load`` and the example, whatever ``on_bad_image`` says.
"""

from __future__ import annotations

import dataclasses
import queue
import sys
import threading
import time
import warnings
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
import torch
from PIL import Image

from biobench_core.engine._allocator import retain_freed_memory
from biobench_core.engine._extracted import ExtractionResult
from biobench_core.engine._images import DRAFT_FACTOR, HighBitDepthWarning, decoding_for, was_scaled
from biobench_core.contract._backbone import VisionBackbone, check_encoded
from biobench_core.contract._errors import type_name
from biobench_core.contract._registry import PluginError
from biobench_core.engine._identity import pixel_entry_key
from biobench_core.engine._pixel_cache import PixelCache, PixelEntry, PixelWriter
from biobench_core.contract._preprocessing import Geometry, Preprocessing, apply_geometry, normalise
from biobench_core.contract._tasks import Example, SplitFeatures, Task, TaskDataError

__all__ = ["ExtractionResult", "extract", "pick_device", "DTYPES", "prepare_backbone", "BadImageWarning",
           "pool_frames", "declared_preprocessing", "pixel_source_key"]

DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}


class BadImageWarning(UserWarning):
    """An image could not be decoded and was skipped."""


class _NotAnImage(str):
    """A decoding record that blames the task's ``load`` (it returned no image), not the file: it crosses from a
    DataLoader worker like any record (a ``str``), and the loop raises it instead of skipping the example."""


def _load_problem(task: Task, example: Example, loaded: Any) -> _NotAnImage | None:
    """Why ``loaded`` (what ``task.load(example)`` returned) is neither a PIL image nor a non-empty list of them."""
    frames = loaded if isinstance(loaded, list) else [loaded]
    wrong = [frame for frame in frames if not isinstance(frame, Image.Image)]
    if frames and not wrong:
        return None
    if not isinstance(loaded, list):
        got = type_name(loaded)
    else:
        got = f"a list holding {type_name(wrong[0])}" if wrong else "an empty list"
    return _NotAnImage(f"{task.spec.id}: {type(task).__name__}.load() returned {got} for example {example.id!r}, "
                       "expected a PIL image or a list of PIL images (frames)")


def pick_device(name: str) -> torch.device:
    """``auto`` -> CUDA when available, else CPU; ``cuda`` without a GPU is an error."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise RuntimeError("--device cuda was asked for, but torch sees no CUDA GPU on this machine")
    return torch.device(name)


def prepare_backbone(backbone: VisionBackbone, device: torch.device, dtype: str) -> VisionBackbone:
    """Move to ``device``, cast weights to ``dtype``, and use channels_last for convolutional backbones."""
    if dtype not in DTYPES:
        raise ValueError(f"dtype must be one of {', '.join(DTYPES)}, got {dtype!r}")
    backbone = backbone.to(device=device, dtype=DTYPES[dtype])
    if is_convnet(backbone):
        backbone = backbone.to(memory_format=torch.channels_last)
    return backbone.eval()


def is_convnet(backbone: torch.nn.Module) -> bool:
    """Has a convolution that is not a ViT-style patch embedding (kernel == stride): channels_last pays off."""
    return any(isinstance(m, torch.nn.Conv2d) and m.kernel_size != m.stride for m in backbone.modules())


def pool_frames(feats: torch.Tensor, patches: torch.Tensor | None, counts: list[int], how: str,
                ) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Rows of ``feats`` (and ``patches``) are frames, ``counts[i]`` of them example ``i``'s: one row per example."""
    owner = torch.repeat_interleave(torch.arange(len(counts), device=feats.device),
                                    torch.tensor(counts, device=feats.device))

    def pool(values: torch.Tensor) -> torch.Tensor:
        out = torch.zeros(len(counts), *values.shape[1:], device=values.device, dtype=values.dtype)
        if how == "max":
            index = owner.view(-1, *[1] * (values.dim() - 1)).expand_as(values)
            return out.scatter_reduce_(0, index, values, "amax", include_self=False)
        sizes = torch.tensor(counts, device=values.device, dtype=values.dtype).view(-1, *[1] * (values.dim() - 1))
        return out.index_add_(0, owner, values) / sizes

    return pool(feats), (None if patches is None else pool(patches))


class _ToPixels:
    """The geometry half of a declared preprocessing, for DataLoader workers: PIL image -> ``(H, W, 3)`` uint8."""

    def __init__(self, geometry: Geometry) -> None:
        self.geometry = geometry

    def __call__(self, image: Any) -> torch.Tensor:
        return torch.from_numpy(apply_geometry(image, self.geometry))

    def __repr__(self) -> str:
        return f"ToPixels({self.geometry.describe()})"


class _Decoded(torch.utils.data.Dataset):
    """Decodes and prepares one example per item (``prepare``: the backbone's callable transform, or
    :class:`_ToPixels`); a failure becomes a named record, not a crash."""

    def __init__(self, task: Task, examples: Sequence[Example], prepare: Any, on_bad_image: str):
        self.task, self.examples, self.prepare, self.on_bad_image = task, examples, prepare, on_bad_image

    def __len__(self) -> int:
        return len(self.examples)

    def __getitem__(self, index: int) -> tuple[int, torch.Tensor | None, str | None, int]:
        example = self.examples[index]
        name = example.source or example.id
        try:
            if isinstance(self.prepare, _ToPixels):  # decode no larger than the geometry needs (images.py)
                with decoding_for(self.prepare.geometry.min_side()):
                    loaded = self.task.load(example)
            else:
                loaded = self.task.load(example)
            problem = _load_problem(self.task, example, loaded)
            if problem is not None:
                return index, None, problem, 0
            frames = loaded if isinstance(loaded, list) else [loaded]
            scaled = sum(was_scaled(frame) for frame in frames)  # before the transform drops the PIL mark
            pixels = torch.stack([self.prepare(frame) for frame in frames])
        except Exception as exc:  # noqa: BLE001 - any decoder error is reported with the file's name
            message = f"{name}: cannot decode image: {type(exc).__name__}: {exc}"
            if self.on_bad_image == "fail":
                raise TaskDataError(message) from exc
            return index, None, message, 0
        return index, pixels, None, scaled


def _in_process_batches(dataset: _Decoded, batch_size: int, pin: bool) -> Iterator[Batch]:
    """``workers=0``: decode batch by batch in this process, with one torch thread while decoding (per-image
    tensor ops are tiny; threads only add overhead), then back to all of them for the forward pass."""
    for start in range(0, len(dataset), batch_size):
        threads = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            indices, pixels, counts, bad, n_scaled = _collate(
                [dataset[i] for i in range(start, min(start + batch_size, len(dataset)))])
        finally:
            torch.set_num_threads(threads)
        yield indices, (pixels.pin_memory() if pin and pixels is not None else pixels), counts, bad, n_scaled


#: One batch on its way to the backbone: positions of its examples, their frames (float from a callable
#: transform, or uint8 ``(frames, H, W, 3)`` under a declared preprocessing), frames per example, messages of
#: the examples that could not be decoded, and how many frames were scaled from a high bit depth.
Batch = tuple[list[int], "torch.Tensor | None", list[int], list[str], int]


def _collate(items: list[tuple[int, torch.Tensor | None, str | None, int]]) -> Batch:
    indices, frames, counts, bad, n_scaled = [], [], [], [], 0
    for index, pixels, error, scaled in items:
        if pixels is None:
            bad.append(error or "")
            continue
        indices.append(index)
        frames.append(pixels)
        counts.append(pixels.shape[0])
        n_scaled += scaled
    return indices, (torch.cat(frames) if frames else None), counts, bad, n_scaled


def declared_preprocessing(backbone: VisionBackbone) -> Preprocessing | None:
    """The backbone's declared preprocessing when the loop can use it (a fixed output size), else ``None``."""
    method = getattr(backbone, "preprocessing", None)
    declared = method() if callable(method) else None
    if declared is None:
        return None
    if not isinstance(declared, Preprocessing):
        raise TypeError(f"{backbone.backbone_id}: preprocessing() returned {type(declared).__name__}, "
                        "not biobench_core.Preprocessing or None")
    return declared if declared.geometry.output_size() is not None else None


#: How the declared path decodes (JPEGs at reduced scale, keeping 2x the pixels the geometry needs:
#: :func:`biobench_core.engine._images.decoding_for`); part of the pixel cache's and the feature cache's keys.
DECODE_RULE = f"jpeg-draft-keep-{DRAFT_FACTOR}x"


def pixel_source_key(base: str, geometry: Geometry) -> str:
    """The pixel cache's key (:func:`biobench_core.engine._identity.pixel_entry_key`): ``base`` (task, code,
    manifest, decode key), the geometry and this loop's decoding rule."""
    return pixel_entry_key(base, geometry.describe(), DECODE_RULE)


def _prefetched(items: Iterator[Any], depth: int = 3) -> Iterator[Any]:
    """``items`` produced by a background thread, ``depth`` ahead (reading pixels overlaps the forward pass)."""
    done = object()
    buffer: queue.Queue[Any] = queue.Queue(maxsize=depth)
    failure: list[BaseException] = []
    stop = threading.Event()

    def produce() -> None:
        try:
            for item in items:
                if stop.is_set():
                    return
                buffer.put(item)
        except BaseException as exc:  # noqa: BLE001 - re-raised in the consumer
            failure.append(exc)
        finally:
            buffer.put(done)

    thread = threading.Thread(target=produce, name="biobench-pixels", daemon=True)
    thread.start()
    try:
        while (item := buffer.get()) is not done:
            yield item
        if failure:
            raise failure[0]
    finally:
        stop.set()
        while thread.is_alive():  # unblock a producer waiting on a full queue
            try:
                buffer.get_nowait()
            except queue.Empty:
                thread.join(timeout=0.05)


def _cached_batches(entry: PixelEntry, batch_size: int, pin: bool) -> Iterator[Batch]:
    """A pixel cache entry as loader batches; its skipped images come first, as in a decoding pass they are named."""
    if entry.skipped or entry.n_scaled:
        yield [], None, [], list(entry.skipped), entry.n_scaled
    for positions, frames, counts in entry.batches(batch_size):
        pixels = torch.empty(frames.shape, dtype=torch.uint8, pin_memory=pin)
        pixels.numpy()[...] = frames  # one copy out of the memory map (into pinned memory on a GPU)
        yield positions, pixels, counts, [], 0


def extract(
    backbone: VisionBackbone,
    task: Task,
    split: str,
    examples: Sequence[Example] | None = None,
    *,
    device: torch.device,
    dtype: str = "fp32",
    batch_size: int = 32,
    workers: int = 0,
    need_patches: bool = False,
    on_bad_image: str = "skip",
    progress: bool = True,
    pixel_cache: PixelCache | None = None,
    pixel_base_key: str | None = None,
    use_declared_preprocessing: bool = True,
) -> ExtractionResult:
    """Encode ``examples`` (default: all) of ``task``'s ``split`` with ``backbone`` (already prepared on ``device``).

    With a declared preprocessing (and ``use_declared_preprocessing``), workers produce uint8 pixels and the
    batch is normalised on ``device``; with ``pixel_cache`` and ``pixel_base_key`` (see
    :mod:`biobench_core.engine._pixel_cache`) those pixels are read from, or written to, the cache. Without one, the
    backbone's callable transform runs in the workers, as in contract 1.
    """
    from tqdm.auto import tqdm

    if on_bad_image not in ("skip", "fail"):
        raise ValueError(f"on_bad_image must be 'skip' or 'fail', got {on_bad_image!r}")
    examples = list(task.examples(split) if examples is None else examples)
    if not examples:
        raise TaskDataError(f"{task.spec.id}: the {split} split has no examples")
    preprocessing = declared_preprocessing(backbone) if use_declared_preprocessing else None
    if device.type == "cpu":
        retain_freed_memory()  # a CPU forward pass otherwise faults its activations in again every batch
    torch_dtype = DTYPES[dtype]
    channels_last = is_convnet(backbone)
    pin = device.type == "cuda"
    writer: PixelWriter | None = None
    entry: PixelEntry | None = None
    pixels_status = "not declared"
    if preprocessing is not None:
        pixels_status = "off"
        if pixel_cache is not None and pixel_base_key is not None:
            key = pixel_source_key(pixel_base_key, preprocessing.geometry)
            ids = [example.id for example in examples]
            entry = pixel_cache.get(key, ids)
            if entry is not None:
                pixels_status = "hit"
                if entry.skipped and on_bad_image == "fail":
                    raise TaskDataError(entry.skipped[0])  # the decoding pass skipped it; this run fails on it
            else:
                height, width = preprocessing.geometry.output_size()  # type: ignore[misc]
                writer = pixel_cache.writer(key, ids, (height, width, 3), len(examples))
                pixels_status = "written" if writer is not None else "not kept: larger than the pixel cache's budget"
    batches: Iterator[Batch]
    if entry is not None:
        batches = _prefetched(_cached_batches(entry, batch_size, pin))
    else:
        prepare = backbone.make_img_transform() if preprocessing is None else _ToPixels(preprocessing.geometry)
        dataset = _Decoded(task, examples, prepare, on_bad_image)
        if workers == 0:
            batches = _in_process_batches(dataset, batch_size, pin)
        else:
            batches = iter(torch.utils.data.DataLoader(
                dataset,
                batch_size=batch_size,
                num_workers=workers,
                collate_fn=_collate,
                pin_memory=pin,
                persistent_workers=False,
                prefetch_factor=4,
            ))

    def to_input(pixels: torch.Tensor) -> torch.Tensor:
        if preprocessing is not None:  # uint8 (frames, H, W, 3): normalise and cast on the device
            return normalise(pixels.to(device, non_blocking=True), preprocessing, torch_dtype,
                             channels_last=channels_last)
        pixels = pixels.to(device, dtype=torch_dtype, non_blocking=True)
        return pixels.contiguous(memory_format=torch.channels_last) if channels_last else pixels

    kept: list[int] = []
    feature_chunks: list[np.ndarray] = []
    patch_chunks: list[np.ndarray] = []
    skipped: list[str] = []
    n_images = n_converted = 0
    bar = tqdm(total=len(examples), desc=f"{backbone.backbone_id} {task.spec.id}:{split}", unit="img",
               disable=not progress, file=sys.stderr, dynamic_ncols=True, leave=False)
    start = time.perf_counter()
    try:
        # One batch in flight: batch k's outputs are checked and copied to the host (both wait for the device)
        # only after batch k+1's copy, normalisation and forward pass are queued, so a GPU never idles on them.
        pending: tuple[Any, int, list[int], list[int]] | None = None

        def finish(encoded: Any, n_frames: int, positions: list[int], frame_counts: list[int]) -> None:
            out = check_encoded(encoded, n_frames, backbone.backbone_id, need_patches=need_patches)
            feats = out.img_features.float()
            patches = out.patch_features.float() if need_patches and out.patch_features is not None else None
            if len(frame_counts) != n_frames:  # video: pool each example's frames (mean or max)
                feats, patches = pool_frames(feats, patches, frame_counts, task.frame_pooling)
            feature_chunks.append(feats.cpu().numpy())
            if patches is not None:
                patch_chunks.append(patches.cpu().numpy())
            kept.extend(positions)

        with torch.inference_mode():
            for indices, pixels, counts, bad, n_scaled in batches:
                blame = next((message for message in bad if isinstance(message, _NotAnImage)), None)
                if blame is not None:
                    raise PluginError(str(blame))
                n_converted += n_scaled
                for message in bad:
                    warnings.warn(message, BadImageWarning, stacklevel=2)
                skipped.extend(bad)
                if writer is not None:
                    writer.add(indices, None if pixels is None else pixels.numpy(), counts, bad, n_scaled)
                if pixels is not None:
                    batch = to_input(pixels)
                    encoded = backbone.img_encode(batch)
                    if pending is not None:
                        finish(*pending)
                    pending = (encoded, batch.shape[0], indices, counts)
                    n_images += batch.shape[0]
                bar.update(len(indices) + len(bad))
                bar.set_postfix_str(f"{n_images / max(time.perf_counter() - start, 1e-9):.1f} img/s", refresh=False)
            if pending is not None:
                finish(*pending)
        if device.type == "cuda":
            torch.cuda.synchronize(device)
    except BaseException:
        if writer is not None:
            writer.abort()
        raise
    seconds = time.perf_counter() - start
    bar.close()
    if writer is not None and not writer.commit():
        pixels_status = f"not kept: {writer.failed}" if writer.failed else "written by another process"
    if not kept:
        raise TaskDataError(f"{task.spec.id}: no image of the {split} split could be decoded "
                            f"(first error: {skipped[0] if skipped else 'none'})")
    if n_converted:
        warnings.warn(f"{task.spec.id}:{split}: {n_converted} high-bit-depth image{'s' * (n_converted != 1)} "
                      f"scaled to 8 bits by their range (min -> 0, max -> 255)", HighBitDepthWarning, stacklevel=2)
    return ExtractionResult(
        split=SplitFeatures(
            examples=[examples[i] for i in kept],
            features=np.concatenate(feature_chunks).astype(np.float32, copy=False),
            patches=np.concatenate(patch_chunks).astype(np.float32, copy=False) if patch_chunks else None,
        ),
        skipped=skipped,
        n_images=n_images,
        seconds=seconds,
        n_converted=n_converted,
        pipeline="uint8, normalised on the device" if preprocessing is not None else "callable transform",
        pixels=pixels_status,
    )
