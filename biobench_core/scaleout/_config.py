"""``biobench run --config FILE``: a whole matrix in one TOML file.

Example (``examples/demo.toml``)::

    results = "results/demo"
    dtype = "bf16"

    [[backbone]]
    id = "effnet/lite0"
    weights = "pretrained"

    [[task]]
    id = "tasks/animal-silhouettes"
    data = "/data/silhouettes"      # only for tasks that need a folder
    settings = { subset = "2000" }  # task settings, like --set

A list expands to every combination (a Cartesian product): ``weights = ["pretrained", "random"]`` is two
backbones, ``settings = { n_train = [10, 100], seed = [0, 1] }`` four tasks. A backbone's ``options``
(``options = { pool = "max", img_size = 224 }``, the options its spec declares; a list is several backbones) are
the ``?pool=max&img_size=224`` of ``--backbone``. An ``[executor]`` table says where the
matrix runs (see :class:`ExecutorConfig` and docs/scaleout.md)::

    [executor]
    kind = "local"             # an installed executor: inprocess (default), local, slurm (biobench-slurm), ...
    jobs = 8                   # workers at once: local processes, Slurm array tasks, ...
    max_attempts = 3
    partition = "gpu"          # the executor's own keys, checked by its options schema (here biobench-slurm's)

Top-level keys are the ``run`` options (``results``, ``device``, ``dtype``, ``batch_size``, ``workers``,
``limit``, ``on_bad_image``, ``pixel_cache_gb``), checked like their flags (``batch_size`` and ``workers``, when
neither gives them, are chosen for the machine: :mod:`biobench_core.engine._loader_defaults`); a flag given on the
command line always wins over them, even when it equals its default. A task's ``settings`` must be ones the task
declares (see :class:`biobench_core.contract._tasks.Task`); ``--set`` wins over them. A task's relative ``data``
path is relative to the config file; ``results`` is relative to the current directory, like ``--results``.

The whole file is checked when it is loaded, before any work: an unknown key (with a "did you mean"), a value of
the wrong type or out of range is one :class:`ConfigError` naming the file, the line, the key and what was
expected, e.g. ``run.toml:7: [[backbone]] 1: unknown key 'wieghts'; did you mean 'weights'? (expected id,
weights, options)``. The run options' choices, minimums and defaults live here too; the command line's flags use
them.
"""

from __future__ import annotations

import dataclasses
import functools
import itertools
import re
import sys
from collections.abc import Callable, Collection
from pathlib import Path
from typing import Any

from biobench_core.contract._errors import did_you_mean
from biobench_core.engine._budget import gib_or_none

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

__all__ = ["RunConfig", "TaskRequest", "ExecutorConfig", "load_config", "ConfigError", "OPTION_DEFAULTS",
           "OPTION_CHOICES", "OPTION_MINIMUM", "executor_option", "executor_kind_problem", "options_schema",
           "schema_problem", "gib_or_none"]

#: The run options a config file may set at its top, with the defaults that apply when neither the command line
#: nor the file gives them, the choices of those that take a word and the minimum of those that take a count.
OPTION_DEFAULTS: dict[str, Any] = {"results": "results", "device": "auto", "dtype": "fp32", "batch_size": None,
                                   "workers": None, "limit": None, "on_bad_image": "skip", "pixel_cache_gb": None,
                                   "protocol": "biobench"}
OPTION_CHOICES: dict[str, tuple[str, ...]] = {"device": ("auto", "cpu", "cuda"), "dtype": ("fp32", "bf16", "fp16"),
                                              "on_bad_image": ("skip", "fail")}
OPTION_MINIMUM: dict[str, int] = {"batch_size": 1, "workers": 0, "limit": 1}
OPTION_KEYS = frozenset(OPTION_DEFAULTS)

#: The keys of one ``[[backbone]]`` and one ``[[task]]`` entry; ``id`` is required.
ENTRY_KEYS = {"backbone": ("id", "weights", "options"), "task": ("id", "data", "settings")}
#: The tables a config file may have besides the run options.
TABLES = ("backbone", "task", "executor")
STORE_MODES = ("sqlite", "files")


