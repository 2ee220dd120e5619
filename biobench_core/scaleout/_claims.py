"""Claims and failures: which process runs which experiment, so that no two run the same one.

Before it runs an experiment a process *claims* its key in the results store, in one ``BEGIN IMMEDIATE``
transaction that also checks that the experiment is not finished and has not failed too often; two launchers, or
two workers of one launcher, can therefore never run the same experiment at once. A claim records its owner (host,
pid, Slurm job) and a heartbeat that a thread of the owner refreshes (:class:`Heartbeat`). A claim expires when its
heartbeat is older than its ``stale_after`` seconds, or at once when its owner ran on this host and its process is
gone (``kill -9``, a crash). A claim is dropped when the experiment is saved (in the same transaction), when it
fails, and when its process is stopped (SIGTERM, SIGINT: Slurm preemption, ``scancel``, Ctrl-C).

A failed experiment is recorded with its attempt count, one-line error, traceback, host and job; a worker retries
it until ``max_attempts`` attempts failed. A successful save drops the failure record.
"""

from __future__ import annotations

import dataclasses
import os
import socket
import sqlite3
import threading
import time
import uuid
from collections.abc import Callable, Iterable
from typing import Any

from biobench_core.results._store import BUSY_TIMEOUT_S, ExperimentKey, ResultsStore, _sqlite_error

__all__ = ["Claimant", "ClaimRow", "FailureRow", "Heartbeat", "try_claim", "release", "record_failure", "claims",
           "failures", "is_live", "DEFAULT_STALE_AFTER_S"]

DEFAULT_STALE_AFTER_S = 60.0
_WHERE = "backbone=? AND weights=? AND task=? AND settings=? AND data=?"


def _key(key: ExperimentKey) -> tuple[str, str, str, str, str]:
    return key.backbone, key.weights, key.task, key.settings, key.data or ""


def _job_id() -> str:
    """This process's Slurm job (``123_4`` for an array task), or ``""`` outside Slurm."""
    array, task = os.environ.get("SLURM_ARRAY_JOB_ID"), os.environ.get("SLURM_ARRAY_TASK_ID")
    if array and task:
        return f"{array}_{task}"
    return os.environ.get("SLURM_JOB_ID", "")


@dataclasses.dataclass(frozen=True)
class Claimant:
    """Who claims: this process, with the heartbeat age after which its claims expire."""

    host: str
    pid: int
    job: str
    token: str
    stale_after: float = DEFAULT_STALE_AFTER_S

    @classmethod
    def here(cls, stale_after: float = DEFAULT_STALE_AFTER_S) -> Claimant:
        return cls(socket.gethostname(), os.getpid(), _job_id(), uuid.uuid4().hex[:8], float(stale_after))

    @property
    def owner(self) -> str:
        return f"{self.host}:{self.pid}:{self.token}"


@dataclasses.dataclass(frozen=True)
class ClaimRow:
    key: ExperimentKey
    owner: str
    host: str
    pid: int
    job: str
    started: float
    heartbeat: float
    stale_after: float

    def holder(self) -> str:
        """``host pid 123 (Slurm job 45_1)``: who holds the claim, for messages."""
        return f"{self.host} pid {self.pid}" + (f" (Slurm job {self.job})" if self.job else "")


@dataclasses.dataclass(frozen=True)
class FailureRow:
    key: ExperimentKey
    attempts: int
    error: str
    traceback: str
    host: str
    job: str
    posix_time: float


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a child that exited but was not reaped yet is a zombie: dead for our purpose
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[-1].split()[0] != "Z"
    except (OSError, IndexError):
        return True


def is_live(row: ClaimRow, now: float | None = None, host: str | None = None) -> bool:
    """Whether a claim still holds: a recent heartbeat, and (on this host) a running process."""
    now = time.time() if now is None else now
    if now - row.heartbeat > row.stale_after:
        return False
    if row.host == (host or socket.gethostname()) and not _pid_alive(row.pid):
        return False
    return True


def _claim_row(row: tuple[Any, ...]) -> ClaimRow:
    key = ExperimentKey(*row[:5])
    return ClaimRow(key, *row[5:])


def claims(store: ResultsStore) -> list[ClaimRow]:
    """Every claim in the store, live or expired (see :func:`is_live`)."""
    if not store.has_table("claims"):
        return []
    rows = store.db.execute("SELECT backbone, weights, task, settings, data, owner, host, pid, job, started, "
                            "heartbeat, stale_after FROM claims ORDER BY started").fetchall()
    return [_claim_row(r) for r in rows]


def failures(store: ResultsStore) -> list[FailureRow]:
    """Every failure record: an experiment whose last attempt failed."""
    if not store.has_table("failures"):
        return []
    rows = store.db.execute("SELECT backbone, weights, task, settings, data, attempts, error, traceback, host, job, "
                            "posix_time FROM failures ORDER BY posix_time").fetchall()
    return [FailureRow(ExperimentKey(*r[:5]), *r[5:]) for r in rows]


