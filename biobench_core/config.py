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
backbones, ``settings = { n_train = [10, 100], seed = [0, 1] }`` four tasks. An ``[executor]`` table says where the
matrix runs (see :class:`ExecutorConfig` and docs/scaleout.md)::

    [executor]
    kind = "slurm"             # inprocess (default), local (worker processes), slurm (through submitit)
    jobs = 8                   # workers: local processes or Slurm array tasks
    partition = "gpu"
    account = "mylab"
    qos = "normal"
    time = "04:00:00"          # or minutes, e.g. 240
    gpus_per_node = 1
    cpus_per_task = 8
    mem = "32G"
    array_parallelism = 4
    sbatch = { constraint = "a100" }   # any further sbatch option

Top-level keys are the ``run`` options (``results``, ``device``, ``dtype``, ``batch_size``, ``workers``,
``limit``, ``on_bad_image``, ``pixel_cache_gb``), checked like their flags (``batch_size`` and ``workers``, when
neither gives them, are chosen for the machine: :mod:`biobench_core.loader_defaults`); a flag given on the command line always wins over them,
even when it equals its default. A task's ``settings`` must be ones the task declares (see
:class:`biobench_core.tasks.Task`); ``--set`` wins over them. A task's relative ``data`` path is relative to the
config file; ``results`` is relative to the current directory, like ``--results``.

The whole file is checked when it is loaded, before any work: an unknown key (with a "did you mean"), a value of
the wrong type or out of range is one :class:`ConfigError` naming the file, the line, the key and what was
expected, e.g. ``run.toml:7: [[backbone]] 1: unknown key 'wieghts'; did you mean 'weights'? (expected id,
weights)``. The run options' choices, minimums and defaults live here too; the command line's flags use them.
"""

from __future__ import annotations

import dataclasses
import difflib
import itertools
import math
import re
import sys
from collections.abc import Collection
from pathlib import Path
from typing import Any

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

__all__ = ["RunConfig", "TaskRequest", "ExecutorConfig", "load_config", "ConfigError", "OPTION_DEFAULTS",
           "OPTION_CHOICES", "OPTION_MINIMUM", "EXECUTOR_KINDS", "parse_minutes", "gib_or_none"]

#: The run options a config file may set at its top, with the defaults that apply when neither the command line
#: nor the file gives them, the choices of those that take a word and the minimum of those that take a count.
OPTION_DEFAULTS: dict[str, Any] = {"results": "results", "device": "auto", "dtype": "fp32", "batch_size": None,
                                   "workers": None, "limit": None, "on_bad_image": "skip", "pixel_cache_gb": None}
OPTION_CHOICES: dict[str, tuple[str, ...]] = {"device": ("auto", "cpu", "cuda"), "dtype": ("fp32", "bf16", "fp16"),
                                              "on_bad_image": ("skip", "fail")}
OPTION_MINIMUM: dict[str, int] = {"batch_size": 1, "workers": 0, "limit": 1}
OPTION_KEYS = frozenset(OPTION_DEFAULTS)

#: The keys of one ``[[backbone]]`` and one ``[[task]]`` entry; ``id`` is required.
ENTRY_KEYS = {"backbone": ("id", "weights"), "task": ("id", "data", "settings")}
#: The tables a config file may have besides the run options.
TABLES = ("backbone", "task", "executor")
EXECUTOR_KINDS = ("inprocess", "local", "slurm")
STORE_MODES = ("sqlite", "files")


def parse_minutes(value: int | str) -> int | None:
    """Slurm's time limit as minutes: ``90``, ``"90"``, ``"1:30:00"``, ``"2-00:00:00"``; ``None`` if not one."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if value >= 1 else None
    match = re.fullmatch(r"(?:(\d+)-)?(\d+)(?::(\d+))?(?::(\d+))?", value.strip()) if isinstance(value, str) else None
    if not match:
        return None
    days, first, second, third = match.groups()
    if days is None and second is None:  # "MM"
        minutes = float(first)
    elif third is None and days is None:  # "MM:SS"
        minutes = int(first) + int(second) / 60
    else:  # "[D-]HH[:MM[:SS]]"
        minutes = int(days or 0) * 1440 + int(first) * 60 + int(second or 0) + int(third or 0) / 60
    return math.ceil(minutes) if minutes > 0 else None


def _field(default: Any, expected: str, check: Any, **kwargs: Any) -> Any:
    """A checked field of :class:`ExecutorConfig`: ``check(value)`` is true for a good TOML value."""
    factory = kwargs.pop("factory", None)
    metadata = {"expected": expected, "check": check}
    if factory is not None:
        return dataclasses.field(default_factory=factory, metadata=metadata)
    return dataclasses.field(default=default, metadata=metadata)


def _is_int(minimum: int) -> Any:
    return lambda v: isinstance(v, int) and not isinstance(v, bool) and v >= minimum


def _is_str(v: Any) -> bool:
    return isinstance(v, str) and bool(v.strip())


def _is_scalar(v: Any) -> bool:
    return isinstance(v, (str, int, float))


