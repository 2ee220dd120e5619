"""The report-formats layer: the built-in report formats (table, markdown, csv, json, latex, html), each a plugin
registered through the ``biobench_report_formats`` hook like a third party's, and :func:`render`, which renders a
leaderboard through whichever installed format is named. Imports the results layer and below."""

from biobench_core.formats._render import UnknownFormatError, render

__all__ = ["render", "UnknownFormatError"]
