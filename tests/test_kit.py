"""The plugin authors' kit: every check catches its deliberately broken plugin, and the template passes."""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import textwrap
from pathlib import Path
from types import SimpleNamespace

import pytest

from biobench_core import BackboneSpec, TaskSpec, hookimpl
from biobench_core.testing._distributions import write_distribution
from biobench_core.testing import check_backbone, check_plugin, check_task, isolated_registry, use_registry

pytest_plugins = ["biobench_core.testing"]

REPO = Path(__file__).resolve().parents[1]
TEMPLATE = REPO / "examples" / "biobench-plugin-template"


def _unused_port() -> int:
    """A localhost port nobody listens on. The kit refuses the connection before it is made anyway."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


PORT = _unused_port()

# -- backbones -------------------------------------------------------------------------------------------------

BACKBONES = f"""
import socket

import numpy as np
import torch
from torch import nn

from biobench_core.contract._backbone import EncodedImgBatch, VisionBackbone


class Transform:
    def __call__(self, img):
        img = img.convert("RGB").resize((16, 16))
        return torch.from_numpy(np.asarray(img, dtype=np.float32).copy()).permute(2, 0, 1) / 255

    def __repr__(self):
        return "Transform(size=16)"


class PlainTransform(Transform):
    __repr__ = object.__repr__  # a plain class without __repr__: "<PlainTransform object at 0x...>"


class CountingTransform(Transform):
    made = 0

    def __init__(self):
        CountingTransform.made += 1
        self.serial = CountingTransform.made

    def __repr__(self):
        return f"CountingTransform(serial={{self.serial}})"


class Good(VisionBackbone):
    weights_id = "seed0"
    dim = 8

    def __init__(self, spec, weights):
        super().__init__()
        torch.manual_seed(0)
        self.proj = nn.Linear(3 * 16 * 16, self.dim)
        self.drop = nn.Dropout(0.5)
        self.eval()
        self.requires_grad_(False)

    def features(self, batch):
        return self.drop(self.proj(batch.flatten(1)))

    def img_encode(self, batch):
        return EncodedImgBatch(img_features=self.features(batch))

    def make_img_transform(self):
        return Transform()


class WrongShape(Good):
    dim = 7


class NaNs(Good):
    def img_encode(self, batch):
        feats = self.features(batch)
        feats[:, 0] = float("nan")
        return EncodedImgBatch(img_features=feats)


class TrainMode(Good):
    def __init__(self, spec, weights):
        super().__init__(spec, weights)
        self.train()


class GradParams(Good):
    def __init__(self, spec, weights):
        super().__init__(spec, weights)
        self.proj.weight.requires_grad_(True)


class Noisy(Good):
    def img_encode(self, batch):
        feats = self.features(batch)
        return EncodedImgBatch(img_features=feats + 1e-3 * torch.rand_like(feats))


class BatchDependent(Good):
    def img_encode(self, batch):
        feats = self.features(batch)
        return EncodedImgBatch(img_features=feats - feats.mean(dim=0, keepdim=True))


class IntFeatures(Good):
    def img_encode(self, batch):
        return EncodedImgBatch(img_features=self.features(batch).round().long())


class RandomTransform(Good):
    def make_img_transform(self):
        base = Transform()
        return lambda img: base(img) + torch.rand(3, 16, 16)


class NoReprTransform(Good):
    def make_img_transform(self):
        return PlainTransform()


class ChangingReprTransform(Good):
    def make_img_transform(self):
        return CountingTransform()


class TorchvisionTransform(Good):
    def make_img_transform(self):
        from torchvision import transforms

        return transforms.Compose([transforms.Resize((16, 16)), transforms.ToTensor()])


class DeclaresItsTransform(Good):
    # Transform's own steps as data: PIL's default (bicubic) resize to 16 x 16, then pixels / 255.

    def preprocessing(self):
        from biobench_core.contract._preprocessing import Preprocessing

        return Preprocessing.of((16, 16), interpolation="bicubic", mean=0.0, std=1.0)


class DeclaresWrongInterpolation(Good):
    def preprocessing(self):
        from biobench_core.contract._preprocessing import Preprocessing

        return Preprocessing.of((16, 16), interpolation="bilinear", mean=0.0, std=1.0)


