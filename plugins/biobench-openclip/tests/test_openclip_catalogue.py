"""The shipped snapshot and the torch-free listing/resolving of ``openclip/`` ids."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

import biobench_core
import biobench_openclip

RERUN = "rerun 'python plugins/biobench-openclip/scripts/make_snapshot.py' to regenerate catalogue.json"


def test_snapshot_matches_installed_open_clip():
    import open_clip

    snap = biobench_openclip.catalogue()
    shipped = [(e["arch"], e["tag"]) for e in snap["pretrained"]]
    assert shipped == open_clip.list_pretrained(), (
        f"catalogue.json (open_clip {snap['open_clip_version']}) is stale for the installed open_clip "
        f"{open_clip.__version__}: {RERUN}")
    assert snap["model_configs"] == open_clip.list_models(), f"model config names differ: {RERUN}"


def test_every_pair_is_listed_with_its_metadata():
    specs = {s.id: s for s in biobench_core.list_backbones("openclip/*")}
    snap = biobench_openclip.catalogue()
    assert len(specs) == len(snap["pretrained"]) + 2
    vit = specs["openclip/ViT-B-16:openai"]
    assert vit.factory == "biobench_openclip.backbone:OpenClipBackbone"
    assert (vit.embed_dim, vit.input_size) == (512, 224)
    assert vit.weights_source and vit.weights_source.startswith("hf-hub:")
    assert specs["openclip/hf-hub:imageomics/bioclip"].weights_source == "hf-hub:imageomics/bioclip"
    assert specs["openclip/hf-hub:imageomics/bioclip-2"].weights_source == "hf-hub:imageomics/bioclip-2"
    assert all(s.embed_dim for s in specs.values())


def test_resolving_does_not_import_torch():
    code = """
import json, sys
import biobench_core as bc
out = {}
for i in ["openclip/hf-hub:imageomics/bioclip", "openclip/hf-hub:some-org/some-clip", "openclip/ViT-S-32",
          "openclip/ViT-B-16:openai"]:
    s = bc.resolve_backbone(i)
    out[i] = [s.id, s.weights_source, s.embed_dim]
out["n"] = len(bc.list_backbones("openclip/*"))
for bad in ["openclip/NoSuchArch", "openclip/ViT-S-32:no-such-tag", "openclip/hf-hub:no-slash"]:
    try:
        bc.resolve_backbone(bad)
        out[bad] = "resolved"
    except bc.UnknownIdError:
        out[bad] = "unknown"
out["heavy"] = sorted(m for m in ("torch", "open_clip", "timm", "numpy") if m in sys.modules)
print(json.dumps(out))
"""
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    env.pop("BIOBENCH_LOAD_PLUGINS", None)
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=60)
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out["heavy"] == [], f"listing imported {out['heavy']}"
    assert out["openclip/hf-hub:imageomics/bioclip"] == ["openclip/hf-hub:imageomics/bioclip",
                                                         "hf-hub:imageomics/bioclip", 512]
    assert out["openclip/hf-hub:some-org/some-clip"][1] == "hf-hub:some-org/some-clip"
    assert out["openclip/ViT-S-32"] == ["openclip/ViT-S-32", None, 384]
    assert out["openclip/ViT-B-16:openai"][2] == 512
    assert out["n"] > 150
    for bad in ["openclip/NoSuchArch", "openclip/ViT-S-32:no-such-tag", "openclip/hf-hub:no-slash"]:
        assert out[bad] == "unknown", bad


@pytest.mark.parametrize("backbone_id", ["openclip/hf-hub:imageomics/bioclip", "openclip/ViT-S-32"])
def test_resolve_hook_directly(backbone_id):
    spec = biobench_openclip.biobench_resolve_backbone(backbone_id=backbone_id)
    assert spec is not None and spec.id == backbone_id
    assert biobench_openclip.biobench_resolve_backbone(backbone_id="timm/ViT-S-32") is None
