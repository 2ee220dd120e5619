"""The task contract: what a task plugin's factory returns.

A task declares its data (train and test examples with stable ids, integer labels, optional groups), its
protocol (which probe) and its metric. It never writes an extraction loop: the core decodes images through
:meth:`Task.load`, batches them through the backbone, and hands the features to :meth:`Task.evaluate`.

A video task returns a list of frames from :meth:`Task.load`; the core encodes every frame and pools them
(:attr:`Task.frame_pooling`: mean or max over frames) into one feature vector per example.

Every task accepts ``--set n_train=N`` (a seeded, class-balanced subsample of the training split, nested:
``n_train=100`` is contained in ``n_train=200``), ``--set seed=S`` (default 0) and ``--set class_weight=balanced``
(class-balanced weights in the probe's fit, for a probe that has class weights), besides ``probe``.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, NamedTuple

import numpy as np

from biobench_core.contract._errors import did_you_mean
from biobench_core.contract._extensions import group_scores
from biobench_core.contract._options import OPTION_TYPES, text, typed
from biobench_core.contract._protocols import profile_of, settings_under
from biobench_core.contract._specs import TaskSpec

if TYPE_CHECKING:
    from PIL import Image

__all__ = ["Example", "Task", "Prediction", "as_predictions", "TaskDataError", "SettingsError", "Setting",
           "SettingDeclarationError", "SETTING_TYPES", "positive_int", "non_negative_int", "Evaluation",
           "SplitFeatures", "balanced_subsample", "FRAME_POOLING"]

FRAME_POOLING = ("mean", "max")

SPLITS = ("train", "test")


class TaskDataError(ValueError):
    """A task's data is missing or malformed; the message names the file, folder or row."""


class SettingsError(TaskDataError):
    """A task setting (``--set NAME=VALUE``) the task does not accept, or a value it cannot use.

    Raised when the task is built, so before any image is decoded; the message names the task and the setting
    and says what is expected. The command line reports it as a usage error (exit 2).
    """

    exit_code = 2


#: The types a :class:`Setting` may declare; ``"choice"`` is a string among the setting's ``choices``.
SETTING_TYPES = (int, float, bool, str, "choice")


class SettingDeclarationError(TypeError):
    """A task's :class:`Setting` that contradicts itself (a default outside its own type, range or choices): a
    defect of the task's plugin, found before any work (and by ``biobench plugins validate``)."""


