"""The public catalogue API: list, resolve and load backbones and tasks by id.

Listing and resolving are torch-free; :func:`load_backbone` imports the plugin's factory (and so torch) only
when called. Ids are ``<namespace>/<name>``; a bare ``<name>`` resolves when exactly one id has it. An id claimed
by two plugins is refused whichever way it is named: in full, by an alias or by its short name.
"""

from __future__ import annotations

import contextlib
import fnmatch
import gc
import importlib
import os
import re
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from biobench_core.contract._errors import did_you_mean
from biobench_core.contract._options import parse_query, split_options
from biobench_core.contract._registry import LOAD_ENV, PluginError, PluginRecord, Registry, get_registry
from biobench_core.contract._specs import BackboneSpec, SpecError, TaskSpec, split_id

if TYPE_CHECKING:
    from biobench_core.contract._backbone import VisionBackbone
    from biobench_core.contract._tasks import Task

__all__ = ["UnknownIdError", "list_backbones", "list_tasks", "list_plugins", "resolve_backbone", "resolve_task",
           "load_backbone", "load_task", "natural_key", "import_factory", "namespace_problem"]


class UnknownIdError(LookupError):
    """No plugin offers this id, or a short name matches several ids."""

    def __str__(self) -> str:  # LookupError would repr() the message
        return str(self.args[0])


def natural_key(text: str) -> list[Any]:
    """Sort key where ``vit_b_16`` comes before ``vit_b_112``."""
    return [int(part) if part.isdigit() else part.lower() for part in re.split(r"(\d+)", text)]


def _match(specs: Iterable[Any], patterns: str | Iterable[str] | None) -> list[Any]:
    if isinstance(patterns, str):
        patterns = [patterns]
    patterns = [p for p in (patterns or []) if p]
    if patterns:
        regexes = [re.compile(fnmatch.translate(p), re.IGNORECASE) for p in patterns]
        # A pattern without a namespace also matches the name part: 'vit_*' finds 'timm/vit_small...'.
        specs = [
            s for s in specs
            if any(r.match(s.id) or ("/" not in p and r.match(s.name)) for r, p in zip(regexes, patterns))
        ]
    return sorted(specs, key=lambda s: natural_key(s.id))


def list_backbones(pattern: str | Iterable[str] | None = None) -> list[BackboneSpec]:
    """Every backbone the installed plugins offer, naturally sorted; ``pattern`` is one or more fnmatch globs."""
    return _match(get_registry().backbones.listed(), pattern)


def list_tasks(pattern: str | Iterable[str] | None = None) -> list[TaskSpec]:
    """Every task the installed plugins offer, naturally sorted; ``pattern`` is one or more fnmatch globs."""
    return _match(get_registry().tasks.listed(), pattern)


def list_plugins() -> list[PluginRecord]:
    """Every discovered plugin, working or not, with its status and error."""
    return list(get_registry().plugins)


def _missing_namespace(namespace: str, registry: Registry, suggest: bool = True) -> str:
    """``no installed plugin provides namespace 'x' (installed: ...)``, with a "did you mean" when one is close."""
    installed = registry.namespaces
    restricted = f"; {LOAD_ENV} loads only the distributions it names" if os.environ.get(LOAD_ENV) is not None else ""
    message = f"no installed plugin provides namespace '{namespace}'"
    if not installed:
        return message + f" (no plugin discovered{restricted}; see 'biobench plugins')"
    message += f" (installed: {', '.join(installed)}{restricted})"
    return message + (did_you_mean(namespace, installed, n=2) if suggest else "")


def _failed_namespace(record: PluginRecord) -> str:
    verb = "failed" if record.status == "failed" else f"is {record.status}"
    return f"namespace '{record.namespace}' belongs to {record.describe()}, which {verb}: {record.error}"


