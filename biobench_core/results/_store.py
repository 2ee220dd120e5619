"""The results store: SQLite (WAL) at ``<results>/biobench.sqlite``.

One ``experiments`` row per (backbone, weights, task, settings, data) with its provenance and cost, one
``predictions`` row per scored example. An experiment and its predictions are written in one transaction, so
an interrupted run (Ctrl-C or ``kill -9``) leaves either the whole experiment or nothing, and the next run does
only what is missing.

A result knows what it came from: ``weights`` holds the weights' content identity for a local file, ``data`` a
hash of the train and test manifests (example ids, labels, each file's size and mtime), and ``settings`` every
setting that changes the result. A rerun on changed data, weights or settings is a different experiment. The key
(:class:`~biobench_core.engine._identity.ExperimentKey`) and the code a result depends on (``identity["code"]``,
which decides when a stored result is redone) are computed by :mod:`biobench_core.engine._identity`; a row stored
under an older identity format still reads and is listed, and is redone (replaced) by the next run that asks for it.

Schema versions: 1 (biobench 0.1: no data identity; its results open with a note and are never mixed with new
ones), 2 (data identity, metric, column settings) and 3 (this one: ``in_benchmark_mean``, false for a task marked as
prior work) and 4 (this one: ``claims`` and ``failures``, the coordination of workers, see
:mod:`biobench_core.scaleout._claims`). Opening an older store for writing upgrades it in place; reading never writes (a missing
column or table reads as its default or as empty), and a store from a newer biobench is refused.

Many processes may write one store at once (each write is one ``BEGIN IMMEDIATE`` transaction, WAL journal). On a
network file system SQLite's locking is unsafe: :func:`network_filesystem` finds one, opening it for writing warns,
and ``wal=False`` (the per-job files of ``[executor] store = "files"``) keeps a single writer's file off WAL.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import sqlite3
import time
import warnings
from collections.abc import Callable, Collection, Iterator
from pathlib import Path
from typing import Any

from biobench_core.engine._identity import ExperimentKey

from biobench_core.contract._tasks import Prediction, as_predictions

__all__ = ["ResultsStore", "ExperimentKey", "ExperimentRecord", "DB_NAME", "StoreError", "SCHEMA_VERSION",
           "network_filesystem"]

DB_NAME = "biobench.sqlite"
SCHEMA_VERSION = 4
BUSY_TIMEOUT_S = 120

_EXPERIMENT_COLUMNS = """
    id INTEGER PRIMARY KEY,
    backbone TEXT NOT NULL,
    weights TEXT NOT NULL,
    task TEXT NOT NULL,
    settings TEXT NOT NULL,
    data TEXT,
    comparable INTEGER NOT NULL,
    score REAL NOT NULL,
    n_examples INTEGER NOT NULL,
    n_skipped INTEGER NOT NULL,
    splits TEXT NOT NULL,
    probe TEXT NOT NULL,
    argv TEXT NOT NULL,
    git_commit TEXT NOT NULL,
    versions TEXT NOT NULL,
    hostname TEXT NOT NULL,
    device TEXT NOT NULL,
    dtype TEXT NOT NULL,
    posix_time REAL NOT NULL,
    images_per_second REAL,
    extract_seconds REAL,
    fit_seconds REAL,
    peak_memory_mb REAL,
    feature_cache TEXT,
    metric TEXT NOT NULL DEFAULT 'accuracy',
    column_settings TEXT NOT NULL DEFAULT '{}',
    train_manifest TEXT,
    test_manifest TEXT,
    weights_id TEXT,
    identity TEXT NOT NULL DEFAULT '{}',
    in_benchmark_mean INTEGER NOT NULL DEFAULT 1,
    UNIQUE (backbone, weights, task, settings, data)
