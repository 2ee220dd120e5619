"""The LaTeX report format (issue 21): ``biobench report --format latex`` writes a booktabs table with the best of
each column in bold, the rows tied with it underlined, the intervals in a smaller font, the interval and tie method
in the caption, every id escaped, and undefined values shown as the terminal table shows them; it compiles with
``pdflatex`` (``make test`` apt-installs it: ``make latex-install``).

The marks are checked against the JSON report of the same store (the leaderboard's own ``best`` and
``tied_with_best``); escaping, against an independent reverse mapping.
"""

from __future__ import annotations

import json
import math
import os
import re
import shutil
import subprocess
import sys

import numpy as np
import pytest

#: Backbone and weights ids holding every LaTeX special character.
BACKBONES = {"lab_a/net&co": 0.9, "lab%b/v#2{x}": 0.86, "c~d^e\\f$g": 0.5}
WEIGHTS = "pre_trained"
TASKS = ("kit/acc_1", "kit/f1")

#: LaTeX source -> the text it prints: the reference for escaping, written out independently of the format's.
UNESCAPE = {r"\textbackslash{}": "\\", r"\textasciitilde{}": "~", r"\textasciicircum{}": "^", r"\&": "&", r"\%": "%",
            r"\$": "$", r"\#": "#", r"\_": "_", r"\{": "{", r"\}": "}"}


#: A cell: the score, bold or underlined or plain, then its interval in a smaller font.
CELL = r"^(\\textbf\{|\\underline\{)?(\d\.\d{3})\}? \{\\scriptsize \[(\d\.\d{3}), (\d\.\d{3})\]\}$"


def _unescape(source: str) -> str:
    pattern = "|".join(re.escape(k) for k in sorted(UNESCAPE, key=len, reverse=True))
    return re.sub(pattern, lambda m: UNESCAPE[m.group(0)], source)


def _records(n: int = 60, seed: int = 0) -> list:
    from biobench_core.contract._tasks import Prediction
    from biobench_core.results._store import ExperimentKey, ExperimentRecord

    rng = np.random.default_rng(seed)
    y_true = np.arange(n) % 3
    records = []
    for backbone, skill in BACKBONES.items():
        for task in TASKS:
            right = rng.random(n) < skill
            y_pred = np.where(right, y_true, (y_true + 1) % 3)
            examples = [Prediction.of(f"ex{i}", label=int(t), pred=int(p), score=float(t == p))
                        for i, (t, p) in enumerate(zip(y_true, y_pred))]
            key = ExperimentKey(backbone, WEIGHTS, task, "probe=logreg,dtype=fp32", data="0123456789abcdef")
            records.append(ExperimentRecord(key=key, comparable=True, score=float(np.mean(right)),
                                            examples=examples, splits={}, column_settings={"probe": "logreg"},
                                            metric="macro-f1" if task == "kit/f1" else "accuracy"))
    return records


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    from biobench_core.results._store import ResultsStore

    path = tmp_path_factory.mktemp("latex") / "results"
    with ResultsStore(path) as db:
        for record in _records():
            db.save(record)
    return path


@pytest.fixture(scope="module")
def reports(store, tmp_path_factory):
    """The store's LaTeX, JSON and table reports, through the real CLI (once for the module: the ``run_cli``
    fixture is per test)."""
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "BIOBENCH_STATE": str(tmp_path_factory.mktemp("state")),
           "BIOBENCH_CACHE": str(tmp_path_factory.mktemp("cache"))}
    env.pop("BIOBENCH_LOAD_PLUGINS", None)
    out = {}
    for fmt in ("latex", "json", "table"):
        proc = subprocess.run([sys.executable, "-m", "biobench_core.cli", "report", "--results", str(store),
                               "--format", fmt], capture_output=True, text=True, env=env, timeout=300)
        assert proc.returncode == 0, proc.stderr
        out[fmt] = proc.stdout
    return out


