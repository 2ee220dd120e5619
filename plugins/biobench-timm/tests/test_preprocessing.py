"""``TimmBackbone.preprocessing()``: timm's eval transform as data, and features that do not depend on which of the
two the extraction loop uses.

Three layers of evidence: the mapping gives what each model's pretrained config says (and agrees, config by
config, with the pipeline timm itself builds for every pretrained config it ships); the declared preprocessing
computes the same pixels as ``make_img_transform()`` (the conformance kit's check); and ``extract()`` gives the
same features with ``use_declared_preprocessing=True`` (uint8 pixels from the workers, normalised in the main
process) as with ``False`` (today's PIL path, the callable transform in the workers).
"""

from __future__ import annotations

import numpy as np
import pytest
import timm
import torch
from timm.data import create_transform, resolve_data_config
from timm.models import get_pretrained_cfg

import biobench_core
from biobench_core.testing import check_backbone, make_test_images, reset_registry
from biobench_core import Geometry, Preprocessing, apply_geometry, normalise
from biobench_core.testing.pipeline import (LARGE_JPEG_FILES, MIXED_IMAGE_FILES, ImageFilesTask, photo_like_image,
                                            pipeline_features)
from biobench_timm.backbone import TimmBackbone, preprocessing_from_config

IMAGENET = ((0.485, 0.456, 0.406), (0.229, 0.224, 0.225))
HALF = ((0.5, 0.5, 0.5), (0.5, 0.5, 0.5))


@pytest.fixture(autouse=True)
def _fresh_registry():
    reset_registry()
    yield
    reset_registry()


# -- the mapping -----------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("name", "expected"), [
    # crop_pct 0.9: the shorter side to floor(224 / 0.9) = 248, a 224 centre crop
    ("vit_tiny_patch16_224.augreg_in21k", Preprocessing.of(248, crop=224, interpolation="bicubic",
                                                           mean=HALF[0], std=HALF[1])),
    ("resnet18.a1_in1k", Preprocessing.of(235, crop=224, interpolation="bicubic", mean=IMAGENET[0],
                                          std=IMAGENET[1])),
    ("resnet18.tv_in1k", Preprocessing.of(256, crop=224, interpolation="bilinear", mean=IMAGENET[0],
                                          std=IMAGENET[1])),
    ("test_vit.r160_in1k", Preprocessing.of(168, crop=160, interpolation="bicubic", mean=HALF[0], std=HALF[1])),
    ("test_resnet.r160_in1k", Preprocessing.of(168, crop=160, interpolation="bilinear", mean=HALF[0],
                                               std=HALF[1])),
    # crop_pct 1.0: resize the shorter side to the input size, crop nothing but the longer side
    ("mambaout_femto.in1k", Preprocessing.of(224, crop=224, interpolation="bicubic", mean=IMAGENET[0],
                                             std=IMAGENET[1])),
    # squash: both sides to floor(side / crop_pct), aspect ratio ignored, then the centre crop
    ("dm_nfnet_f0.dm_in1k", Preprocessing.of((213, 213), crop=192, interpolation="bicubic", mean=IMAGENET[0],
                                             std=IMAGENET[1])),
    ("convnextv2_nano.fcmae_ft_in22k_in1k_384", Preprocessing.of((384, 384), crop=384, interpolation="bicubic",
                                                                 mean=IMAGENET[0], std=IMAGENET[1])),
])
def test_the_declared_preprocessing_is_the_pretrained_config(name, expected):
    backbone = biobench_core.load_backbone(f"timm/{name}", weights="random")
    assert backbone.preprocessing() == expected
    _assert_same_pixels(backbone)


