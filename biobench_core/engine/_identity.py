"""THE identity module: what makes two feature entries, two pixel entries or two results the same.

Every key the core uses is computed here and nowhere else; the feature source, the feature and pixel caches, the
extraction loop, the results store and the runner call these functions. A key names what determines its output,
by *behaviour*: the core is identified by the protocol versions it declares (:data:`EXTRACTION_PROTOCOL`, each
probe's ``ProbeSpec.version``, each metric's ``MetricSpec.version``), pinned by golden-output tests
(``tests/test_golden_protocols.py``), never by the stamps of all its files. So an edit to the CLI, the report, the
store or the scale-out code, or ``pip install -U biobench-core``, keeps every stored result and cached feature.

========================  ==========================================================================================
key                       what goes into it
========================  ==========================================================================================
pixel entry               task id; the task plugin's code; the split's manifest (files' sizes and mtimes, examples,
(:func:`pixel_entry_key`) order); the task's decode key; the geometry; the decoding rule; the extraction protocol
feature entry             backbone id; the built model's weights id; its transform's stable description and declared
(:func:`feature_key_of`)  preprocessing; dtype; whether patches are kept; the split's manifest; the backbone's and
                          the task's plugin code (with the versions of torch and the libraries the backbone's plugin
                          requires: timm, open_clip, ...); the extraction protocol
build memo                backbone id; weights as given (a local file by content); the backbone plugin's code; dtype;
(:func:`memo_key`)        the extraction protocol
result slot               backbone id; weights as given (a local file by content); task id; the task's settings (probe
(:class:`ExperimentKey`)  included), dtype and limit; the data (both splits' manifests)
result code               the backbone's and the task's plugin code; the extraction protocol; the probe (name, version,
(:func:`result_code`)     a third-party probe's plugin code); the metric (name, version, a third-party metric's code).
                          A stored result whose code differs is redone in its slot, naming what changed
========================  ==========================================================================================

*Backbone id*: the id with its options in canonical form (``timm/x?img_size=224&pool=max``: those at a value
other than their default, sorted; :meth:`~biobench_core.contract._specs.BackboneSpec.with_options`), so every key
tells two choices apart and a backbone given no option keeps the keys it had before options existed.

*Plugin code* (:func:`plugin_identity`): the distribution's name and version, the sizes and modification times
of every file of its packages (an editable install, whose version never changes, is fingerprinted by its files),
and the versions of torch and of every library it requires.

*A protocol* (:func:`extraction_protocol`, :func:`probe_protocol`, :func:`metric_protocol`): its declared
version; on an **editable** core install (``direct_url.json`` of ``biobench-core`` says ``editable``), also the
content of the files behind it (:data:`EXTRACTION_FILES`; a probe's module and the shared probe modules;
:data:`METRIC_FILES`), so a developer's edit is seen before the version is bumped. The CLI, the report formats,
the store, scale-out and the docs are behind no protocol.
"""

from __future__ import annotations

import dataclasses
import hashlib
import importlib.metadata as metadata
import importlib.util
import json
import os
import re
from functools import lru_cache
from pathlib import Path
from typing import Any

__all__ = ["EXTRACTION_PROTOCOL", "KEY_FORMAT", "EXTRACTION_FILES", "METRIC_FILES", "ExperimentKey",
           "describe_transform", "UNSTABLE_REPR", "code_fingerprint", "distribution_identity", "plugin_identity",
           "core_is_editable", "core_root", "extraction_protocol", "probe_protocol", "metric_protocol", "digest",
           "memo_key", "feature_key_of", "pixel_base_key", "pixel_entry_key", "weights_label", "weights_key",
           "PRETRAINED", "experiment_key", "result_code", "changed_code", "redo_reason"]

#: The extraction protocol: how pixels are decoded, resized and cropped, how batches are normalised, cast, encoded
#: and pooled. Bump it whenever a change alters the pixels or the features for the same backbone and images (the
#: golden test says so); every cached feature and pixel entry, and every stored result, is then redone.
EXTRACTION_PROTOCOL = "1"

