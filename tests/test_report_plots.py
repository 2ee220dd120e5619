"""``biobench report --plots DIR`` (issue 21): each plot written as PNG and SVG, non-empty, reproducible, with the
expected number of marks read back from the SVG (the marks carry ids: see :mod:`biobench_core.formats._figures`),
and the degenerate cases: an empty store, undefined (NaN) scores, a single backbone, matplotlib missing.

The stores are real (:class:`ResultsStore`) and hold generated results: predictions drawn at random per backbone,
saved as a run would save them, then reported through the real CLI.
"""

from __future__ import annotations

import math
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("matplotlib")

from biobench_core.contract._tasks import Prediction  # noqa: E402
from biobench_core.results._store import ExperimentKey, ExperimentRecord, ResultsStore  # noqa: E402

SVG = "{http://www.w3.org/2000/svg}"
BACKBONES = ("plot/alpha", "plot/beta", "plot/gamma")
N_TRAIN = (4, 8, 16)
GROUPS = ("site 1", "site 2", "site 10", "site 3")


def _record(backbone: str, task: str, skill: float, rng: np.random.Generator, *, n: int = 40,
            n_train: int | None = None, splits: bool = False, nan: bool = False, speed: float | None = 100.0
            ) -> ExperimentRecord:
    y_true = np.arange(n) % 3
    right = rng.random(n) < skill
    y_pred = np.where(right, y_true, (y_true + 1) % 3)
    examples = [Prediction.of(f"ex{i}", label=int(t), pred=int(p), score=math.nan if nan else float(t == p))
                for i, (t, p) in enumerate(zip(y_true, y_pred))]
    settings = {"probe": "logreg", **({} if n_train is None else {"n_train": str(n_train)})}
    key = ExperimentKey(backbone, "pretrained", task, ",".join(f"{k}={v}" for k, v in settings.items()),
                        data="0123456789abcdef")
    return ExperimentRecord(key=key, comparable=True, score=float(right.mean()), examples=examples,
                            splits={g: float(right[i::4].mean()) for i, g in enumerate(GROUPS)} if splits else {},
                            metric="mean" if nan else "accuracy", column_settings=settings, images_per_second=speed)


def _store(root: Path, records: list[ExperimentRecord]) -> Path:
    with ResultsStore(root) as store:
        for record in records:
            store.save(record)
    return root


def _full_records(backbones=BACKBONES) -> list[ExperimentRecord]:
    """Task ``plot/a`` (also at three ``n_train``) and task ``plot/b`` (with group splits)."""
    rng = np.random.default_rng(0)
    records = []
    for i, backbone in enumerate(backbones):
        skill = 0.9 - 0.2 * i
        records.append(_record(backbone, "plot/a", skill, rng, speed=100.0 * (i + 1)))
        records += [_record(backbone, "plot/a", skill - 0.1 * (3 - k), rng, n_train=n) for k, n in enumerate(N_TRAIN)]
        records.append(_record(backbone, "plot/b", skill, rng, splits=True))
    return records


def _marks(svg: Path, gid: str) -> int:
    """The marks in the SVG group ``gid``: its ``use`` elements (matplotlib's markers), else its paths."""
    group = _group(svg, gid)
    uses = group.findall(f".//{SVG}use")
    return len(uses) if uses else len(group.findall(f".//{SVG}path"))


def _group(svg: Path, gid: str) -> ET.Element:
    found = [el for el in ET.parse(svg).getroot().iter() if el.get("id") == gid]
    assert len(found) == 1, f"{svg.name}: {len(found)} elements with id {gid!r}"
    return found[0]


def _ids(svg: Path, prefix: str) -> list[str]:
    return [el.get("id") for el in ET.parse(svg).getroot().iter() if (el.get("id") or "").startswith(prefix)]


def _caption(svg: Path) -> str:
    return " ".join("".join(el.itertext()) for el in _group(svg, "caption").iter(f"{SVG}text"))


def _written(result) -> list[Path]:
    return [Path(line.removeprefix("wrote ")) for line in result.stderr.splitlines() if line.startswith("wrote ")]


