"""OpenClipBackbone against open_clip itself, with random weights saved to local files (no downloads)."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys

import pytest
import torch

import biobench_core
from biobench_core import check_encoded

open_clip = pytest.importorskip("open_clip")
safetensors_torch = pytest.importorskip("safetensors.torch")

ARCH = "ViT-S-32"  # the smallest plain ViT config open_clip ships: width 384, 49 patches at 224 px


def _save_safetensors(state_dict, path):
    safetensors_torch.save_file({k: v.contiguous() for k, v in state_dict.items()}, str(path))
    return path


@pytest.fixture(scope="module")
def vit():
    """A randomly initialised open_clip ViT-S-32 (the oracle), its weights in two files, and a batch."""
    torch.manual_seed(1234)
    model = open_clip.create_model(ARCH, pretrained_text=False).eval()
    return model, torch.randn(2, 3, 224, 224)


@pytest.fixture(scope="module")
def vit_files(vit, tmp_path_factory):
    model, _ = vit
    folder = tmp_path_factory.mktemp("weights")
    full = _save_safetensors(model.state_dict(), folder / "full.safetensors")
    visual_only = folder / "visual.pt"
    torch.save(model.visual.state_dict(), visual_only)
    return full, visual_only


def test_oracle_vit_safetensors_full_clip_state_dict(vit, vit_files):
    model, x = vit
    full, _ = vit_files
    backbone = biobench_core.load_backbone(f"openclip/{ARCH}", weights=str(full))
    with torch.no_grad():
        expected = model.encode_image(x)
    out = check_encoded(backbone.img_encode(x), 2, backbone.backbone_id, need_patches=True)
    torch.testing.assert_close(out.img_features, expected, rtol=1e-5, atol=1e-6)
    assert out.patch_features.shape == (2, 49, 384)
    assert backbone.weights_id == "sha256:" + hashlib.sha256(full.read_bytes()).hexdigest()
    assert not any(p.requires_grad for p in backbone.parameters()) and not backbone.training
    assert not any(name.startswith(("transformer.", "token_embedding", "text"))
                   for name, _ in backbone.named_parameters()), "the text tower must be dropped"


def test_oracle_vit_pt_visual_only_state_dict(vit, vit_files):
    model, x = vit
    _, visual_only = vit_files
    backbone = biobench_core.load_backbone(f"openclip/{ARCH}", weights=visual_only)
    with torch.no_grad():
        expected = model.encode_image(x)
        # the patch tokens are the ln_post-normalised tokens after the class token
        model.visual.output_tokens = True
        _, tokens = model.visual(x)
        model.visual.output_tokens = False
    out = backbone.img_encode(x)
    torch.testing.assert_close(out.img_features, expected, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(out.patch_features, tokens, rtol=1e-5, atol=1e-6)


def test_pretrained_tag_config_follows_the_tag():
    """'ViT-B-32:openai' was trained with QuickGELU and OpenAI's normalisation: a local file for that id runs
    with both (checked on the config, building a ViT-B-32 is too slow for this suite)."""
    from biobench_openclip.backbone import OpenClipBackbone

    spec = biobench_core.resolve_backbone("openclip/ViT-B-32:openai")
    model_cfg, preprocess = OpenClipBackbone._configs(spec, "ViT-B-32", "openai", None)
    tag_cfg = open_clip.get_pretrained_cfg("ViT-B-32", "openai")
    assert tag_cfg["quick_gelu"] and model_cfg.get("quick_gelu") is True
    assert preprocess["mean"] == tag_cfg["mean"] and preprocess["interpolation"] == tag_cfg["interpolation"]
    model_cfg, _ = OpenClipBackbone._configs(spec, "ViT-B-32", "laion2b_s34b_b79k", None)
    assert not model_cfg.get("quick_gelu", False)


def test_oracle_modified_resnet_spatial_patches(tmp_path):
    torch.manual_seed(0)
    model = open_clip.create_model("RN50", pretrained_text=False).eval()
    path = tmp_path / "rn50-visual.pt"
    torch.save(model.visual.state_dict(), path)
    backbone = biobench_core.load_backbone("openclip/RN50", weights=str(path))
    x = torch.randn(1, 3, 224, 224)
    with torch.no_grad():
        expected = model.encode_image(x)
    out = backbone.img_encode(x)
    torch.testing.assert_close(out.img_features, expected, rtol=1e-5, atol=1e-5)
    assert out.patch_features.shape == (1, 7 * 7, 2048)


def test_random_weights_are_seeded_and_identified():
    a = biobench_core.load_backbone(f"openclip/{ARCH}", weights="random")
    b = biobench_core.load_backbone(f"openclip/{ARCH}", weights="random:0")
    c = biobench_core.load_backbone(f"openclip/{ARCH}", weights="random:1")
    assert a.weights_id == b.weights_id == "random:seed=0" and c.weights_id == "random:seed=1"
    d = biobench_core.load_backbone(f"openclip/{ARCH}", weights=c.weights_id)  # the id's own form is accepted
    assert d.weights_id == c.weights_id
    sa, sb, sc = (m.visual.state_dict() for m in (a, b, c))
    assert all(torch.equal(sa[k], sb[k]) for k in sa)
    assert not torch.equal(sa["conv1.weight"], sc["conv1.weight"])


def test_transform_accepts_grayscale_and_rgba(vit_files):
    from PIL import Image

    backbone = biobench_core.load_backbone(f"openclip/{ARCH}", weights=vit_files[1])
    transform = backbone.make_img_transform()
    for img in (Image.new("L", (300, 200), 128), Image.new("RGBA", (64, 96), (10, 20, 30, 0)),
                Image.new("P", (50, 50))):
        out = transform(img)
        assert out.shape == (3, 224, 224) and out.dtype == torch.float32


def test_mismatched_weights_name_the_keys(vit, tmp_path):
    from biobench_openclip.backbone import WeightsError

    model, _ = vit
    state = dict(model.visual.state_dict())
    for key in [k for k in state if k.startswith("transformer.resblocks.11.")]:
        del state[key]
    state["bogus.weight"] = torch.zeros(3)
    state["proj"] = torch.zeros(384, 256)
    path = _save_safetensors(state, tmp_path / "broken.safetensors")
    with pytest.raises(WeightsError) as info:
        biobench_core.load_backbone(f"openclip/{ARCH}", weights=str(path))
    message = str(info.value)
    assert "\n" not in message and str(path) in message
    assert "12 missing keys: transformer.resblocks.11." in message and "and 9 more" in message
    assert "1 unexpected key: bogus.weight" in message
    assert "1 key with the wrong shape: proj (file (384, 256), model (384, 384))" in message


def test_missing_file_is_named(tmp_path):
    missing = tmp_path / "nope.safetensors"
    with pytest.raises(FileNotFoundError, match=r"nope\.safetensors"):
        biobench_core.load_backbone(f"openclip/{ARCH}", weights=str(missing))


def test_arbitrary_pickles_are_refused(tmp_path):
    from biobench_openclip.backbone import WeightsError

    path = tmp_path / "pickle.pt"
    torch.save({"visual.proj": torch.zeros(1), "obj": _NotATensor()}, path)
    with pytest.raises(WeightsError, match="weights_only=True"):
        biobench_core.load_backbone(f"openclip/{ARCH}", weights=str(path))


class _NotATensor:
    pass


def test_architecture_id_needs_weights():
    from biobench_openclip.backbone import WeightsError

    with pytest.raises(WeightsError, match="weights=FILE"):
        biobench_core.load_backbone(f"openclip/{ARCH}")


def _fake_hub_cache(hf_home, repo, model, model_cfg):
    """Lay out a Hugging Face cache holding an open_clip repo, as a download would have left it."""
    commit = "0" * 40
    storage = hf_home / "hub" / ("models--" + repo.replace("/", "--"))
    snapshot = storage / "snapshots" / commit
    snapshot.mkdir(parents=True)
    (storage / "refs").mkdir()
    (storage / "refs" / "main").write_text(commit)
    config = {"model_cfg": model_cfg, "preprocess_cfg": {"mean": [0.5, 0.5, 0.5], "std": [0.5, 0.5, 0.5]}}
    (snapshot / "open_clip_config.json").write_text(json.dumps(config))
    _save_safetensors(model.state_dict(), snapshot / "open_clip_model.safetensors")


def test_offline_pretrained_loads(vit, tmp_path):
    """No network: missing weights fail within seconds with the offline message; cached ones load."""
    model, x = vit
    _fake_hub_cache(tmp_path / "hf", "local-test/tiny-clip", model, open_clip.get_model_config(ARCH))
    torch.save(x, tmp_path / "x.pt")
    torch.save(model.visual.state_dict(), tmp_path / "visual.pt")
    code = """
