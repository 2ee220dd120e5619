"""The feature cache's checksum: what checking an entry costs, and what it costs a cached matrix.

Entry (100,000 x 1,024 float32 features, 391 MiB, one ``FeatureCache`` entry in a temporary folder, page cache
warm: the entry is read once before timing, and the timed functions take turns):

- *checksum on read* / *reading the entry*: the checksum of a freshly memory-mapped ``features.npy`` (so it pays
  the page faults too: an upper bound) against serving the entry without it: ``get()`` with the hash replaced by
  its stored value (meta.json, the 100,000 ids, the map), plus the copy into memory that every probe's
  ``as_features`` makes of a read-only map. Target under 0.3. Also: the checked ``get()`` + copy against that
  (end to end), and the checksum against the features' bytes alone (map + copy, no meta.json or ids).
- *checksum on write* / *writing the entry*: the checksum of the array against ``put()`` (np.save, fsync, rename).
- the candidate hashes (XXH3, BLAKE2b, SHA-256, CRC32) on the same bytes in memory, against the bytes' read: why
  XXH3 was chosen.

Matrix: a repeated ``biobench run --config M --force`` over a cached 10-task x 5-backbone matrix (tiny real timm
backbones with random weights, ``tasks/image-folder`` on generated colour images, probe simpleshot; every
feature comes from the cache, checked, and every probe is refitted), this tree against the tree before checksums
(a temporary ``git worktree`` of ``--baseline``, by default the commit before checksums entered the feature cache,
or ``HEAD`` while the change is uncommitted). Each tree runs with its own core and plugins on ``PYTHONPATH`` and
its own cache, warmed by one run first; the timed runs alternate between the trees, and the figure is the median
of the per-pair ratios. Target at most 1.1.

``python benchmarks/bench_cache_checksum.py [--quick] [--baseline REV]`` (about 10 minutes on 2 loaded cores;
quick: 5 rounds instead of 7 and 3 pairs instead of 5; the entry's and the matrix's sizes are the same).
"""

from __future__ import annotations

import argparse
import hashlib
import itertools
import os
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from bench_core import to_markdown  # the figure table every bench prints

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

CHECK_TARGET = 0.3
MATRIX_TARGET = 1.1
ROWS, WIDTH = 100_000, 1_024
BACKBONES = ("timm/resnet10t", "timm/lcnet_050", "timm/mobilenetv3_small_050", "timm/regnetx_002",
             "timm/mobilenetv3_small_075")
N_TASKS = 10
PLUGINS = ("plugins/biobench-tasks", "plugins/biobench-timm")


def _medians(fns: dict[str, Callable[[], Any]], repeat: int) -> dict[str, float]:
    """The median time of each function after one untimed round, the functions taking turns in an order reversed
    every round (so a change of load, or the cost of coming first, hits them all alike)."""
    for fn in fns.values():
        fn()
    times: dict[str, list[float]] = {name: [] for name in fns}
    for round_ in range(repeat):
        for name, fn in (list(fns.items()) if round_ % 2 else list(fns.items())[::-1]):
            start = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - start)
    return {name: statistics.median(t) for name, t in times.items()}


# -- one entry ------------------------------------------------------------------------------------------------------

def _hashes() -> dict[str, Callable[[memoryview], Any]]:
    import xxhash

    return {"xxh3-128 (chosen)": xxhash.xxh3_128_hexdigest, "xxh3-64": xxhash.xxh3_64_hexdigest,
            "blake2b, 16 bytes": lambda b: hashlib.blake2b(b, digest_size=16).hexdigest(),
            "blake2b, 64 bytes": lambda b: hashlib.blake2b(b).hexdigest(),
            "sha256": lambda b: hashlib.sha256(b).hexdigest(), "crc32 (zlib)": zlib.crc32}


