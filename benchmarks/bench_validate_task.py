"""``biobench plugins validate`` on a small task plugin, timed against the 30 s target (issue 20).

Validate now runs a task-only plugin's task end to end: discovery in a fresh interpreter, every ``"module:function"``
imported, the settings' defaults checked, the spec's ``sample_data`` generator written to a temporary folder, then
``check_task`` and ``biobench run`` with the kit's tiny backbone (extraction, probe fit, metric) and the report.
The plugin is ``examples/biobench-task-template``, made discoverable without installing it (a ``.dist-info`` in a
temporary folder, the checkout on ``PYTHONPATH``), as a user who installed it would run the command. The figure
is the command's wall time over the 30 s target (target <= 1); it must also pass.

``python benchmarks/bench_validate_task.py``
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench_core import to_markdown  # the figure table every bench prints

REPO = Path(__file__).resolve().parents[1]
TEMPLATE = REPO / "examples" / "biobench-task-template"
TARGET_S = 30.0


def _dist_info(site: Path, project: Path) -> str:
    """Write ``project``'s ``.dist-info`` (name, version, entry points) into ``site``; return its name."""
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        import tomli as tomllib  # type: ignore[no-redef]

    from biobench_core.testing import write_distribution

    meta = tomllib.loads((project / "pyproject.toml").read_text())["project"]
    write_distribution(site, meta["name"], {}, dict(meta["entry-points"]["biobench"]), version=meta["version"])
    return meta["name"]


def bench_validate() -> list[dict[str, Any]]:
    with tempfile.TemporaryDirectory() as tmp:
        site = Path(tmp) / "site"
        name = _dist_info(site, TEMPLATE)
        env = {**os.environ, "HF_HUB_OFFLINE": "1", "BIOBENCH_CACHE": str(Path(tmp) / "cache"),
               "BIOBENCH_STATE": str(Path(tmp) / "state"),
               "PYTHONPATH": os.pathsep.join(p for p in (str(site), str(TEMPLATE), os.environ.get("PYTHONPATH"))
                                             if p)}
        env.pop("BIOBENCH_LOAD_PLUGINS", None)
        start = time.perf_counter()
        proc = subprocess.run([sys.executable, "-m", "biobench_core.cli", "plugins", "validate", name],
                              capture_output=True, text=True, env=env, cwd=tmp)
        seconds = time.perf_counter() - start
    end_to_end = re.search(r"end to end\s+(.*)", proc.stdout)
    passed = proc.returncode == 0 and end_to_end is not None
    detail = f"{seconds:.1f} s; " + ("passed, " + end_to_end.group(1) if passed
                                      else f"exit {proc.returncode}: " + (proc.stdout + proc.stderr)[-300:])
    return [{"figure": f"biobench plugins validate {name} / {TARGET_S:.0f} s", "value": seconds / TARGET_S,
             "target": "<= 1", "ok": passed and seconds <= TARGET_S, "detail": detail}]


def run(quick: bool = False) -> list[dict[str, Any]]:
    return bench_validate()  # one size: --quick runs it whole too


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="accepted for run_all; validate has one size")
    args = parser.parse_args()
    print(to_markdown(run(quick=args.quick)))


if __name__ == "__main__":
    main()
