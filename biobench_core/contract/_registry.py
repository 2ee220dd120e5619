"""Plugin discovery: entry points of group ``biobench`` -> one pluggy ``PluginManager`` and a catalogue of specs.

Every entry point loads in its own ``try``, and every hook implementation is called on its own, so one broken
plugin is recorded (distribution, version, entry point, error) and never takes the others down. A spec outside
its plugin's namespace, or a task spec naming an unknown metric, is refused (and the whole plugin fails). A
namespace belongs to one distribution: two that declare the same entry-point name are both marked failed, neither
is imported, and the collision names both. An id claimed by two plugins is a collision that names both.

Each plugin's import is timed; one whose hook module (or listing hooks) imports torch or another heavy module
slows every ``biobench`` command, so it gets a :class:`HeavyImportWarning`, once per process, naming the fix.

Switches (read when a registry is built):

- ``BIOBENCH_LOAD_PLUGINS``: comma-separated distribution names to load; an empty string loads none.
- ``BIOBENCH_STRICT_PLUGINS=1``: any plugin failure or collision raises :class:`PluginError` at discovery.
"""

from __future__ import annotations

import dataclasses
import os
import re
import sys
import time
import warnings
from collections.abc import Iterable
from importlib import metadata
from typing import Any

import pluggy

from biobench_core.contract import hookspecs
from biobench_core.contract._specs import (BackboneSpec, ExecutorSpec, MetricSpec, ProbeSpec, ReferenceSpec,
                                          ReportFormatSpec, SpecError, TaskSpec)

__all__ = ["PluginError", "PluginRecord", "Collision", "Registry", "HeavyImportWarning", "get_registry",
           "reset_registry", "installed_conflicts"]

LOAD_ENV = "BIOBENCH_LOAD_PLUGINS"
STRICT_ENV = "BIOBENCH_STRICT_PLUGINS"

#: Top-level modules whose import at discovery slows every command (torch alone costs ~1.5 s).
HEAVY_MODULES = ("torch", "torchvision", "timm", "open_clip", "transformers", "tensorflow", "jax")
_HEAVY_WARNED: set[tuple[str, str]] = set()  # (distribution, namespace) already warned in this process


class HeavyImportWarning(UserWarning):
    """A plugin imports torch (or another heavy module) at discovery, which every ``biobench`` command pays for."""


def _heavy_loaded() -> frozenset[str]:
    modules = sys.modules
    return frozenset(name for name in HEAVY_MODULES if name in modules)


class PluginLoadWarning(UserWarning):
    """A plugin switch that names something not installed."""


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
    #: How many probes, metrics, report formats, executors and references it offers, by kind (only those it offers).
    extensions: dict[str, int] = dataclasses.field(default_factory=dict)
    import_seconds: float | None = None  # None: not imported (refused before import)
    listing_seconds: float = 0.0  # time in its biobench_backbones and biobench_tasks hooks
    heavy_imports: tuple[str, ...] = ()  # heavy modules that importing or listing this plugin imported
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
        from biobench_core.contract._errors import one_line  # the line that says what is wrong, not a header

        detail = one_line(exc, typed=not isinstance(exc, PluginError))
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
            "extensions": dict(self.extensions),
            "import_seconds": None if self.import_seconds is None else round(self.import_seconds, 4),
            "listing_seconds": round(self.listing_seconds, 4),
            "heavy_imports": list(self.heavy_imports),
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

    id: str  # the id, or the namespace when kind is "namespace"
    kind: str  # "backbone" | "task" | "namespace" | "probe" | "metric" | "report format" | "executor" | "reference"
    plugins: tuple[PluginRecord, ...]

    @property
    def message(self) -> str:
        names = " and ".join(f"{p.name} {p.version}" for p in self.plugins)
        if self.kind in ("backbone", "task"):
            what = f"{self.kind} id '{self.id}'"
        else:
            what = f"{self.kind} '{self.id}'" if self.kind == "namespace" else f"{self.kind} name '{self.id}'"
        return f"{what} is claimed by {names}; uninstall one or restrict {LOAD_ENV}"


def _sorted_plugins(plugins: Iterable[PluginRecord]) -> tuple[PluginRecord, ...]:
    return tuple(sorted(plugins, key=lambda p: (normalize_dist_name(p.name), p.version)))