def _pipeline_as_data(transform) -> Preprocessing | None:
    """timm's own eval pipeline read back as data, when it is torchvision's Resize, CenterCrop, ToTensor and
    Normalize (what a Preprocessing describes); ``None`` when it holds anything else."""
    steps = list(transform.transforms)
    if [type(step).__name__ for step in steps] != ["Resize", "CenterCrop", "MaybeToTensor", "Normalize"]:
        return None
    resize, crop, _, norm = steps
    size = resize.size if isinstance(resize.size, int) else tuple(resize.size)
    return Preprocessing(Geometry(size, tuple(crop.size), resize.interpolation.value),
                         tuple(torch.as_tensor(norm.mean).tolist()), tuple(torch.as_tensor(norm.std).tolist()))


def test_every_shipped_pretrained_config_maps_to_the_pipeline_timm_builds():
    """Every distinct data config of timm's pretrained tags: the declared preprocessing is exactly timm's eval
    pipeline where that is a resize and a centre crop, and ``None`` where it is not (crop mode ``border``)."""
    configs = {}
    for name in timm.list_models(pretrained=True):
        config = resolve_data_config(pretrained_cfg=get_pretrained_cfg(name).to_dict())
        configs.setdefault(repr(sorted(config.items())), (name, config))
    assert len(configs) > 50
    undeclared = set()
    for name, config in configs.values():
        expected = _pipeline_as_data(create_transform(**config, is_training=False))
        declared = preprocessing_from_config(config)
        if expected is None:
            assert declared is None, (name, config, declared)
            undeclared.add(config["crop_mode"])
            continue
        assert declared is not None, (name, config)
        assert declared.geometry == expected.geometry, (name, config)
        # Normalize holds float32 tensors: compare in float32
        for ours, theirs in ((declared.mean, expected.mean), (declared.std, expected.std)):
            assert torch.equal(torch.tensor(ours), torch.tensor(theirs)), (name, config)
    assert undeclared <= {"border"}


@pytest.mark.parametrize(("change", "why"), [
    ({"crop_mode": "border"}, "the longer side resized, padded with the mean colour"),
    ({"input_size": (3, 160, 224)}, "centre mode with a non-square input: timm's ResizeKeepRatio"),
    ({"interpolation": "random"}, "no single PIL filter"),
    ({"input_size": (1, 160, 160), "mean": (0.5,), "std": (0.5,)}, "a grayscale model"),
    ({"mean": (0.5, 0.5)}, "a mean of two values"),
    ({"crop_border_pixels": 4}, "a config key the mapping does not know"),
])
def test_what_is_no_resize_and_crop_is_not_declared(change, why):
    config = {"input_size": (3, 160, 160), "interpolation": "bicubic", "mean": HALF[0], "std": HALF[1],
              "crop_pct": 0.95, "crop_mode": "center"}
    assert preprocessing_from_config(config) is not None
    assert preprocessing_from_config({**config, **change}) is None, why


def test_defaults_and_a_single_mean_value_follow_timm():
    """An unset crop_pct is timm's 0.875, an unset crop mode is centre, and one mean or std value is broadcast to
    the three channels, as Normalize broadcasts it."""
    declared = preprocessing_from_config({"input_size": (3, 224, 224), "interpolation": "bilinear",
                                          "mean": (0.5,), "std": (0.25,), "crop_pct": None, "crop_mode": None})
    assert declared == Preprocessing.of(256, crop=224, interpolation="bilinear", mean=0.5, std=0.25)
    squash = preprocessing_from_config({"input_size": (3, 160, 224), "interpolation": "bicubic",
                                        "mean": HALF[0], "std": HALF[1], "crop_pct": 0.9, "crop_mode": "squash"})
    assert squash.geometry == Geometry((177, 248), (160, 224), "bicubic")


def _assert_same_pixels(backbone: TimmBackbone) -> None:
    """The declared preprocessing gives exactly the pixels of ``make_img_transform()`` (float32, on CPU)."""
    declared = backbone.preprocessing()
    transform = backbone.make_img_transform()
    extra = [(300, 90, "RGB"), (9, 6, "L"), (70, 50, "P")]
    images = make_test_images(3) + [photo_like_image(w, h, mode, seed) for seed, (w, h, mode) in enumerate(extra, 1)]
    for img in images:
        got = normalise(torch.from_numpy(apply_geometry(img, declared.geometry))[None], declared, torch.float32)[0]
        assert torch.equal(got, transform(img)), (img.size, img.mode)


