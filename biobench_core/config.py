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

Top-level keys are the ``run`` options (``results``, ``device``, ``dtype``, ``batch_size``, ``workers``,
``limit``, ``on_bad_image``), checked like their flags; a flag given on the command line always wins over them,
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
import re
import sys
from collections.abc import Collection
from pathlib import Path
from typing import Any

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

__all__ = ["RunConfig", "TaskRequest", "load_config", "ConfigError", "OPTION_DEFAULTS", "OPTION_CHOICES",
           "OPTION_MINIMUM"]

#: The run options a config file may set at its top, with the defaults that apply when neither the command line
#: nor the file gives them, the choices of those that take a word and the minimum of those that take a count.
OPTION_DEFAULTS: dict[str, Any] = {"results": "results", "device": "auto", "dtype": "fp32", "batch_size": 32,
                                   "workers": 1, "limit": None, "on_bad_image": "skip"}
OPTION_CHOICES: dict[str, tuple[str, ...]] = {"device": ("auto", "cpu", "cuda"), "dtype": ("fp32", "bf16", "fp16"),
                                              "on_bad_image": ("skip", "fail")}
OPTION_MINIMUM: dict[str, int] = {"batch_size": 1, "workers": 0, "limit": 1}
OPTION_KEYS = frozenset(OPTION_DEFAULTS)

#: The keys of one ``[[backbone]]`` and one ``[[task]]`` entry; ``id`` is required.
ENTRY_KEYS = {"backbone": ("id", "weights"), "task": ("id", "data", "settings")}


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
    backbones: list[tuple[str, str | None]]
    tasks: list[TaskRequest]
    options: dict[str, Any]


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
    backbones = [checker.backbone(i, entry) for i, entry in enumerate(checker.entries(raw, "backbone"), 1)]
    tasks = [checker.task(i, entry) for i, entry in enumerate(checker.entries(raw, "task"), 1)]
    return RunConfig(backbones, tasks, options)


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
        allowed = OPTION_KEYS | set(ENTRY_KEYS)
        for key in raw:
            if key not in allowed:
                raise self.fail(self.lines.top(key),
                                f"unknown key {key!r}{_did_you_mean(key, allowed)} (expected "
                                f"{', '.join(f'[[{t}]]' for t in ENTRY_KEYS)}, {', '.join(sorted(OPTION_KEYS))})")
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

    def backbone(self, index: int, entry: dict[str, Any]) -> tuple[str, str | None]:
        backbone_id = self._entry("backbone", index, entry)
        weights = entry.get("weights")
        if weights is not None and not isinstance(weights, str):
            raise self.fail(self.lines.entry_key("backbone", index, "weights"),
                            f"[[backbone]] {index}: weights = {weights!r}: expected a string")
        return backbone_id, weights

    def task(self, index: int, entry: dict[str, Any]) -> TaskRequest:
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
            if not isinstance(value, (str, int, float)):  # bool is an int
                raise self.fail(self.lines.setting(index, name),
                                f"{where}: settings.{name} = {value!r}: expected a string, a number or a boolean")
        return TaskRequest(task_id, data, tuple((name, _setting_text(v)) for name, v in settings.items()))


def _option_problem(key: str, value: Any) -> str | None:
    """What a run option's value should be, or ``None`` when it is fine."""
    if key in OPTION_CHOICES and (not isinstance(value, str) or value not in OPTION_CHOICES[key]):
        return f"expected one of {', '.join(OPTION_CHOICES[key])}"
    if key in OPTION_MINIMUM and (isinstance(value, bool) or not isinstance(value, int)
                                  or value < OPTION_MINIMUM[key]):
        return f"expected an integer >= {OPTION_MINIMUM[key]}"
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

    def setting(self, index: int, name: str) -> int | None:
        """A task setting: its line in a ``[task.settings]`` table, else the task's ``settings`` line."""
        for block in self._entry("task", index)[1:]:
            if block.name == "task.settings":
                return self._find(block, name) or block.line
        return self.entry_key("task", index, "settings")
