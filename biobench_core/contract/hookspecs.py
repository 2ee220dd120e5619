"""The plugin contract: what a biobench plugin may implement.

A plugin is a module named by an entry point in the group ``biobench``; the entry point's name is the
plugin's namespace, and every id the plugin yields must start with ``<namespace>/``::

    # pyproject.toml
    [project.entry-points.biobench]
    mymodel = "biobench_mymodel"

    # biobench_mymodel/__init__.py
    from biobench_core import BackboneSpec, hookimpl

    BIOBENCH_CONTRACT = 2

    @hookimpl
    def biobench_backbones():
        yield BackboneSpec(id="mymodel/base", factory="biobench_mymodel.model:MyBackbone", embed_dim=512)

Besides backbones and tasks, a plugin may offer probes, metrics, report formats, executors and references (published
results to show beside this project's): each hook below
yields frozen specs naming their code lazily. The core's own probes, metrics, formats and executors are
built-in plugins that implement these same hooks (``BUILTIN_PLUGINS``).

Hooks are called at discovery time, so they must be cheap and torch-free: yield specs, never build models,
never touch the network. ``BIOBENCH_CONTRACT`` (optional, default 1) is the contract version the plugin was
written for; a plugin written for a version this core does not support (``SUPPORTED_CONTRACTS``) is listed as
``incompatible`` and not loaded.
"""

from __future__ import annotations

from collections.abc import Iterable

import pluggy

from biobench_core.contract._specs import (BackboneSpec, ExecutorSpec, MetricSpec, ProbeSpec, ReferenceSpec,
                                          ReportFormatSpec, TaskSpec)

PROJECT_NAME = "biobench"
CONTRACT_VERSION = 2
#: Contract versions this biobench-core loads. 2 added ``VisionBackbone.preprocessing()`` (optional, default
#: ``None``), so a plugin written for 1 works unchanged.
SUPPORTED_CONTRACTS = (1, 2)

#: The core's built-in plugins: hook modules registered by every registry, under the distribution biobench-core,
#: exactly as an entry point's module is. Each is torch-free and names its code lazily.
BUILTIN_PLUGINS = (
    "biobench_core.engine._builtin",  # probes
    "biobench_core.results._builtin",  # metrics
    "biobench_core.formats._builtin",  # report formats
    "biobench_core.scaleout._builtin",  # executors
)

hookspec = pluggy.HookspecMarker(PROJECT_NAME)
hookimpl = pluggy.HookimplMarker(PROJECT_NAME)


@hookspec
def biobench_backbones() -> Iterable[BackboneSpec]:
    """Yield a :class:`BackboneSpec` for every backbone this plugin can build.

    Example::

        @hookimpl
        def biobench_backbones():
            yield BackboneSpec(id="timm/resnet18.a1_in1k", factory="biobench_timm.backbone:TimmBackbone")
    """


@hookspec
def biobench_tasks() -> Iterable[TaskSpec]:
    """Yield a :class:`TaskSpec` for every task this plugin can build.

    Example::

        @hookimpl
        def biobench_tasks():
            yield TaskSpec(id="tasks/newt", factory="biobench_tasks.newt:Newt", protocol="svm")
    """


@hookspec(firstresult=True)
def biobench_resolve_backbone(backbone_id: str) -> BackboneSpec | None:
    """Build a spec for an id that no listing contains, or return ``None``.

    For open-ended families that cannot be listed, such as any Hugging Face Hub repository. Called only for
    ids in this plugin's namespace that no plugin listed.

    Example::

        @hookimpl
        def biobench_resolve_backbone(backbone_id):
            if backbone_id.startswith("openclip/hf-hub:"):
                return BackboneSpec(id=backbone_id, factory="biobench_openclip.backbone:OpenClipBackbone")
            return None
    """


@hookspec
def biobench_probes() -> Iterable[ProbeSpec]:
    """Yield a :class:`ProbeSpec` for every probe this plugin offers (``--set probe=NAME``).

    Example::

        @hookimpl
        def biobench_probes():
            yield ProbeSpec(name="ridge", factory="biobench_ridge.probe:RidgeProbe", description="ridge classifier")
    """


@hookspec
def biobench_metrics() -> Iterable[MetricSpec]:
    """Yield a :class:`MetricSpec` for every metric this plugin offers (``TaskSpec(metric=NAME)``).

    Example::

        @hookimpl
        def biobench_metrics():
            yield MetricSpec(name="fungi-cost", factory="biobench_fungi.metric:cost",
                             replicates="biobench_fungi.metric:cost_replicates", higher_is_better=False)
    """


@hookspec
def biobench_report_formats() -> Iterable[ReportFormatSpec]:
    """Yield a :class:`ReportFormatSpec` for every report format this plugin offers (``report --format NAME``).

    Example::

        @hookimpl
        def biobench_report_formats():
            yield ReportFormatSpec(name="tsv", factory="biobench_tsv:render", suffix=".tsv")
    """


@hookspec
def biobench_executors() -> Iterable[ExecutorSpec]:
    """Yield an :class:`ExecutorSpec` for every executor this plugin offers (``[executor] kind = "NAME"``).

    Example::

        @hookimpl
        def biobench_executors():
            yield ExecutorSpec(name="slurm", factory="biobench_slurm.executor:SlurmExecutor",
                               options="biobench_slurm.options:SlurmOptions")
    """


@hookspec
def biobench_references() -> Iterable[ReferenceSpec]:
    """Yield a :class:`ReferenceSpec` for every set of published results this plugin ships
    (``biobench report --published NAME``).

    Example::

        @hookimpl
        def biobench_references():
            yield ReferenceSpec(name="biobench-6376d97", factory="biobench_tasks.published:biobench_6376d97",
                                description="BioBench's published results (samuelstevens/biobench at 6376d97)")
    """
