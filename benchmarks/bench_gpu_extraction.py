"""GPU extraction benchmark: end-to-end `extract()` images/s vs each backbone's raw forward, on realistic JPEGs.

The whole GPU measurement in one call of under 8 minutes (``make bench-gpu``): it generates a set of synthetic
photo-like JPEGs (about 500x375 px, 30-80 KB at quality 90) on the machine, then for each backbone measures

- the raw forward: the backbone alone on a batch already decoded, normalised and on the device, in the dtype;
- end to end: :func:`biobench_core.extract` over the JPEGs, with a pixel cache in a temporary folder,
  so the first backbone of a geometry decodes the JPEGs (cold) and every later one with the same geometry reads
  the decoded pixels back (warm); the ratio end-to-end / raw is the figure;
- for each geometry, the decode throughput on its own (the uint8 DataLoader that ``extract`` uses, without the
  forward) and the pixel cache's read throughput on its own.

Each phase is bounded in time (see ``--time-budget``); where decoding is slow, fewer images go end to end, and
the output says so. Without a CUDA GPU it says so and exits 0, unless ``--device cpu`` asks for the same
measurement on the CPU (a smoke test: it writes a results file only with ``--out``).

``python benchmarks/bench_gpu_extraction.py [--images N] [--workers N] [--batch-size N] [--dtypes bf16,fp32]
[--backbones ID[=WEIGHTS],...] [--data DIR] [--device cpu] [--out FILE]``
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import hashlib
import io
import multiprocessing
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "benchmarks" / "RESULTS-gpu.md"

#: ``ID`` or ``ID=WEIGHTS`` (weights: ``random``, ``random:<seed>``, ``pretrained`` for the plugin's own weights
#: where they come without a network, as effnet's do from a pip package, or a local file).
BACKBONES = (
    "timm/vit_base_patch16_224.augreg2_in21k_ft_in1k=random",  # the first: decodes the JPEGs (cold)
    "timm/vit_base_patch16_224.augreg2_in21k_ft_in1k=random:1",  # the same geometry: reads the pixels (warm)
    "timm/vit_tiny_patch16_224.augreg_in21k=random",  # augreg's geometry too (crop_pct 0.9, bicubic): warm
    "effnet/lite0=random",  # another geometry (224 px, bilinear): cold again
    "effnet/lite0=pretrained",  # ... and warm with second weights (shipped in a pip package: no network)
)

#: Targets of issue 11 (end-to-end / raw forward): the first backbone of a geometry decodes from JPEG; every
#: later backbone sharing its preprocessing reads the decoded pixels.
TARGET_COLD, TARGET_WARM = 0.5, 0.9

#: Time bounds, in seconds (scaled by --time-budget / DEFAULT_BUDGET).
DEFAULT_BUDGET = 450.0  # the whole run, generation included: under the 8 minutes
DECODE_S = 40.0  # decode-only phase of one geometry (stops early)
COLD_E2E_S = 60.0  # the end-to-end image count is cut so that a cold extraction should take at most this
RAW_S = 8.0  # timed raw forward of one backbone and dtype
RAW_MIN_BATCHES, RAW_MAX_BATCHES = 3, 50
LOAD_S = 15.0  # allowance for building a backbone and moving it to the device

BEFORE = """\
Measured 2026-11-27 with `python benchmarks/bench_gpu_extraction.py --images 2048 --dtypes bf16,fp32` on one
NVIDIA H200 (torch 2.11.0+cu130, 16 CPU cores, 8 DataLoader workers, batch 256, Animal-MNIST silhouettes
resized by each backbone's own transform: PIL workers resized and normalised to float32, and float32 batches
crossed to the main process). Random weights.