@dataclasses.dataclass(frozen=True)
class Setting:
    """One setting a task accepts: ``--set NAME=VALUE``, or ``settings`` in a config file's ``[[task]]``.

    Example::

        Setting("at most N examples per site", type=int, default=20, minimum=1)
        Setting("the folder scored", type="choice", choices=("val", "test"), default="val")

    - ``type``: ``int``, ``float``, ``bool`` (``true``/``false``, ``yes``/``no``, ``1``/``0``), ``str`` or
      ``"choice"`` (one of ``choices``); the task reads ``self.settings[name]`` as that type.
    - ``default``: the value a task reads when the setting is not given (``None``: absent from
      ``self.settings``). The default is not part of a result's identity: giving a setting at its default is
      stored under another key than leaving it out.
    - ``minimum``, ``maximum``: bounds (inclusive) of an ``int`` or ``float``.
    - ``choices``: the allowed strings of a ``"choice"``, or a function returning them (looked up when a value is
      checked: the core's ``probe`` lists the installed probes).
    - ``check``: an extra test of the value as given (a string); it raises :class:`ValueError` saying what is
      expected. Settings written before typed settings use it alone (``type=str``: the value stays a string).
    """

    description: str
    check: Callable[[str], object] | None = None
    _: dataclasses.KW_ONLY
    type: Any = str
    default: Any = None
    minimum: float | None = None
    maximum: float | None = None
    choices: Sequence[str] | Callable[[], Sequence[str]] | None = None

    def choice_names(self) -> list[str]:
        """The allowed values of a ``"choice"`` setting (``choices`` called when it is a function)."""
        choices = self.choices() if callable(self.choices) else self.choices
        return [str(choice) for choice in choices or ()]

    def expected(self) -> str:
        """What a good value is, for an error: ``an integer >= 1``, ``one of val, test``, ``balanced``."""
        if self.type == "choice":
            names = self.choice_names()
            return names[0] if len(names) == 1 else "one of " + ", ".join(names)
        if self.type is bool:
            return "true or false (or yes/no, 1/0)"
        words = OPTION_TYPES.get(self.type, "a string")
        if self.minimum is not None and self.maximum is not None:
            return f"{words} from {text(self.minimum)} to {text(self.maximum)}"
        if self.minimum is not None:
            return f"{words} >= {text(self.minimum)}"
        if self.maximum is not None:
            return f"{words} <= {text(self.maximum)}"
        return words

    def convert(self, value: Any) -> Any:
        """``value`` (as given: text from ``--set`` or a config) as this setting's type; a :class:`ValueError`
        saying what is expected when it is not a good value."""
        if self.type == "choice":
            names = self.choice_names()
            if str(value) not in names:
                raise ValueError(f"expected {self.expected()}{did_you_mean(str(value), names)}")
            converted: Any = str(value)
        elif self.type is str:
            converted = value  # as given: a setting declared before typed settings reads what it always read
        else:
            converted = typed(value, self.type)
            if converted is None or self._out_of_range(converted):
                raise ValueError(f"expected {self.expected()}")
        if self.check is not None:
            self.check(value)
        return converted

    def _out_of_range(self, value: float) -> bool:
        return ((self.minimum is not None and value < self.minimum)
                or (self.maximum is not None and value > self.maximum))

    def check_declaration(self, name: str) -> None:
        """A :class:`SettingDeclarationError` (a ``TypeError``) naming setting ``name`` when this declaration
        contradicts itself: an unknown type, a ``"choice"`` without choices, bounds on a non-number, or a default
        that is not of its type, within its bounds and among its choices. :meth:`Task.check_declarations` runs it
        on every setting of a task, and so does ``biobench plugins validate``."""
        problem = self._declaration_problem()
        if problem:
            raise SettingDeclarationError(f"setting {name} is declared wrongly: {problem}")

    def _declaration_problem(self) -> str:
        if not isinstance(self.description, str) or not self.description:
            return "no description (Setting(description, ...): a sentence saying what it does)"
        if self.check is not None and not callable(self.check):
            return f"check={self.check!r} is not a function"
        if not any(self.type is kind or self.type == kind for kind in SETTING_TYPES):
            return f"type must be int, float, bool, str or 'choice', not {self.type!r}"
        if self.type != "choice":
            if self.choices is not None:
                return "choices need type='choice'"
        elif self.choices is None:
            return "type 'choice' needs choices=(...)"
        elif not callable(self.choices) and (isinstance(self.choices, str) or not self.choices
                                             or not all(isinstance(c, str) for c in self.choices)):
            return f"choices={self.choices!r}: expected a non-empty tuple of strings"
        if self.type not in (int, float) and (self.minimum is not None or self.maximum is not None):
            return "minimum and maximum are for an int or float setting"
        if self.minimum is not None and self.maximum is not None and self.minimum > self.maximum:
            return f"minimum {text(self.minimum)} is above its maximum {text(self.maximum)}"
        return "" if self.default is None else self._default_problem(self.default)

    def _default_problem(self, default: Any) -> str:
        if self.type == "choice":
            return "" if default in self.choice_names() else f"default {default!r} is not {self.expected()}"
        if typed(default, self.type) is None or (isinstance(default, str) and self.type is not str):
            return f"default {default!r} is not {OPTION_TYPES[self.type]}"
        if self.minimum is not None and default < self.minimum:
            return f"default {text(default)} is below its minimum {text(self.minimum)}"
        if self.maximum is not None and default > self.maximum:
            return f"default {text(default)} is above its maximum {text(self.maximum)}"
        return ""


def positive_int(value: str) -> int:
    """A :attr:`Setting.check` for a whole number >= 1 (the form before typed settings: a new setting declares
    ``type=int, minimum=1``, and its value reaches the task as an ``int``)."""
    try:
        number = int(value)
    except ValueError:
        number = 0
    if number < 1:
        raise ValueError("expected an integer >= 1")
    return number


