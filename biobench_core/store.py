"""The results store: SQLite (WAL) at ``<results>/biobench.sqlite``.

One ``experiments`` row per (backbone, weights, task, settings) with its provenance and cost, one
``predictions`` row per scored example. An experiment and its predictions are written in one transaction, so
an interrupted run (Ctrl-C or ``kill -9``) leaves either the whole experiment or nothing, and the next run does
only what is missing.
"""

from __future__ import annotations

import dataclasses
import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

__all__ = ["ResultsStore", "ExperimentKey", "ExperimentRecord", "DB_NAME"]

DB_NAME = "biobench.sqlite"
SCHEMA_VERSION = 1

_SCHEMA = """
CREATE TABLE IF NOT EXISTS experiments (
    id INTEGER PRIMARY KEY,
    backbone TEXT NOT NULL,
    weights TEXT NOT NULL,
    task TEXT NOT NULL,
    settings TEXT NOT NULL,
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
    UNIQUE (backbone, weights, task, settings)
);
CREATE TABLE IF NOT EXISTS predictions (
    experiment_id INTEGER NOT NULL REFERENCES experiments(id) ON DELETE CASCADE,
    example_id TEXT NOT NULL,
    score REAL NOT NULL,
    info TEXT NOT NULL,
    PRIMARY KEY (experiment_id, example_id)
);
"""


@dataclasses.dataclass(frozen=True)
class ExperimentKey:
    """What makes two experiments the same: re-running one is skipped unless forced."""

    backbone: str
    weights: str
    task: str
    settings: str


@dataclasses.dataclass
class ExperimentRecord:
    """A finished experiment as stored; ``examples`` are ``(example_id, score, info)``."""

    key: ExperimentKey
    comparable: bool
    score: float
    examples: list[tuple[str, float, dict[str, Any]]]
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


class ResultsStore:
    """Read and write experiments under a results folder."""

    def __init__(self, results_dir: str | Path, *, create: bool = True) -> None:
        self.dir = Path(results_dir)
        self.path = self.dir / DB_NAME
        if not create and not self.path.exists():
            raise FileNotFoundError(f"no results at {self.path}: run 'biobench run' first or pass --results DIR")
        self.dir.mkdir(parents=True, exist_ok=True)
        self.db = sqlite3.connect(self.path, timeout=60, isolation_level=None)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=NORMAL")
        self.db.execute("PRAGMA foreign_keys=ON")
        self.db.executescript(_SCHEMA)
        self.db.execute(f"PRAGMA user_version={SCHEMA_VERSION}")

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> ResultsStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def has(self, key: ExperimentKey) -> bool:
        row = self.db.execute(
            "SELECT 1 FROM experiments WHERE backbone=? AND weights=? AND task=? AND settings=?",
            dataclasses.astuple(key),
        ).fetchone()
        return row is not None

    def save(self, record: ExperimentRecord) -> int:
        """Insert ``record`` (replacing an earlier one with the same key) in a single transaction."""
        k = record.key
        self.db.execute("BEGIN IMMEDIATE")
        try:
            self.db.execute("DELETE FROM experiments WHERE backbone=? AND weights=? AND task=? AND settings=?",
                            dataclasses.astuple(k))
            cur = self.db.execute(
                "INSERT INTO experiments (backbone, weights, task, settings, comparable, score, n_examples, n_skipped,"
                " splits, probe, argv, git_commit, versions, hostname, device, dtype, posix_time, images_per_second,"
                " extract_seconds, fit_seconds, peak_memory_mb, feature_cache)"
                " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                (k.backbone, k.weights, k.task, k.settings, int(record.comparable), record.score,
                 len(record.examples), record.n_skipped, json.dumps(record.splits), json.dumps(record.probe),
                 json.dumps(record.argv), record.git_commit, json.dumps(record.versions), record.hostname,
                 record.device, record.dtype, record.posix_time, record.images_per_second, record.extract_seconds,
                 record.fit_seconds, record.peak_memory_mb, record.feature_cache),
            )
            experiment_id = int(cur.lastrowid)
            self.db.executemany(
                "INSERT INTO predictions (experiment_id, example_id, score, info) VALUES (?,?,?,?)",
                ((experiment_id, ex_id, float(score), json.dumps(info)) for ex_id, score, info in record.examples),
            )
            self.db.execute("COMMIT")
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        return experiment_id

    def experiments(self, *, include_not_comparable: bool = False) -> Iterator[ExperimentRecord]:
        """Every stored experiment with its predictions, oldest first."""
        query = "SELECT * FROM experiments" + ("" if include_not_comparable else " WHERE comparable=1")
        self.db.row_factory = sqlite3.Row
        try:
            rows = self.db.execute(query + " ORDER BY id").fetchall()
            for row in rows:
                preds = self.db.execute(
                    "SELECT example_id, score, info FROM predictions WHERE experiment_id=? ORDER BY rowid",
                    (row["id"],),
                ).fetchall()
                yield ExperimentRecord(
                    key=ExperimentKey(row["backbone"], row["weights"], row["task"], row["settings"]),
                    comparable=bool(row["comparable"]),
                    score=row["score"],
                    examples=[(p["example_id"], p["score"], json.loads(p["info"])) for p in preds],
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
                )
        finally:
            self.db.row_factory = None