def test_every_plot_is_written_with_one_mark_per_backbone(tmp_path, in_process):
    store = _store(tmp_path / "results", _full_records())
    out = tmp_path / "plots"
    result = in_process("report", "--results", str(store), "--plots", str(out))
    assert result.returncode == 0, result.stderr
    assert "plot/alpha" in result.stdout  # the table is still printed, alongside
    written = _written(result)
    names = {p.stem for p in written}
    assert names == {"task-plot-a-n-train-default", "task-plot-a-n-train-4", "task-plot-a-n-train-8",
                     "task-plot-a-n-train-16",
                     "task-plot-b", "benchmark-mean-vs-images-per-second", "rank-heatmap",
                     "learning-curve-plot-a-probe-logreg", "splits-plot-b"}, result.stderr
    assert sorted(written) == sorted(out / f"{n}{s}" for n in names for s in (".png", ".svg"))  # one line per file
    for path in written:
        data = path.read_bytes()
        assert data.startswith(b"\x89PNG" if path.suffix == ".png" else b"<?xml"), path
    n = len(BACKBONES)
    assert _marks(out / "task-plot-b.svg", "points") == n
    assert _marks(out / "task-plot-b.svg", "intervals") == n
    assert _marks(out / "benchmark-mean-vs-images-per-second.svg", "points") == n
    assert _marks(out / "rank-heatmap.svg", "cells") == 5 * n  # 5 columns (plot/a at 4 settings, plot/b) x rows
    assert _marks(out / "splits-plot-b.svg", "cells") == len(GROUPS) * n
    curve = out / "learning-curve-plot-a-probe-logreg.svg"
    assert sorted(_ids(curve, "band-")) == [f"band-{i}" for i in range(n)]
    assert sorted(_ids(curve, "curve-")) == [f"curve-{i}" for i in range(n)]
    assert _marks(curve, "curve-0") == len(N_TRAIN)  # a point per n_train

    again = in_process("report", "--results", str(store), "--plots", str(out))  # replaces its own plots
    assert again.returncode == 0, again.stderr
    assert all(p.read_bytes() == q for p, q in zip(written, [p.read_bytes() for p in _written(again)]))


def test_plots_are_reproducible_and_undated():
    from biobench_core.formats._figures import render_plot
    from biobench_core.formats._plots import plan_plots
    from biobench_core.results._leaderboard import build_leaderboard

    plots = [p for p in plan_plots(build_leaderboard(_full_records(BACKBONES[:2]), n_resamples=100), {})
             if p.kind in ("task", "heatmap")][:2]
    for plot in plots:
        first, second = render_plot(plot), render_plot(plot)
        assert first == second, plot.name
        assert b"<dc:date>" not in first[".svg"]


def test_an_empty_store_writes_nothing_and_says_so(tmp_path, in_process):
    store = _store(tmp_path / "results", [])
    out = tmp_path / "plots"
    result = in_process("report", "--results", str(store), "--plots", str(out))
    assert result.returncode == 0, result.stderr
    assert result.stderr.strip().splitlines() == [f"biobench report: no results in {store}: no plots written"]
    assert not out.exists()


METRICS = '''
from biobench_core import MetricSpec, hookimpl

BIOBENCH_CONTRACT = 2


@hookimpl
def biobench_metrics():
    yield MetricSpec(name="marked-hits", factory="plot_metrics.code:marked_hits",
                     description="undefined when a prediction is the marker class 9")
'''

METRICS_CODE = '''
import numpy as np


def marked_hits(y_true, y_pred):
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    return float("nan") if np.any(y_pred == 9) else float(np.mean(y_true == y_pred))
'''