def non_negative_int(value: str) -> int:
    """A :attr:`Setting.check` for a whole number >= 0 (before typed settings; see :func:`positive_int`)."""
    try:
        number = int(value)
    except ValueError:
        number = -1
    if number < 0:
        raise ValueError("expected an integer >= 0")
    return number


def _probe_names() -> list[str]:
    """The ``probe`` setting's choices: the installed probes' names (looked up when a value is checked)."""
    from biobench_core.contract._extensions import extension_names

    return list(extension_names("probes"))


@dataclasses.dataclass(frozen=True)
class Example:
    """One labelled example. ``source`` is the file it comes from (``None`` for in-memory data)."""

    id: str
    label: int
    group: str | None = None
    source: str | None = None


@dataclasses.dataclass
class SplitFeatures:
    """A split's features: row ``i`` of ``features`` (and ``patches``) belongs to ``examples[i]``.

    Examples whose image could not be decoded are absent, so use these examples, not :meth:`Task.examples`.
    """

    examples: list[Example]
    features: np.ndarray  # (n, dim) float32
    patches: np.ndarray | None = None  # (n, n_patches, patch_dim), only when the task needs patches

    @property
    def labels(self) -> np.ndarray:
        return np.array([ex.label for ex in self.examples], dtype=np.int64)


class Prediction(NamedTuple):
    """One scored test example: what a task's evaluation yields and what the store, the metrics and the report read.

    ``info`` carries ``label`` (the true class, ``y_true``) and ``pred`` (the predicted class, ``y_pred``; -1 when
    the backbone could not score the example) and anything else the task records (``pred_name``, ``skipped``).
    It is a tuple ``(id, score, info)``, so tasks written against the untyped form keep working.
    """

    id: str
    score: float
    info: dict[str, Any]

    @classmethod
    def of(cls, id: str, label: int | None, pred: int | None, score: float, **info: Any) -> Prediction:
        """A prediction from its typed parts: ``Prediction.of("img_1", label=3, pred=3, score=1.0)``."""
        fields = {} if label is None else {"label": int(label)}
        if pred is not None:
            fields["pred"] = int(pred)
        return cls(str(id), float(score), {**fields, **info})

    @property
    def label(self) -> int | None:
        """The true class (``y_true``), or ``None`` for a task whose metric reads only scores."""
        value = self.info.get("label")
        return None if value is None else int(value)

    @property
    def pred(self) -> int | None:
        """The predicted class (``y_pred``; -1: not scored), or ``None`` for a task whose metric reads only scores."""
        value = self.info.get("pred")
        return None if value is None else int(value)


def as_predictions(items: Sequence[Any], where: str) -> list[Prediction]:
    """``items`` (Predictions or ``(id, score, info)`` tuples) as Predictions; a malformed one is a ``TypeError``
    naming ``where`` and the item's position."""
    out = []
    for position, item in enumerate(items):
        if isinstance(item, Prediction):
            out.append(item)
            continue
        try:
            example_id, score, info = item
            out.append(Prediction(str(example_id), float(score), dict(info)))
        except (TypeError, ValueError) as exc:
            raise TypeError(f"{where}: example {position} is {item!r}, not (id, score, info): {exc}") from None
    return out


@dataclasses.dataclass
class Evaluation:
    """What :meth:`Task.evaluate` returns: one :class:`Prediction` per scored test example, and named sub-scores.

    ``examples`` may be given as ``(id, score, info)`` tuples; they become Predictions.
    """

    examples: list[Prediction]
    splits: dict[str, float] = dataclasses.field(default_factory=dict)
    probe: dict[str, Any] = dataclasses.field(default_factory=dict)  # the fitted probe's chosen settings

    def __post_init__(self) -> None:
        self.examples = as_predictions(self.examples, "Evaluation.examples")


