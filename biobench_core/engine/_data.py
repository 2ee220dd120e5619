"""Getting a task's data: ``biobench data list``, ``biobench data check`` and ``biobench data fetch``.

A :class:`~biobench_core.contract._specs.TaskSpec` says where its data comes from (``data_source``, ``license``,
``data_size``) and may name a :class:`DataRecipe` as ``data_recipe="module:attr"``: the files to download, with
the checksums their source publishes, which of them to unpack, and the steps a person has to take when the
source needs a login or a licence click. A recipe is imported only here, never when plugins are discovered::

    # biobench_mytasks/beetles.py
    from biobench_core.engine._data import DataRecipe, Download

    RECIPE = DataRecipe(downloads=(
        Download("https://example.org/beetles-v2.tar.gz", "beetles-v2.tar.gz",
                 sha256="9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08", unpack=True),
    ))

    # the spec, in the plugin's biobench_tasks hook
    TaskSpec(id="mytasks/beetles", factory="biobench_mytasks.beetles:Beetles", license="CC-BY-4.0",
             data_source="https://example.org/beetles", data_size="1.2 GB",
             data_recipe="biobench_mytasks.beetles:RECIPE")

``fetch`` downloads each file into the target folder resumably (an interrupted transfer leaves
``<file>.part``; running the command again continues it with an HTTP Range request), verifies its sha256 (or
says that the source publishes none), unpacks archives (then deletes them unless ``--keep-archives``) and
finally runs the same check as ``check``: the task is built over the folder, every example's file must exist, the
examples must pass :func:`~biobench_core.contract._example_checks.check_examples` and the train split must hold
more than one class (:func:`check_classes`); ``biobench run`` also makes the last two checks before any
extraction.

This module is torch-free; pooch, requests and tqdm (the ``data`` extra) are imported only to download.
"""

from __future__ import annotations

import dataclasses
import importlib
import json
import os
import re
import shutil
import sys
from collections.abc import Callable, Sequence
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from biobench_core.contract._errors import one_line
from biobench_core.contract._specs import TaskSpec

if TYPE_CHECKING:
    from biobench_core.contract._tasks import Example, Task

__all__ = ["Download", "DataRecipe", "DataError", "ManualStepsNeeded", "DataCheck", "ResumableDownloader",
           "ARCHIVE_SUFFIXES", "MANIFEST", "load_recipe", "check_classes", "check_data", "download_file",
           "fetch_data", "list_main", "check_main", "fetch_main"]

#: What ``Download(unpack=True)`` can unpack (:func:`shutil.unpack_archive` formats).
ARCHIVE_SUFFIXES = (".zip", ".tar", ".tar.gz", ".tgz", ".tar.bz2", ".tbz2", ".tar.xz", ".txz")
#: Written into the target folder by ``fetch``: which downloads were verified and unpacked there.
MANIFEST = ".biobench-data.json"
_SHA256_RE = re.compile(r"^[0-9a-fA-F]{64}$")
_CHUNK = 1 << 20


class DataError(Exception):
    """A task's data cannot be fetched or is incomplete; the message is one line naming the file."""


class ManualStepsNeeded(DataError):
    """The recipe's source needs a person (a login, a licence to accept): :attr:`steps` say what to do."""

    def __init__(self, task_id: str, folder: Path, steps: str):
        super().__init__(f"{task_id}: its data needs manual steps (see 'biobench data fetch {task_id} --to DIR')")
        self.task_id, self.folder, self.steps = task_id, folder, steps