def _cells(line: str) -> list[str]:
    """A tabular row's cells: split on unescaped ``&``, ``\\\\`` dropped."""
    assert line.endswith(r" \\"), line
    return [c.strip() for c in re.split(r"(?<!\\)&", line[: -len(r" \\")])]


def _body(latex: str) -> list[list[str]]:
    lines = latex.splitlines()
    return [_cells(line) for line in lines[lines.index(r"\midrule") + 1: lines.index(r"\bottomrule")]]


def _caption(latex: str) -> str:
    [caption] = re.findall(r"^\\caption\[[^\]]*\]\{(.*)\}$", latex, flags=re.M)
    return caption


def test_latex_passes_the_kits_format_check():
    from biobench_core.testing import check_format

    check_format("latex").assert_ok()


def test_latex_is_a_booktabs_table_with_escaped_ids(reports):
    latex = reports["latex"]
    lines = latex.splitlines()
    rules = [line for line in lines if line in (r"\toprule", r"\midrule", r"\bottomrule")]
    assert rules == [r"\toprule", r"\midrule", r"\bottomrule"]
    assert r"\begin{tabular}{lllrrr}" in lines and r"\end{tabular}" in lines and r"\begin{table}[htbp]" in lines
    assert r"\usepackage{booktabs}" in lines[0]
    header = _cells(lines[lines.index(r"\toprule") + 1])
    assert [_unescape(h) for h in header] == ["backbone", "weights", "dtype", *TASKS, "benchmark mean"]
    body = _body(latex)
    assert sorted(_unescape(row[0]) for row in body) == sorted(BACKBONES)
    assert {_unescape(row[1]) for row in body} == {WEIGHTS}
    for row in body:  # nothing special is left unescaped in an id
        for text in row[:2]:
            assert not re.search(r"(?<!\\)[&%$#_{}]", re.sub(r"\\[a-z]+\{\}", "", text)), text
    assert r"c\textasciitilde{}d\textasciicircum{}e\textbackslash{}f\$g" in latex


def test_bold_and_underline_are_where_the_leaderboard_marks_best_and_ties(reports):
    board = json.loads(reports["json"])
    marks = {(c["backbone"], c["column"]): "best" if c["best"] else "tied" if c["tied_with_best"] else ""
             for c in board["results"]}
    marks.update({(b["backbone"], "benchmark mean"): "best" if b.get("best") else
                  "tied" if b.get("tied_with_best") else "" for b in board["benchmark"]})
    assert "tied" in marks.values() and list(marks.values()).count("best") == 3  # the store has both kinds
    seen = 0
    for row in _body(reports["latex"]):
        backbone = _unescape(row[0])
        for column, text in zip((*TASKS, "benchmark mean"), row[3:]):
            score = re.match(CELL, text)
            assert score, f"{backbone} {column}: {text!r} is not 'score {{\\scriptsize [low, high]}}'"
            shown = {r"\textbf{": "best", r"\underline{": "tied", None: ""}[score.group(1)]
            assert shown == marks[(backbone, column)], f"{backbone} {column}: {text!r}"
            seen += 1
    assert seen == len(BACKBONES) * (len(TASKS) + 1)


def test_the_caption_states_the_tables_facts_with_this_formats_marks(reports):
    caption = _unescape(_caption(reports["latex"]))
    table = reports["table"]
    facts = table[table.index("score [95% CI] per column"):].splitlines()
    assert facts[-1].startswith("* best in its column; = ")
    for fact in [facts[0].rstrip(":"), *(f.strip() for f in facts[1:-1])]:
        assert fact.lower() in caption.lower(), fact
    tie_rule = facts[-1].removeprefix("* best in its column; = ")
    assert r"\textbf{bold}: best in its column; \underline{underlined}: " + tie_rule in caption
    for column in json.loads(reports["json"])["columns"]:
        assert f"{column['label']}: {column['metric']}, {column['interval']} interval" in caption