class Task:
    """Base class for tasks. Subclasses implement :meth:`examples` and :meth:`load`.

    ``settings`` come from the command line (``--set probe=simpleshot``) or a config file's ``[[task]]``
    ``settings`` table, as strings. A task accepts only the names in :attr:`settings_schema`: the base class
    declares ``probe`` (overrides the spec's protocol), ``n_train``, ``seed`` and ``class_weight``, and a subclass
    declares its own, e.g.::

        class Beetles(Task):
            settings_schema = {"subset": Setting("train on N examples", type=int, minimum=1)}

    Schemas merge along the class hierarchy, so a subclass lists only what it adds (mapping a name to ``None``
    withdraws an inherited one). ``Task.__init__`` refuses an unknown name (with a "did you mean") or a bad value
    with a :class:`SettingsError`, before the task reads any data; a subclass calls ``super().__init__`` first and
    then reads ``self.settings``: each value converted to its setting's type, and every setting with a default
    that was not given at its default. ``self.given_settings`` are the settings as given (text): what a result's
    identity is made of (:meth:`settings_key`), so a default never changes which results exist.

    Every task also takes ``protocol``, which ``biobench run --protocol NAME`` sets (never ``--set``): a named
    protocol the spec declares a :class:`~biobench_core.contract._protocols.TaskProfile` for, whose settings are
    added (a given setting that contradicts them is refused) and whose metric replaces the spec's.
    """

    #: The settings this class adds to its bases': name -> :class:`Setting`. See :meth:`accepted_settings`.
    settings_schema: ClassVar[Mapping[str, Setting | None]] = {
        "probe": Setting("the probe fitted on the features, instead of the spec's protocol", type="choice",
                         choices=_probe_names),
        "n_train": Setting("train on a seeded, class-balanced subsample of N training examples", type=int,
                           minimum=1),
        "seed": Setting("the seed of every random choice the task makes", type=int, minimum=0, default=0),
        "class_weight": Setting("balanced: weight each training example by n / (n_classes x its class's count) in "
                                "the probe's fit (probes with class weights: logreg, svm); leave it out for "
                                "unweighted classes", type="choice", choices=("balanced",)),
    }
    needs_patches: bool = False
    #: How a video example's frame features become one vector: ``"mean"`` or ``"max"`` over its frames.
    frame_pooling: ClassVar[str] = "mean"
    #: Train and test are the same examples by design: :meth:`evaluate` scores each one against the others
    #: (leave-one-out re-identification). The conformance kit then expects the splits to be equal, not disjoint,
    #: and a run allows ids in both splits (which it otherwise refuses before any work).
    leave_one_out: ClassVar[bool] = False
    #: Test examples may carry labels no training example has (unknown classes an open-set protocol must reject,
    #: or classes a closed-set probe cannot predict, which score 0). Otherwise a run scored by the core's probe
    #: refuses such an example before any work (:mod:`biobench_core.contract._example_checks`).
    open_set: ClassVar[bool] = False
    data_version: str = "1"
    #: Subclasses with fixed splits fill this (``{"train": [...], "test": [...]}``) instead of overriding examples().
    split_examples: dict[str, Sequence[Example]] | None = None

    def __init__(self, spec: TaskSpec, data: str | Path | None = None, settings: dict[str, str] | None = None):
        self.spec = spec
        self.data = Path(data) if data is not None else None
        given = settings_under(spec, settings or {})
        self.settings = self.check_settings(spec, given)
        #: The settings as given, unconverted and without defaults: the identity of the task's results.
        self.given_settings = dict(given)
        self.probe = self.settings.get("probe", spec.protocol)
        profile = profile_of(spec, self.settings.get("protocol"))
        self.metric = profile.metric if profile is not None and profile.metric else spec.metric
        self.seed = int(self.settings.get("seed", 0))
        self._check_probe_takes_settings()
        if self.frame_pooling not in FRAME_POOLING:
            raise TypeError(f"{type(self).__name__}.frame_pooling must be one of {FRAME_POOLING}")
        if spec.needs_data:
            if self.data is None:
                raise TaskDataError(f"{spec.id}: needs a data folder: pass --data {spec.name}=DIR")
            if self.data.exists() and not self.data.is_dir():
                raise TaskDataError(f"{spec.id}: {self.data} is a file, not a folder: give the folder that holds the "
                                    f"task's data (this file's folder is {self.data.absolute().parent})")
            if not self.data.is_dir():
                raise TaskDataError(f"{spec.id}: data folder {self.data} does not exist")
        elif self.data is not None:  # a folder it would ignore: refused, never silently unused
            source = spec.data_source or "it comes with its plugin"
            raise TaskDataError(f"{spec.id}: takes no data folder (its data: {source}); drop --data "
                                f"{spec.name}={self.data} (or data = in the config)")

    @classmethod
    def accepted_settings(cls) -> dict[str, Setting]:
        """Every setting this task accepts: the :attr:`settings_schema` of its classes, base first."""
        merged: dict[str, Setting | None] = {}
        for klass in reversed(cls.__mro__):
            merged.update(vars(klass).get("settings_schema") or {})
        return {name: setting for name, setting in merged.items() if setting is not None}

    @classmethod
    def check_declarations(cls, where: str = "") -> None:
        """A :class:`SettingDeclarationError` naming ``where`` (default: the class) and the setting when one of
        this task's settings is declared wrongly: not a :class:`Setting`, or one that contradicts itself (see
        :meth:`Setting.check_declaration`). What ``biobench plugins validate`` runs on a task's class."""
        for name, setting in cls.accepted_settings().items():
            if not isinstance(setting, Setting):
                raise SettingDeclarationError(f"{where or cls.__name__}: setting {name} is declared as "
                                              f"{setting!r}, not as Setting(description, ...)")
        cls._check_typed_declarations(where)

    @classmethod
    def _check_typed_declarations(cls, where: str) -> None:
        """:meth:`Setting.check_declaration` on each declared :class:`Setting` (building a task runs this; an entry
        that is no ``Setting`` at all is the kit's ``settings`` check to name)."""
        for name, setting in cls.accepted_settings().items():
            if isinstance(setting, Setting):
                try:
                    setting.check_declaration(name)
                except SettingDeclarationError as exc:
                    raise SettingDeclarationError(f"{where or cls.__name__}: {exc}") from None

    @classmethod
    def check_settings(cls, spec: TaskSpec, settings: Mapping[str, str]) -> dict[str, Any]:
        """``settings`` converted to their declared types, with the declared defaults of those not given, when this
        task accepts every name and value; else a :class:`SettingsError` (a :class:`SettingDeclarationError` when
        the task's own declaration is wrong)."""
        cls._check_typed_declarations(spec.id)
        accepted = cls.accepted_settings()
        values: dict[str, Any] = {}
        for name, value in settings.items():
            if name == "protocol":  # set by ``run --protocol``, checked against the spec's profiles (never --set)
                values[name] = str(value)
                continue
            if name not in accepted:
                valid = ", ".join(sorted(accepted)) or "none"
                raise SettingsError(f"{spec.id}: unknown setting '{name}'{did_you_mean(name, sorted(accepted))} "
                                    f"(settings of {spec.id}: {valid})")
            try:
                values[name] = accepted[name].convert(value)
            except ValueError as exc:
                raise SettingsError(f"{spec.id}: setting {name}={value!r}: {exc}") from None
        for name, setting in accepted.items():
            if name not in values and getattr(setting, "default", None) is not None:
                values[name] = setting.default if setting.type in (str, "choice") else typed(setting.default,
                                                                                                setting.type)
        return values

    # -- what subclasses implement ---------------------------------------------------------------------------

    def examples(self, split: str) -> Sequence[Example]:
        """The examples of ``split`` (``"train"`` or ``"test"``), in a stable order."""
        if self.split_examples is None:
            raise NotImplementedError(f"{type(self).__name__} must fill split_examples or override examples()")
        try:
            return self.split_examples[split]
        except KeyError:
            raise ValueError(f"unknown split {split!r}: expected one of {', '.join(self.split_examples)}") from None

    def load(self, example: Example) -> Image.Image | list[Image.Image]:
        """Decode one example: a PIL image, or a list of frames for a video clip."""
        raise NotImplementedError

    @property
    def class_names(self) -> list[str] | None:
        return None

    @property
    def n_classes(self) -> int:
        """How many classes the task declares (labels are 0..n_classes-1): its :attr:`class_names`, or else one
        more than the largest label of its train and test examples. What a metric over every declared class
        (``macro-f1-all``) averages over; a task whose data declares classes it has no example of overrides it."""
        names = self.class_names
        if names:
            return len(names)
        return 1 + max((int(ex.label) for split in ("train", "test") for ex in self.examples(split)), default=0)

    @property
    def metric(self) -> str:
        """The metric the task is scored by: the spec's (or what was assigned), with the task's :attr:`n_classes`
        bound in for a metric over every declared class (``macro-f1-all`` -> ``macro-f1-all[182]``), the name its
        results are stored under."""
        from biobench_core.contract._extensions import metric_for_task

        return metric_for_task(self._metric, lambda: self.n_classes)

    @metric.setter
    def metric(self, name: str) -> None:
        self._metric = name

    def stratum(self, example: Example) -> object:
        """What ``n_train`` balances over: the label; a task of many binary sub-tasks returns (sub-task, label)."""
        return example.label

    def files(self, example: Example) -> Sequence[str]:
        """Every file :meth:`load` reads for ``example`` (default: its ``source``); :meth:`manifest` stamps each, so
        rewriting any of them (a video's frame, say) is a change the feature cache and the results store see."""
        return () if example.source is None else (example.source,)

    def in_score(self, example: Example) -> bool:
        """Whether a test example counts in the task's score (all do by default).

        A task that also reports a second test set as a sub-score (PlantNet's ``test`` folder next to the ``val``
        it is scored on) puts both in its test split and returns ``False`` here for the second: those examples are
        extracted and passed to :meth:`evaluate` like the others, which reports them in ``Evaluation.splits``,
        but they are neither stored as scored examples nor part of the score or its interval.
        """
        return True

    def decode_key(self) -> str:
        """Whatever besides the files changes what :meth:`load` returns (e.g. a frame-sampling seed); "" if nothing.

        It is part of :meth:`manifest`, so the feature cache and the results store see it.
        """
        return ""

    # -- what the core calls ---------------------------------------------------------------------------------

    def chosen_examples(self, split: str) -> list[Example]:
        """The examples the experiment uses: :meth:`examples`, with ``n_train`` applied to the train split."""
        examples = list(self.examples(split))
        if split == "train" and "n_train" in self.settings:
            examples = balanced_subsample(examples, int(self.settings["n_train"]), self.seed, self.stratum)
        return examples

    def n_train_limit(self) -> int:
        """The largest ``n_train`` this task can honour (a run refuses a larger one before any work).

        The core's ``n_train`` counts training examples (balanced over :meth:`stratum`), so by default this is the
        size of the train split. A task that gives ``n_train`` another meaning (examples per class, per sub-task)
        returns the largest value that meaning allows.
        """
        return len(self.examples("train"))

    def _check_probe_takes_settings(self) -> None:
        """Refuse ``class_weight`` for a probe that has no class weights (simpleshot, knn): one line, before any
        work, instead of a setting the probe would ignore or a failure after extraction."""
        from biobench_core.contract._extensions import probe_options

        if "class_weight" not in self.settings:
            return
        try:
            options = probe_options(self.probe)
        except ValueError:  # an unknown probe: refused where the probe is checked, with its own line
            return
        if "class_weight" not in options:
            raise SettingsError(f"{self.spec.id}: setting class_weight={self.settings['class_weight']!r}: probe "
                                f"{self.probe} has no class weights (use a probe that has, e.g. --set probe=logreg)")

    def make_probe(self, device: str = "cpu", **options: Any) -> Any:
        """A new, unfitted instance of this task's probe, with the task's seed and, where the probe takes them by
        name, ``scoring`` (the task's metric: a hyper-parameter search scores its folds by it) and the
        ``class_weight`` setting; ``options`` go to the probe's constructor as well (they win).

        :meth:`evaluate` calls it; a task that overrides ``evaluate`` calls it too, so its probes honour the same
        settings.
        """
        from biobench_core.contract._extensions import make_probe, probe_options

        accepted = probe_options(self.probe)
        if "scoring" in accepted:
            options.setdefault("scoring", self.metric)
        if "class_weight" in self.settings:
            options.setdefault("class_weight", self.settings["class_weight"])
        return make_probe(self.probe, device=device, seed=self.seed, **options)

    def settings_key(self) -> str:
        """Settings that change results (they key the results store, not the feature cache): the settings as given
        (:attr:`given_settings`, text, no defaults filled in) and the probe."""
        return ",".join(f"{k}={v}" for k, v in sorted({**self.given_settings, "probe": self.probe}.items()))

    def manifest(self, split: str, examples: Sequence[Example] | None = None) -> str:
        """A hash of everything that determines ``split``'s inputs: ids, labels and the size and mtime of each file
        :meth:`files` names.

        ``examples`` defaults to the whole split (pass a prefix for ``--limit`` runs). The feature cache keys
        on it, so a changed, added or removed file never returns stale features.
        """
        digest = hashlib.sha256(f"{self.spec.id}\0{self.data_version}\0{split}".encode())
        extra = self.decode_key() + ("" if self.frame_pooling == "mean" else f"\0pool={self.frame_pooling}")
        if extra:
            digest.update(f"\0decode:{extra}".encode())
        for ex in self.examples(split) if examples is None else examples:
            stamps = []
            for path in self.files(ex):
                try:
                    st = os.stat(path)
                    stamps.append(f"{st.st_size}:{st.st_mtime_ns}")
                except OSError:
                    stamps.append("missing")
            stamp = ";".join(stamps)
            digest.update(f"\0{ex.id}\0{ex.label}\0{ex.group}\0{ex.source}\0{stamp}".encode())
        return digest.hexdigest()

    def evaluate(self, train: SplitFeatures, test: SplitFeatures, *, device: str = "cpu") -> Evaluation:
        """Fit this task's probe on ``train`` and score every test example (1.0 = correct, 0.0 = wrong).

        Override for protocols that need more than one probe (e.g. one binary probe per sub-task). Sub-scores
        per example group go to ``Evaluation.splits``.
        """
        probe = self.make_probe(device)
        probe.fit(train.features, train.labels)
        pred = np.asarray(probe.predict(test.features))
        y_test = test.labels
        correct = (pred == y_test).astype(np.float64)
        names = self.class_names
        examples = []
        for ex, ok, y, p in zip(test.examples, correct, y_test, pred, strict=True):
            named = {"pred_name": names[int(p)] if 0 <= int(p) < len(names) else str(p)} if names else {}
            examples.append(Prediction.of(ex.id, label=int(y), pred=int(p), score=float(ok), **named))
        splits = group_scores(self.metric, [ex.group for ex in test.examples], y_test, pred, correct)
        return Evaluation(examples=examples, splits=splits, probe=probe.describe())


