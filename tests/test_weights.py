"""biobench_core.engine._weights: the one weights helper every plugin uses (digests, safe reading, ids, offline)."""

from __future__ import annotations

import hashlib
import os
import pickle
import subprocess
import sys

import pytest
import torch
from safetensors.torch import save_file

from biobench_core.engine import _weights as weights
from biobench_core.engine._weights import (WeightsFileError, WeightsNotFoundError, cached_hub_revision, file_digest,
                                   file_weights_id, is_offline, pretrained_weights_id, random_weights_id,
                                   read_state_dict)


@pytest.fixture
def linear():
    torch.manual_seed(0)
    return torch.nn.Linear(4, 3)


def _equal(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


# -- the module ------------------------------------------------------------------------------------------------


def test_importing_the_module_imports_no_torch():
    code = "import sys, biobench_core.engine._weights; print('torch' in sys.modules, 'safetensors' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120)
    assert out.stdout.split() == ["False", "False"]


def test_exports():
    assert {"file_digest", "read_state_dict", "file_weights_id", "random_weights_id", "pretrained_weights_id",
            "is_offline"} <= set(weights.__all__)
    assert all(hasattr(weights, name) for name in weights.__all__)


# -- digests ---------------------------------------------------------------------------------------------------


def test_file_digest_matches_hashlib_on_a_multi_chunk_file(tmp_path):
    path = tmp_path / "big.bin"
    data = os.urandom((1 << 20) * 2 + 12345)  # more than two 1 MiB chunks
    path.write_bytes(data)
    assert file_digest(path) == hashlib.sha256(data).hexdigest()
    assert file_digest(str(path)) == file_digest(path)  # str or Path
    empty = tmp_path / "empty"
    empty.write_bytes(b"")
    assert file_digest(empty) == hashlib.sha256(b"").hexdigest()


def test_file_digest_is_memoised_and_invalidated_when_the_file_changes(tmp_path, monkeypatch):
    path = tmp_path / "w.bin"
    path.write_bytes(b"first")
    first = file_digest(path)
    opened = []
    real_open = open

    def counting_open(file, *args, **kwargs):
        opened.append(os.fspath(file))
        return real_open(file, *args, **kwargs)

    monkeypatch.setattr("builtins.open", counting_open)
    assert file_digest(path) == first and file_digest(tmp_path / "." / "w.bin") == first
    assert opened == [], "an unchanged file must not be read again"

    path.write_bytes(b"second, longer")  # another size
    assert file_digest(path) == hashlib.sha256(b"second, longer").hexdigest()
    st = path.stat()
    path.write_bytes(b"SECOND, LONGER")  # same size; make sure the mtime moves even on a coarse clock
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000))
    assert file_digest(path) == hashlib.sha256(b"SECOND, LONGER").hexdigest()
    assert len(opened) == 2


def test_file_digest_of_a_missing_file_raises(tmp_path):
    with pytest.raises(FileNotFoundError):
        file_digest(tmp_path / "nowhere.bin")


# -- weights ids -----------------------------------------------------------------------------------------------


def test_canonical_ids(tmp_path):
    path = tmp_path / "w.safetensors"
    path.write_bytes(b"some weights")
    assert file_weights_id(path) == "sha256:" + hashlib.sha256(b"some weights").hexdigest()
    assert len(file_weights_id(path)) == len("sha256:") + 64
    assert random_weights_id(0) == "random:seed=0" and random_weights_id(-3) == "random:seed=-3"
    assert pretrained_weights_id("resnet18.a1_in1k") == "pretrained:resnet18.a1_in1k"
    assert pretrained_weights_id("hf-hub:org/repo", revision="ab" * 20) == "pretrained:hf-hub:org/repo@" + "ab" * 20
    assert pretrained_weights_id("ViT-B-16:openai", revision=None) == "pretrained:ViT-B-16:openai"
    for bad in (True, 1.5, "0"):
        with pytest.raises(TypeError):
            random_weights_id(bad)
    for bad in ("", "has space"):
        with pytest.raises(ValueError):
            pretrained_weights_id(bad)


def test_cached_hub_revision_reads_the_local_cache_only(tmp_path, monkeypatch):
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path))
    refs = tmp_path / "models--org--repo" / "refs"
    refs.mkdir(parents=True)
    (refs / "main").write_text("c" * 40 + "\n")
    (refs / "v1").write_text("d" * 40)
    assert cached_hub_revision("org/repo") == "c" * 40
    assert cached_hub_revision("org/repo@v1") == cached_hub_revision("org/repo", "v1") == "d" * 40
    assert cached_hub_revision("org/repo@" + "e" * 40) == "e" * 40  # a commit pins itself
    assert cached_hub_revision("org/other") is None
    assert cached_hub_revision("org/repo", "v2") is None


# -- the network switch ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("var", ["HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "BIOBENCH_OFFLINE"])
def test_is_offline_for_each_variable(monkeypatch, var):
    for name in weights.OFFLINE_VARS:
        monkeypatch.delenv(name, raising=False)
    assert not is_offline()
    for value in ("1", "true", "TRUE", "Yes", "on", " 1 "):
        monkeypatch.setenv(var, value)
        assert is_offline(), (var, value)
    for value in ("0", "false", "no", "off", ""):
        monkeypatch.setenv(var, value)
        assert not is_offline(), (var, value)
    assert is_offline({var: "1"}) and not is_offline({})


