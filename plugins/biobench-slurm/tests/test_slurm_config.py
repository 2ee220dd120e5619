"""The Slurm keys of the ``[executor]`` table (the plugin's options schema) and a missing Slurm, without a cluster:
each mistake is one line naming the file, the line, the key and the expected type; sbatch gets every key."""

from __future__ import annotations

import time

import pytest

from biobench_core import ConfigError, load_config
from biobench_core.testing import check_executor


def test_slurm_without_slurm_is_one_clear_line_and_nothing_is_claimed(scale_matrix):
    config = scale_matrix.config(executor='kind = "slurm"\npartition = "debug"')
    start = time.monotonic()
    proc = scale_matrix.biobench("run", "--config", str(config), extra_env={"PATH": "/nonexistent"})
    assert time.monotonic() - start < 30
    assert proc.returncode == 1 and "scontrol is not on PATH" in proc.stderr and "Traceback" not in proc.stderr
    assert not scale_matrix.results.exists()


@pytest.mark.parametrize(("text", "expected"), [
    ('[executor]\nkind = "k8s"\n', ':2: [executor]: kind = \'k8s\': expected one of inprocess, local, slurm'),
    ('[executor]\nkind = "slurm"\npartiton = "gpu"\n',
     ":3: [executor]: unknown key 'partiton'; did you mean 'partition'? (expected kind, jobs, devices, "),
    ('[executor]\ntime = "soon"\n', ':2: [executor]: time = \'soon\': expected minutes (an integer >= 1) or a '
                                    'Slurm time such as "04:00:00"'),
    ('[executor]\ngpus_per_node = "1"\n', ":2: [executor]: gpus_per_node = '1': expected an integer >= 0"),
    ('[executor]\nmem = 32\n', ':2: [executor]: mem = 32: expected a Slurm memory size such as "32G"'),
    ('[executor]\nsbatch = { constraint = ["a", "b"] }\n', ":2: [executor]: sbatch = {'constraint': ['a', 'b']}: "
                                                          "expected a table of sbatch options"),
])
def test_a_bad_executor_table_names_line_key_and_type(tmp_path, text, expected):
    path = tmp_path / "run.toml"
    path.write_text('[[backbone]]\nid = "a/b"\n\n[[task]]\nid = "t/u"\n\n' + text if not text.startswith(
        "executor =") else text + '[[backbone]]\nid = "a/b"\n')
    with pytest.raises(ConfigError) as info:
        load_config(path)
    message = str(info.value)[len(str(path)):]
    offset = 0 if text.startswith("executor =") else 6
    line, rest = expected.split(":", 2)[1:]
    assert message.startswith(f":{int(line) + offset}:{rest}"), message


def test_lists_expand_to_every_combination_and_the_executor_table_is_read(tmp_path):
    path = tmp_path / "run.toml"
    path.write_text('''
[[backbone]]
id = "a/b"
weights = ["pretrained", "random"]

[[task]]
id = "t/u"
settings = { n_train = [10, 100], seed = [0, 1], probe = "knn" }

[executor]
kind = "slurm"
partition = "gpu"
account = "lab"
qos = "high"
time = "1-02:30:00"
gpus_per_node = 1
cpus_per_task = 8
mem = "32G"
array_parallelism = 4
sbatch = { constraint = "a100", exclusive = true }
setup = ["module load cuda"]
''')
    config = load_config(path)
    assert config.backbones == [("a/b", "pretrained"), ("a/b", "random")]
    assert [dict(t.settings) for t in config.tasks] == [
        {"n_train": n, "seed": s, "probe": "knn"} for n in ("10", "100") for s in ("0", "1")]
    executor = config.executor
    assert (executor.kind, executor.partition, executor.account, executor.qos, executor.time_minutes) == (
        "slurm", "gpu", "lab", "high", 1590)
    from biobench_slurm.executor import sbatch_parameters

    assert sbatch_parameters(executor) == {
        "job_name": "biobench", "time": 1590, "partition": "gpu", "account": "lab", "qos": "high",
        "gpus_per_node": 1, "cpus_per_task": 8, "array_parallelism": 4,
        "additional_parameters": {"constraint": "a100", "exclusive": True, "mem": "32G"},
        "setup": ["module load cuda"]}


def test_the_executor_loads_and_its_options_schema_is_well_formed():
    report = check_executor("slurm", start=False).assert_ok()
    assert [c.name for c in report.checks] == ["load", "options", "protocol"]
