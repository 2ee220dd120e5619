"""Convert upstream BioBench's published results into the reference bundle ``biobench_tasks/published/*.json``.

Upstream (samuelstevens/biobench, MIT licence) publishes its leaderboard's figures as ``docs/data/results.json``:
per task and checkpoint, the score on the test set (``mean``), the mean of its bootstrap replicates and a
percentile interval. This script copies those figures, unchanged, into a compact bundle in the
``biobench-reference`` schema (docs/report-references.md) that ``biobench report --published`` reads, recording
the repository, the commit, the licence and upstream's own bootstrap settings. It maps each checkpoint to this
project's backbone id where the checkpoint file is the same one:

- upstream's ``open-clip`` loader, ``ARCH/TAG`` -> ``openclip/ARCH:TAG`` (when the openclip plugin's snapshot
  lists the pair) and ``hf-hub:ORG/REPO`` -> ``openclip/hf-hub:ORG/REPO``;
- upstream's ``timm`` loader, and its ``sam2`` loader (which loads ``hf_hub:timm/<ckpt>``), ``NAME.TAG`` ->
  ``timm/NAME.TAG`` when the timm plugin's snapshot has the tag, a bare ``NAME`` -> ``timm/NAME.<default tag>``
  (the tag timm loads for it), and ``hf-hub:ORG/REPO`` -> ``timm/hf-hub:ORG/REPO``.

Any other checkpoint (DINOv2 from torch.hub, AIMv2 from transformers, DINOv3 and V-JEPA from their own files) keeps
the id ``published/<ckpt>`` and is listed as unmapped. Which loader upstream used for a checkpoint is read from its
``configs/all.toml`` at the same commit. Rerun after a new upstream release::

    python plugins/biobench-tasks/scripts/convert_biobench_results.py --repo PATH/TO/biobench.git --commit 6376d97
"""

from __future__ import annotations

import argparse
import json
import subprocess
import tomllib
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parents[1]
PLUGINS = HERE.parent
OUT_DIR = HERE / "biobench_tasks" / "published"
REPOSITORY = "https://github.com/samuelstevens/biobench"
SCHEMA = {"name": "biobench-reference", "version": 1}
#: The protocol the published figures were made under (biobench_tasks._paper).
PROTOCOL = "biobench-paper"
#: Upstream task name -> this project's task id (biobench-tasks).
TASK_IDS = {"imagenet1k": "tasks/imagenet-1k"}
FIELDS = ["task", "ckpt", "mean", "bootstrap_mean", "ci_low", "ci_high"]


def _git_show(repo: Path, commit: str, path: str) -> str:
    return subprocess.run(["git", "-C", str(repo), "show", f"{commit}:{path}"], check=True, capture_output=True,
                          text=True).stdout


def _full_commit(repo: Path, commit: str) -> str:
    return subprocess.run(["git", "-C", str(repo), "rev-parse", f"{commit}^{{commit}}"], check=True,
                          capture_output=True, text=True).stdout.strip()


def _openclip_pairs() -> set[tuple[str, str]]:
    catalogue = json.loads((PLUGINS / "biobench-openclip" / "biobench_openclip" / "catalogue.json").read_text())
    return {(entry["arch"], entry["tag"]) for entry in catalogue["pretrained"]}


def _timm_tags() -> tuple[set[str], dict[str, str]]:
    """Every pretrained ``name.tag`` of the timm plugin's snapshot, and each architecture's default tag."""
    catalogue = json.loads((PLUGINS / "biobench-timm" / "biobench_timm" / "catalogue.json").read_text())
    at = {column: i for i, column in enumerate(catalogue["columns"])}
    names = {row[at["name"]] for row in catalogue["pretrained"]}
    defaults = {row[at["name"]].partition(".")[0]: row[at["name"]] for row in catalogue["pretrained"]
                if row[at["default"]]}
    return names, defaults


def map_checkpoint(ckpt: str, org: str | None, openclip: set[tuple[str, str]], timm_names: set[str],
                   timm_defaults: dict[str, str]) -> tuple[str, str]:
    """``(backbone id, how)``: this project's id of upstream checkpoint ``ckpt`` loaded by upstream's ``org``
    loader, and how the two are the same checkpoint (``""``: unmapped, id ``published/<ckpt>``)."""
    if org == "open-clip":
        if ckpt.startswith("hf-hub:"):
            return f"openclip/{ckpt}", "the same open_clip Hugging Face Hub model"
        arch, _, tag = ckpt.partition("/")
        if (arch, tag) in openclip:
            return f"openclip/{arch}:{tag}", "the same open_clip pretrained pair"
    if org in ("timm", "sam2"):
        if ckpt.startswith("hf-hub:"):
            return f"timm/{ckpt}", "the same timm Hugging Face Hub model"
        if ckpt in timm_names:
            return f"timm/{ckpt}", "the same timm pretrained tag"
        if "." not in ckpt and ckpt in timm_defaults:
            return f"timm/{timm_defaults[ckpt]}", f"timm's default tag of {ckpt}, which upstream loads"
    return f"published/{ckpt}", ""


