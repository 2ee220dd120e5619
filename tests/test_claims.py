"""Claims and failures in the results store: schema 4, exactly-once claiming under races, expiry, NFS detection."""

from __future__ import annotations

import multiprocessing
import sqlite3
import subprocess
import sys
import time

import pytest

from biobench_core.scaleout._claims import Claimant, claims, failures, record_failure, release, try_claim
from biobench_core.results._store import SCHEMA_VERSION, ExperimentKey, ExperimentRecord, ResultsStore, network_filesystem


def _key(i: int) -> ExperimentKey:
    return ExperimentKey("b/net", "pretrained", f"t/task{i}", "probe=knn,dtype=fp32", "data0")


def _record(key: ExperimentKey) -> ExperimentRecord:
    return ExperimentRecord(key=key, comparable=True, score=1.0, splits={},
                            examples=[("ex", 1.0, {"label": 0, "pred": 0})], posix_time=time.time())


def _done(identity, posix_time) -> bool:
    return True


def test_a_version_3_store_is_upgraded_in_place_to_4(tmp_path):
    with ResultsStore(tmp_path) as store:
        store.save(_record(_key(0)))
    with sqlite3.connect(tmp_path / "biobench.sqlite") as db:  # what biobench wrote before claims existed
        db.execute("DROP TABLE claims")
        db.execute("DROP TABLE failures")
        db.execute("PRAGMA user_version=3")
    with ResultsStore(tmp_path, readonly=True) as store:  # reading a version 3 store: no claims, no failures
        assert claims(store) == [] and failures(store) == []
    with ResultsStore(tmp_path) as store:
        assert store.db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == 4
        assert [r.key for r in store.experiments()] == [_key(0)]
        claimant = Claimant.here()
        assert try_claim(store, _key(1), claimant, is_done=_done).status == "claimed"
        assert [c.key for c in claims(store)] == [_key(1)]


def test_claims_are_exclusive_and_expire(tmp_path):
    with ResultsStore(tmp_path) as store:
        first, second = Claimant.here(stale_after=0.5), Claimant.here()
        assert try_claim(store, _key(0), first, is_done=_done).status == "claimed"
        outcome = try_claim(store, _key(0), second, is_done=_done)
        assert outcome.status == "busy" and outcome.holder.owner == first.owner
        time.sleep(0.7)  # no heartbeat: the claim is stale
        assert try_claim(store, _key(0), second, is_done=_done).status == "claimed"
        store.save(_record(_key(0)), release=second.owner)
        assert claims(store) == []
        assert try_claim(store, _key(0), first, is_done=_done).status == "done"


def test_the_claim_of_a_dead_process_expires_at_once(tmp_path):
    with ResultsStore(tmp_path) as store:
        child = subprocess.Popen([sys.executable, "-c", "pass"])
        child.wait()
        dead = Claimant(Claimant.here().host, child.pid, "", "x", stale_after=3600)
        assert try_claim(store, _key(0), dead, is_done=_done).status == "claimed"
        assert try_claim(store, _key(0), Claimant.here(), is_done=_done).status == "claimed"


def test_failures_count_attempts_and_stop_at_the_limit(tmp_path):
    with ResultsStore(tmp_path) as store:
        claimant = Claimant.here()
        for attempt in (1, 2):
            assert try_claim(store, _key(0), claimant, is_done=_done, max_attempts=2).status == "claimed"
            assert record_failure(store, _key(0), claimant, "boom", "Traceback ...\nRuntimeError: boom") == attempt
        assert claims(store) == []  # a failure releases the claim
        outcome = try_claim(store, _key(0), claimant, is_done=_done, max_attempts=2)
        assert (outcome.status, outcome.attempts) == ("failed", 2)
        [row] = failures(store)
        assert (row.attempts, row.error, row.host) == (2, "boom", claimant.host) and "RuntimeError" in row.traceback
        assert try_claim(store, _key(0), claimant, is_done=_done).status == "claimed"  # no limit: runs again
        store.save(_record(_key(0)), release=claimant.owner)
        assert failures(store) == []  # a success drops the failure record


def _racer(results: str, n_keys: int, barrier, queue) -> None:  # noqa: ANN001 - multiprocessing objects
    claimant = Claimant.here()
    ran = []
    barrier.wait()
    with ResultsStore(results) as store:
        for i in range(n_keys):
            if try_claim(store, _key(i), claimant, is_done=_done).status == "claimed":
                ran.append(i)
                store.save(_record(_key(i)), release=claimant.owner)
    queue.put(ran)


def test_8_processes_claiming_the_same_100_experiments_run_each_exactly_once(tmp_path):
    ctx = multiprocessing.get_context("fork")
    n_procs, n_keys = 8, 100
    barrier, queue = ctx.Barrier(n_procs), ctx.Queue()
    procs = [ctx.Process(target=_racer, args=(str(tmp_path), n_keys, barrier, queue)) for _ in range(n_procs)]
    for p in procs:
        p.start()
    ran = [i for _ in procs for i in queue.get(timeout=120)]
    for p in procs:
        p.join(60)
    assert sorted(ran) == list(range(n_keys))  # none twice, none lost
    with sqlite3.connect(tmp_path / "biobench.sqlite") as db:
        assert db.execute("SELECT COUNT(*), COUNT(DISTINCT task) FROM experiments").fetchone() == (n_keys, n_keys)
        assert db.execute("SELECT COUNT(*) FROM claims").fetchone()[0] == 0
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def test_release_drops_only_the_own_claim(tmp_path):
    with ResultsStore(tmp_path) as store:
        mine, other = Claimant.here(), Claimant.here()
        try_claim(store, _key(0), mine, is_done=_done)
        release(store, _key(0), other)
        assert len(claims(store)) == 1
        release(store, _key(0), mine)
        assert claims(store) == []


MOUNTS = """\
/dev/sda1 / ext4 rw,relatime 0 0
server:/export/home /home nfs4 rw,relatime 0 0
server:/scratch /home/lab/scratch\\040space lustre rw 0 0
tmpfs /tmp tmpfs rw 0 0
"""


@pytest.mark.parametrize(("path", "kind"), [
    ("/home/lab/results", "nfs4"), ("/home/lab/scratch space/r", "lustre"), ("/tmp/results", None), ("/opt/r", None),
])
def test_network_file_systems_are_found_from_proc_mounts(path, kind):
    assert network_filesystem(path, MOUNTS) == kind
