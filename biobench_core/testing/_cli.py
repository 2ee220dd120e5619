"""``biobench ARGS`` run in this interpreter with its output captured: for tests that drive the real command line
without paying a new interpreter (and torch's import) per call."""

from __future__ import annotations

import contextlib
import io
import subprocess

__all__ = ["cli_in_process"]


def _installed_command():
    """The ``main`` of the installed ``biobench`` console script (the kit sits below the CLI, so it reaches the
    command the way a user does: through its entry point)."""
    from importlib import metadata

    for entry_point in metadata.entry_points(group="console_scripts", name="biobench"):
        return entry_point.load()
    raise RuntimeError("the 'biobench' command is not installed: pip install biobench-core")


def cli_in_process(*args: str) -> subprocess.CompletedProcess:
    """Run ``biobench ARGS`` here (a fresh plugin registry before and after); its exit code, stdout and stderr."""
    from biobench_core.contract._registry import reset_registry

    main = _installed_command()

    reset_registry()
    out, err = io.StringIO(), io.StringIO()
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = main(list(args))
    finally:
        reset_registry()
    return subprocess.CompletedProcess(args, code, out.getvalue(), err.getvalue())