#: Executors that first-party plugins offer, by the distribution to install when one is missing.
FIRST_PARTY_EXECUTORS = {"slurm": "biobench-slurm"}


def executor_option(default: Any, expected: str, check: Callable[[Any], Any], *,
                    factory: Callable[[], Any] | None = None) -> Any:
    """A checked key of the ``[executor]`` table: a dataclass field whose TOML value ``check(value)`` accepts.

    ``expected`` says what a good value is, in the one-line error (``"an integer >= 1"``). The generic keys of
    :class:`ExecutorConfig` are declared with it, and so is every field of an executor's options schema (the
    dataclass its :class:`~biobench_core.contract._specs.ExecutorSpec` names as ``options``).
    """
    metadata = {"expected": expected, "check": check}
    if factory is not None:
        return dataclasses.field(default_factory=factory, metadata=metadata)
    return dataclasses.field(default=default, metadata=metadata)


def _is_int(minimum: int) -> Any:
    return lambda v: isinstance(v, int) and not isinstance(v, bool) and v >= minimum


def _is_str(v: Any) -> bool:
    return isinstance(v, str) and bool(v.strip())


@dataclasses.dataclass(frozen=True)
class ExecutorConfig:
    """The ``[executor]`` table: where and how the matrix runs. Each key's TOML type is checked on loading.

    The generic keys are fields here; ``kind`` must be an installed executor (checked against the plugin
    registry). The table's other keys belong to executors (``partition`` to ``slurm``): each is checked by the
    options schema of an installed executor that declares it and kept in ``extra``. :attr:`options` is the kind's
    own options built from them, and reads as attributes too: ``config.partition`` is ``config.options.partition``.
    """

    kind: str = executor_option("inprocess", "an installed executor", _is_str)
    jobs: int | None = executor_option(None, "an integer >= 1 (the number of workers)", _is_int(1))
    devices: tuple[int, ...] = executor_option((), "an array of GPU indices, e.g. [0, 1]",
                                               lambda v: isinstance(v, list) and bool(v)
                                               and all(_is_int(0)(d) for d in v))
    store: str = executor_option("sqlite", f"one of {', '.join(STORE_MODES)}", lambda v: v in STORE_MODES)
    max_attempts: int = executor_option(3, "an integer >= 1", _is_int(1))
    claim_timeout: int = executor_option(60, "an integer >= 2 (seconds)", _is_int(2))
    folder: str | None = executor_option(None, "a folder name (a string)", _is_str)
    extra: dict[str, Any] = dataclasses.field(default_factory=dict)  # the executors' own keys, already checked

    @functools.cached_property
    def options(self) -> Any:
        """The kind's own options (an instance of its options schema, from ``extra``); ``None`` if it has none."""
        schema = options_schema(self.kind)
        if schema is None:
            return None
        names = {f.name for f in dataclasses.fields(schema)}
        return schema(**{key: value for key, value in self.extra.items() if key in names})

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_") or name in ("kind", "extra"):  # copy and pickle probe for these before __init__
            raise AttributeError(name)
        options = self.options
        if options is None or not hasattr(options, name):
            raise AttributeError(f"the {self.kind} executor has no option {name!r}")
        return getattr(options, name)


#: The generic keys of the ``[executor]`` table (every executor reads them).
EXECUTOR_KEYS = tuple(f.name for f in dataclasses.fields(ExecutorConfig) if "check" in f.metadata)


def schema_problem(schema: Any) -> str | None:
    """Why ``schema`` is not a well-formed options schema (one clause), or ``None``.

    A schema is a dataclass whose every field is declared with :func:`executor_option` (so it has a default, a
    check and words for the error) and is named unlike the generic keys and ``extra``.
    """
    if not (isinstance(schema, type) and dataclasses.is_dataclass(schema)):
        return f"expected a dataclass, got {schema!r}"
    for field in dataclasses.fields(schema):
        if field.name in EXECUTOR_KEYS or field.name == "extra":
            return f"option {field.name!r} is a generic [executor] key"
        if not (isinstance(field.metadata.get("expected"), str) and callable(field.metadata.get("check"))):
            return f"option {field.name!r} is not declared with executor_option(default, expected, check)"
        if field.default is dataclasses.MISSING and field.default_factory is dataclasses.MISSING:
            return f"option {field.name!r} has no default"
    return None


