"""Conformance tests with biobench's plugin authors' kit. Keep these in your plugin: CI runs them."""

from __future__ import annotations

import pytest

from biobench_core.testing import check_backbone, check_plugin

# Turns the kit's fixtures on even when pytest runs from a parent project that does not set biobench_kit.
pytest_plugins = ["biobench_core.testing"]


def test_plugin_metadata_and_discovery():
    """Entry point, contract version, torch-free listing, namespaced specs, resolvable factories, no network."""
    check_plugin("biobench-template").assert_ok()


@pytest.mark.parametrize("weights", [None, "random"])
def test_backbone_forward_pass(biobench_registry, weights):
    """A real CPU forward pass through the plugin's own transform: shapes, dtype, eval mode, determinism..."""
    check_backbone("template/tiny", weights=weights).assert_ok()


def test_weights_from_a_safetensors_file(biobench_registry, tmp_path):
    import torch
    from safetensors.torch import save_file

    from biobench_core import load_backbone

    trained = load_backbone("template/tiny", weights="random")
    path = tmp_path / "tiny.safetensors"
    save_file({k: v.contiguous() for k, v in trained.model.state_dict().items()}, str(path))
    check_backbone("template/tiny", weights=str(path)).assert_ok()

    loaded = load_backbone("template/tiny", weights=str(path))
    assert loaded.weights_id.startswith("sha256:")
    batch = torch.randn(2, 3, 64, 64)
    assert torch.equal(loaded.img_encode(batch).img_features, trained.img_encode(batch).img_features)
    assert load_backbone("template/tiny").weights_id != loaded.weights_id