class DeclaresWrongSize(Good):
    def preprocessing(self):
        from biobench_core.contract._preprocessing import Preprocessing

        return Preprocessing.of(16, crop=12, interpolation="bicubic", mean=0.0, std=1.0)


class PreprocessingRaises(Good):
    def preprocessing(self):
        raise KeyError("input_size")


class PreprocessingNotData(Good):
    def preprocessing(self):
        return {{"resize": 16}}


class SocketOnLoad(Good):
    def __init__(self, spec, weights):
        super().__init__(spec, weights)
        try:
            socket.create_connection(("127.0.0.1", {PORT}), timeout=0.2).close()
        except OSError:
            pass  # "offline fallback": the kit still sees the attempt


class SocketOnForward(Good):
    def img_encode(self, batch):
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            sock.connect(("127.0.0.1", {PORT}))
        except OSError:
            pass
        finally:
            sock.close()
        return super().img_encode(batch)


class NotABackbone(nn.Module):
    def __init__(self, spec, weights):
        super().__init__()
"""

BROKEN_BACKBONES = [
    ("WrongShape", "img_features has shape (3, 7), spec declares embed_dim=8"),
    ("NaNs", "NaN in img_features (3 of 24 values)"),
    ("TrainMode", "not in eval mode: the factory returned modules in training mode: <root> (TrainMode)"),
    ("GradParams", "parameters require grad: proj.weight"),
    ("Noisy", "non-deterministic: max abs diff"),
    ("BatchDependent", "batch-size dependent: encoding images one at a time differs from the batch"),
    ("IntFeatures", "img_features has dtype torch.int64, not a float dtype"),
    ("RandomTransform", "the transform is random"),
    ("NoReprTransform", "the transform's repr holds a memory address or a lambda"),
    ("ChangingReprTransform", "two make_img_transform() calls give transforms with different reprs"),
    ("DeclaresWrongInterpolation", "Geometry(resize=(16, 16), crop=None, interpolation='bilinear'), "
                                   "mean=(0.0, 0.0, 0.0), std=(1.0, 1.0, 1.0)) differs from make_img_transform() "
                                   "on image 1 of 10 (80x64 RGB): max abs diff"),
    ("DeclaresWrongSize", "gives (3, 12, 12) on image 1 of 10 (80x64 RGB), make_img_transform() gives (3, 16, 16)"),
    ("PreprocessingRaises", "preprocessing() raised KeyError: input_size"),
    ("PreprocessingNotData", "preprocessing() returned dict, not biobench_core.Preprocessing or None"),
    ("SocketOnLoad", f"opened a network connection to 127.0.0.1:{PORT} during load"),
    ("SocketOnForward", f"opened a network connection to 127.0.0.1:{PORT} during forward"),
    ("NotABackbone", "returned NotABackbone, not a VisionBackbone"),
]


@pytest.fixture(scope="module")
def fixture_modules(tmp_path_factory):
    """Throwaway modules holding deliberately broken backbones and tasks, importable for this module's tests."""
    site = tmp_path_factory.mktemp("kit-modules")
    (site / "kit_fixture_backbones.py").write_text(textwrap.dedent(BACKBONES))
    (site / "kit_fixture_tasks.py").write_text(textwrap.dedent(TASKS))
    with pytest.MonkeyPatch.context() as mp:
        mp.syspath_prepend(str(site))
        yield site


@pytest.fixture
def kitbad(fixture_modules, register_plugin):
    """An in-process plugin 'kitbad' offering one backbone per class of kit_fixture_backbones, one task per
    class of kit_fixture_tasks."""

    @hookimpl
    def biobench_backbones():
        for cls, _ in [("Good", ""), ("TorchvisionTransform", ""), ("DeclaresItsTransform", ""), *BROKEN_BACKBONES]:
            yield BackboneSpec(id=f"kitbad/{cls}", factory=f"kit_fixture_backbones:{cls}", embed_dim=8)

    @hookimpl
    def biobench_tasks():
        for cls, _ in [("GoodTask", ""), *BROKEN_TASKS]:
            yield TaskSpec(id=f"kitbad/{cls}", factory=f"kit_fixture_tasks:{cls}", needs_data=False)

    record = register_plugin(SimpleNamespace(biobench_backbones=biobench_backbones, biobench_tasks=biobench_tasks),
                             "kitbad")
    assert record.ok, record.error
    return record


