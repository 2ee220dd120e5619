"""End-to-end: `biobench run` and `biobench report` through the real CLI, plugins, cache and store.

The backbone is a tiny convolutional net shipped as a throwaway installed distribution; the task is the
first-party `tasks/image-folder` over generated PNGs whose class is their colour, so labels are learnable.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from PIL import Image

from biobench_core.testing._distributions import write_distribution

TINY = '''
from biobench_core import BackboneSpec, hookimpl

@hookimpl
def biobench_backbones():
    yield BackboneSpec(id="tiny/convnet", factory="tiny_backbone.model:TinyConvNet", embed_dim=16, input_size=32)
    yield BackboneSpec(id="tiny/nan", factory="tiny_backbone.model:NaNNet", embed_dim=16, input_size=32)
    yield BackboneSpec(id="tiny/badshape", factory="tiny_backbone.model:BadShapeNet", embed_dim=16, input_size=32)
    yield BackboneSpec(id="tiny/wide", factory="tiny_backbone.model:WideNet", embed_dim=4096, input_size=32)
'''

TINY_MODEL = '''
import os, time
import torch
from torchvision import transforms
from biobench_core import EncodedImgBatch, VisionBackbone
from biobench_core.engine._weights import file_weights_id, read_state_dict

class TinyConvNet(VisionBackbone):
    def __init__(self, spec, weights=None):
        super().__init__()
        if os.environ.get("TINY_BUILD_LOG"):
            with open(os.environ["TINY_BUILD_LOG"], "a") as log:
                log.write(spec.id + "\\n")
        torch.manual_seed(0)
        self.net = torch.nn.Sequential(torch.nn.Conv2d(3, 16, 3, padding=1), torch.nn.ReLU())
        self.weights_id = "random:seed=0"
        if weights not in (None, "random"):
            self.load_state_dict(read_state_dict(weights))
            self.weights_id = file_weights_id(weights)

    def img_encode(self, batch):
        delay = float(os.environ.get("TINY_DELAY", "0"))
        if delay:
            time.sleep(delay)
        fmap = self.net(batch)
        return EncodedImgBatch(fmap.mean(dim=(2, 3)), fmap.flatten(2).transpose(1, 2))

    def make_img_transform(self):
        return transforms.Compose([transforms.Resize((32, 32)), transforms.ToTensor()])

class NaNNet(TinyConvNet):
    def img_encode(self, batch):
        out = super().img_encode(batch)
        return EncodedImgBatch(out.img_features * float("nan"), None)

class WideNet(TinyConvNet):
    def __init__(self, spec, weights=None):
        super().__init__(spec, weights)
        self.net = torch.nn.Sequential(torch.nn.Conv2d(3, 4096, 1), torch.nn.ReLU())

class BadShapeNet(TinyConvNet):
    def img_encode(self, batch):
        return EncodedImgBatch(super().img_encode(batch).img_features[:1], None)
'''

@pytest.fixture
def env(tmp_path, monkeypatch, make_image_folder, in_process):
    site = tmp_path / "site"
    write_distribution(site, "biobench-tiny", {"tiny_backbone.__init__": TINY, "tiny_backbone.model": TINY_MODEL},
                       {"tiny": "tiny_backbone"})
    env_vars = {"BIOBENCH_CACHE": str(tmp_path / "cache"), "BIOBENCH_LOAD_PLUGINS": "biobench-tiny,biobench-tasks"}
    for key, value in env_vars.items():  # for in-process runs; subprocess runs get them explicitly
        monkeypatch.setenv(key, value)
    monkeypatch.syspath_prepend(str(site))
    return {
        "site": site,
        "data": make_image_folder(tmp_path / "colours"),
        "results": tmp_path / "results",
        "env": env_vars,
        "in_process": in_process,
    }


def _run(run_cli, env, *extra):
    return env["in_process"]("run", "--backbone", "tiny/convnet", "--task", "image-folder", "--data",
                      f"image-folder={env['data']}", "--results", str(env["results"]), "--quiet", "--workers", "0",
                      *extra)


def _report_json(run_cli, env, *extra):
    proc = env["in_process"]("report", "--results", str(env["results"]), "--format", "json", *extra)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def _rows(results: Path) -> list[tuple]:
    with sqlite3.connect(results / "biobench.sqlite") as db:
        return db.execute("SELECT e.id, e.backbone, e.task, e.feature_cache, COUNT(p.example_id) FROM experiments e "
                          "LEFT JOIN predictions p ON p.experiment_id = e.id GROUP BY e.id ORDER BY e.id").fetchall()


def test_run_skip_force_and_report(env, run_cli, tmp_path, monkeypatch):
    builds = tmp_path / "builds.log"
    monkeypatch.setenv("TINY_BUILD_LOG", str(builds))
    first = _run(run_cli, env)
    assert first.returncode == 0, first.stderr
    assert "done  tiny/convnet [pretrained] on tasks/image-folder" in first.stderr
    [(_, backbone, task, cache, n_preds)] = _rows(env["results"])
    assert (backbone, task, cache, n_preds) == ("tiny/convnet", "tasks/image-folder", "train:miss,test:miss", 15)

    again = _run(run_cli, env)
    assert again.returncode == 0 and "skip  tiny/convnet" in again.stderr
    assert len(_rows(env["results"])) == 1

    forced = _run(run_cli, env, "--force")
    assert forced.returncode == 0, forced.stderr
    [(_, _, _, cache, n_preds)] = _rows(env["results"])
    assert (cache, n_preds) == ("train:hit,test:hit", 15)  # features came from the cache, the probe was refitted
    assert builds.read_text().splitlines() == ["tiny/convnet"]  # and the backbone was not even built again

    report = _report_json(run_cli, env)
    [result] = report["results"]
    assert result["backbone"] == "tiny/convnet" and result["weights"] == "pretrained"
    assert result["task"] == "tasks/image-folder" and result["n_examples"] == 15 and result["comparable"] is True
    assert result["score"] >= 0.8  # colour is trivially learnable from pooled conv features
    assert result["ci_low"] <= result["score"] <= result["ci_high"]
    assert set(result["splits"]) <= {"red", "green", "blue"}

    for fmt, marker in (("table", "benchmark mean"), ("markdown", "| backbone |"), ("csv", "backbone,weights,task")):
        out = run_cli("report", "--results", str(env["results"]), "--format", fmt, site=env["site"], env=env["env"])
        assert out.returncode == 0 and marker in out.stdout and "tiny/convnet" in out.stdout
    target = env["results"] / "board.md"
    assert run_cli("report", "--results", str(env["results"]), "--format", "markdown", "--out", str(target),
                   site=env["site"], env=env["env"]).returncode == 0
    assert "tiny/convnet" in target.read_text()


def test_limit_runs_are_marked_and_hidden(env, run_cli):
    assert _run(run_cli, env, "--limit", "4").returncode == 0
    hidden = _report_json(run_cli, env)
    assert hidden["results"] == []
    shown = _report_json(run_cli, env, "--all")
    assert [r["comparable"] for r in shown["results"]] == [False]
    assert shown["results"][0]["n_examples"] == 4


def test_kill_9_mid_run_loses_nothing_and_rerun_does_only_what_is_missing(env, run_cli, tmp_path):
    # Three experiments (three weights files would be slow; three probe settings are three experiments).
    weights = []
    import torch

    torch.manual_seed(1)
    for i in range(3):
        state = {"net.0.weight": torch.randn(16, 3, 3, 3), "net.0.bias": torch.randn(16)}
        path = tmp_path / f"w{i}.pt"
        torch.save(state, path)
        weights.append(str(path))
    cmd = [sys.executable, "-m", "biobench_core.cli", "run", "--task", "image-folder",
           "--data", f"image-folder={env['data']}", "--results", str(env["results"]), "--quiet", "--workers", "0",
           "--batch-size", "4"]
    for w in weights:
        cmd += ["--backbone", "tiny/convnet", "--weights", w]
    full_env = {**os.environ, **env["env"], "PYTHONPATH": str(env["site"]), "TINY_DELAY": "0.4"}
    proc = subprocess.Popen(cmd, env=full_env, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 300
    for line in proc.stderr:  # wait for the first finished experiment, then kill in the middle of the second
        if line.startswith("done") or time.time() > deadline:
            break
    time.sleep(1.0)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    rows = _rows(env["results"])
    assert len(rows) == 1 and rows[0][4] == 15  # one whole experiment, nothing half-written

    rerun = subprocess.run(cmd, env={**full_env, "TINY_DELAY": "0"}, capture_output=True, text=True, timeout=300)
    assert rerun.returncode == 0, rerun.stderr
    assert rerun.stderr.count("skip  ") == 1 and rerun.stderr.count("done  ") == 2
    rows = _rows(env["results"])
    assert len(rows) == 3 and all(r[4] == 15 for r in rows)
    with sqlite3.connect(env["results"] / "biobench.sqlite") as db:
        assert db.execute("SELECT COUNT(*) FROM predictions").fetchone()[0] == 45


def test_cache_invalidation_on_weights_dtype_and_image_change(env, run_cli, tmp_path):
    import torch

    weights = tmp_path / "w.pt"
    torch.manual_seed(3)
    torch.save({"net.0.weight": torch.randn(16, 3, 3, 3), "net.0.bias": torch.randn(16)}, weights)

    def cache_of(*extra):
        proc = _run(run_cli, env, "--weights", str(weights), "--force", *extra)
        assert proc.returncode == 0, proc.stderr
        return _rows(env["results"])[-1][3]

    assert cache_of() == "train:miss,test:miss"
    assert cache_of() == "train:hit,test:hit"
    torch.manual_seed(4)  # same path, new content: a different weights hash
    torch.save({"net.0.weight": torch.randn(16, 3, 3, 3), "net.0.bias": torch.randn(16)}, weights)
    assert cache_of() == "train:miss,test:miss"
    assert cache_of("--dtype", "bf16") == "train:miss,test:miss"
    assert cache_of("--dtype", "bf16") == "train:hit,test:hit"
    victim = next((env["data"] / "test" / "red").glob("*.png"))
    Image.new("RGB", (24, 24), (10, 10, 10)).save(victim)
    os.utime(victim, ns=(time.time_ns() + 10**9, time.time_ns() + 10**9))
    assert cache_of("--dtype", "bf16") == "train:hit,test:miss"
    assert cache_of("--no-cache") == "train:off,test:off"


def test_corrupt_image_is_skipped_with_its_name_or_fails_on_request(env, run_cli):
    bad = env["data"] / "test" / "blue" / "broken.png"
    bad.write_bytes(Image.new("RGB", (4, 4)).tobytes()[:10])
    proc = _run(run_cli, env)
    assert proc.returncode == 0, proc.stderr
    assert "broken.png" in proc.stderr and "1 undecodable images skipped" in proc.stderr
    report = _report_json(run_cli, env)
    # the undecodable test image stays in the score as a wrong answer: n counts it
    assert report["results"][0]["n_skipped"] == 1 and report["results"][0]["n_examples"] == 16
    assert any("1 undecodable" in n for n in report["notes"])

    failing = _run(run_cli, env, "--force", "--on-bad-image", "fail")
    assert failing.returncode == 1
    assert "broken.png: cannot decode image" in failing.stderr


@pytest.mark.parametrize(("backbone", "message"), [("tiny/nan", "tiny/nan: img_features contains NaN"),
                                                   ("tiny/badshape", "tiny/badshape: img_features has 1 rows")])
def test_bad_backbone_output_is_one_line_and_other_results_survive(env, run_cli, in_process, backbone, message):
    assert _run(run_cli, env).returncode == 0
    proc = in_process("run", "--backbone", backbone, "--backbone", "tiny/convnet", "--task", "image-folder",
                      "--data", f"image-folder={env['data']}", "--results", str(env["results"]), "--quiet",
                      "--workers", "0")
    assert proc.returncode == 1
    fails = [line for line in proc.stderr.splitlines() if line.startswith("FAIL")]
    assert len(fails) == 1 and message in fails[0], proc.stderr
    assert "Traceback" not in proc.stderr
    assert [r[1] for r in _rows(env["results"])] == ["tiny/convnet"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--data", "image-folder=/no/such/folder"], "data folder /no/such/folder does not exist"),
        ([], "needs a data folder: pass --data image-folder=DIR"),
        (["--data", "image-folder={data}", "--backbone", "tiny/convnett"], "did you mean 'tiny/convnet'"),
        (["--data", "image-folder={data}", "--weights", "/no/such/weights.pt"], "/no/such/weights.pt"),
    ],
)
def test_bad_input_gets_one_clear_line(env, run_cli, in_process, args, message):
    args = [a.format(data=env["data"]) for a in args]
    base = ["run", "--task", "image-folder", "--results", str(env["results"]), "--quiet"]
    if "--backbone" not in args:
        base += ["--backbone", "tiny/convnet"]
    proc = in_process(*base, *args)
    assert proc.returncode in (1, 2)
    assert message in proc.stderr, proc.stderr
    assert "Traceback" not in proc.stderr


def test_mismatched_weights_count_is_a_usage_error(env, run_cli):
    proc = run_cli("run", "--backbone", "tiny/convnet", "--backbone", "tiny/convnet", "--weights", "a", "--weights", "b",
                   "--weights", "c", "--task", "image-folder", site=env["site"], env=env["env"])
    assert proc.returncode == 2 and "one per --backbone" in proc.stderr


def test_cache_write_failure_keeps_result_and_leaves_no_entry(env, tmp_path):
    """A full disk while writing the cache: a one-line warning, no partial entry, and the result still stored."""
    from biobench_core.results._store import ResultsStore

    limit = 100_000  # bytes per file: the database's WAL stays below it, 4096-d features (~390 kB) do not
    code = (
        "import resource, signal, sys\n"
        "signal.signal(signal.SIGXFSZ, signal.SIG_IGN)\n"  # past the limit a write fails with EFBIG
        f"resource.setrlimit(resource.RLIMIT_FSIZE, ({limit}, {limit}))\n"
        "from biobench_core.cli._main import main\n"
        "sys.exit(main(sys.argv[1:]))\n"
    )
    results = tmp_path / "results_fs"
    ResultsStore(results).close()
    args = ["run", "--backbone", "tiny/wide", "--task", "image-folder", "--data", f"image-folder={env['data']}",
            "--results", str(results), "--quiet", "--workers", "0"]
    proc = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, timeout=300,
                          env={**os.environ, **env["env"], "PYTHONPATH": str(env["site"])})
    assert proc.returncode == 0, proc.stderr
    warning = [line for line in proc.stderr.splitlines() if "cannot write feature cache entry" in line]
    assert len(warning) == 1 and "no partial entry was kept" in warning[0] and "--no-cache" in warning[0]  # once
    cache = Path(env["env"]["BIOBENCH_CACHE"])
    features = [p for p in cache.rglob("*") if p.is_file() and p.parent.name != "memo"]
    assert features == []  # no feature entry and no temporary leftovers (only the backbone memo was written)
    assert [r[1] for r in _rows(results)] == ["tiny/wide"]
