"""What a plugin offers, described without importing any of its code.

A spec is a frozen, torch-free record. Listing backbones or tasks builds thousands of these and must stay
instant, so a spec never holds a model or a dataset: it names its factory as ``"module:attr"``, which the core
imports only when that backbone or task is actually used.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import re
from collections.abc import Mapping
from typing import Any, ClassVar

from biobench_core.contract._errors import did_you_mean
from biobench_core.contract._options import (OPTION_TYPES, OptionError, canonical_query, choose, split_options, text,
                                             typed)
from biobench_core.contract._protocols import TaskProfile

__all__ = ["BackboneSpec", "BackboneOption", "OptionError", "TaskSpec", "ProbeSpec", "MetricSpec", "ReportFormatSpec",
           "ExecutorSpec", "ReferenceSpec", "SpecError", "split_id", "import_attr"]

_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]*/\S+$")
_FACTORY_RE = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_][\w.]*$")
_NAME_RE = re.compile(r"^[a-z0-9][a-z0-9_.\-]*$")
_OPTION_NAME_RE = re.compile(r"^[a-z][a-z0-9_]*$")


class SpecError(ValueError):
    """A spec, or an id, that is not well formed."""


def split_id(item_id: str) -> tuple[str, str]:
    """``"timm/resnet18"`` -> ``("timm", "resnet18")``; raises :class:`SpecError` on a malformed id."""
    if not isinstance(item_id, str) or not _ID_RE.match(item_id):
        raise SpecError(f"malformed id {item_id!r}: expected '<namespace>/<name>', e.g. 'timm/resnet18'")
    namespace, _, name = item_id.partition("/")
    return namespace, name


def _fields_of(spec: Any) -> dict[str, Any]:
    """A spec's fields as a dict. Its values are immutable (strings, numbers, tuples), so no deep copy is needed:
    ``dataclasses.asdict`` would spend most of ``biobench backbones --json``'s time copying them."""
    return {field.name: getattr(spec, field.name) for field in dataclasses.fields(spec)}


@dataclasses.dataclass(frozen=True)
class _Spec:
    """Fields every spec has: a namespaced id, a lazy factory and what listing shows."""

    id: str
    factory: str
    description: str = ""
    license: str | None = None
    aliases: tuple[str, ...] = ()
    extra: tuple[tuple[str, str], ...] = ()

    def __post_init__(self) -> None:
        split_id(self.id)
        if not isinstance(self.factory, str) or not _FACTORY_RE.match(self.factory):
            raise SpecError(f"{self.id}: factory must be a 'module:attr' string, got {self.factory!r}")
        if not isinstance(self.aliases, tuple):
            raise SpecError(f"{self.id}: aliases must be a tuple of ids")
        for alias in self.aliases:
            split_id(alias)

    @property
    def namespace(self) -> str:
        return split_id(self.id)[0]

    @property
    def name(self) -> str:
        return split_id(self.id)[1]

    def to_dict(self) -> dict[str, Any]:
        out = _fields_of(self)
        out["aliases"] = list(self.aliases)
        out["extra"] = dict(self.extra)
        return out


