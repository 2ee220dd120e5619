"""The input pipeline of a backbone that declares its preprocessing: uint8 batches normalised on the device,
decoded pixels shared between backbones of one geometry (and never across geometries or manifests), corrupt
images named as before, and the pixel cache's budget, eviction and damage handling."""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from torchvision import transforms

from biobench_core import EncodedImgBatch, Preprocessing, TaskSpec, VisionBackbone
from biobench_core.engine._extraction import BadImageWarning, extract, prepare_backbone
from biobench_core.engine._images import load_image
from biobench_core.engine._pixel_cache import PixelCache
from biobench_core.contract._tasks import Example, Task

CPU = torch.device("cpu")


class Declared(VisionBackbone):
    """A small conv net whose callable transform and declared preprocessing are the same thing."""

    def __init__(self, prep: Preprocessing, seed: int = 0, backbone_id: str = "test/declared"):
        super().__init__()
        torch.manual_seed(seed)
        self.conv = torch.nn.Conv2d(3, 8, 3, stride=2, padding=1)
        self.prep, self.backbone_id = prep, backbone_id

    def img_encode(self, batch):
        fmap = torch.relu(self.conv(batch))
        return EncodedImgBatch(fmap.mean(dim=(2, 3)), None)

    def make_img_transform(self):
        geometry = self.prep.geometry
        resize = list(geometry.resize) if isinstance(geometry.resize, tuple) else geometry.resize
        steps = [transforms.Resize(resize, interpolation=transforms.InterpolationMode(geometry.interpolation))]
        if geometry.crop is not None:
            steps.append(transforms.CenterCrop(list(geometry.crop)))
        return transforms.Compose([*steps, transforms.ToTensor(), transforms.Normalize(self.prep.mean, self.prep.std)])

    def preprocessing(self):
        return self.prep


class Files(Task):
    """Images in a folder; counts how often each is decoded (workers=0: decoding runs in this process)."""

    def __init__(self, root: Path):
        super().__init__(TaskSpec(id="test/files", factory="x:y", needs_data=False))
        self.root, self.loads = root, 0

    def examples(self, split):
        return [Example(id=p.stem, label=i % 2, source=str(p)) for i, p in enumerate(sorted(self.root.iterdir()))]

    def load(self, example):
        self.loads += 1
        return load_image(example.source)


def _folder(root: Path, n: int = 10, corrupt: int | None = None) -> Path:
    rng = np.random.default_rng(0)
    root.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        path = root / f"img{i:02d}.png"
        if i == corrupt:
            path.write_bytes(b"\x89PNG\r\n\x1a\n this is not a png")
            continue
        height, width = 30 + 7 * i, 50 - 2 * i  # every aspect ratio differs
        Image.fromarray(rng.integers(0, 255, (height, width, 3), dtype=np.uint8)).save(path)
    return root


BICUBIC = Preprocessing.of(40, crop=32, interpolation="bicubic", mean=(0.5, 0.5, 0.5), std=(0.5, 0.5, 0.5))
SAME_GEOMETRY = Preprocessing.of(40, crop=32, interpolation="bicubic")  # other mean and std
OTHER_GEOMETRY = Preprocessing.of(36, crop=32, interpolation="bilinear")


def _extract(backbone, task, cache=None, **kwargs):
    kwargs.setdefault("dtype", "fp32")
    prepared = prepare_backbone(backbone, CPU, kwargs["dtype"])
    kwargs.setdefault("batch_size", 4)
    return extract(prepared, task, "train", device=CPU, workers=0, progress=False,
                   pixel_cache=cache, pixel_base_key=None if cache is None else kwargs.pop("base", "base-key"),
                   **kwargs)


def test_declared_preprocessing_gives_the_callable_transforms_features_bit_for_bit(tmp_path):
    task = Files(_folder(tmp_path / "img"))
    declared = _extract(Declared(BICUBIC), task)
    callable_path = _extract(Declared(BICUBIC), task, use_declared_preprocessing=False)
    assert declared.pipeline == "uint8, normalised on the device"
    assert callable_path.pipeline == "callable transform"
    np.testing.assert_array_equal(declared.split.features, callable_path.split.features)


def test_uint8_batches_cross_to_the_main_process(tmp_path):
    """What the DataLoader hands over is uint8 (H, W, 3), a quarter of float32's bytes."""
    from biobench_core.engine._extraction import _collate, _Decoded, _ToPixels

    task = Files(_folder(tmp_path / "img", n=3))
    dataset = _Decoded(task, task.examples("train"), _ToPixels(BICUBIC.geometry), "skip")
    _, pixels, counts, bad, _ = _collate([dataset[i] for i in range(3)])
    assert pixels.dtype == torch.uint8 and tuple(pixels.shape) == (3, 32, 32, 3) and counts == [1, 1, 1]
    assert not bad