# -- the conformance kit ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["test_vit.r160_in1k", "test_efficientnet.r160_in1k"])
def test_the_kit_checks_the_declaration_against_the_transform(name):
    report = check_backbone(f"timm/{name}", weights="random")
    report.assert_ok()
    [check] = [c for c in report.checks if c.name == "preprocessing"]
    assert check.message.startswith("declared Preprocessing(Geometry(resize=168, crop=(160, 160)")


# -- features: the declared pipeline against today's PIL path -----------------------------------------------------

def _squash(backbone: TimmBackbone) -> TimmBackbone:
    """The same model under a squash config (crop_pct 0.9): both the transform and the declaration follow it."""
    backbone.model.pretrained_cfg = {**backbone.model.pretrained_cfg, "crop_mode": "squash", "crop_pct": 0.9}
    assert backbone.preprocessing().geometry == Geometry((177, 177), (160, 160), "bicubic")
    return backbone


@pytest.mark.parametrize(("name", "squash"), [
    ("test_vit.r160_in1k", False),  # a ViT, bicubic, mean/std 0.5
    ("test_efficientnet.r160_in1k", False),  # a CNN: channels_last, ImageNet mean/std
    ("test_resnet.r160_in1k", False),  # bilinear
    ("test_vit.r160_in1k", True),
    ("mambaout_femto.in1k", False),  # crop_pct 1.0
])
def test_fp32_features_match_the_pil_path(tmp_path, name, squash):
    """fp32 on CPU: the declared pipeline's features equal the PIL path's within 1e-5 relative to their largest
    magnitude. Both feed the model bit-identical float32 pixels (files decoded in full), so they agree exactly
    here; the tolerance only allows a kernel that sums in another order."""
    backbone = biobench_core.load_backbone(f"timm/{name}", weights="random")
    if squash:
        backbone = _squash(backbone)
    declared, pil = pipeline_features(backbone, ImageFilesTask(tmp_path, MIXED_IMAGE_FILES), "fp32",
                                      batch_size=4)
    np.testing.assert_allclose(declared, pil, rtol=0, atol=1e-5 * float(np.abs(pil).max()))


def test_bf16_features_match_the_pil_path(tmp_path):
    """bf16 (weights and inputs): the two paths cast the same float32 pixels to bf16, so the features agree
    within bf16's tolerance, 2e-2 of their largest magnitude (bf16 keeps 8 significant bits)."""
    backbone = biobench_core.load_backbone("timm/test_vit.r160_in1k", weights="random")
    declared, pil = pipeline_features(backbone, ImageFilesTask(tmp_path, MIXED_IMAGE_FILES[:4]), "bf16",
                                      batch_size=4)
    np.testing.assert_allclose(declared, pil, rtol=0, atol=2e-2 * float(np.abs(pil).max()))


def test_large_jpegs_decoded_at_reduced_scale_match_within_resampling_noise(tmp_path):
    """A JPEG at least 4x the resize on its shorter side is decoded at 1/2 (1/4, 1/8) scale on the declared path,
    and resized from there: its pixels differ from a full decode by resampling noise, and the features by about
    3e-3 of their magnitude here. The tolerance is bf16's, 2e-2 of the largest magnitude (not fp32's: the
    feature cache keys the two decodings apart, so they are never mixed)."""
    backbone = biobench_core.load_backbone("timm/test_vit.r160_in1k", weights="random")
    declared, pil = pipeline_features(backbone, ImageFilesTask(tmp_path, LARGE_JPEG_FILES), "fp32",
                                      batch_size=4)
    np.testing.assert_allclose(declared, pil, rtol=0, atol=2e-2 * float(np.abs(pil).max()))
    assert not np.array_equal(declared, pil)  # reduced-scale decoding did happen

