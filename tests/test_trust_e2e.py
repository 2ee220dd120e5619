"""Results you can trust (issue 7), end to end through the real CLI.

Each test reproduces a way today's biobench printed a confident wrong number: stale cached features after a
plugin edit, results kept after the data or weights changed, columns mixing settings, the declared metric
ignored, a too-narrow backbone stored as done, skipped test images silently dropped from the score.
"""

from __future__ import annotations

import importlib
import json
import shutil
import sqlite3
import sys
from pathlib import Path

import numpy as np
import pytest
from sklearn.metrics import accuracy_score, f1_score

from biobench_core.testing._distributions import write_distribution

TRUSTY = '''
from biobench_core import BackboneSpec, TaskSpec, hookimpl

@hookimpl
def biobench_backbones():
    yield BackboneSpec(id="trusty/net", factory="trusty_pkg.model:Net", embed_dim=16)
    yield BackboneSpec(id="trusty/other", factory="trusty_pkg.model:Other", embed_dim=16)
    yield BackboneSpec(id="trusty/narrow", factory="trusty_pkg.model:Net", embed_dim=17)
    yield BackboneSpec(id="trusty/blank", factory="trusty_pkg.model:Blank", embed_dim=16)
    yield BackboneSpec(id="trusty/picky", factory="trusty_pkg.model:Picky", embed_dim=16)
    yield BackboneSpec(id="trusty/unstable", factory="trusty_pkg.model:Unstable", embed_dim=16)

@hookimpl
def biobench_tasks():
    yield TaskSpec(id="trusty/imbalanced", factory="biobench_tasks.image_folder:ImageFolderTask",
                   metric="macro-f1")
    yield TaskSpec(id="trusty/badmetric", factory="biobench_tasks.image_folder:ImageFolderTask",
                   metric="trusty_pkg.metrics:boom")
'''

TRUSTY_METRICS = '''
def boom(y_true, y_pred):
    raise ZeroDivisionError("no classes to average over")
'''

TRUSTY_MODEL = '''
import torch
from torchvision import transforms
from biobench_core import EncodedImgBatch, VisionBackbone
from biobench_core.engine._weights import file_weights_id, read_state_dict


class Net(VisionBackbone):
    def __init__(self, spec, weights=None, seed=0):
        super().__init__()
        torch.manual_seed(seed)
        self.net = torch.nn.Sequential(torch.nn.Conv2d(3, 16, 3, padding=1), torch.nn.ReLU())
        self.weights_id = f"random:seed={seed}"
        if weights not in (None, "random"):
            self.load_state_dict(read_state_dict(weights))
            self.weights_id = file_weights_id(weights)

    def img_encode(self, batch):
        return EncodedImgBatch(self.net(batch).mean(dim=(2, 3)), None)

    def make_img_transform(self):
        return transforms.Compose([transforms.Resize((32, 32)), transforms.ToTensor()])


class Other(Net):
    def __init__(self, spec, weights=None):
        super().__init__(spec, weights, seed=1)


class Blank(Net):
    def img_encode(self, batch):
        return EncodedImgBatch(torch.ones(batch.shape[0], 16, dtype=batch.dtype), None)


class Refuse25:
    """Cannot handle 25-pixel-wide images (a stand-in for images a backbone's preprocessing fails on)."""

    def __call__(self, img):
        if img.size[0] == 25:
            raise ValueError("25 pixels wide")
        return img

    def __repr__(self):
        return "Refuse25()"


class Picky(Net):
    def make_img_transform(self):
        return transforms.Compose([Refuse25(), transforms.Resize((32, 32)), transforms.ToTensor()])


class NoRepr:
    def __call__(self, img):
        return transforms.functional.to_tensor(img.resize((32, 32)))


class Unstable(Net):
    def make_img_transform(self):
        return NoRepr()
'''