def test_a_conforming_backbone_passes_every_check(kitbad):
    report = check_backbone("kitbad/Good")
    assert report.ok, report.format()
    assert {c.name for c in report.checks} >= {"load", "eval mode", "frozen", "transform", "transform identity",
                                               "output", "deterministic", "batch invariance", "offline"}


def test_a_transform_without_a_stable_repr_fails_and_says_how_to_fix_it(kitbad):
    """The feature cache keys on describe_transform(transform): a plain class without __repr__ has none."""
    from biobench_core.engine._identity import describe_transform
    from kit_fixture_backbones import PlainTransform

    assert describe_transform(PlainTransform()) is None
    report = check_backbone("kitbad/NoReprTransform")
    [problem] = report.problems
    assert problem.name == "transform identity"
    assert "memory address" in problem.message and "at 0x" in problem.message
    assert "the core will not cache this backbone's features" in problem.message
    assert "give the transform a __repr__ that names its class and every parameter" in problem.message
    lam = check_backbone("kitbad/RandomTransform")  # a lambda: no description either
    assert any(c.name == "transform identity" and "lambda" in c.message for c in lam.problems), lam.format()


def test_torchvision_transforms_have_a_stable_description(kitbad):
    report = check_backbone("kitbad/TorchvisionTransform")
    assert report.ok, report.format()
    [check] = [c for c in report.checks if c.name == "transform identity"]
    assert check.status == "ok" and "Resize(size=(16, 16)" in check.message


def test_a_contract_1_backbone_without_preprocessing_passes(kitbad):
    """Contract 1 had no preprocessing(): the base class answers None and the callable transform is used."""
    from kit_fixture_backbones import Good

    from biobench_core.contract._backbone import VisionBackbone

    assert Good.preprocessing is VisionBackbone.preprocessing
    report = check_backbone("kitbad/Good")
    assert report.ok, report.format()
    [check] = [c for c in report.checks if c.name == "preprocessing"]
    assert (check.status, check.message) == ("ok", "no declared preprocessing: the callable transform is used")


def test_a_declared_preprocessing_that_matches_the_transform_passes(kitbad):
    report = check_backbone("kitbad/DeclaresItsTransform")
    assert report.ok, report.format()
    [check] = [c for c in report.checks if c.name == "preprocessing"]
    assert check.status == "ok"
    assert check.message.startswith("declared Preprocessing(Geometry(resize=(16, 16), crop=None, "
                                    "interpolation='bicubic'), mean=(0.0, 0.0, 0.0), std=(1.0, 1.0, 1.0)) matches "
                                    "make_img_transform() on 10 images of different sizes and modes"), check.message
    assert "atol 1e-05" in check.message


def test_a_declared_preprocessing_that_disagrees_fails_in_one_line_saying_what_to_do(kitbad):
    report = check_backbone("kitbad/DeclaresWrongInterpolation")
    [problem] = report.problems
    assert problem.name == "preprocessing" and "\n" not in problem.message
    assert re.search(r"max abs diff [0-9.e-]+ > atol 1e-05", problem.message), problem.message
    assert "return None from preprocessing() if the transform cannot be described" in problem.message


@pytest.mark.parametrize(("cls", "message"), BROKEN_BACKBONES, ids=[c for c, _ in BROKEN_BACKBONES])
def test_each_broken_backbone_is_caught_with_a_message_naming_the_problem(kitbad, cls, message):
    report = check_backbone(f"kitbad/{cls}")
    assert not report.ok
    assert any(message in m for m in report.messages()), report.format()
    with pytest.raises(AssertionError, match="problem"):
        report.assert_ok()


def test_the_network_guard_is_removed_after_the_check(kitbad):
    original = socket.socket.connect
    check_backbone("kitbad/SocketOnForward")
    assert socket.socket.connect is original
    assert socket.create_connection.__module__ == "socket"


def test_an_unknown_backbone_is_one_problem_not_a_crash(kitbad):
    report = check_backbone("kitbad/NoSuchModel")
    assert [c.name for c in report.problems] == ["resolve"] and "unknown backbone" in report.messages()[0]


# -- tasks -----------------------------------------------------------------------------------------------------