| backbone | dtype | raw forward img/s | end-to-end img/s | ratio |
|---|---|---|---|---|
| timm/vit_base_patch16_224.augreg2_in21k_ft_in1k | bf16 | 10666 | 749 | 0.07 |
| timm/vit_base_patch16_224.augreg2_in21k_ft_in1k | fp32 | 1249 | 765 | 0.61 |
| timm/vit_tiny_patch16_224.augreg_in21k | bf16 | 45594 | 1888 | 0.04 |
| timm/vit_tiny_patch16_224.augreg_in21k | fp32 | 10734 | 1627 | 0.15 |
| effnet/lite0 | bf16 | 20063 | 1464 | 0.07 |
| effnet/lite0 | fp32 | 14282 | 1759 | 0.12 |
"""


def cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


# -- synthetic JPEGs -------------------------------------------------------------------------------------------


def jpeg_name(index: int) -> str:
    return f"img_{index:06d}.jpg"


def synthetic_jpeg(index: int, seed: int = 0) -> bytes:
    """A photo-like JPEG (quality 90) of about 500x375 px (a quarter of them portrait): a smooth colour field,
    blurred shapes and sensor-like noise, so that it compresses like a photograph (about 30-80 KB)."""
    import numpy as np
    from PIL import Image, ImageDraw, ImageFilter

    rng = np.random.default_rng([seed, index])
    width, height = int(rng.integers(460, 541)), int(rng.integers(345, 406))
    if rng.random() < 0.25:
        width, height = height, width
    grid = rng.integers(0, 256, size=(int(rng.integers(2, 6)), int(rng.integers(2, 6)), 3), dtype=np.uint8)
    image = Image.fromarray(grid).resize((width, height), Image.Resampling.BICUBIC)
    draw = ImageDraw.Draw(image)
    for _ in range(int(rng.integers(4, 12))):
        x0, y0 = int(rng.integers(-width // 4, width)), int(rng.integers(-height // 4, height))
        x1, y1 = x0 + int(rng.integers(20, width // 2)), y0 + int(rng.integers(20, height // 2))
        colour = tuple(int(c) for c in rng.integers(0, 256, 3))
        kind = int(rng.integers(0, 3))
        if kind == 0:
            draw.ellipse((x0, y0, x1, y1), fill=colour)
        elif kind == 1:
            draw.rectangle((x0, y0, x1, y1), fill=colour)
        else:
            points = [(int(rng.integers(0, width)), int(rng.integers(0, height)))
                      for _ in range(int(rng.integers(3, 7)))]
            draw.polygon(points, fill=colour)
    image = image.filter(ImageFilter.GaussianBlur(float(rng.uniform(0.5, 2.0))))
    pixels = np.asarray(image, dtype=np.float32)
    pixels += rng.normal(0.0, float(rng.uniform(3.0, 12.0)), size=pixels.shape).astype(np.float32)
    buffer = io.BytesIO()
    Image.fromarray(pixels.clip(0, 255).astype(np.uint8)).save(buffer, "JPEG", quality=90)
    return buffer.getvalue()


def _write_one(job: tuple[str, int]) -> int:
    folder, index = job
    data = synthetic_jpeg(index)
    path = Path(folder) / jpeg_name(index)
    tmp = path.with_suffix(".tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)  # a reused folder never holds a half-written JPEG
    return len(data)


@dataclasses.dataclass
class JpegSet:
    folder: Path
    files: list[Path]
    generated: int
    seconds: float
    mean_kb: float


def jpeg_set(folder: Path, n: int, processes: int) -> JpegSet:
    """``n`` synthetic JPEGs in ``folder``; the ones already there (a reused ``--data``) are kept."""
    folder.mkdir(parents=True, exist_ok=True)
    files = [folder / jpeg_name(i) for i in range(n)]
    missing = [i for i, path in enumerate(files) if not path.is_file()]
    start = time.perf_counter()
    if missing:
        jobs = [(str(folder), i) for i in missing]
        if processes > 1 and len(missing) > 1:
            with multiprocessing.get_context("fork" if sys.platform == "linux" else "spawn").Pool(processes) as pool:
                list(pool.imap_unordered(_write_one, jobs, chunksize=max(1, min(64, len(jobs) // (4 * processes)))))
        else:
            for job in jobs:
                _write_one(job)
    seconds = time.perf_counter() - start
    mean_kb = sum(path.stat().st_size for path in files) / len(files) / 1024
    return JpegSet(folder, files, len(missing), seconds, mean_kb)


# -- the task --------------------------------------------------------------------------------------------------


class SyntheticJpegs:
    """Placeholder until :func:`_define_task` runs (biobench_core is imported only after the skip check)."""


def _define_task() -> type:
    """The task over the generated JPEGs, defined at module level (so DataLoader workers can unpickle it under
    any start method) once biobench_core is imported."""
    global SyntheticJpegs
    from biobench_core import Example, Task, TaskSpec, load_rgb

    class SyntheticJpegs(Task):  # noqa: F811 - replaces the placeholder
        """The generated JPEGs as one split (``train``), decoded as every image task decodes a file."""

        def __init__(self, files: list[Path]) -> None:
            spec = TaskSpec(id="bench/synthetic-jpegs", factory="bench_gpu_extraction:SyntheticJpegs",
                            description="synthetic photo-like JPEGs, about 500x375 px", needs_data=False)
            super().__init__(spec, None, {})
            examples = [Example(id=path.stem, label=i % 10, source=str(path)) for i, path in enumerate(files)]
            self.split_examples = {"train": examples, "test": []}

        def load(self, example: Example) -> Any:
            return load_rgb(example.source)

    SyntheticJpegs.__qualname__ = "SyntheticJpegs"
    return SyntheticJpegs


# -- measurements ----------------------------------------------------------------------------------------------


def _sync(device: Any) -> None:
    import torch

    if device.type == "cuda":
        torch.cuda.synchronize(device)


def decode_only(task: Any, examples: list[Any], geometry: Any, batch_size: int, workers: int, pin: bool,
                limit_s: float) -> tuple[float, int, Any]:
    """Images/s of the uint8 DataLoader that ``extract`` uses (decode + geometry in workers, collate, pinned
    memory on a GPU), without the forward; stops after ``limit_s``. Also returns the first batch's pixels."""
    import torch

    from biobench_core import decoded_pixel_batches

    loader = decoded_pixel_batches(task, examples, geometry, batch_size=batch_size, workers=workers, pin=pin)
    batches = iter(loader)  # starts the workers, as extract does before its clock starts
    first = None
    n = 0
    start = time.perf_counter()
    try:
        for _, pixels, _, _, _ in batches:
            if pixels is None:
                continue
            if first is None:
                first = pixels.clone()
            n += pixels.shape[0]
            if time.perf_counter() - start > limit_s:
                break
    finally:
        seconds = time.perf_counter() - start
        del batches  # shuts the workers down (also after an early stop)
    return n / seconds, n, first


