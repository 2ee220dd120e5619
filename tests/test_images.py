"""biobench_core.engine._images: high-bit-depth and float images scaled to 8 bits, large JPEGs named and decoded small,
and the extraction loop's count of scaled images. Every image is written at test time."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from torchvision import transforms

from biobench_core import EncodedImgBatch, TaskSpec, VisionBackbone
from biobench_core.engine import _images as images
from biobench_core.engine._extraction import extract, prepare_backbone
from biobench_core.engine._images import HighBitDepthWarning, load_image, to_rgb8, was_scaled
from biobench_core.contract._tasks import Example, Task, TaskDataError

W, H = 256, 16


def gradient16(path: Path, fmt: str, top: int = 65535) -> Path:
    """A left-to-right 16-bit grey ramp from 0 to ``top``."""
    ramp = np.linspace(0, top, W).round().astype(np.uint16)
    Image.fromarray(np.tile(ramp, (H, 1))).save(path, fmt)
    return path


def float_tiff(path: Path, values: np.ndarray) -> Path:
    Image.fromarray(values.astype(np.float32)).save(path, "TIFF")
    return path


def grey(img: Image.Image) -> np.ndarray:
    assert img.mode == "RGB"
    rgb = np.asarray(img).astype(int)
    assert (rgb[..., 0] == rgb[..., 1]).all() and (rgb[..., 1] == rgb[..., 2]).all()
    return rgb[..., 0]


def assert_full_ramp(img: Image.Image) -> None:
    row = grey(img)[0]
    assert (np.diff(row) >= 0).all(), "the gradient must survive"
    assert row[0] == 0 and row[-1] == 255
    assert len(np.unique(row)) > 200  # most of the 256 levels, not a handful
    assert (grey(img) == 255).mean() < 0.01  # not clipped to white (convert("RGB") made 99.6% white)


# -- high bit depth and float ------------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt, suffix", [("PNG", ".png"), ("TIFF", ".tif")])
def test_16_bit_image_keeps_its_gradient(tmp_path, fmt, suffix):
    path = gradient16(tmp_path / f"ramp{suffix}", fmt)
    assert Image.open(path).mode.startswith("I;16")
    img = load_image(path)
    assert img.size == (W, H)
    assert_full_ramp(img)
    assert was_scaled(img)


def test_12_bit_data_in_16_bit_container_is_scaled_by_its_own_range(tmp_path):
    """Microscopy cameras often write 12-bit data (0..4095) into 16-bit files: the image's range, not 0..65535."""
    img = load_image(gradient16(tmp_path / "12bit.png", "PNG", top=4095))
    assert_full_ramp(img)


def test_float_tiff_is_not_black(tmp_path):
    ramp = np.tile(np.linspace(0.0, 1.0, W), (H, 1))
    img = load_image(float_tiff(tmp_path / "float.tif", ramp))
    assert grey(img).mean() > 100  # convert("RGB") made this 0 or 1 everywhere
    assert_full_ramp(img)
    assert was_scaled(img)


def test_float_with_nan_and_inf(tmp_path):
    values = np.tile(np.linspace(-2.0, 2.0, W), (H, 1))
    values[0, 0], values[0, 1], values[0, 2] = np.nan, np.inf, -np.inf
    img = grey(load_image(float_tiff(tmp_path / "nan.tif", values)))
    assert img[0, 0] == 0 and img[0, 1] == 255 and img[0, 2] == 0  # the range is of finite values only
    assert img[1, 0] == 0 and img[1, -1] == 255


def test_constant_and_all_nan_images_are_black(tmp_path):
    for name, values in [("flat", np.full((H, W), 7.5)), ("nan", np.full((H, W), np.nan))]:
        img = load_image(float_tiff(tmp_path / f"{name}.tif", values))
        assert (grey(img) == 0).all()


def test_32_bit_integer_with_negative_values():
    values = np.tile(np.linspace(-100_000, 100_000, W).astype(np.int32), (H, 1))
    img, converted = to_rgb8(Image.fromarray(values), "x")
    assert converted and Image.fromarray(values).mode == "I"
    assert grey(img)[0, 0] == 0 and grey(img)[0, -1] == 255 and grey(img)[0, W // 2] in (127, 128)


def test_big_endian_16_bit():
    big = Image.new("I;16B", (4, 1))
    big.putdata([0, 1000, 2000, 4000])
    img, converted = to_rgb8(big)
    assert converted and grey(img)[0].tolist() == [0, 64, 128, 255]


@pytest.mark.parametrize("mode", ["RGB", "L", "RGBA", "P", "1", "CMYK", "LA"])
def test_8_bit_images_are_converted_as_before_and_not_counted(mode):
    src = Image.new(mode, (5, 4))
    img, converted = to_rgb8(src, "x")
    assert not converted and not was_scaled(img)
    assert img.mode == "RGB" and np.array_equal(np.asarray(img), np.asarray(src.convert("RGB")))


def test_8_bit_files_decode_exactly_as_pil_does(tmp_path):
    rng = np.random.default_rng(0)
    pixels = rng.integers(0, 256, (48, 64, 3), dtype=np.uint8)
    for name in ("a.png", "a.jpg", "a.bmp"):
        Image.fromarray(pixels).save(tmp_path / name)
        img = load_image(tmp_path / name)
        assert not was_scaled(img)
        assert np.array_equal(np.asarray(img), np.asarray(Image.open(tmp_path / name).convert("RGB")))


def test_exif_orientation_is_applied(tmp_path):
    img = Image.new("RGB", (40, 20), (200, 10, 10))
    exif = img.getexif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise to display
    img.save(tmp_path / "rot.jpg", exif=exif)
    assert load_image(tmp_path / "rot.jpg").size == (20, 40)


def test_decode_errors_name_the_file(tmp_path):
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"not an image")
    with pytest.raises(TaskDataError, match="cannot decode image") as info:
        load_image(bad)
    assert str(bad) in str(info.value)