# -- the recipe contract -----------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Download:
    """One file of a recipe, saved as ``<target>/<into>/<filename>``."""

    url: str
    filename: str  # the name it is saved under in the target folder (or in `into`)
    sha256: str | None = None  # when the source publishes a checksum (None: size/ETag only, said in the output)
    unpack: bool = False  # .zip/.tar/.tar.gz/.tgz are unpacked into the folder after verification
    into: str = "."  # subfolder of the target folder (relative, no ..)

    def __post_init__(self) -> None:
        parts = urlsplit(self.url) if isinstance(self.url, str) else None
        if parts is None or parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError(f"Download url must be an http:// or https:// URL, got {self.url!r}")
        name = self.filename
        if (not isinstance(name, str) or not name or name in (".", "..") or "/" in name or "\\" in name
                or name.endswith(".part")):
            raise ValueError(f"Download filename must be a plain file name (no folders, not *.part), got {name!r}")
        if self.sha256 is not None:
            if not isinstance(self.sha256, str) or not _SHA256_RE.match(self.sha256):
                raise ValueError(f"{name}: sha256 must be 64 hex digits, got {self.sha256!r}")
            object.__setattr__(self, "sha256", self.sha256.lower())
        if self.unpack and not name.lower().endswith(ARCHIVE_SUFFIXES):
            raise ValueError(f"{name}: unpack=True needs an archive name ending in {', '.join(ARCHIVE_SUFFIXES)}")
        into = PurePosixPath(self.into) if isinstance(self.into, str) and "\\" not in self.into else None
        if into is None or into.is_absolute() or ".." in into.parts:
            raise ValueError(f"{name}: into must be a relative folder without '..', got {self.into!r}")

    @property
    def relpath(self) -> str:
        """Where it goes, relative to the target folder: ``"images/train.zip"`` (``"train.zip"`` for ``into="."``)."""
        return (PurePosixPath(self.into) / self.filename).as_posix()


@dataclasses.dataclass(frozen=True)
class DataRecipe:
    """How to get a task's data: files to download, and/or the steps a person must take."""

    downloads: tuple[Download, ...] = ()
    manual_steps: str | None = None  # when the source needs a login or licence click: the exact steps, printed
    #                                   instead of failing
    notes: str = ""

    def __post_init__(self) -> None:
        if isinstance(self.downloads, list):
            object.__setattr__(self, "downloads", tuple(self.downloads))
        if not isinstance(self.downloads, tuple) or not all(isinstance(d, Download) for d in self.downloads):
            raise ValueError("DataRecipe.downloads must be a tuple of Download")
        seen: set[str] = set()
        for d in self.downloads:
            if d.relpath in seen:
                raise ValueError(f"DataRecipe: two downloads are saved as {d.relpath}")
            seen.add(d.relpath)
        if self.manual_steps is not None and (not isinstance(self.manual_steps, str) or not self.manual_steps.strip()):
            raise ValueError("DataRecipe.manual_steps must be a non-empty string (or None)")
        if not self.downloads and self.manual_steps is None:
            raise ValueError("a DataRecipe needs downloads, manual_steps or both")


def load_recipe(spec: TaskSpec) -> DataRecipe | None:
    """Import ``spec.data_recipe`` (a :class:`DataRecipe`, or a callable returning one); ``None`` when unset."""
    if spec.data_recipe is None:
        return None
    module_name, _, attr = spec.data_recipe.partition(":")
    try:
        target: Any = importlib.import_module(module_name)
        for part in attr.split("."):
            target = getattr(target, part)
        if callable(target) and not isinstance(target, DataRecipe):
            target = target()
    except Exception as exc:  # noqa: BLE001 - whatever the plugin's module raises, one line naming the recipe
        raise DataError(f"{spec.id}: cannot load data recipe {spec.data_recipe!r}: {type(exc).__name__}: "
                        f"{exc}") from exc
    if not isinstance(target, DataRecipe):
        raise DataError(f"{spec.id}: data recipe {spec.data_recipe!r} is a {type(target).__name__}, "
                        f"not a biobench_core.engine._data.DataRecipe")
    return target


# -- check -----------------------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class DataCheck:
    """What :func:`check_data` found: the task builds over ``folder`` and every example's file is there."""

    task_id: str
    folder: Path
    n_train: int
    n_test: int
    n_classes: int

    def summary(self) -> str:
        return (f"{self.task_id}: ok: {self.n_train} train, {self.n_test} test examples, {self.n_classes} classes "
                f"in {self.folder}")