def test_undefined_values_and_notes_read_as_in_the_table():
    from biobench_core.formats import render
    from biobench_core.results._leaderboard import build_leaderboard
    from biobench_core.testing._format import sample_records

    board = build_leaderboard(sample_records(), n_resamples=200)
    nan_cell = board.cell(("kit/beta", "pretrained"), "kit/acc")
    nan_cell.score = math.nan
    board.cell(("kit/alpha", "pretrained"), "kit/f1").ci_low = math.nan
    board.cell(("kit/gamma", "pretrained"), "kit/acc").too_few = True  # as a row on too few shared examples is
    assert board.notes  # kit/gamma skipped an image: the note says so
    latex, table = render(board, "latex"), render(board, "table")
    rows = {_unescape(r[0]): r for r in _body(latex)}
    assert rows["kit/beta"][3] == "n/a" and " n/a [" not in table and "n/a" in table
    assert rows["kit/alpha"][4].endswith(r"{\scriptsize [n/a]}") and "[n/a]" in table
    assert rows["kit/gamma"][4] == "-" and rows["kit/gamma"][5] == "- (not every task)"
    assert re.fullmatch(r"\d\.\d{3}\\textsuperscript\{\?\} \{\\scriptsize \[.*\]\}", rows["kit/gamma"][3])
    assert r"\textsuperscript{?}: too few examples to compare with the best" in latex and " ?" in table
    assert "n/a: undefined, the score or its interval" in _unescape(latex)
    for note in board.notes:
        assert r"\textit{Note:} " + note.replace("_", r"\_") + r"\par" in latex


def test_an_empty_store_gives_the_message_the_table_gives(tmp_path, run_cli):
    from biobench_core.results._store import ResultsStore

    ResultsStore(tmp_path / "results").close()
    latex = run_cli("report", "--results", str(tmp_path / "results"), "--format", "latex")
    table = run_cli("report", "--results", str(tmp_path / "results"), "--format", "table")
    assert (latex.returncode, latex.stdout, latex.stderr) == (table.returncode, table.stdout, table.stderr)
    assert "no results" in latex.stdout + latex.stderr


def test_the_report_compiles_with_pdflatex(reports, tmp_path):
    """The CLI's output and a board with undefined values and notes, ``\\input`` into a document with a list of
    tables (the caption is a moving argument), compile without an error."""
    from biobench_core.formats import render
    from biobench_core.results._leaderboard import build_leaderboard
    from biobench_core.testing._format import sample_records

    pdflatex = shutil.which("pdflatex")
    if pdflatex is None:
        pytest.fail("pdflatex is not installed: run 'make latex-install' (as root: apt-get install "
                    "texlive-latex-base texlive-latex-recommended), which 'make test' runs")
    board = build_leaderboard(sample_records(), n_resamples=200)
    board.cell(("kit/beta", "pretrained"), "kit/acc").score = math.nan
    board.cell(("kit/gamma", "pretrained"), "kit/acc").too_few = True
    (tmp_path / "store.tex").write_text(reports["latex"])
    (tmp_path / "edges.tex").write_text(render(board, "latex"))
    (tmp_path / "paper.tex").write_text("\\documentclass{article}\n\\usepackage{booktabs}\n\\begin{document}\n"
                                        "\\listoftables\n\\input{store.tex}\n\\input{edges.tex}\n\\end{document}\n")
    for _ in range(2):  # the second run reads the list of tables back
        proc = subprocess.run([pdflatex, "-interaction=nonstopmode", "-halt-on-error", "paper.tex"], cwd=tmp_path,
                              capture_output=True, text=True, timeout=120)
        assert proc.returncode == 0, proc.stdout[-3000:]
    assert (tmp_path / "paper.pdf").stat().st_size > 1000
    log = (tmp_path / "paper.log").read_text(errors="replace")
    assert "Missing character" not in log and "Undefined control sequence" not in log