def balanced_subsample(examples: Sequence[Example], n: int, seed: int,
                       stratum: Callable[[Example], object] = lambda ex: ex.label) -> list[Example]:
    """``n`` of ``examples``, spread as evenly as possible over strata, in their original order.

    Each stratum gets an equal share; a stratum with fewer examples than its share gives the rest to the others,
    and what does not divide evenly goes one each to the first strata (in order of first appearance). Within a stratum, examples are taken in an order fixed by a SHA-256 of
    ``seed`` and the example id, so the choice is the same on every machine and the subsets are nested (the
    examples chosen for ``n`` are among those chosen for any larger ``n``).
    """
    if n >= len(examples):
        return list(examples)
    members: dict[object, list[int]] = {}
    for index, example in enumerate(examples):
        members.setdefault(stratum(example), []).append(index)
    groups = [sorted(indices, key=lambda i: hashlib.sha256(f"{seed}\0{examples[i].id}".encode()).digest())
              for indices in members.values()]
    sizes = [len(g) for g in groups]
    level = 0  # the largest share every stratum can fill up to without exceeding n
    while sum(min(size, level + 1) for size in sizes) <= n:
        level += 1
    quota = [min(size, level) for size in sizes]
    spare = n - sum(quota)  # one more each for the first strata that still have examples
    for g, size in enumerate(sizes):
        if spare and size > level:
            quota[g] += 1
            spare -= 1
    chosen = sorted(i for g, k in enumerate(quota) for i in groups[g][:k])
    return [examples[i] for i in chosen]
