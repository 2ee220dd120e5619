"""CPU extraction efficiency: end-to-end `extract()` images/s over the backbone's raw forward on the same batches.

For each backbone and dtype, in alternation (best of ``rounds``, so a neighbour's burst on a shared VM does not
decide the ratio):

- **raw**: the backbone alone on batches already decoded, resized and normalised in memory;
- **first**: `extract()` with an empty pixel cache: workers decode the task's image files and resize them to
  uint8, the main process normalises and runs the backbone (what the first backbone of a geometry costs);
- **after the first**: `extract()` again with the pixels now in the pixel cache (what every later backbone of
  that geometry costs: decode once, extract many);
- **callable transform**: the contract-1 path (the backbone's PIL transform in the workers, float batches),
  the baseline this issue started from.

``python benchmarks/bench_extraction.py [--quick] [--images N] [--dtypes fp32,bf16] [--workers N]``
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

from bench_core import to_markdown  # noqa: E402 - the same table as the core's figures (benchmarks/ on the path)

__all__ = ["bench_extraction", "run", "to_markdown"]

BACKBONES = ("effnet/lite0", "timm/vit_tiny_patch16_224.augreg_in21k")
TARGET = 0.9


def _silhouettes(subset: int):
    from biobench_core import load_task

    return load_task("tasks/animal-silhouettes", None, {"subset": str(subset)})


def _raw_forward(backbone: Any, batches: list[Any]) -> float:
    """Images/s of ``img_encode`` alone on batches already on the device, in the dtype and memory layout."""
    import torch

    with torch.inference_mode():
        backbone.img_encode(batches[0])
        start = time.perf_counter()
        for batch in batches:
            backbone.img_encode(batch)
        return sum(b.shape[0] for b in batches) / (time.perf_counter() - start)


def bench_extraction(n_images: int = 512, batch_size: int = 32, workers: int | None = None, rounds: int = 3,
                     dtypes: tuple[str, ...] = ("fp32", "bf16"), bf16_images: int | None = None,
                     backbones: tuple[str, ...] = BACKBONES) -> list[dict[str, Any]]:
    """Rows of figures; ``bf16_images`` (default ``n_images``) bounds bf16 runs, which are slow on CPUs
    without bf16 instructions."""
    import torch

    from biobench_core import (DTYPES, PixelCache, apply_geometry, declared_preprocessing, default_workers, extract,
                               is_convnet, load_backbone, normalise, prepare_backbone)

    cpu = torch.device("cpu")
    workers = default_workers("cpu") if workers is None else workers
    task = _silhouettes(max(n_images, 64))
    rows = []
    for backbone_id in backbones:
        for dtype in dtypes:
            n = n_images if dtype != "bf16" or bf16_images is None else bf16_images
            examples = list(task.examples("train"))[:n]
            backbone = prepare_backbone(load_backbone(backbone_id, "random"), cpu, dtype)
            prep = declared_preprocessing(backbone)
            if prep is None:
                raise SystemExit(f"{backbone_id} declares no preprocessing; this bench measures the uint8 pipeline")
            frames = [torch.from_numpy(apply_geometry(task.load(ex), prep.geometry)) for ex in examples]
            batches = [normalise(torch.stack(frames[i:i + batch_size]), prep, DTYPES[dtype],
                                 channels_last=is_convnet(backbone)) for i in range(0, n, batch_size)]
            kwargs = dict(device=cpu, dtype=dtype, batch_size=batch_size, workers=workers, progress=False)
            extract(backbone, task, "train", examples[:batch_size * 2], **kwargs)  # warm-up: kernels, allocator
            best = {"raw": 0.0, "first": 0.0, "after the first": 0.0, "callable transform": 0.0}
            for round_ in range(rounds):
                best["raw"] = max(best["raw"], _raw_forward(backbone, batches))
                folder = Path(tempfile.mkdtemp(prefix="bench-pixels-"))
                try:
                    cache = PixelCache(folder, 2**34)
                    cold = extract(backbone, task, "train", examples, pixel_cache=cache,
                                   pixel_base_key=f"bench-{round_}", **kwargs)
                    warm = extract(backbone, task, "train", examples, pixel_cache=cache,
                                   pixel_base_key=f"bench-{round_}", **kwargs)
                finally:
                    shutil.rmtree(folder, ignore_errors=True)
                assert (cold.pixels, warm.pixels) == ("written", "hit"), (cold.pixels, warm.pixels)
                old = extract(backbone, task, "train", examples, use_declared_preprocessing=False, **kwargs)
                best["first"] = max(best["first"], cold.images_per_second)
                best["after the first"] = max(best["after the first"], warm.images_per_second)
                best["callable transform"] = max(best["callable transform"], old.images_per_second)
            raw = best["raw"]
            for path in ("first", "after the first", "callable transform"):
                ratio = best[path] / raw
                target = "-" if path == "callable transform" else f">= {TARGET}"
                rows.append({"figure": f"extraction efficiency {backbone_id} {dtype}, {path}: end-to-end / raw "
                                       "forward",
                             "value": ratio, "target": target, "ok": target == "-" or ratio >= TARGET,
                             "detail": f"{best[path]:.1f} vs {raw:.1f} img/s (best of {rounds} alternating runs), "
                                       f"{n} images, batch {batch_size}, {workers} worker(s)"})
    return rows


def run(quick: bool = False) -> list[dict[str, Any]]:
    return bench_extraction(n_images=128 if quick else 512, bf16_images=64 if quick else 128)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller sizes")
    parser.add_argument("--images", type=int, default=None, help="images per measurement (default 512, quick 128)")
    parser.add_argument("--bf16-images", type=int, default=None, help="images per bf16 measurement")
    parser.add_argument("--dtypes", default="fp32,bf16")
    parser.add_argument("--workers", type=int, default=None, help="decoding processes (default: the machine's)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--backbones", default=",".join(BACKBONES))
    args = parser.parse_args()
    n = args.images or (128 if args.quick else 512)
    rows = bench_extraction(n_images=n, workers=args.workers, rounds=args.rounds, dtypes=tuple(args.dtypes.split(",")),
                            bf16_images=args.bf16_images or (64 if args.quick else 128),
                            backbones=tuple(args.backbones.split(",")))
    print(to_markdown(rows))


if __name__ == "__main__":
    main()
