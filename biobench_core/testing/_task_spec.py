"""``check_task_spec``: what ``biobench plugins validate`` checks of each task a plugin offers.

A task spec names code as ``"module:function"`` strings that nothing imports until a run needs them, so a typo in
a metric only shows after extraction. This check imports every one, checks each declared setting's default as a
value of the setting, and, where the spec names a ``sample_data`` generator (or the task needs no data), runs
:func:`~biobench_core.testing.check_task` on it end to end with the kit's tiny backbone.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from biobench_core.testing._report import Report, exception_line

__all__ = ["check_task_spec"]

#: Examples per split of the end-to-end run of a task that brings its own data (which may be large): enough for
#: every class of a small benchmark to be learnt, few enough to run in seconds.
BUNDLED_LIMIT = 200


def _references(spec: Any) -> list[tuple[str, str]]:
    """``(what, "module:attr")`` for every reference the spec names: its factory, its metric when that names a
    function (or the metric spec's functions), its data recipe and its sample-data generator."""
    from biobench_core.contract._extensions import metric_spec

    found = [("factory", spec.factory)]
    if ":" in spec.metric:
        found.append(("metric", spec.metric))
    else:
        try:
            metric = metric_spec(spec.metric)
        except Exception:  # noqa: BLE001 - an unknown name is reported by _check_metric_name
            metric = None
        if metric is not None:
            found.append((f"metric {metric.name}'s function", metric.factory))
            if metric.replicates:
                found.append((f"metric {metric.name}'s replicates", metric.replicates))
    found += [(field, getattr(spec, field)) for field in ("data_recipe", "sample_data") if getattr(spec, field)]
    return found


def _check_references(report: Report, spec: Any) -> bool:
    """Import every reference; one failing check per reference that does not resolve, naming it."""
    from biobench_core.contract._extensions import metric_spec
    from biobench_core.contract._specs import import_attr

    ok = True
    if ":" not in spec.metric:
        try:
            metric_spec(spec.metric)
        except Exception as exc:  # noqa: BLE001
            report.fail("references", f"metric {spec.metric!r} is no metric of an installed plugin: "
                                      f"{exception_line(exc)}")
            ok = False
    references = _references(spec)
    for what, reference in references:
        try:
            target = import_attr(reference)
        except Exception as exc:  # noqa: BLE001
            report.fail("references", f"{what} {reference!r} does not import: {exception_line(exc)}")
            ok = False
            continue
        if not callable(target) and what not in ("data_recipe",):
            report.fail("references", f"{what} {reference!r} is a {type(target).__name__}, not callable")
            ok = False
    if ok:
        report.ok_("references", f"{len(references)} 'module:attr' reference(s) import: "
                                 + ", ".join(what for what, _ in references))
    return ok


def _check_declarations(report: Report, spec: Any) -> bool:
    """The task's settings are declared consistently (:meth:`Task.check_declarations`): each a ``Setting`` whose
    default is of its type, within its bounds and among its choices. False when not (building it would fail)."""
    from biobench_core.contract._specs import import_attr

    task_class = import_attr(spec.factory)
    check = getattr(task_class, "check_declarations", None)
    if check is None:
        return True  # a factory function, not a Task class: check_task checks the settings of what it builds
    try:
        check(spec.id)
    except Exception as exc:  # noqa: BLE001
        report.fail("setting declarations", exception_line(exc))
        return False
    declared = task_class.accepted_settings()
    defaults = sorted(name for name, setting in declared.items() if getattr(setting, "default", None) is not None)
    report.ok_("setting declarations", f"{len(declared)} setting(s) declared consistently; defaults checked against "
                                       f"their types: {', '.join(defaults) or 'none'}")
    return True


def _merge(report: Report, other: Report) -> None:
    report.checks.extend(other.checks)


def check_task_spec(task_id: str, *, run: bool = True) -> Report:
    """Check the task ``task_id`` (through the current registry) as ``biobench plugins validate`` does.

    Imports every ``"module:attr"`` its spec names (factory, metric, ``data_recipe``, ``sample_data``); checks that
    each declared setting's default is a value the setting accepts; then runs :func:`check_task` on the
    ``sample_data`` generator's dataset, written to a temporary folder (on the first :data:`BUNDLED_LIMIT` examples
    of each split of its own data when the task needs none), end to end with the kit's tiny backbone when ``run`` (the task must then be installed). Without a generator,
    a ``skip`` check says which checks could not run.
    """
    from biobench_core.contract._catalog import resolve_task
    from biobench_core.contract._specs import import_attr
    from biobench_core.testing._task import check_task

    report = Report(task_id)
    try:
        spec = resolve_task(task_id)
    except Exception as exc:  # noqa: BLE001
        report.fail("spec", f"resolve_task({task_id!r}) raised {exception_line(exc)}")
        return report
    report.subject = spec.id
    if not _check_references(report, spec):
        return report
    if not _check_declarations(report, spec):
        return report
    if not spec.needs_data:
        _merge(report, check_task(spec.id, run=run, run_limit=BUNDLED_LIMIT))
        return report
    if spec.sample_data is None:
        report.add("end to end", "skip",
                   "no sample_data generator, so check_task (examples, ids, labels, load(), manifest, evaluate) and "
                   "the end-to-end run did not run; name one as TaskSpec(sample_data='module:function'), a "
                   "function(folder) that writes a tiny dataset")
        return report
    with tempfile.TemporaryDirectory(prefix="biobench-sample-") as tmp:
        folder = Path(tmp) / spec.name
        folder.mkdir()
        try:
            import_attr(spec.sample_data)(folder)
        except Exception as exc:  # noqa: BLE001
            report.fail("sample data", f"sample_data {spec.sample_data!r} raised {exception_line(exc)}")
            return report
        report.ok_("sample data", f"{spec.sample_data} wrote {sum(1 for p in folder.rglob('*') if p.is_file())} "
                                  f"file(s)")
        _merge(report, check_task(spec.id, folder, run=run))
    return report