def _file_problem(source: str, folder: Path) -> str | None:
    """``None`` when ``source`` exists (relative paths also tried under ``folder``), else what is wrong."""
    path = Path(source)
    for candidate in (path,) if path.is_absolute() else (path, folder / path):
        try:
            st = candidate.stat()
        except OSError:
            continue
        return "empty file" if st.st_size == 0 and not candidate.is_dir() else None
    return "missing file"


def check_data(task_id: str, folder: str | Path) -> DataCheck:
    """Build ``task_id`` over ``folder`` and check that both splits' example files exist and that the train split
    has more than one class.

    Raises the task's own :class:`~biobench_core.contract._tasks.TaskDataError` (which names the file, row or column) or
    a :class:`DataError` naming the first missing or empty file, or the one class of the train split.
    """
    from biobench_core.contract._catalog import load_task, resolve_task
    from biobench_core.contract._example_checks import check_examples
    from biobench_core.contract._tasks import SPLITS

    spec = resolve_task(task_id)
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise DataError(f"{spec.id}: {folder} is a file, not a folder: give the folder that holds the task's data "
                        f"(this file's folder is {folder.absolute().parent})")
    if not folder.is_dir():
        hint = f"; get it with: biobench data fetch {spec.id} --to {folder}" if spec.data_recipe else ""
        raise DataError(f"{spec.id}: data folder {folder} does not exist{hint}")
    task = load_task(spec.id, folder if spec.needs_data else None, {})  # a task without a folder checks its own
    counts: dict[str, int] = {}
    labels: set[int] = set()
    first: str | None = None
    n_bad = 0
    for split in SPLITS:
        examples = list(task.examples(split))
        counts[split] = len(examples)
        for ex in examples:
            labels.add(ex.label)
            if ex.source is None:
                continue
            problem = _file_problem(ex.source, folder)
            if problem is not None:
                n_bad += 1
                if first is None:
                    first = f"{problem} {ex.source} ({split} example {ex.id})"
    if first is not None:
        more = f"; {n_bad} files missing or empty in all" if n_bad > 1 else ""
        raise DataError(f"{spec.id}: {first}{more}")
    for split in SPLITS:
        if not counts[split]:
            raise DataError(f"{spec.id}: no {split} examples in {folder}")
    check_examples(task)  # what a run refuses before any work: duplicate or shared ids, bad or unseen labels
    check_classes(task)
    names = task.class_names
    return DataCheck(spec.id, folder, counts["train"], counts["test"], len(names) if names else len(labels))


def check_classes(task: Task, train: Sequence[Example] | None = None) -> None:
    """Refuse training examples (``train``, by default the task's train split) that are all of one class: no
    classifier can be fit to them, and a run would find out only after extracting every image's features.

    Only a task scored by the core's probe (the default :meth:`Task.evaluate`) is checked: a task that evaluates
    in its own way (re-identification, per-trait or per-sub-task probes) decides for itself what its labels mean.
    """
    from biobench_core.contract._tasks import Task

    if type(task).evaluate is not Task.evaluate:
        return
    train = task.examples("train") if train is None else train
    labels = {example.label for example in train}
    if len(labels) != 1:
        return
    [label] = labels
    names = task.class_names
    shown = repr(names[label]) if names and 0 <= label < len(names) else f"label {label}"
    where = f" in {task.data}" if task.data is not None else ""
    n_train = task.settings.get("n_train")  # when the split has more classes, n_train chose too few examples
    if n_train and len({example.label for example in task.examples("train")}) > 1:
        chosen, fix = f" (n_train={n_train})", "raise n_train"
    else:
        chosen, fix = "", "add images of another class"
    raise DataError(f"{task.spec.id}: the train split{where}{chosen} has only one class ({shown}, {len(train)} "
                    f"example{'s' * (len(train) != 1)}); a classifier needs at least 2: {fix}")


# -- download --------------------------------------------------------------------------------------------------


def _say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _size(n: int | None) -> str:
    if n is None:
        return "unknown size"
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if n < 1000 or unit == "TB":
            return f"{n} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000  # type: ignore[assignment]
    return str(n)


