"""Sharing results (issue 21), through the real CLI: ``biobench export`` writes a checksummed, versioned bundle;
``biobench report --results`` merges stores and bundles into one leaderboard, each result once when its copies
agree and not at all, with a note naming the sources, when they disagree; a tampered bundle and one from a newer
format are refused in one line naming the file.

The stores are real (the kit's tiny backbone on a colour image-folder task: the ``tiny_stores`` fixture). Fails on
the main of issue 21's filing: there was no ``export``, and a repeated ``--results`` kept only the last one.
"""

from __future__ import annotations

import gzip
import json
import shutil
import sqlite3
from pathlib import Path

import pytest

from biobench_core.results import BundleError, load
from biobench_core.results._bundle import FORMAT_VERSION, checksum


def _export(in_process, store: Path, out: Path) -> Path:
    proc = in_process("export", "--results", str(store), "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    assert f"wrote {out}: 1 result(s)" in proc.stderr
    return out


def _report(in_process, *sources: Path) -> dict:
    proc = in_process("report", "--format", "json", *[a for s in sources for a in ("--results", str(s))])
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def _cells(report: dict) -> list[tuple]:
    return sorted((c["backbone"], c["dtype"], c["column"], c["score"], c["ci_low"], c["ci_high"], c["data"])
                  for c in report["results"])


def _rewrite(bundle: Path, out: Path, change) -> Path:
    envelope = json.loads(gzip.decompress(bundle.read_bytes()))
    change(envelope)
    out.write_bytes(gzip.compress(json.dumps(envelope).encode()))
    return out


def test_export_then_load_gives_the_same_results(tiny_stores, in_process, tmp_path):
    store = tiny_stores("lab")
    bundle = _export(in_process, store, tmp_path / "lab.biobench.json.gz")
    envelope = json.loads(gzip.decompress(bundle.read_bytes()))
    assert envelope["format"] == "biobench-results" and envelope["format_version"] == FORMAT_VERSION
    assert envelope["biobench_version"] and envelope["sha256"] == checksum(envelope["payload"])
    [stored] = envelope["payload"]["results"]
    assert {"key", "examples", "metric", "score", "column_settings", "versions", "argv", "device"} <= set(stored)
    assert stored["key"]["data"] and len(stored["examples"]) == 9
    assert load(bundle) == load(store)  # every field, every prediction
    assert load(bundle)[0].provenance.source == str(bundle)
    assert _cells(_report(in_process, bundle)) == _cells(_report(in_process, store))


def test_report_merges_two_stores_into_one_leaderboard(tiny_stores, in_process):
    fp32, bf16 = tiny_stores("lab"), tiny_stores("lab-bf16", dtype="bf16")
    merged = _report(in_process, fp32, bf16)
    rows = sorted((c["dtype"], c["column"]) for c in merged["results"])
    assert rows == [("bf16", "tasks/image-folder"), ("fp32", "tasks/image-folder")]  # one column: same data hash
    assert _cells(merged) == sorted(_cells(_report(in_process, fp32)) + _cells(_report(in_process, bf16)))


def test_report_merges_a_store_and_a_bundle(tiny_stores, in_process, tmp_path):
    fp32, bf16 = tiny_stores("lab"), tiny_stores("lab-bf16", dtype="bf16")
    bundle = _export(in_process, bf16, tmp_path / "other-lab.biobench.json.gz")
    assert _cells(_report(in_process, fp32, bundle)) == _cells(_report(in_process, fp32, bf16))


def test_results_on_different_data_never_share_a_column(tiny_stores, in_process, tmp_path):
    here, elsewhere = tiny_stores("lab"), tiny_stores("lab-other-data", data="other-colours")
    bundle = _export(in_process, elsewhere, tmp_path / "other.biobench.json.gz")
    report = _report(in_process, here, bundle)
    columns = {c["column"]: c["data"] for c in report["results"]}
    assert len(columns) == 2 and len(set(columns.values())) == 2, columns
    assert any("different data" in note for note in report["notes"]), report["notes"]


def test_a_result_in_two_sources_that_agree_is_shown_once(tiny_stores, in_process, tmp_path):
    store = tiny_stores("lab")
    bundle = _export(in_process, store, tmp_path / "copy.biobench.json.gz")
    report = _report(in_process, store, bundle)
    assert _cells(report) == _cells(_report(in_process, store))
    assert "1 result(s) are in more than one source with the same predictions; each is shown once" in report["notes"]


def test_a_result_in_two_sources_that_disagree_is_not_shown_and_a_note_names_both(tiny_stores, in_process,
                                                                                    tmp_path):
    store, other = tiny_stores("lab"), tiny_stores("lab-bf16", dtype="bf16")
    changed = tmp_path / "changed"
    shutil.copytree(store, changed)
    with sqlite3.connect(changed / "biobench.sqlite") as db:  # another lab's copy: one example predicted otherwise
        db.execute("UPDATE predictions SET score = 0, info = json_set(info, '$.pred', 99) WHERE rowid = "
                   "(SELECT MIN(rowid) FROM predictions)")
    db.close()
    bundle = _export(in_process, changed, tmp_path / "changed.biobench.json.gz")
    report = _report(in_process, store, other, bundle)
    assert [c["dtype"] for c in report["results"]] == ["bf16"]  # the disputed fp32 result is in neither copy
    [note] = [n for n in report["notes"] if "disagree" in n]
    assert note.startswith("kit/tiny [random, fp32] on tasks/image-folder"), note
    assert f"{store} (accuracy " in note and f"{bundle} (accuracy " in note and "not shown" in note, note
    assert load(store, bundle).notes == (note,) and len(load(store, bundle)) == 0


def test_a_tampered_bundle_is_refused_naming_the_file(tiny_stores, in_process, tmp_path):
    bundle = _export(in_process, tiny_stores("lab"), tmp_path / "lab.biobench.json.gz")

    def raise_the_score(envelope):
        envelope["payload"]["results"][0]["examples"][0][1] = 42.0

    tampered = _rewrite(bundle, tmp_path / "tampered.biobench.json.gz", raise_the_score)
    proc = in_process("report", "--results", str(tampered))
    assert proc.returncode == 1 and proc.stdout == ""
    [line] = proc.stderr.splitlines()
    assert line.startswith(f"biobench report: error: bundle {tampered}: its checksum does not match"), line
    with pytest.raises(BundleError, match="checksum does not match"):
        load(tampered)


def test_a_bundle_from_a_newer_format_is_refused(tiny_stores, in_process, tmp_path):
    bundle = _export(in_process, tiny_stores("lab"), tmp_path / "lab.biobench.json.gz")

    def from_the_future(envelope):
        envelope["format_version"] = FORMAT_VERSION + 1
        envelope["biobench_version"] = "99.0"

    newer = _rewrite(bundle, tmp_path / "newer.biobench.json.gz", from_the_future)
    proc = in_process("report", "--results", str(newer))
    [line] = proc.stderr.splitlines()
    assert proc.returncode == 1, proc.stderr
    assert line.startswith(f"biobench report: error: bundle {newer} has format version {FORMAT_VERSION + 1}, "
                           "written by a newer biobench (99.0)") and line.endswith("upgrade biobench"), line


def test_a_file_that_is_no_bundle_is_refused_in_one_line(in_process, tmp_path):
    junk = tmp_path / "notes.json.gz"
    junk.write_text("not a bundle")
    proc = in_process("report", "--results", str(junk))
    assert proc.returncode == 1 and len(proc.stderr.splitlines()) == 1 and str(junk) in proc.stderr, proc.stderr


def test_exporting_an_empty_store_is_refused_in_one_line(in_process, tmp_path):
    from biobench_core.results._store import ResultsStore

    ResultsStore(tmp_path / "empty").close()
    out = tmp_path / "empty.biobench.json.gz"
    proc = in_process("export", "--results", str(tmp_path / "empty"), "--out", str(out))
    assert proc.returncode == 1 and not out.exists()
    [line] = proc.stderr.splitlines()
    assert "holds no results; nothing to export" in line and str(tmp_path / "empty") in line, line
