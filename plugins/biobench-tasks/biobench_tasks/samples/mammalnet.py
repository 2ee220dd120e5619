"""MammalNet's compositional split: three behaviours of two species, clips of 32 colour-coded frames.

Written by the task's tests and by ``biobench plugins validate`` (``sample_data``); colour (or brightness)
codes the label, so a probe on any backbone learns it."""

from __future__ import annotations

from pathlib import Path

from biobench_tasks.mammalnet import frame_names
from biobench_tasks.samples import write_image

__all__ = ["BEHAVIOURS", "SPECIES", "SIZE", "make_mammalnet"]

BEHAVIOURS = (0, 4, 9)  # behavior_id values the fixture uses (MammalNet has 12)
SPECIES = (17, 102)
SIZE = (12, 10)


def make_mammalnet(root: Path, *, n_train: int = 2, n_test: int = 1, edit=None, extra=None) -> Path:
    """For each behaviour and species, ``n_train`` training and ``n_test`` test clips of 32 frames, colour-coded by
    the behaviour except frame 5, a "noise" frame of another behaviour's colour. Clip names are MammalNet-like
    (``<youtube id>_<segment>``). ``extra(split)`` returns more rows as ``(clip, behaviour, species)`` whose frames
    are written the same way; ``edit(split, lines)`` may change the text lines before they are written."""
    lines: dict[str, list[str]] = {"train": [], "test": []}
    count = 0
    for split, n in (("train", n_train), ("test", n_test)):
        rows = []
        for b, behaviour in enumerate(BEHAVIOURS):
            for species in SPECIES:
                for i in range(n):
                    count += 1
                    rows.append((f"yt{count:03d}Xa_{i + 1}", behaviour, species))
        rows += extra(split) if extra is not None else []
        for clip, behaviour, species in rows:
            label = BEHAVIOURS.index(behaviour) if behaviour in BEHAVIOURS else len(BEHAVIOURS)
            for k, name in enumerate(frame_names(), start=1):
                colour = (label + 1) % len(BEHAVIOURS) if k == 5 else label
                write_image(root / "frames" / clip / name, colour, len(BEHAVIOURS) + 1, seed=k, size=SIZE)
            lines[split].append(f"trimmed_videos/{clip}.mp4 {behaviour} {species}")
    folder = root / "annotation" / "composition"
    folder.mkdir(parents=True, exist_ok=True)
    for split, split_lines in lines.items():
        if edit is not None:
            split_lines = edit(split, split_lines)
        (folder / f"{split}.csv").write_text("\n".join(split_lines) + "\n")
    return root
