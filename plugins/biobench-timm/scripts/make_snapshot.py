#!/usr/bin/env python
"""Regenerate ``biobench_timm/catalogue.json`` from the installed timm.

    HF_HUB_OFFLINE=1 python plugins/biobench-timm/scripts/make_snapshot.py            # full, with embed_dim
    HF_HUB_OFFLINE=1 python plugins/biobench-timm/scripts/make_snapshot.py --no-embed-dim   # seconds

Run it after every timm upgrade: the plugin's tests fail when the snapshot and the installed timm disagree.
``embed_dim`` is each architecture's ``num_features``, read from a model built on the meta device (no memory,
no weights, no network); that takes a few minutes for all architectures, hence ``--jobs``.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import json
import logging
import sys
import time
import warnings
from pathlib import Path

OUT = Path(__file__).resolve().parent.parent / "biobench_timm" / "catalogue.json"
FORMAT = 1
COLUMNS = ["name", "input_size", "license", "weights_source", "embed_dim", "default"]


def weights_source(name: str, cfg) -> str | None:
    """Where timm fetches this tag's weights; ``None`` stands for the common ``hf-hub:timm/<name>``."""
    if cfg.hf_hub_id:
        source = f"hf-hub:{cfg.hf_hub_id}"
        return None if source == f"hf-hub:timm/{name}" else source
    url = cfg.url[0] if isinstance(cfg.url, (list, tuple)) else cfg.url
    return url or cfg.file or None


def num_features(archs: list[str]) -> dict[str, int | None]:
    """``num_features`` of each architecture, built on the meta device; ``None`` where that fails."""
    import timm
    import torch

    warnings.filterwarnings("ignore")
    logging.disable(logging.WARNING)
    out: dict[str, int | None] = {}
    for arch in archs:
        try:
            with torch.device("meta"):
                model = timm.create_model(arch, pretrained=False)
            dim = getattr(model, "num_features", None)
            out[arch] = int(dim) if isinstance(dim, int) else None
        except Exception:  # noqa: BLE001 - an architecture that cannot build on meta just has no embed_dim
            out[arch] = None
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--no-embed-dim", action="store_true", help="skip building models on the meta device")
    parser.add_argument("--jobs", type=int, default=2, help="processes for the embed_dim pass")
    args = parser.parse_args(argv)

    import timm
    from timm.models import get_pretrained_cfg

    start = time.perf_counter()
    names = timm.list_models(pretrained=True)
    archs_with_weights = sorted({name.partition(".")[0] for name in names})
    dims: dict[str, int | None] = {}
    if not args.no_embed_dim:
        chunks = [archs_with_weights[i::args.jobs] for i in range(args.jobs)]
        with concurrent.futures.ProcessPoolExecutor(args.jobs) as pool:
            for part in pool.map(num_features, chunks):
                dims.update(part)

    rows = []
    for name in names:
        arch, _, tag = name.partition(".")
        cfg = get_pretrained_cfg(name)
        side = max(cfg.input_size[1:]) if cfg.input_size else None
        is_default = get_pretrained_cfg(arch).tag == tag
        rows.append([name, side, cfg.license, weights_source(name, cfg), dims.get(arch), int(is_default)])

    header = {"format": FORMAT, "timm_version": timm.__version__, "generated_by": "scripts/make_snapshot.py",
              "columns": COLUMNS}
    dump = lambda value: json.dumps(value, separators=(",", ":"))  # noqa: E731
    text = dump(header)[:-1]
    text += ',\n"pretrained":[\n' + ",\n".join(dump(row) for row in rows) + "\n],\n"
    text += '"architectures":' + dump(timm.list_models()) + "}\n"
    json.loads(text)  # never write a file the plugin cannot read
    args.out.write_text(text, encoding="utf-8")
    print(f"{args.out}: {len(rows)} pretrained tags, {len(timm.list_models())} architectures, "
          f"timm {timm.__version__}, {sum(d is not None for d in dims.values())} embed_dims, "
          f"{time.perf_counter() - start:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
