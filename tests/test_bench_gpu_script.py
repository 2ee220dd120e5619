"""The GPU extraction benchmark runs its whole logic on the CPU (a smoke test) and skips cleanly without a GPU."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_gpu_extraction.py"
TINY = "timm/vit_tiny_patch16_224.augreg_in21k"
SMALL = "timm/vit_small_patch16_224.augreg_in21k"  # augreg's geometry too: resize 248, crop 224, bicubic


def _env() -> dict[str, str]:
    return {**os.environ, "CUDA_VISIBLE_DEVICES": "", "HF_HUB_OFFLINE": "1"}


def test_cpu_smoke_run_measures_every_backbone_and_shares_decoded_pixels(tmp_path):
    out = tmp_path / "r.md"
    cmd = [sys.executable, str(SCRIPT), "--device", "cpu", "--images", "24", "--batch-size", "8", "--workers", "1",
           "--dtypes", "fp32", "--backbones", f"{TINY},{SMALL}", "--data", str(tmp_path / "jpegs"),
           "--time-budget", "150", "--out", str(out)]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=_env(), timeout=170)
    assert proc.returncode == 0, proc.stdout + proc.stderr

    rows = {}
    for line in proc.stdout.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if line.startswith("| timm/") and len(cells) == 9:
            rows[cells[0]] = cells
    assert list(rows) == [TINY, SMALL], proc.stdout
    for backbone, weights, dtype, pixels, raw, e2e, ratio, target, met in rows.values():
        assert (weights, dtype) == ("random", "fp32")
        assert float(raw) > 0 and float(e2e) > 0
        assert re.fullmatch(r"\d+\.\d\d", ratio), ratio
        assert met in ("yes", "NO")
    assert rows[TINY][3] == "cold (written)" and rows[TINY][7] == ">= 0.5"
    assert rows[SMALL][3] == "warm (hit)" and rows[SMALL][7] == ">= 0.9"
    assert f"shares geometry with {TINY}" in proc.stdout
    assert re.search(r"^decode only \(Geometry\(resize=248, crop=\(224, 224\), interpolation='bicubic'\)\): "
                     r"\d+ img/s over 24 images", proc.stdout, re.M), proc.stdout
    assert re.search(r"^pixel-cache read .*: \d+ img/s over 24 images", proc.stdout, re.M), proc.stdout

    text = out.read_text()
    assert text.startswith("# GPU extraction benchmark")
    assert f"| {SMALL} | random | fp32 | warm (hit) |" in text
    assert "decode only" in text and "pixel-cache read" in text
    assert "## Before this change" in text and "| 749 |" in text  # the old figures stay, for comparison
    assert len(list((tmp_path / "jpegs").glob("*.jpg"))) == 24  # --data keeps the generated JPEGs


def test_without_a_gpu_and_without_device_cpu_it_skips():
    proc = subprocess.run([sys.executable, str(SCRIPT), "--images", "8"], capture_output=True, text=True,
                          env=_env(), timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("skipped: no CUDA GPU visible to torch; run this on a GPU machine")


def test_synthetic_jpegs_are_photo_sized(tmp_path):
    """About 500x375 (some portrait), and 30-80 KB at quality 90, like a photograph rather than a flat drawing."""
    sys.path.insert(0, str(SCRIPT.parent))
    try:
        import bench_gpu_extraction as bench
    finally:
        sys.path.remove(str(SCRIPT.parent))
    import io

    from PIL import Image

    sizes, shapes = [], []
    for index in range(12):
        data = bench.synthetic_jpeg(index)
        sizes.append(len(data))
        with Image.open(io.BytesIO(data)) as image:
            assert image.format == "JPEG" and image.mode == "RGB"
            shapes.append(image.size)
    assert all(15_000 < size < 110_000 for size in sizes), sizes
    assert 30_000 < sum(sizes) / len(sizes) < 80_000, sizes
    assert all(440 <= max(s) <= 560 and 330 <= min(s) <= 420 for s in shapes), shapes
    assert any(w < h for w, h in shapes) and any(w > h for w, h in shapes), shapes