def options_schema(kind: str) -> type | None:
    """The options schema of executor ``kind`` (imported now), or ``None`` when it declares none.

    Raises :class:`~biobench_core.contract._extensions.UnknownExtensionError` for a kind no plugin offers, and
    :class:`~biobench_core.contract._registry.PluginError` naming the plugin for a schema that does not import or
    is not well formed.
    """
    from biobench_core.contract._extensions import executor_spec
    from biobench_core.contract._registry import PluginError, get_registry
    from biobench_core.contract._specs import import_attr

    spec = executor_spec(kind)
    if spec.options is None:
        return None
    owner = get_registry().executors.owner[spec.name]
    try:
        schema = import_attr(spec.options)
    except Exception as exc:  # noqa: BLE001 - a plugin's module may raise anything
        raise PluginError(f"{owner.describe()}: executor {spec.name!r}: options {spec.options!r} does not import: "
                          f"{type(exc).__name__}: {exc}") from exc
    problem = schema_problem(schema)
    if problem:
        raise PluginError(f"{owner.describe()}: executor {spec.name!r}: options {spec.options!r}: {problem}")
    return schema


def executor_kind_problem(kind: Any) -> str | None:
    """Why ``kind`` names no usable executor, as a clause after ``kind = 'x': ``; ``None`` when it is fine.

    It lists the installed executors with a "did you mean"; for an executor of a plugin that failed, or a
    first-party one that is not installed (``slurm``), it says so and how to install it.
    """
    from biobench_core.contract._extensions import extension_names
    from biobench_core.contract._registry import get_registry

    registry = get_registry()
    catalogue = registry.executors
    if isinstance(kind, str):
        collision = catalogue.collision_for(kind)
        if collision is not None:
            return collision.message
        key = catalogue.aliases.get(kind, kind)
        if key in catalogue.specs:
            owner = catalogue.owner[key]
            return None if owner.ok else f"{owner.describe()} is {owner.status}: {owner.error}"
    names = extension_names("executors")
    installed = ", ".join(names) or "none"
    failed = next((p for p in registry.plugins if p.namespace == kind and not p.ok), None)
    if failed is not None:
        return f"{failed.describe()} is {failed.status}: {failed.error}; installed executors: {installed}"
    dist = FIRST_PARTY_EXECUTORS.get(kind) if isinstance(kind, str) else None
    if dist is not None:
        return f"{_not_installed(dist)}; installed executors: {installed}"
    hint = did_you_mean(kind, names) if isinstance(kind, str) else ""
    return f"expected one of {installed}{hint} (the installed executors; see 'biobench plugins')"


def _not_installed(dist: str) -> str:
    """What to do about a first-party plugin ``dist`` that offers no executor here."""
    import os
    from importlib import metadata

    from biobench_core.contract._registry import LOAD_ENV

    try:
        metadata.distribution(dist)
    except metadata.PackageNotFoundError:
        return (f"that executor is the {dist} plugin, which is not installed: pip install {dist} "
                f"(in a biobench checkout: pip install -e plugins/{dist})")
    return f"{dist} is installed but not loaded: add it to {LOAD_ENV} (now {os.environ.get(LOAD_ENV)!r})"


class ConfigError(ValueError):
    """A run configuration that cannot be used; the message names the file, the line and the key.

    The command line reports it as a usage error (exit 2).
    """

    exit_code = 2


@dataclasses.dataclass(frozen=True)
class TaskRequest:
    """One task to run: its id, its data folder (if any) and its settings."""

    id: str
    data: str | None = None
    settings: tuple[tuple[str, str], ...] = ()


@dataclasses.dataclass
class RunConfig:
    """A checked config: its lists already expanded into every (backbone, weights) and every task setting."""

    backbones: list[tuple[str, str | None]]
    tasks: list[TaskRequest]
    options: dict[str, Any]
    executor: ExecutorConfig | None = None  # None: no [executor] table