"""

_SCHEMA = f"""
CREATE TABLE IF NOT EXISTS experiments ({_EXPERIMENT_COLUMNS});
CREATE TABLE IF NOT EXISTS predictions (
    experiment_id INTEGER NOT NULL REFERENCES experiments(id) ON DELETE CASCADE,
    example_id TEXT NOT NULL,
    score REAL NOT NULL,
    info TEXT NOT NULL,
    PRIMARY KEY (experiment_id, example_id)
);
CREATE TABLE IF NOT EXISTS claims (
    backbone TEXT NOT NULL, weights TEXT NOT NULL, task TEXT NOT NULL, settings TEXT NOT NULL, data TEXT NOT NULL,
    owner TEXT NOT NULL,
    host TEXT NOT NULL,
    pid INTEGER NOT NULL,
    job TEXT NOT NULL,
    started REAL NOT NULL,
    heartbeat REAL NOT NULL,
    stale_after REAL NOT NULL,
    PRIMARY KEY (backbone, weights, task, settings, data)
);
CREATE TABLE IF NOT EXISTS failures (
    backbone TEXT NOT NULL, weights TEXT NOT NULL, task TEXT NOT NULL, settings TEXT NOT NULL, data TEXT NOT NULL,
    attempts INTEGER NOT NULL,
    error TEXT NOT NULL,
    traceback TEXT NOT NULL,
    host TEXT NOT NULL,
    job TEXT NOT NULL,
    posix_time REAL NOT NULL,
    PRIMARY KEY (backbone, weights, task, settings, data)
);
"""

#: File systems on which SQLite's locking cannot be trusted across hosts (``/proc/mounts`` types).
NETWORK_FILESYSTEMS = ("nfs", "nfs4", "cifs", "smb3", "smbfs", "lustre", "gpfs", "beegfs", "fuse.sshfs", "ceph",
                       "fuse.ceph", "glusterfs", "fuse.glusterfs", "9p", "afs", "panfs", "fuse.juicefs")


def network_filesystem(path: str | Path, mounts: str | None = None) -> str | None:
    """The type of the network file system holding ``path`` (``"nfs4"``), or ``None`` for a local one.

    ``mounts`` is the text of ``/proc/mounts`` (read when not given; no such file means "not known to be network").
    """
    if mounts is None:
        try:
            mounts = Path("/proc/mounts").read_text()
        except OSError:
            return None
    target = os.path.realpath(path)
    best, kind = "", None
    for line in mounts.splitlines():
        fields = line.split()
        if len(fields) < 3:
            continue
        point = fields[1].replace("\\040", " ")
        inside = target == point or target.startswith(point.rstrip("/") + "/")
        if inside and len(point) >= len(best):
            best, kind = point, fields[2]
    return kind if kind in NETWORK_FILESYSTEMS else None

_V1_COLUMNS = ("id, backbone, weights, task, settings, comparable, score, n_examples, n_skipped, splits, probe, argv,"
               " git_commit, versions, hostname, device, dtype, posix_time, images_per_second, extract_seconds,"
               " fit_seconds, peak_memory_mb, feature_cache")


class StoreError(RuntimeError):
    """The results store cannot be used; the message names the file and says what to do."""


class MissingStoreError(FileNotFoundError):
    """No results store where one is read: a usage error (exit 2); nothing is created."""

    exit_code = 2


@dataclasses.dataclass
class ExperimentRecord:
    """A finished experiment as stored; ``examples`` are :class:`~biobench_core.Prediction` ``(id, score, info)``.

    ``info`` holds ``label`` and ``pred`` (``y_true`` and ``y_pred``; ``pred`` is -1 for a test example the
    backbone could not score, which counts as wrong). ``score`` is the task's ``metric`` over them.
    """

    key: ExperimentKey
    comparable: bool
    score: float
    examples: list[Prediction]
    splits: dict[str, float]
    n_skipped: int = 0
    probe: dict[str, Any] = dataclasses.field(default_factory=dict)
    argv: list[str] = dataclasses.field(default_factory=list)
    git_commit: str = "unknown"
    versions: dict[str, str] = dataclasses.field(default_factory=dict)
    hostname: str = "unknown"
    device: str = "cpu"
    dtype: str = "fp32"
    posix_time: float = 0.0
    images_per_second: float | None = None
    extract_seconds: float | None = None
    fit_seconds: float | None = None
    peak_memory_mb: float | None = None
    feature_cache: str | None = None
    metric: str = "accuracy"
    column_settings: dict[str, str] = dataclasses.field(default_factory=dict)
    train_manifest: str | None = None
    test_manifest: str | None = None
    weights_id: str | None = None
    identity: dict[str, Any] = dataclasses.field(default_factory=dict)
    in_benchmark_mean: bool = True  # False for a task marked as prior work (TaskSpec.prior_work)


def _sqlite_error(path: Path, exc: sqlite3.Error) -> StoreError:
    text = str(exc)
    if "locked" in text or "busy" in text:
        advice = "another process held it too long; rerun (finished results are kept)"
    elif "not a database" in text or "malformed" in text:
        advice = "the file is damaged or not a biobench store: move it aside and rerun, or point --results elsewhere"
    elif "unable to open" in text or "readonly" in text or "read-only" in text:
        advice = "check that the folder exists and is writable, or pass --results DIR"
    elif "disk I/O" in text or "full" in text:
        advice = "check the disk (free space, permissions, a network file system without locking)"
    else:
        advice = "see BIOBENCH_DEBUG=1 for details"
    return StoreError(f"results store {path}: {text}; {advice}")


def _why_read_only(folder: Path) -> str:
    """Why ``folder`` cannot be written: "read-only (a read-only file system)" or "read-only (no write
    permission)"."""
    try:
        mounted_ro = bool(os.statvfs(folder).f_flag & os.ST_RDONLY)
    except OSError:
        mounted_ro = False
    return f"read-only ({'a read-only file system' if mounted_ro else 'no write permission'})"


