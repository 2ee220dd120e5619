"""``OpenClipBackbone.preprocessing()``: open_clip's eval transform as data, and features that do not depend on
which of the two the extraction loop uses.

Three layers of evidence: the mapping gives what each pretrained tag's preprocess config says (and agrees, config
by config, with the pipeline open_clip itself builds for every tag it ships); the declared preprocessing computes
the same pixels as ``make_img_transform()`` (the conformance kit's check); and ``extract()`` gives the same
features with ``use_declared_preprocessing=True`` (uint8 pixels from the workers, normalised in the main process)
as with ``False`` (today's PIL path, the callable transform in the workers). Random weights only: no downloads.
"""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch

import biobench_core
from biobench_core import Geometry, Preprocessing, apply_geometry, normalise
from biobench_core.testing import check_backbone, make_test_images
from biobench_core.testing.pipeline import (LARGE_JPEG_FILES, MIXED_IMAGE_FILES, ImageFilesTask, photo_like_image,
                                            pipeline_features)

open_clip = pytest.importorskip("open_clip")

from biobench_openclip.backbone import OpenClipBackbone, preprocessing_from_cfg  # noqa: E402

OPENAI = ((0.48145466, 0.4578275, 0.40821073), (0.26862954, 0.26130258, 0.27577711))
HALF = ((0.5, 0.5, 0.5), (0.5, 0.5, 0.5))


@pytest.fixture(scope="module")
def vit():
    """A random ViT-S-32, built once (tests change copies of it)."""
    return biobench_core.load_backbone("openclip/ViT-S-32", weights="random")


# -- the mapping -----------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("backbone_id", "expected"), [
    # resize mode "shortest" (the default), bicubic, OpenAI's mean and std
    ("openclip/RN50:openai", Preprocessing.of(224, crop=224, interpolation="bicubic", mean=OPENAI[0],
                                              std=OPENAI[1])),
    # bilinear, and no normalisation at all (mean 0, std 1), at the tower's own 256 px
    ("openclip/MobileCLIP-S1:datacompdr", Preprocessing.of(256, crop=256, interpolation="bilinear", mean=0.0,
                                                           std=1.0)),
    # "squash": both sides to the size, no crop
    ("openclip/PE-Core-T-16-384:meta", Preprocessing.of((384, 384), interpolation="bilinear", mean=HALF[0],
                                                        std=HALF[1])),
])
def test_the_declared_preprocessing_is_the_pretrained_config(backbone_id, expected):
    backbone = biobench_core.load_backbone(backbone_id, weights="random")
    assert backbone.preprocessing() == expected
    _assert_same_pixels(backbone)


def _assert_same_pixels(backbone: OpenClipBackbone) -> None:
    """The declared preprocessing gives exactly the pixels of ``make_img_transform()`` (float32, on CPU)."""
    declared, transform = backbone.preprocessing(), backbone.make_img_transform()
    extra = [(300, 90, "RGB"), (9, 6, "L"), (70, 50, "P")]
    images = make_test_images(3) + [photo_like_image(w, h, mode, seed) for seed, (w, h, mode) in enumerate(extra, 1)]
    for img in images:
        got = normalise(torch.from_numpy(apply_geometry(img, declared.geometry))[None], declared, torch.float32)[0]
        assert torch.equal(got, transform(img)), (img.size, img.mode)


def _pipeline_as_data(transform) -> Preprocessing | None:
    """open_clip's own eval pipeline read back as data, when it is torchvision's Resize (and CenterCrop),
    ToTensor and Normalize, what a Preprocessing describes; ``None`` when it holds anything else."""
    steps = [step for step in transform.transforms if type(step).__name__ != "MaybeConvertMode"]
    kinds = [type(step).__name__ for step in steps]
    if kinds not in (["Resize", "CenterCrop", "MaybeToTensor", "Normalize"],
                     ["Resize", "MaybeToTensor", "Normalize"]):
        return None
    resize, norm = steps[0], steps[-1]
    crop = tuple(steps[1].size) if kinds[1] == "CenterCrop" else None
    size = resize.size if isinstance(resize.size, int) else tuple(resize.size)
    mean, std = (tuple(values) * (3 if len(values) == 1 else 1) for values in (norm.mean, norm.std))  # broadcast
    return Preprocessing(Geometry(size, crop, resize.interpolation.value), mean, std)


def test_every_pretrained_tag_maps_to_the_pipeline_open_clip_builds():
    """Every distinct preprocess config of open_clip's pretrained tags (at the size its tower is built for):
    the declared preprocessing is exactly open_clip's eval pipeline."""
    from open_clip.transform import PreprocessCfg, image_transform_v2, merge_preprocess_dict

    configs = {}
    for arch, tag in open_clip.list_pretrained():
        cfg = merge_preprocess_dict(PreprocessCfg(), open_clip.get_pretrained_cfg(arch, tag))
        cfg["size"] = (open_clip.get_model_config(arch) or {}).get("vision_cfg", {}).get("image_size", cfg["size"])
        configs.setdefault(repr(sorted(cfg.items())), cfg)
    assert len(configs) > 10
    for cfg in configs.values():
        expected = _pipeline_as_data(image_transform_v2(PreprocessCfg(**cfg), is_train=False))
        assert expected is not None and preprocessing_from_cfg(cfg) == expected, cfg


