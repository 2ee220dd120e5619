"""The LaTeX report format: the leaderboard as a booktabs ``table`` to ``\\input`` into a paper.

Backbones x columns as the terminal table has them, each cell ``score [low, high]`` with the interval in a smaller
font; the best of each column in bold, the rows not significantly below it underlined, those with too few
examples to compare marked ``?``. The caption states what the table format's caption states (each column's metric
and interval, the benchmark mean's definition, the tie test); the leaderboard's notes follow the table in a
footnote-sized block. Every text from the store (ids, labels, notes) is escaped, so ``_``, ``&`` or ``%`` in an
id never breaks the document. Undefined values read as in the table (``n/a``, ``failed``, ``-``). The fragment
needs ``\\usepackage{booktabs}`` in the preamble, as its first line says.
"""

from __future__ import annotations

import math
from typing import Any

from biobench_core.formats._table import (FAILED, HEADLINE, NO_RESULTS, NOT_AVAILABLE, TIES, TOO_FEW, caption_facts,
                                          shows_too_few)
from biobench_core.results._leaderboard import Leaderboard

__all__ = ["render_latex", "escape"]

#: LaTeX's special characters, and characters that print as other glyphs in the default (OT1) font encoding.
_SPECIAL = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_", "{": r"\{",
            "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}", "<": r"\textless{}",
            ">": r"\textgreater{}", "|": r"\textbar{}"}
#: Symbols the notes and captions may hold that pdflatex's default set-up cannot typeset as they are.
_SYMBOLS = {"\u2264": r"$\leq$", "\u2265": r"$\geq$", "\u00d7": r"$\times$", "\u00b1": r"$\pm$",
            "\u2013": "--", "\u2014": "---", "\u2026": r"\ldots{}", "\u03b1": r"$\alpha$", "\u2192": r"$\to$",
            "\u2212": "-", "\u2018": "`", "\u2019": "'", "\u201c": "``", "\u201d": "''"}


def escape(text: str) -> str:
    """``text`` as LaTeX source that prints it as it is."""
    return "".join(_SPECIAL.get(ch) or _SYMBOLS.get(ch) or ch for ch in str(text))


def _number(value: float) -> str:
    return f"{value:.3f}"


def _cell(score: float, low: float, high: float, mark: str) -> str:
    """``score {\\scriptsize [low, high]}``: the score bold when best, underlined when tied, ``?`` when too few
    examples to compare; undefined values as the table shows them."""
    if math.isnan(score):
        return NOT_AVAILABLE
    shown = (f"[{_number(low)}, {_number(high)}]" if not (math.isnan(low) or math.isnan(high))
             else f"[{NOT_AVAILABLE}]")
    value = {"best": r"\textbf{%s}", "tied": r"\underline{%s}"}.get(mark, "%s") % _number(score)
    return value + (r"\textsuperscript{?}" if mark == "too few" else "") + r" {\scriptsize " + shown + "}"


def _mark(cell: Any) -> str:
    return ("best" if cell.best else "tied" if cell.tied_with_best else "too few" if cell.too_few else "")


def _body(board: Leaderboard) -> list[list[str]]:
    rows = []
    has_benchmark = any(c.in_benchmark for c in board.columns)
    for row in board.rows:
        line = [escape(part) for part in row]
        for label, column in zip(board.tasks, board.columns):
            cell = board.cell(row, label)
            line.append("-" if not cell else FAILED if column.failure else
                        _cell(cell.score, cell.ci_low, cell.ci_high, _mark(cell)))
        bench = board.benchmark.get(row)
        line.append(_cell(*bench, board.benchmark_marks.get(row, "")) if bench else
                    "- (published)" if row in board.published else "- (not every task)" if has_benchmark else "-")
        rows.append(line)
    return rows


def _caption(board: Leaderboard) -> str:
    """The table format's caption as one paragraph, with this format's marks."""
    columns, after = caption_facts(board)
    parts = [escape(f"{HEADLINE[0].upper()}{HEADLINE[1:]}: {'; '.join(columns)}"), *map(escape, after),
             r"\textbf{bold}: best in its column; \underline{underlined}: " + escape(TIES)]
    if shows_too_few(board):
        parts.append(r"\textsuperscript{?}: " + escape(TOO_FEW))
    return ". ".join(parts) + "."


def render_latex(board: Leaderboard, options: dict[str, Any] | None = None) -> str:
    """The leaderboard as a booktabs ``table`` float: caption, table, then the notes in a footnote-sized block."""
    rows = _body(board)
    if not rows:
        return NO_RESULTS
    headers = [escape(h) for h in ("backbone", "weights", "dtype", *board.tasks, "benchmark mean")]
    lines = [r"% biobench leaderboard: needs \usepackage{booktabs} in the preamble",
             r"% (too wide for the page? \resizebox{\linewidth}{!}{...} around the tabular, with graphicx)",
             r"\begin{table}[htbp]",
             r"\centering",
             r"\caption[biobench leaderboard]{" + _caption(board) + "}",
             r"\label{tab:biobench-leaderboard}",
             r"\begin{tabular}{lll" + "r" * (len(board.tasks) + 1) + "}",
             r"\toprule",
             " & ".join(headers) + r" \\",
             r"\midrule",
             *(" & ".join(r) + r" \\" for r in rows),
             r"\bottomrule",
             r"\end{tabular}"]
    if board.notes:
        lines += [r"\par\smallskip", r"\begin{minipage}{\linewidth}\footnotesize",
                  *(r"\textit{Note:} " + escape(n) + r"\par" for n in board.notes), r"\end{minipage}"]
    lines.append(r"\end{table}")
    return "\n".join(lines) + "\n"