def _imports() -> tuple[Any, Any, Any]:
    try:
        import pooch
        import requests
        import tqdm
    except ImportError as exc:
        raise DataError(f"biobench data fetch needs pooch, requests and tqdm ({exc.name} is missing): "
                        f"pip install 'biobench-core[data]'") from None
    return pooch, requests, tqdm


class ResumableDownloader:
    """A pooch downloader (``downloader(url, output_file, pooch)``) that resumes ``<target>.part`` files.

    Bytes go to ``<target>.part`` (with ``<target>.part.json`` keeping the URL, ETag and size); when it already
    holds some, an HTTP ``Range: bytes=N-`` request continues it (``If-Range`` guards against a changed file).
    A server that answers 200 instead of 206 ignored the range: the part is discarded and the transfer starts
    over. A finished file's sha256 is compared with ``sha256`` (when given) before it is handed to pooch; a
    mismatch deletes the part and raises :class:`DataError` naming the file and both hashes.
    """

    def __init__(self, target: Path, *, sha256: str | None = None, label: str | None = None, progress: bool = True,
                 echo: Callable[[str], None] = _say, timeout: float = 60.0):
        self.target = Path(target)
        self.part = self.target.with_name(self.target.name + ".part")
        self.meta = self.target.with_name(self.target.name + ".part.json")
        self.expected = sha256.lower() if sha256 else None
        self.label = label or self.target.name
        self.progress = progress
        self.echo = echo
        self.timeout = timeout
        self.called = False
        self.resumed_from = 0
        self.sha256: str | None = None  # of the finished download
        self.size: int | None = None

    def _discard(self) -> None:
        for path in (self.part, self.meta):
            path.unlink(missing_ok=True)

    def _read_meta(self) -> dict[str, Any]:
        try:
            return json.loads(self.meta.read_text())
        except (OSError, ValueError):
            return {}

    def __call__(self, url: str, output_file: str | Path, pooch: Any = None, check_only: bool = False) -> Any:
        _, requests, tqdm = _imports()
        import urllib3

        if check_only:
            with requests.head(url, allow_redirects=True, timeout=self.timeout) as resp:
                return resp.ok
        self.called = True
        offset = self.part.stat().st_size if self.part.is_file() else 0
        meta = self._read_meta() if offset else {}
        if offset and meta.get("url") not in (None, url):
            self.echo(f"  {self.label}: the partial download came from another URL; starting over")
            self._discard()
            offset, meta = 0, {}
        headers = {"Accept-Encoding": "identity"}
        if offset:
            headers["Range"] = f"bytes={offset}-"
            etag = meta.get("etag")
            validator = etag if etag and not etag.startswith("W/") else meta.get("last_modified")
            if validator:
                headers["If-Range"] = validator
        total: int | None = meta.get("total")
        try:
            with requests.get(url, headers=headers, stream=True, timeout=(30, self.timeout)) as resp:
                if offset and resp.status_code == 416:  # nothing after byte N: the part may be complete
                    whole = re.match(r"bytes \*/(\d+)", resp.headers.get("Content-Range", ""))
                    if whole and int(whole.group(1)) == offset:
                        return self._finish(url, output_file, offset)
                    self.echo(f"  {self.label}: the server refused to resume; starting over")
                    self._discard()
                    return self(url, output_file, pooch)
                resp.raise_for_status()
                mode = "wb"
                if offset and resp.status_code == 206:
                    span = re.match(r"bytes (\d+)-\d+/(\d+|\*)", resp.headers.get("Content-Range", ""))
                    if not span or int(span.group(1)) != offset:
                        self.echo(f"  {self.label}: the server answered another range; starting over")
                        self._discard()
                        return self(url, output_file, pooch)
                    total = int(span.group(2)) if span.group(2) != "*" else None
                    mode = "ab"
                    self.resumed_from = offset
                    self.echo(f"  {self.label}: resuming at byte {offset}")
                else:
                    if offset:
                        self.echo(f"  {self.label}: the server ignored the resume request (status "
                                  f"{resp.status_code}); starting over")
                    offset = 0
                    length = resp.headers.get("Content-Length")
                    total = int(length) if length and length.isdigit() else None
                    self.meta.write_text(json.dumps({"url": url, "etag": resp.headers.get("ETag"),
                                                     "last_modified": resp.headers.get("Last-Modified"),
                                                     "total": total}))
                with open(self.part, mode) as out, tqdm.tqdm(
                        total=total, initial=offset, unit="B", unit_scale=True, unit_divisor=1024,
                        desc=f"  {self.label}", disable=not self.progress, file=sys.stderr, leave=False) as bar:
                    for chunk in resp.raw.stream(_CHUNK, decode_content=False):
                        out.write(chunk)
                        bar.update(len(chunk))
        except (requests.RequestException, urllib3.exceptions.HTTPError, ConnectionError, TimeoutError) as exc:
            have = self.part.stat().st_size if self.part.is_file() else 0
            status = getattr(getattr(exc, "response", None), "status_code", None)
            if status is not None:
                raise DataError(f"{self.label}: cannot download {url}: HTTP {status} "
                                f"{exc.response.reason or ''}".rstrip()) from None
            of = f" of {total}" if total else ""
            reason = one_line(exc) if str(exc) else type(exc).__name__
            if not have:
                raise DataError(f"{self.label}: cannot download {url}: {type(exc).__name__}: {reason}") from None
            raise DataError(f"{self.label}: download interrupted after {have}{of} bytes ({reason}); "
                            f"run the same command again to resume") from None
        have = self.part.stat().st_size
        if total is not None and have < total:
            raise DataError(f"{self.label}: download interrupted after {have} of {total} bytes; "
                            f"run the same command again to resume")
        if total is not None and have > total:
            self._discard()
            raise DataError(f"{self.label}: received {have} bytes but the server announced {total}; "
                            f"the download was deleted, run the command again")
        return self._finish(url, output_file, have)

    def _finish(self, url: str, output_file: str | Path, size: int) -> None:
        pooch, _, _ = _imports()
        got = pooch.file_hash(str(self.part), alg="sha256")
        if self.expected is not None and got != self.expected:
            self._discard()
            raise DataError(f"{self.label}: sha256 mismatch: expected {self.expected}, got {got} (from {url}); "
                            f"the download was deleted and nothing was unpacked")
        self.sha256, self.size = got, size
        os.replace(self.part, output_file)
        self.meta.unlink(missing_ok=True)