# -- reading state dicts ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("suffix", [".safetensors", ".pt", ".pth", ".bin", ".ckpt"])
def test_reads_each_file_type(tmp_path, linear, suffix):
    state = linear.state_dict()
    path = tmp_path / f"linear{suffix}"
    if suffix == ".safetensors":
        save_file(state, str(path))
    else:
        torch.save(state, path)
    loaded = read_state_dict(path)
    assert type(loaded) is dict and _equal(loaded, state)
    assert read_state_dict(str(path)).keys() == state.keys()
    fresh = torch.nn.Linear(4, 3)
    fresh.load_state_dict(loaded)  # strict: fits as is
    assert torch.equal(fresh.weight, linear.weight)


@pytest.mark.parametrize("key", weights.STATE_DICT_KEYS)
def test_unwraps_each_container(tmp_path, linear, key):
    state = linear.state_dict()
    path = tmp_path / "ckpt.pt"
    torch.save({key: state, "epoch": 7, "optimizer": {"lr": 0.1}}, path)
    assert _equal(read_state_dict(path), state)


def test_plain_weights_win_over_ema_and_nesting_is_unwrapped(tmp_path, linear):
    state = linear.state_dict()
    ema = {k: v + 1 for k, v in state.items()}
    path = tmp_path / "train.pth"
    torch.save({"state_dict_ema": ema, "state_dict": state}, path)
    assert _equal(read_state_dict(path), state)
    torch.save({"ema": ema, "step": 3}, path)
    assert _equal(read_state_dict(path), ema)
    torch.save({"model": {"state_dict": state}}, path)
    assert _equal(read_state_dict(path), state)


def test_strips_the_data_parallel_and_compile_prefixes(tmp_path, linear):
    state = linear.state_dict()
    wrapped = torch.nn.DataParallel(linear).state_dict()
    assert all(k.startswith("module.") for k in wrapped)
    path = tmp_path / "dp.pt"
    torch.save({"model_state_dict": wrapped}, path)
    assert _equal(read_state_dict(path), state)
    save_file({f"module._orig_mod.{k}": v for k, v in state.items()}, str(tmp_path / "both.safetensors"))
    assert _equal(read_state_dict(tmp_path / "both.safetensors"), state)
    mixed = {"module.weight": state["weight"], "bias": state["bias"]}  # not every key: left alone
    save_file(mixed, str(tmp_path / "mixed.safetensors"))
    assert read_state_dict(tmp_path / "mixed.safetensors").keys() == {"module.weight", "bias"}


class _Exploit:
    """A pickle that runs a shell command when unpickled."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


@pytest.mark.parametrize("how", ["torch.save", "pickle"])
def test_a_malicious_pickle_is_refused_and_never_run(tmp_path, linear, how):
    marker = tmp_path / "pwned"
    path = tmp_path / "evil.pth"
    if how == "torch.save":
        torch.save({**linear.state_dict(), "extra": _Exploit(marker)}, path)
    else:
        with open(path, "wb") as fh:
            pickle.dump({"extra": _Exploit(marker)}, fh, protocol=2)
    with pytest.raises(WeightsFileError) as info:
        read_state_dict(path)
    message = str(info.value)
    assert str(path) in message and "weights_only=True" in message and "\n" not in message
    assert "system" in message  # what was refused: the os.system global
    assert "weights_only` set to `False`" not in message, "never advise turning the safety off"
    assert not marker.exists(), "the payload ran"


def test_errors_name_the_file(tmp_path):
    missing = tmp_path / "nowhere.safetensors"
    with pytest.raises(WeightsNotFoundError, match="nowhere.safetensors") as info:
        read_state_dict(missing)
    assert isinstance(info.value, FileNotFoundError)
    with pytest.raises(WeightsFileError, match="not a file"):
        read_state_dict(tmp_path)
    garbage = tmp_path / "garbage.safetensors"
    garbage.write_bytes(b"not a safetensors file at all")
    with pytest.raises(WeightsFileError, match="garbage.safetensors"):
        read_state_dict(garbage)
    truncated = tmp_path / "truncated.pt"
    torch.save({"w": torch.zeros(100)}, truncated)
    truncated.write_bytes(truncated.read_bytes()[:50])
    with pytest.raises(WeightsFileError, match="truncated.pt"):
        read_state_dict(truncated)
    unknown = tmp_path / "w.npz"
    unknown.write_bytes(b"x")
    with pytest.raises(WeightsFileError, match=r"w\.npz: unknown file type '\.npz'"):
        read_state_dict(unknown)
    tensor = tmp_path / "tensor.pt"
    torch.save(torch.zeros(3), tensor)
    with pytest.raises(WeightsFileError, match="tensor.pt does not hold a state dict"):
        read_state_dict(tensor)
    empty = tmp_path / "empty.pt"
    torch.save({}, empty)
    with pytest.raises(WeightsFileError, match="empty.pt does not hold a state dict"):
        read_state_dict(empty)
    mixed = tmp_path / "mixed.pt"
    torch.save({"w": torch.zeros(1), "epoch": 3}, mixed)
    with pytest.raises(WeightsFileError, match=r"mixed.pt is not a plain state dict: 1 entries are not tensors: 'epoch'"):
        read_state_dict(mixed)
    assert issubclass(WeightsFileError, ValueError)