TASKS = """
import numpy as np
from PIL import Image

from biobench_core.contract._tasks import Evaluation, Example, Task


class GoodTask(Task):
    n_train, n_test = 12, 6

    def examples(self, split):
        n = self.n_train if split == "train" else self.n_test
        return [Example(id=f"{split}-{i}", label=i % 3) for i in range(n)]

    def load(self, example):
        value = int(example.id.rpartition("-")[2]) * 10
        return Image.new("RGB", (20, 16), (value, 255 - value, 128))

    def evaluate(self, train, test, *, device="cpu"):
        # nearest class mean: what a probe does, without depending on biobench_core.engine._probes
        y = train.labels
        means = np.stack([train.features[y == c].mean(axis=0) for c in sorted(set(y))])
        pred = ((test.features[:, None, :] - means[None]) ** 2).sum(-1).argmin(1)
        return Evaluation(examples=[(ex.id, float(p == ex.label), {"pred": int(p)})
                                    for ex, p in zip(test.examples, pred)])


class EmptyTest(GoodTask):
    n_test = 0


class DuplicateIds(GoodTask):
    def examples(self, split):
        return [Example(id=f"{split}-{i // 2}", label=i % 3) for i in range(12)]


class UnstableIds(GoodTask):
    def examples(self, split):
        order = np.random.permutation(6)
        return [Example(id=f"{split}-{i}", label=int(i % 3)) for i in order]


class StringLabels(GoodTask):
    def examples(self, split):
        return [Example(id=f"{split}-{i}", label=f"class{i % 3}") for i in range(6)]


class UnseenTestLabel(GoodTask):
    def examples(self, split):
        shift = 0 if split == "train" else 2
        return [Example(id=f"{split}-{i}", label=i % 3 + shift) for i in range(6)]


class LoadsArrays(GoodTask):
    def load(self, example):
        return np.zeros((16, 16, 3), dtype=np.uint8)


class UnstableManifest(GoodTask):
    calls = 0

    def manifest(self, split):
        type(self).calls += 1
        return f"{split}-{self.calls}"


class WrongEvaluation(GoodTask):
    def evaluate(self, train, test, *, device="cpu"):
        rows = super().evaluate(train, test).examples
        return Evaluation(examples=rows[:-1])


class NaNScores(GoodTask):
    def evaluate(self, train, test, *, device="cpu"):
        return Evaluation(examples=[(ex.id, float("nan"), {}) for ex in test.examples])


class ScoresTheWholeSplit(GoodTask):
    def evaluate(self, train, test, *, device="cpu"):
        return Evaluation(examples=[(ex.id, 1.0, {}) for ex in self.examples("test")])


class SharedIds(GoodTask):
    def examples(self, split):
        return [Example(id=f"img-{i}", label=i % 3) for i in range(6)]
"""

BROKEN_TASKS = [
    ("EmptyTest", "the test split is empty"),
    ("DuplicateIds", "duplicate ids in train: 'train-0'"),
    ("UnstableIds", "examples('train') is not stable"),
    ("StringLabels", "labels must be ints; train has str 'class0'"),
    ("UnseenTestLabel", "test labels never seen in train: [3, 4]"),
    ("LoadsArrays", "returned ndarray; expected a PIL image"),
    ("UnstableManifest", "manifest() is not stable"),
    ("WrongEvaluation", "evaluate() returned 5 examples for 6 test examples"),
    ("NaNScores", "every example must be (id, finite score, info dict)"),
    ("SharedIds", "ids in both train and test: 'img-0'"),
    ("ScoresTheWholeSplit", "evaluate() (last test example missing) returned 6 examples for 5 test examples; "
                            "score test.examples"),
]


def test_a_conforming_task_passes_every_check(kitbad):
    report = check_task("kitbad/GoodTask")
    assert report.ok, report.format()
    assert [c.name for c in report.checks] == ["load", "train split", "test split", "load()", "manifest", "evaluate"]


@pytest.mark.parametrize(("cls", "message"), BROKEN_TASKS, ids=[c for c, _ in BROKEN_TASKS])
def test_each_broken_task_is_caught_with_a_message_naming_the_problem(kitbad, cls, message):
    report = check_task(f"kitbad/{cls}")
    assert any(message in m for m in report.messages()), report.format()