def bench_entry(repeat: int) -> list[dict[str, Any]]:
    from unittest import mock

    from _internals import internal
    from biobench_core import Example, SplitFeatures

    _feature_cache = internal("engine._feature_cache")
    array_checksum = internal("engine._checksum").array_checksum

    features = np.random.default_rng(0).standard_normal((ROWS, WIDTH), dtype=np.float32)
    examples = [Example(f"e{i}", i % 10) for i in range(ROWS)]
    split, keys = SplitFeatures(examples, features), (f"{i:064x}" for i in itertools.count())
    stored = array_checksum(features)
    with tempfile.TemporaryDirectory() as tmp:
        cache = _feature_cache.FeatureCache(Path(tmp), pixel_budget_gb=0)
        put = _medians({"put": lambda: cache.put(next(keys), split, {}),  # a new entry each time
                        "checksum": lambda: array_checksum(features)}, repeat)
        key = next(keys)
        path = cache.put(key, split, {}) / "features.npy"

        def served() -> np.ndarray:  # what a probe does with a hit: copy the read-only map into memory
            return np.array(cache.get(key, examples)[0].features)

        def unchecked() -> np.ndarray:  # the same get() with the hash replaced by its stored value
            with mock.patch.object(_feature_cache, "array_checksum", lambda array: stored):
                return served()

        served()  # the page cache is warm from here on
        read = _medians({"unchecked": unchecked, "checked": served,
                         "check": lambda: array_checksum(np.load(path, mmap_mode="r")),
                         "bytes": lambda: np.array(np.load(path, mmap_mode="r"))}, repeat)
        assert cache.n_corrupt == 0 and cache.n_unchecked == 0
    size = f"{ROWS:,} x {WIDTH:,} float32 ({features.nbytes / 2**20:.0f} MiB), page cache warm"
    check, entry = read["check"], read["unchecked"]
    rows = [
        {"figure": "checksum on read / reading the entry", "value": check / entry, "target": f"< {CHECK_TARGET}",
         "ok": check / entry < CHECK_TARGET,
         "detail": f"{check * 1e3:.0f} ms vs {entry * 1e3:.0f} ms (`get()` unchecked + copy into memory); {size}"},
        {"figure": "checked read / unchecked read (end to end)", "value": read["checked"] / entry, "target": "-",
         "ok": True, "detail": f"{read['checked'] * 1e3:.0f} ms vs {entry * 1e3:.0f} ms"},
        {"figure": "checksum on read / reading the features' bytes alone", "value": check / read["bytes"],
         "target": "-", "ok": True,
         "detail": f"{check * 1e3:.0f} ms vs {read['bytes'] * 1e3:.0f} ms (map + copy, no meta.json or ids)"},
        {"figure": "checksum on write / writing the entry", "value": put["checksum"] / put["put"], "target": "-",
         "ok": True, "detail": f"{put['checksum'] * 1e3:.0f} ms vs {put['put'] * 1e3:.0f} ms (`put()`: np.save, "
                               "fsync, rename)"},
    ]
    buffer = memoryview(features)
    hashes = _medians({name: (lambda fn=fn: fn(buffer)) for name, fn in _hashes().items()}, repeat)
    for name, seconds in hashes.items():
        rows.append({"figure": f"{name}, in memory / reading the features' bytes", "value": seconds / read["bytes"],
                     "target": "-", "ok": True,
                     "detail": f"{seconds * 1e3:.0f} ms, {features.nbytes / seconds / 2**30:.1f} GiB/s"})
    return rows


# -- a cached matrix ------------------------------------------------------------------------------------------------

def _baseline_rev() -> str:
    """The commit before checksums entered the feature cache; ``HEAD`` while that change is uncommitted."""
    introduced = subprocess.run(["git", "-C", str(REPO), "log", "-1", "--format=%H", "-S", "array_checksum", "--",
                                 "biobench_core/engine/_feature_cache.py"], capture_output=True, text=True,
                                check=True).stdout.strip()
    return f"{introduced}^" if introduced else "HEAD"


