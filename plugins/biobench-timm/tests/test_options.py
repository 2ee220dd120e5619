"""The timm plugin's options (issue 19), against timm itself: ``pool`` is timm's ``global_pool`` and ``img_size``
is ``create_model(..., img_size=N)`` with timm's position-embedding interpolation; tiny models, random weights
copied by state dict, no network."""

from __future__ import annotations

import timm
import torch
from safetensors.torch import save_file
from timm.layers import global_pool_nlc

import biobench_core
from biobench_core.testing import check_backbone, make_test_images, reset_registry
from biobench_timm.catalogue import POOLS, load_snapshot

import pytest


@pytest.fixture(autouse=True)
def _fresh_registry(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    reset_registry()
    yield
    reset_registry()


def _features(backbone, batch: torch.Tensor) -> torch.Tensor:
    with torch.no_grad():
        return backbone.img_encode(batch).img_features


@pytest.mark.parametrize("pool", ["max", "avg", "avgmax"])
def test_pool_on_a_cnn_is_timms_global_pool(pool):
    backbone = biobench_core.load_backbone(f"timm/resnet10t?pool={pool}", "random")
    assert backbone.backbone_id == f"timm/resnet10t.c3_in1k?pool={pool}"
    reference = timm.create_model("resnet10t", pretrained=False, global_pool=pool).eval()
    reference.load_state_dict(backbone.model.state_dict())
    batch = torch.randn(2, 3, 64, 72)
    with torch.no_grad():
        expected = reference.forward_head(reference.forward_features(batch), pre_logits=True)
    torch.testing.assert_close(_features(backbone, batch), expected, rtol=1e-5, atol=1e-6)


def test_no_pool_option_keeps_the_features_it_always_had():
    plain = biobench_core.load_backbone("timm/resnet10t", "random")
    auto = biobench_core.load_backbone("timm/resnet10t?pool=auto", "random")
    assert auto.backbone_id == plain.backbone_id == "timm/resnet10t.c3_in1k"
    batch = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        mean_of_map = plain.model.forward_features(batch).mean(dim=(2, 3))
    torch.testing.assert_close(_features(plain, batch), mean_of_map)
    torch.testing.assert_close(_features(auto, batch), mean_of_map)


@pytest.mark.parametrize("pool", ["token", "avg", "max", "avgmax"])
def test_pool_on_a_vit_is_timms_pool_over_the_patch_tokens(pool):
    backbone = biobench_core.load_backbone(f"timm/vit_tiny_patch16_224?pool={pool}", "random")
    reference = timm.create_model("vit_tiny_patch16_224", pretrained=False, global_pool=pool, fc_norm=False).eval()
    reference.load_state_dict(backbone.model.state_dict())
    batch = torch.randn(1, 3, 224, 224)
    with torch.no_grad():
        expected = reference.forward_head(reference.forward_features(batch), pre_logits=True)
        by_function = global_pool_nlc(reference.forward_features(batch), pool, reference.num_prefix_tokens)
    torch.testing.assert_close(_features(backbone, batch), expected)
    torch.testing.assert_close(expected, by_function)


def test_pool_token_on_a_model_without_a_class_token_is_one_line():
    with pytest.raises(biobench_core.OptionError, match=r"^timm/resnet10t.c3_in1k\?pool=token: option pool=token: "
                                                        r"ResNet has no class token \(use pool=avg, max or avgmax\)$"):
        biobench_core.load_backbone("timm/resnet10t?pool=token", "random")


def test_img_size_on_dinov2_is_timms_create_model_with_img_size(tmp_path):
    """A DINOv2 checkpoint at its own 518 px, run at 224 px: the position embeddings are interpolated as timm
    interpolates them for its pretrained weights (its ``checkpoint_filter_fn``), and images are cropped to 224."""
    torch.manual_seed(0)
    native = timm.create_model("vit_small_patch14_dinov2", pretrained=False)
    weights = tmp_path / "dinov2_518.safetensors"
    save_file({k: v.contiguous() for k, v in native.state_dict().items()}, str(weights))

    backbone = biobench_core.load_backbone("timm/vit_small_patch14_dinov2?img_size=224", str(weights))
    assert backbone.backbone_id == "timm/vit_small_patch14_dinov2.lvd142m?img_size=224"
    reference = timm.create_model("vit_small_patch14_dinov2", pretrained=False, img_size=224).eval()
    filter_fn = timm.models.vision_transformer.checkpoint_filter_fn
    reference.load_state_dict(filter_fn(native.state_dict(), reference))
    assert reference.pos_embed.shape == backbone.model.pos_embed.shape == (1, 1 + 16 * 16, 384)

    image = make_test_images(1)[0]
    pixels = backbone.make_img_transform()(image)
    assert pixels.shape == (3, 224, 224)
    crop = backbone.preprocessing().geometry.crop
    assert crop == (224, 224)
    with torch.no_grad():
        expected = reference.forward_features(pixels[None])[:, 0]
    torch.testing.assert_close(_features(backbone, pixels[None]), expected)


def test_img_size_at_the_tags_own_size_is_the_backbone_without_options():
    assert biobench_core.resolve_backbone("timm/vit_small_patch14_dinov2?img_size=518").id \
        == "timm/vit_small_patch14_dinov2.lvd142m"


def test_img_size_on_a_cnn_resizes_the_input_only():
    backbone = biobench_core.load_backbone("timm/resnet10t?img_size=96", "random")
    plain = biobench_core.load_backbone("timm/resnet10t", "random")
    for name, value in plain.model.state_dict().items():
        torch.testing.assert_close(backbone.model.state_dict()[name], value)
    assert backbone.make_img_transform()(make_test_images(1)[0]).shape == (3, 96, 96)


def test_every_timm_spec_declares_pool_and_img_size():
    listed = biobench_core.resolve_backbone("timm/resnet10t")
    snapshot = load_snapshot()
    bare = sorted(snapshot.architectures - {entry.arch for entry in snapshot.entries})[0]
    unlisted = biobench_core.resolve_backbone(f"timm/{bare}")  # an architecture without pretrained weights
    hub = biobench_core.resolve_backbone("timm/hf-hub:someone/some-model?pool=max")
    assert hub.id == "timm/hf-hub:someone/some-model?pool=max" and hub.name == "hf-hub:someone/some-model"
    for spec in (listed, unlisted, hub):
        assert [option.name for option in spec.options] == ["img_size", "pool"]
        assert spec.options[1].default == "auto" and spec.options[1].choices == POOLS
    assert (listed.option("pool"), hub.option("pool")) == ("auto", "max")
    assert listed.option("img_size") == listed.input_size and unlisted.option("img_size") is None


def test_the_kit_checks_the_declared_options():
    report = check_backbone("timm/resnet10t?pool=max", "random")
    assert report.ok, report
    options = next(check for check in report.checks if check.name == "options")
    assert options.status == "ok" and "pool (default 'auto'; 6 values)" in options.message


def test_max_map_is_upstream_biobench_s_rule_max_over_a_map_and_the_class_token_of_a_vit():
    """``pool=max-map`` (what ``biobench-paper`` gives every timm backbone): timm's max pool over a CNN's map, and
    the features ``auto`` gives a token model (its [CLS] token), as upstream's timm wrapper pools them."""
    cnn = biobench_core.load_backbone("timm/resnet10t?pool=max-map", "random")
    reference = timm.create_model("resnet10t", pretrained=False, global_pool="max").eval()
    reference.load_state_dict(cnn.model.state_dict())
    batch = torch.randn(2, 3, 64, 72)
    with torch.no_grad():
        expected = reference.forward_head(reference.forward_features(batch), pre_logits=True)
    torch.testing.assert_close(_features(cnn, batch), expected, rtol=1e-5, atol=1e-6)

    vit = biobench_core.load_backbone("timm/vit_tiny_patch16_224?pool=max-map", "random")
    batch = torch.randn(1, 3, 224, 224)
    with torch.no_grad():
        cls_token = vit.model.forward_features(batch)[:, 0]
    torch.testing.assert_close(_features(vit, batch), cls_token)


def test_the_published_protocol_gives_every_timm_backbone_max_map_and_dinov2_224_px():
    backbones = [("timm/resnet10t", None), ("timm/vit_small_patch14_dinov2.lvd142m", "random"),
                 ("timm/resnet10t?pool=max-map", None)]
    under, _ = biobench_core.under_protocol("biobench-paper", backbones, [])
    assert under == [("timm/resnet10t.c3_in1k?pool=max-map", None),
                     ("timm/vit_small_patch14_dinov2.lvd142m?img_size=224&pool=max-map", "random"),
                     ("timm/resnet10t.c3_in1k?pool=max-map", None)]
    assert biobench_core.under_protocol("biobench", backbones, []) == (backbones, [])
    with pytest.raises(biobench_core.ProtocolError, match=r"^timm/resnet10t\?pool=avg: option pool=avg contradicts "
                                                          r"protocol 'biobench-paper', which sets pool=max-map"):
        biobench_core.under_protocol("biobench-paper", [("timm/resnet10t?pool=avg", None)], [])
