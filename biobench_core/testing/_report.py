"""What a conformance check returns: named checks with a status and a message, and the error that lists them."""

from __future__ import annotations

import dataclasses
import sys
import traceback
from typing import Any

from biobench_core.contract._errors import debug_enabled, one_line

__all__ = ["Check", "Report", "ConformanceError", "exception_line"]

STATUSES = ("ok", "warn", "skip", "fail")


def exception_line(exc: BaseException) -> str:
    """``exc`` in a check's message: :func:`biobench_core.contract._errors.one_line` with its type, which keeps the line
    that says what is wrong; with ``BIOBENCH_DEBUG=1`` its full traceback goes to stderr as well."""
    if debug_enabled():
        traceback.print_exception(type(exc), exc, exc.__traceback__, file=sys.stderr)
    return one_line(exc, typed=True)


@dataclasses.dataclass(frozen=True)
class Check:
    """One check: ``status`` is ``ok``, ``warn`` (allowed, but worth fixing), ``skip`` (could not run) or ``fail``."""

    name: str
    status: str
    message: str = ""

    def __post_init__(self) -> None:
        if self.status not in STATUSES:
            raise ValueError(f"status must be one of {STATUSES}, got {self.status!r}")

    @property
    def ok(self) -> bool:
        return self.status != "fail"

    def __str__(self) -> str:
        return f"{self.name}: {self.message}" if self.message else self.name


@dataclasses.dataclass
class Report:
    """Every check run on one subject (a distribution, a backbone id or a task id)."""

    subject: str
    checks: list[Check] = dataclasses.field(default_factory=list)

    def add(self, name: str, status: str, message: str = "") -> Check:
        check = Check(name, status, message)
        self.checks.append(check)
        return check

    def ok_(self, name: str, message: str = "") -> Check:
        return self.add(name, "ok", message)

    def fail(self, name: str, message: str) -> Check:
        return self.add(name, "fail", message)

    @property
    def problems(self) -> list[Check]:
        """The failed checks; empty when the subject conforms."""
        return [c for c in self.checks if c.status == "fail"]

    @property
    def ok(self) -> bool:
        return not self.problems

    def messages(self) -> list[str]:
        """One line per problem: ``"<check>: <message>"``."""
        return [str(p) for p in self.problems]

    def format(self) -> str:
        """A readable verdict: one line per check, then a summary line."""
        width = max((len(c.name) for c in self.checks), default=0)
        lines = [self.subject]
        for c in self.checks:
            lines.append(f"  {c.status.upper() if c.status == 'fail' else c.status:<5} {c.name:<{width}}  {c.message}"
                         .rstrip())
        n = len(self.problems)
        lines.append(f"{self.subject}: " + (f"{n} problem(s)" if n else f"all {len(self.checks)} checks passed"))
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        return {"subject": self.subject, "ok": self.ok,
                "checks": [dataclasses.asdict(c) for c in self.checks]}

    def assert_ok(self) -> Report:
        """Raise :class:`ConformanceError` listing every problem; return ``self`` when there is none."""
        if self.problems:
            raise ConformanceError(self)
        return self


class ConformanceError(AssertionError):
    """A plugin, backbone or task does not conform; the message lists every problem, one per line."""

    def __init__(self, report: Report) -> None:
        self.report = report
        lines = "\n".join(f"  - {m}" for m in report.messages())
        super().__init__(f"{report.subject}: {len(report.problems)} problem(s):\n{lines}")
