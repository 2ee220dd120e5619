"""Where ``biobench report --out`` may write, and writing it so that nothing is lost.

``--out`` replaces a file only when biobench wrote that file as a report and it is unchanged since (a ledger of the
reports written, by path and content hash, in biobench's state folder), or when ``--force`` is given. It never
replaces a SQLite database (a results store, or another program's) or a file in the feature cache, with or without
``--force``. The file is written to a temporary file beside it and renamed into place, so an interrupted write
leaves the old file whole.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path

from biobench_core.cli._common import UsageError

__all__ = ["check_out", "write_out", "OutputError", "ledger_path"]

SQLITE_MAGIC = b"SQLite format 3\x00"
STATE_ENV = "BIOBENCH_STATE"


def ledger_path() -> Path:
    """The ledger of written reports: ``$BIOBENCH_STATE/reports.json``, else in the user state folder."""
    root = os.environ.get(STATE_ENV)
    if not root:
        import platformdirs

        root = platformdirs.user_state_dir("biobench")
    return Path(root) / "reports.json"


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _ledger() -> dict[str, str]:
    try:
        data = json.loads(ledger_path().read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _written_by_us(out: Path) -> bool:
    recorded = _ledger().get(str(out.resolve()))
    return recorded is not None and recorded == _digest(out)


def check_out(out: Path, suffix: str, force: bool) -> None:
    """Refuse an ``--out`` that cannot become a file, or whose file must not be replaced; see the module doc."""
    if out.is_dir():
        raise UsageError(f"--out {out} is a folder; give a file name, e.g. {out / ('report' + suffix)}")
    for folder in out.parents:
        if folder.exists():
            if not folder.is_dir():
                raise UsageError(f"--out {out}: {folder} is a file, not a folder")
            break
    if not out.exists():
        return
    with open(out, "rb") as handle:
        if handle.read(len(SQLITE_MAGIC)) == SQLITE_MAGIC:
            raise UsageError(f"--out {out} is a SQLite database (a results store?); biobench never replaces one, "
                             "even with --force: choose another file")
    from biobench_core.engine._feature_cache import default_cache_dir

    cache = default_cache_dir().resolve()
    if out.resolve().is_relative_to(cache):
        raise UsageError(f"--out {out} is in the feature cache {cache}; biobench never writes a report there")
    if not force and not _written_by_us(out):
        raise UsageError(f"--out {out} exists and is not a report biobench wrote (or it changed since): "
                         "pass --force to replace it")


class OutputError(Exception):
    """A file a command was asked to write cannot be written: one line naming the flag, the file and why (exit 1)."""


def write_out(out: Path, output: str | bytes, what: str | None = None) -> None:
    """Write ``output`` to ``out`` atomically (a temporary file beside it, then a rename) and note it in the ledger.

    A write the system refuses is an :class:`OutputError` naming ``what`` (the flag and the file as given, e.g.
    ``--plots figures/rank.png``; default ``--out OUT``), with nothing left behind."""
    data = output if isinstance(output, bytes) else output.encode()
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent)
    except OSError as exc:
        raise OutputError(f"cannot write {what or f'--out {out}'}: {exc.strerror or exc}") from exc
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(data)
        os.replace(temporary, out)
    except BaseException as exc:
        Path(temporary).unlink(missing_ok=True)
        if isinstance(exc, OSError):
            raise OutputError(f"cannot write {what or f'--out {out}'}: {exc.strerror or exc}") from exc
        raise
    _remember(out, hashlib.sha256(data).hexdigest())


def _remember(out: Path, digest: str) -> None:
    """Record ``out`` as a report biobench wrote; a ledger that cannot be written only costs a later ``--force``."""
    ledger = _ledger()
    ledger[str(out.resolve())] = digest
    path = ledger_path()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(prefix=".reports.", suffix=".tmp", dir=path.parent)
        with os.fdopen(handle, "w") as stream:
            json.dump(ledger, stream, indent=0, sort_keys=True)
        os.replace(temporary, path)
    except OSError:
        pass