def test_two_backbones_with_one_geometry_decode_each_image_once(tmp_path):
    task = Files(_folder(tmp_path / "img"))
    cache = PixelCache(tmp_path / "pixels", 10**8)
    first = _extract(Declared(BICUBIC, seed=0), task, cache)
    assert first.pixels == "written" and task.loads == 10
    second = _extract(Declared(SAME_GEOMETRY, seed=1), task, cache)
    assert second.pixels == "hit" and task.loads == 10, "the second backbone decoded again"
    alone = _extract(Declared(SAME_GEOMETRY, seed=1), task)  # no cache: decoded from the files
    np.testing.assert_array_equal(second.split.features, alone.split.features)
    assert [e.id for e in second.split.examples] == [e.id for e in alone.split.examples]


def test_two_geometries_never_share_pixels(tmp_path):
    task = Files(_folder(tmp_path / "img"))
    cache = PixelCache(tmp_path / "pixels", 10**8)
    _extract(Declared(BICUBIC), task, cache)
    other = _extract(Declared(OTHER_GEOMETRY), task, cache)
    assert other.pixels == "written" and task.loads == 20
    assert len(cache.entries()) == 2
    alone = _extract(Declared(OTHER_GEOMETRY), task)
    np.testing.assert_array_equal(other.split.features, alone.split.features)


def test_pixels_are_never_shared_across_manifests(tmp_path):
    """Another manifest (the split's files or examples changed) is another key: decoded again."""
    task = Files(_folder(tmp_path / "img"))
    cache = PixelCache(tmp_path / "pixels", 10**8)
    _extract(Declared(BICUBIC), task, cache, base="manifest-1")
    again = _extract(Declared(BICUBIC), task, cache, base="manifest-2")
    assert again.pixels == "written" and task.loads == 20
    # and the same key with other examples (a hand-built key that forgot them) is refused, not misread
    fewer = task.examples("train")[:5]
    prepared = prepare_backbone(Declared(BICUBIC), CPU, "fp32")
    result = extract(prepared, task, "train", fewer, device=CPU, batch_size=4, progress=False, pixel_cache=cache,
                     pixel_base_key="manifest-1")
    assert result.pixels == "written" and len(result.split.examples) == 5


def test_a_stored_result_is_keyed_by_the_manifest_of_its_files(tmp_path):
    """End to end through experiment_features: rewriting an image changes the manifest, so it is decoded again."""
    from biobench_core.engine._feature_source import pixel_base_key

    task = Files(_folder(tmp_path / "img"))
    code = {"task": {"distribution": None}, "core": {"version": "x"}}
    before = pixel_base_key(task, code, task.manifest("train"))
    path = tmp_path / "img" / "img03.png"
    Image.new("RGB", (40, 40), (1, 2, 3)).save(path)
    os.utime(path, ns=(path.stat().st_atime_ns, path.stat().st_mtime_ns + 10**9))
    assert pixel_base_key(task, code, task.manifest("train")) != before


def test_corrupt_images_are_skipped_and_named_alike_decoding_or_from_the_cache(tmp_path):
    task = Files(_folder(tmp_path / "img", corrupt=4))
    cache = PixelCache(tmp_path / "pixels", 10**8)
    runs = []
    for kwargs in ({"use_declared_preprocessing": False}, {"cache": cache}, {"cache": cache}):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            result = _extract(Declared(BICUBIC), task, **kwargs)
        runs.append((result, [str(w.message) for w in caught if w.category is BadImageWarning]))
    (plain, plain_warned), (cold, cold_warned), (hit, hit_warned) = runs
    assert hit.pixels == "hit"
    assert len(plain.skipped) == 1 and "img04.png: cannot decode image" in plain.skipped[0]
    assert plain.skipped == cold.skipped == hit.skipped
    assert plain_warned == cold_warned == hit_warned == plain.skipped
    assert [e.id for e in hit.split.examples] == [e.id for e in plain.split.examples]
    np.testing.assert_array_equal(hit.split.features, plain.split.features)
    with pytest.raises(Exception, match="img04.png: cannot decode image"):
        _extract(Declared(BICUBIC), task, cache, on_bad_image="fail")


def test_an_entry_larger_than_the_budget_is_not_kept(tmp_path):
    task = Files(_folder(tmp_path / "img"))
    cache = PixelCache(tmp_path / "pixels", 32 * 32 * 3 * 9)  # nine images' worth, for ten
    result = _extract(Declared(BICUBIC), task, cache)
    assert result.pixels.startswith("not kept") and cache.entries() == []
    folder = tmp_path / "pixels"
    assert not folder.exists() or not any(folder.iterdir()), "a temporary folder was left"


