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
"""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path
from typing import Any

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

__all__ = ["RunConfig", "TaskRequest", "load_config", "ConfigError"]

OPTION_KEYS = {"results", "device", "dtype", "batch_size", "workers", "limit", "on_bad_image"}


class ConfigError(ValueError):
    """A config file that cannot be used; the message names the file and the key."""


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


def load_config(path: str | Path) -> RunConfig:
    path = Path(path)
    try:
        raw = tomllib.loads(path.read_text())
    except FileNotFoundError:
        raise ConfigError(f"{path}: config file does not exist") from None
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read config: {exc}") from None
    unknown = set(raw) - OPTION_KEYS - {"backbone", "task"}
    if unknown:
        raise ConfigError(f"{path}: unknown key(s) {', '.join(sorted(unknown))}; "
                          f"expected [[backbone]], [[task]] and {', '.join(sorted(OPTION_KEYS))}")
    backbones = []
    for i, entry in enumerate(raw.get("backbone", [])):
        if not isinstance(entry, dict) or "id" not in entry:
            raise ConfigError(f"{path}: [[backbone]] number {i + 1} needs an 'id'")
        backbones.append((str(entry["id"]), entry.get("weights")))
    tasks = []
    for i, entry in enumerate(raw.get("task", [])):
        if not isinstance(entry, dict) or "id" not in entry:
            raise ConfigError(f"{path}: [[task]] number {i + 1} needs an 'id'")
        data = entry.get("data")
        if data is not None:
            data = str((path.parent / str(data)).expanduser()) if not Path(str(data)).is_absolute() else str(data)
        settings = entry.get("settings", {})
        if not isinstance(settings, dict):
            raise ConfigError(f"{path}: [[task]] {entry['id']}: 'settings' must be a table")
        tasks.append(TaskRequest(str(entry["id"]), data, tuple((str(k), str(v)) for k, v in settings.items())))
    return RunConfig(backbones, tasks, {k: raw[k] for k in OPTION_KEYS & set(raw)})