def load_config(path: str | Path, *, overridden: Collection[str] = ()) -> RunConfig:
    """Read and check the config file ``path``.

    ``overridden`` names run options given on the command line: the flag wins, so the file's value for them is
    not returned, but it is still checked (a mistake hidden behind a flag is still a mistake in the file).
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")  # TOML is UTF-8, whatever the locale says
    except FileNotFoundError:
        raise ConfigError(f"{path}: config file does not exist") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read config: {exc}") from None
    if text.startswith("\ufeff"):  # tomllib's own word for it is "Invalid statement (at line 1, column 1)"
        raise ConfigError(f"{path}:1: the file starts with a UTF-8 byte-order mark (BOM), which TOML does not "
                          f"allow: save it as UTF-8 without BOM")
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    checker = _Checker(path, text)
    options = checker.options(raw, overridden)
    backbones = [b for i, entry in enumerate(checker.entries(raw, "backbone"), 1) for b in checker.backbone(i, entry)]
    tasks = [t for i, entry in enumerate(checker.entries(raw, "task"), 1) for t in checker.task(i, entry)]
    executor = checker.executor(raw["executor"]) if "executor" in raw else None
    return RunConfig(_once(backbones, path, "[[backbone]]"), _once(tasks, path, "[[task]]"), options, executor)


def _once(items: list[Any], path: Path, table: str) -> list[Any]:
    """``items`` with each repeat dropped (the first kept, in order), with a note per repeat: planned twice, the
    second would be reported as finished by another process that never was."""
    seen: list[Any] = []
    for item in items:
        if item in seen:
            what = item.id if isinstance(item, TaskRequest) else " ".join(str(part) for part in item if part)
            print(f"note: {path}: {table} {what} is given twice with the same settings; planned once", file=sys.stderr)
            continue
        seen.append(item)
    return seen


def _toml_type(value: Any) -> str:
    if isinstance(value, dict):
        return "a single table"
    if isinstance(value, list):
        return "an array of values" if value and not all(isinstance(v, dict) for v in value) else "an array"
    return {str: "a string", bool: "a boolean", int: "an integer", float: "a number"}.get(type(value), "a value")


class _Checker:
    """Checks the parsed file, and finds a key's line in its text (``tomllib`` keeps no positions)."""

    def __init__(self, path: Path, text: str) -> None:
        self.path = path
        self.lines = _Lines(text)

    def fail(self, line: int | None, message: str) -> ConfigError:
        return ConfigError(f"{self.path}:{line}: {message}" if line else f"{self.path}: {message}")

    # -- the top level ---------------------------------------------------------------------------------------

    def options(self, raw: dict[str, Any], overridden: Collection[str]) -> dict[str, Any]:
        allowed = OPTION_KEYS | set(TABLES)
        for key in raw:
            if key not in allowed:
                raise self.fail(self.lines.top(key),
                                f"unknown key {key!r}{did_you_mean(key, allowed)} (expected "
                                f"{', '.join(f'[[{t}]]' for t in ENTRY_KEYS)}, [executor], "
                                f"{', '.join(sorted(OPTION_KEYS))})")
        options = {}
        for key in OPTION_DEFAULTS:  # in a fixed order, so the first mistake reported does not depend on the file
            if key in raw:
                expected = _option_problem(key, raw[key])
                if expected:
                    raise self.fail(self.lines.top(key), f"{key} = {raw[key]!r}: {expected}")
                if key not in overridden:
                    options[key] = raw[key]
        return options

    def entries(self, raw: dict[str, Any], table: str) -> list[dict[str, Any]]:
        value = raw.get(table, [])
        if not isinstance(value, list) or not all(isinstance(entry, dict) for entry in value):
            raise self.fail(self.lines.top(table), f"{table} must be [[{table}]] tables (an array of tables), "
                                                   f"not {_toml_type(value)}")
        return value

    # -- one entry -------------------------------------------------------------------------------------------

    def _entry(self, table: str, index: int, entry: dict[str, Any]) -> str:
        """Check the keys and the ``id`` of one entry; return the id."""
        allowed = ENTRY_KEYS[table]
        where = f"[[{table}]] {index}"
        for key in entry:
            if key not in allowed:
                hint = did_you_mean(key, allowed)
                if not hint and key in OPTION_KEYS:
                    hint = (f"; run options such as {key!r} go at the top of the file, before the first [[backbone]] "
                            "or [[task]]")
                    message = f"unknown key {key!r} (expected {', '.join(allowed)}){hint}"
                else:
                    message = f"unknown key {key!r}{hint} (expected {', '.join(allowed)})"
                raise self.fail(self.lines.entry_key(table, index, key), f"{where}: {message}")
        if "id" not in entry:
            raise self.fail(self.lines.entry_header(table, index),
                            f"{where}: missing key 'id' (expected {', '.join(allowed)})")
        if not isinstance(entry["id"], str) or not entry["id"].strip():
            raise self.fail(self.lines.entry_key(table, index, "id"),
                            f"{where}: id = {entry['id']!r}: expected a non-empty string")
        return entry["id"]

    def backbone(self, index: int, entry: dict[str, Any]) -> list[tuple[str, str | None]]:
        """One ``(id, weights)`` per weights and per combination of the options' values (a list is several)."""
        backbone_id = self._entry("backbone", index, entry)
        weights = entry.get("weights")
        choices = weights if isinstance(weights, list) and weights else [weights]
        if not all(w is None or isinstance(w, str) for w in choices):
            raise self.fail(self.lines.entry_key("backbone", index, "weights"),
                            f"[[backbone]] {index}: weights = {weights!r}: expected a string or a non-empty array "
                            "of strings")
        return [(b, w) for b in self.backbone_options(index, backbone_id, entry.get("options", {})) for w in choices]

    def backbone_options(self, index: int, backbone_id: str, options: Any) -> list[str]:
        """``options = { pool = "max", img_size = [224, 518] }`` as ids with options (``<id>?img_size=224&pool=max``),
        one per combination; each checked against the options the backbone declares, an unknown option or a bad
        value named with its line (an unknown id is left to the plan, which names it)."""
        from biobench_core.contract._catalog import resolve_backbone
        from biobench_core.contract._options import OptionError

        line = self.lines.entry_key("backbone", index, "options")
        where = f"[[backbone]] {index}"
        if not isinstance(options, dict):
            raise self.fail(line, f"{where}: options = {options!r}: expected a table, "
                                  'e.g. options = { pool = "max" }')
        for name, value in options.items():
            values = value if isinstance(value, list) and value else [value]
            if not all(isinstance(v, (str, int, float)) for v in values):  # bool is an int
                raise self.fail(line, f"{where}: options.{name} = {value!r}: expected a string, a number, a boolean "
                                      "or a non-empty array of those")
        names = list(options)
        lists = [options[n] if isinstance(options[n], list) else [options[n]] for n in names]
        ids = []
        for combination in itertools.product(*lists):
            query = "&".join(f"{n}={_setting_text(v)}" for n, v in zip(names, combination))
            full = backbone_id + ("&" if "?" in backbone_id else "?") + query if query else backbone_id
            try:
                full = resolve_backbone(full).id  # canonical: pool at its default is the backbone without it
            except OptionError as exc:
                raise self.fail(line, f"{where}: {exc}") from None
            except Exception:  # noqa: BLE001 - an unknown id or a failed plugin: the plan names it, with its hint
                pass
            ids.append(full)
        return ids

    def task(self, index: int, entry: dict[str, Any]) -> list[TaskRequest]:
        """One request per combination of the settings' values (a list is several values)."""
        task_id = self._entry("task", index, entry)
        where = f"[[task]] {index}"
        data = entry.get("data")
        if data is not None:
            if not isinstance(data, str) or not data:
                raise self.fail(self.lines.entry_key("task", index, "data"),
                                f"{where}: data = {data!r}: expected a folder name (a string)")
            folder = Path(data).expanduser()
            data = str(folder if folder.is_absolute() else self.path.parent / folder)
        settings = entry.get("settings", {})
        if not isinstance(settings, dict):
            raise self.fail(self.lines.entry_key("task", index, "settings"),
                            f"{where}: settings = {settings!r}: expected a table, "
                            f'e.g. settings = {{ subset = "2000" }}')
        for name, value in settings.items():
            values = value if isinstance(value, list) and value else [value]
            if not all(isinstance(v, (str, int, float)) for v in values):  # bool is an int
                raise self.fail(self.lines.setting(index, name),
                                f"{where}: settings.{name} = {value!r}: expected a string, a number, a boolean or a "
                                "non-empty array of those")
        names = list(settings)
        choices = [settings[n] if isinstance(settings[n], list) else [settings[n]] for n in names]
        return [TaskRequest(task_id, data, tuple((n, _setting_text(v)) for n, v in zip(names, combination)))
                for combination in itertools.product(*choices)]

    def executor(self, table: Any) -> ExecutorConfig:
        """The ``[executor]`` table: ``kind`` against the installed executors, then each key against the generic
        keys, the kind's options schema and, for a key of another executor, that executor's schema."""
        if not isinstance(table, dict):
            raise self.fail(self.lines.top("executor"),
                            f"executor must be an [executor] table, not {_toml_type(table)}")
        if "kind" in table:
            problem = executor_kind_problem(table["kind"])
            if problem:
                raise self.fail(self.lines.table_key("executor", "kind"),
                                f"[executor]: kind = {table['kind']!r}: {problem}")
        fields = _ExecutorKeys(table.get("kind", ExecutorConfig.kind))
        values: dict[str, Any] = {}
        extra: dict[str, Any] = {}
        for key, value in table.items():
            line = self.lines.table_key("executor", key)
            field = fields.find(key)
            if field is None:
                names = fields.names()
                raise self.fail(line, f"[executor]: unknown key {key!r}{did_you_mean(key, names)} "
                                      f"(expected {', '.join(names)})")
            if not field.metadata["check"](value):
                raise self.fail(line, f"[executor]: {key} = {value!r}: expected {field.metadata['expected']}")
            (values if key in EXECUTOR_KEYS else extra)[key] = tuple(value) if isinstance(value, list) else value
        return ExecutorConfig(**values, extra=extra)


