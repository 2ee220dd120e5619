"""Identity by behaviour (issue 17, item 5), end to end through the real CLI: an edit to the CLI or the report keeps
every result and feature; a changed probe, metric or extraction protocol redoes exactly what it affects.

An editable core is simulated by a copy of the ``biobench_core`` package (``_identity.core_root``) whose files the
tests edit; a release by ``core_is_editable() == False``, where only the declared versions count.
"""

from __future__ import annotations

import dataclasses
import json
import shutil
import sqlite3
from pathlib import Path

import pytest

from biobench_core.engine import _identity
from biobench_core.testing._distributions import write_distribution

PLUGIN = '''
from biobench_core import BackboneSpec, hookimpl

@hookimpl
def biobench_backbones():
    yield BackboneSpec(id="ident/net", factory="ident_pkg.model:Net", embed_dim=16)
'''

MODEL = '''
import torch
from torchvision import transforms
from biobench_core import EncodedImgBatch, VisionBackbone


class Net(VisionBackbone):
    weights_id = "random:seed=0"

    def __init__(self, spec, weights=None):
        super().__init__()
        torch.manual_seed(0)
        self.net = torch.nn.Sequential(torch.nn.Conv2d(3, 16, 3, padding=1), torch.nn.ReLU())

    def img_encode(self, batch):
        return EncodedImgBatch(self.net(batch).mean(dim=(2, 3)), None)

    def make_img_transform(self):
        return transforms.Compose([transforms.Resize((32, 32)), transforms.ToTensor()])
'''