def convert(repo: Path, commit: str) -> dict[str, Any]:
    """The reference bundle of upstream's ``docs/data/results.json`` at ``commit``."""
    full = _full_commit(repo, commit)
    results = json.loads(_git_show(repo, full, "docs/data/results.json"))
    orgs = {m["ckpt"]: m.get("org") for m in tomllib.loads(_git_show(repo, full, "configs/all.toml"))["models"]}
    licence = _git_show(repo, full, "LICENSE")
    copyright_line = next(line.strip() for line in licence.splitlines() if line.strip().lower().startswith("copyright"))
    openclip = _openclip_pairs()
    timm_names, timm_defaults = _timm_tags()
    meta = results["meta"]
    backbones = []
    for model in results["models"]:
        backbone_id, how = map_checkpoint(model["ckpt"], orgs.get(model["ckpt"]), openclip, timm_names,
                                          timm_defaults)
        backbones.append({"ckpt": model["ckpt"], "id": backbone_id, "mapped": bool(how), "how": how,
                          "upstream_loader": orgs.get(model["ckpt"]), "display": model["display"],
                          "family": model["family"], "resolution": model["resolution"], "params": model["params"]})
    tasks = [{"name": t["name"], "id": TASK_IDS.get(t["name"], f"tasks/{t['name']}"), "display": t["display"],
              "prior_work": prior} for prior, group in ((False, results["benchmark_tasks"]),
                                                         (True, results["prior_work_tasks"])) for t in group]
    task_id = {t["name"]: t["id"] for t in tasks}
    rows = sorted([task_id[r["task"]], r["model"], r["mean"], r["bootstrap_mean"], r["ci_low"], r["ci_high"]]
                  for r in results["results"])
    confidence = round(100 * (1 - meta["alpha"]), 6)
    return {
        "schema": SCHEMA,
        "name": f"biobench-{full[:7]}",
        "title": f"BioBench, published (samuelstevens/biobench at {full[:7]})",
        "protocol": PROTOCOL,
        "source": {"repository": REPOSITORY, "commit": full, "path": "docs/data/results.json",
                   "license": "MIT", "copyright": copyright_line, "license_text": licence},
        "upstream_meta": {key: meta[key] for key in ("schema", "generated", "git_commit", "seed", "alpha",
                                                     "n_bootstraps")},
        "score": "the task's metric on upstream's test predictions (results.json 'mean')",
        "interval": (f"upstream's percentile bootstrap: {meta['n_bootstraps']} resamples of the test predictions "
                     f"(numpy default_rng seed {meta['seed']}, one generator drawn in turn across tasks), the "
                     f"{confidence:g}% interval between the {50 * meta['alpha']:g}th and "
                     f"{100 - 50 * meta['alpha']:g}th percentiles (alpha {meta['alpha']})"),
        "tasks": tasks,
        "backbones": backbones,
        "fields": FIELDS,
        "results": rows,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repo", required=True, type=Path,
                        help="a git clone (or bare mirror) of samuelstevens/biobench")
    parser.add_argument("--commit", default="6376d97", help="the commit whose results.json to convert")
    parser.add_argument("--out", type=Path, help="where to write (default: biobench_tasks/published/<name>.json)")
    args = parser.parse_args(argv)
    bundle = convert(args.repo, args.commit)
    out = args.out or OUT_DIR / f"{bundle['name']}.json"
    # One result per line: a diff of a new release shows which figures changed.
    body = ",\n".join(json.dumps(row) for row in bundle["results"])
    head = json.dumps({k: v for k, v in bundle.items() if k != "results"}, indent=1)
    out.write_text(head[:-2] + ',\n "results": [\n' + body + "\n ]\n}\n", encoding="utf-8")
    unmapped = [b["ckpt"] for b in bundle["backbones"] if not b["mapped"]]
    print(f"wrote {out}: {len(bundle['results'])} results, {len(bundle['backbones'])} checkpoints "
          f"({len(unmapped)} unmapped: {', '.join(unmapped)})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
