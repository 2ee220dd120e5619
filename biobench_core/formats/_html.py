"""The HTML report format: the leaderboard as one self-contained page that works offline in a browser.

One file, no network: its style sheet and script (``formats/html/report.css``, ``report.js``, package data) are
inlined, and its charts are inline SVG drawn here. The page holds:

- the table, backbones x columns, each cell ``score [low, high]`` with the table format's marks (``*`` best,
  ``=`` tied with it, ``?`` too few examples to compare), the benchmark mean, and apart from it (after it, under
  "not in the benchmark mean") the columns outside the mean: prior-work tasks and other columns of a task.
  Clicking a column's header sorts by it (numbers highest first, again to reverse; no score is always last).
- filters by plugin (the backbone id's namespace, ``timm`` in ``timm/resnet50``), family and weights. A
  backbone's family is its architecture's first word: the name after the namespace (after ``hf-hub:ORG/`` for a
  hub model), cut at the first ``.``, ``_``, ``-`` or ``:``, lower-cased, with a trailing version number dropped
  (``timm/vit_base_patch16_224`` and ``openclip/ViT-B-16:openai`` are ``vit``, ``timm/resnet10t`` is ``resnet``,
  ``openclip/EVA02-L-14:merged2b_s4b_b131k`` is ``eva``);
- one panel per column, opened by its header's "chart" link: a point-and-interval chart of every row (a row
  whose score is undefined is not drawn, and the panel says so), the group splits (``Cell.splits``) and each
  result's provenance (settings, data, device, images/s, fit time, memory, versions, git commit, host, argv),
  folded until asked for;
- the caption (metric and interval per column, the benchmark mean's interval, the tie method) and the notes.

Every text from the results (ids, labels, notes) is HTML-escaped. An empty board renders a page that says what
the table format says.
"""

from __future__ import annotations

import html
import math
import re
from collections.abc import Sequence
from functools import lru_cache
from importlib import resources
from typing import Any

from biobench_core.formats._table import (FAILED, HEADLINE, NO_RESULTS, NOT_AVAILABLE, TIES, TOO_FEW, caption_facts,
                                          shows_too_few)
from biobench_core.results._leaderboard import Cell, Column, Leaderboard

__all__ = ["render_html", "family", "plugin"]

MARKS = {"best": ("*", "best"), "tied": ("=", "tied"), "too few": ("?", "few")}  # mark -> (symbol, CSS class)
_CUT = re.compile(r"[._\-:]")
_VERSION = re.compile(r"(?<=[a-z])\d+[a-z]?$")

# The chart's geometry, in px.
LABEL_W, PLOT_W, RIGHT, ROW_H, TOP, BOTTOM = 300, 420, 20, 16, 10, 34


def esc(value: Any) -> str:
    return html.escape(str(value), quote=True)


def plugin(backbone: str) -> str:
    """The plugin namespace of a backbone id: ``timm`` for ``timm/resnet50``."""
    return backbone.partition("/")[0]


def family(backbone: str) -> str:
    """A backbone's family: its architecture's first word (see the module's docstring)."""
    name = backbone.partition("/")[2] or backbone
    if name.startswith("hf-hub:"):
        name = name[len("hf-hub:"):].rsplit("/", 1)[-1]
    first = _CUT.split(name, maxsplit=1)[0].lower()
    return _VERSION.sub("", first) or first or name


@lru_cache(maxsize=None)
def _asset(name: str) -> str:
    return resources.files("biobench_core.formats").joinpath("html", name).read_text(encoding="utf-8")


def _mark(cell: Cell | None) -> str:
    if cell is None:
        return ""
    return "best" if cell.best else "tied" if cell.tied_with_best else "too few" if cell.too_few else ""