def namespace_problem(pattern: str, kind: str) -> str | None:
    """Why ``pattern`` (an id or a glob, e.g. ``'tinyfauna/*'``) can match no ``kind`` because of its namespace: two
    plugins claim it, its plugin failed, no plugin provides it, or its plugin offers no ``kind``. ``None`` when the
    pattern names no namespace (or a glob of namespaces) or the namespace is fine."""
    namespace, sep, _ = pattern.partition("/")
    if not sep or not namespace or any(c in namespace for c in "*?["):
        return None
    registry = get_registry()
    records = registry.plugins_for_namespace(namespace)
    if not records:  # patterns match case-insensitively
        records = [r for r in registry.plugins if r.namespace.lower() == namespace.lower()]
    if not records:
        return _missing_namespace(namespace, registry)
    collision = registry.namespace_collisions.get(records[0].namespace)
    if collision is not None:
        return collision.message
    record = records[0]
    if not record.ok:
        return _failed_namespace(record) + "; see 'biobench plugins'"
    if (record.n_backbones if kind == "backbone" else record.n_tasks) == 0:
        return f"namespace '{record.namespace}' ({record.name} {record.version}) offers no {kind}s"
    return None


def _failed_plugins(registry: Registry) -> list[str]:
    return sorted((f"{r.name} {r.version}" for r in registry.plugins if not r.ok), key=natural_key)


def _resolve(item_id: str, kind: str) -> Any:
    registry = get_registry()
    catalogue = registry.backbones if kind == "backbone" else registry.tasks
    if not isinstance(item_id, str) or not item_id.strip() or any(c.isspace() for c in item_id):
        raise SpecError(f"malformed {kind} id {item_id!r}")
    collision = catalogue.collision_for(item_id)
    if collision is not None:
        raise PluginError(collision.message)
    canonical = catalogue.aliases.get(item_id, item_id)
    if canonical in catalogue.specs:
        owner = catalogue.owner[canonical]
        if not owner.ok:  # a plugin fails as a whole, even the specs it yielded before the bad one
            raise owner.failure()
        return catalogue.specs[canonical]
    if "/" in item_id:
        namespace, _ = split_id(item_id)
        collision = registry.namespace_collisions.get(namespace)
        if collision is not None:
            raise PluginError(collision.message)
        record = registry.plugin_for_namespace(namespace)
        if record is None:
            raise UnknownIdError(_no_namespace_message(item_id, kind, namespace, registry))
        if not record.ok:
            raise record.failure()
        if kind == "backbone":
            spec = registry.call_resolver(item_id, record)
            if spec is not None:
                return spec
        failed: list[str] = []
    else:
        keys = [key for key in (*catalogue.specs, *catalogue.aliases) if key.partition("/")[2] == item_id]
        for key in keys:  # a short name obeys the collision rule of the id or alias it stands for
            collision = catalogue.collision_for(key)
            if collision is not None:
                raise PluginError(collision.message)
        found = sorted({catalogue.aliases.get(key, key) for key in keys}, key=natural_key)
        candidates = [c for c in found if catalogue.owner[c].ok]
        if not candidates and found:
            raise catalogue.owner[found[0]].failure()
        if len(candidates) == 1:
            return catalogue.specs[candidates[0]]
        if len(candidates) > 1:
            raise UnknownIdError(f"{kind} name '{item_id}' is ambiguous: {', '.join(candidates)}")
        failed = _failed_plugins(registry)  # a short name could belong to a plugin that failed
    raise UnknownIdError(_unknown_message(item_id, kind, _usable_keys(catalogue), failed))


def _usable_keys(catalogue: Any) -> list[str]:
    return [key for key in (*catalogue.specs, *catalogue.aliases) if catalogue.owner[key].ok]


def _no_namespace_message(item_id: str, kind: str, namespace: str, registry: Registry) -> str:
    """``unknown backbone 'x/y': no installed plugin provides namespace 'x' (...); did you mean ...?``"""
    catalogue = registry.backbones if kind == "backbone" else registry.tasks
    message = f"unknown {kind} '{item_id}': " + _missing_namespace(namespace, registry, suggest=False)
    return message + (did_you_mean(item_id, _usable_keys(catalogue), n=3)
                      or did_you_mean(namespace, registry.namespaces, n=2))


def _unknown_message(item_id: str, kind: str, known: list[str], failed: list[str] | None = None) -> str:
    message = f"unknown {kind} '{item_id}'"
    if failed:
        message += f" (failed plugins list nothing: {', '.join(failed)}; see 'biobench plugins')"
    if not known:
        return message + ("" if failed else f" (no installed plugin offers any {kind}s; see 'biobench plugins')")
    hint = did_you_mean(item_id, known, n=3)
    if not hint and "/" not in item_id:
        hint = did_you_mean(item_id, {k.partition("/")[2]: k for k in known}, n=3)  # the name matched, the id shown
    if hint:
        message += hint
    elif not failed:
        message += f"; see 'biobench {kind}s'"
    return message