@pytest.fixture
def bench(tmp_path, monkeypatch, make_image_folder, in_process):
    site = tmp_path / "site"
    write_distribution(site, "biobench-ident", {"ident_pkg.__init__": PLUGIN, "ident_pkg.model": MODEL},
                       {"ident": "ident_pkg"})
    monkeypatch.setenv("BIOBENCH_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("BIOBENCH_LOAD_PLUGINS", "biobench-ident,biobench-tasks")
    monkeypatch.syspath_prepend(str(site))
    data = make_image_folder(tmp_path / "colours", n_train=6, n_test=3)
    results = tmp_path / "results"

    def run(*args: str, probe: str = "simpleshot"):
        proc = in_process("run", "--backbone", "ident/net", "--task", "image-folder", "--data",
                          f"image-folder={data}", "--results", str(results), "--quiet", "--workers", "0",
                          "--set", f"probe={probe}", *args)
        assert proc.returncode == 0, proc.stderr
        return proc.stderr

    def report() -> dict:
        proc = in_process("report", "--results", str(results), "--format", "json")
        assert proc.returncode == 0, proc.stderr
        return json.loads(proc.stdout)

    return {"run": run, "report": report, "results": results, "tmp": tmp_path}


def _rows(results: Path) -> list[dict]:
    with sqlite3.connect(results / "biobench.sqlite") as db:
        db.row_factory = sqlite3.Row
        return [dict(r) for r in db.execute("SELECT * FROM experiments ORDER BY id")]


def _cache_of(results: Path, probe: str = "simpleshot") -> str:
    [row] = [r for r in _rows(results) if f"probe={probe}" in r["settings"]]
    return row["feature_cache"]


@pytest.fixture
def editable_core(tmp_path, monkeypatch):
    """An editable core whose files are a copy the test may edit; returns ``edit(relative path)``."""
    root = tmp_path / "core" / "biobench_core"
    shutil.copytree(_identity.core_root(), root, ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.setattr(_identity, "core_root", lambda: root)
    monkeypatch.setattr(_identity, "core_is_editable", lambda: True)

    def edit(relative: str) -> None:
        with open(root / relative, "a") as fh:
            fh.write("\n# an edit\n")

    return edit


@pytest.fixture
def released_core(monkeypatch):
    monkeypatch.setattr(_identity, "core_is_editable", lambda: False)


NOT_BEHIND_A_PROTOCOL = ("cli/_main.py", "cli/_validate.py", "formats/_table.py", "formats/_json.py",
                         "results/_leaderboard.py", "results/_store.py", "results/_stats.py", "scaleout/_runner.py",
                         "scaleout/_claims.py", "engine/_feature_source.py", "engine/_feature_cache.py",
                         "contract/_registry.py", "__init__.py")


def test_an_edit_to_the_cli_or_the_report_keeps_every_result_and_feature(bench, editable_core):
    bench["run"]()
    for relative in NOT_BEHIND_A_PROTOCOL:
        editable_core(relative)
    assert "skip  ident/net" in bench["run"]()  # the stored result is kept
    bench["run"]("--force")
    assert _cache_of(bench["results"]) == "train:hit,test:hit"  # and so is every cached feature


def test_an_edit_behind_a_protocol_redoes_exactly_what_it_affects(bench, editable_core):
    bench["run"]()
    editable_core("engine/_probes/simpleshot.py")
    assert "the code behind the stored result changed (probe simpleshot)" in bench["run"]()
    assert _cache_of(bench["results"]) == "train:hit,test:hit"  # features reused
    editable_core("results/_metrics.py")
    assert "the code behind the stored result changed (metric accuracy)" in bench["run"]()
    assert _cache_of(bench["results"]) == "train:hit,test:hit"
    editable_core("engine/_extraction.py")
    assert "the code behind the stored result changed (extraction)" in bench["run"]()
    assert _cache_of(bench["results"]) == "train:miss,test:miss"  # features extracted again
    assert "skip  ident/net" in bench["run"]()
    assert len(_rows(bench["results"])) == 1


def test_upgrading_a_released_core_keeps_every_result_and_feature(bench, released_core, monkeypatch):
    from biobench_core import _version

    bench["run"]()
    monkeypatch.setattr(_version, "__version__", "99.0")  # pip install -U biobench-core: every reader sees it
    assert "skip  ident/net" in bench["run"]()
    bench["run"]("--force")
    assert _cache_of(bench["results"]) == "train:hit,test:hit"


def _bumped(monkeypatch, module: str, hook: str, name: str) -> None:
    """The core's built-in hook ``hook`` of ``module``, with spec ``name`` at version 2."""
    import importlib

    from biobench_core import hookimpl

    target = importlib.import_module(module)
    original = getattr(target, hook)

    @hookimpl
    def bumped():
        for spec in original():
            yield dataclasses.replace(spec, version="2") if spec.name == name else spec

    bumped.__name__ = hook
    monkeypatch.setattr(target, hook, bumped)


def test_a_bumped_version_redoes_exactly_what_it_affects(bench, released_core, monkeypatch):
    bench["run"]()
    bench["run"](probe="knn")
    _bumped(monkeypatch, "biobench_core.engine._builtin", "biobench_probes", "simpleshot")
    assert "the code behind the stored result changed (probe simpleshot)" in bench["run"]()
    assert _cache_of(bench["results"]) == "train:hit,test:hit"
    assert "skip  ident/net" in bench["run"](probe="knn")  # another probe's results are kept
    _bumped(monkeypatch, "biobench_core.results._builtin", "biobench_metrics", "accuracy")
    assert "the code behind the stored result changed (metric accuracy)" in bench["run"]()
    assert _cache_of(bench["results"]) == "train:hit,test:hit"
    monkeypatch.setattr(_identity, "EXTRACTION_PROTOCOL", "2")
    assert "the code behind the stored result changed (extraction)" in bench["run"]()
    assert _cache_of(bench["results"]) == "train:miss,test:miss"


def test_a_result_stored_under_the_older_identity_is_listed_then_redone(bench):
    bench["run"]()
    with sqlite3.connect(bench["results"] / "biobench.sqlite") as db:  # what biobench wrote before protocols
        old = {"biobench-core": "0" * 24, "biobench-ident": "1" * 24, "biobench-tasks": "2" * 24}
        db.execute("UPDATE experiments SET identity=?", (json.dumps({"code": old}),))
    assert "ident/net" in json.dumps(bench["report"]())  # read and listed
    assert "redo  ident/net [pretrained] on tasks/image-folder: it was stored under an older identity format" \
        in bench["run"]()
    assert len(_rows(bench["results"])) == 1


# -- what goes into each key (the table of biobench_core.engine._identity) --------------------------------------

class _Task:
    class spec:  # noqa: N801 - a stand-in for a TaskSpec
        id = "t/x"

    def decode_key(self) -> str:
        return ""

    def settings_key(self) -> str:
        return "probe=knn"


def test_a_feature_entry_key_holds_what_determines_the_features_and_nothing_else(monkeypatch):
    monkeypatch.setattr(_identity, "core_is_editable", lambda: False)
    built = {"weights_id": "w", "transform": "T", "preprocessing": None}
    base = dict(backbone_id="b/n", built=built, dtype="fp32", patches=False, manifest="m", backbone_code={"v": 1},
                task_code={"v": 2}, core=_identity.extraction_protocol())
    key = _identity.feature_key_of(**base)
    for part, value in [("built", {**built, "transform": "U"}), ("dtype", "bf16"), ("patches", True),
                        ("manifest", "m2"), ("backbone_code", {"v": 3}), ("task_code", {"v": 4})]:
        assert _identity.feature_key_of(**{**base, part: value}) != key, part
    monkeypatch.setattr(_identity, "EXTRACTION_PROTOCOL", "other")
    assert _identity.feature_key_of(**{**base, "core": _identity.extraction_protocol()}) != key
    # probes, metrics, settings and the results' slot are not in it: a feature entry has no such argument


def test_a_pixel_entry_key_holds_the_task_manifest_geometry_and_protocol(monkeypatch):
    monkeypatch.setattr(_identity, "core_is_editable", lambda: False)
    code = {"task": {"v": 1}, "core": _identity.extraction_protocol()}
    base = _identity.pixel_base_key(_Task(), code, "m")
    key = _identity.pixel_entry_key(base, "resize 40", "rule")
    assert _identity.pixel_base_key(_Task(), code, "m2") != base
    assert _identity.pixel_base_key(_Task(), {**code, "task": {"v": 2}}, "m") != base
    assert _identity.pixel_entry_key(base, "resize 41", "rule") != key
    assert _identity.pixel_entry_key(base, "resize 40", "rule2") != key


def test_an_editable_core_stamps_only_the_files_behind_each_protocol(tmp_path, monkeypatch):
    root = tmp_path / "biobench_core"
    shutil.copytree(_identity.core_root(), root, ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.setattr(_identity, "core_root", lambda: root)
    monkeypatch.setattr(_identity, "core_is_editable", lambda: True)
    before = (_identity.extraction_protocol(), _identity.probe_protocol("knn"), _identity.metric_protocol("accuracy"))
    simpleshot = _identity.probe_protocol("simpleshot")
    for relative in NOT_BEHIND_A_PROTOCOL:
        (root / relative).write_text((root / relative).read_text() + "\n# an edit\n")
    assert (_identity.extraction_protocol(), _identity.probe_protocol("knn"),
            _identity.metric_protocol("accuracy")) == before
    (root / "engine/_probes/knn.py").write_text("# an edit\n")
    assert _identity.probe_protocol("knn") != before[1]
    assert _identity.probe_protocol("simpleshot") == simpleshot  # another probe's module: not behind this one
    monkeypatch.setattr(_identity, "core_is_editable", lambda: False)  # a release: versions alone
    assert _identity.extraction_protocol() == {"extraction": _identity.EXTRACTION_PROTOCOL, "files": None}


def test_the_editable_detection_reads_direct_url_json():
    from importlib import metadata

    text = metadata.distribution("biobench-core").read_text("direct_url.json")
    expected = bool(text) and bool(json.loads(text).get("dir_info", {}).get("editable"))
    _identity.core_is_editable.cache_clear()
    assert _identity.core_is_editable() is expected


def test_the_docs_table_and_the_module_docstring_name_the_same_keys():
    doc = (Path(__file__).resolve().parents[1] / "docs" / "identity.md").read_text()
    for name in ("pixel_entry_key", "feature_key_of", "memo_key", "ExperimentKey", "result_code"):
        assert callable(getattr(_identity, name)), name
        assert f"`{name}`" in doc and name in _identity.__doc__, name