@dataclasses.dataclass(frozen=True)
class Outcome:
    """What :func:`try_claim` found: ``claimed``, ``done``, ``busy`` (``holder`` has it) or ``failed``."""

    status: str
    holder: ClaimRow | None = None
    attempts: int = 0


#: Whether the stored experiment (its identity and posix time) counts as done for this run.
DoneCheck = Callable[[dict[str, Any], float], bool]


def try_claim(store: ResultsStore, key: ExperimentKey, claimant: Claimant, *, is_done: DoneCheck,
              max_attempts: int | None = None) -> Outcome:
    """Claim ``key`` for ``claimant`` unless it is done, held by a live claim, or failed ``max_attempts`` times.

    One ``BEGIN IMMEDIATE`` transaction: of any number of processes claiming the same key at once, one gets it.
    """
    with store.transaction():
        return _claim(store, key, claimant, is_done, max_attempts)


def _claim(store: ResultsStore, key: ExperimentKey, claimant: Claimant, is_done: DoneCheck,
           max_attempts: int | None) -> Outcome:
    stored = store.stored_state(key)
    if stored is not None and is_done(*stored):
        return Outcome("done")
    row = store.db.execute("SELECT attempts FROM failures WHERE " + _WHERE, _key(key)).fetchone()
    attempts = int(row[0]) if row else 0
    if max_attempts is not None and attempts >= max_attempts:
        return Outcome("failed", attempts=attempts)
    row = store.db.execute("SELECT backbone, weights, task, settings, data, owner, host, pid, job, started, heartbeat,"
                           " stale_after FROM claims WHERE " + _WHERE, _key(key)).fetchone()
    now = time.time()
    if row is not None:
        held = _claim_row(row)
        if held.owner != claimant.owner and is_live(held, now, claimant.host):
            return Outcome("busy", held, attempts)
    store.db.execute("INSERT OR REPLACE INTO claims (backbone, weights, task, settings, data, owner, host, pid, job,"
                     " started, heartbeat, stale_after) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
                     (*_key(key), claimant.owner, claimant.host, claimant.pid, claimant.job, now, now,
                      claimant.stale_after))
    return Outcome("claimed", attempts=attempts)


def release(store: ResultsStore, key: ExperimentKey, claimant: Claimant) -> None:
    """Drop ``claimant``'s claim on ``key`` (nothing if it holds none)."""
    try:
        store.db.execute("DELETE FROM claims WHERE " + _WHERE + " AND owner=?", (*_key(key), claimant.owner))
    except sqlite3.Error as exc:
        raise _sqlite_error(store.path, exc) from exc


def record_failure(store: ResultsStore, key: ExperimentKey, claimant: Claimant, error: str, traceback: str,
                   *, attempts: int = 1) -> int:
    """Count ``attempts`` more failed attempts of ``key``, keep the last error, and release the claim; the total."""
    with store.transaction():
        store.db.execute(
            "INSERT INTO failures (backbone, weights, task, settings, data, attempts, error, traceback, host, job,"
            " posix_time) VALUES (?,?,?,?,?,?,?,?,?,?,?) ON CONFLICT (backbone, weights, task, settings, data) DO "
            "UPDATE SET attempts = attempts + excluded.attempts, error = excluded.error, traceback = "
            "excluded.traceback, host = excluded.host, job = excluded.job, posix_time = excluded.posix_time",
            (*_key(key), attempts, error, traceback, claimant.host, claimant.job, time.time()))
        store.db.execute("DELETE FROM claims WHERE " + _WHERE + " AND owner=?", (*_key(key), claimant.owner))
        total = store.db.execute("SELECT attempts FROM failures WHERE " + _WHERE, _key(key)).fetchone()[0]
    return int(total)


def release_all(store: ResultsStore, claimant: Claimant, keys: Iterable[ExperimentKey] | None = None) -> None:
    """Drop every claim of ``claimant`` (or only those on ``keys``)."""
    try:
        if keys is None:
            store.db.execute("DELETE FROM claims WHERE owner=?", (claimant.owner,))
        else:
            store.db.executemany("DELETE FROM claims WHERE " + _WHERE + " AND owner=?",
                                 [(*_key(k), claimant.owner) for k in keys])
    except sqlite3.Error as exc:
        raise _sqlite_error(store.path, exc) from exc


class Heartbeat:
    """A thread that refreshes every claim of ``claimant`` in the store at ``results_dir``, on its own connection.

    It beats every quarter of ``stale_after``, so a claim expires only when its process stopped beating.
    """

    def __init__(self, store: ResultsStore, claimant: Claimant) -> None:
        self.path, self.claimant = store.path, claimant
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="biobench-heartbeat", daemon=True)

    def __enter__(self) -> Heartbeat:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def _run(self) -> None:
        interval = max(0.2, self.claimant.stale_after / 4)
        db = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_S, isolation_level=None, check_same_thread=False)
        try:
            while not self._stop.wait(interval):
                try:
                    db.execute("UPDATE claims SET heartbeat=? WHERE owner=?", (time.time(), self.claimant.owner))
                except sqlite3.Error:  # a busy store: the next beat tries again, well within stale_after
                    continue
        finally:
            db.close()