@pytest.fixture
def trusty(tmp_path, monkeypatch, make_image_folder, in_process):
    site = tmp_path / "site"
    write_distribution(site, "biobench-trusty", {"trusty_pkg.__init__": TRUSTY, "trusty_pkg.model": TRUSTY_MODEL,
                                                 "trusty_pkg.metrics": TRUSTY_METRICS}, {"trusty": "trusty_pkg"})
    monkeypatch.setenv("BIOBENCH_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("BIOBENCH_LOAD_PLUGINS", "biobench-trusty,biobench-tasks")
    monkeypatch.syspath_prepend(str(site))
    data = make_image_folder(tmp_path / "colours")
    results = tmp_path / "results"

    def run(*args: str, task: str = "image-folder", folder: Path = data, out: Path = results):
        return in_process("run", "--task", task, "--data", f"{task}={folder}", "--results", str(out), "--quiet",
                          "--workers", "0", *args)

    def report(*args: str, out: Path = results) -> dict:
        proc = in_process("report", "--results", str(out), "--format", "json", *args)
        assert proc.returncode == 0, proc.stderr
        return json.loads(proc.stdout)

    return {"site": site, "data": data, "results": results, "run": run, "report": report, "tmp": tmp_path}


def _stored(results: Path) -> list[dict]:
    with sqlite3.connect(results / "biobench.sqlite") as db:
        db.row_factory = sqlite3.Row
        rows = [dict(r) for r in db.execute("SELECT * FROM experiments ORDER BY id")]
        for row in rows:
            row["predictions"] = [(p[0], json.loads(p[1])) for p in db.execute(
                "SELECT example_id, info FROM predictions WHERE experiment_id=? ORDER BY rowid", (row["id"],))]
    return rows


# -- 1. the feature cache never serves features of another encoder ------------------------------------------------

EVOLVING = '''
from biobench_core import BackboneSpec, hookimpl

@hookimpl
def biobench_backbones():
    yield BackboneSpec(id="evolving/net", factory="evolving_pkg.model:Net", embed_dim=16)
'''

EVOLVING_MODEL = '''
import torch
from torchvision import transforms
from biobench_core import EncodedImgBatch, VisionBackbone


class Blackout:
    def __call__(self, img):
        return torch.zeros(3, 8, 8)

    def __repr__(self):
        return "Blackout(8)"


class Net(VisionBackbone):
    weights_id = "random:seed=0"

    def __init__(self, spec, weights=None):
        super().__init__()
        torch.manual_seed(0)
        self.net = torch.nn.Sequential(torch.nn.Conv2d(3, 16, 3, padding=1), torch.nn.ReLU())

    def img_encode(self, batch):
        feats = self.net(batch).mean(dim=(2, 3))
        return EncodedImgBatch(ENCODE(feats), None)

    def make_img_transform(self):
        return TRANSFORM
'''

STEPS = [  # (plugin version, transform, what img_encode does to the features)
    ("1.0", "transforms.Compose([transforms.Resize((32, 32)), transforms.ToTensor()])", "feats"),
    ("1.0", "transforms.Compose([transforms.Resize((8, 8)), Blackout()])", "feats"),  # edited in place
    ("1.1", "transforms.Compose([transforms.Resize((32, 32)), transforms.ToTensor()])",
     "feats[:, torch.arange(15, -1, -1)] * 3.0"),
]


def _install_evolving(site: Path, version: str, transform: str, encode: str) -> None:
    for old in site.glob("biobench_evolving-*.dist-info"):
        shutil.rmtree(old)
    model = EVOLVING_MODEL.replace("TRANSFORM", transform).replace("ENCODE(feats)", encode)
    write_distribution(site, "biobench-evolving", {"evolving_pkg.__init__": EVOLVING, "evolving_pkg.model": model},
                       {"evolving": "evolving_pkg"}, version=version)
    for name in [m for m in sys.modules if m.startswith("evolving_pkg")]:
        del sys.modules[name]  # a new process would import the edited code; so does this one
    importlib.invalidate_caches()


def test_cached_scores_equal_no_cache_truth_through_plugin_edits(trusty, monkeypatch):
    monkeypatch.setenv("BIOBENCH_LOAD_PLUGINS", "biobench-evolving,biobench-tasks")
    cached, truth = trusty["tmp"] / "cached", trusty["tmp"] / "truth"
    seen = []
    for version, transform, encode in STEPS:
        _install_evolving(trusty["site"], version, transform, encode)
        with_cache = trusty["run"]("--backbone", "evolving/net", "--force", out=cached)
        without = trusty["run"]("--backbone", "evolving/net", "--force", "--no-cache", out=truth)
        assert with_cache.returncode == 0 and without.returncode == 0, with_cache.stderr + without.stderr
        [c], [t] = _stored(cached), _stored(truth)
        seen.append((c["score"], t["score"], c["feature_cache"]))
    assert [s[0] for s in seen] == [s[1] for s in seen], seen  # every cached score equals its truth
    assert seen[0][1] == 1.0 and seen[1][1] < 0.5 and seen[2][1] == 1.0, seen  # the steps do change the truth
    assert [s[2] for s in seen] == ["train:miss,test:miss"] * 3  # each edit is a different encoder: no hits
    again = trusty["run"]("--backbone", "evolving/net", "--force", out=cached)  # unchanged code: cache hits
    assert again.returncode == 0 and _stored(cached)[0]["feature_cache"] == "train:hit,test:hit"


def test_a_stored_result_is_redone_when_the_code_behind_it_changed(trusty, monkeypatch):
    """No --force: a result stored before the plugin was edited in place (same version) is not skipped."""
    monkeypatch.setenv("BIOBENCH_LOAD_PLUGINS", "biobench-evolving,biobench-tasks")
    out = trusty["tmp"] / "plain"
    _install_evolving(trusty["site"], *STEPS[0])
    first = trusty["run"]("--backbone", "evolving/net", out=out)
    assert first.returncode == 0 and _stored(out)[0]["score"] == 1.0, first.stderr
    unchanged = trusty["run"]("--backbone", "evolving/net", out=out)
    assert "skip  evolving/net" in unchanged.stderr
    _install_evolving(trusty["site"], *STEPS[1])  # edited in place, same version
    edited = trusty["run"]("--backbone", "evolving/net", out=out)
    assert edited.returncode == 0, edited.stderr
    assert "skip  evolving/net" not in edited.stderr
    assert "redo  evolving/net [pretrained] on tasks/image-folder: the code behind the stored result changed " \
           "(biobench-evolving)" in edited.stderr
    [row] = _stored(out)
    truth = trusty["run"]("--backbone", "evolving/net", "--no-cache", out=trusty["tmp"] / "truth")
    assert truth.returncode == 0 and row["score"] == _stored(trusty["tmp"] / "truth")[0]["score"] < 0.5


def test_unstable_transform_is_not_cached_and_says_so(trusty):
    first = trusty["run"]("--backbone", "trusty/unstable")
    assert first.returncode == 0, first.stderr
    assert "trusty/unstable: its transform's repr holds a memory address" in first.stderr
    assert "not cached" in first.stderr
    assert _stored(trusty["results"])[0]["feature_cache"] == "train:off,test:off"
    cache = Path(trusty["tmp"] / "cache")
    assert not [p for p in cache.rglob("*.npy")]


def test_a_put_over_an_existing_entry_replaces_it(tmp_path):
    from biobench_core.engine._feature_cache import FeatureCache
    from biobench_core.contract._tasks import Example, SplitFeatures

    cache = FeatureCache(tmp_path)
    examples = [Example("a", 0), Example("b", 1)]
    cache.put("k" * 64, SplitFeatures(examples, np.zeros((2, 3), np.float32)), {})
    cache.put("k" * 64, SplitFeatures(examples, np.ones((2, 3), np.float32)), {})
    split, _ = cache.get("k" * 64, examples)
    assert np.array_equal(split.features, np.ones((2, 3)))
    assert [p.name for p in (tmp_path / "kk").iterdir()] == ["k" * 64]  # nothing left aside


def test_a_corrupt_cache_entry_is_counted_and_replaced(trusty):
    assert trusty["run"]("--backbone", "trusty/net").returncode == 0
    entries = sorted(Path(trusty["tmp"] / "cache").rglob("features.npy"))
    assert len(entries) == 2
    entries[0].write_bytes(entries[0].read_bytes()[:40])  # truncated
    rerun = trusty["run"]("--backbone", "trusty/net", "--force")
    assert rerun.returncode == 0, rerun.stderr
    assert "1 corrupt feature cache entry found and re-extracted" in rerun.stderr
    again = trusty["run"]("--backbone", "trusty/net", "--force")
    assert "corrupt feature cache" not in again.stderr and _stored(trusty["results"])[0]["feature_cache"] == "train:hit,test:hit"


# -- 2. the results store knows what data, settings and weights a result came from ------------------------------

def test_changed_data_is_recomputed_and_never_shares_a_column(trusty):
    assert trusty["run"]("--backbone", "trusty/net").returncode == 0
    test = trusty["data"] / "test"
    for i, image in enumerate(sorted((test / "green").glob("*.png"))):
        image.rename(test / "red" / f"moved{i}.png")
    shutil.rmtree(trusty["data"] / "test" / "blue")
    shutil.rmtree(trusty["data"] / "train" / "blue")
    rerun = trusty["run"]("--backbone", "trusty/net")
    assert rerun.returncode == 0 and "done  trusty/net" in rerun.stderr, rerun.stderr  # not "skip"
    assert trusty["run"]("--backbone", "trusty/other").returncode == 0
    rows = _stored(trusty["results"])
    assert [r["backbone"] for r in rows] == ["trusty/net", "trusty/net", "trusty/other"]
    assert rows[0]["data"] != rows[1]["data"] == rows[2]["data"]
    assert [r["n_examples"] for r in rows] == [15, 10, 10]
    board = trusty["report"]()
    columns = {(c["backbone"], c["n_examples"]): c["column"] for c in board["results"]}
    assert columns[("trusty/net", 15)] != columns[("trusty/net", 10)] == columns[("trusty/other", 10)]
    assert any("data" in note for note in board["notes"]), board["notes"]


def test_settings_that_change_the_measure_make_separate_columns(trusty):
    assert trusty["run"]("--backbone", "trusty/net").returncode == 0
    assert trusty["run"]("--backbone", "trusty/other", "--set", "probe=knn").returncode == 0
    board = trusty["report"]()
    cells = {c["backbone"]: c for c in board["results"]}
    assert cells["trusty/net"]["column"] != cells["trusty/other"]["column"]
    assert cells["trusty/net"]["best"] and cells["trusty/other"]["best"]  # each best of its own column


def test_overwritten_weights_file_is_a_new_experiment(trusty):
    import torch

    weights = trusty["tmp"] / "w.pt"
    for seed in (3, 4):
        torch.manual_seed(seed)
        torch.save({"net.0.weight": torch.randn(16, 3, 3, 3), "net.0.bias": torch.randn(16)}, weights)
        proc = trusty["run"]("--backbone", "trusty/net", "--weights", str(weights))
        assert proc.returncode == 0 and "done  trusty/net" in proc.stderr, proc.stderr
    rows = _stored(trusty["results"])
    assert len(rows) == 2 and rows[0]["weights"] != rows[1]["weights"]
    assert rows[0]["weights_id"].startswith("sha256:") and rows[0]["weights_id"] != rows[1]["weights_id"]


def test_features_narrower_than_the_spec_fail_the_experiment(trusty):
    proc = trusty["run"]("--backbone", "trusty/narrow", "--backbone", "trusty/net")
    assert proc.returncode == 1
    [fail] = [line for line in proc.stderr.splitlines() if line.startswith("FAIL")]
    assert "trusty/narrow: img_features are 16 wide" in fail and "embed_dim=17" in fail
    assert [r["backbone"] for r in _stored(trusty["results"])] == ["trusty/net"]


def test_test_images_a_backbone_skipped_count_as_wrong(trusty):
    from PIL import Image

    for i in range(3):  # three hard test images the picky backbone cannot preprocess
        Image.new("RGB", (25, 24), (200, 30, 30)).save(trusty["data"] / "test" / "red" / f"hard{i}.png")
    proc = trusty["run"]("--backbone", "trusty/picky", "--backbone", "trusty/net")
    assert proc.returncode == 0, proc.stderr
    picky, net = _stored(trusty["results"])
    assert picky["n_examples"] == net["n_examples"] == 18  # same examples, same n
    skipped = [info for _, info in picky["predictions"] if info.get("skipped")]
    assert len(skipped) == 3 and all(info["pred"] == -1 for info in skipped)
    assert picky["score"] == pytest.approx(15 / 18) and net["score"] == 1.0
    board = {c["backbone"]: c for c in trusty["report"]()["results"]}
    assert board["trusty/net"]["best"] and not board["trusty/picky"]["best"]


# -- 3. the task's own metric ------------------------------------------------------------------------------------

def test_declared_macro_f1_is_the_stored_score(trusty, make_image_folder):
    folder = make_image_folder(trusty["tmp"] / "imbalanced", n_train=6, n_test=1)
    for split in ("train", "test"):  # red is the majority: 14 of 22 train images, 9 of 11 test images
        for i in range(8):
            shutil.copy(folder / split / "red" / "red0.png", folder / split / "red" / f"extra{i}.png")
    proc = trusty["run"]("--backbone", "trusty/blank", task="trusty/imbalanced", folder=folder)
    assert proc.returncode == 0, proc.stderr
    [row] = _stored(trusty["results"])
    y_true = [info["label"] for _, info in row["predictions"]]
    y_pred = [info["pred"] for _, info in row["predictions"]]
    assert row["metric"] == "macro-f1"
    assert row["score"] == pytest.approx(f1_score(y_true, y_pred, average="macro"))
    assert row["score"] < accuracy_score(y_true, y_pred) - 0.1  # accuracy would be a different number


def test_a_metric_that_raises_is_one_fail_line_naming_the_task(trusty):
    assert trusty["run"]("--backbone", "trusty/net").returncode == 0
    proc = trusty["run"]("--backbone", "trusty/net", task="trusty/badmetric")
    assert proc.returncode == 1
    [fail] = [line for line in proc.stderr.splitlines() if line.startswith("FAIL")]
    assert "trusty/badmetric" in fail and "ZeroDivisionError" in fail and "Traceback" not in proc.stderr
    assert len(_stored(trusty["results"])) == 1


# -- 5. nothing the user asked for is silently dropped ----------------------------------------------------------

def test_one_task_twice_in_a_config_is_two_results(trusty):
    config = trusty["tmp"] / "twice.toml"
    config.write_text(f'''
results = "{trusty["results"]}"
workers = 0
[[backbone]]
id = "trusty/net"
[[task]]
id = "image-folder"
data = "{trusty["data"]}"
settings = {{ probe = "knn" }}
[[task]]
id = "image-folder"
data = "{trusty["data"]}"
settings = {{ probe = "simpleshot" }}
''')
    from biobench_core.cli._main import main

    assert main(["run", "--config", str(config), "--quiet"]) == 0
    rows = _stored(trusty["results"])
    assert sorted(json.loads(r["column_settings"])["probe"] for r in rows) == ["knn", "simpleshot"]


def test_debug_prints_the_traceback_of_a_failed_experiment(trusty, monkeypatch):
    monkeypatch.setenv("BIOBENCH_DEBUG", "1")
    proc = trusty["run"]("--backbone", "trusty/narrow")
    assert proc.returncode == 1 and "Traceback" in proc.stderr and "embed_dim=17" in proc.stderr


# -- bad input: a store written by biobench 0.1 ------------------------------------------------------------------

V1_SCHEMA = """
CREATE TABLE experiments (id INTEGER PRIMARY KEY, backbone TEXT NOT NULL, weights TEXT NOT NULL, task TEXT NOT NULL,
 settings TEXT NOT NULL, comparable INTEGER NOT NULL, score REAL NOT NULL, n_examples INTEGER NOT NULL,
 n_skipped INTEGER NOT NULL, splits TEXT NOT NULL, probe TEXT NOT NULL, argv TEXT NOT NULL, git_commit TEXT NOT NULL,
 versions TEXT NOT NULL, hostname TEXT NOT NULL, device TEXT NOT NULL, dtype TEXT NOT NULL, posix_time REAL NOT NULL,
 images_per_second REAL, extract_seconds REAL, fit_seconds REAL, peak_memory_mb REAL, feature_cache TEXT,
 UNIQUE (backbone, weights, task, settings));
CREATE TABLE predictions (experiment_id INTEGER NOT NULL REFERENCES experiments(id) ON DELETE CASCADE,
 example_id TEXT NOT NULL, score REAL NOT NULL, info TEXT NOT NULL, PRIMARY KEY (experiment_id, example_id));
PRAGMA user_version=1;
"""


def test_a_version_1_store_is_upgraded_and_never_mixed(trusty):
    trusty["results"].mkdir()
    with sqlite3.connect(trusty["results"] / "biobench.sqlite") as db:
        db.executescript(V1_SCHEMA)
        db.execute("INSERT INTO experiments VALUES (1, 'trusty/net', 'pretrained', 'tasks/image-folder', "
                   "'probe=logreg,dtype=fp32', 1, 0.5, 2, 0, '{}', '{}', '[]', 'x', '{}', 'h', 'cpu', 'fp32', 0, "
                   "NULL, NULL, NULL, NULL, NULL)")
        db.executemany("INSERT INTO predictions VALUES (1, ?, ?, ?)",
                       [("a", 1.0, '{"label": 0, "pred": 0}'), ("b", 0.0, '{"label": 1, "pred": 0}')])
    readonly = trusty["report"]()  # reading never upgrades or writes
    with sqlite3.connect(trusty["results"] / "biobench.sqlite") as db:
        assert db.execute("PRAGMA user_version").fetchone()[0] == 1
    assert any("older biobench" in note for note in readonly["notes"]), readonly["notes"]
    proc = trusty["run"]("--backbone", "trusty/net")
    assert proc.returncode == 0 and "done  trusty/net" in proc.stderr, proc.stderr  # the old row is no match
    rows = _stored(trusty["results"])
    assert [(r["data"] is None, r["n_examples"]) for r in rows] == [(True, 2), (False, 15)]
    board = trusty["report"]()
    assert len({c["column"] for c in board["results"]}) == 2


def test_an_unwritable_cache_warns_once_and_the_experiment_finishes(trusty, monkeypatch):
    blocker = trusty["tmp"] / "cache-is-a-file"
    blocker.write_text("not a folder")
    monkeypatch.setenv("BIOBENCH_CACHE", str(blocker))
    proc = trusty["run"]("--backbone", "trusty/net")
    assert proc.returncode == 0, proc.stderr
    warnings = [line for line in proc.stderr.splitlines() if "cannot write feature cache entry" in line]
    assert len(warnings) == 1 and "--no-cache" in warnings[0] and "Traceback" not in proc.stderr
    assert [r["backbone"] for r in _stored(trusty["results"])] == ["trusty/net"]
