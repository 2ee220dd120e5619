"""Plugin discovery: entry points of group ``biobench`` -> one pluggy ``PluginManager`` and a catalogue of specs.

Every entry point loads in its own ``try``, and every hook implementation is called on its own, so one broken
plugin is recorded (distribution, version, entry point, error) and never takes the others down. A spec outside
its plugin's namespace, or a task spec naming an unknown metric, is refused; an id claimed by two distributions
is a collision that names both.

Switches (read when a registry is built):

- ``BIOBENCH_LOAD_PLUGINS``: comma-separated distribution names to load; an empty string loads none.
- ``BIOBENCH_STRICT_PLUGINS=1``: any plugin failure or collision raises :class:`PluginError` at discovery.
"""

from __future__ import annotations

import dataclasses
import os
import re
from collections.abc import Iterable
from importlib import metadata
from typing import Any

import pluggy

from biobench_core import hookspecs
from biobench_core.specs import BackboneSpec, SpecError, TaskSpec

__all__ = ["PluginError", "PluginRecord", "Collision", "Registry", "get_registry", "reset_registry"]

LOAD_ENV = "BIOBENCH_LOAD_PLUGINS"
STRICT_ENV = "BIOBENCH_STRICT_PLUGINS"


class PluginError(RuntimeError):
    """A plugin failed to load or to describe itself, or two plugins claim one id."""


def normalize_dist_name(name: str) -> str:
    """PEP 503 normalisation, so ``biobench_timm`` and ``Biobench-Timm`` name the same distribution."""
    return re.sub(r"[-_.]+", "-", name).lower()


@dataclasses.dataclass
class PluginRecord:
    """One discovered plugin: where it came from and whether it works."""

    name: str
    version: str
    entry_point: str
    namespace: str
    status: str = "ok"  # ok | failed | incompatible
    error: str | None = None
    contract: int | None = None
    n_backbones: int = 0
    n_tasks: int = 0
    exception: BaseException | None = dataclasses.field(default=None, repr=False, compare=False)
    module: Any = dataclasses.field(default=None, repr=False, compare=False)

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    def fail(self, status: str, exc: BaseException, context: str) -> None:
        """Mark this plugin unusable; keeps the first failure, which is the cause of the rest."""
        if self.status != "ok":
            return
        self.status = status
        self.exception = exc
        detail = f"{type(exc).__name__}: {exc}" if not isinstance(exc, PluginError) else str(exc)
        self.error = f"{context}: {detail}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "version": self.version,
            "entry_point": self.entry_point,
            "namespace": self.namespace,
            "status": self.status,
            "error": self.error,
            "contract": self.contract,
            "backbones": self.n_backbones,
            "tasks": self.n_tasks,
        }

    def describe(self) -> str:
        return f"plugin {self.name} {self.version} (entry point '{self.entry_point}')"

    def failure(self) -> PluginError:
        """The error to raise when someone uses this failed plugin.

        It names the distribution, chains the original exception, and is an instance of the original's type
        too, so ``except ImportError`` still catches a plugin that failed to import.
        """
        message = f"{self.describe()} is {self.status}: {self.error}"
        err = _as_original_type(message, self.exception)
        err.__cause__ = self.exception
        return err


_COMBINED: dict[type, type] = {}


def _as_original_type(message: str, original: BaseException | None) -> PluginError:
    """A :class:`PluginError` that is also an instance of ``type(original)``, when Python allows that."""
    base = type(original)
    if original is None or isinstance(original, PluginError) or not issubclass(base, Exception):
        return PluginError(message)
    try:
        combined = _COMBINED.get(base) or type(base.__name__, (PluginError, base), {"__module__": base.__module__})
        err = combined(message)
        if str(err) != message:  # exception types with their own __str__ (SyntaxError, KeyError) would garble it
            return PluginError(message)
    except TypeError:  # incompatible layouts
        return PluginError(message)
    _COMBINED[base] = combined
    return err


@dataclasses.dataclass(frozen=True)
class Collision:
    """One id claimed by more than one plugin."""

    id: str
    kind: str  # "backbone" | "task"
    plugins: tuple[PluginRecord, ...]

    @property
    def message(self) -> str:
        names = " and ".join(f"{p.name} {p.version}" for p in self.plugins)
        return f"{self.kind} id '{self.id}' is claimed by {names}; uninstall one or restrict {LOAD_ENV}"