def download_file(download: Download, folder: str | Path, *, progress: bool = True,
                  echo: Callable[[str], None] = _say) -> tuple[Path, str]:
    """Fetch ``download`` into ``folder/into/filename`` (resuming a ``.part``) and verify it.

    A file already there whose sha256 matches (or, with no published checksum, that exists) is kept. Returns
    the file's path and its sha256.
    """
    pooch, requests, _ = _imports()
    import logging

    target = Path(folder) / download.into / download.filename
    target.parent.mkdir(parents=True, exist_ok=True)
    downloader = ResumableDownloader(target, sha256=download.sha256, label=download.relpath, progress=progress,
                                     echo=echo)
    known = f"sha256:{download.sha256}" if download.sha256 else None
    logger = pooch.get_logger()
    level = logger.level
    logger.setLevel(logging.WARNING)  # pooch's own "Downloading ..." lines; ours say more
    echo(f"  {download.relpath}: {download.url}")
    try:
        pooch.retrieve(download.url, known_hash=known, fname=download.filename, path=target.parent,
                       downloader=downloader)
    except (ValueError, requests.RequestException) as exc:  # pooch's own checks (ours raise DataError)
        raise DataError(f"{download.relpath}: {one_line(exc)}") from None
    finally:
        logger.setLevel(level)
    if downloader.called:
        sha = downloader.sha256 or pooch.file_hash(str(target))
        state = f"downloaded {_size(downloader.size)}"
    else:
        sha = download.sha256 or pooch.file_hash(str(target))
        state = "already there"
    check = "sha256 verified" if download.sha256 else f"no published checksum (sha256 of this copy: {sha})"
    echo(f"  {download.relpath}: {state}, {check}")
    return target, sha