def _config(root: Path, name: str) -> Path:
    backbones = "".join(f'[[backbone]]\nid = "{b}"\nweights = "random"\n\n' for b in BACKBONES)
    tasks = "".join(f'[[task]]\nid = "tasks/image-folder"\ndata = "{root / "data" / f"t{i}"}"\n'
                    'settings = { probe = "simpleshot" }\n\n' for i in range(N_TASKS))
    path = root / f"{name}.toml"
    path.write_text(f'results = "{root / name / "results"}"\ndevice = "cpu"\nworkers = 0\n\n{backbones}{tasks}')
    return path


def _env(tree: Path, root: Path, name: str) -> dict[str, str]:
    path = os.pathsep.join([str(tree), *(str(tree / p) for p in PLUGINS)])  # this tree's core and plugins
    return {**os.environ, "PYTHONPATH": path, "BIOBENCH_CACHE": str(root / name / "cache"), "HF_HUB_OFFLINE": "1",
            "BIOBENCH_LOAD_PLUGINS": "biobench-tasks,biobench-timm"}


def _run(tree: Path, root: Path, name: str, *flags: str) -> float:
    cmd = [sys.executable, "-m", "biobench_core.cli", "run", "--config", str(_config(root, name)), "--quiet", *flags]
    start = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, env=_env(tree, root, name), cwd=root, timeout=3600)
    seconds = time.perf_counter() - start
    if proc.returncode != 0:
        raise RuntimeError(f"{name}: biobench run exited {proc.returncode}:\n{proc.stderr[-3000:]}")
    return seconds


def _all_hits(root: Path, name: str) -> bool:
    with sqlite3.connect(root / name / "results" / "biobench.sqlite") as db:
        states = [row[0] for row in db.execute("SELECT feature_cache FROM experiments")]
    return len(states) == N_TASKS * len(BACKBONES) and set(states) == {"train:hit,test:hit"}


def bench_matrix(pairs: int, baseline: str | None) -> list[dict[str, Any]]:
    from biobench_core.testing import make_image_folder

    rev = baseline or _baseline_rev()
    commit = subprocess.run(["git", "-C", str(REPO), "rev-parse", "--short", rev], capture_output=True, text=True,
                            check=True).stdout.strip()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        base = root / "base-tree"
        subprocess.run(["git", "-C", str(REPO), "worktree", "add", "--detach", str(base), rev], check=True,
                       capture_output=True)
        try:
            for i in range(N_TASKS):
                make_image_folder(root / "data" / f"t{i}", seed=i)
            trees = {"checked": REPO, "before": base}
            for name, tree in trees.items():
                _run(tree, root, name)  # extracts and caches every feature
            times: dict[str, list[float]] = {name: [] for name in trees}
            for _ in range(pairs):
                for name, tree in trees.items():
                    times[name].append(_run(tree, root, name, "--force"))
            hits = all(_all_hits(root, name) for name in trees)
        finally:
            subprocess.run(["git", "-C", str(REPO), "worktree", "remove", "--force", str(base)], capture_output=True)
    ratio = statistics.median(c / b for c, b in zip(times["checked"], times["before"]))
    ok = ratio <= MATRIX_TARGET and hits
    return [{"figure": "repeated `run --force` over a cached 10-task x 5-backbone matrix, checked / before",
             "value": ratio, "target": f"<= {MATRIX_TARGET}", "ok": ok,
             "detail": (f"median of {pairs} alternating pairs; {statistics.median(times['checked']):.1f} s vs "
                        f"{statistics.median(times['before']):.1f} s (before: {commit}); "
                        f"{len(BACKBONES)} timm backbones (random weights) x {N_TASKS} image-folder tasks, "
                        "simpleshot, 100 feature entries read per run"
                        + ("" if hits else "; NOT every feature came from the cache"))}]


def run(quick: bool = False, baseline: str | None = None) -> list[dict[str, Any]]:
    return bench_entry(repeat=5 if quick else 7) + bench_matrix(pairs=3 if quick else 5, baseline=baseline)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="3 alternating pairs instead of 5")
    parser.add_argument("--baseline", help="the revision to compare against (default: the commit before checksums)")
    args = parser.parse_args()
    print(to_markdown(run(quick=args.quick, baseline=args.baseline)))


if __name__ == "__main__":
    main()
