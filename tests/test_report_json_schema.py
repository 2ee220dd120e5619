"""The JSON report's documented, versioned schema (issue 21): the report names its schema and version, and
docs/report-json.md documents exactly the fields the renderer emits, with their types.

The doc's field tables are the reference: each row ``| `path` | type | meaning |``. A ``map`` field's keys are data,
so the walk does not descend into it.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

DOC = Path(__file__).resolve().parents[1] / "docs" / "report-json.md"
#: The doc's type words -> the Python types ``json.loads`` gives (a bool is no integer or number here).
JSON_TYPES = {"string": (str,), "integer": (int,), "number": (int, float), "boolean": (bool,), "array": (list,),
              "object": (dict,), "map": (dict,), "null": (type(None),)}


def _documented() -> dict[str, str]:
    """path -> type, from the doc's field tables."""
    fields = dict(re.findall(r"^\| `([^`]+)` \| ([^|]+?) \|", DOC.read_text(), flags=re.M))
    assert len(fields) > 40, "docs/report-json.md lost its field tables"
    return fields


def _emitted(value: Any, documented: dict[str, str], path: str = "", out: dict | None = None) -> dict[str, list]:
    """path -> every value the report holds there (arrays as ``a[]``; ``map`` fields not descended)."""
    out = {} if out is None else out
    if isinstance(value, dict) and not documented.get(path, "").startswith("map"):
        for key, item in value.items():
            child = f"{path}.{key}" if path else key
            out.setdefault(child, []).append(item)
            _emitted(item, documented, child, out)
    elif isinstance(value, list) and path:
        for item in value:
            if isinstance(item, dict):
                _emitted(item, documented, f"{path}[]", out)
    return out


@pytest.fixture(scope="module")
def report() -> dict:
    """The kit's sample board as JSON: every kind of result, a row without a benchmark mean, a note."""
    from biobench_core.formats import render
    from biobench_core.results._leaderboard import build_leaderboard
    from biobench_core.testing._format import sample_records

    return json.loads(render(build_leaderboard(sample_records(), n_resamples=200), "json"))


def test_the_report_names_its_schema_and_version(report):
    from biobench_core.formats._json import SCHEMA

    assert report["schema"] == {"name": "biobench-report", "version": SCHEMA["version"]}
    assert isinstance(SCHEMA["version"], int) and SCHEMA["version"] >= 1
    heading = DOC.read_text().splitlines()[0]
    assert heading == f"# The JSON report: schema `biobench-report`, version {SCHEMA['version']}"


def test_every_emitted_field_is_documented_and_every_documented_field_emitted(report):
    documented = _documented()
    emitted = _emitted(report, documented)
    assert sorted(set(emitted) - set(documented)) == [], "fields the report emits but docs/report-json.md lacks"
    assert sorted(set(documented) - set(emitted)) == [], "fields docs/report-json.md lists but the report lacks"


def test_every_field_has_the_documented_type(report):
    documented = _documented()
    for path, values in _emitted(report, documented).items():
        if path not in documented:
            continue  # the test above names it
        kinds = [k.split()[0] for k in documented[path].split(" or ")]
        allowed = tuple(t for k in kinds for t in JSON_TYPES[k])
        for value in values:
            assert isinstance(value, allowed) and (bool in allowed or not isinstance(value, bool)), \
                f"{path} = {value!r}; the doc says {documented[path]}"


def test_the_cli_report_carries_the_schema(tmp_path, run_cli):
    """Through ``biobench report``, an empty store too."""
    from biobench_core.results._store import ResultsStore

    ResultsStore(tmp_path / "results").close()
    proc = run_cli("report", "--results", str(tmp_path / "results"), "--format", "json", check=True)
    assert json.loads(proc.stdout)["schema"]["name"] == "biobench-report"
