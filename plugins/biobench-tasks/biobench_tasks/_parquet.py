"""Image datasets stored as Hugging Face's parquet shards: an ``image`` column (a struct with the encoded file's
``bytes`` and, optionally, its original ``path``) and an integer ``label`` column.

Indexing (:func:`read_shard_index`) reads only ``label`` and ``image.path``, never the image bytes (about 150 GB for
ImageNet-1K). :class:`ShardImages` fetches one example's bytes by (shard, row), reading one row group at a time and
keeping the last one, so examples taken in order read each row group once. pyarrow is an optional dependency, the
``parquet`` extra (``pip install 'biobench-tasks[parquet]'``): it is imported only here, and its absence is one line
naming the extra.
"""

from __future__ import annotations

import bisect
import dataclasses
import os
import threading
from typing import Any

import numpy as np

from biobench_core import TaskDataError

__all__ = ["INSTALL_HINT", "ShardIndex", "ShardImages", "parquet_module", "read_shard_index"]

INSTALL_HINT = "pip install 'biobench-tasks[parquet]'"
REQUIRED = ("image", "label")


def parquet_module() -> Any:
    """``pyarrow.parquet``, or a :class:`~biobench_core.TaskDataError` naming the extra that installs it."""
    try:
        import pyarrow.parquet as pq
    except ImportError:
        raise TaskDataError(f"reading parquet shards needs pyarrow, the 'parquet' extra of biobench-tasks: "
                            f"{INSTALL_HINT}") from None
    return pq


@dataclasses.dataclass(frozen=True)
class ShardIndex:
    """One shard's rows: ``labels[i]`` and ``paths[i]`` (the image's original file name, or ``None``) of row ``i``."""

    path: str
    labels: np.ndarray  # (n,) int64
    paths: list[str | None]


def read_shard_index(path: str | os.PathLike[str]) -> ShardIndex:
    """The labels and image paths of a shard, without its image bytes.

    A file that is not parquet, a missing ``image`` or ``label`` column (named with the columns found), an ``image``
    column without ``bytes``, a label that is not an integer, or a row without a label is a
    :class:`~biobench_core.TaskDataError` naming the shard (and row).
    """
    pq = parquet_module()
    path = os.fspath(path)
    try:
        schema = pq.read_schema(path)
    except Exception as exc:  # noqa: BLE001 - pyarrow's ArrowInvalid, OSError...: one line naming the shard
        raise TaskDataError(f"{path}: cannot read as parquet: {type(exc).__name__}: {exc}") from None
    names = list(schema.names)
    missing = [name for name in REQUIRED if name not in names]
    if missing:
        raise TaskDataError(f"{path}: no {missing[0]!r} column (columns found: {', '.join(names) or 'none'}); "
                            f"expected 'image' (a struct with the image file's bytes) and 'label', as in Hugging "
                            f"Face's parquet shards")
    image_type = schema.field("image").type
    fields = [image_type.field(i).name for i in range(image_type.num_fields)] if image_type.num_fields else []
    if "bytes" not in fields:
        raise TaskDataError(f"{path}: column 'image' is {image_type}, not a struct with the image file's 'bytes'")
    label_type = schema.field("label").type
    if not (str(label_type).startswith(("int", "uint"))):
        raise TaskDataError(f"{path}: column 'label' is {label_type}, not integer class ids")
    columns = ["label", "image.path"] if "path" in fields else ["label"]
    try:
        table = pq.read_table(path, columns=columns)
    except Exception as exc:  # noqa: BLE001
        raise TaskDataError(f"{path}: cannot read: {type(exc).__name__}: {exc}") from None
    label = table.column(0)
    if label.null_count:
        row = next(i for i, value in enumerate(label.to_pylist()) if value is None)
        raise TaskDataError(f"{path} row {row}: no label")
    labels = label.to_numpy().astype(np.int64, copy=False)
    paths = table.column(1).to_pylist() if len(columns) > 1 else [None] * len(labels)
    return ShardIndex(path, labels, paths)


class ShardImages:
    """The encoded image of (shard, row), reading the shard's row groups one at a time and keeping the last.

    Safe to share with threads (a lock) and to hand to worker processes: it pickles as empty and starts afresh in
    a process that did not open its files (open files are never shared across a fork).
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._reset()

    def _reset(self) -> None:
        self._pid = os.getpid()
        self._file: Any = None
        self._file_path: str | None = None
        self._starts: list[int] = []  # the first row of each row group of the open file
        self._group: tuple[str, int, int, Any] | None = None  # (shard, first row, end row, bytes array)

    def __getstate__(self) -> dict[str, Any]:
        return {"fresh": True}  # not empty: pickle's documentation allows skipping __setstate__ for a false state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__()  # type: ignore[misc]

    def read(self, path: str, row: int) -> bytes:
        """The image bytes of ``row`` (0-based) of shard ``path``."""
        with self._lock:
            if self._pid != os.getpid():
                self._reset()
            group = self._group
            if group is None or group[0] != path or not group[1] <= row < group[2]:
                group = self._group = self._read_group(path, row)
            value = group[3][row - group[1]].as_py()
        if value is None:
            raise TaskDataError(f"{path} row {row}: no image bytes")
        return value

    def _read_group(self, path: str, row: int) -> tuple[str, int, int, Any]:
        if self._file_path != path:
            if self._file is not None:
                self._file.close()
            self._file, self._file_path = parquet_module().ParquetFile(path), path
            meta = self._file.metadata
            self._starts = list(np.cumsum([0] + [meta.row_group(i).num_rows for i in range(meta.num_row_groups)]))
        index = bisect.bisect_right(self._starts, row) - 1
        if not 0 <= index < len(self._starts) - 1:
            raise TaskDataError(f"{path} row {row}: the shard has {self._starts[-1]} rows (it changed since the "
                                f"task was built)")
        column = self._file.read_row_group(index, columns=["image.bytes"]).column(0).combine_chunks()
        return path, int(self._starts[index]), int(self._starts[index + 1]), column.field("bytes")
