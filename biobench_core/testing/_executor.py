"""``check_executor``: load an executor through the registry, check its contract, and run one empty worker on it."""

from __future__ import annotations

import dataclasses
import inspect
import tempfile
import time
from pathlib import Path
from typing import Any

from biobench_core.testing._report import Report, exception_line

__all__ = ["check_executor"]


def check_executor(name: str, *, options: dict[str, Any] | None = None, env: dict[str, str] | None = None,
                   start: bool = True, timeout: float = 300.0) -> Report:
    """Check the executor ``name`` (through the current registry); return a :class:`Report`.

    Checks: ``name`` resolves to an :class:`~biobench_core.contract._specs.ExecutorSpec` whose factory imports and
    can be called as ``factory(config, results_dir, env)``; its ``options`` schema, if any, imports and is well
    formed (a dataclass of ``executor_option`` fields with defaults) and accepts ``options`` (the executor's own
    ``[executor]`` keys, as TOML gives them); and, with ``start`` (the default), the executor builds from an
    ``[executor]`` table of ``kind = name`` and ``options`` with ``kind``, ``default_workers`` and ``start``, starts
    one worker on an empty matrix, and that worker's handle has ``name``, ``done()``, ``error()`` and ``cancel()``
    and reports done without error within ``timeout`` seconds. ``env`` goes to the factory (e.g. a test cluster's
    ``SLURM_CONF``). Without ``start`` nothing is built: for an executor that needs what the machine lacks (a
    Slurm controller), the factory is checked to be a class with ``start``.
    """
    from biobench_core.contract._extensions import executor_spec
    from biobench_core.scaleout._config import ExecutorConfig, options_schema
    from biobench_core.scaleout._executors import FACTORY_PARAMETERS

    report = Report(f"executor {name}")
    try:
        spec = executor_spec(name)
        factory = spec.load()
    except Exception as exc:  # noqa: BLE001
        report.fail("load", f"executor {name!r} does not load: {exception_line(exc)}")
        return report
    problem = _signature_problem(factory, FACTORY_PARAMETERS)
    if problem:
        report.fail("load", f"factory {spec.factory!r} {problem}")
        return report
    report.ok_("load", f"{spec.factory}({', '.join(FACTORY_PARAMETERS)})")

    try:
        schema = options_schema(name)
    except Exception as exc:  # noqa: BLE001
        report.fail("options", exception_line(exc))
        return report
    problem = _options_problem(schema, options or {})
    if problem:
        report.fail("options", problem)
        return report
    if schema is None:
        report.ok_("options", "none (only the generic [executor] keys)")
    else:
        report.ok_("options", f"{spec.options}: {', '.join(f.name for f in dataclasses.fields(schema))}")

    if not start:
        if not (inspect.isclass(factory) and callable(getattr(factory, "start", None))):
            report.fail("protocol", f"factory {spec.factory!r} is not a class with a start(jobs) method "
                                    "(an executor is checked without starting it only when it is one)")
        else:
            report.ok_("protocol", "a class with start(jobs); not started")
        return report
    config = ExecutorConfig(kind=name, extra={key: tuple(v) if isinstance(v, list) else v
                                              for key, v in (options or {}).items()})
    with tempfile.TemporaryDirectory(prefix="biobench-kit-executor-") as folder:
        _check_started(report, factory, config, Path(folder), env, timeout)
    return report


def _options_problem(schema: Any, options: dict[str, Any]) -> str | None:
    """Why the schema refuses ``options`` (one clause), or ``None``."""
    fields = {} if schema is None else {f.name: f for f in dataclasses.fields(schema)}
    for key, value in options.items():
        if key not in fields:
            return f"{key!r} is not an option of this executor (options: {', '.join(fields) or 'none'})"
        if not fields[key].metadata["check"](value):
            return f"{key} = {value!r}: expected {fields[key].metadata['expected']}"
    return None


def _signature_problem(factory: Any, parameters: tuple[str, ...]) -> str | None:
    """Why ``factory`` cannot be called with ``parameters`` positionally (one clause), or ``None``."""
    if not callable(factory):
        return f"is a {type(factory).__name__}, not callable"
    try:
        signature = inspect.signature(factory)
    except (TypeError, ValueError):
        return None  # a builtin without a signature: the call itself will tell
    try:
        signature.bind(*parameters)
    except TypeError:
        return f"has the signature {signature}; it must take ({', '.join(parameters)})"
    return None


def _check_started(report: Report, factory: Any, config: Any, results_dir: Path, env: dict[str, str] | None,
                   timeout: float) -> None:
    """Build the executor, start one worker on an empty matrix and wait until it reports done."""
    from biobench_core.scaleout._runner import RunOptions
    from biobench_core.scaleout._worker import WorkerJob

    try:
        executor = factory(config, results_dir, env)
    except Exception as exc:  # noqa: BLE001
        report.fail("build", f"factory(config, results_dir, env) raised {exception_line(exc)}")
        return
    kind, workers = getattr(executor, "kind", None), getattr(executor, "default_workers", None)
    if not isinstance(kind, str) or not isinstance(workers, int) or isinstance(workers, bool) or workers < 1 \
            or not callable(getattr(executor, "start", None)):
        report.fail("build", f"{type(executor).__name__} needs kind (a string), default_workers (an integer >= 1) "
                             f"and start(jobs); has kind={kind!r}, default_workers={workers!r}")
        return
    report.ok_("build", f"{type(executor).__name__} (kind {kind}, {workers} worker(s) by default)")

    job = WorkerJob([], [], RunOptions(results_dir=results_dir / "results", device="cpu", progress=False),
                    label="kit-worker")
    try:
        handles = list(executor.start([job]))
    except Exception as exc:  # noqa: BLE001
        report.fail("start", f"start([job]) raised {exception_line(exc)}")
        return
    missing = [f"{i}: {attr}" for i, handle in enumerate(handles) for attr in ("name", "done", "error", "cancel")
               if not hasattr(handle, attr)]
    if len(handles) != 1 or missing:
        report.fail("start", f"start([job]) must return one handle with name, done(), error() and cancel(); got "
                             f"{len(handles)} handle(s)" + (f", missing {', '.join(missing)}" if missing else ""))
        for handle in handles:
            getattr(handle, "cancel", lambda: None)()
        return
    [handle] = handles
    began = time.monotonic()
    try:
        while not handle.done():
            if time.monotonic() - began > timeout:
                handle.cancel()
                report.fail("start", f"{handle.name} did not end within {timeout:.0f} s on an empty matrix")
                return
            time.sleep(0.2)
        error = handle.error()
    except Exception as exc:  # noqa: BLE001
        report.fail("start", f"the handle of {getattr(handle, 'name', '?')} raised {exception_line(exc)}")
        return
    if error is not None:
        report.fail("start", f"{handle.name} ended with an error on an empty matrix: {error}")
        return
    report.ok_("start", f"{handle.name} ran an empty matrix and reported done in {time.monotonic() - began:.1f} s")
