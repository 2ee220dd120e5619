"""``biobench-paper`` (issue 19, item 3): every BioBench task builds under upstream's published protocol, with
upstream's probe and metric convention, in columns labelled with the protocol."""

from __future__ import annotations

import importlib

import pytest

from biobench_core import ProtocolError, load_task
from biobench_tasks import biobench_tasks
from biobench_tasks._paper import PAPER, PAPER_PROFILES


def import_attr(reference: str):
    module, _, name = reference.partition(":")
    return getattr(importlib.import_module(module), name)


SPECS = {spec.id: spec for spec in biobench_tasks()}
#: Upstream's probe per task (samuelstevens/biobench at 6376d97); the others keep their task's own protocol.
PUBLISHED_PROBES = {
    "tasks/herbarium19": "adamw-head", "tasks/plantnet": "adamw-head", "tasks/plankton": "adamw-head",
    "tasks/iwildcam": "adamw-head", "tasks/ecdysis": "adamw-head", "tasks/inat21": "adamw-head",
    "tasks/imagenet-1k": "adamw-head", "tasks/kabr": "logreg-saga", "tasks/mammalnet": "logreg-saga",
}
BIOBENCH_TASKS = sorted(set(SPECS) - {"tasks/animal-silhouettes", "tasks/image-folder"})


def test_every_biobench_task_has_a_profile_and_biobench_s_own_have_none():
    assert sorted(PAPER_PROFILES) == BIOBENCH_TASKS
    assert [p.protocol for p in SPECS["tasks/kabr"].profiles] == [PAPER]
    assert SPECS["tasks/animal-silhouettes"].profiles == () and SPECS["tasks/image-folder"].profiles == ()


@pytest.mark.parametrize("task_id", BIOBENCH_TASKS)
def test_every_task_builds_under_the_published_protocol(task_id, tmp_path):
    spec = SPECS[task_id]
    data = tmp_path / "data"
    import_attr(spec.sample_data)(data)
    plain = load_task(task_id, data, {})
    paper = load_task(task_id, data, {"protocol": PAPER})
    assert paper.probe == PUBLISHED_PROBES.get(task_id, plain.probe)
    assert paper.settings["protocol"] == PAPER and "protocol=biobench-paper" in paper.settings_key()
    assert paper.settings_key() != plain.settings_key()  # its own results and column, never the plain run's
    expected_metric = "macro-f1-all" if task_id == "tasks/iwildcam" else spec.metric
    assert paper.metric.split("[")[0] == expected_metric
    if task_id == "tasks/newt":
        assert paper.settings["n_train_per"] == "subtask"


def test_a_task_without_a_profile_is_refused_by_name():
    with pytest.raises(ProtocolError, match="tasks/animal-silhouettes: has no profile for protocol 'biobench-paper'"):
        load_task("tasks/animal-silhouettes", None, {"protocol": PAPER})


def test_upstream_defects_are_named_with_their_direction():
    for task_id, word in [("tasks/plankton", "lower"), ("tasks/ecdysis", "higher"), ("tasks/fishnet", "lower"),
                          ("tasks/herbarium19", "lower")]:
        [text] = PAPER_PROFILES[task_id].differences
        assert "upstream defect not copied" in text or "not comparable" in text
        assert f"expected {word}" in text, text


def test_a_run_under_the_published_protocol_fits_upstream_s_probe(tmp_path, run_task):
    data = tmp_path / "kabr"
    import_attr(SPECS["tasks/kabr"].sample_data)(data)
    run, report = run_task("tasks/kabr", data, "--protocol", PAPER)
    assert run.returncode == 0, run.stderr
    [cell] = report["results"]
    [column] = report["columns"]
    assert column["label"] == "tasks/kabr [protocol=biobench-paper]"
    assert column["settings"] == {"probe": "logreg-saga", "protocol": PAPER}
    assert cell["metric"].startswith("macro-f1-all[")
    assert any(note.startswith("tasks/kabr [protocol=biobench-paper]: under protocol biobench-paper, frames are "
                               "sampled") for note in report["notes"])


def test_only_columns_free_of_an_upstream_defect_are_comparable_with_the_published_numbers():
    assert sorted(t for t, p in PAPER_PROFILES.items() if not p.comparable) == [
        "tasks/ecdysis", "tasks/fishnet", "tasks/plankton"]
