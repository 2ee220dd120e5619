"""The default probe's fit shows its progress, as extraction does (issue 18).

Choosing ``C`` by cross-validation printed nothing for 70-130 s on a loaded machine. Now a progress line on stderr
names the ``C`` being tried and the fold; ``--quiet`` turns it off with the extraction bars, and a probe fitted
from Python (outside a run) prints nothing.
"""

from __future__ import annotations

import re

import numpy as np

RUN = ("run", "--backbone", "timm/resnet10t", "--weights", "random", "--task", "image-folder", "--device", "cpu",
       "--workers", "0")
TRIED = re.compile(r"C=0\.0001 fold 1/5")  # the first C of the grid, the first of 5 folds


def test_a_run_shows_the_C_and_the_fold_the_probe_is_fitting(tmp_path, make_image_folder, run_cli):
    data = make_image_folder(tmp_path / "colours", n_train=6, n_test=2)  # 6 per class: 5 folds
    proc = run_cli(*RUN, "--data", f"image-folder={data}", "--results", str(tmp_path / "results"))
    assert proc.returncode == 0, proc.stderr
    assert TRIED.search(proc.stderr), proc.stderr
    line = proc.stderr[:TRIED.search(proc.stderr).start()].rsplit("\n", 1)[-1].rsplit("\r", 1)[-1]
    assert "tasks/image-folder logreg" in line, line  # which experiment and which probe
    assert "final fit C=" in proc.stderr and "C=" not in proc.stdout

    quiet = run_cli(*RUN, "--data", f"image-folder={data}", "--results", str(tmp_path / "quiet"), "--quiet")
    assert quiet.returncode == 0, quiet.stderr
    assert not re.search(r"C=\S+ fold \d|final fit", quiet.stderr), quiet.stderr


def test_a_probe_fitted_from_python_prints_nothing(capfd):
    from biobench_core import make_probe

    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(40, 8)), np.repeat([0, 1], 20)
    make_probe("logreg", seed=0).fit(X, y)
    out, err = capfd.readouterr()
    assert out == "" and err == ""
