"""``n_train`` values a task cannot honour: refused before any work, never run under their label.

Two ways a value is impossible:

- above :meth:`~biobench_core.contract._tasks.Task.n_train_limit`, it would train on the whole split while its
  column says ``n_train=N``;
- so small that the examples it chooses hold one class while the split holds more (a task scored by the core's
  probe; see :func:`~biobench_core.engine._data.check_classes`), the probe could only fail after extraction.

Such a value is dropped from the plan with a ``refuse`` line naming the task, the split and why, as long as another
value of the same task (same data and other settings: a config's list) is left to run; when none is, the run is
refused (a usage error, exit 2).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from biobench_core.contract._tasks import SettingsError, Task
from biobench_core.engine._data import DataError, check_classes

__all__ = ["within_n_train_limits"]


def _too_large(task: Task) -> bool:
    return int(task.settings["n_train"]) > task.n_train_limit()


def _why_too_large(task: Task, values: Sequence[str]) -> str:
    asked = ", ".join(f"n_train={v}" for v in values)
    return (f"{task.spec.id}: setting {asked}: its train split holds {len(task.examples('train'))} examples, so "
            f"n_train can be at most {task.n_train_limit()}")


def _one_class(task: Task) -> str | None:
    """Why the examples ``n_train`` chooses cannot train the task's probe, or None (a split of one class is the
    data's fault, refused with the data)."""
    if len({example.label for example in task.examples("train")}) < 2:
        return None
    try:
        check_classes(task, task.chosen_examples("train"))
    except DataError as exc:
        return str(exc)
    return None


def _problem(task: Task) -> str | None:
    if "n_train" not in task.settings:
        return None
    if _too_large(task):
        return _why_too_large(task, [task.settings["n_train"]])
    return _one_class(task)


def within_n_train_limits(tasks: Sequence[Task], log: Callable[[str], None]) -> list[Task]:
    """``tasks`` without those whose ``n_train`` cannot be honoured, each logged; a :class:`SettingsError` when that
    leaves a task with no value at all."""
    problems = {id(task): _problem(task) for task in tasks}
    if not any(problems.values()):
        return list(tasks)
    groups: dict[tuple, list[Task]] = {}
    for task in tasks:  # the values of one request: same task, data and other settings
        rest = tuple(sorted((k, v) for k, v in task.settings.items() if k != "n_train"))
        groups.setdefault((task.spec.id, str(task.data), rest), []).append(task)
    for group in groups.values():
        refused = [task for task in group if problems[id(task)]]
        if refused and len(refused) == len(group):
            too_large = [task for task in refused if _too_large(task)]
            reasons = [_why_too_large(too_large[0], [t.settings["n_train"] for t in too_large])] if too_large else []
            reasons += [problems[id(task)] for task in refused if task not in too_large]
            raise SettingsError("; ".join(reasons))
        for task in refused:
            log(f"refuse {problems[id(task)]}; left out of the plan, its other n_train values are kept")
    return [task for task in tasks if not problems[id(task)]]