@dataclasses.dataclass(frozen=True)
class ExecutorConfig:
    """The ``[executor]`` table: where and how the matrix runs. Each field's TOML type is checked on loading."""

    kind: str = _field("inprocess", f"one of {', '.join(EXECUTOR_KINDS)}", lambda v: v in EXECUTOR_KINDS)
    jobs: int | None = _field(None, "an integer >= 1 (the number of workers)", _is_int(1))
    devices: tuple[int, ...] = _field((), "an array of GPU indices, e.g. [0, 1]",
                                      lambda v: isinstance(v, list) and bool(v) and all(_is_int(0)(d) for d in v))
    store: str = _field("sqlite", f"one of {', '.join(STORE_MODES)}", lambda v: v in STORE_MODES)
    max_attempts: int = _field(3, "an integer >= 1", _is_int(1))
    claim_timeout: int = _field(60, "an integer >= 2 (seconds)", _is_int(2))
    partition: str | None = _field(None, "a string", _is_str)
    account: str | None = _field(None, "a string", _is_str)
    qos: str | None = _field(None, "a string", _is_str)
    time: int | str = _field(60, 'minutes (an integer >= 1) or a Slurm time such as "04:00:00" or "1-00:00:00"',
                       lambda v: parse_minutes(v) is not None)
    gpus_per_node: int | None = _field(None, "an integer >= 0", _is_int(0))
    cpus_per_task: int | None = _field(None, "an integer >= 1", _is_int(1))
    mem: str | None = _field(None, 'a Slurm memory size such as "32G" or "4000M"',
                             lambda v: isinstance(v, str) and re.fullmatch(r"\d+[KMGT]?B?", v.strip(), re.I))
    array_parallelism: int | None = _field(None, "an integer >= 1", _is_int(1))
    sbatch: dict[str, Any] = _field(None, 'a table of sbatch options, e.g. { constraint = "a100" }',
                                    lambda v: isinstance(v, dict) and all(_is_scalar(x) for x in v.values()),
                                    factory=dict)
    setup: tuple[str, ...] = _field((), "an array of shell lines run before each job",
                                    lambda v: isinstance(v, list) and all(isinstance(x, str) for x in v))
    folder: str | None = _field(None, "a folder name (a string)", _is_str)

    @property
    def time_minutes(self) -> int:
        return parse_minutes(self.time) or 60


EXECUTOR_KEYS = tuple(f.name for f in dataclasses.fields(ExecutorConfig))


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
    neither checked nor returned.
    """
    path = Path(path)
    try:
        text = path.read_text()
    except FileNotFoundError:
        raise ConfigError(f"{path}: config file does not exist") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read config: {exc}") from None
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    checker = _Checker(path, text)
    options = checker.options(raw, overridden)
    backbones = [b for i, entry in enumerate(checker.entries(raw, "backbone"), 1) for b in checker.backbone(i, entry)]
    tasks = [t for i, entry in enumerate(checker.entries(raw, "task"), 1) for t in checker.task(i, entry)]
    executor = checker.executor(raw["executor"]) if "executor" in raw else None
    return RunConfig(backbones, tasks, options, executor)


def _did_you_mean(word: str, choices: Collection[str]) -> str:
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f"; did you mean {close[0]!r}?" if close else ""


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
                                f"unknown key {key!r}{_did_you_mean(key, allowed)} (expected "
                                f"{', '.join(f'[[{t}]]' for t in ENTRY_KEYS)}, [executor], "
                                f"{', '.join(sorted(OPTION_KEYS))})")
        options = {}
        for key in OPTION_DEFAULTS:  # in a fixed order, so the first mistake reported does not depend on the file
            if key in raw and key not in overridden:
                expected = _option_problem(key, raw[key])
                if expected:
                    raise self.fail(self.lines.top(key), f"{key} = {raw[key]!r}: {expected}")
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
                hint = _did_you_mean(key, allowed)
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
        """One ``(id, weights)`` per weights: a list of weights is one backbone each."""
        backbone_id = self._entry("backbone", index, entry)
        weights = entry.get("weights")
        choices = weights if isinstance(weights, list) and weights else [weights]
        if not all(w is None or isinstance(w, str) for w in choices):
            raise self.fail(self.lines.entry_key("backbone", index, "weights"),
                            f"[[backbone]] {index}: weights = {weights!r}: expected a string or a non-empty array "
                            "of strings")
        return [(backbone_id, w) for w in choices]

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
        """The ``[executor]`` table, each key checked against :class:`ExecutorConfig`'s fields."""
        if not isinstance(table, dict):
            raise self.fail(self.lines.top("executor"),
                            f"executor must be an [executor] table, not {_toml_type(table)}")
        fields = {f.name: f for f in dataclasses.fields(ExecutorConfig)}
        values = {}
        for key, value in table.items():
            line = self.lines.table_key("executor", key)
            if key not in fields:
                raise self.fail(line, f"[executor]: unknown key {key!r}{_did_you_mean(key, fields)} "
                                      f"(expected {', '.join(fields)})")
            if not fields[key].metadata["check"](value):
                raise self.fail(line, f"[executor]: {key} = {value!r}: expected {fields[key].metadata['expected']}")
            values[key] = tuple(value) if isinstance(value, list) else value
        return ExecutorConfig(**values)


def gib_or_none(text: str) -> float | None:
    """``text`` as a number of GiB >= 0 (the pixel cache's budget, from a flag or the environment), else ``None``."""
    try:
        value = float(text)
    except ValueError:
        return None
    return value if value >= 0 else None  # NaN fails the comparison too


def _option_problem(key: str, value: Any) -> str | None:
    """What a run option's value should be, or ``None`` when it is fine."""
    if key in OPTION_CHOICES and (not isinstance(value, str) or value not in OPTION_CHOICES[key]):
        return f"expected one of {', '.join(OPTION_CHOICES[key])}"
    if key in OPTION_MINIMUM and (isinstance(value, bool) or not isinstance(value, int)
                                  or value < OPTION_MINIMUM[key]):
        return f"expected an integer >= {OPTION_MINIMUM[key]}"
    if key == "pixel_cache_gb" and (isinstance(value, bool) or not isinstance(value, (int, float)) or not value >= 0):
        return "expected a number of GiB >= 0 (0 turns the pixel cache off)"
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
