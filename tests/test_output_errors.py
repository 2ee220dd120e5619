"""A file a command was asked to write that the system refuses (under ``/proc``, where even root cannot create a
file): one line naming the flag and the file, exit 1, no traceback; the same rule for ``report --out``,
``report --plots`` and ``export --out`` (``cli/_out.py``'s ``write_out``)."""

from __future__ import annotations

import pytest

from biobench_core.testing import cli_in_process


@pytest.mark.parametrize("args, named", [
    (("report", "--format", "markdown", "--out", "/proc/board.md"), "--out /proc/board.md"),
    (("report", "--plots", "/proc/figures"), "--plots /proc/figures/"),
    (("export", "--out", "/proc/lab.biobench.json.gz"), "--out /proc/lab.biobench.json.gz"),
])
def test_a_write_the_system_refuses_is_one_line_naming_the_flag_and_file(tiny_stores, args, named):
    proc = cli_in_process(*args, "--results", str(tiny_stores("a")))
    assert proc.returncode == 1, proc.stderr
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith(f"biobench {args[0]}: error: cannot write {named}"), last
    assert last.endswith(": No such file or directory"), last
    assert "Traceback" not in proc.stderr and "Error:" not in last
