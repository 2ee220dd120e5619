"""docs/tasks.md is the table of the task suite: one row per task of biobench-tasks, with its metric and protocol,
and every task marked as prior work says so in its row."""

from __future__ import annotations

import re
from pathlib import Path

from biobench_tasks import biobench_tasks

DOC = Path(__file__).resolve().parents[1] / "docs" / "tasks.md"
PROBE_WORDS = {"logreg": "logistic regression", "svm": "SVM", "knn": "5-NN", "simpleshot": "SimpleShot"}


def _rows() -> dict[str, str]:
    rows = {}
    for line in DOC.read_text().splitlines():
        match = re.match(r"\| `(tasks/[\w-]+)` \|", line)
        if match:
            rows[match.group(1)] = line
    return rows


def test_every_task_has_a_row_with_its_metric_protocol_and_prior_work_flag():
    rows = _rows()
    specs = list(biobench_tasks())
    assert sorted(rows) == sorted(spec.id for spec in specs)
    for spec in specs:
        row = rows[spec.id]
        assert f"`{spec.metric}`" in row, (spec.id, spec.metric)
        assert PROBE_WORDS[spec.protocol] in row, (spec.id, spec.protocol)
        assert ("prior work" in row) == spec.prior_work, spec.id
