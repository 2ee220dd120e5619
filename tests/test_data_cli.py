"""``biobench data list | check | fetch`` through the real CLI, against a local HTTP server with Range support.

A throwaway plugin offers tasks whose recipes point at the server: a zip of an image-folder dataset with its
sha256, the same zip with a wrong sha256, a tar.gz without a checksum (served by a connection that drops after
1000 bytes the first time), and a gated source with manual steps only.
"""

from __future__ import annotations

import hashlib
import importlib
import json
import re
import shutil
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from biobench_core.engine._data import DataRecipe, Download
from biobench_core.testing._distributions import write_distribution

PLUGIN = '''
from biobench_core import TaskSpec, hookimpl

@hookimpl
def biobench_tasks():
    common = dict(factory="biobench_tasks.image_folder:ImageFolderTask", license="CC-BY-4.0", data_size="30 kB")
    yield TaskSpec(id="fetchy/colours", data_source="local test server", data_recipe="fetchy_pkg.recipes:COLOURS",
                   **common)
    yield TaskSpec(id="fetchy/badsum", data_recipe="fetchy_pkg.recipes:BADSUM", **common)
    yield TaskSpec(id="fetchy/flaky", data_recipe="fetchy_pkg.recipes:FLAKY", **common)
    yield TaskSpec(id="fetchy/gated", data_recipe="fetchy_pkg.recipes:GATED", **common)
    yield TaskSpec(id="fetchy/listed", factory="fetchy_pkg.listed:Listed")
'''

RECIPES = '''
from biobench_core.engine._data import DataRecipe, Download

COLOURS = DataRecipe(downloads=(Download("{url}/colours.zip", "colours.zip", sha256="{sha}", unpack=True),))
BADSUM = DataRecipe(downloads=(Download("{url}/colours.zip", "colours.zip", sha256="{bad}", unpack=True),))
FLAKY = DataRecipe(downloads=(Download("{url}/flaky.tar.gz", "colours.tar.gz", unpack=True),))
GATED = DataRecipe(manual_steps="1. Log in at https://example.org/colours\\n2. Accept the licence\\n"
                                "3. Unzip colours.zip into the folder")
'''

LISTED = '''
from biobench_core.contract._tasks import Example, Task


class Listed(Task):
    """Examples named in DIR/list.txt (two train, the rest test), files not looked at when built."""

    def __init__(self, spec, data=None, settings=None):
        super().__init__(spec, data, settings)
        names = (self.data / "list.txt").read_text().split()
        ex = [Example(id=n, label=i % 2, source=str(self.data / n)) for i, n in enumerate(names)]
        self.split_examples = {"train": ex[:2], "test": ex[2:]}
'''

ETAG = '"colours-v1"'


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.files: dict[str, bytes] = {}
        self.drop_after: dict[str, int] = {}  # path -> bytes sent before the connection drops (first request)
        self.honour_range = True
        self.requests: list[tuple[str, str | None]] = []  # (path, Range header)


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def log_message(self, *args) -> None:  # quiet
        pass

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        body = self.server.files.get(self.path)
        rng = self.headers.get("Range")
        self.server.requests.append((self.path, rng))
        if body is None:
            self.send_error(404)
            return
        match = re.fullmatch(r"bytes=(\d+)-", rng or "")
        if_range = self.headers.get("If-Range")
        if match and self.server.honour_range and if_range in (None, ETAG):
            start = int(match.group(1))
            if start >= len(body):
                self.send_response(416)
                self.send_header("Content-Range", f"bytes */{len(body)}")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            payload = body[start:]
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}")
        else:
            payload = body
            self.send_response(200)
        self.send_header("Content-Length", str(len(payload)))
        self.send_header("ETag", ETAG)
        self.send_header("Accept-Ranges", "bytes")
        self.end_headers()
        drop = self.server.drop_after.pop(self.path, None)
        self.wfile.write(payload if drop is None else payload[:drop])
        self.wfile.flush()


