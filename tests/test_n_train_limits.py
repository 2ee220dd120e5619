"""An ``n_train`` larger than the training split is refused, never run on fewer images under its label (issue 18).

``settings = { n_train = [4, 1000] }`` on 12 training images gave a column labelled ``n_train=1000`` that trained on
12. Now a value the split cannot hold is refused before any work, naming the task, the split and its size; in a list
only the impossible values are refused, and the plan says so.
"""

from __future__ import annotations

import sqlite3

import pytest

RUN = ("--backbone", "timm/resnet10t", "--weights", "random", "--device", "cpu", "--workers", "0", "--quiet")


@pytest.fixture
def colours(tmp_path, make_image_folder):
    return make_image_folder(tmp_path / "colours", n_train=4, n_test=2)  # 3 colours: 12 training images


def _config(tmp_path, data, n_train: str):
    config = tmp_path / "matrix.toml"
    config.write_text(f'results = "{tmp_path / "results"}"\n\n[[backbone]]\nid = "timm/resnet10t"\nweights = "random"'
                      f'\n\n[[task]]\nid = "image-folder"\ndata = "{data}"\n'
                      f'settings = {{ n_train = {n_train}, probe = "simpleshot" }}\n')
    return config


def _refusal(text: str) -> str:
    [line] = [line for line in text.splitlines() if "n_train=1000" in line]
    return line


def test_a_single_n_train_beyond_the_split_is_refused_before_any_work(tmp_path, colours, run_cli):
    proc = run_cli("run", *RUN, "--task", "image-folder", "--data", f"image-folder={colours}", "--set",
                   "n_train=1000", "--set", "probe=simpleshot", "--results", str(tmp_path / "results"))
    assert proc.returncode == 2, proc.stderr
    line = proc.stderr.strip().splitlines()[-1]
    assert "tasks/image-folder" in line and "n_train=1000" in line and "train split" in line and "12" in line, line
    assert "Traceback" not in proc.stderr
    assert not (tmp_path / "results").exists()  # nothing extracted, nothing stored


def test_in_a_list_only_the_impossible_value_is_refused_and_the_plan_says_so(tmp_path, colours, run_cli):
    config = _config(tmp_path, colours, "[4, 12, 1000]")
    plan = run_cli("plan", "--config", str(config))
    assert plan.returncode == 0, plan.stderr
    assert plan.stdout.startswith("2 experiments: 0 done"), plan.stdout
    line = _refusal(plan.stdout + plan.stderr)
    assert "tasks/image-folder" in line and "train split" in line and "12" in line, line

    run = run_cli("run", "--config", str(config), "--device", "cpu", "--workers", "0", "--quiet")
    assert run.returncode == 0, run.stderr
    line = _refusal(run.stderr)
    assert "tasks/image-folder" in line and "train split" in line and "12" in line, line
    with sqlite3.connect(tmp_path / "results" / "biobench.sqlite") as db:
        stored = sorted(row[0] for row in db.execute("SELECT settings FROM experiments"))
    assert len(stored) == 2 and not any("n_train=1000" in s for s in stored), stored


def test_a_list_with_no_possible_value_is_refused(tmp_path, colours, run_cli):
    proc = run_cli("plan", "--config", str(_config(tmp_path, colours, "[13, 1000]")))
    assert proc.returncode == 2, proc.stdout + proc.stderr
    line = proc.stderr.strip().splitlines()[-1]
    assert "tasks/image-folder" in line and "n_train=13" in line and "n_train=1000" in line and "12" in line, line


def test_in_a_list_a_value_that_chooses_one_class_is_refused_and_the_others_run(tmp_path, colours, run_cli):
    # n_train=1 picks one image, so one class: the probe could only fail after extraction. In a list it is refused
    # alone, like a value beyond the split, instead of refusing the whole run.
    config = _config(tmp_path, colours, "[1, 12]")
    plan = run_cli("plan", "--config", str(config))
    assert plan.returncode == 0, plan.stderr
    assert plan.stdout.startswith("1 experiments: 0 done") or plan.stdout.startswith("1 experiment: 0 done"), plan.stdout
    [line] = [line for line in plan.stderr.splitlines() if line.startswith("refuse")]
    assert "tasks/image-folder" in line and "(n_train=1)" in line and "only one class" in line, line