@dataclasses.dataclass(frozen=True)
class BackboneOption:
    """One option a backbone accepts.

    Example::

        BackboneOption("pool", str, default="avg", choices=("avg", "max"), description="how the map is pooled")
        BackboneOption("img_size", int, default=224, minimum=32, description="input side in pixels")

    - ``type``: ``str``, ``int``, ``float`` or ``bool``; a value given as text (``?img_size=224``) is read as it.
    - ``default``: the value used when the option is not given (``None``: the backbone decides, e.g. the model's
      own size). Giving an option at its default is the same backbone as not giving it.
    - ``choices``: the allowed values, or ``None`` for any value of the type (within ``minimum`` and ``maximum``).
    """

    name: str
    type: type = str
    default: Any = None
    choices: tuple[Any, ...] | None = None
    minimum: float | None = None
    maximum: float | None = None
    description: str = ""

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not _OPTION_NAME_RE.match(self.name):
            raise SpecError(f"option name {self.name!r} is not lower-case letters, digits and '_'")
        if self.type not in OPTION_TYPES:
            raise SpecError(f"option {self.name}: type must be str, int, float or bool, got {self.type!r}")
        if self.choices is not None:
            if not isinstance(self.choices, tuple) or not self.choices:
                raise SpecError(f"option {self.name}: choices must be a non-empty tuple or None")
            for choice in self.choices:
                problem = self._problem(choice)
                if problem:
                    raise SpecError(f"option {self.name}: choice {choice!r} {problem}")
            if len(set(self.choices)) != len(self.choices):
                raise SpecError(f"option {self.name}: choices repeat a value")
        if self.default is not None:
            problem = self._problem(self.default) or (
                "is not one of its choices" if self.choices is not None and self.default not in self.choices else "")
            if problem:
                raise SpecError(f"option {self.name}: default {self.default!r} {problem}")

    def _problem(self, value: Any) -> str:
        """Why ``value`` (already of Python type) is no value of this option's type and range; ``""`` when fine."""
        if self.type is float and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if type(value) is not self.type or (self.type is float and not math.isfinite(value)):
            return f"is not {OPTION_TYPES[self.type]}"
        if self.minimum is not None and value < self.minimum:
            return f"is below {text(self.minimum)}"
        if self.maximum is not None and value > self.maximum:
            return f"is above {text(self.maximum)}"
        return ""

    def expected(self) -> str:
        """What a good value is, for an error: ``one of avg, max`` or ``an integer >= 32``."""
        if self.choices is not None:
            return "one of " + ", ".join(text(c) for c in self.choices)
        bounds = [f">= {text(self.minimum)}" if self.minimum is not None else "",
                  f"<= {text(self.maximum)}" if self.maximum is not None else ""]
        return " ".join([OPTION_TYPES[self.type], *[b for b in bounds if b]])

    def read(self, value: Any, backbone_id: str) -> Any:
        """``value`` (text from an id, or a TOML value) as this option's type; :class:`OptionError` naming
        ``backbone_id`` and the option when it is not a good value."""
        read = typed(value, self.type)
        where = f"{backbone_id}: option {self.name}={value if isinstance(value, str) else text(value)}"
        if read is None:
            raise OptionError(f"{where}: expected {self.expected()}")
        if self.choices is not None and read not in self.choices:
            raise OptionError(f"{where}: expected {self.expected()}"
                              + did_you_mean(text(read), [text(c) for c in self.choices]))
        if self._problem(read):
            raise OptionError(f"{where}: expected {self.expected()}")
        return read

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "type": self.type.__name__, "default": self.default,
                "choices": None if self.choices is None else list(self.choices), "minimum": self.minimum,
                "maximum": self.maximum, "description": self.description}


@functools.lru_cache(maxsize=256)
def _option_dicts(options: tuple[BackboneOption, ...]) -> tuple[dict[str, Any], ...]:
    """Options as dicts, once per distinct tuple: thousands of listed specs share a few (``--json`` stays fast)."""
    return tuple(option.to_dict() for option in options)


