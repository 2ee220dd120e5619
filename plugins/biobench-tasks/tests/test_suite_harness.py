"""The suite's test harness itself: a colour-coded image folder is learnable by the tiny backbone end to end."""

from __future__ import annotations


def test_the_tiny_backbone_learns_colour_coded_images_end_to_end(tmp_path, run_task, synth_image):
    for split, n in (("train", 6), ("test", 4)):
        for label, name in enumerate(("ant", "bee", "fly", "moth")):
            for i in range(n):
                synth_image(tmp_path / "data" / split / name / f"{i}.png", label, 4, seed=i)
    run, report = run_task("tasks/image-folder", tmp_path / "data")
    assert run.returncode == 0, run.stderr
    [cell] = report["results"]
    assert cell["task"] == "tasks/image-folder" and cell["score"] >= 0.9