#: The layout of the keys below; bump to orphan every stored key at once (a change of this module's scheme).
KEY_FORMAT = 3

#: Files (relative to the ``biobench_core`` package) behind the extraction protocol, stamped on an editable install.
EXTRACTION_FILES = ("engine/_extraction.py", "engine/_images.py", "engine/_pixel_cache.py",
                    "contract/_preprocessing.py", "contract/_backbone.py")
#: Files behind every built-in metric.
METRIC_FILES = ("results/_metrics.py",)
#: Files behind every built-in probe besides its own module: the shared probe modules are found in this folder,
#: and ``Task.evaluate`` (which fits the probe and builds the predictions) lives in the contract's tasks module.
_PROBES_DIR = "engine/_probes"
_PROBE_GLUE = ("contract/_tasks.py",)

CORE_DISTRIBUTION = "biobench-core"


def digest(**parts: Any) -> str:
    """A stable SHA-256 of the keyword arguments (JSON-serialisable values) and :data:`KEY_FORMAT`."""
    blob = json.dumps({"key-format": KEY_FORMAT, **parts}, sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()


# -- transforms ---------------------------------------------------------------------------------------------------

#: What makes a ``repr`` unusable as a cache key: a memory address, e.g. ``<Foo object at 0x7f3a...>``.
UNSTABLE_REPR = re.compile(r"\bat 0x[0-9a-fA-F]+|<function <lambda>|<lambda>")


def describe_transform(transform: Any) -> str | None:
    """A description of ``transform`` that is the same in every process, or ``None`` when it has none.

    The description is its ``repr``. A ``repr`` holding a memory address or a lambda changes between
    processes (or hides what the transform does), so it cannot key a cache: give the transform a ``__repr__``
    that names every parameter (torchvision's transforms already do). Without one the core does not cache that
    backbone's features.
    """
    text = repr(transform)
    return None if UNSTABLE_REPR.search(text) else text


# -- plugins' code ------------------------------------------------------------------------------------------------

def _package_dirs(module: str) -> list[Path]:
    """Where the top-level package of ``module`` lives, found without importing it."""
    top = module.split(".")[0]
    try:
        spec = importlib.util.find_spec(top)
    except (ImportError, ValueError):
        return []
    if spec is None:
        return []
    if spec.submodule_search_locations:
        return [Path(p) for p in spec.submodule_search_locations]
    return [Path(spec.origin)] if spec.origin and spec.origin not in ("built-in", "frozen") else []


def _stat_files(root: Path) -> list[str]:
    if root.is_file():
        st = root.stat()
        return [f"{root.name}:{st.st_size}:{st.st_mtime_ns}"]
    stamps = []
    for folder, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if d != "__pycache__" and not d.startswith("."))
        for name in sorted(files):
            if name.endswith((".pyc", ".pyo")):
                continue
            path = Path(folder, name)
            try:
                st = path.stat()
            except OSError:
                continue
            stamps.append(f"{path.relative_to(root)}:{st.st_size}:{st.st_mtime_ns}")
    return stamps


def code_fingerprint(modules: tuple[str, ...]) -> str:
    """A hash of the sizes and mtimes of every file of the top-level packages of ``modules`` (not cached:
    an edit between two calls in one process must show)."""
    sha = hashlib.sha256()
    for module in sorted(set(m.split(".")[0] for m in modules)):
        sha.update(f"\0{module}".encode())
        for folder in _package_dirs(module):
            for stamp in _stat_files(folder):
                sha.update(f"\0{stamp}".encode())
    return sha.hexdigest()[:32]