def cache_read(entry: Any, batch_size: int, pin: bool) -> tuple[float, int]:
    """Images/s of reading a pixel cache entry as ``extract`` does (copy out of the memory map, pin, prefetch
    thread), without the forward."""
    from biobench_core import cached_pixel_batches

    n = 0
    start = time.perf_counter()
    for _, pixels, _, _, _ in cached_pixel_batches(entry, batch_size, pin):
        if pixels is not None:
            n += pixels.shape[0]
    return n / (time.perf_counter() - start), n


def raw_forward(backbone: Any, batch: Any, device: Any, limit_s: float) -> tuple[float, int]:
    """Images/s of ``backbone.img_encode`` alone on ``batch`` (already normalised, on the device, in the dtype):
    three warm-up batches, one to size the run, then as many timed batches as fit in ``limit_s`` (within the
    batch caps)."""
    import torch

    with torch.inference_mode():
        for _ in range(3):
            backbone.img_encode(batch)
        _sync(device)
        start = time.perf_counter()
        backbone.img_encode(batch)
        _sync(device)
        one = time.perf_counter() - start
        n = max(RAW_MIN_BATCHES, min(RAW_MAX_BATCHES, int(limit_s / max(one, 1e-6))))
        start = time.perf_counter()
        for _ in range(n):
            backbone.img_encode(batch)
        _sync(device)
        seconds = time.perf_counter() - start
    return n * batch.shape[0] / seconds, n