# -- unpack ----------------------------------------------------------------------------------------------------


def _unpack_archive(archive: Path, dest: Path) -> None:
    try:
        shutil.unpack_archive(str(archive), str(dest), filter="data")  # refuses ../ and absolute members, links out
    except TypeError:  # Python < 3.10.12 / 3.11.4: no extraction filters; refuse escaping members ourselves
        import tarfile

        if tarfile.is_tarfile(archive):
            with tarfile.open(archive) as tar:
                for member in tar.getmembers():
                    name = PurePosixPath(member.name)
                    if name.is_absolute() or ".." in name.parts or member.issym() or member.islnk():
                        raise ValueError(f"member {member.name} would land outside the folder") from None
        shutil.unpack_archive(str(archive), str(dest))


def _merge(src: Path, dst: Path) -> None:
    """Move everything in ``src`` into ``dst``; folders merge, files replace."""
    for entry in list(src.iterdir()):
        there = dst / entry.name
        if entry.is_dir() and not entry.is_symlink() and there.is_dir() and not there.is_symlink():
            _merge(entry, there)
            entry.rmdir()
            continue
        if there.is_dir() and not there.is_symlink():
            shutil.rmtree(there)
        elif there.exists() or there.is_symlink():
            there.unlink()
        os.replace(entry, there)


def _unpack(archive: Path, dest: Path) -> int:
    """Unpack ``archive`` into ``dest`` through a hidden staging folder, so a failure leaves nothing half done."""
    staging = dest / f".{archive.name}.unpacking"
    shutil.rmtree(staging, ignore_errors=True)
    try:
        _unpack_archive(archive, staging)
    except Exception as exc:  # noqa: BLE001 - a corrupt archive: shutil.ReadError, tarfile/zipfile errors, ...
        shutil.rmtree(staging, ignore_errors=True)
        raise DataError(f"{archive}: cannot unpack: {type(exc).__name__}: {exc}") from None
    n_files = sum(len(files) for _, _, files in os.walk(staging))
    _merge(staging, dest)
    shutil.rmtree(staging, ignore_errors=True)
    return n_files


# -- fetch -----------------------------------------------------------------------------------------------------