# -- large JPEGs ------------------------------------------------------------------------------------------------


def jpeg(path: Path, size: tuple[int, int], seed: int = 0) -> Path:
    rng = np.random.default_rng(seed)
    small = rng.integers(0, 256, (size[1] // 8 + 1, size[0] // 8 + 1, 3), dtype=np.uint8)
    Image.fromarray(small).resize(size, Image.BILINEAR).save(path, quality=90)
    return path


def test_decompression_bomb_warning_names_the_file(tmp_path, monkeypatch):
    path = jpeg(tmp_path / "huge.jpg", (300, 200))
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 40_000)  # 60,000 > 40,000 warns; < 80,000 does not fail
    with pytest.warns(Image.DecompressionBombWarning) as record:
        load_image(path)
    messages = [str(w.message) for w in record if issubclass(w.category, Image.DecompressionBombWarning)]
    assert messages and all(str(path) in m for m in messages), messages


def test_decompression_bomb_error_names_the_file(tmp_path, monkeypatch):
    path = jpeg(tmp_path / "bomb.jpg", (300, 200))
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 20_000)
    with pytest.raises(TaskDataError, match="DecompressionBomb") as info:
        load_image(path)
    assert str(path) in str(info.value)


def test_large_jpeg_is_decoded_at_reduced_size(tmp_path, monkeypatch):
    monkeypatch.setattr(images, "DRAFT_KEEP_SIDE", 64)  # the real bound is 2048: a 4096+ px JPEG is slow to write
    img = load_image(jpeg(tmp_path / "big.jpg", (640, 512)))
    assert img.mode == "RGB"
    assert min(img.size) >= 64  # never smaller than the bound
    assert img.size == (80, 64)  # 1/8 scale: min(640 // 64, 512 // 64) = 8
    assert load_image(jpeg(tmp_path / "big2.jpg", (640, 400))).size == (160, 100)  # 400 // 64 = 6: 1/4 scale


def test_jpeg_under_twice_the_bound_decodes_exactly(tmp_path, monkeypatch):
    monkeypatch.setattr(images, "DRAFT_KEEP_SIDE", 64)
    path = jpeg(tmp_path / "normal.jpg", (640, 127))  # shorter side under 2 x 64: no reduced decoding
    img = load_image(path)
    assert np.array_equal(np.asarray(img), np.asarray(Image.open(path).convert("RGB")))


def test_reduced_decoding_threshold_is_documented():
    assert images.DRAFT_KEEP_SIDE >= 2048
    assert str(images.DRAFT_KEEP_SIDE) in (images.__doc__ or "").replace(",", "")


# -- the extraction loop counts scaled images --------------------------------------------------------------------


class Mean(VisionBackbone):
    def __init__(self):
        super().__init__()
        self.backbone_id = "test/mean"
        self.scale = torch.nn.Parameter(torch.ones(1))

    def img_encode(self, batch):
        return EncodedImgBatch(batch.mean(dim=(2, 3)) * self.scale, None)

    def make_img_transform(self):
        return transforms.Compose([transforms.Resize((8, 8)), transforms.ToTensor()])


class Files(Task):
    def __init__(self, spec, paths):
        super().__init__(spec)
        self.split_examples = {"train": [Example(id=p.name, label=i % 2, source=str(p)) for i, p in enumerate(paths)]}

    def load(self, example):
        return load_image(example.source)


SPEC = TaskSpec(id="test/files", factory="x:y", needs_data=False)


@pytest.mark.parametrize("workers", [0, 1])
def test_extract_counts_scaled_images_and_warns_once(tmp_path, workers):
    paths = [gradient16(tmp_path / "a.png", "PNG"), jpeg(tmp_path / "b.jpg", (32, 32)),
             float_tiff(tmp_path / "c.tif", np.tile(np.linspace(0, 1, W), (H, 1))),
             gradient16(tmp_path / "d.tif", "TIFF", top=4095), jpeg(tmp_path / "e.jpg", (32, 32), seed=1)]
    backbone = prepare_backbone(Mean(), torch.device("cpu"), "fp32")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = extract(backbone, Files(SPEC, paths), "train", device=torch.device("cpu"), batch_size=2,
                         workers=workers, progress=False)
    assert result.n_converted == 3
    scaled = [str(w.message) for w in caught if issubclass(w.category, HighBitDepthWarning)]
    assert len(scaled) == 1, scaled
    assert "3 high-bit-depth images" in scaled[0] and "test/files" in scaled[0] and "train" in scaled[0]
    assert result.split.features[0].mean() > 0.3  # the 16-bit ramp is not white (1.0) or black
    assert result.split.features[0].mean() < 0.7


def test_extract_without_scaled_images_says_nothing(tmp_path):
    paths = [jpeg(tmp_path / "b.jpg", (32, 32)), jpeg(tmp_path / "e.jpg", (32, 32), seed=1)]
    backbone = prepare_backbone(Mean(), torch.device("cpu"), "fp32")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = extract(backbone, Files(SPEC, paths), "train", device=torch.device("cpu"), progress=False)
    assert result.n_converted == 0
    assert not [w for w in caught if issubclass(w.category, HighBitDepthWarning)]