def device_batch(backbone: Any, preprocessing: Any, pixels: Any, task: Any, examples: list[Any], batch_size: int,
                 device: Any, dtype: str) -> Any:
    """The raw forward's input: one batch as ``extract`` feeds it (normalised on the device, channels_last for
    CNNs); from the decoded uint8 pixels under a declared preprocessing, else through the callable transform."""
    import torch

    from biobench_core import DTYPES, is_convnet, normalise

    channels_last = is_convnet(backbone)
    if preprocessing is not None:
        return normalise(pixels.to(device), preprocessing, DTYPES[dtype], channels_last=channels_last)
    transform = backbone.make_img_transform()
    batch = torch.stack([transform(task.load(ex)) for ex in examples[:batch_size]]).to(device, DTYPES[dtype])
    return batch.contiguous(memory_format=torch.channels_last) if channels_last else batch


@dataclasses.dataclass
class Row:
    backbone: str
    weights: str
    dtype: str
    pixels: str  # "cold (written)", "warm (hit)", ...
    pipeline: str
    raw: float
    e2e: float
    n_images: int
    shares: str  # "new geometry" or "shares geometry with <backbone>"

    @property
    def warm(self) -> bool:
        return self.pixels.startswith("warm")

    @property
    def ratio(self) -> float:
        return self.e2e / self.raw

    @property
    def target(self) -> float:
        return TARGET_WARM if self.warm else TARGET_COLD

    @property
    def met(self) -> bool:
        return self.ratio >= self.target

    def markdown(self) -> str:
        return (f"| {self.backbone} | {self.weights} | {self.dtype} | {self.pixels} | {self.raw:.0f} | {self.e2e:.0f} "
                f"| {self.ratio:.2f} | >= {self.target} | {'yes' if self.met else 'NO'} |")


TABLE_HEAD = ("| backbone | weights | dtype | pixels | raw forward img/s | end-to-end img/s | ratio | target | met |\n"
              "|---|---|---|---|---|---|---|---|---|")


def pixels_label(status: str) -> str:
    if status == "hit":
        return "warm (hit)"
    if status == "written":
        return "cold (written)"
    if status == "not declared":
        return "cold (callable transform)"
    return f"cold ({status})"


@dataclasses.dataclass
class GeometryFigures:
    description: str
    size: tuple[int, int]
    decode_ips: float
    decode_n: int
    read_ips: float = float("nan")
    read_n: int = 0
    first_backbone: str = ""


def parse_backbones(text: str) -> list[tuple[str, str | None]]:
    out = []
    for item in (part.strip() for part in text.split(",")):
        if not item:
            continue
        backbone_id, _, weights = item.partition("=")
        weights = weights or "random"
        out.append((backbone_id, None if weights == "pretrained" else weights))
    if not out:
        raise SystemExit("--backbones: no backbone given")
    return out


