"""Named protocols (issue 19, item 3), end to end through the real CLI.

A throwaway task plugin declares a profile for a protocol ``lab-paper`` (a probe, a metric convention and one
difference from the original evaluation) on the ``image-folder`` task's code, and a throwaway backbone plugin gives
its backbone an option under that protocol. Runs under the protocol must form their own columns and rows, labelled,
with the difference in the report's notes; every bad input is one line before any work.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from biobench_core import TaskProfile, TaskSpec
from biobench_core.contract._protocols import ProtocolError, check_protocol, settings_under
from biobench_core.testing._distributions import write_distribution

NETS = '''
from biobench_core import BackboneOption, BackboneSpec, hookimpl

@hookimpl
def biobench_backbones():
    yield BackboneSpec(id="protonets/a", factory="protonets_pkg.model:A", embed_dim=16,
                       options=(BackboneOption("pool", str, default="avg", choices=("avg", "max")),),
                       protocol_options=(("lab-paper", (("pool", "max"),)),))
'''

NETS_MODEL = '''
import torch
from torchvision import transforms
from biobench_core import EncodedImgBatch, VisionBackbone


class A(VisionBackbone):
    def __init__(self, spec, weights=None):
        super().__init__()
        torch.manual_seed(0)
        self.net = torch.nn.Sequential(torch.nn.Conv2d(3, 16, 3, padding=1), torch.nn.ReLU())
        self.pool = spec.option("pool")
        self.weights_id = "random:seed=0"

    def img_encode(self, batch):
        fmap = self.net(batch).flatten(2)
        return EncodedImgBatch(fmap.amax(dim=2) if self.pool == "max" else fmap.mean(dim=2), None)

    def make_img_transform(self):
        return transforms.Compose([transforms.Resize((16, 16)), transforms.ToTensor()])
'''

TASKS = '''
from biobench_core import TaskProfile, TaskSpec, hookimpl

@hookimpl
def biobench_tasks():
    yield TaskSpec(id="prototask/colours", factory="biobench_tasks.image_folder:ImageFolderTask",
                   profiles=(TaskProfile("lab-paper", settings=(("probe", "simpleshot"),), metric="macro-f1",
                                         differences=("the lab's published number is expected lower (a bug)",)),))
    yield TaskSpec(id="prototask/plain", factory="biobench_tasks.image_folder:ImageFolderTask")
'''

TASK = "prototask/colours"


@pytest.fixture
def matrix(tmp_path, monkeypatch, make_image_folder, in_process):
    site = tmp_path / "site"
    write_distribution(site, "biobench-protonets", {"protonets_pkg.__init__": NETS, "protonets_pkg.model": NETS_MODEL},
                       {"protonets": "protonets_pkg"})
    write_distribution(site, "biobench-prototask", {"prototask_pkg.__init__": TASKS}, {"prototask": "prototask_pkg"})
    monkeypatch.setenv("BIOBENCH_LOAD_PLUGINS", "biobench-protonets,biobench-prototask,biobench-tasks")
    monkeypatch.syspath_prepend(str(site))
    for name in [m for m in sys.modules if m.startswith(("protonets_pkg", "prototask_pkg"))]:
        del sys.modules[name]
    data = make_image_folder(tmp_path / "colours", n_train=4, n_test=3)
    results = tmp_path / "results"

    def run(*flags: str, task: str = TASK, backbone: str = "protonets/a"):
        return in_process("run", "--backbone", backbone, "--weights", "random", "--task", task,
                          "--data", f"{task}={data}", "--results", str(results), "--quiet", "--workers", "0", *flags)

    def report():
        proc = in_process("report", "--results", str(results), "--format", "json")
        assert proc.returncode == 0, proc.stderr
        return json.loads(proc.stdout)

    return {"run": run, "report": report, "results": results, "tmp": tmp_path, "in_process": in_process,
            "data": data}


def test_a_run_under_a_protocol_has_its_own_labelled_column_row_probe_metric_and_notes(matrix):
    plain = matrix["run"]()
    assert plain.returncode == 0, plain.stderr
    under = matrix["run"]("--protocol", "lab-paper")
    assert under.returncode == 0, under.stderr
    assert "1 done, 0 skipped" in under.stderr  # a different experiment, never the plain run's result reused

    board = matrix["report"]()
    columns = {c["label"]: c for c in board["columns"]}
    label, plain_label = (f"{TASK} [probe=simpleshot,protocol=lab-paper; metric=macro-f1]",
                          f"{TASK} [probe=logreg,protocol=biobench; metric=accuracy]")
    assert set(columns) == {label, plain_label}, columns
    paper = columns[label]
    assert paper["settings"] == {"probe": "simpleshot", "protocol": "lab-paper"}
    assert paper["metric"] == "macro-f1" and columns[plain_label]["metric"] == "accuracy"
    cells = {(c["backbone"], c["column"]) for c in board["results"]}
    assert cells == {("protonets/a", plain_label), ("protonets/a?pool=max", label)}, cells
    assert f"{label}: under protocol lab-paper, the lab's published number is expected lower (a bug)" in board["notes"]
    assert not any(n.startswith(f"{plain_label}: under protocol") for n in board["notes"])

    again = matrix["run"]("--protocol", "lab-paper")
    assert again.returncode == 0 and "skip  protonets/a?pool=max [random] on prototask/colours" in again.stderr


def test_the_default_protocol_named_is_the_same_experiment_as_none(matrix):
    assert matrix["run"]().returncode == 0
    named = matrix["run"]("--protocol", "biobench")
    assert named.returncode == 0 and "skip  protonets/a [random] on prototask/colours" in named.stderr, named.stderr


def test_a_config_sets_the_protocol(matrix):
    config = matrix["tmp"] / "run.toml"
    config.write_text(f'protocol = "lab-paper"\n[[backbone]]\nid = "protonets/a"\nweights = "random"\n'
                      f'[[task]]\nid = "{TASK}"\ndata = "{matrix["data"]}"\n')
    proc = matrix["in_process"]("run", "--config", str(config), "--results", str(matrix["results"]), "--quiet",
                                "--workers", "0")
    assert proc.returncode == 0, proc.stderr
    assert [c["label"] for c in matrix["report"]()["columns"]] == [f"{TASK} [protocol=lab-paper]"]  # its only one

    config.write_text(f'protocol = "lab-papr"\n[[backbone]]\nid = "protonets/a"\n[[task]]\nid = "{TASK}"\n')
    bad = matrix["in_process"]("plan", "--config", str(config))
    assert bad.returncode == 2
    assert bad.stderr.strip().splitlines()[-1] == (
        f"biobench plan: error: {config}:1: protocol = 'lab-papr': unknown protocol 'lab-papr'; did you mean "
        "'lab-paper'? (protocols: biobench, biobench-paper, lab-paper)"), bad.stderr


@pytest.mark.parametrize(("flags", "task", "backbone", "line"), [
    (("--protocol", "lab-papr"), TASK, "protonets/a",
     "unknown protocol 'lab-papr'; did you mean 'lab-paper'? (protocols: biobench, biobench-paper, lab-paper)"),
    (("--protocol", "lab-paper"), "prototask/plain", "protonets/a",
     "prototask/plain: has no profile for protocol 'lab-paper' (its protocols: biobench); leave the task out of "
     "this run or run it without --protocol"),
    (("--protocol", "lab-paper", "--set", "probe=logreg"), TASK, "protonets/a",
     "prototask/colours: setting probe='logreg' contradicts protocol 'lab-paper', which sets probe='simpleshot'; "
     "drop the setting or the protocol"),
    (("--protocol", "lab-paper"), TASK, "protonets/a?pool=avg", None),  # the default: nothing contradicts
    (("--set", "protocol=lab-paper"), TASK, "protonets/a",
     "--set protocol=lab-paper: give it as --protocol lab-paper (it sets backbone options too)"),
])
def test_bad_protocol_input_is_one_line_before_any_work(matrix, flags, task, backbone, line):
    proc = matrix["in_process"]("plan", "--backbone", backbone, "--weights", "random", "--task", task,
                                "--data", f"{task}={matrix['data']}", "--results", str(matrix["results"]), *flags)
    if line is None:
        assert proc.returncode == 0, proc.stderr
        assert "protonets/a?pool=max [random] on prototask/colours" in proc.stdout, proc.stdout
        return
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.strip().splitlines()[-1] == f"biobench plan: error: {line}", proc.stderr
    assert not (matrix["results"] / "biobench.sqlite").exists()


def test_a_backbone_option_that_contradicts_the_protocol_is_refused(matrix):
    proc = matrix["in_process"]("plan", "--backbone", "protonets/a?pool=max", "--weights", "random", "--task", TASK,
                                "--data", f"{TASK}={matrix['data']}", "--protocol", "lab-paper")
    assert proc.returncode == 0, proc.stderr  # the protocol's own value, given by hand: the same
    spec = TaskSpec(id="x/y", factory="m:f", profiles=(TaskProfile("p", settings=(("probe", "knn"),)),))
    with pytest.raises(ProtocolError, match="contradicts protocol 'p'"):
        settings_under(spec, {"protocol": "p", "probe": "logreg"})
    assert settings_under(spec, {"protocol": "p", "n_train": "5"}) == {"protocol": "p", "probe": "knn",
                                                                       "n_train": "5"}
    assert settings_under(spec, {"protocol": "biobench", "n_train": "5"}) == {"n_train": "5"}
    assert check_protocol("p", [spec]) == "p"


def test_a_profile_is_checked_when_declared():
    with pytest.raises(ValueError, match="other than 'biobench'"):
        TaskProfile("biobench")
    with pytest.raises(ValueError, match="cannot set 'protocol'"):
        TaskProfile("p", settings=(("protocol", "q"),))
    with pytest.raises(ValueError, match="profiles name a protocol twice"):
        TaskSpec(id="x/y", factory="m:f", profiles=(TaskProfile("p"), TaskProfile("p")))
