"""``biobench plugins validate`` on a task-only plugin (issue 20, item 4): it imports every ``"module:function"``
a task spec names, and runs the task end to end on its sample data with the kit's tiny backbone."""

from __future__ import annotations

import json

import pytest

from biobench_core.testing import write_distribution

HOOKS = '''
from biobench_core import TaskSpec, hookimpl

BIOBENCH_CONTRACT = 2

@hookimpl
def biobench_tasks():
    yield TaskSpec(id="pollen/grains", factory="pollen_pkg.task:PollenGrains", metric={metric!r}{extra})
'''

TASK = '''
from pathlib import Path

from biobench_core import Example, Setting, Task

class PollenGrains(Task):
    """DIR/{train,test}/<label>/*.png: pollen grains, coloured by species."""

    settings_schema = {"note": Setting("a free-text note")}

    def __init__(self, spec, data, settings):
        super().__init__(spec, data, settings)
        root = Path(data)
        self.split_examples = {
            split: [Example(id=f"{split}/{p.parent.name}/{p.stem}", label=int(p.parent.name), source=str(p))
                    for p in sorted((root / split).glob("*/*.png"))]
            for split in ("train", "test")}

    def load(self, example):
        from PIL import Image

        with Image.open(example.source) as image:
            return image.convert("RGB")
'''

SAMPLE = '''
from pathlib import Path

def write(folder: Path) -> None:
    """Three species, twelve train and four test grains each, one colour per species."""
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(0)
    colours = [(200, 40, 40), (40, 200, 40), (40, 40, 200)]
    for split, n in (("train", 12), ("test", 4)):
        for label, colour in enumerate(colours):
            (folder / split / str(label)).mkdir(parents=True)
            for i in range(n):
                pixels = np.clip(np.array(colour) + rng.normal(0, 10, (16, 16, 3)), 0, 255).astype(np.uint8)
                Image.fromarray(pixels).save(folder / split / str(label) / f"{i}.png")
'''

METRICS = '''
def accuracy(y_true, y_pred):
    return float((y_true == y_pred).mean())
'''


def _plugin(tmp_path, *, metric: str = "accuracy", sample: bool = True):
    site = tmp_path / "site"
    extra = ', sample_data="pollen_pkg.sample:write"' if sample else ""
    write_distribution(site, "biobench-pollen",
                       {"pollen_pkg.__init__": HOOKS.format(metric=metric, extra=extra), "pollen_pkg.task": TASK,
                        "pollen_pkg.sample": SAMPLE, "pollen_pkg.metrics": METRICS},
                       {"pollen": "pollen_pkg"})
    return site


def test_a_metric_function_that_does_not_exist_fails_validate_naming_it(tmp_path, run_cli):
    site = _plugin(tmp_path, metric="pollen_pkg.metrics:macro_f1", sample=False)
    proc = run_cli("plugins", "validate", "biobench-pollen", site=site)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    [line] = [line for line in proc.stdout.splitlines() if "macro_f1" in line]
    assert "pollen/grains" in proc.stdout and "'pollen_pkg.metrics:macro_f1' does not import" in line, proc.stdout
    assert "AttributeError" in line and "Traceback" not in proc.stdout + proc.stderr


def test_a_missing_sample_generator_module_is_named(tmp_path, run_cli):
    site = _plugin(tmp_path)
    (site / "pollen_pkg" / "sample.py").unlink()
    proc = run_cli("plugins", "validate", "biobench-pollen", site=site)
    assert proc.returncode == 1
    assert "sample_data 'pollen_pkg.sample:write' does not import: ModuleNotFoundError" in proc.stdout, proc.stdout


def test_with_a_generator_validate_runs_the_task_end_to_end(tmp_path, run_cli):
    site = _plugin(tmp_path, metric="pollen_pkg.metrics:accuracy")
    proc = run_cli("plugins", "validate", "biobench-pollen", "--json", site=site)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    out = json.loads(proc.stdout)
    [task] = out["tasks"]
    checks = {check["name"]: check for check in task["checks"]}
    assert {"references", "setting declarations", "sample data", "train split", "evaluate", "end to end"} <= set(checks)
    assert all(check["status"] == "ok" for check in task["checks"]), task
    assert "biobench run --backbone kit/tiny --task pollen/grains" in checks["end to end"]["message"]
    text = run_cli("plugins", "validate", "biobench-pollen", site=site)
    assert text.returncode == 0 and "check_backbone" not in text.stdout, text.stdout
    assert "biobench-pollen conforms." in text.stdout


def test_without_a_generator_validate_says_which_checks_did_not_run(tmp_path, run_cli):
    site = _plugin(tmp_path, sample=False)
    proc = run_cli("plugins", "validate", "biobench-pollen", site=site)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    [line] = [line for line in proc.stdout.splitlines() if "end to end" in line]
    assert "skip" in line and "no sample_data generator" in line and "check_task" in line, line
    assert "check_backbone" not in proc.stdout


def test_an_end_to_end_failure_fails_validate_naming_the_task(tmp_path, run_cli):
    site = _plugin(tmp_path)
    task = site / "pollen_pkg" / "task.py"
    task.write_text(task.read_text() + "\n    def evaluate(self, train, test):\n"
                                       "        raise RuntimeError('scoring is broken')\n")
    proc = run_cli("plugins", "validate", "biobench-pollen", site=site)
    assert proc.returncode == 1
    assert "scoring is broken" in proc.stdout and "pollen/grains" in proc.stdout, proc.stdout


def test_a_setting_default_not_of_its_type_fails_validate_naming_it(tmp_path, run_cli):
    site = _plugin(tmp_path)
    task = site / "pollen_pkg" / "task.py"
    task.write_text(task.read_text().replace('Setting("a free-text note")',
                                             'Setting("grains per site", type=int, default="five")'))
    proc = run_cli("plugins", "validate", "biobench-pollen", site=site)
    assert proc.returncode == 1
    [line] = [line for line in proc.stdout.splitlines() if "'five'" in line]
    assert "pollen/grains" in line and "note" in line, proc.stdout


@pytest.mark.parametrize("field", ["sample_data"])
def test_sample_data_must_be_a_module_attr_string(field):
    from biobench_core import TaskSpec
    from biobench_core.contract._specs import SpecError

    with pytest.raises(SpecError, match=f"x/y: {field} must be a 'module:attr' string"):
        TaskSpec(id="x/y", factory="m:f", **{field: "no colon"})


@pytest.mark.parametrize("task_id", ["tasks/beluga", "tasks/newt", "tasks/image-folder", "tasks/kabr"])
def test_first_party_tasks_pass_validate_s_task_check_on_their_own_sample_data(task_id):
    """What ``biobench plugins validate biobench-tasks`` runs on each task, on four of them (the whole command takes
    minutes on a 2-core machine; every task's generator is its own tests' fixture, which those tests run)."""
    from biobench_core.testing import check_task_spec, isolated_registry, use_registry

    with use_registry(isolated_registry(["biobench-tasks"])):
        report = check_task_spec(task_id)
    report.assert_ok()
    assert {"references", "setting declarations", "sample data", "end to end"} <= {c.name for c in report.checks}


def test_every_first_party_task_that_reads_data_names_a_generator_that_imports():
    from biobench_core.contract._specs import import_attr
    from biobench_tasks import biobench_tasks

    specs = [spec for spec in biobench_tasks() if spec.needs_data]
    assert specs and all(spec.sample_data for spec in specs), [s.id for s in specs if not s.sample_data]
    assert all(callable(import_attr(spec.sample_data)) for spec in specs)
