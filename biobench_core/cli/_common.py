"""What every command shares: exit codes, the usage error and the plain-text table."""

from __future__ import annotations


EXIT_FAILURE = 1
EXIT_USAGE = 2


class UsageError(Exception):
    """Bad command-line usage: exit code 2."""


def print_table(rows: list[list[str]], headers: list[str]) -> None:
    from biobench_core.engine._textable import format_table

    print(format_table(headers, rows), end="")