def test_an_undefined_score_is_left_out_and_named(tmp_path, run_cli):
    from biobench_core.testing._distributions import write_distribution

    site = tmp_path / "site"
    write_distribution(site, "biobench-plot-metrics", {"plot_metrics.__init__": METRICS,
                                                       "plot_metrics.code": METRICS_CODE}, {"plot": "plot_metrics"})
    rng = np.random.default_rng(1)
    records = [_record(b, "plot/a", 0.8 - 0.2 * i, rng, splits=True) for i, b in enumerate(BACKBONES)]
    for record in records:
        record.metric = "marked-hits"
    beta = records[1]
    beta.examples[0] = Prediction.of(beta.examples[0].id, label=beta.examples[0].label, pred=9, score=0.0)
    records[0].splits["site 2"] = math.nan  # a group score the task could not compute
    store = _store(tmp_path / "results", records)
    out = tmp_path / "plots"
    result = run_cli("report", "--results", str(store), "--plots", str(out), site=site)
    assert result.returncode == 0, result.stderr
    chart = out / "task-plot-a.svg"
    assert _marks(chart, "points") == 2
    assert "left out (score undefined, NaN): plot/beta" in _caption(chart)
    assert _marks(out / "rank-heatmap.svg", "cells") == 2
    assert "plot/beta on plot/a" in _caption(out / "rank-heatmap.svg")
    cost = out / "benchmark-mean-vs-images-per-second.svg"
    assert _marks(cost, "points") == 2
    assert "plot/beta" in _caption(cost)
    splits = out / "splits-plot-a.svg"
    assert _marks(splits, "cells") == len(GROUPS) * len(BACKBONES) - 1
    assert "left out (undefined, NaN): plot/alpha on site 2" in _caption(splits)
    for svg in out.glob("*.svg"):  # never a silent NaN: the word appears only where a caption names one
        text = " ".join(el.text or "" for el in ET.parse(svg).getroot().iter(f"{SVG}text"))
        assert text.lower().count("nan") == text.count("NaN)"), (svg.name, text)


def test_a_single_backbone_still_gets_every_plot(tmp_path, in_process):
    store = _store(tmp_path / "results", _full_records(BACKBONES[:1]))
    out = tmp_path / "plots"
    result = in_process("report", "--results", str(store), "--plots", str(out))
    assert result.returncode == 0, result.stderr
    assert len(_written(result)) == 18
    assert _marks(out / "task-plot-b.svg", "points") == 1
    assert _marks(out / "rank-heatmap.svg", "cells") == 5
    assert _ids(out / "learning-curve-plot-a-probe-logreg.svg", "band-") == ["band-0"]


def test_a_plot_that_cannot_be_drawn_says_why(tmp_path, in_process):
    rng = np.random.default_rng(2)
    store = _store(tmp_path / "results", [_record(b, "plot/a", 0.7, rng, speed=None) for b in BACKBONES])
    result = in_process("report", "--results", str(store), "--plots", str(tmp_path / "plots"))
    assert result.returncode == 0, result.stderr
    assert ("biobench report: no plot benchmark-mean-vs-images-per-second: no backbone with a benchmark mean has "
            "extraction speed recorded") in result.stderr
    assert (tmp_path / "plots" / "task-plot-a.svg").stat().st_size > 0


def test_a_file_biobench_did_not_write_is_not_replaced(tmp_path, in_process):
    store = _store(tmp_path / "results", _full_records(BACKBONES[:1]))
    out = tmp_path / "plots"
    out.mkdir()
    (out / "rank-heatmap.png").write_bytes(b"mine")
    result = in_process("report", "--results", str(store), "--plots", str(out))
    assert result.returncode == 2
    assert "rank-heatmap.png exists and is not a report biobench wrote" in result.stderr
    assert (out / "rank-heatmap.png").read_bytes() == b"mine" and len(list(out.iterdir())) == 1
    forced = in_process("report", "--results", str(store), "--plots", str(out), "--force")
    assert forced.returncode == 0 and (out / "rank-heatmap.png").read_bytes().startswith(b"\x89PNG")


def test_missing_matplotlib_is_one_line_naming_the_extra(tmp_path, run_cli):
    site = tmp_path / "site"
    site.mkdir()
    (site / "matplotlib.py").write_text("raise ImportError(\"No module named 'matplotlib'\")\n")
    store = _store(tmp_path / "results", _full_records(BACKBONES[:1]))
    result = run_cli("report", "--results", str(store), "--plots", str(tmp_path / "plots"), site=site)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "biobench report: error: --plots needs matplotlib, which is not installed: "
        "pip install 'biobench-core[plots]'"]
    assert result.stdout == "" and not (tmp_path / "plots").exists()
