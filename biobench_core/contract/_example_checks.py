"""A task's examples checked as a whole, when a run is planned: mistakes in them are named before any extraction.

Without this check each mistake surfaces late and blames something else: duplicate ids as a results-store
``UNIQUE constraint`` after extraction and fitting, a string label as ``int()``'s ``ValueError`` naming no
example (or, for ``'0'``, silently converted), a test class no training example has as a lower score. Here each
is one line naming the task, the split and the first offending example (:class:`ExamplesError`, a usage error):

- an example id twice in one split;
- an id in both splits, unless the task declares :attr:`~biobench_core.contract._tasks.Task.leave_one_out`;
- a label that is not an int (``bool``, ``str``, ``numpy.str_``...; numpy integers are ints);
- a test label no training example has, unless the task declares
  :attr:`~biobench_core.contract._tasks.Task.open_set`. Only a task scored by the core's probe (the default
  :meth:`~biobench_core.contract._tasks.Task.evaluate`) is held to this: one that evaluates in its own way
  (per-trait probes, say) decides for itself what its labels mean.

Sets find whether a split has a mistake; only then is it walked to name the first offending example.
"""

from __future__ import annotations

import numbers
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

import numpy as np

from biobench_core.contract._errors import type_name
from biobench_core.contract._tasks import SPLITS, TaskDataError

if TYPE_CHECKING:
    from biobench_core.contract._tasks import Example, Task

__all__ = ["ExamplesError", "check_examples"]


class ExamplesError(TaskDataError):
    """A task's examples break the contract (duplicate ids, shared ids, a label that is no int, an unseen test
    label); the command line reports it as a usage error (exit 2), before any work."""

    exit_code = 2


def _is_int_type(kind: type) -> bool:
    """``int`` and numpy's integers, not ``bool`` (an ``Integral`` too) nor anything else."""
    return kind is int or (issubclass(kind, numbers.Integral) and not issubclass(kind, bool))


def _first(examples: Sequence[Example], wrong: Callable[[Example], bool]) -> Example:
    """The first of ``examples`` that is ``wrong`` (only called once a set has shown that one is)."""
    return next(ex for ex in examples if wrong(ex))


def _first_repeat(examples: Sequence[Example]) -> Example:
    """The first of ``examples`` whose id an earlier one has."""
    seen: set[str] = set()
    for ex in examples:
        if ex.id in seen:
            return ex
        seen.add(ex.id)
    raise AssertionError("no repeated id")


def check_examples(task: Task) -> None:
    """Raise :class:`ExamplesError` for the first mistake in ``task``'s examples (see the module docstring).

    Sets find whether a mistake exists at C speed; only then is the split walked to name its first example.
    """
    from biobench_core.contract._tasks import Task

    task_id = task.spec.id
    train_ids: set[str] = set()
    train_labels: set[int] = set()
    for split in SPLITS:
        examples = list(task.examples(split))
        if not all(map(_is_int_type, {type(ex.label) for ex in examples})):
            ex = _first(examples, lambda ex: not _is_int_type(type(ex.label)))
            shown = ex.label.item() if isinstance(ex.label, np.generic) else ex.label  # '0', not np.str_('0')
            raise ExamplesError(f"{task_id}: {split} example {ex.id!r} has label {shown!r} "
                                f"({type_name(ex.label)}); labels must be ints (class indices)")
        labels = {ex.label for ex in examples}
        ids = {ex.id for ex in examples}
        if len(ids) != len(examples):
            ex = _first_repeat(examples)
            raise ExamplesError(f"{task_id}: {split} example {ex.id!r} appears twice in the {split} split "
                                f"(example ids must be unique)")
        if split == "train":
            train_ids, train_labels = ids, labels
            continue
        if not task.leave_one_out and not ids.isdisjoint(train_ids):
            ex = _first(examples, lambda ex: ex.id in train_ids)
            raise ExamplesError(f"{task_id}: test example {ex.id!r} is in the train split too (train and test must "
                                f"not share ids; a task scoring each example against the others declares "
                                f"leave_one_out = True)")
        unseen_allowed = task.open_set or type(task).evaluate is not Task.evaluate
        if not unseen_allowed and not labels <= train_labels:
            ex = _first(examples, lambda ex: ex.label not in train_labels)
            raise ExamplesError(f"{task_id}: test example {ex.id!r} has label {ex.label}, which no train example "
                                f"has (a task whose test classes may be missing from train declares "
                                f"open_set = True)")