# -- plugins (installed distributions, checked in a fresh interpreter) ------------------------------------------

def _plugin(namespace: str, body: str, contract: int = 1) -> str:
    return f"from biobench_core import BackboneSpec, TaskSpec, hookimpl\nBIOBENCH_CONTRACT = {contract}\n{body}"


GOOD_HOOKS = """
@hookimpl
def biobench_backbones():
    yield BackboneSpec(id="{ns}/tiny", factory="kit_fixture_backbones:Good", embed_dim=8)
"""

PLUGINS = {
    # name: (module source, message expected in a problem; None: conforms)
    "good": (_plugin("good", GOOD_HOOKS.format(ns="kitgood")), None),
    "torchy": ("import torch\n" + _plugin("x", GOOD_HOOKS.format(ns="kittorchy")),
               "imports torch at module level (torch first imported at "),
    # a stand-in for torch (importing the real one costs seconds): see FORBIDDEN below
    "lazyheavy": (_plugin("x", "@hookimpl\ndef biobench_backbones():\n    import kit_fake_heavy\n    return []\n"),
                  "imports kit_fake_heavy while listing (in a biobench_* hook) (kit_fake_heavy first imported at "),
    "outside": (_plugin("x", GOOD_HOOKS.format(ns="someoneelse")),
                "id 'someoneelse/tiny' is outside namespace 'kitoutside/'"),
    "nofactory": (_plugin("x", "@hookimpl\ndef biobench_backbones():\n"
                               "    yield BackboneSpec(id='kitnofactory/a', factory='kit_no_such_module:Model')\n"),
                  "factory 'kit_no_such_module:Model' (for kitnofactory/a) does not resolve: ModuleNotFoundError"),
    "badattr": (_plugin("x", "@hookimpl\ndef biobench_backbones():\n"
                             "    yield BackboneSpec(id='kitbadattr/a', factory='kit_fixture_backbones:Nope')\n"),
                "factory 'kit_fixture_backbones:Nope' (for kitbadattr/a) does not resolve: AttributeError"),
    "old": (_plugin("x", GOOD_HOOKS.format(ns="kitold"), contract=0),
            "incompatible contract version: BIOBENCH_CONTRACT = 0, this biobench-core speaks contracts 1 and 2"),
    "netimport": (f"import socket\ntry:\n    socket.create_connection(('127.0.0.1', {PORT}), timeout=0.2)\n"
                  f"except OSError:\n    pass\n" + _plugin("x", GOOD_HOOKS.format(ns="kitnetimport")),
                  f"opened a network connection to 127.0.0.1:{PORT} while importing"),
    "netlisting": (_plugin("x", f"import socket\n@hookimpl\ndef biobench_backbones():\n"
                                f"    s = socket.socket()\n    try:\n        s.connect(('127.0.0.1', {PORT}))\n"
                                f"    except OSError:\n        pass\n    return []\n"),
                   f"opened a network connection to 127.0.0.1:{PORT} while listing"),
    "importerror": ("import kit_this_does_not_exist\n",
                    "does not load: ModuleNotFoundError: No module named 'kit_this_does_not_exist'"),
    "raises": (_plugin("x", "@hookimpl\ndef biobench_backbones():\n    raise RuntimeError('catalogue on fire')\n"),
               "hook biobench_backbones raised: RuntimeError: catalogue on fire"),
    "twice": (_plugin("x", "@hookimpl\ndef biobench_backbones():\n"
                           "    yield BackboneSpec(id='kittwice/a', factory='kit_fixture_backbones:Good')\n"
                           "    yield BackboneSpec(id='kittwice/a', factory='kit_fixture_backbones:Good')\n"),
              "ids yielded more than once: kittwice/a"),
    "resolver": (_plugin("x", GOOD_HOOKS.format(ns="kitresolver")
                         + "@hookimpl\ndef biobench_resolve_backbone(backbone_id):\n    raise KeyError(backbone_id)\n"),
                 "biobench_resolve_backbone('kitresolver/biobench-kit-unknown-model') must return None"),
}


FORBIDDEN = ("torch", "timm", "open_clip", "kit_fake_heavy")


