"""A template biobench task plugin: the hooks. Keep this module cheap: no torch, no PIL, no reading data.

``biobench tasks`` imports this module and calls the hooks below for every listing. The task's code lives in
:mod:`biobench_task_template.task` (imported only when someone runs the task), its metric in
:mod:`biobench_task_template.metric` (imported only when a score is computed) and its sample-data generator in
:mod:`biobench_task_template.sample` (imported only by ``biobench plugins validate`` and the tests).
"""

from __future__ import annotations

from collections.abc import Iterator

from biobench_core import MetricSpec, TaskSpec, hookimpl

__all__ = ["BIOBENCH_CONTRACT", "biobench_tasks", "biobench_metrics"]

#: The plugin-contract version this plugin was written for (see docs/hookspecs.md).
BIOBENCH_CONTRACT = 2


@hookimpl
def biobench_tasks() -> Iterator[TaskSpec]:
    yield TaskSpec(
        id="tasktemplate/pollinator-visits",  # "<namespace>/<name>": the namespace is the entry-point name
        factory="biobench_task_template.task:PollinatorVisits",  # "module:attr", imported only when used
        description="Which insect visits the flower: photos from several field sites, listed in visits.csv",
        license="CC-BY-4.0",  # the licence of the data, as `biobench data list` shows it
        protocol="logreg",  # the probe fitted on the frozen features (--set probe=... overrides it)
        metric="tasktemplate-macro-f1",  # the metric biobench_metrics() below offers
        needs_data=True,  # --data pollinator-visits=DIR
        data_source="your folder: DIR/visits.csv (image,pollinator,site,split) and the images it names",
        sample_data="biobench_task_template.sample:write_sample",  # a tiny dataset for validate and the tests
    )


@hookimpl
def biobench_metrics() -> Iterator[MetricSpec]:
    yield MetricSpec(
        name="tasktemplate-macro-f1",  # metric names are global: keep your namespace in it
        factory="biobench_task_template.metric:macro_f1_seen",
        replicates="biobench_task_template.metric:macro_f1_seen_replicates",
        description="macro-F1 over the pollinators present in the test truth (one never seen at the test sites "
                    "does not count)",
    )
