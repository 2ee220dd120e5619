"""BioBench's published results as reference rows (issue 21, ``biobench report --published``).

The reference bundle biobench-tasks ships (converted from upstream's ``docs/data/results.json`` at 6376d97) loads
through the ``biobench_references`` hook, records its source, and holds upstream's figures unchanged (spot values
copied from results.json). Its rows appear only in columns run under ``biobench-paper`` on tasks whose profile is
comparable, with their published score and interval, never marked best or tied and never in the benchmark mean;
every other column gets a note saying why they are not shown there.
"""

from __future__ import annotations

import csv
import io
import json
import math

import numpy as np
import pytest

from biobench_core.contract._tasks import Prediction
from biobench_core.results._store import ExperimentKey, ExperimentRecord, ResultsStore

NAME = "biobench-6376d97"
COMMIT = "6376d97a721fcd3c7665ef54ea94f0c29cd3aa20"
WEIGHTS = f"published:{NAME}"
PAPER = "biobench-paper"
DATA = "3f2a1b9c0d8e7f60"
#: (task id, upstream checkpoint) -> (mean, ci_low, ci_high), copied from upstream's results.json at 6376d97.
SPOT = {
    ("tasks/plantnet", "ViT-B-16/openai"): (0.34075629498726634, 0.314532531739172, 0.32082147832087143),
    ("tasks/imagenet-1k", "resnet50.a1_in1k"): (0.7462523296329309, 0.7426456586037843, 0.7498693326850614),
    ("tasks/beluga", "hf-hub:imageomics/bioclip"): (0.046448598290800946, 0.04350551251119034, 0.04613772028229737),
    ("tasks/kabr", "dinov2_vitb14_reg"): (0.46258134331549683, 0.45324516696498873, 0.4703358162950474),
}


@pytest.fixture(scope="module")
def bundle() -> dict:
    from biobench_core.contract._extensions import reference_spec

    return reference_spec(NAME).load()()


def test_the_shipped_bundle_loads_through_the_hook_and_records_its_source(bundle):
    from biobench_core.results._published import load_reference

    assert bundle["schema"] == {"name": "biobench-reference", "version": 1}
    assert bundle["protocol"] == PAPER
    source = bundle["source"]
    assert source["repository"] == "https://github.com/samuelstevens/biobench"
    assert source["commit"] == COMMIT and source["path"] == "docs/data/results.json"
    assert source["license"] == "MIT" and source["copyright"] == "Copyright (c) 2024-2025 Samuel Stevens"
    assert "Permission is hereby granted" in source["license_text"]
    assert bundle["upstream_meta"] == {"schema": 1, "generated": 1773334719825, "seed": 17, "alpha": 0.05,
                                       "n_bootstraps": 500,
                                       "git_commit": "729e2297922372346394553a48a87101feca29a7"}
    assert len(bundle["results"]) == 1096 and len(bundle["backbones"]) == 85
    reference = load_reference()  # the only one installed: the default of a bare --published
    assert reference.name == NAME and len(reference.figures) == 13


def test_the_figures_are_upstreams_and_the_checkpoints_map_to_this_projects_ids(bundle):
    at = {field: i for i, field in enumerate(bundle["fields"])}
    figures = {(row[at["task"]], row[at["ckpt"]]): (row[at["mean"]], row[at["ci_low"]], row[at["ci_high"]])
               for row in bundle["results"]}
    for key, published in SPOT.items():
        assert figures[key] == published, key
    ids = {b["ckpt"]: (b["id"], b["mapped"]) for b in bundle["backbones"]}
    assert ids["ViT-B-16/openai"] == ("openclip/ViT-B-16:openai", True)
    assert ids["hf-hub:imageomics/bioclip"] == ("openclip/hf-hub:imageomics/bioclip", True)
    assert ids["resnet50.a1_in1k"] == ("timm/resnet50.a1_in1k", True)
    assert ids["vit_pe_spatial_tiny_patch16_512"] == ("timm/vit_pe_spatial_tiny_patch16_512.fb", True)
    assert ids["sam2_hiera_tiny.fb_r896_2pt1"] == ("timm/sam2_hiera_tiny.fb_r896_2pt1", True)
    assert ids["dinov2_vitb14_reg"] == ("published/dinov2_vitb14_reg", False)  # torch.hub's file, not timm's