@dataclasses.dataclass(frozen=True)
class BackboneSpec(_Spec):
    """A frozen vision backbone that a plugin can build.

    Example::

        BackboneSpec(
            id="timm/vit_small_patch16_224.augreg_in21k",
            factory="biobench_timm.backbone:TimmBackbone",
            embed_dim=384,
            input_size=224,
            weights_source="hf-hub:timm/vit_small_patch16_224.augreg_in21k",
        )

    The factory is called as ``factory(spec, weights)`` and returns a ``VisionBackbone``. ``weights`` is
    ``None`` (the spec's own pretrained weights), ``"random"``, a local file path, or anything else the plugin
    documents.

    ``options`` declares what a user may choose (:class:`~biobench_core.contract._options.BackboneOption`): given
    as ``<id>?pool=max&img_size=224`` or ``options = {...}`` in a config, checked by :meth:`with_options`. The
    spec the factory receives then has ``id`` = the listed id plus the canonical query of the values that differ
    from their defaults (the backbone's identity in results, the feature cache and the report), ``base_id`` the
    listed id, ``name`` the listed name, and :meth:`option` the value of each option.
    """

    embed_dim: int | None = None
    input_size: int | None = None
    weights_source: str | None = None
    options: tuple[BackboneOption, ...] = ()
    #: The options chosen at a value other than their default, sorted by name (set by :meth:`with_options`).
    values: tuple[tuple[str, Any], ...] = ()
    #: The options a named protocol gives this backbone: ``(("biobench-paper", (("pool", "max-map"),)),)``
    #: (see :mod:`biobench_core.contract._protocols`); checked like given options when a run applies them.
    protocol_options: tuple[tuple[str, tuple[tuple[str, Any], ...]], ...] = ()

    def __post_init__(self) -> None:
        super().__post_init__()
        if not isinstance(self.options, tuple) or not all(isinstance(o, BackboneOption) for o in self.options):
            raise SpecError(f"{self.id}: options must be a tuple of BackboneOption")
        names = [o.name for o in self.options]
        if len(set(names)) != len(names):
            raise SpecError(f"{self.id}: options declare a name twice")
        if self.id != self.base_id + canonical_query(self.values):  # a listed id never carries a query
            raise SpecError(f"{self.id}: an id holds options ('?') only as BackboneSpec.with_options writes them")
        if not isinstance(self.protocol_options, tuple) or not all(
                isinstance(entry, tuple) and len(entry) == 2 and isinstance(entry[0], str)
                and isinstance(entry[1], tuple) for entry in self.protocol_options):
            raise SpecError(f"{self.id}: protocol_options must be a tuple of (protocol, ((option, value), ...))")

    def options_under(self, protocol: str) -> dict[str, Any]:
        """The options protocol ``protocol`` gives this backbone (none for a protocol it does not name)."""
        for name, options in self.protocol_options:
            if name == protocol:
                return dict(options)
        return {}

    @property
    def base_id(self) -> str:
        """The id as listed, without the options: ``timm/resnet50.a1_in1k`` for ``timm/resnet50.a1_in1k?pool=max``."""
        return split_options(self.id)[0]

    @property
    def name(self) -> str:
        return split_id(self.base_id)[1]

    def option(self, name: str) -> Any:
        """The value of option ``name``: the one chosen, else its declared default."""
        chosen = dict(self.values)
        if name in chosen:
            return chosen[name]
        for declared in self.options:
            if declared.name == name:
                return declared.default
        raise KeyError(f"{self.base_id} declares no option {name!r}")

    def with_options(self, given: Mapping[str, Any]) -> BackboneSpec:
        """This backbone with the options ``given`` (text from an id, or TOML values), checked against the
        declared ones; its ``id`` gains their canonical query. Raises :class:`OptionError` (one line naming the
        backbone and the option) for an unknown option or a bad value."""
        chosen = choose(self.options, {**dict(self.values), **dict(given)}, self.base_id)
        return dataclasses.replace(self, id=self.base_id + canonical_query(chosen), values=chosen,
                                   aliases=() if chosen else self.aliases)

    def to_dict(self) -> dict[str, Any]:
        """The fields as plain data; ``options`` and ``values`` only where the spec declares or has chosen some."""
        out = super().to_dict()
        del out["options"], out["values"], out["protocol_options"]
        if self.protocol_options:
            out["protocol_options"] = {name: dict(options) for name, options in self.protocol_options}
        if self.options:
            out["options"] = list(_option_dicts(self.options))
        if self.values:
            out["values"] = dict(self.values)
        return out


@dataclasses.dataclass(frozen=True)
class TaskSpec(_Spec):
    """A benchmark task that a plugin can build.

    Example::

        TaskSpec(
            id="tasks/animal-silhouettes",
            factory="biobench_tasks.silhouettes:AnimalSilhouettes",
            description="10,000 28x28 animal silhouettes, 10 classes",
            protocol="logreg",
            metric="accuracy",
            needs_data=False,
        )

    The factory is called as ``factory(spec, data, settings)`` with ``data`` the folder given by
    ``--data TASK=DIR`` (or ``None``) and ``settings`` a ``dict[str, str]``; it returns a ``Task``.
    """

    protocol: str = "logreg"
    metric: str = "accuracy"
    needs_data: bool = True
    data_source: str | None = None
    #: Prior work (e.g. iNat21 for backbones trained on it): reported, but kept out of the benchmark mean.
    prior_work: bool = False
    #: How much ``biobench data fetch`` downloads, for ``biobench data list`` (e.g. ``"4.1 GB"``).
    data_size: str | None = None
    #: ``"module:attr"`` naming the task's :class:`biobench_core.engine._data.DataRecipe` (where and how to get its
    #: data); imported only by ``biobench data``, never at discovery.
    data_recipe: str | None = None
    #: ``"module:function"`` naming ``function(folder: pathlib.Path) -> None``, which writes a tiny dataset of this
    #: task (a few images per class and split, in seconds) for ``biobench plugins validate`` to run the task on;
    #: imported only by ``validate``, never at discovery. A task with ``needs_data=False`` needs none.
    sample_data: str | None = None
    #: What each named protocol other than ``biobench`` means for this task (:class:`TaskProfile`: the settings
    #: it implies, its metric convention, what still differs from the original evaluation).
    profiles: tuple[TaskProfile, ...] = ()

    def __post_init__(self) -> None:
        super().__post_init__()
        if not isinstance(self.profiles, tuple) or not all(isinstance(p, TaskProfile) for p in self.profiles):
            raise SpecError(f"{self.id}: profiles must be a tuple of TaskProfile")
        if len({p.protocol for p in self.profiles}) != len(self.profiles):
            raise SpecError(f"{self.id}: profiles name a protocol twice")
        for field in ("data_recipe", "sample_data"):
            value = getattr(self, field)
            if value is not None and (not isinstance(value, str) or not _FACTORY_RE.match(value)):
                raise SpecError(f"{self.id}: {field} must be a 'module:attr' string, got {value!r}")

    def to_dict(self) -> dict[str, Any]:
        out = super().to_dict()
        out["profiles"] = [profile.to_dict() for profile in self.profiles]
        return out