@lru_cache(maxsize=None)
def _declared_libraries(dist_name: str) -> tuple[tuple[str, str], ...]:
    """The installed versions of what ``dist_name`` requires (unconditionally), and of torch."""
    names = {"torch"}
    try:
        for requirement in metadata.requires(dist_name) or ():
            if ";" in requirement and "extra" in requirement.split(";", 1)[1]:
                continue
            names.add(re.split(r"[\s\[<>=!~;(]", requirement.strip(), maxsplit=1)[0])
    except metadata.PackageNotFoundError:
        pass
    out = []
    for name in sorted(names):
        try:
            out.append((name, metadata.version(name)))
        except metadata.PackageNotFoundError:
            continue
    return tuple(out)


def distribution_identity(dist_name: str | None, dist_version: str | None, modules: tuple[str, ...]) -> dict[str, Any]:
    """The identity of a plugin's code: distribution, version, code fingerprint and its libraries' versions."""
    return {
        "distribution": dist_name,
        "version": dist_version,
        "code": code_fingerprint(modules),
        "libraries": dict(_declared_libraries(dist_name)) if dist_name else {},
    }


def plugin_identity(spec: Any) -> dict[str, Any]:
    """The code that provides a backbone or task ``spec``: its plugin distribution, version, code fingerprint and
    libraries (:func:`distribution_identity`)."""
    from biobench_core.contract._registry import get_registry

    owner = get_registry().owner_of(spec.id)
    modules = [spec.factory.partition(":")[0]]
    if owner is not None and owner.module is not None:
        modules.append(owner.module.__name__)
    return distribution_identity(owner.name if owner else None, owner.version if owner else None, tuple(modules))


# -- the core's protocols -----------------------------------------------------------------------------------------

@lru_cache(maxsize=1)
def core_is_editable() -> bool:
    """Whether ``biobench-core`` is an editable install (its ``direct_url.json`` says ``dir_info.editable``)."""
    try:
        text = metadata.distribution(CORE_DISTRIBUTION).read_text("direct_url.json")
        return bool(text) and bool(json.loads(text).get("dir_info", {}).get("editable"))
    except (metadata.PackageNotFoundError, ValueError, AttributeError):
        return False


def core_root() -> Path:
    """The ``biobench_core`` package folder (whose files an editable install stamps)."""
    return Path(__file__).resolve().parents[1]


def _stamps(files: tuple[str, ...]) -> dict[str, str] | None:
    """On an editable core install, a content hash of each of ``files`` (relative to :func:`core_root`); else
    ``None`` (a release is identified by the declared versions alone)."""
    if not core_is_editable():
        return None
    root, out = core_root(), {}
    for name in sorted(set(files)):
        try:
            out[name] = hashlib.sha256((root / name).read_bytes()).hexdigest()[:16]
        except OSError:
            out[name] = "missing"
    return out


def extraction_protocol() -> dict[str, Any]:
    """The extraction protocol's identity: :data:`EXTRACTION_PROTOCOL` (and, editable, its files' content)."""
    return {"extraction": EXTRACTION_PROTOCOL, "files": _stamps(EXTRACTION_FILES)}


def _module_file(module: str) -> str | None:
    """``module``'s file relative to :func:`core_root`, when it is one of the core's modules."""
    prefix = "biobench_core."
    return module[len(prefix):].replace(".", "/") + ".py" if module.startswith(prefix) else None


def _probe_modules(own: str) -> tuple[str, ...]:
    """A built-in probe's files: its own module, the shared probe modules (every module of the probes folder that
    is no probe's own) and the task glue that fits it."""
    from biobench_core.contract._registry import get_registry

    registry = get_registry()
    others = {_module_file(spec.factory.partition(":")[0]) for spec_id, spec in registry.probes.specs.items()
              if registry.probes.owner[spec_id] is registry.builtin}
    try:
        shared = [f"{_PROBES_DIR}/{p.name}" for p in (core_root() / _PROBES_DIR).glob("*.py")
                  if p.name != "__init__.py" and f"{_PROBES_DIR}/{p.name}" not in others]
    except OSError:
        shared = []
    return tuple(f for f in (_module_file(own), *shared, *_PROBE_GLUE) if f)