def test_the_package_data_is_in_the_wheel():
    import tomllib
    from pathlib import Path

    plugin = Path(__file__).resolve().parents[1] / "plugins" / "biobench-tasks"
    package_data = tomllib.loads((plugin / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]
    assert "published/*.json" in package_data["biobench_tasks"]
    assert (plugin / "biobench_tasks" / "published" / f"{NAME}.json").is_file()


def _record(backbone: str, task: str, skill: float, *, metric: str, column_settings: dict, seed: int,
            n: int = 90) -> ExperimentRecord:
    rng = np.random.default_rng(seed)
    y_true = np.arange(n) % 3
    y_pred = np.where(rng.random(n) < skill, y_true, (y_true + 1) % 3)
    examples = [Prediction.of(f"ex{i}", label=int(t), pred=int(p), score=float(t == p))
                for i, (t, p) in enumerate(zip(y_true, y_pred))]
    settings = ",".join(f"{k}={v}" for k, v in sorted(column_settings.items())) + ",dtype=fp32"
    return ExperimentRecord(key=ExperimentKey(backbone, "pretrained", task, settings, data=DATA), comparable=True,
                            score=float(np.mean(y_true == y_pred)), examples=examples, splits={}, n_skipped=0,
                            metric=metric, column_settings=column_settings)


PAPER_PLANTNET = {"protocol": PAPER, "probe": "adamw-head"}


@pytest.fixture
def store(tmp_path):
    """A real store: two backbones on plantnet under biobench-paper (comparable) and under the default protocol,
    and on plankton under biobench-paper (not comparable)."""
    records = []
    for i, (backbone, skill) in enumerate((("openclip/ViT-B-16:openai", 0.9), ("timm/resnet50.a1_in1k", 0.6))):
        records += [
            _record(backbone, "tasks/plantnet", skill, metric="macro-f1-all[3]", column_settings=PAPER_PLANTNET,
                    seed=i),
            _record(backbone, "tasks/plantnet", skill, metric="macro-f1-all[3]", column_settings={"probe": "logreg"},
                    seed=10 + i),
            _record(backbone, "tasks/plankton", skill, metric="macro-f1-all[3]",
                    column_settings={"protocol": PAPER, "probe": "adamw-head"}, seed=20 + i),
        ]
    folder = tmp_path / "results"
    with ResultsStore(folder) as db:
        for record in records:
            db.save(record)
    return folder


def test_report_published_adds_the_rows_only_where_they_compare(run_cli, store, bundle):
    out = run_cli("report", "--results", str(store), "--published", "--format", "json")
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout)
    label = {(c["task"], c["settings"].get("protocol", "biobench")): c["label"] for c in report["columns"]}
    plantnet = label[("tasks/plantnet", PAPER)]
    published = [r for r in report["results"] if r["published"]]
    assert published and {r["column"] for r in published} == {plantnet}
    assert {r["weights"] for r in published} == {WEIGHTS}
    assert len(published) == sum(1 for row in bundle["results"] if row[0] == "tasks/plantnet")
    vit = next(r for r in published if r["backbone"] == "openclip/ViT-B-16:openai")
    assert (vit["score"], vit["ci_low"], vit["ci_high"]) == SPOT[("tasks/plantnet", "ViT-B-16/openai")]
    assert vit["interval"] == "as published" and "as published" in report["statistics"]["intervals"]
    assert not any(r["best"] or r["tied_with_best"] or r["too_few"] for r in published)
    # the column's own best is still this project's best row, though many published scores are higher
    best = [r for r in report["results"] if r["column"] == plantnet and r["best"]]
    assert [(r["backbone"], r["published"]) for r in best] == [("openclip/ViT-B-16:openai", False)]
    for row in report["benchmark"]:
        if row["weights"] == WEIGHTS:
            assert row["score"] is None and not row.get("best") and not row.get("tied_with_best")
    notes = "\n".join(report["notes"])
    assert f"{label[('tasks/plankton', PAPER)]}: published rows (biobench-6376d97) not shown: the task's " \
           "biobench-paper profile marks it not comparable" in notes
    assert f"{label[('tasks/plantnet', 'biobench')]}: published rows (biobench-6376d97) not shown: the column is " \
           "under protocol biobench" in notes
    assert "500 resamples" in notes and "seed 17" in notes and "alpha 0.05" in notes
    assert "never marked best or tied, never in the benchmark mean" in notes
    assert "dinov2_vits14_reg" in notes  # an unmapped checkpoint shown is listed as such


def test_every_builtin_format_shows_the_published_rows_sanely(run_cli, store):
    table = run_cli("report", "--results", str(store), "--published")
    assert table.returncode == 0, table.stderr
    line = next(ln for ln in table.stdout.splitlines() if ln.startswith("openclip/ViT-B-16:openai") and WEIGHTS in ln)
    assert "0.341 [0.315, 0.321]" in line and "- (published)" in line and "*" not in line and " =" not in line
    assert "nan" not in table.stdout.lower()
    rows = list(csv.DictReader(io.StringIO(run_cli("report", "--results", str(store), "--published",
                                                   "--format", "csv").stdout)))
    marked = [r for r in rows if r["published"] == "True"]
    assert marked and all(r["weights"] == WEIGHTS and r["best"] == "False" for r in marked)
    markdown = run_cli("report", "--results", str(store), "--published", "--format", "markdown").stdout
    assert f"| openclip/ViT-B-16:openai | {WEIGHTS} | - |" in markdown