import json, sys, time
import torch, open_clip, biobench_openclip.backbone  # import cost is not what we time
import biobench_core as bc
out = {}
for backbone_id in ["openclip/ViT-B-32:openai", "openclip/hf-hub:imageomics/bioclip"]:
    start = time.perf_counter()
    try:
        bc.load_backbone(backbone_id)
        out[backbone_id] = ["loaded", 0.0]
    except Exception as exc:
        out[backbone_id] = [f"{type(exc).__name__}: {exc}", time.perf_counter() - start]
cached = bc.load_backbone("openclip/hf-hub:local-test/tiny-clip")
x = torch.load(sys.argv[1] + "/x.pt")
torch.save(cached.img_encode(x).img_features, sys.argv[1] + "/features.pt")
out["cached"] = [cached.weights_id, list(cached.preprocess_cfg["mean"])]
from_file = bc.load_backbone("openclip/hf-hub:local-test/tiny-clip", weights=sys.argv[1] + "/visual.pt")
out["same_from_file"] = [from_file.weights_id[:7], bool(torch.equal(from_file.img_encode(x).img_features,
                                                                    cached.img_encode(x).img_features))]
print(json.dumps(out))
"""
    home = tmp_path / "home"
    home.mkdir()
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_HOME": str(tmp_path / "hf"), "HOME": str(home),
           "XDG_CACHE_HOME": str(tmp_path / "cache")}
    for var in ("HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE", "BIOBENCH_LOAD_PLUGINS"):
        env.pop(var, None)
    proc = subprocess.run([sys.executable, "-c", code, str(tmp_path)], capture_output=True, text=True, env=env,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out.pop("same_from_file") == ["sha256:", True]
    weights_id, mean = out.pop("cached")
    # the canonical id, pinned to the commit the cache's refs/main names
    assert weights_id == "pretrained:hf-hub:local-test/tiny-clip@" + "0" * 40 and mean == [0.5, 0.5, 0.5]
    with torch.no_grad():
        expected = model.encode_image(x)
    torch.testing.assert_close(torch.load(tmp_path / "features.pt"), expected, rtol=1e-5, atol=1e-6)
    for backbone_id, (message, seconds) in out.items():
        assert f"weights for {backbone_id} are not available offline" in message, message
        assert "--weights FILE" in message and "weights=" in message, message
        assert "\n" not in message
        assert seconds < 10, f"{backbone_id} took {seconds:.1f}s to fail offline"