class _ExecutorKeys:
    """The keys an ``[executor]`` table may hold: the generic ones, the kind's options, then the options of the
    other installed executors (a table may carry them for ``--executor``); the others are read only when needed."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self.generic = {f.name: f for f in dataclasses.fields(ExecutorConfig) if f.name in EXECUTOR_KEYS}
        self.own = _schema_fields(kind)
        self._others: dict[str, dataclasses.Field] | None = None

    def others(self) -> dict[str, dataclasses.Field]:
        if self._others is None:
            from biobench_core.contract._registry import get_registry

            self._others = {}
            for spec in get_registry().executors.listed():
                if spec.name != self.kind:
                    try:
                        fields = _schema_fields(spec.name)
                    except Exception:  # noqa: BLE001 - another executor's broken schema only hides its keys
                        continue
                    for name, field in fields.items():
                        self._others.setdefault(name, field)
        return self._others

    def find(self, key: str) -> dataclasses.Field | None:
        return self.generic.get(key) or self.own.get(key) or self.others().get(key)

    def names(self) -> list[str]:
        return list(dict.fromkeys([*self.generic, *self.own, *self.others()]))


def _schema_fields(kind: str) -> dict[str, dataclasses.Field]:
    schema = options_schema(kind)
    return {} if schema is None else {f.name: f for f in dataclasses.fields(schema)}


def _option_problem(key: str, value: Any) -> str | None:
    """What a run option's value should be, or ``None`` when it is fine."""
    if key in OPTION_CHOICES and (not isinstance(value, str) or value not in OPTION_CHOICES[key]):
        return f"expected one of {', '.join(OPTION_CHOICES[key])}"
    if key in OPTION_MINIMUM and (isinstance(value, bool) or not isinstance(value, int)
                                  or value < OPTION_MINIMUM[key]):
        return f"expected an integer >= {OPTION_MINIMUM[key]}"
    if key == "pixel_cache_gb" and (isinstance(value, bool) or not isinstance(value, (int, float)) or not value >= 0):
        return "expected a number of GiB >= 0 (0 turns the pixel cache off)"
    if key == "protocol":
        from biobench_core.contract._catalog import list_tasks
        from biobench_core.contract._protocols import ProtocolError, check_protocol

        try:
            check_protocol(value if isinstance(value, str) else repr(value), list_tasks())
        except ProtocolError as exc:
            return str(exc)
    if key == "results" and (not isinstance(value, str) or not value):
        return "expected a folder name (a non-empty string)"
    return None