_V2_DEFAULTS = {"data": None, "metric": "accuracy", "column_settings": "{}", "train_manifest": None,
                "test_manifest": None, "weights_id": None, "identity": "{}", "in_benchmark_mean": 1}


def _with_defaults(row: sqlite3.Row) -> dict[str, Any]:
    """A row as a dict; an older store (read without upgrading) lacks the newer columns."""
    return {**_V2_DEFAULTS, **dict(zip(row.keys(), row))}


class ResultsStore:
    """Read and write experiments under a results folder.

    ``readonly=True`` (what ``report``, ``status``, ``plan``, ``prune`` without ``--yes`` and ``merge``'s per-job
    sources use) opens the file without writing anything: no journal-mode switch, no table creation, no upgrade,
    and, in a folder that cannot be written, no ``-shm`` beside it (see :meth:`_read_only_uri`), so it works on a
    read-only disk. Opening for writing a store whose folder or file cannot be written is refused in one line
    naming it.
    """

    def __init__(self, results_dir: str | Path, *, readonly: bool = False, wal: bool = True) -> None:
        self.dir = Path(results_dir)
        self.path = self.dir / DB_NAME
        self.readonly = readonly
        self.wal = wal
        if self.dir.exists() and not self.dir.is_dir():
            raise StoreError(f"results folder {self.dir} is a file, not a folder: pass --results DIR")
        if readonly and not self.path.exists():
            raise MissingStoreError(f"no results at {self.path}: run 'biobench run' first or pass --results DIR")
        try:
            if readonly:
                self.db = sqlite3.connect(self._read_only_uri(), uri=True, timeout=BUSY_TIMEOUT_S,
                                          isolation_level=None)
                self._refuse_foreign(reading=True)
                self._check_version(self._user_version())
            else:
                try:
                    self.dir.mkdir(parents=True, exist_ok=True)
                except OSError as exc:
                    raise StoreError(f"cannot create results folder {self.dir}: {exc.strerror or exc}; "
                                     "pass --results DIR") from exc
                self._refuse_read_only()
                self.db = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_S, isolation_level=None)
                self._refuse_foreign(reading=False)
                self._open_for_writing()
                self._warn_if_network()
            problem = self.integrity_problem()
        except sqlite3.Error as exc:
            raise _sqlite_error(self.path, exc) from exc
        if problem is not None:
            self.db.close()
            raise StoreError(f"results store {self.path} fails SQLite's integrity check ({problem}): move it aside "
                             "and rerun; its results cannot be trusted")

    # -- opening ------------------------------------------------------------------------------------------------

    def _read_only_uri(self) -> str:
        """The URI that reads the store without writing anything, even beside it.

        In a writable folder, ``mode=ro``. In a read-only one (a read-only mount, an archive, another user's folder)
        SQLite cannot create the ``-shm`` index a WAL store is read through, so the file is opened
        ``immutable=1``, which reads the database file alone. That is the whole store once its writers closed it
        (the last connection to close folds the ``-wal`` journal into the file and deletes it); a ``-wal`` left by
        a writer that was killed still holds results, so it is read through its ``-shm`` with ``mode=ro`` when
        that is there, and otherwise refused, naming it, rather than read without it.
        """
        uri = f"{self.path.resolve().as_uri()}?mode=ro"
        if os.access(self.dir, os.W_OK):
            return uri
        journal = self.path.with_name(DB_NAME + "-wal")
        if not (journal.exists() and journal.stat().st_size > 0):
            return uri + "&immutable=1"
        if self.path.with_name(DB_NAME + "-shm").exists():
            return uri
        raise StoreError(f"results store {self.path} has results in its journal {journal}, left by a writer that "
                         f"stopped without closing, and the folder is {_why_read_only(self.dir)}: open it once "
                         "where it can be written (e.g. 'biobench status --results' on a copy) to fold them in")

    def _refuse_read_only(self) -> None:
        """Refuse, in one line naming the folder, a store that cannot be written (before SQLite's "unable to
        open database file")."""
        readers = "report, status, plan and prune without --yes read it as it is"
        if not os.access(self.dir, os.W_OK):
            raise StoreError(f"results folder {self.dir} is {_why_read_only(self.dir)}: writing results needs a "
                             f"writable one; pass --results DIR ({readers})")
        if self.path.exists() and not os.access(self.path, os.W_OK):
            raise StoreError(f"results store {self.path} is read-only (no write permission): writing results needs "
                             f"a writable one; pass --results DIR ({readers})")

    def _refuse_foreign(self, *, reading: bool) -> None:
        """Refuse a SQLite file that is not a biobench store (another program's tables, and no ``experiments``), and,
        when reading, an empty one, naming the file; nothing is written to it."""
        tables = sorted(r[0] for r in self.db.execute("SELECT name FROM sqlite_master WHERE type='table'"))
        if "experiments" in tables:
            return
        if tables:
            self.db.close()
            raise StoreError(f"{self.path} is not a biobench results store: it is another program's SQLite database "
                             f"(tables: {', '.join(tables[:5])}{', ...' if len(tables) > 5 else ''}); pass --results "
                             "a folder of its own")
        if reading:
            self.db.close()
            size = self.path.stat().st_size
            what = "is empty (0 bytes)" if size == 0 else "holds no biobench tables"
            raise StoreError(f"{self.path} {what}: not a biobench results store yet; run 'biobench run' first")

    def _user_version(self) -> int:
        return int(self.db.execute("PRAGMA user_version").fetchone()[0])

    def _check_version(self, version: int) -> None:
        if version > SCHEMA_VERSION:
            from biobench_core._version import __version__

            raise StoreError(f"results store {self.path} has schema version {version}, written by a newer biobench; "
                             f"this biobench {__version__} reads versions up to {SCHEMA_VERSION}: upgrade biobench")

    def _open_for_writing(self) -> None:
        """WAL, tables and upgrades, safe when several processes open a new store at once."""
        self.db.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_S * 1000}")
        deadline = time.monotonic() + BUSY_TIMEOUT_S
        while True:  # switching a fresh file to WAL takes an exclusive lock that busy_timeout does not wait for
            try:  # a file system without WAL support keeps its journal mode; SQLite still works
                self.db.execute(f"PRAGMA journal_mode={'WAL' if self.wal else 'DELETE'}")
                break
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) or time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        self.db.execute("PRAGMA synchronous=NORMAL")
        self.db.execute("PRAGMA foreign_keys=OFF")  # an upgrade drops the old table: no cascade (ON after it)
        self.db.execute("BEGIN IMMEDIATE")
        try:
            version = self._user_version()
            self._check_version(version)
            tables = {r[0] for r in self.db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
            if "experiments" in tables and version < 2:
                self._upgrade_from_v1()
            elif "experiments" in tables and version == 2:
                self.db.execute("ALTER TABLE experiments ADD COLUMN in_benchmark_mean INTEGER NOT NULL DEFAULT 1")
            for statement in _SCHEMA.split(";"):  # every table not there yet (version 3 gains claims, failures)
                if statement.strip():
                    self.db.execute(statement)
            if version != SCHEMA_VERSION:
                self.db.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
            self.db.execute("COMMIT")
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        self.db.execute("PRAGMA foreign_keys=ON")

    def _upgrade_from_v1(self) -> None:
        """Version 1 keyed results on (backbone, weights, task, settings) without data: rebuild the table.

        SQLite's recipe: create the new table, copy, drop the old one, rename (foreign keys are off, so the
        predictions stay and keep pointing at ``experiments`` by name).
        """
        self.db.execute(f"CREATE TABLE experiments_v2 ({_EXPERIMENT_COLUMNS})")
        self.db.execute(f"INSERT INTO experiments_v2 ({_V1_COLUMNS}) SELECT {_V1_COLUMNS} FROM experiments")
        self.db.execute("DROP TABLE experiments")
        self.db.execute("ALTER TABLE experiments_v2 RENAME TO experiments")
        if self.db.execute("PRAGMA foreign_key_check").fetchone() is not None:
            raise StoreError(f"results store {self.path}: upgrade from version 1 left predictions without their "
                             "experiment; nothing was changed")

    _warned: set[str] = set()

    def _warn_if_network(self) -> None:
        kind = network_filesystem(self.dir)
        if kind and self.wal and str(self.dir) not in ResultsStore._warned:
            ResultsStore._warned.add(str(self.dir))
            warnings.warn(f"results folder {self.dir} is on a network file system ({kind}), where SQLite's locking "
                          "is unsafe for writers on several hosts: use a local folder, or [executor] store = "
                          '"files" (per-job result files merged by the launcher; see docs/scaleout.md)', stacklevel=3)

    def has_table(self, name: str) -> bool:
        """Whether the store has table ``name`` (a store read without upgrading may lack the newer ones)."""
        return self.db.execute("SELECT 1 FROM sqlite_master WHERE type='table' AND name=?", (name,)).fetchone() \
            is not None

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> ResultsStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- reading and writing ----------------------------------------------------------------------------------

    def integrity_problem(self) -> str | None:
        """``None`` when SQLite's quick integrity check passes, else what it found (first line)."""
        try:
            rows = self.db.execute("PRAGMA quick_check").fetchall()
        except sqlite3.DatabaseError as exc:
            return str(exc)
        found = [r[0] for r in rows if r[0] != "ok"]
        return found[0] if found else None

    def has(self, key: ExperimentKey) -> bool:
        try:
            row = self.db.execute(
                "SELECT 1 FROM experiments WHERE backbone=? AND weights=? AND task=? AND settings=? AND data IS ?",
                dataclasses.astuple(key),
            ).fetchone()
        except sqlite3.Error as exc:
            raise _sqlite_error(self.path, exc) from exc
        return row is not None

    def stored_identity(self, key: ExperimentKey) -> dict[str, Any] | None:
        """The identity recorded with the experiment of ``key`` (``{}`` for an older one); ``None`` if absent."""
        try:
            row = self.db.execute(
                "SELECT identity FROM experiments WHERE backbone=? AND weights=? AND task=? AND settings=? "
                "AND data IS ?", dataclasses.astuple(key)).fetchone()
        except sqlite3.Error as exc:
            raise _sqlite_error(self.path, exc) from exc
        if row is None:
            return None
        try:
            return json.loads(row[0]) if row[0] else {}
        except json.JSONDecodeError:
            return {}

    def stored_state(self, key: ExperimentKey) -> tuple[dict[str, Any], float] | None:
        """The identity and the time of the experiment of ``key``; ``None`` if absent (call inside a transaction)."""
        row = self.db.execute("SELECT identity, posix_time FROM experiments WHERE backbone=? AND weights=? AND task=?"
                              " AND settings=? AND data IS ?", dataclasses.astuple(key)).fetchone()
        if row is None:
            return None
        try:
            identity = json.loads(row[0]) if row[0] else {}
        except json.JSONDecodeError:
            identity = {}
        return identity, float(row[1])

    def save(self, record: ExperimentRecord, *, release: str | None = None) -> int:
        """Insert ``record`` (replacing an earlier one with the same key) in a single transaction.

        The same transaction drops the key's failure record and, with ``release`` (a claim's owner), its claim.
        """
        if self.readonly:
            raise StoreError(f"results store {self.path} was opened read-only")
        k = record.key
        with self.transaction():
            self.db.execute(
                "DELETE FROM experiments WHERE backbone=? AND weights=? AND task=? AND settings=? AND data IS ?",
                dataclasses.astuple(k))
            cur = self.db.execute(
                "INSERT INTO experiments (backbone, weights, task, settings, data, comparable, score, n_examples,"
                " n_skipped, splits, probe, argv, git_commit, versions, hostname, device, dtype, posix_time,"
                " images_per_second, extract_seconds, fit_seconds, peak_memory_mb, feature_cache, metric,"
                " column_settings, train_manifest, test_manifest, weights_id, identity, in_benchmark_mean)"
                " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                (k.backbone, k.weights, k.task, k.settings, k.data, int(record.comparable), record.score,
                 len(record.examples), record.n_skipped, json.dumps(record.splits), json.dumps(record.probe),
                 json.dumps(record.argv), record.git_commit, json.dumps(record.versions), record.hostname,
                 record.device, record.dtype, record.posix_time, record.images_per_second, record.extract_seconds,
                 record.fit_seconds, record.peak_memory_mb, record.feature_cache, record.metric,
                 json.dumps(record.column_settings, sort_keys=True), record.train_manifest, record.test_manifest,
                 record.weights_id, json.dumps(record.identity, sort_keys=True), int(record.in_benchmark_mean)),
            )
            experiment_id = int(cur.lastrowid)
            self.db.executemany(
                "INSERT INTO predictions (experiment_id, example_id, score, info) VALUES (?,?,?,?)",
                ((experiment_id, p.id, float(p.score), json.dumps(p.info))
                 for p in as_predictions(record.examples, "ExperimentRecord.examples")),
            )
            where = "backbone=? AND weights=? AND task=? AND settings=? AND data=?"
            self.db.execute(f"DELETE FROM failures WHERE {where}", dataclasses.astuple(k))
            if release is not None:
                self.db.execute(f"DELETE FROM claims WHERE {where} AND owner=?", (*dataclasses.astuple(k), release))
        return experiment_id

    @contextlib.contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One write transaction (``BEGIN IMMEDIATE``: other writers wait for it), committed at the end or rolled
        back on any error; an SQLite error becomes a :class:`StoreError` naming the store."""
        try:
            self.db.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as exc:
            raise _sqlite_error(self.path, exc) from exc
        try:
            yield self.db
            self.db.execute("COMMIT")
        except BaseException as exc:
            if self.db.in_transaction:
                self.db.execute("ROLLBACK")
            if isinstance(exc, sqlite3.Error):
                raise _sqlite_error(self.path, exc) from exc
            raise

    def delete(self, select: Callable[[list[ExperimentRecord]], list[ExperimentRecord]]) -> list[ExperimentRecord]:
        """Delete the experiments ``select`` picks from every stored one, with their predictions, in one transaction,
        and return them. The store is read inside the transaction, so no other writer changes it between what
        ``select`` saw and what is deleted (``biobench prune``)."""
        if self.readonly:
            raise StoreError(f"results store {self.path} was opened read-only")
        where = "backbone=? AND weights=? AND task=? AND settings=? AND data IS ?"
        with self.transaction():
            chosen = select(list(self.experiments(include_not_comparable=True)))
            for record in chosen:
                key = dataclasses.astuple(record.key)
                self.db.execute(f"DELETE FROM predictions WHERE experiment_id IN (SELECT id FROM experiments WHERE "
                                f"{where})", key)
                self.db.execute(f"DELETE FROM experiments WHERE {where}", key)
        return chosen

    def count(self) -> int:
        """How many experiments are stored."""
        return self.db.execute("SELECT COUNT(*) FROM experiments").fetchone()[0]

    def costs(self, backbone: str) -> list[tuple[float | None, float | None]]:
        """``(images per second, probe fit seconds)`` of every stored experiment of ``backbone``."""
        return [tuple(row) for row in self.db.execute(
            "SELECT images_per_second, fit_seconds FROM experiments WHERE backbone=?", (backbone,)).fetchall()]

    def backbones_by_task(self, *, include_not_comparable: bool = False) -> dict[str, list[str]]:
        """Each stored task's backbones, without reading any prediction (what a name is matched against)."""
        query = "SELECT DISTINCT task, backbone FROM experiments" + ("" if include_not_comparable
                                                                     else " WHERE comparable=1")
        found: dict[str, list[str]] = {}
        for task, backbone in self.db.execute(query + " ORDER BY task, backbone").fetchall():
            found.setdefault(task, []).append(backbone)
        return found

    def prediction_columns(self, key: ExperimentKey) -> tuple[list[Any], ...]:
        """The stored predictions of the experiment of ``key`` as columns, in the order stored: example ids, scores,
        and the ``label``, ``pred`` and ``pred_name`` of each info (``None`` where absent), read by SQLite's
        ``json_extract`` without parsing each info in Python, so a 100,000-example result reads in a fraction of a
        second (``biobench report examples``). Empty columns when the experiment is absent."""
        try:
            rows = self.db.execute(
                "SELECT example_id, score, json_extract(info, '$.label'), json_extract(info, '$.pred'), "
                "json_extract(info, '$.pred_name') FROM predictions WHERE experiment_id=(SELECT id FROM experiments "
                "WHERE backbone=? AND weights=? AND task=? AND settings=? AND data IS ?) ORDER BY rowid",
                dataclasses.astuple(key)).fetchall()
        except sqlite3.Error as exc:
            raise _sqlite_error(self.path, exc) from exc
        return tuple(list(column) for column in zip(*rows)) if rows else ([], [], [], [], [])

    def experiments(self, *, include_not_comparable: bool = False, task: str | None = None,
                    backbones: Collection[str] | None = None, predictions: bool = True) -> Iterator[ExperimentRecord]:
        """Every stored experiment with its predictions, oldest first; with ``task`` and ``backbones``, only those of
        that task and of those backbones, and with ``predictions=False`` none of their predictions (``examples``
        empty; :meth:`predictions` reads them for one): ``biobench report examples`` reads two rows of a large
        store."""
        where, values = ([] if include_not_comparable else ["comparable=1"]), []
        if task is not None:
            where.append("task=?")
            values.append(task)
        if backbones is not None:
            where.append(f"backbone IN ({','.join('?' * len(backbones))})")
            values.extend(backbones)
        query = "SELECT * FROM experiments" + (" WHERE " + " AND ".join(where) if where else "")
        self.db.row_factory = sqlite3.Row
        try:
            rows = self.db.execute(query + " ORDER BY id", values).fetchall()
            for row in rows:
                row = _with_defaults(row)
                preds = self.db.execute(
                    "SELECT example_id, score, info FROM predictions WHERE experiment_id=? ORDER BY rowid",
                    (row["id"],),
                ).fetchall() if predictions else []
                yield ExperimentRecord(
                    key=ExperimentKey(row["backbone"], row["weights"], row["task"], row["settings"], row["data"]),
                    comparable=bool(row["comparable"]),
                    score=row["score"],
                    examples=[Prediction(p["example_id"], p["score"], json.loads(p["info"])) for p in preds],
                    splits=json.loads(row["splits"]),
                    n_skipped=row["n_skipped"],
                    probe=json.loads(row["probe"]),
                    argv=json.loads(row["argv"]),
                    git_commit=row["git_commit"],
                    versions=json.loads(row["versions"]),
                    hostname=row["hostname"],
                    device=row["device"],
                    dtype=row["dtype"],
                    posix_time=row["posix_time"],
                    images_per_second=row["images_per_second"],
                    extract_seconds=row["extract_seconds"],
                    fit_seconds=row["fit_seconds"],
                    peak_memory_mb=row["peak_memory_mb"],
                    feature_cache=row["feature_cache"],
                    metric=row["metric"],
                    column_settings=json.loads(row["column_settings"]),
                    train_manifest=row["train_manifest"],
                    test_manifest=row["test_manifest"],
                    weights_id=row["weights_id"],
                    identity=json.loads(row["identity"]),
                    in_benchmark_mean=bool(row["in_benchmark_mean"]),
                )
        except sqlite3.Error as exc:
            raise _sqlite_error(self.path, exc) from exc
        finally:
            self.db.row_factory = None