def test_without_published_nothing_changes_and_an_unknown_name_is_one_line(run_cli, store):
    plain = json.loads(run_cli("report", "--results", str(store), "--format", "json").stdout)
    assert not any(r["published"] for r in plain["results"])
    assert not any("published rows" in n for n in plain["notes"])
    bad = run_cli("report", "--results", str(store), "--published", "biobench-6376d98")
    assert bad.returncode == 2 and "biobench-6376d97" in bad.stderr and "Traceback" not in bad.stderr
    assert len(bad.stderr.strip().splitlines()) == 1


def test_add_published_on_a_synthetic_board_keeps_the_marks_and_the_benchmark_mean():
    from biobench_core.results._leaderboard import build_leaderboard
    from biobench_core.results._published import add_published, load_reference

    records = [_record(b, "tasks/plantnet", s, metric="macro-f1-all[3]", column_settings=PAPER_PLANTNET, seed=i)
               for i, (b, s) in enumerate((("m/a", 0.9), ("m/b", 0.85)))]
    board = build_leaderboard(records, n_resamples=200)
    shown = add_published(board, load_reference(NAME))
    assert shown.benchmark_marks == board.benchmark_marks
    assert {r: shown.benchmark[r] for r in board.rows} == board.benchmark
    assert [(c.best, c.tied_with_best) for c in shown.cells if not c.published] == \
        [(c.best, c.tied_with_best) for c in board.cells]
    assert shown.rows[: len(board.rows)] == board.rows and set(shown.published) == set(shown.rows[len(board.rows):])
    assert all(shown.benchmark[r] is None for r in shown.published)
    published = [c for c in shown.cells if c.published]
    assert published and all(not (c.best or c.tied_with_best or c.too_few) for c in published)
    assert all(math.isfinite(c.score) for c in published)


@pytest.mark.parametrize("settings, why", [
    ({"protocol": PAPER, "probe": "adamw-head", "n_train": "10"}, "the column's settings n_train=10 differ"),
    ({"protocol": PAPER, "probe": "logreg"}, "the column's settings probe=logreg differ"),
])
def test_a_paper_column_with_other_settings_gets_the_note(settings, why):
    from biobench_core.results._leaderboard import build_leaderboard
    from biobench_core.results._published import add_published, load_reference

    board = build_leaderboard([_record("m/a", "tasks/plantnet", 0.9, metric="macro-f1-all[3]",
                                       column_settings=settings, seed=0)], n_resamples=100)
    shown = add_published(board, load_reference(NAME))
    assert not shown.published
    assert any(why in note for note in shown.notes), shown.notes


@pytest.mark.parametrize("bundle_change, message", [
    ({"schema": {"name": "biobench-reference", "version": 99}}, "version 99"),
    ({"results": [["tasks/plantnet", "nope/x", 0.5, 0.5, 0.4, 0.6]]}, "checkpoint 'nope/x'"),
    ({"protocol": None}, "field 'protocol'"),
])
def test_a_bad_bundle_is_one_line_naming_it(bundle, bundle_change, message):
    from biobench_core.results._published import ReferenceError, read_reference

    with pytest.raises(ReferenceError, match="reference test") as err:
        read_reference({**bundle, **bundle_change}, "reference test")
    assert message in str(err.value) and "\n" not in str(err.value)


def test_the_rank_heatmap_ranks_only_this_project_s_results():
    """Published figures, shown as published in the task charts, are not ranked among the rows computed here."""
    from biobench_core.formats._plots import plan_plots
    from biobench_core.results._leaderboard import build_leaderboard
    from biobench_core.results._published import add_published, load_reference

    records = [_record(b, "tasks/plantnet", s, metric="macro-f1-all[3]", column_settings=PAPER_PLANTNET, seed=i)
               for i, (b, s) in enumerate((("m/a", 0.9), ("m/b", 0.85)))]
    shown = add_published(build_leaderboard(records, n_resamples=200), load_reference(NAME))
    [heatmap] = [p for p in plan_plots(shown, parameters={}) if p.name == "rank-heatmap"]
    assert heatmap.data["rows"] == ["m/a", "m/b"]
    assert [row[0] for row in heatmap.data["values"]] == [1.0, 2.0]
    assert any("published" in line for line in heatmap.caption)