@pytest.fixture(scope="module")
def plugin_site(fixture_modules, tmp_path_factory):
    """One throwaway installed distribution per case of PLUGINS, plus one with no biobench entry point."""
    site = tmp_path_factory.mktemp("kit-site")
    for name, (source, _) in PLUGINS.items():
        write_distribution(site, f"biobench-kit{name}", {f"kit{name}_plugin": source},
                           {f"kit{name}": f"kit{name}_plugin"})
    (site / "kit_fake_heavy.py").write_text("")
    write_distribution(site, "kit-not-a-plugin", {"kit_not_a_plugin": "X = 1\n"},
                       {"console": "kit_not_a_plugin:X"}, group="console_scripts")
    with pytest.MonkeyPatch.context() as mp:
        mp.syspath_prepend(str(site))
        yield site


@pytest.mark.parametrize("name", list(PLUGINS))
def test_check_plugin_catches_each_broken_distribution(plugin_site, name):
    expected = PLUGINS[name][1]
    report = check_plugin(f"biobench-kit{name}", forbidden_imports=FORBIDDEN)
    if expected is None:
        assert report.ok, report.format()
        assert all(c.status == "ok" for c in report.checks), report.format()
    else:
        assert any(expected in m for m in report.messages()), report.format()


def test_check_plugin_without_entry_point_or_distribution(plugin_site):
    assert "declares no entry point in group 'biobench'" in check_plugin("kit-not-a-plugin").messages()[0]
    assert "no installed distribution named 'kit-nowhere'" in check_plugin("kit-nowhere").messages()[0]


def test_validate_main_prints_a_verdict_and_exits_1_on_problems(plugin_site, capsys):
    from biobench_core.cli._validate import validate_main

    assert validate_main("biobench-kitgood", as_json=False) == 0
    out = capsys.readouterr().out
    assert "ok    torch-free import" in out and "all 10 checks passed" in out
    assert validate_main("biobench-kitoutside", as_json=False) == 1
    out = capsys.readouterr().out
    assert "FAIL  specs" in out and "outside namespace 'kitoutside/'" in out and "1 problem(s)" in out
    assert validate_main("biobench-kitold", as_json=True) == 1
    verdict = json.loads(capsys.readouterr().out)
    assert verdict["distribution"] == "biobench-kitold" and verdict["ok"] is False
    failed = [c for c in verdict["checks"] if c["status"] == "fail"]
    assert [c["name"] for c in failed] == ["contract"]


# -- the pytest plugin: off unless asked for --------------------------------------------------------------------

KIT_TEST = """
import sys

import pytest

def test_kit_state(request):
    active = request.config.pluginmanager.has_plugin("biobench_core.testing")
    try:
        request.getfixturevalue("register_plugin")
        fixtures = True
    except pytest.FixtureLookupError:
        fixtures = False
    print("KIT", active, "FIXTURES", fixtures, "TORCH", "torch" in sys.modules)
"""

KIT_FIXTURE_TEST = """
from types import SimpleNamespace

from biobench_core import BackboneSpec, hookimpl, list_backbones

def test_fixtures(biobench_registry, register_plugin):
    @hookimpl
    def biobench_backbones():
        yield BackboneSpec(id="mine/x", factory="m:f")

    assert register_plugin(SimpleNamespace(biobench_backbones=biobench_backbones), "mine").ok
    assert [s.id for s in list_backbones()] == ["mine/x"]
    print("FIXTURES OK")
"""


@pytest.mark.parametrize(("ini", "args", "active"), [
    ("", [], False),
    ("biobench_kit = true\n", [], True),
    ("", ["-p", "biobench_core.testing"], True),
], ids=["off-by-default", "ini-switch", "dash-p"])
def test_the_pytest_plugin_is_off_unless_a_project_turns_it_on(tmp_path, ini, args, active):
    # The entry point as pyproject.toml declares it, in a throwaway distribution (the editable install of
    # biobench-core may predate it).
    site = tmp_path / "site"
    write_distribution(site, "kit-pytest11-probe", {}, {"biobench": "biobench_core.testing.switch"}, group="pytest11")
    project = tmp_path / "project"
    project.mkdir()
    (project / "pytest.ini").write_text("[pytest]\n" + ini)
    (project / "test_state.py").write_text(KIT_TEST + (KIT_FIXTURE_TEST if active else ""))
    env = {**os.environ, "PYTHONPATH": str(site)}
    env.pop("PYTEST_DISABLE_PLUGIN_AUTOLOAD", None)
    proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-s", "-p", "no:cacheprovider", *args],
                          cwd=project, env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert f"KIT {active} FIXTURES {active} TORCH False" in proc.stdout
    assert ("FIXTURES OK" in proc.stdout) is active