#: The hooks that list specs: hook name, spec type, the registry attribute of its catalogue, the kind of spec it
#: holds (as messages name it), and whether the spec's id must lie in the plugin's namespace.
LISTING_HOOKS = (
    ("biobench_backbones", BackboneSpec, "backbones", "backbone", True),
    ("biobench_tasks", TaskSpec, "tasks", "task", True),
    ("biobench_probes", ProbeSpec, "probes", "probe", False),
    ("biobench_metrics", MetricSpec, "metrics", "metric", False),
    ("biobench_report_formats", ReportFormatSpec, "formats", "report format", False),
    ("biobench_executors", ExecutorSpec, "executors", "executor", False),
    ("biobench_references", ReferenceSpec, "references", "reference", False),
)
_CUSTOM_METRIC = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*:"
                            r"[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*$")
BUILTIN_DISTRIBUTION = "biobench-core"
BUILTIN_NAMESPACE = "core"


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
                plugins = _sorted_plugins((previous.plugins if previous else (other,)) + (record,))
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
        """Usable specs: not collided, and offered by a plugin that did not fail (a plugin fails as a whole)."""
        return [spec for spec_id, spec in self.specs.items()
                if spec_id not in self.collisions and self.owner[spec_id].ok]


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
        self._plugins: list[PluginRecord] = []  # from entry points and register(); the built-ins are self.builtin
        self._catalogues = {attribute: _Catalogue(kind) for _, _, attribute, kind, _ in LISTING_HOOKS}
        self._collected: set[str] = set()  # the catalogues whose hooks have been called for every plugin
        self._listed: set[tuple[int, str]] = set()  # (id of a hook implementation, catalogue) already called
        self.namespace_collisions: dict[str, Collision] = {}
        self._by_plugin_name: dict[str, PluginRecord] = {}
        allowed = None if load_only is None else {normalize_dist_name(n) for n in load_only}
        #: The distributions this registry was asked to load (``BIOBENCH_LOAD_PLUGINS``), normalised; None: all.
        self.load_only = allowed
        eps = metadata.entry_points(group=hookspecs.PROJECT_NAME) if entry_points is None else entry_points
        chosen: list[tuple[metadata.EntryPoint, PluginRecord]] = []
        self._register_builtins()
        eps = list(eps)
        if allowed is not None and entry_points is None:
            self._warn_not_installed(allowed, eps)
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
            self._plugins.append(record)
            chosen.append((ep, record))
        # A namespace shared by two distributions: both refused before either is imported; never pick one.
        by_namespace: dict[str, list[PluginRecord]] = {}
        for _, record in chosen:
            by_namespace.setdefault(record.namespace, []).append(record)
        for namespace, records in by_namespace.items():
            if len(records) > 1:
                self._namespace_collision(namespace, records)
        for ep, record in chosen:
            if record.ok:
                self._load(ep, record)
        if self.strict:
            problems = [p.failure() for p in self.plugins if not p.ok]
            problems += [PluginError(c.message) for c in self.collisions]
            if problems:
                raise PluginError(f"strict plugin mode ({STRICT_ENV}=1): " + "; ".join(map(str, problems)))

    # -- discovery -------------------------------------------------------------------------------------------

    def register(self, module: Any, namespace: str, *, name: str = "<local>", version: str = "0") -> PluginRecord:
        """Register an in-process plugin object (tests, notebooks) as if an entry point had named it.

        A namespace already taken is a collision: both plugins are marked failed, as with entry points.
        """
        record = PluginRecord(name=name, version=version, entry_point=f"{namespace} = <in-process>",
                              namespace=namespace)
        taken = [other for other in self._plugins if other.namespace == namespace]
        self._plugins.append(record)
        if taken:
            self._namespace_collision(namespace, [*taken, record])
            return record
        self._register(module, record)
        self._collect(set(self._catalogues), only=record)
        return record

    @staticmethod
    def _warn_not_installed(allowed: set[str], eps: list[metadata.EntryPoint]) -> None:
        """A name in ``BIOBENCH_LOAD_PLUGINS`` that no installed plugin distribution has: a warning naming it, with
        the nearest installed one (a typo there would otherwise load nothing, silently)."""
        from biobench_core.contract._errors import did_you_mean

        installed = sorted({normalize_dist_name(ep.dist.name) for ep in eps if getattr(ep, "dist", None) is not None})
        for name in sorted(allowed - set(installed) - {BUILTIN_DISTRIBUTION}):
            warnings.warn(f"{LOAD_ENV} names {name}, which is not installed as a biobench plugin"
                          f"{did_you_mean(name, installed)} (installed: {', '.join(installed) or 'none'})",
                          PluginLoadWarning, stacklevel=3)

    def _register_builtins(self) -> None:
        """The core's own probes, metrics, report formats and executors: one plugin record, several hook modules,
        registered like an entry point's module (as ``llm`` registers its default plugins)."""
        import importlib

        from biobench_core._version import __version__

        record = PluginRecord(name=BUILTIN_DISTRIBUTION, version=__version__, namespace=BUILTIN_NAMESPACE,
                              entry_point=f"{BUILTIN_NAMESPACE} = <built-in: {', '.join(hookspecs.BUILTIN_PLUGINS)}>",
                              contract=hookspecs.CONTRACT_VERSION, import_seconds=0.0)
        self.builtin = record
        for position, module_name in enumerate(hookspecs.BUILTIN_PLUGINS):
            module = importlib.import_module(module_name)
            plugin_name = f"{record.name}:{record.namespace}:builtin{position}"
            self.pm.register(module, name=plugin_name)
            self._by_plugin_name[plugin_name] = record
        record.module = module

    def _namespace_collision(self, namespace: str, records: list[PluginRecord]) -> None:
        collision = Collision(namespace, "namespace", _sorted_plugins(records))
        self.namespace_collisions[namespace] = collision
        for record in records:
            record.fail("failed", PluginError(collision.message), "namespace collision")

    def _load(self, ep: metadata.EntryPoint, record: PluginRecord) -> None:
        """Import the entry point's module (timed, watching for heavy imports) and register it."""
        heavy_before = _heavy_loaded()
        start = time.perf_counter()
        try:
            module = ep.load()
        except BaseException as exc:  # noqa: BLE001 - a plugin's import may raise anything, even SystemExit
            if isinstance(exc, KeyboardInterrupt):
                raise
            record.fail("failed", exc, "import failed")
            return
        finally:
            record.import_seconds = time.perf_counter() - start
            self._note_heavy(record, heavy_before, f"its hook module '{ep.module}' is imported "
                                                   f"(import took {record.import_seconds:.2f} s)")
        self._register(module, record)

    @staticmethod
    def _note_heavy(record: PluginRecord, before: frozenset[str], when: str) -> None:
        new = _heavy_loaded() - before
        if not new:
            return
        record.heavy_imports = tuple(sorted({*record.heavy_imports, *new}))
        key = (record.name, record.namespace)
        if key in _HEAVY_WARNED:
            return
        _HEAVY_WARNED.add(key)
        names = ", ".join(sorted(new))
        warnings.warn(
            f"plugin {record.name} {record.version} (namespace '{record.namespace}') imports {names} when {when}, "
            f"which slows every biobench command; import {names} inside the factory (or the model module it "
            f"names), not in the hook module",
            HeavyImportWarning, stacklevel=2)

    def _register(self, module: Any, record: PluginRecord) -> None:
        record.module = module
        contract = getattr(module, "BIOBENCH_CONTRACT", 1)
        record.contract = contract if isinstance(contract, int) and not isinstance(contract, bool) else None
        if record.contract not in hookspecs.SUPPORTED_CONTRACTS:
            supported = " and ".join(map(str, hookspecs.SUPPORTED_CONTRACTS))
            record.fail(
                "incompatible",
                PluginError(f"written for contract {contract!r}; this biobench-core speaks contracts {supported}"),
                "contract mismatch",
            )
            return
        plugin_name = f"{record.name}:{record.namespace}:{len(self._plugins)}"
        try:
            self.pm.register(module, name=plugin_name)
        except Exception as exc:  # noqa: BLE001 - bad hookimpl signatures, double registration
            record.fail("failed", exc, "registration failed")
            return
        self._by_plugin_name[plugin_name] = record
        unknown = self._unknown_hooks(module)
        if unknown:
            from biobench_core.contract._errors import did_you_mean

            hooks = sorted(name for name in dir(hookspecs) if name.startswith(f"{hookspecs.PROJECT_NAME}_"))
            name = unknown[0]
            record.fail("failed", PluginError(f"{name} is not a biobench hook{did_you_mean(name, hooks)}"),
                        "unknown hook")

    def _unknown_hooks(self, module: Any) -> list[str]:
        """The hook implementations of ``module`` that no hookspec declares (a misspelled hook would otherwise be
        silently never called), as pluggy sees them: hook callers without a spec."""
        return sorted(caller.name for caller in self.pm.get_hookcallers(module) or () if caller.spec is None)

    # -- collection: each kind's hooks are called when that kind is first asked for -------------------------------
    #
    # Listing backbones calls no format hook, and a report calls no backbone hook (timm's alone lists ~1,800 specs).
    # Whatever reads a plugin's status (``plugins``, ``collisions``, ``catalogues``) collects every kind first, so a
    # plugin whose hook of any kind raised is failed as a whole there; a spec of a plugin found failed later is no
    # longer listed or loadable (``_Catalogue.listed`` and the lookups check its owner).

    def _catalogue(self, attribute: str) -> _Catalogue:
        if attribute not in self._collected:
            # Backbones and tasks are listed together (a plugin whose hook of either raised is failed in both
            # listings), with the metrics that tasks are checked against.
            wanted = {"backbones", "tasks", "metrics"} if attribute in ("backbones", "tasks") else {attribute}
            self._collect(wanted - self._collected)
        return self._catalogues[attribute]

    def _collect_all(self) -> None:
        missing = set(self._catalogues) - self._collected
        if missing:
            self._collect(missing)

    backbones = property(lambda self: self._catalogue("backbones"), doc="Backbone specs by id.")
    tasks = property(lambda self: self._catalogue("tasks"), doc="Task specs by id.")
    probes = property(lambda self: self._catalogue("probes"), doc="Probe specs by name.")
    metrics = property(lambda self: self._catalogue("metrics"), doc="Metric specs by name.")
    formats = property(lambda self: self._catalogue("formats"), doc="Report format specs by name.")
    executors = property(lambda self: self._catalogue("executors"), doc="Executor specs by name.")
    references = property(lambda self: self._catalogue("references"), doc="Reference specs by name.")

    @property
    def plugins(self) -> list[PluginRecord]:
        """Every discovered plugin (entry points and :meth:`register`), each kind's hooks called, so its status is
        final; the core's built-in plugin is :attr:`builtin`."""
        self._collect_all()
        return self._plugins

    def _collect(self, attributes: set[str], only: PluginRecord | None = None) -> None:
        """Call the listing hooks of the catalogues ``attributes`` (of every plugin, or of ``only``)."""
        if only is None:
            self._collected |= attributes
        gathered: dict[int, list[tuple[_Catalogue, list[Any]]]] = {}
        records: dict[int, PluginRecord] = {}
        for hook_name, spec_type, attribute, _, namespaced in LISTING_HOOKS:
            if attribute not in attributes:
                continue
            for impl in getattr(self.pm.hook, hook_name).get_hookimpls():
                record = self._by_plugin_name.get(impl.plugin_name)
                if record is None or (only is not None and record is not only) or not record.ok:
                    continue
                if (id(impl), attribute) in self._listed:
                    continue
                self._listed.add((id(impl), attribute))
                specs = self._call_listing_hook(impl, record, spec_type, namespaced)
                if specs is None:
                    continue
                gathered.setdefault(id(record), []).append((self._catalogues[attribute], specs))
                records[id(record)] = record
        # A plugin fails as a whole: its specs enter the catalogues only when every hook of it listed cleanly.
        for key, lists in gathered.items():
            record = records[key]
            if not record.ok:
                continue
            for catalogue, specs in lists:
                for spec in specs:
                    catalogue.add(spec, record)
                if catalogue is self._catalogues["backbones"]:
                    record.n_backbones += len(specs)
                elif catalogue is self._catalogues["tasks"]:
                    record.n_tasks += len(specs)
                else:
                    record.extensions[catalogue.kind] = record.extensions.get(catalogue.kind, 0) + len(specs)
        if {"tasks", "metrics"} <= self._collected or only is not None:
            self._check_task_metrics()

    def _check_task_metrics(self) -> None:
        """A task naming a metric no plugin offers fails its plugin (a ``module:attr`` metric is checked by form)."""
        tasks, metrics = self._catalogues["tasks"], self._catalogue("metrics")  # every plugin's metrics
        for spec_id, spec in list(tasks.specs.items()):
            record = tasks.owner[spec_id]
            if not record.ok or spec.metric in metrics.specs or spec.metric in metrics.aliases:
                continue
            if isinstance(spec.metric, str) and _CUSTOM_METRIC.match(spec.metric):
                continue
            from biobench_core.contract._errors import did_you_mean

            names = sorted(metrics.specs)
            hint = did_you_mean(str(spec.metric).lower().replace("_", "-"), names)
            record.fail("failed", SpecError(f"task {spec.id!r}: unknown metric {spec.metric!r}{hint}; installed "
                                            f"metrics are {', '.join(names)}; a task's own metric is offered by "
                                            f"the biobench_metrics hook"), "hook biobench_tasks yielded a bad spec")

    def _call_listing_hook(self, impl: Any, record: PluginRecord, spec_type: type,
                           namespaced: bool) -> list[Any] | None:
        hook = impl.function.__name__
        heavy_before = _heavy_loaded()
        start = time.perf_counter()
        try:
            specs = list(impl.function() or ())
        except BaseException as exc:  # noqa: BLE001
            if isinstance(exc, KeyboardInterrupt):
                raise
            record.fail("failed", exc, f"hook {hook} raised")
            return None
        finally:
            record.listing_seconds += time.perf_counter() - start
            self._note_heavy(record, heavy_before, f"its hook {hook} runs")
        for position, spec in enumerate(specs):
            if not isinstance(spec, spec_type):
                record.fail("failed", SpecError(f"item {position} is {type(spec).__name__}, not {spec_type.__name__}"),
                            f"hook {hook} yielded a bad spec")
                return None
            if namespaced and spec.namespace != record.namespace or namespaced and any(
                alias.partition("/")[0] != record.namespace for alias in spec.aliases
            ):
                record.fail("failed", SpecError(f"id {spec.id!r} is outside namespace '{record.namespace}/'"),
                            f"hook {hook} yielded a bad spec")
                return None
        return specs

    # -- queries ---------------------------------------------------------------------------------------------

    @property
    def collisions(self) -> list[Collision]:
        return [*self.namespace_collisions.values(), *(collision for catalogue in self.catalogues
                                                       for collision in catalogue.collisions.values())]

    @property
    def catalogues(self) -> tuple[_Catalogue, ...]:
        """Every kind's catalogue, in the order of :data:`LISTING_HOOKS`, each collected."""
        self._collect_all()
        return tuple(self._catalogues.values())  # built in the order of LISTING_HOOKS

    def plugins_for_namespace(self, namespace: str) -> list[PluginRecord]:
        return [record for record in self.plugins if record.namespace == namespace]

    def plugin_for_namespace(self, namespace: str) -> PluginRecord | None:
        """The plugin of ``namespace``; when two claim it, the first (failed, its error names both)."""
        for record in self.plugins:
            if record.namespace == namespace:
                return record
        return None

    @property
    def namespaces(self) -> list[str]:
        """Every discovered namespace, working or not, sorted."""
        return sorted({record.namespace for record in self.plugins})

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


