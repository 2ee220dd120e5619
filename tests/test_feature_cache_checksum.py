"""The feature cache checks what it serves (issue 18): every entry records a checksum of its arrays.

A cached ``features.npy`` whose body was zeroed but whose header was kept still loads as a well-formed array, so
today's cache served it: a later experiment on the same features scored the zeros, and ``--force`` replaced a
correct stored score with theirs. Each entry now records a checksum of its arrays on write and checks it on read;
a mismatch is counted, re-extracted and reported like a truncated entry.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import numpy as np
import pytest

RUN = ("run", "--backbone", "timm/resnet10t", "--weights", "random", "--task", "animal-silhouettes",
       "--set", "subset=40", "--workers", "0", "--quiet")


def _zero_body(path: Path) -> None:
    """Zero the array's bytes after its ``.npy`` header: the file still loads, with the same shape."""
    header = np.load(path, mmap_mode="r").offset
    data = bytearray(path.read_bytes())
    data[header:] = bytes(len(data) - header)
    path.write_bytes(bytes(data))
    assert not np.load(path).any()


def _train_entry(cache: Path) -> Path:
    """The cached ``features.npy`` of the train split (the larger of the experiment's two entries)."""
    entries = sorted(cache.rglob("features.npy"), key=lambda p: np.load(p, mmap_mode="r").shape[0])
    assert len(entries) == 2, entries
    return entries[-1]


def _scores(results: Path) -> dict[str, float]:
    with sqlite3.connect(results / "biobench.sqlite") as db:
        return {settings: score for settings, score in db.execute("SELECT settings, score FROM experiments")}


def _feature_cache(results: Path) -> list[str]:
    with sqlite3.connect(results / "biobench.sqlite") as db:
        return [row[0] for row in db.execute("SELECT feature_cache FROM experiments ORDER BY id")]


@pytest.fixture
def cached(tmp_path, run_cli):
    """A first run (probe simpleshot) that leaves both splits' features in the cache."""
    env = {"BIOBENCH_CACHE": str(tmp_path / "cache")}
    results = tmp_path / "results"

    def run(*args: str, out: Path = results):
        return run_cli(*RUN, "--results", str(out), *args, env=env)

    first = run("--set", "probe=simpleshot")
    assert first.returncode == 0, first.stderr
    return {"run": run, "cache": tmp_path / "cache", "results": results, "tmp": tmp_path}


def test_a_zeroed_entry_is_counted_re_extracted_and_never_scored(cached):
    _zero_body(_train_entry(cached["cache"]))
    rerun = cached["run"]("--set", "probe=knn")  # another experiment on the same features reads the cache
    assert rerun.returncode == 0, rerun.stderr
    assert "1 corrupt feature cache entry found and re-extracted" in rerun.stderr
    assert _feature_cache(cached["results"])[-1] == "train:miss,test:hit"
    assert np.load(_train_entry(cached["cache"])).any()  # replaced by the re-extracted features

    truth = cached["run"]("--set", "probe=knn", "--no-cache", out=cached["tmp"] / "truth")
    assert truth.returncode == 0, truth.stderr
    knn = [s for s in _scores(cached["results"]) if "probe=knn" in s]
    assert _scores(cached["results"])[knn[0]] == _scores(cached["tmp"] / "truth")[knn[0]]

    again = cached["run"]("--set", "probe=knn", "--force")
    assert again.returncode == 0, again.stderr
    assert "corrupt feature cache" not in again.stderr
    assert _feature_cache(cached["results"])[-1] == "train:hit,test:hit"


def test_force_never_replaces_a_correct_score_with_one_from_corrupt_features(cached):
    (stored,) = _scores(cached["results"]).values()
    _zero_body(_train_entry(cached["cache"]))
    forced = cached["run"]("--set", "probe=simpleshot", "--force")
    assert forced.returncode == 0, forced.stderr
    assert "1 corrupt feature cache entry found and re-extracted" in forced.stderr
    assert list(_scores(cached["results"]).values()) == [stored]


# -- the cache itself -----------------------------------------------------------------------------------------


def _examples(n: int):
    from biobench_core.contract._tasks import Example

    return [Example(f"e{i}", i % 2) for i in range(n)]


def test_a_changed_array_body_is_a_counted_miss_and_the_next_put_replaces_it(tmp_path):
    from biobench_core.contract._tasks import SplitFeatures
    from biobench_core.engine._feature_cache import FeatureCache

    cache, examples, key = FeatureCache(tmp_path), _examples(4), "a" * 64
    features = np.arange(12, dtype=np.float32).reshape(4, 3)
    patches = np.ones((4, 2, 3), np.float32)
    entry = cache.put(key, SplitFeatures(examples, features, patches), {})
    split, _ = cache.get(key, examples)
    assert np.array_equal(split.features, features) and np.array_equal(split.patches, patches)

    for name in ("features.npy", "patches.npy"):
        saved = (entry / name).read_bytes()
        (entry / name).write_bytes(saved[:-1] + bytes([saved[-1] ^ 1]))  # one bit of the last value
        before = cache.n_corrupt
        assert cache.get(key, examples) is None and cache.n_corrupt == before + 1, name
        (entry / name).write_bytes(saved)
    assert cache.get(key, examples) is not None

    _zero_body(entry / "features.npy")
    assert cache.get(key, examples) is None and cache.n_corrupt == 3
    cache.put(key, SplitFeatures(examples, features, patches), {})
    split, _ = cache.get(key, examples)
    assert np.array_equal(split.features, features) and cache.n_corrupt == 3


def test_an_entry_written_before_checksums_is_a_miss_but_not_corrupt(tmp_path):
    from biobench_core.contract._tasks import SplitFeatures
    from biobench_core.engine._feature_cache import FeatureCache

    cache, examples, key = FeatureCache(tmp_path), _examples(2), "b" * 64
    entry = cache.put(key, SplitFeatures(examples, np.ones((2, 3), np.float32)), {})
    meta = json.loads((entry / "meta.json").read_text())
    del meta["checksums"]  # as biobench wrote entries before this change
    (entry / "meta.json").write_text(json.dumps(meta))
    assert cache.get(key, examples) is None
    assert cache.n_corrupt == 0 and cache.n_unchecked == 1
