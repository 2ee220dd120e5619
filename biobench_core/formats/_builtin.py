"""The core's built-in report formats, registered through the ``biobench_report_formats`` hook."""

from __future__ import annotations

from collections.abc import Iterator

from biobench_core.contract._specs import ReportFormatSpec
from biobench_core.contract.hookspecs import hookimpl

_FORMATS = "biobench_core.formats"


@hookimpl
def biobench_report_formats() -> Iterator[ReportFormatSpec]:
    yield ReportFormatSpec(name="table", factory=f"{_FORMATS}._table:render_table", suffix=".txt",
                           description="a terminal table: best per column marked, ties marked")
    yield ReportFormatSpec(name="markdown", factory=f"{_FORMATS}._table:render_markdown", suffix=".md",
                           description="a Markdown table with the interval and tie method in its caption")
    yield ReportFormatSpec(name="csv", factory=f"{_FORMATS}._csv:render_csv", suffix=".csv",
                           description="one row per result with its interval, tie test, cost and provenance")
    yield ReportFormatSpec(name="json", factory=f"{_FORMATS}._json:render_json", suffix=".json",
                           description="results, columns, benchmark means and the statistics used (schema: "
                                       "docs/report-json.md)")
    yield ReportFormatSpec(name="latex", factory=f"{_FORMATS}._latex:render_latex", suffix=".tex",
                           description="a booktabs table: best in bold, ties underlined, the interval and tie "
                                       "method in its caption")
    yield ReportFormatSpec(name="html", factory=f"{_FORMATS}._html:render_html", suffix=".html",
                           description="one self-contained page to open offline: a sortable, filterable table "
                                       "and a chart, group splits and provenance per column")