# -- the run ---------------------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    default_workers = max(1, min(16, cores() - 1))
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=8192, help="synthetic JPEGs to generate (default 8192)")
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--workers", type=int, default=default_workers,
                        help=f"DataLoader workers (default: cores - 1, at most 16; here {default_workers})")
    parser.add_argument("--dtypes", default="bf16", help="comma-separated, of bf16, fp16, fp32 (default bf16)")
    parser.add_argument("--backbones", default=",".join(BACKBONES),
                        help="comma-separated ID[=WEIGHTS] (weights: random, random:SEED, pretrained, a file; "
                             "default random), in order: the first of each geometry decodes, the rest read pixels")
    parser.add_argument("--data", type=Path, default=None,
                        help="folder for the JPEGs, reused when it holds them (default: a temporary folder)")
    parser.add_argument("--device", choices=("cuda", "cpu"), default=None,
                        help="default: cuda when torch sees a GPU, else skip; cpu runs the same logic (smoke test)")
    parser.add_argument("--out", type=Path, default=None,
                        help=f"results file (default on CUDA: {RESULTS.relative_to(REPO)}; on CPU: none)")
    parser.add_argument("--time-budget", type=float, default=DEFAULT_BUDGET,
                        help=f"seconds for the whole run; phases are bounded to fit (default {DEFAULT_BUDGET:.0f})")
    parser.add_argument("--pixel-cache-gb", type=float, default=16.0, help="the pixel cache's budget (default 16)")
    args = parser.parse_args(argv)
    t0 = time.perf_counter()

    import torch

    if args.device is None and not torch.cuda.is_available():
        print("skipped: no CUDA GPU visible to torch; run this on a GPU machine")
        return 0
    if args.device == "cuda" and not torch.cuda.is_available():
        print("error: --device cuda, but torch sees no CUDA GPU", file=sys.stderr)
        return 2
    device = torch.device(args.device or "cuda")
    on_gpu = device.type == "cuda"
    out = args.out if args.out is not None else (RESULTS if on_gpu else None)
    scale = args.time_budget / DEFAULT_BUDGET
    dtypes = [d.strip() for d in args.dtypes.split(",") if d.strip()]
    backbones = parse_backbones(args.backbones)

    from biobench_core import (PixelCache, declared_preprocessing, extract, load_backbone, pixel_source_key,
                               prepare_backbone)

    for dtype in dtypes:
        if dtype not in ("bf16", "fp16", "fp32"):
            parser.error(f"--dtypes: unknown dtype {dtype!r}")
    device_name = torch.cuda.get_device_name(device) if on_gpu else "CPU"
    n_cores = cores()
    command = "python benchmarks/bench_gpu_extraction.py" + ("" if argv is None and len(sys.argv) < 2 else
                                                            " " + " ".join(sys.argv[1:] if argv is None else argv))
    print(f"device: {device_name}, torch {torch.__version__}, {n_cores} CPU cores, {args.workers} workers, "
          f"batch {args.batch_size}, {args.images} images, dtypes {','.join(dtypes)}", flush=True)

    notes: list[str] = []

    def note(text: str) -> None:
        notes.append(text)
        print(f"note: {text}", flush=True)

    def left() -> float:
        return args.time_budget - (time.perf_counter() - t0)

    with tempfile.TemporaryDirectory(prefix="biobench-gpu-bench-") as tmp:
        folder = args.data if args.data is not None else Path(tmp) / "jpegs"
        jpegs = jpeg_set(folder, args.images, n_cores)
        where = folder if args.data is not None else "a temporary folder"
        gen_line = (f"JPEGs: {args.images} in {where}, mean {jpegs.mean_kb:.0f} KB"
                    + (f", {jpegs.generated} generated with {n_cores} processes in {jpegs.seconds:.1f} s "
                       f"({jpegs.generated / max(jpegs.seconds, 1e-9):.0f} img/s)" if jpegs.generated
                       else " (reused)"))
        print(gen_line, flush=True)

        task = _define_task()(jpegs.files)
        all_examples = list(task.examples("train"))
        budget = int(args.pixel_cache_gb * 2**30)
        free = shutil.disk_usage(tmp).free
        if free < budget + 2**30:
            budget = max(0, free - 2**30)
            note(f"the pixel cache's budget is cut to {budget / 2**30:.1f} GiB, what the temporary folder's disk has")
        cache = PixelCache(Path(tmp) / "pixels", budget)

        n_e2e: int | None = None  # images that go end to end: all, unless the first extraction would be too slow
        examples = all_examples
        base_key = ""
        geometries: dict[str, GeometryFigures] = {}
        first_pixels: dict[str, Any] = {}
        rows: list[Row] = []
        print(TABLE_HEAD, flush=True)
        for backbone_id, weights in backbones:
            weights_label = "pretrained" if weights is None else weights
            for dtype in dtypes:
                what = f"{backbone_id} ({weights_label}, {dtype})"
                if left() < LOAD_S + RAW_S * scale:
                    note(f"{what} skipped: the time budget is spent")
                    continue
                backbone = load_backbone(backbone_id, weights)
                preprocessing = declared_preprocessing(backbone)
                geometry = preprocessing.geometry if preprocessing is not None else None
                described = geometry.describe() if geometry is not None else None
                if described is None:
                    shares = "no declared preprocessing (callable transform)"
                elif described in geometries:
                    shares = f"shares geometry with {geometries[described].first_backbone}"
                else:
                    shares = "new geometry"
                backbone = prepare_backbone(backbone, device, dtype)
                if described is not None and described not in geometries:
                    # decode only, before the first extraction of this geometry (the time guard's input too)
                    limit = DECODE_S * scale if n_e2e is None else min(DECODE_S * scale, max(5.0, left() / 4))
                    ips, n, pixels = decode_only(task, examples, geometry, args.batch_size, args.workers, on_gpu,
                                                 limit)
                    geometries[described] = GeometryFigures(described, geometry.output_size() or (0, 0), ips, n,
                                                            first_backbone=backbone_id)
                    first_pixels[described] = pixels
                    print(f"decode only ({described}): {ips:.0f} img/s over {n} images, {args.workers} workers",
                          flush=True)
                batch = device_batch(backbone, preprocessing, first_pixels.get(described), task, examples,
                                     args.batch_size, device, dtype)
                raw, _ = raw_forward(backbone, batch, device, RAW_S * scale)
                del batch

                # the time guard: the extraction runs at most as fast as its input (decoding or the pixel cache)
                # and the forward
                figures = geometries.get(described) if described is not None else None
                source = float("inf") if figures is None else (
                    figures.read_ips if shares.startswith("shares") and figures.read_n else figures.decode_ips)
                rate = min(source, raw)
                if n_e2e is None:
                    cap = max(1, int(rate * COLD_E2E_S * scale) // args.batch_size) * args.batch_size
                    n_e2e = min(len(all_examples), cap)
                    if n_e2e < len(all_examples):
                        note(f"{n_e2e} of the {len(all_examples)} images go end to end, so that the first "
                             f"extraction ({rate:.0f} img/s expected) takes about {COLD_E2E_S * scale:.0f} s")
                    examples = all_examples[:n_e2e]
                    base_key = hashlib.sha256(f"bench-gpu\0{task.manifest('train', examples)}".encode()).hexdigest()
                elif n_e2e / rate > left():
                    note(f"{what} skipped: extracting {n_e2e} images at about {rate:.0f} img/s would overrun "
                         "the time budget")
                    if shares == "new geometry":
                        del geometries[described]
                    del backbone
                    continue

                result = extract(backbone, task, "train", examples, device=device, dtype=dtype,
                                 batch_size=args.batch_size, workers=args.workers, progress=False,
                                 pixel_cache=cache, pixel_base_key=base_key)
                row = Row(backbone_id, weights_label, dtype, pixels_label(result.pixels), result.pipeline, raw,
                          result.images_per_second, result.n_images, shares)
                rows.append(row)
                print(row.markdown(), flush=True)
                print(f"  ({shares}; {result.pipeline}; {result.n_images} images in {result.seconds:.1f} s; "
                      f"at {time.perf_counter() - t0:.0f} s of {args.time_budget:.0f})", flush=True)
                if figures is not None and result.pixels == "written":
                    entry = cache.get(pixel_source_key(base_key, geometry), [ex.id for ex in examples])
                    if entry is not None:
                        figures.read_ips, figures.read_n = cache_read(entry, args.batch_size, on_gpu)
                        print(f"pixel-cache read ({described}): {figures.read_ips:.0f} img/s over {figures.read_n} "
                              "images (memory-mapped, in the page cache)", flush=True)
                del backbone, result
                if on_gpu:
                    torch.cuda.empty_cache()

    total = time.perf_counter() - t0
    print(f"total: {total:.0f} s", flush=True)
    if not rows:
        print("no backbone was measured", file=sys.stderr)
        return 1
    if out is None:
        print("(not written: on CPU, results go to a file only with --out)")
        return 0
    header = {"date": datetime.date.today().isoformat(), "command": command, "device": device_name,
              "torch": torch.__version__, "cores": n_cores, "workers": args.workers, "batch": args.batch_size,
              "images": args.images, "n_e2e": n_e2e, "gen_line": gen_line, "total": total}
    out.write_text(render(header, rows, list(geometries.values()), notes))
    print(f"written: {out}")
    return 0


# -- the results file ------------------------------------------------------------------------------------------


def interpretation(rows: list[Row], geometries: list[GeometryFigures], workers: int) -> str:
    """A short paragraph saying what the figures mean, from the figures themselves."""
    cold = [r for r in rows if not r.warm]
    warm = [r for r in rows if r.warm]
    parts = []
    if cold:
        decode = ", ".join(f"{g.decode_ips:.0f}" for g in geometries) or "n/a"
        worst = min(cold, key=lambda r: r.ratio)
        parts.append(
            f"The first backbone of each geometry decodes the JPEGs: {workers} workers decode, resize and crop "
            f"{decode} img/s on their own (decode only), so a cold extraction's ratio is at most that rate over the "
            f"backbone's raw forward ({len([r for r in cold if r.met])} of {len(cold)} cold "
            f"rows meet {TARGET_COLD}; lowest {worst.ratio:.2f}, {worst.backbone} {worst.dtype}).")
    if warm:
        reads = ", ".join(f"{g.read_ips:.0f}" for g in geometries if g.read_n) or "n/a"
        worst = min(warm, key=lambda r: r.ratio)
        parts.append(
            f"Every later backbone with the same geometry reads the decoded uint8 pixels from the pixel cache "
            f"({reads} img/s on their own) and normalises on the device: {len([r for r in warm if r.met])} of "
            f"{len(warm)} warm rows meet {TARGET_WARM} (lowest {worst.ratio:.2f}, {worst.backbone} {worst.dtype}); "
            "what is left between a warm extraction and the raw forward is the host-to-device copy of each uint8 "
            "batch and the per-batch synchronisation (the finiteness check, the features' copy to the CPU), a "
            "larger share the faster the backbone.")
    goal = [r for r in rows if "vit_base_patch16_224" in r.backbone and r.dtype == "bf16"]
    if goal:
        said = "; ".join(f"{r.pixels.split()[0]} {r.ratio:.2f} (target {r.target}: {'met' if r.met else 'NOT met'})"
                         for r in goal)
        parts.append(f"Issue 11's goal figures are the ViT-B/16 bf16 rows: {said}. The other rows show how the "
                     "same loop fares with a smaller ViT and a CNN.")
    return " ".join(parts)


def render(header: dict[str, Any], rows: list[Row], geometries: list[GeometryFigures], notes: list[str]) -> str:
    lines = [
        "# GPU extraction benchmark",
        "",
        f"Measured {header['date']} with `{header['command']}` on one {header['device']} (torch {header['torch']}, "
        f"{header['cores']} CPU cores, {header['workers']} DataLoader workers, batch {header['batch']}, "
        f"{header['images']} synthetic photo-like JPEGs of about 500x375 px generated on the machine, "
        f"{header['n_e2e']} of them end to end; the whole run took {header['total']:.0f} s). "
        + ("Random weights" if all(r.weights != "pretrained" for r in rows) else
           "Random weights (\"pretrained\": the plugin's own weights, installed with it)")
        + "; the figures are throughput, not accuracy. Raw forward: the backbone alone on a batch already "
        "decoded, normalised and on the device. End to end: `extract()` from the JPEG files to features on the CPU, with a pixel cache in a temporary "
        "folder: *cold* decodes the JPEGs (and writes the pixels), *warm* reads the pixels another backbone of "
        "the same geometry wrote. Ratio: end to end / raw forward.",
        "",
        TABLE_HEAD,
        *(row.markdown() for row in rows),
        "",
    ]
    for row in rows:
        lines.append(f"- {row.backbone} ({row.weights}, {row.dtype}): {row.shares}; {row.pipeline}")
    lines.append("")
    lines.append(f"- {header['gen_line']}")
    for g in geometries:
        lines.append(f"- decode only, {g.description} -> {g.size[0]}x{g.size[1]} uint8: **{g.decode_ips:.0f} img/s** "
                     f"({g.decode_n} images)")
        if g.read_n:
            lines.append(f"- pixel-cache read, {g.description}: **{g.read_ips:.0f} img/s** ({g.read_n} images, "
                         "memory-mapped, in the page cache)")
    for text in notes:
        lines.append(f"- note: {text}")
    lines += ["", interpretation(rows, geometries, header["workers"]), "",
              "## Before this change", "",
              BEFORE.rstrip(), "",
              "Then the input pipeline, not the backbone, set the pace: workers produced 750-1900 images/s of "
              "float32 tensors.", ""]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