def _score_html(score: float, low: float, high: float, mark: str) -> tuple[str, str]:
    """``(inner html, data-v)`` of a score cell: the table format's text ``score [low, high] mark``."""
    if math.isnan(score):
        return NOT_AVAILABLE, ""
    shown = (f"[{low:.3f}, {high:.3f}]" if not (math.isnan(low) or math.isnan(high)) else f"[{NOT_AVAILABLE}]")
    symbol = MARKS[mark][0] if mark in MARKS else ""
    return f"{score:.3f} <small>{shown}</small>" + (f" <b>{symbol}</b>" if symbol else ""), repr(score)


def _td(inner: str, value: str, classes: Sequence[str], title: str = "") -> str:
    attrs = f' class="{" ".join(c for c in classes if c)}"' if any(classes) else ""
    attrs += f' data-v="{esc(value)}"' + (f' title="{esc(title)}"' if title else "")
    return f"<td{attrs}>{inner}</td>"


def _cell_td(cell: Cell | None, column: Column, extra: str) -> str:
    if cell is None:
        return _td("-", "", ("num", extra), "no result")
    if column.failure:
        return _td(FAILED, "", ("num", "na", extra), column.failure)
    mark = _mark(cell)
    inner, value = _score_html(cell.score, cell.ci_low, cell.ci_high, mark)
    classes = ("num", MARKS[mark][1] if mark in MARKS else "", "na" if not value else "", extra)
    return _td(inner, value, classes, cell.undefined)


def _header(board: Leaderboard, bench: list[int], others: list[int]) -> str:
    def sortable(col: int, label: str, numeric: bool, classes: str = "", panel: int | None = None) -> str:
        link = f' <a class="open" href="#panel-{panel}" title="chart, splits, provenance">chart</a>' \
            if panel is not None else ""
        cls = f' class="{classes}"' if classes else ""
        return (f'<th{cls} data-col="{col}" data-type="{"num" if numeric else "text"}">'
                f'<button class="sort" type="button">{esc(label)}</button>{link}</th>')

    top = [sortable(0, "backbone", False).replace("<th", '<th rowspan="2"', 1),
           sortable(1, "weights", False).replace("<th", '<th rowspan="2"', 1),
           sortable(2, "dtype", False).replace("<th", '<th rowspan="2"', 1)]
    if bench:
        top.append(f'<th class="group" colspan="{len(bench)}">in the benchmark mean</th>')
    top.append(sortable(3 + len(bench), "benchmark mean", True, "mean").replace("<th", '<th rowspan="2"', 1))
    if others:
        top.append(f'<th class="group apart" colspan="{len(others)}">not in the benchmark mean</th>')
    second = []
    for k, i in enumerate(bench):
        second.append(sortable(3 + k, board.columns[i].label, True, panel=i))
    for k, i in enumerate(others):
        column = board.columns[i]
        classes = " ".join(c for c in ("prior" if column.prior_work else "", "apart" if k == 0 else "") if c)
        label = column.label + (" (prior work)" if column.prior_work else "")
        second.append(sortable(4 + len(bench) + k, label, True, classes, panel=i))
    return f"<thead><tr>{''.join(top)}</tr><tr>{''.join(second)}</tr></thead>"


def _table(board: Leaderboard, by_slot: dict[tuple[str, tuple], Cell], bench: list[int], others: list[int]) -> str:
    any_bench = bool(bench)
    body = []
    for row in board.rows:
        backbone, weights, dtype = row
        tds = [f'<td title="{esc(backbone)} [{esc(weights)}, {esc(dtype)}]">{esc(backbone)}</td>',
               f"<td>{esc(weights)}</td>", f"<td>{esc(dtype)}</td>"]
        for i in bench:
            column = board.columns[i]
            tds.append(_cell_td(by_slot.get((column.label, row)), column, ""))
        mean = board.benchmark.get(row)
        if mean:
            mark = board.benchmark_marks.get(row, "")
            inner, value = _score_html(*mean, mark)
            tds.append(_td(inner, value, ("num", "mean", MARKS[mark][1] if mark in MARKS else "",
                                          "na" if not value else "")))
        else:
            tds.append(_td("- (published)" if row in board.published else "- (not every task)" if any_bench else "-",
                           "", ("num", "mean")))
        for k, i in enumerate(others):
            column = board.columns[i]
            extra = " ".join(c for c in ("prior" if column.prior_work else "", "apart" if k == 0 else "") if c)
            tds.append(_cell_td(by_slot.get((column.label, row)), column, extra))
        body.append(f'<tr data-plugin="{esc(plugin(backbone))}" data-family="{esc(family(backbone))}" '
                    f'data-weights="{esc(weights)}">{"".join(tds)}</tr>')
    return (f'<div class="wrap"><table id="board">{_header(board, bench, others)}<tbody>{"".join(body)}'
            f"</tbody></table></div>")


