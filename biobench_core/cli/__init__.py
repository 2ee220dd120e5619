"""The ``biobench`` command line: argument parsing only; every command calls the layers below."""

from biobench_core.cli._main import main

__all__ = ["main"]