def test_the_least_recently_used_entry_is_evicted_to_fit_the_budget(tmp_path):
    task = Files(_folder(tmp_path / "img"))
    one = 10 * 32 * 32 * 3
    cache = PixelCache(tmp_path / "pixels", 2 * one)
    _extract(Declared(BICUBIC), task, cache, base="a")
    _extract(Declared(BICUBIC), task, cache, base="b")
    assert len(cache.entries()) == 2
    os.utime(cache.entries()[0][2] / "index.json", (1, 1))  # make 'a' or 'b' clearly the older
    older = cache.entries()[0][2].name
    _extract(Declared(BICUBIC), task, cache, base="c")
    names = {folder.name for _, _, folder in cache.entries()}
    assert len(names) == 2 and older not in names and cache.size_bytes() <= 2 * one


def test_an_interrupted_extraction_leaves_no_entry(tmp_path):
    class Failing(Declared):
        calls = 0

        def img_encode(self, batch):
            Failing.calls += 1
            if Failing.calls == 2:
                raise RuntimeError("out of memory")
            return super().img_encode(batch)

    task = Files(_folder(tmp_path / "img"))
    cache = PixelCache(tmp_path / "pixels", 10**8)
    with pytest.raises(RuntimeError, match="out of memory"):
        _extract(Failing(BICUBIC), task, cache)
    assert list((tmp_path / "pixels").iterdir()) == []


def test_a_damaged_entry_is_decoded_again(tmp_path):
    task = Files(_folder(tmp_path / "img"))
    cache = PixelCache(tmp_path / "pixels", 10**8)
    first = _extract(Declared(BICUBIC), task, cache)
    (folder,) = [f for _, _, f in cache.entries()]
    with open(folder / "pixels.u8", "r+b") as handle:
        handle.truncate(100)
    again = _extract(Declared(BICUBIC), task, cache)
    assert again.pixels == "written" and task.loads == 20
    np.testing.assert_array_equal(again.split.features, first.split.features)


def test_bf16_normalises_in_float32_then_casts(tmp_path):
    task = Files(_folder(tmp_path / "img", n=4))
    declared = _extract(Declared(BICUBIC), task, dtype="bf16")
    callable_path = _extract(Declared(BICUBIC), task, dtype="bf16", use_declared_preprocessing=False)
    np.testing.assert_array_equal(declared.split.features, callable_path.split.features)


def test_a_backbone_without_a_fixed_output_size_keeps_its_callable_transform(tmp_path):
    """A shorter-side resize without a crop gives images of different shapes: no uint8 batch can hold them."""
    from biobench_core.engine._extraction import declared_preprocessing

    assert declared_preprocessing(Declared(Preprocessing.of(32))) is None
    assert declared_preprocessing(Declared(BICUBIC)) == BICUBIC
    task = Files(_folder(tmp_path / "img", n=2))
    result = _extract(Declared(Preprocessing.of(32)), task, PixelCache(tmp_path / "pixels", 10**8), batch_size=1)
    assert result.pipeline == "callable transform" and result.pixels == "not declared"


def _photo(path: Path, width: int, height: int) -> Path:
    """A smooth photo-like JPEG (gradients and a disc), where resampling differences stay small."""
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    disc = ((x - width / 2) ** 2 + (y - height / 2) ** 2 < (height / 3) ** 2) * 80
    rgb = np.stack([x / width * 200 + disc, y / height * 200, (x + y) / (width + height) * 255 - disc / 2], axis=-1)
    Image.fromarray(np.clip(rgb, 0, 255).astype(np.uint8)).save(path, quality=92)
    return path


def test_a_large_jpeg_is_decoded_at_reduced_scale_for_a_known_geometry(tmp_path):
    from biobench_core.engine._images import decoding_for
    from biobench_core.contract._preprocessing import apply_geometry

    path = _photo(tmp_path / "big.jpg", 2400, 1800)
    assert load_image(path).size == (2400, 1800)  # no geometry known: decoded in full
    with decoding_for(256):  # keeps at least 512 px on the shorter side: 1/2 scale, not 1/4 (450 px)
        reduced = load_image(path)
    assert reduced.size == (1200, 900)
    geometry = Preprocessing.of(256, crop=224, interpolation="bicubic").geometry
    full_pixels = apply_geometry(load_image(path), geometry).astype(np.int16)
    reduced_pixels = apply_geometry(reduced, geometry).astype(np.int16)
    # Resampling noise only: within 1 grey level on average, 8 at most, on this smooth photo.
    assert np.abs(full_pixels - reduced_pixels).mean() <= 1.0
    assert np.abs(full_pixels - reduced_pixels).max() <= 8
    small = _photo(tmp_path / "small.jpg", 500, 375)
    with decoding_for(256):
        assert load_image(small).size == (500, 375), "a photo with no room to reduce is decoded in full"