def _filters(board: Leaderboard) -> str:
    choices = {"plugin": sorted({plugin(r[0]) for r in board.rows}),
               "family": sorted({family(r[0]) for r in board.rows}),
               "weights": sorted({r[1] for r in board.rows})}
    parts = []
    for key, values in choices.items():
        options = "".join(f'<option value="{esc(v)}">{esc(v)}</option>' for v in values)
        parts.append(f'<label>{key} <select class="filter" id="filter-{key}" data-key="{key}">'
                     f'<option value="">all</option>{options}</select></label>')
    return f'<div class="filters">{"".join(parts)}<span id="shown" class="muted"></span></div>'


def _row_name(row: tuple[str, str, str]) -> str:
    return f"{row[0]} [{row[1]}, {row[2]}]"


def _ticks(low: float, high: float, n: int = 5) -> list[float]:
    step = (high - low) / (n - 1)
    return [low + k * step for k in range(n)]


def chart(column: Column, cells: list[tuple[tuple[str, str, str], Cell]]) -> str:
    """The column's point-and-interval chart: one ``<g class="mark">`` per row with a defined score (its point,
    and its interval where defined), the best and the rows tied with it coloured; then a line naming the rows not
    drawn and why."""
    drawn = [(row, c) for row, c in cells if not math.isnan(c.score)]
    skipped = [(row, c) for row, c in cells if math.isnan(c.score)]
    notes = []
    if skipped:
        notes.append("not drawn (score undefined): " + "; ".join(
            f"{_row_name(row)}: {c.undefined or column.failure or 'no score'}" for row, c in skipped))
    if not drawn:
        return "".join(f'<p class="muted">{esc(n)}</p>' for n in notes) or '<p class="muted">no results</p>'
    values = [v for _, c in drawn for v in (c.score, c.ci_low, c.ci_high) if not math.isnan(v)]
    low, high = min(values), max(values)
    pad = max((high - low) * 0.05, 0.01)
    bounded = 0 <= low and high <= 1  # a proportion-like metric: keep the axis within [0, 1]
    low, high = (max(low - pad, 0.0), min(high + pad, 1.0)) if bounded else (low - pad, high + pad)

    def x(v: float) -> float:
        return LABEL_W + (v - low) / (high - low) * PLOT_W

    height = TOP + ROW_H * len(drawn) + BOTTOM
    width = LABEL_W + PLOT_W + RIGHT
    axis_y = TOP + ROW_H * len(drawn) + 4
    parts = [f'<svg class="chart" width="{width}" height="{height}" '
             f'viewBox="0 0 {width} {height}" role="img" aria-label="{esc(column.label)}: score and interval '
             f'per backbone">']
    for t in _ticks(low, high):
        parts.append(f'<line class="grid" x1="{x(t):.1f}" y1="{TOP}" x2="{x(t):.1f}" y2="{axis_y}"/>'
                     f'<text x="{x(t):.1f}" y="{axis_y + 14}" text-anchor="middle">{t:.3f}</text>')
    parts.append(f'<line class="axis" x1="{LABEL_W}" y1="{axis_y}" x2="{LABEL_W + PLOT_W}" y2="{axis_y}"/>'
                 f'<text x="{LABEL_W + PLOT_W / 2:.1f}" y="{axis_y + 28}" text-anchor="middle">'
                 f'{esc(column.computed or column.metric)} (95% interval)</text>')
    no_interval = []
    for k, (row, c) in enumerate(drawn):
        y = TOP + ROW_H * k + ROW_H / 2
        mark = _mark(c)
        symbol = MARKS[mark][0] if mark in MARKS else ""
        label = _row_name(row)
        interval = not (math.isnan(c.ci_low) or math.isnan(c.ci_high))
        title = f"{label}: {c.score:.3f}" + (f" [{c.ci_low:.3f}, {c.ci_high:.3f}]" if interval else "") + \
            (f" {symbol}" if symbol else "")
        line = (f'<line class="ci" x1="{x(c.ci_low):.1f}" y1="{y:.1f}" x2="{x(c.ci_high):.1f}" y2="{y:.1f}"/>'
                if interval else "")
        if not interval:
            no_interval.append(label)
        cls = f' class="{mark}"' if mark in ("best", "tied") else ""
        parts.append(f'<g class="mark"><title>{esc(title)}</title>'
                     f'<text x="{LABEL_W - 6}" y="{y + 4:.1f}" text-anchor="end">{esc(label[:48])}</text>'
                     f'{line}<circle{cls} cx="{x(c.score):.1f}" cy="{y:.1f}" r="3.5"/></g>')
    parts.append("</svg>")
    if no_interval:
        notes.append("point only, interval undefined (the notes say why): " + "; ".join(no_interval))
    return "".join(parts) + "".join(f'<p class="muted">{esc(n)}</p>' for n in notes)


