"""Regenerate ``biobench_openclip/catalogue.json`` from the installed open_clip.

The plugin lists open_clip's backbones without importing torch or open_clip, so it ships this snapshot:
every ``(architecture, pretrained tag)`` pair with where its weights come from, the embedding width and input
size of every architecture config, and the names of those configs. Rerun after upgrading open_clip::

    python plugins/biobench-openclip/scripts/make_snapshot.py
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

DEFAULT_OUT = Path(__file__).resolve().parents[1] / "biobench_openclip" / "catalogue.json"


def _input_size(vision_cfg: dict[str, Any]) -> int | None:
    """A square image size as one int; ``None`` for rectangular or missing sizes."""
    size = vision_cfg.get("image_size")
    if isinstance(size, int):
        return size
    if isinstance(size, (list, tuple)) and len(size) == 2 and size[0] == size[1] and isinstance(size[0], int):
        return int(size[0])
    return None


def _weights_source(cfg: dict[str, Any]) -> str | None:
    """``hf-hub:<repo>[/<file>]`` when the tag has a hub copy (open_clip prefers it), else its URL."""
    hub = (cfg.get("hf_hub") or "").rstrip("/")
    if hub:
        return f"hf-hub:{hub}"
    return cfg.get("url") or None


def build_snapshot() -> dict[str, Any]:
    import open_clip

    archs: dict[str, dict[str, Any]] = {}
    for name in open_clip.list_models():
        cfg = open_clip.get_model_config(name) or {}
        archs[name] = {
            "embed_dim": cfg.get("embed_dim"),
            "input_size": _input_size(cfg.get("vision_cfg", {})),
            "quick_gelu": bool(cfg.get("quick_gelu", False)),
        }
    pretrained = []
    for arch, tag in open_clip.list_pretrained():
        cfg = open_clip.get_pretrained_cfg(arch, tag)
        pretrained.append({
            "arch": arch,
            "tag": tag,
            "weights_source": _weights_source(cfg),
            "quick_gelu": bool(cfg.get("quick_gelu", False)),
        })
    return {
        "open_clip_version": open_clip.__version__,
        "model_configs": list(archs),
        "archs": archs,
        "pretrained": pretrained,
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help=f"where to write (default {DEFAULT_OUT})")
    args = parser.parse_args(argv)
    snapshot = build_snapshot()
    args.out.write_text(json.dumps(snapshot, indent=1) + "\n", encoding="utf-8")
    print(f"wrote {args.out}: {len(snapshot['pretrained'])} pretrained pairs, "
          f"{len(snapshot['model_configs'])} model configs (open_clip {snapshot['open_clip_version']})")


if __name__ == "__main__":
    main()