def _read_manifest(folder: Path) -> dict[str, Any]:
    try:
        data = json.loads((folder / MANIFEST).read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _write_manifest(folder: Path, data: dict[str, Any]) -> None:
    tmp = folder / (MANIFEST + ".tmp")
    tmp.write_text(json.dumps(data, indent=1, sort_keys=True) + "\n")
    os.replace(tmp, folder / MANIFEST)


def fetch_data(task_id: str, folder: str | Path, *, keep_archives: bool = False, force: bool = False,
               progress: bool = True, echo: Callable[[str], None] = _say) -> DataCheck:
    """Download, verify and unpack ``task_id``'s recipe into ``folder``, then :func:`check_data` it.

    Archives are deleted once unpacked (``keep_archives`` keeps them); ``folder/.biobench-data.json`` records
    what was unpacked so that running again skips it (``force`` fetches everything again). A recipe with
    ``manual_steps`` gets its public downloads, and then :class:`ManualStepsNeeded` unless the folder already
    checks out (the steps were done).
    """
    from biobench_core.contract._catalog import resolve_task
    from biobench_core.contract._tasks import TaskDataError

    spec = resolve_task(task_id)
    recipe = load_recipe(spec)
    if recipe is None:
        where = f"; its data: {spec.data_source}" if spec.data_source else ""
        raise DataError(f"{spec.id}: has no download recipe{where}")
    folder = Path(folder)
    skipped = False
    if recipe.downloads:
        if folder.exists() and not folder.is_dir():
            raise DataError(f"{folder}: not a folder")
        folder.mkdir(parents=True, exist_ok=True)
        echo(f"{spec.id}: fetching {len(recipe.downloads)} file(s) into {folder}")
        manifest = {} if force else _read_manifest(folder)
        records: dict[str, Any] = manifest.get("files", {}) if isinstance(manifest.get("files"), dict) else {}
        for download in recipe.downloads:
            record = records.get(download.relpath) or {}
            if (download.unpack and record.get("unpacked") and record.get("url") == download.url
                    and (download.sha256 is None or record.get("sha256") == download.sha256)):
                echo(f"  {download.relpath}: already unpacked here (see {MANIFEST}; --force fetches it again)")
                skipped = True
                continue
            path, sha = download_file(download, folder, progress=progress, echo=echo)
            record = {"url": download.url, "sha256": sha, "published_sha256": download.sha256 is not None}
            if download.unpack:
                dest = path.parent
                n_files = _unpack(path, dest)
                echo(f"  {download.relpath}: unpacked {n_files} files into {dest}")
                record["unpacked"] = True
                if not keep_archives:
                    path.unlink()
            records[download.relpath] = record
            _write_manifest(folder, {"task": spec.id, "files": records})
    try:
        return check_data(spec.id, folder)
    except (DataError, TaskDataError) as exc:
        if recipe.manual_steps is not None:
            raise ManualStepsNeeded(spec.id, folder, recipe.manual_steps) from exc
        if skipped:
            raise DataError(f"{exc}; some archives were skipped as already unpacked: --force fetches them "
                            f"again") from exc
        raise


# -- the command line (biobench_core.cli._main parses the arguments) -----------------------------------------------------


def list_main(patterns: Sequence[str] = (), as_json: bool = False) -> int:
    """``biobench data list``: each task's data source, size, license and whether ``fetch`` can get it."""
    from biobench_core.contract._catalog import list_tasks
    from biobench_core.contract._registry import get_registry
    from biobench_core.engine._textable import format_table

    specs = list_tasks(list(patterns))
    for collision in get_registry().collisions:
        print(f"warning: {collision.message}", file=sys.stderr)
    if patterns and not specs:
        print(f"no task matches {' '.join(patterns)}", file=sys.stderr)
        return 1
    if as_json:
        print(json.dumps([{"id": s.id, "needs_data": s.needs_data, "data_source": s.data_source,
                           "data_size": s.data_size, "license": s.license, "data_recipe": s.data_recipe}
                          for s in specs], indent=1))
        return 0
    rows = [[s.id, s.data_source or "", s.data_size or "", s.license or "",
             "bundled" if not s.needs_data else "yes" if s.data_recipe else "no"] for s in specs]
    print(format_table(["id", "source", "size", "license", "fetch"], rows), end="")
    print(f"\n{len(rows)} task(s); fetch: 'yes' = biobench data fetch TASK --to DIR, 'bundled' = needs no "
          f"--data", file=sys.stderr)
    return 0


def check_main(task_id: str, folder: str) -> int:
    """``biobench data check TASK DIR``: exit 0 with a one-line summary, or raise (exit 1, one line)."""
    print(check_data(task_id, folder).summary())
    return 0


def fetch_main(task_id: str, folder: str, *, keep_archives: bool = False, force: bool = False,
               progress: bool = True) -> int:
    """``biobench data fetch TASK --to DIR``: 0 when the data checks out, 2 when a person must act first."""
    from biobench_core.contract._catalog import resolve_task

    spec = resolve_task(task_id)
    if not spec.needs_data and spec.data_recipe is None:
        print(f"{spec.id}: needs no data folder (its data: {spec.data_source or 'comes with its plugin'})")
        return 0
    try:
        result = fetch_data(spec.id, folder, keep_archives=keep_archives, force=force, progress=progress)
    except ManualStepsNeeded as exc:
        print(f"{exc.task_id}: this data needs steps biobench cannot take for you:")
        for line in exc.steps.strip("\n").splitlines():
            print(f"  {line}")
        print(f"then check the folder: biobench data check {exc.task_id} {exc.folder}")
        return 2
    print(result.summary())
    return 0