def import_attr(reference: str) -> Any:
    """The object a ``"module:attr"`` reference names (``attr`` may be dotted), imported now."""
    import importlib

    module, _, attr = reference.partition(":")
    obj: Any = importlib.import_module(module)
    for part in attr.split("."):
        obj = getattr(obj, part)
    return obj


@dataclasses.dataclass(frozen=True)
class _NamedSpec:
    """Fields every extension spec has: a short name users type (``--format html``, ``probe=knn``,
    ``kind = "slurm"``), a lazy ``"module:attr"`` factory, and what ``biobench plugins`` shows.

    Names are not namespaced: a name belongs to one plugin, and two plugins offering one name are both refused.
    """

    name: str
    factory: str
    description: str = ""
    aliases: tuple[str, ...] = ()
    kind: ClassVar[str] = "extension"

    def __post_init__(self) -> None:
        for name in (self.name, *(self.aliases if isinstance(self.aliases, tuple) else ())):
            if not isinstance(name, str) or not _NAME_RE.match(name):
                raise SpecError(f"{self.kind} name {name!r} is not lower-case letters, digits, '-', '_' or '.'")
        if not isinstance(self.aliases, tuple):
            raise SpecError(f"{self.kind} {self.name}: aliases must be a tuple of names")
        if not isinstance(self.factory, str) or not _FACTORY_RE.match(self.factory):
            raise SpecError(f"{self.kind} {self.name}: factory must be a 'module:attr' string, got {self.factory!r}")

    @property
    def id(self) -> str:  # the catalogue's key
        return self.name

    def load(self) -> Any:
        """Import and return what :attr:`factory` names."""
        return import_attr(self.factory)

    def to_dict(self) -> dict[str, Any]:
        out = _fields_of(self)
        out["aliases"] = list(self.aliases)
        return out


@dataclasses.dataclass(frozen=True)
class ProbeSpec(_NamedSpec):
    """A probe: a cheap classifier fitted on frozen features (``--set probe=NAME``).

    The factory is a class called as ``factory(device=..., seed=..., **options)``; it has ``fit(X, y)``,
    ``predict(X)`` and ``describe()`` (see ``biobench_core.Probe``). ``version`` is the probe's protocol
    version: bump it whenever a change alters what the probe predicts; results are keyed by it.
    """

    version: str = "1"
    kind: ClassVar[str] = "probe"


#: What a metric reads of each stored example.
METRIC_INPUTS = ("labels", "scores")


