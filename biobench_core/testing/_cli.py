"""``biobench ARGS`` run in this interpreter with its output captured: for tests that drive the real command line
without paying a new interpreter (and torch's import) per call."""

from __future__ import annotations

import contextlib
import io
import subprocess

__all__ = ["cli_in_process"]


def cli_in_process(*args: str) -> subprocess.CompletedProcess:
    """Run ``biobench ARGS`` here (a fresh plugin registry before and after); its exit code, stdout and stderr."""
    from biobench_core.cli import main
    from biobench_core.plugins import reset_registry

    reset_registry()
    out, err = io.StringIO(), io.StringIO()
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = main(list(args))
    finally:
        reset_registry()
    return subprocess.CompletedProcess(args, code, out.getvalue(), err.getvalue())