def _setting_text(value: str | int | float | bool) -> str:
    """A setting as ``--set`` would give it: TOML's ``true`` is the string ``"true"``, as on the command line."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


_HEADER = re.compile(r"^\s*(\[\[?)\s*([A-Za-z0-9_.\-\"' ]+?)\s*\]\]?\s*(?:#.*)?$")


@dataclasses.dataclass
class _Block:
    """A table header (``""`` for the top of the file) and the numbered lines under it."""

    name: str
    array: bool
    line: int
    body: list[tuple[int, str]]


class _Lines:
    """Where a key is in the file: the first ``KEY =`` (or ``KEY.sub =``) line in the right table.

    Good enough for ordinary files; a value spread over several lines that looks like a table header could
    mislead it, and then a message names a nearby line or none.
    """

    def __init__(self, text: str) -> None:
        self.blocks = [_Block("", False, 0, [])]
        for number, line in enumerate(text.splitlines(), 1):
            match = _HEADER.match(line)
            if match:
                name = re.sub(r"\s*\.\s*", ".", match.group(2).replace('"', "").replace("'", ""))
                self.blocks.append(_Block(name, match.group(1) == "[[", number, []))
            else:
                self.blocks[-1].body.append((number, line))

    @staticmethod
    def _find(block: _Block, key: str) -> int | None:
        pattern = re.compile(rf"""^\s*(?:{re.escape(key)}|"{re.escape(key)}"|'{re.escape(key)}')\s*[=.]""")
        return next((number for number, line in block.body if pattern.match(line)), None)

    def top(self, key: str) -> int | None:
        """A top-level key: its ``KEY =`` line, else the first header of its table."""
        found = self._find(self.blocks[0], key)
        if found:
            return found
        return next((b.line for b in self.blocks[1:] if b.name == key or b.name.startswith(f"{key}.")), None)

    def _entry(self, table: str, index: int) -> list[_Block]:
        """The ``index``-th ``[[table]]`` block and the ``[table.sub]`` blocks that follow it."""
        starts = [i for i, b in enumerate(self.blocks) if b.name == table and b.array]
        if index > len(starts):
            return []
        region = [self.blocks[starts[index - 1]]]
        for block in self.blocks[starts[index - 1] + 1:]:
            if not block.name.startswith(f"{table}."):
                break
            region.append(block)
        return region

    def entry_header(self, table: str, index: int) -> int | None:
        region = self._entry(table, index)
        return region[0].line if region else self.top(table)

    def entry_key(self, table: str, index: int, key: str) -> int | None:
        region = self._entry(table, index)
        if not region:
            return self.top(table)
        found = self._find(region[0], key)
        if found:
            return found
        return next((b.line for b in region[1:] if b.name == f"{table}.{key}" or b.name.startswith(
            f"{table}.{key}.")), region[0].line)

    def table_key(self, table: str, key: str) -> int | None:
        """A key of a single ``[table]``: its line, else the line of ``[table.key]``, else the table's header."""
        blocks = [b for b in self.blocks if b.name == table and not b.array]
        if not blocks:
            return self.top(table)
        found = self._find(blocks[0], key)
        if found:
            return found
        return next((b.line for b in self.blocks if b.name == f"{table}.{key}"), blocks[0].line)

    def setting(self, index: int, name: str) -> int | None:
        """A task setting: its line in a ``[task.settings]`` table, else the task's ``settings`` line."""
        for block in self._entry("task", index)[1:]:
            if block.name == "task.settings":
                return self._find(block, name) or block.line
        return self.entry_key("task", index, "settings")