def test_reduced_scale_decoding_is_keyed_apart_from_full_decoding(tmp_path, monkeypatch):
    """Pixels are keyed by geometry and decoding rule (not mean/std); the features of the two paths stay close
    on a large JPEG (within 5% of the features' scale here), and never share a key: the backbone identity the
    feature key holds names the declared preprocessing and the decoding rule."""
    from biobench_core.engine import _extraction as extraction
    from biobench_core.engine._extraction import pixel_source_key

    before = pixel_source_key("base", BICUBIC.geometry)
    monkeypatch.setattr(extraction, "DECODE_RULE", "full-decode")
    assert pixel_source_key("base", BICUBIC.geometry) != before
    monkeypatch.undo()
    a = pixel_source_key("base", BICUBIC.geometry)
    b = pixel_source_key("base", SAME_GEOMETRY.geometry)
    c = pixel_source_key("base", OTHER_GEOMETRY.geometry)
    assert a == b != c
    (tmp_path / "img").mkdir()
    _photo(tmp_path / "img" / "a.jpg", 2400, 1800)
    task = Files(tmp_path / "img")
    declared = _extract(Declared(BICUBIC), task)
    callable_path = _extract(Declared(BICUBIC), task, use_declared_preprocessing=False)
    scale = np.abs(callable_path.split.features).max()
    assert np.abs(declared.split.features - callable_path.split.features).max() <= 0.05 * scale


def test_a_run_decodes_once_for_backbones_that_share_a_geometry(in_process, tmp_path, make_image_folder):
    """End to end through `biobench run`: two weights of one timm model share the decoded pixels, a model with
    another geometry decodes again; each result records its input pipeline."""
    import json
    import sqlite3

    from biobench_core.contract._catalog import load_backbone
    from biobench_core.engine._extraction import declared_preprocessing

    resnet, vit = "timm/resnet18", "timm/vit_tiny_patch16_224.augreg_in21k"
    assert declared_preprocessing(load_backbone(resnet, "random")).geometry != \
        declared_preprocessing(load_backbone(vit, "random")).geometry
    data = make_image_folder(tmp_path / "colours")
    results = tmp_path / "results"
    proc = in_process("run", "--backbone", resnet, "--weights", "random", "--backbone", resnet, "--weights",
                      "random:1", "--backbone", vit, "--weights", "random", "--task", "tasks/image-folder", "--data",
                      f"image-folder={data}", "--results", str(results), "--device", "cpu", "--quiet")
    assert proc.returncode == 0, proc.stderr
    with sqlite3.connect(results / "biobench.sqlite") as db:
        rows = db.execute("SELECT backbone, weights, identity FROM experiments").fetchall()
    from biobench_core.contract._catalog import resolve_backbone

    resnet, vit = resolve_backbone(resnet).id, resolve_backbone(vit).id  # as the store keys them
    pixels = {(b, w): json.loads(identity)["input"]["pixels"] for b, w, identity in rows}
    assert pixels[(resnet, "random")] == {"train": "written", "test": "written"}
    assert pixels[(resnet, "random:1")] == {"train": "hit", "test": "hit"}
    assert pixels[(vit, "random")] == {"train": "written", "test": "written"}


@pytest.mark.parametrize(("value", "budget"), [("", 50.0), ("0", 0.0), ("2.5", 2.5)])
def test_the_pixel_budget_comes_from_the_environment(monkeypatch, tmp_path, value, budget):
    from biobench_core.engine._feature_cache import FeatureCache

    monkeypatch.setenv("BIOBENCH_PIXEL_CACHE_GB", value)
    cache = FeatureCache(tmp_path)
    assert cache.pixel_budget_gb == budget
    assert (cache.pixels is None) == (budget == 0)
    assert FeatureCache(tmp_path, pixel_budget_gb=1.0).pixels.budget_bytes == 2**30  # the flag wins


@pytest.mark.parametrize("value", ["-1", "lots", "nan"])
def test_a_bad_pixel_budget_in_the_environment_is_named(monkeypatch, tmp_path, value):
    from biobench_core.engine._feature_cache import FeatureCache

    monkeypatch.setenv("BIOBENCH_PIXEL_CACHE_GB", value)
    with pytest.raises(ValueError, match=f"BIOBENCH_PIXEL_CACHE_GB='{value}': expected a number of GiB >= 0"):
        FeatureCache(tmp_path)