def _metric_problem(spec: TaskSpec) -> str | None:
    """Why ``spec.metric`` names no metric (checked by name only: a ``module:attr`` metric is not imported)."""
    from biobench_core.metrics import validate_metric_name

    try:
        validate_metric_name(spec.metric)
    except ValueError as exc:
        return str(exc)
    return None


class _Catalogue:
    """Specs of one kind (backbones or tasks) by id, with aliases, short names and collisions."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self.specs: dict[str, Any] = {}
        self.owner: dict[str, PluginRecord] = {}
        self.aliases: dict[str, str] = {}
        self.collisions: dict[str, Collision] = {}

    def add(self, spec: Any, record: PluginRecord) -> None:
        for key in (spec.id, *spec.aliases):
            other = self.owner.get(key)
            if other is not None and other is not record:
                previous = self.collisions.get(key)
                plugins = (previous.plugins if previous else (other,)) + (record,)
                plugins = tuple(sorted(plugins, key=lambda p: (normalize_dist_name(p.name), p.version)))
                self.collisions[key] = Collision(key, self.kind, plugins)
        self.specs.setdefault(spec.id, spec)
        self.owner.setdefault(spec.id, record)
        for alias in spec.aliases:
            self.aliases.setdefault(alias, spec.id)
            self.owner.setdefault(alias, record)

    def collision_for(self, key: str) -> Collision | None:
        """The collision that makes ``key`` (an id or an alias) unusable: on the key, or on the id it names."""
        return self.collisions.get(key) or self.collisions.get(self.aliases.get(key, key))

    def listed(self) -> list[Any]:
        return [spec for spec_id, spec in self.specs.items() if spec_id not in self.collisions]


class Registry:
    """Discovered plugins and the specs they offer. Build one with :func:`get_registry`."""

    def __init__(
        self,
        entry_points: Iterable[metadata.EntryPoint] | None = None,
        *,
        load_only: Iterable[str] | None = None,
        strict: bool = False,
    ) -> None:
        self.pm = pluggy.PluginManager(hookspecs.PROJECT_NAME)
        self.pm.add_hookspecs(hookspecs)
        self.strict = strict
        self.plugins: list[PluginRecord] = []
        self.backbones = _Catalogue("backbone")
        self.tasks = _Catalogue("task")
        self._by_plugin_name: dict[str, PluginRecord] = {}
        allowed = None if load_only is None else {normalize_dist_name(n) for n in load_only}
        eps = metadata.entry_points(group=hookspecs.PROJECT_NAME) if entry_points is None else entry_points
        for ep in eps:
            dist = getattr(ep, "dist", None)
            dist_name = dist.name if dist is not None else "<unknown>"
            if allowed is not None and normalize_dist_name(dist_name) not in allowed:
                continue
            record = PluginRecord(
                name=dist_name,
                version=dist.version if dist is not None else "0",
                entry_point=f"{ep.name} = {ep.value}",
                namespace=ep.name,
            )
            self.plugins.append(record)
            try:
                module = ep.load()
            except BaseException as exc:  # noqa: BLE001 - a plugin's import may raise anything, even SystemExit
                if isinstance(exc, KeyboardInterrupt):
                    raise
                record.fail("failed", exc, "import failed")
                continue
            self._register(module, record)
        self._collect()
        if self.strict:
            problems = [p.failure() for p in self.plugins if not p.ok]
            problems += [PluginError(c.message) for c in self.collisions]
            if problems:
                raise PluginError(f"strict plugin mode ({STRICT_ENV}=1): " + "; ".join(map(str, problems)))

    # -- discovery -------------------------------------------------------------------------------------------

    def register(self, module: Any, namespace: str, *, name: str = "<local>", version: str = "0") -> PluginRecord:
        """Register an in-process plugin object (tests, notebooks) as if an entry point had named it."""
        record = PluginRecord(name=name, version=version, entry_point=f"{namespace} = <in-process>",
                              namespace=namespace)
        self.plugins.append(record)
        self._register(module, record)
        self._collect(only=record)
        return record

    def _register(self, module: Any, record: PluginRecord) -> None:
        record.module = module
        contract = getattr(module, "BIOBENCH_CONTRACT", hookspecs.CONTRACT_VERSION)
        record.contract = contract if isinstance(contract, int) else None
        if record.contract != hookspecs.CONTRACT_VERSION:
            record.fail(
                "incompatible",
                PluginError(f"written for contract {contract!r}; this biobench-core speaks {hookspecs.CONTRACT_VERSION}"),
                "contract mismatch",
            )
            return
        plugin_name = f"{record.name}:{record.namespace}:{len(self.plugins)}"
        try:
            self.pm.register(module, name=plugin_name)
        except Exception as exc:  # noqa: BLE001 - bad hookimpl signatures, double registration
            record.fail("failed", exc, "registration failed")
            return
        self._by_plugin_name[plugin_name] = record

    def _collect(self, only: PluginRecord | None = None) -> None:
        for hook_name, spec_type, catalogue in (
            ("biobench_backbones", BackboneSpec, self.backbones),
            ("biobench_tasks", TaskSpec, self.tasks),
        ):
            for impl in getattr(self.pm.hook, hook_name).get_hookimpls():
                record = self._by_plugin_name.get(impl.plugin_name)
                if record is None or (only is not None and record is not only) or not record.ok:
                    continue
                specs = self._call_listing_hook(impl, record, spec_type)
                if specs is None:
                    continue
                for spec in specs:
                    catalogue.add(spec, record)
                if spec_type is BackboneSpec:
                    record.n_backbones = len(specs)
                else:
                    record.n_tasks = len(specs)

    def _call_listing_hook(self, impl: Any, record: PluginRecord, spec_type: type) -> list[Any] | None:
        hook = impl.function.__name__
        try:
            specs = list(impl.function() or ())
        except BaseException as exc:  # noqa: BLE001
            if isinstance(exc, KeyboardInterrupt):
                raise
            record.fail("failed", exc, f"hook {hook} raised")
            return None
        for position, spec in enumerate(specs):
            if not isinstance(spec, spec_type):
                record.fail("failed", SpecError(f"item {position} is {type(spec).__name__}, not {spec_type.__name__}"),
                            f"hook {hook} yielded a bad spec")
                return None
            if spec.namespace != record.namespace or any(
                alias.partition("/")[0] != record.namespace for alias in spec.aliases
            ):
                record.fail("failed", SpecError(f"id {spec.id!r} is outside namespace '{record.namespace}/'"),
                            f"hook {hook} yielded a bad spec")
                return None
            problem = _metric_problem(spec) if isinstance(spec, TaskSpec) else None
            if problem is not None:
                record.fail("failed", SpecError(f"task {spec.id!r}: {problem}"), f"hook {hook} yielded a bad spec")
                return None
        return specs

    # -- queries ---------------------------------------------------------------------------------------------

    @property
    def collisions(self) -> list[Collision]:
        return [*self.backbones.collisions.values(), *self.tasks.collisions.values()]

    def plugin_for_namespace(self, namespace: str) -> PluginRecord | None:
        for record in self.plugins:
            if record.namespace == namespace:
                return record
        return None

    def owner_of(self, spec_id: str) -> PluginRecord | None:
        """The plugin that listed ``spec_id``, else the plugin of its namespace (ids built by a resolver)."""
        owner = self.backbones.owner.get(spec_id) or self.tasks.owner.get(spec_id)
        return owner or self.plugin_for_namespace(spec_id.partition("/")[0])

    def call_resolver(self, backbone_id: str, record: PluginRecord) -> BackboneSpec | None:
        """Ask ``record``'s plugin to build a spec for an unlisted id in its namespace."""
        for impl in self.pm.hook.biobench_resolve_backbone.get_hookimpls():
            if self._by_plugin_name.get(impl.plugin_name) is not record:
                continue
            try:
                spec = impl.function(backbone_id=backbone_id)
            except Exception as exc:
                raise PluginError(f"{record.describe()}: biobench_resolve_backbone({backbone_id!r}) raised "
                                  f"{type(exc).__name__}: {exc}") from exc
            if spec is None:
                continue
            if not isinstance(spec, BackboneSpec) or spec.namespace != record.namespace:
                raise PluginError(f"{record.describe()}: biobench_resolve_backbone returned {spec!r}, "
                                  f"not a BackboneSpec in namespace '{record.namespace}/'")
            return spec
        return None


_REGISTRY: Registry | None = None


def get_registry() -> Registry:
    """The process-wide registry, discovered on first use from the installed entry points and the environment."""
    global _REGISTRY
    if _REGISTRY is None:
        raw = os.environ.get(LOAD_ENV)
        load_only = None if raw is None else [n.strip() for n in raw.split(",") if n.strip()]
        _REGISTRY = Registry(load_only=load_only, strict=os.environ.get(STRICT_ENV, "") not in ("", "0"))
    return _REGISTRY


def reset_registry() -> None:
    """Forget the process-wide registry; the next :func:`get_registry` discovers again."""
    global _REGISTRY
    _REGISTRY = None
