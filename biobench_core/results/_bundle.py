"""Results bundles: a results store's experiments in one file another lab can read (``biobench export``).

A bundle is gzip-compressed JSON (``lab.biobench.json.gz``)::

    {"format": "biobench-results", "format_version": 1, "biobench_version": "0.3.0",
     "sha256": "<hex>", "payload": {"source": ..., "exported_at": ..., "results": [...]}}

``payload.results`` holds one object per experiment: every field of the stored
:class:`~biobench_core.results._store.ExperimentRecord` (its key, with the data hash; the settings and column
settings; the metric and score; the per-example predictions as ``[id, score, info]``; and its provenance: versions,
git commit, host, device, argv, cost, the identity of the code it ran). ``sha256`` is the SHA-256 of the payload's
canonical JSON (keys sorted, no spaces, UTF-8), so a bundle changed or damaged after export is refused, naming the
file, and so is one whose ``format_version`` is newer than this biobench reads. A bundle reads back as the records
it was written from: exporting and loading gives the same results as the store.
"""

from __future__ import annotations

import dataclasses
import gzip
import hashlib
import json
import time
import zlib
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from biobench_core.contract._tasks import Prediction
from biobench_core.engine._identity import ExperimentKey
from biobench_core.results._store import ExperimentRecord, StoreError

__all__ = ["FORMAT", "FORMAT_VERSION", "SUFFIX", "BundleError", "write_bundle", "read_bundle", "bundle_bytes",
           "checksum"]

FORMAT = "biobench-results"
FORMAT_VERSION = 1
SUFFIX = ".biobench.json.gz"
_GZIP_MAGIC = b"\x1f\x8b"
_RECORD_FIELDS = {f.name for f in dataclasses.fields(ExperimentRecord)}
_KEY_FIELDS = {f.name for f in dataclasses.fields(ExperimentKey)}


class BundleError(StoreError):
    """A bundle that cannot be read: the message names the file and says why (one line), as a store's does."""


def checksum(payload: dict[str, Any]) -> str:
    """The SHA-256 of ``payload``'s canonical JSON (keys sorted, no spaces, UTF-8): what a bundle records."""
    text = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _record_json(record: ExperimentRecord) -> dict[str, Any]:
    out = {name: getattr(record, name) for name in _RECORD_FIELDS if name not in ("key", "examples")}
    out["key"] = dataclasses.asdict(record.key)
    out["examples"] = [[p.id, p.score, p.info] for p in record.examples]
    return out


def bundle_bytes(records: Iterable[ExperimentRecord], *, source: str = "") -> bytes:
    """The bundle of ``records`` (gzip-compressed JSON with its checksum), ``source`` recorded as where they came
    from."""
    from biobench_core._version import __version__

    payload = {"source": source, "exported_at": time.time(), "results": [_record_json(r) for r in records]}
    envelope = {"format": FORMAT, "format_version": FORMAT_VERSION, "biobench_version": __version__,
                "sha256": checksum(payload), "payload": payload}
    text = json.dumps(envelope, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return gzip.compress(text.encode("utf-8"), mtime=0)


def write_bundle(path: str | Path, records: Iterable[ExperimentRecord], *, source: str = "") -> int:
    """Write the bundle of ``records`` to ``path``; how many experiments it holds."""
    records = list(records)
    Path(path).write_bytes(bundle_bytes(records, source=source))
    return len(records)


def _envelope(path: Path) -> dict[str, Any]:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise BundleError(f"bundle {path}: cannot read it ({exc.strerror or exc})") from None
    try:
        if data[:2] == _GZIP_MAGIC:
            data = gzip.decompress(data)
        envelope = json.loads(data.decode("utf-8"))
    except (OSError, EOFError, zlib.error, UnicodeDecodeError, ValueError) as exc:
        raise BundleError(f"bundle {path} is damaged or not a biobench results bundle ({type(exc).__name__}: "
                          f"{exc}); ask for a fresh 'biobench export'") from None
    if not isinstance(envelope, dict) or envelope.get("format") != FORMAT:
        raise BundleError(f"{path} is not a biobench results bundle (no format {FORMAT!r}); a bundle is what "
                          "'biobench export' writes")
    return envelope


def read_bundle(path: str | Path) -> list[ExperimentRecord]:
    """The experiments of the bundle at ``path``; :class:`BundleError` (one line naming the file) for a damaged or
    tampered bundle (its checksum does not match) or one from a newer format version."""
    path = Path(path)
    envelope = _envelope(path)
    version = envelope.get("format_version")
    if not isinstance(version, int) or version < 1:
        raise BundleError(f"bundle {path} has no valid format_version ({version!r}); ask for a fresh 'biobench "
                          "export'")
    if version > FORMAT_VERSION:
        from biobench_core._version import __version__

        raise BundleError(f"bundle {path} has format version {version}, written by a newer biobench "
                          f"({envelope.get('biobench_version', 'unknown')}); this biobench {__version__} reads "
                          f"versions up to {FORMAT_VERSION}: upgrade biobench")
    payload = envelope.get("payload")
    recorded = envelope.get("sha256")
    if not isinstance(payload, dict) or not isinstance(recorded, str) or checksum(payload) != recorded:
        raise BundleError(f"bundle {path}: its checksum does not match its contents (recorded sha256 "
                          f"{str(recorded)[:12]}...): it was changed or damaged after export; refused")
    try:
        return [_record(item) for item in payload["results"]]
    except (KeyError, TypeError, ValueError) as exc:
        raise BundleError(f"bundle {path}: a result is malformed ({type(exc).__name__}: {exc})") from None


def _record(item: dict[str, Any]) -> ExperimentRecord:
    key = ExperimentKey(**{k: v for k, v in item["key"].items() if k in _KEY_FIELDS})
    examples = [Prediction(str(i), float(s), dict(info)) for i, s, info in item["examples"]]
    fields = {k: v for k, v in item.items() if k in _RECORD_FIELDS and k not in ("key", "examples")}
    return ExperimentRecord(key=key, examples=examples, **fields)