def _number(value: Any, digits: int = 3) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return NOT_AVAILABLE
    return f"{value:.{digits}f}" if isinstance(value, float) else esc(value)


def _splits(cells: list[tuple[tuple[str, str, str], Cell]]) -> str:
    names = list(dict.fromkeys(name for _, c in cells for name in c.splits))
    if not names:
        return '<p class="muted">no group splits recorded for this column</p>'
    head = "".join(f"<th>{esc(n)}</th>" for n in names)
    body = "".join(f"<tr><td>{esc(_row_name(row))}</td>"
                   + "".join(f'<td class="num">{_number(c.splits[n]) if n in c.splits else "-"}</td>' for n in names)
                   + "</tr>" for row, c in cells)
    return (f'<div class="wrap"><table class="splits"><thead><tr><th>backbone</th>{head}</tr></thead>'
            f"<tbody>{body}</tbody></table></div>")


_NUMBERS = {"images/s", "fit seconds", "peak memory MB", "p adjusted (vs best)", "extract seconds"}  # already escaped


def _provenance(cells: list[tuple[tuple[str, str, str], Cell]]) -> str:
    items = []
    for row, c in cells:
        facts: list[tuple[str, Any]] = [
            ("settings", c.settings), ("data", c.data or "unknown (an older biobench)"), ("metric", c.metric),
            ("interval", c.interval), ("examples", c.n_examples), ("skipped", c.n_skipped),
            ("comparable", c.comparable), ("device", c.device),
            ("images/s", _number(c.images_per_second, 1)), ("fit seconds", _number(c.fit_seconds, 2)),
            ("peak memory MB", _number(c.peak_memory_mb, 0)),
            ("p adjusted (vs best)", _number(c.p_adjusted, 4))]
        prov = c.provenance
        if "extract_seconds" in prov:
            facts.append(("extract seconds", _number(prov["extract_seconds"], 2)))
        for key in ("git_commit", "hostname", "weights_id"):
            if key in prov:
                facts.append((key.replace("_", " "), prov[key]))
        if "versions" in prov:
            facts.append(("versions", ", ".join(f"{k} {v}" for k, v in sorted(prov["versions"].items()))))
        if "argv" in prov:
            facts.append(("argv", " ".join(str(a) for a in prov["argv"])))
        dl = "".join(f"<dt>{esc(k)}</dt><dd>{v if k in _NUMBERS else esc(v)}</dd>" for k, v in facts)
        items.append(f"<details><summary>{esc(_row_name(row))}</summary><dl class=\"prov\">{dl}</dl></details>")
    return "".join(items)