def probe_protocol(name: str) -> dict[str, Any]:
    """The identity of probe ``name`` (an alias resolves to its probe): its name, version and factory; a built-in's
    files on an editable core, or a third-party probe's plugin code."""
    from biobench_core.contract._extensions import probe_spec
    from biobench_core.contract._registry import get_registry

    spec = probe_spec(name)
    registry = get_registry()
    owner = registry.probes.owner.get(spec.name)
    module = spec.factory.partition(":")[0]
    out: dict[str, Any] = {"probe": spec.name, "version": spec.version, "factory": spec.factory}
    if owner is registry.builtin:
        out["files"] = _stamps(_probe_modules(module))
    else:
        modules = (module,) + ((owner.module.__name__,) if owner is not None and owner.module is not None else ())
        out["plugin"] = distribution_identity(owner.name if owner else None, owner.version if owner else None, modules)
    return out


def metric_protocol(name: str) -> dict[str, Any]:
    """The identity of metric ``name``: its name, version, factory and inputs (and the class count bound in a
    ``NAME[N]``); a built-in's file on an editable core, or the code of a third-party metric (a plugin's, or the module of an old ``"module:function"`` name)."""
    from biobench_core.contract._extensions import metric_spec
    from biobench_core.contract._registry import get_registry

    spec = metric_spec(name)
    registry = get_registry()
    owner = registry.metrics.owner.get(spec.name) if ":" not in name else None
    modules = tuple(m.partition(":")[0] for m in (spec.factory, spec.replicates) if m)
    out: dict[str, Any] = {"metric": spec.name, "version": spec.version, "factory": spec.factory,
                           "replicates": spec.replicates, "needs": spec.needs}
    if spec.n_classes is not None:  # NAME[N]: the task's class count the metric averages over
        out["n_classes"] = spec.n_classes
    if owner is not None and owner is registry.builtin:
        out["files"] = _stamps(METRIC_FILES)
    else:
        out["plugin"] = distribution_identity(owner.name if owner else None, owner.version if owner else None,
                                              modules)
    return out


# -- feature and pixel entries ------------------------------------------------------------------------------------

def memo_key(backbone_id: str, weights_key: str, backbone_code: dict[str, Any], dtype: str) -> str:
    """The build memo's key: what decides the built model (see :mod:`biobench_core.engine._feature_source`)."""
    return digest(kind="backbone-memo", backbone=backbone_id, weights=weights_key, code=backbone_code, dtype=dtype,
                  core=extraction_protocol())


def feature_key_of(*, backbone_id: str, built: dict[str, Any], dtype: str, patches: bool, manifest: str,
                   backbone_code: dict[str, Any], task_code: dict[str, Any], core: dict[str, Any]) -> str:
    """A feature entry's key. ``built``: the built model's ``weights_id``, ``transform`` and ``preprocessing``;
    ``core``: :func:`extraction_protocol` (computed once per experiment by the caller)."""
    return digest(kind="features", backbone=backbone_id, weights=built["weights_id"], transform=built["transform"],
                  preprocessing=built.get("preprocessing"), dtype=dtype, patches=patches, manifest=manifest,
                  backbone_code=backbone_code, task_code=task_code, core=core)


def pixel_base_key(task: Any, code: dict[str, Any], manifest: str) -> str:
    """What decides a split's decoded pixels besides the geometry: the task, the code that loads its images
    (``code["task"]``: its plugin; ``code["core"]``: :func:`extraction_protocol`), and the manifest (files,
    examples, order) with the task's decode key."""
    return digest(kind="pixels", task=task.spec.id, task_code=code["task"], core=code["core"], manifest=manifest,
                  decode=task.decode_key())


def pixel_entry_key(base: str, geometry: str, decode_rule: str) -> str:
    """A pixel entry's key: :func:`pixel_base_key`, the geometry's description and the decoding rule."""
    return digest(kind="pixel-entry", base=base, geometry=geometry, decode=decode_rule)


# -- results ------------------------------------------------------------------------------------------------------

