"""Tests of the timm plugin against timm itself: real models (tiny ones), real weight files, no mocks."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import timm
import torch
from PIL import Image
from safetensors.torch import save_file

import biobench_core
from biobench_core.testing import reset_registry
from biobench_timm import catalogue
from biobench_timm.errors import (TimmWeightsError, WeightsFileError, WeightsMismatchError, WeightsNotFoundError,
                                  WeightsUnavailableError)

VIT = "vit_tiny_patch16_224.augreg_in21k"
RESNET = "resnet18.a1_in1k"
SCRIPT = Path(__file__).resolve().parent.parent / "scripts" / "make_snapshot.py"
REGENERATE = f"the shipped snapshot is stale; run: python {SCRIPT}"


@pytest.fixture(autouse=True)
def _fresh_registry():
    reset_registry()
    yield
    reset_registry()


def _reference(name: str, seed: int = 123) -> torch.nn.Module:
    torch.manual_seed(seed)
    return timm.create_model(name, pretrained=False).eval()


@pytest.fixture(scope="module")
def vit_ref():
    return _reference(VIT)


@pytest.fixture(scope="module")
def resnet_ref():
    return _reference(RESNET)


@pytest.fixture(scope="module")
def weight_files(tmp_path_factory, vit_ref, resnet_ref):
    folder = tmp_path_factory.mktemp("weights")
    files = {}
    for key, model in (("vit", vit_ref), ("resnet", resnet_ref)):
        state = {k: v.contiguous() for k, v in model.state_dict().items()}
        files[key + ".safetensors"] = folder / f"{key}.safetensors"
        save_file(state, str(files[key + ".safetensors"]))
        files[key + ".pth"] = folder / f"{key}.pth"
        torch.save(state, files[key + ".pth"])
    # a training checkpoint: the state dict under "state_dict", keys prefixed by DataParallel
    files["resnet-ckpt.pth"] = folder / "resnet-ckpt.pth"
    wrapped = {f"module.{k}": v for k, v in resnet_ref.state_dict().items()}
    torch.save({"epoch": 3, "state_dict": wrapped}, files["resnet-ckpt.pth"])
    return files


# -- listing and resolving -------------------------------------------------------------------------------------


def test_listing_is_torch_free_and_fast():
    code = textwrap.dedent("""
        import sys, time
        import biobench_core
        start = time.process_time()  # CPU time: wall time on a shared machine says little
        specs = biobench_core.list_backbones('timm/*')
        elapsed = time.process_time() - start
        assert 'torch' not in sys.modules and 'timm' not in sys.modules, 'listing imported torch or timm'
        print(len(specs), elapsed)
    """)
    env = {**os.environ, "BIOBENCH_LOAD_PLUGINS": "biobench-timm"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=60)
    assert out.returncode == 0, out.stderr
    count, elapsed = out.stdout.split()
    assert int(count) == len(catalogue.load_snapshot().entries)
    assert float(elapsed) < 0.5  # typically ~50 ms, discovery included; generous for loaded machines


def test_snapshot_matches_installed_timm():
    snap = catalogue.load_snapshot()
    listed = {e.name for e in snap.entries}
    installed = set(timm.list_models(pretrained=True))
    assert listed == installed, (
        f"{REGENERATE} (installed timm {timm.__version__}, snapshot from timm {snap.timm_version}: "
        f"{len(installed - listed)} tags missing, e.g. {sorted(installed - listed)[:3]}; "
        f"{len(listed - installed)} gone, e.g. {sorted(listed - installed)[:3]})"
    )
    assert snap.architectures == set(timm.list_models()), REGENERATE
    for entry in snap.entries:  # defaults and sources as timm sees them
        if entry.name in (VIT, RESNET, "gcvit_xxtiny.in1k", "resmlp_12_224.fb_in1k"):
            cfg = timm.models.get_pretrained_cfg(entry.name)
            assert entry.input_size == cfg.input_size[-1]
            assert entry.license == cfg.license
            assert entry.default == (timm.models.get_pretrained_cfg(entry.arch).tag == cfg.tag)


def test_specs_fields():
    spec = biobench_core.resolve_backbone(f"timm/{VIT}")
    assert spec.factory == "biobench_timm.backbone:TimmBackbone"
    assert spec.input_size == 224
    assert spec.weights_source == f"hf-hub:timm/{VIT}"
    assert spec.embed_dim in (None, 192)
    url_only = biobench_core.resolve_backbone("timm/gcvit_xxtiny.in1k")
    assert url_only.weights_source.startswith("https://")
    ids = [s.id for s in biobench_core.list_backbones("timm/*")]
    assert len(ids) == len(set(ids))


def test_bare_architecture_is_an_alias_of_timms_default_tag():
    default_tag = timm.models.get_pretrained_cfg("resnet18").tag
    spec = biobench_core.resolve_backbone("timm/resnet18")
    assert spec.id == f"timm/resnet18.{default_tag}"
    assert "timm/resnet18" in spec.aliases
    assert biobench_core.resolve_backbone("timm/resnet18.tv_in1k").aliases == ()


def test_resolver_for_unlisted_ids():
    snap = catalogue.load_snapshot()
    with_weights = {e.arch for e in snap.entries}
    bare = sorted(snap.architectures - with_weights)[0]
    spec = biobench_core.resolve_backbone(f"timm/{bare}")
    assert spec.id == f"timm/{bare}" and spec.weights_source is None
    hub = biobench_core.resolve_backbone("timm/hf-hub:someone/some-model")
    assert hub.weights_source == "hf-hub:someone/some-model"
    with pytest.raises(biobench_core.UnknownIdError):
        biobench_core.resolve_backbone("timm/not_a_timm_model")


# -- features against timm itself ----------------------------------------------------------------------------


@pytest.mark.parametrize("suffix", [".safetensors", ".pth"])
def test_vit_features_match_timm(weight_files, vit_ref, suffix):
    path = weight_files["vit" + suffix]
    backbone = biobench_core.load_backbone(f"timm/{VIT}", weights=str(path))
    x = torch.randn(2, 3, 224, 224)
    out = backbone.img_encode(x)
    with torch.no_grad():
        tokens = vit_ref.forward_features(x)
    torch.testing.assert_close(out.img_features, tokens[:, 0])
    assert out.patch_features.shape == (2, 196, 192)
    torch.testing.assert_close(out.patch_features, tokens[:, 1:])
    assert backbone.weights_id == "sha256:" + hashlib.sha256(Path(path).read_bytes()).hexdigest()
    assert not backbone.training and not any(p.requires_grad for p in backbone.parameters())


@pytest.mark.parametrize("key", ["resnet.safetensors", "resnet.pth", "resnet-ckpt.pth"])
def test_resnet_features_match_timm(weight_files, resnet_ref, key):
    backbone = biobench_core.load_backbone("timm/resnet18", weights=weight_files[key])
    x = torch.randn(2, 3, 224, 224)
    out = backbone.img_encode(x)
    with torch.no_grad():
        pooled = resnet_ref.forward_head(resnet_ref.forward_features(x), pre_logits=True)
    torch.testing.assert_close(out.img_features, pooled)
    assert out.patch_features.shape == (2, 49, 512)
    biobench_core.check_encoded(out, 2, backbone.backbone_id, need_patches=True)


def test_token_model_without_class_token_takes_the_max(tmp_path):
    # test_vit2 has a register token but no class token; resmlp has no prefix token at all.
    for name, n_prefix in (("test_vit2.r160_in1k", 1), ("resmlp_12_224.fb_in1k", 0)):
        ref = _reference(name)
        path = tmp_path / f"{name}.safetensors"
        save_file({k: v.contiguous() for k, v in ref.state_dict().items()}, str(path))
        backbone = biobench_core.load_backbone(f"timm/{name}", weights=path)
        size = ref.pretrained_cfg["input_size"][-1]
        x = torch.randn(2, 3, size, size)
        out = backbone.img_encode(x)
        with torch.no_grad():
            tokens = ref.forward_features(x)[:, n_prefix:]
        torch.testing.assert_close(out.patch_features, tokens)
        torch.testing.assert_close(out.img_features, tokens.max(dim=1).values)


def test_random_weights_are_deterministic():
    state = torch.random.get_rng_state()
    a = biobench_core.load_backbone("timm/resnet18", weights="random")
    b = biobench_core.load_backbone("timm/resnet18", weights="random")
    c = biobench_core.load_backbone("timm/resnet18", weights="random:1")
    assert torch.equal(torch.random.get_rng_state(), state), "loading must not move the global RNG"
    x = torch.randn(1, 3, 64, 64)
    torch.testing.assert_close(a.img_encode(x).img_features, b.img_encode(x).img_features, rtol=0, atol=0)
    assert not torch.equal(a.img_encode(x).img_features, c.img_encode(x).img_features)
    assert (a.weights_id, c.weights_id) == ("random:seed=0", "random:seed=1")
    again = biobench_core.load_backbone("timm/resnet18", weights=c.weights_id)  # the id's own form is accepted
    assert again.weights_id == c.weights_id
    torch.testing.assert_close(again.img_encode(x).img_features, c.img_encode(x).img_features, rtol=0, atol=0)


def test_transform_takes_any_pil_mode_and_bf16_works():
    backbone = biobench_core.load_backbone("timm/resnet18", weights="random")
    transform = backbone.make_img_transform()
    images = [Image.new(mode, (300, 200)) for mode in ("L", "RGBA", "P", "RGB", "I;16")]
    batch = torch.stack([transform(img) for img in images])
    assert batch.shape == (5, 3, 224, 224) and batch.dtype == torch.float32
    backbone.to(torch.bfloat16)
    out = backbone.img_encode(batch.to(torch.bfloat16))
    assert out.img_features.dtype == torch.bfloat16 and out.img_features.shape == (5, 512)


# -- errors ----------------------------------------------------------------------------------------------------


def test_mismatched_weights_name_the_keys(weight_files):
    with pytest.raises(WeightsMismatchError) as info:
        biobench_core.load_backbone(f"timm/{VIT}", weights=weight_files["resnet.safetensors"])
    message = str(info.value)
    assert "\n" not in message and "resnet.safetensors" in message
    assert "missing keys" in message and "'cls_token'" in message
    assert "122 unexpected keys: 'bn1.bias'" in message and "more" in message


def test_wrong_shapes_are_named(tmp_path, vit_ref):
    state = {k: v.contiguous() for k, v in vit_ref.state_dict().items()}
    state["pos_embed"] = torch.zeros(1, 10, 192)
    state["blocks.0.mlp.fc1.weight"] = torch.zeros(10, 192)
    path = tmp_path / "bad.pth"
    torch.save(state, path)
    with pytest.raises(WeightsMismatchError, match=r"keys with wrong shapes: .*blocks\.0\.mlp\.fc1\.weight \(10, 192\)"):
        biobench_core.load_backbone(f"timm/{VIT}", weights=path)


def test_missing_and_unreadable_files(tmp_path):
    missing = tmp_path / "nowhere.safetensors"
    with pytest.raises(FileNotFoundError, match="nowhere.safetensors") as info:
        biobench_core.load_backbone("timm/resnet18", weights=str(missing))
    assert isinstance(info.value, WeightsNotFoundError)
    garbage = tmp_path / "garbage.safetensors"
    garbage.write_bytes(b"not a safetensors file at all")
    with pytest.raises(WeightsFileError, match="garbage.safetensors"):
        biobench_core.load_backbone("timm/resnet18", weights=garbage)
    pickled = tmp_path / "object.pth"
    torch.save({"state_dict": {"fc.weight": torch.zeros(1)}, "obj": Path("x")}, pickled)
    with pytest.raises(WeightsFileError, match="object.pth"):
        biobench_core.load_backbone("timm/resnet18", weights=pickled)
    with pytest.raises(WeightsFileError, match="unknown file type"):
        (tmp_path / "w.npz").write_bytes(b"x")
        biobench_core.load_backbone("timm/resnet18", weights=tmp_path / "w.npz")


def test_offline_without_cache_fails_fast(tmp_path):
    code = textwrap.dedent("""
        import sys, time
        import biobench_core
        import biobench_timm.backbone  # import torch and timm before the clock starts
        from biobench_timm.errors import WeightsUnavailableError
        for backbone_id in ("timm/resnet18", "timm/gcvit_xxtiny.in1k"):
            start = time.perf_counter()
            try:
                biobench_core.load_backbone(backbone_id)
            except WeightsUnavailableError as exc:
                print(f"{time.perf_counter() - start:.2f}\\t{exc}")
            else:
                sys.exit(f"{backbone_id} loaded offline without weights")
    """)
    out = _run_offline(code, tmp_path)
    assert out.returncode == 0, out.stderr[-2000:]
    lines = out.stdout.strip().splitlines()
    assert len(lines) == 2
    for line, source in zip(lines, ("hf-hub:timm/resnet18.", "https://")):
        seconds, message = line.split("\t")
        assert float(seconds) < 10
        assert "not available offline" in message and "--weights FILE" in message and source in message


def test_pretrained_weights_id_names_the_cached_hub_commit(tmp_path, resnet_ref):
    """Offline, from a Hugging Face cache laid out as a download leaves it: the id pins the commit loaded."""
    commit = "ab" * 20
    storage = tmp_path / "hf" / "hub" / f"models--timm--{RESNET}"
    (storage / "snapshots" / commit).mkdir(parents=True)
    (storage / "refs").mkdir()
    (storage / "refs" / "main").write_text(commit)
    save_file({k: v.contiguous() for k, v in resnet_ref.state_dict().items()},
              str(storage / "snapshots" / commit / "model.safetensors"))
    code = textwrap.dedent(f"""
        import biobench_core
        print(biobench_core.load_backbone("timm/{RESNET}").weights_id)
    """)
    out = _run_offline(code, tmp_path)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip().splitlines()[-1] == f"pretrained:{RESNET}@{commit}"


def test_errors_are_catchable_by_kind():
    assert issubclass(WeightsMismatchError, ValueError) and issubclass(WeightsUnavailableError, RuntimeError)
    assert all(issubclass(e, TimmWeightsError) for e in (WeightsFileError, WeightsNotFoundError))
    with pytest.raises(ValueError, match="random:<integer seed>"):
        biobench_core.load_backbone("timm/resnet18", weights="random:abc")


def _run_offline(code: str, tmp_path) -> subprocess.CompletedProcess:  # noqa: ANN001 - pytest's tmp_path
    """``python -c code`` offline, with Hugging Face and torch caches under ``tmp_path`` and only biobench-timm."""
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_HOME": str(tmp_path / "hf"), "TORCH_HOME": str(tmp_path / "torch"),
           "BIOBENCH_LOAD_PLUGINS": "biobench-timm"}
    env.pop("HF_HUB_CACHE", None)
    env.pop("HUGGINGFACE_HUB_CACHE", None)
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