def resolve_backbone(backbone_id: str) -> BackboneSpec:
    """The spec for ``backbone_id`` (an id, an alias or an unambiguous short name), maybe followed by options
    (``timm/resnet50.a1_in1k?pool=max&img_size=224``): they are checked against the options the spec declares
    (:class:`~biobench_core.contract._options.OptionError`, one line, for an unknown option or a bad value) and
    the spec returned has the canonical id (:meth:`BackboneSpec.with_options`)."""
    base, query = split_options(backbone_id) if isinstance(backbone_id, str) else (backbone_id, None)
    spec = _resolve(base, "backbone")
    if query is None:
        return spec
    if any(c.isspace() for c in query):
        raise SpecError(f"malformed backbone id {backbone_id!r}")
    return spec.with_options(parse_query(query, spec.id))


def resolve_task(task_id: str) -> TaskSpec:
    """The spec for ``task_id`` (an id, an alias or an unambiguous short name)."""
    return _resolve(task_id, "task")


def import_factory(spec: BackboneSpec | TaskSpec) -> Any:
    """Import ``spec.factory`` (``"module:attr"``); a failure is a :class:`PluginError` naming the plugin."""
    module_name, _, attr = spec.factory.partition(":")
    try:
        target: Any = importlib.import_module(module_name)
        for part in attr.split("."):
            target = getattr(target, part)
    except Exception as exc:
        owner = get_registry().owner_of(spec.id)
        who = owner.describe() if owner is not None else f"namespace '{spec.namespace}'"
        raise PluginError(f"{who}: cannot import factory {spec.factory!r} for {spec.id}: "
                          f"{type(exc).__name__}: {exc}") from exc
    return target


def load_backbone(backbone_id: str, weights: str | None = None) -> VisionBackbone:
    """Build the backbone ``backbone_id`` in eval mode with frozen parameters.

    ``weights``: ``None`` for the spec's own pretrained weights, ``"random"`` for a random initialisation, a
    local file, or whatever else the plugin documents.
    """
    from biobench_core.contract._backbone import VisionBackbone

    spec = resolve_backbone(backbone_id)
    factory = import_factory(spec)
    backbone = factory(spec, weights)
    if not isinstance(backbone, VisionBackbone):
        raise PluginError(f"{spec.factory} returned {type(backbone).__name__}, not a VisionBackbone")
    backbone.backbone_id = spec.id
    backbone.eval()
    backbone.requires_grad_(False)
    return backbone


@contextlib.contextmanager
def gc_paused() -> Iterator[None]:
    """Pause Python's cyclic garbage collector (a no-op if it is already off); reference counting still frees."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def load_task(task_id: str, data: str | Path | None = None, settings: dict[str, str] | None = None) -> Task:
    """Build the task ``task_id`` over the data folder ``data`` (when it needs one)."""
    from biobench_core.contract._tasks import Task

    spec = resolve_task(task_id)
    factory = import_factory(spec)
    try:
        with gc_paused():  # indexing creates 100,000s of small objects: the collector would rescan them all
            task = factory(spec, data, dict(settings or {}))
    except AttributeError as exc:
        early = _read_before_super_init(exc)
        if early is None:
            raise
        raise PluginError(f"{spec.id}: {early}") from exc
    if not isinstance(task, Task):
        raise PluginError(f"{spec.factory} returned {type(task).__name__}, not a Task")
    if "spec" not in vars(task):  # the first thing Task.__init__ sets
        raise PluginError(f"{spec.id}: {type(task).__name__}.__init__ did not call super().__init__(spec, data, "
                          f"settings)")
    return task


def _read_before_super_init(exc: AttributeError) -> str | None:
    """What a task class did wrong when ``exc`` is its ``__init__`` reading an attribute ``Task.__init__`` sets
    (``self.settings``, ``self.data``) before calling it, or without calling it at all; else ``None``."""
    from biobench_core.contract._tasks import Task

    obj, name = getattr(exc, "obj", None), getattr(exc, "name", None)
    if not isinstance(obj, Task) or "spec" in vars(obj) or name not in Task.__init__.__code__.co_names:
        return None
    return f"{type(obj).__name__}.__init__ used self.{name} before calling super().__init__(spec, data, settings)"