def _panel(board: Leaderboard, index: int, by_slot: dict[tuple[str, tuple], Cell]) -> str:
    column = board.columns[index]
    cells = [(row, by_slot[(column.label, row)]) for row in board.rows if (column.label, row) in by_slot]
    where = ("in the benchmark mean" if column.in_benchmark else
             "prior work: not in the benchmark mean" if column.prior_work else "not in the benchmark mean")
    settings = ", ".join(f"{k}={v}" for k, v in column.settings.items()) or "defaults"
    facts = (f"task {column.task}; metric {column.computed or column.metric}"
             + (f" (not {column.metric}: see the notes)" if column.computed else "")
             + f"; {column.interval or 'no'} interval; {column.n_examples} examples; settings {settings}; {where}")
    failure = f'<p class="na">{esc(column.failure)}</p>' if column.failure else ""
    return (f'<section class="panel" id="panel-{index}"><a class="close" href="#top">close</a>'
            f"<h2>{esc(column.label)}</h2><p class=\"meta\">{esc(facts)}</p>{failure}"
            f"<h3>score and 95% interval per backbone</h3>{chart(column, cells)}"
            f"<h3>group splits</h3>{_splits(cells)}"
            f"<h3>provenance</h3>{_provenance(cells)}</section>")


def _caption(board: Leaderboard) -> str:
    columns, after = caption_facts(board)
    lines = [f"{HEADLINE}:", *columns, *after, f"* best in its column; = {TIES}"]
    if shows_too_few(board):
        lines.append(f"? {TOO_FEW}")
    return '<div class="caption">' + "".join(f"<p>{esc(line)}</p>" for line in lines) + "</div>"


def _notes(board: Leaderboard) -> str:
    if not board.notes:
        return ""
    return '<h2>Notes</h2><ul class="notes">' + "".join(f"<li>{esc(n)}</li>" for n in board.notes) + "</ul>"


def _page(title: str, body: str, script: bool = True) -> str:
    js = _asset("report.js") if script else ""
    if "</script" in js.lower():  # would end the inline script early
        raise ValueError("report.js must not contain '</script'")
    return ('<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; "
            "script-src 'unsafe-inline'; img-src data:\">"
            f"<title>{esc(title)}</title><style>{_asset('report.css')}</style></head>"
            f'<body id="top">{body}' + (f"<script>{js}</script>" if js else "") + "</body></html>\n")


def render_html(board: Leaderboard, options: dict[str, Any] | None = None) -> str:
    """The leaderboard as one self-contained HTML page (see the module's docstring)."""
    options = options or {}
    source = f'<p class="meta">results: {esc(options["results"])}</p>' if options.get("results") else ""
    if not board.rows:
        return _page("biobench leaderboard", f'<h1>biobench leaderboard</h1>{source}'
                     f'<p class="empty">{esc(NO_RESULTS.strip())}</p>{_notes(board)}', script=False)
    by_slot = {(c.column, c.row): c for c in board.cells}
    bench = [i for i, c in enumerate(board.columns) if c.in_benchmark]
    others = [i for i, c in enumerate(board.columns) if not c.in_benchmark]
    tasks = " ".join(f'<a href="#panel-{i}">{esc(board.columns[i].label)}</a>' for i in bench + others)
    body = (f"<h1>biobench leaderboard</h1>{source}"
            f'<p class="meta">{len(board.rows)} rows x {len(board.columns)} columns. Click a header to sort; '
            f"open a column's chart, group splits and provenance: {tasks}</p>"
            f"{_filters(board)}{_table(board, by_slot, bench, others)}{_caption(board)}"
            + "".join(_panel(board, i, by_slot) for i in bench + others) + _notes(board))
    return _page("biobench leaderboard", body)