def test_importing_the_kit_imports_no_torch():
    code = ("import sys, biobench_core.testing, biobench_core.testing.switch, biobench_core.cli._validate\n"
            "print(sorted(m for m in ('torch', 'timm', 'open_clip', 'PIL') if m in sys.modules))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.stdout.strip() == "[]", proc.stderr


def test_use_registry_swaps_the_catalogue_and_restores_it():
    from biobench_core.contract import _registry as plugins

    outer = isolated_registry()
    with use_registry(outer):
        inner = isolated_registry()
        with use_registry(inner):
            assert plugins.get_registry() is inner
        assert plugins.get_registry() is outer


# -- the template, installed into a fresh virtual environment -----------------------------------------------------

@pytest.fixture(scope="module")
def template_venv(tmp_path_factory, borrowing_venv):
    """A fresh venv that borrows this environment's packages (torch, biobench-core...) through a .pth file,
    with the template installed into it by ``install_main`` (pip --no-deps --no-build-isolation)."""
    root = tmp_path_factory.mktemp("template-venv")
    python = borrowing_venv(root / "venv")
    source = root / "biobench-plugin-template"  # build a copy: setuptools writes build/ and *.egg-info in place
    shutil.copytree(TEMPLATE, source, ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__"))
    code = ("import sys; from biobench_core.cli._validate import install_main; "
            "sys.exit(install_main(sys.argv[1], ['--no-deps', '--no-build-isolation', '--no-index', '-q']))")
    proc = _run(python, "-c", code, str(source), cwd=root)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "installed plugin biobench-template 0.1.0: template = biobench_template" in proc.stdout
    return SimpleNamespace(root=root, python=python, source=source)


def _run(python: Path, *args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    full_env = dict(os.environ)
    for name in ("PYTHONPATH", "BIOBENCH_LOAD_PLUGINS", "BIOBENCH_STRICT_PLUGINS"):
        full_env.pop(name, None)
    full_env.update({"HF_HUB_OFFLINE": "1", "XDG_CACHE_HOME": str(cwd / "cache"), "XDG_DATA_HOME": str(cwd / "data"),
                     **(env or {})})
    return subprocess.run([str(python), *args], cwd=cwd, env=full_env, capture_output=True, text=True, timeout=300)


def test_the_template_installs_lists_and_validates_in_a_fresh_venv(template_venv):
    python, root = template_venv.python, template_venv.root
    env = {"BIOBENCH_LOAD_PLUGINS": "biobench-template"}
    backbones = _run(python, "-m", "biobench_core.cli", "backbones", "--json", cwd=root, env=env)
    assert backbones.returncode == 0, backbones.stderr
    [row] = json.loads(backbones.stdout)
    assert (row["id"], row["plugin"], row["embed_dim"], row["input_size"]) == ("template/tiny", "biobench-template",
                                                                                32, 64)
    plugins = _run(python, "-m", "biobench_core.cli", "plugins", cwd=root)
    assert plugins.returncode == 0, plugins.stderr
    [line] = [ln for ln in plugins.stdout.splitlines() if ln.startswith("biobench-template")]
    assert "template = biobench_template" in line and " ok " in line
    validate = _run(python, "-c", "import sys; from biobench_core.cli._validate import validate_main; "
                                  "sys.exit(validate_main('biobench-template', True))", cwd=root)
    assert validate.returncode == 0, validate.stdout + validate.stderr
    assert json.loads(validate.stdout)["ok"] is True


def test_install_warns_when_the_package_is_not_a_plugin_and_fails_when_pip_does(template_venv):
    python, root = template_venv.python, template_venv.root
    plain = root / "not-a-plugin"
    (plain / "kit_plain").mkdir(parents=True)
    (plain / "kit_plain" / "__init__.py").write_text("")
    (plain / "pyproject.toml").write_text('[build-system]\nrequires = ["setuptools"]\nbuild-backend = '
                                          '"setuptools.build_meta"\n[project]\nname = "kit-plain"\nversion = "1.0"\n')
    code = ("import sys; from biobench_core.cli._validate import install_main; "
            "sys.exit(install_main(sys.argv[1], ['--no-deps', '--no-build-isolation', '--no-index', '-q']))")
    proc = _run(python, "-c", code, str(plain), cwd=root)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "warning: kit-plain 1.0 declares no 'biobench' entry point" in proc.stderr
    failed = _run(python, "-c", code, str(root / "there-is-nothing-here"), cwd=root)
    assert failed.returncode == 1 and "pip failed" in failed.stderr


RUN_TASK = """
from PIL import Image

from biobench_core import TaskSpec, hookimpl
from biobench_core.contract._tasks import Example, Task

BIOBENCH_CONTRACT = 1


@hookimpl
def biobench_tasks():
    yield TaskSpec(id="kitrun/blobs", factory="kitrun_plugin:Blobs", needs_data=False, protocol="logreg")


class Blobs(Task):
    def examples(self, split):
        n = 16 if split == "train" else 8
        return [Example(id=f"{split}-{i}", label=int(i >= n // 2)) for i in range(n)]  # sorted by class

    def load(self, example):
        i = int(example.id.rpartition("-")[2])
        return Image.new("RGB", (48, 40), (200 * (i % 2), 30 + 10 * i, 90))
"""


def test_the_template_runs_one_batch_end_to_end(template_venv):
    """``biobench run --backbone template/tiny --task kitrun/blobs --limit 8`` in the template's venv."""
    python, root = template_venv.python, template_venv.root
    site = root / "run-site"
    write_distribution(site, "biobench-kitrun", {"kitrun_plugin": RUN_TASK}, {"kitrun": "kitrun_plugin"})
    proc = _run(python, "-m", "biobench_core.cli", "run", "--backbone", "template/tiny", "--task", "kitrun/blobs",
                "--limit", "8", cwd=root, env={"PYTHONPATH": str(site)})
    assert proc.returncode == 0, proc.stdout + proc.stderr


# -- the checks without pytest: a plain install of biobench-core[run] has none --------------------------------------

NO_PYTEST = '''
import importlib.abc
import sys


class _NoPytest(importlib.abc.MetaPathFinder):
    """As if pytest were not installed: biobench-core does not depend on it."""

    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("pytest", "_pytest"):
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None


sys.meta_path.insert(0, _NoPytest())
'''


def _without_pytest(tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    """Run this interpreter with ``args`` where ``import pytest`` fails (a sitecustomize on PYTHONPATH)."""
    blocker = tmp_path / "no-pytest"
    blocker.mkdir(exist_ok=True)
    (blocker / "sitecustomize.py").write_text(NO_PYTEST)
    env = {**os.environ, "PYTHONPATH": str(blocker), "HF_HUB_OFFLINE": "1"}
    for name in ("BIOBENCH_LOAD_PLUGINS", "BIOBENCH_STRICT_PLUGINS", "BIOBENCH_DEBUG"):
        env.pop(name, None)
    return subprocess.run([sys.executable, *args], cwd=tmp_path, env=env, capture_output=True, text=True,
                          timeout=300)


def test_the_blocker_really_hides_pytest(tmp_path):
    proc = _without_pytest(tmp_path, "-c", "import pytest")
    assert proc.returncode != 0 and "No module named 'pytest'" in proc.stderr


def test_the_checks_import_without_pytest(tmp_path):
    code = ("from biobench_core.testing import (check_backbone, check_plugin, check_task, Check, Report,\n"
            "    ConformanceError, use_registry, isolated_registry, plugin_from_source, make_test_images)\n"
            "import sys; print('OK', 'pytest' in sys.modules)")
    proc = _without_pytest(tmp_path, "-c", code)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "OK False"


def test_plugins_validate_runs_without_pytest(tmp_path):
    proc = _without_pytest(tmp_path, "-m", "biobench_core.cli", "plugins", "validate", "biobench-tasks")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert re.search(r"^biobench-tasks 0\.1\.0: all \d+ checks passed$", proc.stdout, re.M), proc.stdout
    assert "biobench-tasks conforms." in proc.stdout
    assert "pytest" not in proc.stderr