PRETRAINED = "pretrained"


def weights_label(weights: str | None) -> str:
    """How a weights choice is shown: ``pretrained``, ``random``, or the path/reference given."""
    return PRETRAINED if weights in (None, "", PRETRAINED) else str(weights)


def weights_key(weights: str | None) -> str:
    """How a weights choice keys results and the build memo: the label, plus a local file's content hash.

    Overwriting ``w.safetensors`` with other weights is then a different experiment, never a stale skip.
    """
    label = weights_label(weights)
    if label != PRETRAINED and os.path.isfile(label):
        from biobench_core.engine._weights import file_digest

        return f"{label}#sha256:{file_digest(label)[:16]}"
    return label


@dataclasses.dataclass(frozen=True)
class ExperimentKey:
    """A result's slot in the store: re-running one is skipped unless forced or its :func:`result_code` changed.

    ``weights`` is the weights as given, with a local file's content hash; ``settings`` the task's settings (probe
    included), dtype and limit; ``data`` a hash of the train and test manifests (``None`` for results from a
    version-1 store, which recorded no data identity).
    """

    backbone: str
    weights: str
    task: str
    settings: str
    data: str | None = None


def experiment_key(backbone_id: str, weights_key: str, task: Any, *, dtype: str, limit: int | None,
                   train_manifest: str, test_manifest: str) -> ExperimentKey:
    """The slot of ``backbone_id`` under ``weights_key`` (:func:`weights_key`) on the built ``task``."""
    settings = f"{task.settings_key()},dtype={dtype}" + (f",limit={limit}" if limit is not None else "")
    data = hashlib.sha256(f"{train_manifest}\0{test_manifest}".encode()).hexdigest()[:16]
    return ExperimentKey(backbone_id, weights_key, task.spec.id, settings, data)


#: The name under which :func:`result_code` records its own format; a stored code without it is an older key's.
_CODE_FORMAT = "key-format"


def _short(identity: Any) -> str:
    return hashlib.sha256(json.dumps(identity, sort_keys=True, default=str).encode()).hexdigest()[:24]


def result_code(backbone_code: dict[str, Any], task_code: dict[str, Any], probe: str, metric: str) -> dict[str, str]:
    """What code determines a result, one digest per part, named so :func:`redo_reason` can say which changed:
    the backbone's and the task's plugins (by distribution name), ``extraction``, ``probe <name>`` and
    ``metric <name>``."""
    parts: dict[str, Any] = {}
    for ident in (backbone_code, task_code):
        name = ident.get("distribution") or "unknown plugin"
        parts[name] = ident if name not in parts or parts[name] == ident else {"merged": [parts[name], ident]}
    probe_id, metric_id = probe_protocol(probe), metric_protocol(metric)
    parts["extraction"] = extraction_protocol()
    parts[f"probe {probe_id['probe']}"] = probe_id
    parts[f"metric {metric_id['metric']}"] = metric_id
    code = {name: _short(ident) for name, ident in parts.items()}
    code[_CODE_FORMAT] = str(KEY_FORMAT)
    return code


def changed_code(stored: dict[str, str] | None, current: dict[str, str]) -> list[str]:
    """The parts whose code differs between a stored result and now (``["?"]``: not recorded)."""
    if not stored:
        return ["?"]
    return [name for name in sorted(set(stored) | set(current)) if stored.get(name) != current.get(name)]


def redo_reason(stored: dict[str, str] | None, current: dict[str, str]) -> str | None:
    """Why a stored result (its recorded code) must be redone, or ``None`` when it is still this experiment's."""
    changed = changed_code(stored, current)
    if not changed:
        return None
    if changed == ["?"]:
        return "it was stored by a biobench that did not record its code"
    if stored is not None and stored.get(_CODE_FORMAT) != current.get(_CODE_FORMAT):
        return "it was stored under an older identity format (kept and listed until redone)"
    return f"the code behind the stored result changed ({', '.join(changed)})"