@pytest.mark.parametrize(("cfg", "expected"), [
    ({"size": 224}, Preprocessing.of(224, crop=224, interpolation="bicubic", mean=OPENAI[0], std=OPENAI[1])),
    # "random" interpolation falls back to bicubic at inference, as open_clip does
    ({"size": 64, "interpolation": "random", "mean": 0.5, "std": [0.25]},
     Preprocessing.of(64, crop=64, interpolation="bicubic", mean=0.5, std=0.25)),
    ({"size": (200, 160), "resize_mode": "squash", "interpolation": "bilinear"},
     Preprocessing.of((200, 160), interpolation="bilinear", mean=OPENAI[0], std=OPENAI[1])),
    # a letterbox (the longer side resized, padded with fill_color) is no resize and crop
    ({"size": 224, "resize_mode": "longest", "fill_color": 128}, None),
    # "shortest" with a non-square size is open_clip's ResizeKeepRatio
    ({"size": (224, 256), "resize_mode": "shortest"}, None),
])
def test_configs_the_tags_do_not_cover(cfg, expected):
    """Hub repositories bring their own preprocess config: the mapping follows open_clip for every field."""
    from open_clip.transform import PreprocessCfg, image_transform_v2, merge_preprocess_dict

    cfg = merge_preprocess_dict(PreprocessCfg(), cfg)
    assert preprocessing_from_cfg(cfg) == expected
    if expected is not None:
        assert _pipeline_as_data(image_transform_v2(PreprocessCfg(**cfg), is_train=False)) == expected


# -- the conformance kit ---------------------------------------------------------------------------------------

def test_the_kit_checks_the_declaration_against_the_transform():
    """The kit builds its own ViT-S-32: shortest side to 224, a 224 centre crop, bicubic, OpenAI's mean and std."""
    report = check_backbone("openclip/ViT-S-32", weights="random")
    report.assert_ok()
    [check] = [c for c in report.checks if c.name == "preprocessing"]
    expected = Preprocessing.of(224, crop=224, interpolation="bicubic", mean=OPENAI[0], std=OPENAI[1])
    assert check.message.startswith(f"declared {expected.describe()} matches make_img_transform()"), check.message


# -- features: the declared pipeline against today's PIL path -----------------------------------------------------

def _squashed(backbone: OpenClipBackbone) -> OpenClipBackbone:
    """The same tower under a SigLIP-style config (squash, bilinear, mean and std 0.5): the transform and the
    declaration both follow ``preprocess_cfg``."""
    backbone.preprocess_cfg = {**backbone.preprocess_cfg, "resize_mode": "squash", "interpolation": "bilinear",
                               "mean": HALF[0], "std": HALF[1]}
    assert backbone.preprocessing() == Preprocessing.of((224, 224), interpolation="bilinear", mean=0.5, std=0.5)
    _assert_same_pixels(backbone)
    return backbone


@pytest.mark.parametrize(("backbone_id", "squash", "n_images"), [
    ("openclip/ViT-S-32", False, 6),  # a ViT, shortest side + centre crop, bicubic
    ("openclip/ViT-S-32", True, 6),
    ("openclip/RN50:openai", False, 3),  # a convolutional tower: channels_last
])
def test_fp32_features_match_the_pil_path(tmp_path, vit, backbone_id, squash, n_images):
    """fp32 on CPU: the declared pipeline's features equal the PIL path's within 1e-5 relative to their largest
    magnitude. Both feed the tower bit-identical float32 pixels (files decoded in full), so they agree exactly
    here; the tolerance only allows a kernel that sums in another order."""
    if backbone_id == vit.backbone_id:
        backbone = copy.deepcopy(vit)
    else:
        backbone = biobench_core.load_backbone(backbone_id, weights="random")
    if squash:
        backbone = _squashed(backbone)
    declared, pil = pipeline_features(backbone, ImageFilesTask(tmp_path, MIXED_IMAGE_FILES[:-1][:n_images]), "fp32",
                                      batch_size=3)
    np.testing.assert_allclose(declared, pil, rtol=0, atol=1e-5 * float(np.abs(pil).max()))


def test_bf16_features_match_the_pil_path(tmp_path, vit):
    """bf16 (weights and inputs): the two paths cast the same float32 pixels to bf16, so the features agree
    within bf16's tolerance, 2e-2 of their largest magnitude (bf16 keeps 8 significant bits)."""
    task = ImageFilesTask(tmp_path, MIXED_IMAGE_FILES[:-1][:2])
    declared, pil = pipeline_features(copy.deepcopy(vit), task, "bf16", batch_size=3)
    np.testing.assert_allclose(declared, pil, rtol=0, atol=2e-2 * float(np.abs(pil).max()))


def test_large_jpegs_decoded_at_reduced_scale_match_within_resampling_noise(tmp_path, vit):
    """A JPEG at least 4x the resize on its shorter side is decoded at 1/2 (1/4, 1/8) scale on the declared path,
    and resized from there: its pixels differ from a full decode by resampling noise, and the features by about
    3e-3 of their magnitude here. The tolerance is bf16's, 2e-2 of the largest magnitude (not fp32's: the
    feature cache keys the two decodings apart, so they are never mixed)."""
    declared, pil = pipeline_features(copy.deepcopy(vit), ImageFilesTask(tmp_path, LARGE_JPEG_FILES), "fp32",
                                      batch_size=3)
    np.testing.assert_allclose(declared, pil, rtol=0, atol=2e-2 * float(np.abs(pil).max()))
    assert not np.array_equal(declared, pil)  # reduced-scale decoding did happen