def _dist_key(ep: metadata.EntryPoint) -> str:
    dist = getattr(ep, "dist", None)
    return normalize_dist_name(dist.name) if dist is not None else "<unknown>"


def installed_conflicts(distribution: str) -> list[str]:
    """How the plugin ``distribution`` collides with the other installed plugins, one message per collision: a
    namespace another distribution declares too, or an id or alias another plugin offers too (the catalogue's
    collision rule, which a short name obeys through the id it stands for). A short name shared by ids in two
    namespaces is no collision: it is ambiguous alone, and the full id works. Ignores ``BIOBENCH_LOAD_PLUGINS``
    and imports every installed plugin."""
    target = normalize_dist_name(distribution)
    eps = list(metadata.entry_points(group=hookspecs.PROJECT_NAME))
    own = Registry(entry_points=[ep for ep in eps if _dist_key(ep) == target])
    rest = Registry(entry_points=[ep for ep in eps if _dist_key(ep) != target])
    mine = {id(record) for record in own.plugins}
    out = []
    for record in own.plugins:
        for other in rest.plugins_for_namespace(record.namespace):
            out.append(f"namespace '{record.namespace}' is also claimed by {other.name} {other.version} (entry point "
                       f"'{other.entry_point}'); a namespace belongs to one distribution: rename one entry point "
                       f"or uninstall one")
    for theirs, ours in zip(rest.catalogues, own.catalogues):
        merged = _Catalogue(ours.kind)
        for catalogue in (theirs, ours):
            for spec_id, spec in catalogue.specs.items():
                if catalogue is ours and catalogue.owner[spec_id] is own.builtin:
                    continue
                merged.add(spec, catalogue.owner[spec_id])
        out += [c.message for c in merged.collisions.values() if any(id(p) in mine for p in c.plugins)]
    return out