@dataclasses.dataclass(frozen=True)
class MetricSpec(_NamedSpec):
    """A task metric, recomputed from the stored per-example predictions on every bootstrap replicate.

    - ``factory``: ``function(y_true, y_pred) -> float`` over 1-D integer arrays when ``needs == "labels"``,
      ``function(scores) -> float`` when ``needs == "scores"``. Pure and order-free.
    - ``replicates``: optional ``"module:attr"`` of a vectorised form, ``replicates(y_true, y_pred, weights)`` ->
      one value per row of ``weights`` (R, n), the counts of how often each example is drawn in a replicate.
      Without it, each replicate calls ``factory`` on the resampled examples (correct, only slower).
    - ``decomposes``: the metric is the mean of a per-example score (accuracy, mean), so it is additive over
      examples.
    - ``higher_is_better``: how the leaderboard ranks it.
    - ``version``: bump when a change alters the metric's value; results are keyed by it.
    - ``takes_n_classes``: the metric averages over every class the task declares, which no sample of predictions
      shows (a class absent from the truth and the predictions still counts, as 0). Its function and replicates
      take that count as a keyword ``n_classes`` (``None``: one more than the largest label or prediction seen).
      A task naming it is scored under the name with its class count bound in, ``NAME[N]``
      (``macro-f1-all[182]``): the name stored with each result, so the count is part of the result's identity
      and of its leaderboard column. ``metric_spec("NAME[N]")`` is this spec with ``n_classes = N``, whose
      :meth:`load` and :meth:`load_replicates` pass it.
    """

    replicates: str | None = None
    needs: str = "labels"
    decomposes: bool = False
    higher_is_better: bool = True
    version: str = "1"
    takes_n_classes: bool = False
    n_classes: int | None = None  # bound by a name NAME[N]; never set in a plugin's own spec
    kind: ClassVar[str] = "metric"

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.needs not in METRIC_INPUTS:
            raise SpecError(f"metric {self.name}: needs must be one of {METRIC_INPUTS}, got {self.needs!r}")
        if self.replicates is not None and (not isinstance(self.replicates, str)
                                            or not _FACTORY_RE.match(self.replicates)):
            raise SpecError(f"metric {self.name}: replicates must be a 'module:attr' string, got {self.replicates!r}")
        if self.n_classes is not None and (not self.takes_n_classes or isinstance(self.n_classes, bool)
                                           or not isinstance(self.n_classes, int) or self.n_classes < 1):
            raise SpecError(f"metric {self.name}: n_classes {self.n_classes!r} needs takes_n_classes=True and a "
                            f"count >= 1")

    def load(self) -> Any:
        """The metric's function; with a bound class count, the function with ``n_classes`` passed."""
        return self._bound(super().load())

    def load_replicates(self) -> Any:
        """The vectorised replicates function (with a bound class count passed), or ``None``."""
        return None if self.replicates is None else self._bound(import_attr(self.replicates))

    def _bound(self, function: Any) -> Any:
        if self.n_classes is None:
            return function
        import functools

        return functools.partial(function, n_classes=self.n_classes)


@dataclasses.dataclass(frozen=True)
class ReportFormatSpec(_NamedSpec):
    """A report format (``biobench report --format NAME``).

    The factory is ``render(board, options) -> str``, or ``-> bytes`` when ``binary`` is true: ``board`` is the
    assembled leaderboard (``biobench_core.results._leaderboard.Leaderboard``: its ``rows``, ``tasks``, ``columns``,
    ``cells``, ``benchmark`` means and ``notes``), ``options`` a dict of the report's options (``results``: the
    results folder; ``all``: whether not-comparable runs are included). It must be deterministic: the same board
    renders the same. ``suffix`` is the file extension ``--out`` suggests (``".html"``).
    """

    suffix: str = ".txt"
    binary: bool = False
    kind: ClassVar[str] = "report format"


@dataclasses.dataclass(frozen=True)
class ExecutorSpec(_NamedSpec):
    """Where a matrix runs (``[executor] kind = "NAME"``, ``--executor NAME``).

    The factory (usually a class) is called as ``factory(config, results_dir, env)`` and returns an executor: an
    object with ``kind``, ``default_workers`` and ``start(jobs) -> handles``, each handle with ``name``,
    ``done()``, ``error()`` and ``cancel()`` (docs/scaleout.md, "Writing an executor"). ``config`` is the checked
    ``[executor]`` table (``biobench_core.ExecutorConfig``): the generic keys (``jobs``, ``devices``,
    ``folder``...) as fields, the executor's own keys as ``config.options``. ``results_dir`` is the run's results
    folder, ``env`` variables its workers need (or ``None``). It raises, with one line, when the executor cannot
    run: nothing is claimed yet.

    ``options`` names the ``"module:attr"`` of the executor's own keys: a dataclass whose every field is declared
    with ``biobench_core.executor_option(default, expected, check)``; ``None`` for none. Imported only when a
    config is checked.
    """

    options: str | None = None
    kind: ClassVar[str] = "executor"


@dataclasses.dataclass(frozen=True)
class ReferenceSpec(_NamedSpec):
    """A set of published results to show beside this project's (``biobench report --published NAME``).

    The factory is a function of no arguments that returns the reference bundle: a dict in the
    ``biobench-reference`` schema (docs/report-references.md) holding the published figures, where they come
    from (repository, commit, licence), how their intervals were computed and the protocol they were made under.
    It is called only by a report that asks for the reference, never at discovery.
    """

    kind: ClassVar[str] = "reference"
