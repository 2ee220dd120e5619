"""The extraction loop on its own: video pooling, patches on demand, output checks, the cache's round trip."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image
from torchvision import transforms

from biobench_core import BackboneSpec, EncodedImgBatch, TaskSpec, VisionBackbone
from biobench_core.engine._feature_cache import FeatureCache
from biobench_core.engine._identity import digest as feature_key
from biobench_core.engine._extraction import extract, prepare_backbone
from biobench_core.contract._backbone import BackboneOutputError, check_encoded
from biobench_core.contract._tasks import Example, SplitFeatures, Task


class Tiny(VisionBackbone):
    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.conv = torch.nn.Conv2d(3, 8, 3, padding=1)
        self.backbone_id = "test/tiny"

    def img_encode(self, batch):
        fmap = self.conv(batch)
        return EncodedImgBatch(fmap.mean(dim=(2, 3)), fmap.flatten(2).transpose(1, 2))

    def make_img_transform(self):
        return transforms.Compose([transforms.Resize((16, 16)), transforms.ToTensor()])


def _frame(i: int) -> Image.Image:
    return Image.new("RGB", (20, 20), (10 * i % 255, 40, 200 - 7 * i % 200))


class Clips(Task):
    """A video task: example i is a clip of i % 3 + 1 frames."""

    def examples(self, split):
        return [Example(id=f"{split}{i}", label=i % 2) for i in range(7)]

    def load(self, example):
        i = int(example.id.lstrip("traines"))
        return [_frame(i * 3 + f) for f in range(i % 3 + 1)]


SPEC = TaskSpec(id="test/clips", factory="x:y", needs_data=False)


def test_video_clips_are_mean_pooled_per_example():
    backbone = prepare_backbone(Tiny(), torch.device("cpu"), "fp32")
    task = Clips(SPEC)
    result = extract(backbone, task, "train", device=torch.device("cpu"), batch_size=3, progress=False)
    transform = backbone.make_img_transform()
    assert result.n_images == sum(i % 3 + 1 for i in range(7))
    for row, example in enumerate(result.split.examples):
        frames = torch.stack([transform(f) for f in task.load(example)])
        with torch.inference_mode():
            expected = backbone.img_encode(frames).img_features.mean(dim=0)
        np.testing.assert_allclose(result.split.features[row], expected.numpy(), rtol=1e-5, atol=1e-6)
    assert result.split.patches is None  # not asked for


def test_patches_only_when_the_task_asks():
    backbone = prepare_backbone(Tiny(), torch.device("cpu"), "fp32")
    task = Clips(SPEC)
    result = extract(backbone, task, "test", device=torch.device("cpu"), batch_size=4, need_patches=True,
                     progress=False)
    assert result.split.patches.shape == (7, 16 * 16, 8)
    np.testing.assert_allclose(result.split.patches.mean(axis=1), result.split.features, rtol=1e-4, atol=1e-6)


def test_bf16_extraction_is_close_to_fp32_and_stored_as_float32():
    task = Clips(SPEC)
    fp32 = extract(prepare_backbone(Tiny(), torch.device("cpu"), "fp32"), task, "train",
                   device=torch.device("cpu"), progress=False)
    bf16 = extract(prepare_backbone(Tiny(), torch.device("cpu"), "bf16"), task, "train", dtype="bf16",
                   device=torch.device("cpu"), progress=False)
    assert bf16.split.features.dtype == np.float32
    np.testing.assert_allclose(bf16.split.features, fp32.split.features, rtol=0.05, atol=0.02)


@pytest.mark.parametrize(
    ("out", "message"),
    [
        ("not a batch", "returned str, not EncodedImgBatch"),
        (EncodedImgBatch(torch.zeros(2, 3, 4), None), "shape (batch, img_dim), got (2, 3, 4)"),
        (EncodedImgBatch(torch.zeros(3, 4), None), "has 3 rows for a batch of 2 images"),
        (EncodedImgBatch(torch.zeros(2, 4, dtype=torch.int64), None), "float tensor"),
        (EncodedImgBatch(torch.full((2, 4), float("nan")), None), "NaN"),
        (EncodedImgBatch(torch.zeros(2, 4), torch.zeros(2, 4)), "patch_features must have shape"),
    ],
)
def test_check_encoded_names_the_backbone_and_the_problem(out, message):
    with pytest.raises(BackboneOutputError, match="^my/backbone: ") as err:
        check_encoded(out, 2, "my/backbone")
    assert message in str(err.value)


def test_check_encoded_requires_patches_when_asked():
    with pytest.raises(BackboneOutputError, match="needs patch_features"):
        check_encoded(EncodedImgBatch(torch.zeros(2, 4), None), 2, "my/backbone", need_patches=True)


def test_cache_round_trip_is_memory_mapped_and_keyed_by_content(tmp_path):
    cache = FeatureCache(tmp_path)
    examples = [Example(id=f"e{i}", label=i % 2) for i in range(5)]
    feats = np.random.default_rng(0).normal(size=(4, 3)).astype(np.float32)
    split = SplitFeatures(examples[1:], feats)  # example e0 was undecodable
    key = feature_key(backbone="a", weights="w", dtype="fp32")
    assert key != feature_key(backbone="a", weights="w", dtype="bf16")
    assert cache.get(key, examples) is None
    cache.put(key, split, {"skipped": ["e0.png"]})
    hit, meta = cache.get(key, examples)
    assert [ex.id for ex in hit.examples] == ["e1", "e2", "e3", "e4"]
    assert isinstance(hit.features, np.memmap) and np.array_equal(hit.features, feats)
    assert meta["skipped"] == ["e0.png"]
    assert cache.get(key, examples[2:]) is None  # the manifest no longer holds e1: never serve a stale entry


def test_backbone_spec_and_task_spec_are_frozen_and_validated():
    spec = BackboneSpec(id="a/b", factory="m:f")
    with pytest.raises(Exception):
        spec.id = "c/d"  # type: ignore[misc]
    from biobench_core import SpecError

    for bad in ("nonamespace", "a/", "/b", "a b/c"):
        with pytest.raises(SpecError):
            BackboneSpec(id=bad, factory="m:f")
    with pytest.raises(SpecError, match="factory"):
        TaskSpec(id="a/b", factory="no-colon")
