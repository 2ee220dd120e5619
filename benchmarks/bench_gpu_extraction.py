"""GPU extraction benchmark: end-to-end `extract()` images/s vs the backbone's raw forward on decoded batches.

Finishes in a few minutes on one H100; without a CUDA GPU it says so and exits 0 (``make bench-gpu``).
``python benchmarks/bench_gpu_extraction.py [--images N] [--workers N]``
"""

from __future__ import annotations

import argparse
import os
import sys
import time

BACKBONES = ("timm/vit_base_patch16_224.augreg2_in21k_ft_in1k", "timm/vit_tiny_patch16_224.augreg_in21k",
             "effnet/lite0")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=4096)
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--workers", type=int, default=min(8, os.cpu_count() or 1))
    parser.add_argument("--dtypes", default="bf16,fp16,fp32")
    args = parser.parse_args()

    import torch

    if not torch.cuda.is_available():
        print("skipped: no CUDA GPU visible to torch; run this on a GPU machine")
        return 0
    from biobench_core.catalog import load_backbone, load_task
    from biobench_core.extraction import DTYPES, extract, is_convnet, prepare_backbone

    device = torch.device("cuda")
    print(f"device: {torch.cuda.get_device_name(device)}, torch {torch.__version__}, {args.workers} workers, "
          f"batch {args.batch_size}, {args.images} images (Animal-MNIST silhouettes resized by each transform)")
    task = load_task("tasks/animal-silhouettes", None, {})
    examples = list(task.examples("train"))[: args.images]
    print("| backbone | dtype | raw forward img/s | end-to-end img/s | ratio |")
    print("|---|---|---|---|---|")
    for backbone_id in BACKBONES:
        for dtype in args.dtypes.split(","):
            backbone = prepare_backbone(load_backbone(backbone_id, "random"), device, dtype)
            transform = backbone.make_img_transform()
            pixels = torch.stack([transform(task.load(ex)) for ex in examples[: args.batch_size]]).to(device)
            pixels = pixels.to(DTYPES[dtype])
            if is_convnet(backbone):
                pixels = pixels.contiguous(memory_format=torch.channels_last)
            n_batches = max(1, args.images // args.batch_size)
            with torch.inference_mode():
                for _ in range(3):
                    backbone.img_encode(pixels)
                torch.cuda.synchronize()
                start = time.perf_counter()
                for _ in range(n_batches):
                    backbone.img_encode(pixels)
                torch.cuda.synchronize()
                raw = n_batches * args.batch_size / (time.perf_counter() - start)
            result = extract(backbone, task, "train", examples, device=device, dtype=dtype,
                             batch_size=args.batch_size, workers=args.workers, progress=False)
            e2e = result.images_per_second
            print(f"| {backbone_id} | {dtype} | {raw:.0f} | {e2e:.0f} | {e2e / raw:.2f} |", flush=True)
            del backbone
            torch.cuda.empty_cache()
    return 0


if __name__ == "__main__":
    sys.exit(main())