@pytest.fixture
def fetchy(tmp_path, monkeypatch, make_image_folder, in_process):
    """Server + plugin; ``run(*args)`` is ``biobench ARGS`` in-process."""
    src = make_image_folder(tmp_path / "src", n_train=3, n_test=2)
    archives = tmp_path / "archives"
    zip_path = Path(shutil.make_archive(str(archives / "colours"), "zip", root_dir=src))
    tar_path = Path(shutil.make_archive(str(archives / "colours"), "gztar", root_dir=src))
    server = _Server()
    server.files = {"/colours.zip": zip_path.read_bytes(), "/flaky.tar.gz": tar_path.read_bytes()}
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{server.server_address[1]}"
    sha = hashlib.sha256(server.files["/colours.zip"]).hexdigest()
    site = tmp_path / "site"
    write_distribution(site, "biobench-fetchy", {
        "fetchy_pkg.__init__": PLUGIN, "fetchy_pkg.listed": LISTED,
        "fetchy_pkg.recipes": RECIPES.format(url=url, sha=sha, bad="0" * 64)}, {"fetchy": "fetchy_pkg"})
    for name in ("http_proxy", "HTTP_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.setenv("BIOBENCH_LOAD_PLUGINS", "biobench-fetchy")
    monkeypatch.syspath_prepend(str(site))
    _forget_fetchy()
    yield {"server": server, "sha": sha, "tmp": tmp_path, "run": in_process}
    server.shutdown()
    server.server_close()
    _forget_fetchy()


def _forget_fetchy() -> None:
    for name in [m for m in sys.modules if m.startswith("fetchy_pkg")]:
        del sys.modules[name]
    importlib.invalidate_caches()


def test_fetch_downloads_verifies_unpacks_and_checks(fetchy):
    data = fetchy["tmp"] / "data"
    proc = fetchy["run"]("data", "fetch", "fetchy/colours", "--to", str(data), "--quiet")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == f"fetchy/colours: ok: 9 train, 6 test examples, 3 classes in {data}\n"
    assert "colours.zip: downloaded" in proc.stderr and "sha256 verified" in proc.stderr
    assert (data / "train" / "red" / "red0.png").is_file() and (data / "test" / "blue" / "blue1.png").is_file()
    assert not (data / "colours.zip").exists(), "the archive is deleted once unpacked"
    assert sorted(p.name for p in data.iterdir()) == [".biobench-data.json", "test", "train"]
    record = json.loads((data / ".biobench-data.json").read_text())["files"]["colours.zip"]
    assert record["sha256"] == fetchy["sha"] and record["unpacked"]

    n_requests = len(fetchy["server"].requests)
    again = fetchy["run"]("data", "fetch", "colours", "--to", str(data), "--quiet")
    assert again.returncode == 0 and "already unpacked" in again.stderr
    assert len(fetchy["server"].requests) == n_requests, "nothing is downloaded twice"

    check = fetchy["run"]("data", "check", "fetchy/colours", str(data))
    assert check.returncode == 0 and check.stdout == proc.stdout

    kept = fetchy["tmp"] / "kept"
    proc = fetchy["run"]("data", "fetch", "fetchy/colours", "--to", str(kept), "--quiet", "--keep-archives")
    assert proc.returncode == 0 and (kept / "colours.zip").is_file()


def test_wrong_sha256_is_one_line_and_leaves_nothing(fetchy):
    data = fetchy["tmp"] / "data"
    proc = fetchy["run"]("data", "fetch", "fetchy/badsum", "--to", str(data), "--quiet")
    assert proc.returncode == 1
    url = f"http://127.0.0.1:{fetchy['server'].server_address[1]}/colours.zip"
    assert [line for line in proc.stderr.splitlines() if "error" in line] == [
        f"biobench data: error: colours.zip: sha256 mismatch: expected {'0' * 64}, got {fetchy['sha']} "
        f"(from {url}); the download was deleted and nothing was unpacked"]
    assert list(data.iterdir()) == [], "no archive, no .part, no half-unpacked folder"


@pytest.mark.parametrize("honour_range", [True, False], ids=["resumes", "server-ignores-range"])
def test_interrupted_download_resumes(fetchy, honour_range):
    server, data = fetchy["server"], fetchy["tmp"] / "data"
    server.drop_after["/flaky.tar.gz"] = 1000
    size = len(server.files["/flaky.tar.gz"])
    first = fetchy["run"]("data", "fetch", "fetchy/flaky", "--to", str(data), "--quiet")
    assert first.returncode == 1
    assert f"colours.tar.gz: download interrupted after 1000 of {size} bytes" in first.stderr
    assert "run the same command again to resume" in first.stderr
    assert (data / "colours.tar.gz.part").stat().st_size == 1000

    server.honour_range = honour_range
    second = fetchy["run"]("data", "fetch", "fetchy/flaky", "--to", str(data), "--quiet")
    assert second.returncode == 0, second.stderr
    assert server.requests == [("/flaky.tar.gz", None), ("/flaky.tar.gz", "bytes=1000-")]
    assert ("resuming at byte 1000" in second.stderr) == honour_range
    assert ("ignored the resume request" in second.stderr) != honour_range
    assert "no published checksum (sha256 of this copy: " in second.stderr
    assert second.stdout.startswith("fetchy/flaky: ok: 9 train, 6 test examples, 3 classes")
    assert not list(data.glob("*.part*")) and not (data / "colours.tar.gz").exists()


def test_check_names_the_first_missing_file(fetchy, make_image_folder):
    listed = fetchy["tmp"] / "listed"
    listed.mkdir()
    (listed / "list.txt").write_text("a.png b.png c.png d.png")
    for name in ("a.png", "d.png"):
        (listed / name).write_bytes(b"x")
    proc = fetchy["run"]("data", "check", "fetchy/listed", str(listed))
    assert proc.returncode == 1
    assert proc.stderr == (f"biobench data: error: fetchy/listed: missing file {listed / 'b.png'} (train example "
                           f"b.png); 2 files missing or empty in all\n")

    # the task's own error (here image-folder's labels.csv row) comes through as its one line
    folder = make_image_folder(fetchy["tmp"] / "csv", n_train=1, n_test=1)
    (folder / "labels.csv").write_text("path,label,split\ntrain/red/red0.png,red,train\ntrain/red/gone.png,red,test\n")
    proc = fetchy["run"]("data", "check", "fetchy/colours", str(folder))
    assert proc.returncode == 1
    assert proc.stderr.strip() == (f"biobench data: error: {folder / 'labels.csv'} row 2: file not found: "
                                   f"{folder / 'train/red/gone.png'}")

    proc = fetchy["run"]("data", "check", "fetchy/colours", str(fetchy["tmp"] / "nowhere"))
    assert proc.returncode == 1 and "get it with: biobench data fetch fetchy/colours --to" in proc.stderr


def test_list_shows_source_size_and_license(fetchy):
    proc = fetchy["run"]("data", "list")
    assert proc.returncode == 0
    rows = {line.split()[0]: line for line in proc.stdout.splitlines()[2:]}
    assert re.search(r"local test server\s+30 kB\s+CC-BY-4\.0\s+yes$", rows["fetchy/colours"])
    assert rows["fetchy/listed"].split()[-1] == "no"
    listed = json.loads(fetchy["run"]("data", "list", "--json", "fetchy/col*").stdout)
    assert listed == [{"id": "fetchy/colours", "needs_data": True, "data_source": "local test server",
                       "data_size": "30 kB", "license": "CC-BY-4.0", "data_recipe": "fetchy_pkg.recipes:COLOURS"}]


def test_manual_steps_are_printed_with_exit_2(fetchy, make_image_folder):
    data = fetchy["tmp"] / "gated"
    proc = fetchy["run"]("data", "fetch", "gated", "--to", str(data))
    assert proc.returncode == 2
    assert proc.stdout.splitlines() == [
        "fetchy/gated: this data needs steps biobench cannot take for you:",
        "  1. Log in at https://example.org/colours", "  2. Accept the licence",
        "  3. Unzip colours.zip into the folder", f"then check the folder: biobench data check fetchy/gated {data}"]
    assert fetchy["server"].requests == [] and not data.exists()

    done = make_image_folder(data, n_train=1, n_test=1)  # the steps done: the folder checks out
    proc = fetchy["run"]("data", "fetch", "gated", "--to", str(done))
    assert proc.returncode == 0 and proc.stdout.startswith("fetchy/gated: ok: 3 train, 3 test examples")


def test_recipe_contract_refuses_bad_downloads():
    with pytest.raises(ValueError, match="http"):
        Download("ftp://example.org/x.zip", "x.zip")
    with pytest.raises(ValueError, match="into"):
        Download("https://example.org/x.zip", "x.zip", into="../up")
    with pytest.raises(ValueError, match="archive"):
        Download("https://example.org/x.csv", "x.csv", unpack=True)
    with pytest.raises(ValueError, match="64 hex"):
        Download("https://example.org/x.csv", "x.csv", sha256="abc")
    with pytest.raises(ValueError, match="two downloads"):
        DataRecipe(downloads=(Download("https://a.org/x.csv", "x.csv"), Download("https://b.org/x.csv", "x.csv")))
    assert Download("https://a.org/x.csv", "x.csv", into="meta").relpath == "meta/x.csv"


def test_data_list_and_help_stay_torch_free(capsys):
    code = ("import sys; from biobench_core.cli._main import main; main(['data', 'list']); "
            "bad = [m for m in ('torch', 'pooch', 'requests', 'PIL') if m in sys.modules]; "
            "assert not bad, bad")
    subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, timeout=120)
    from biobench_core.cli._main import COMMANDS, build_parser

    with pytest.raises(SystemExit):
        build_parser(COMMANDS).parse_args(["data", "fetch", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "--to DIR" in text and "resumes" in text and "exit 2" in text


def test_a_task_that_takes_no_data_refuses_a_data_folder(tmp_path, in_process):
    """Issue 18: `--data animal-silhouettes=/nonexistent` was ignored, and `data check` on a missing folder said ok."""
    missing = tmp_path / "nonexistent"
    proc = in_process("run", "--backbone", "timm/resnet10t", "--weights", "random", "--task", "animal-silhouettes",
                      "--data", f"animal-silhouettes={missing}", "--results", str(tmp_path / "results"))
    assert proc.returncode != 0, proc.stderr
    [line] = proc.stderr.strip().splitlines()[-1:]
    assert "tasks/animal-silhouettes" in line and "takes no data folder" in line, proc.stderr
    assert not (tmp_path / "results" / "biobench.sqlite").exists()
    proc = in_process("data", "check", "animal-silhouettes", str(missing))
    assert proc.returncode != 0 and str(missing) in proc.stderr and "does not exist" in proc.stderr, proc.stderr
