"""``tasks/mammalnet``: MammalNet, behaviour recognition in video clips of mammals (compositional split).

**What it measures.** How well a linear probe on frozen per-frame features, max-pooled over 32 frames of a
clip, recognises which of MammalNet's 12 behaviours a mammal shows, across its 173 mammal
categories, on the train/test split of MammalNet's compositional low-shot benchmark (``annotation/composition``).

**Citation.** Chen, Hu, Coker, Berumen, Costelloe, Beery, Rohrbach, Elhoseiny. *MammalNet: A Large-Scale Video
Benchmark for Mammal Recognition and Behavior Understanding.* CVPR 2023. https://mammal-net.github.io

**Data** (``--data mammalnet=DIR``; ``biobench data fetch tasks/mammalnet --to DIR`` downloads the annotations
and the full videos from MammalNet's bucket; trimming the clips and extracting frames needs ffmpeg and is done by
hand, see :data:`DATA`)::

    DIR/annotation/composition/train.csv   no header, space-separated rows:
    DIR/annotation/composition/test.csv    trimmed_videos/<clip>.mp4 <behavior_id> <species_id>
    DIR/frames/<clip>/frame_01.jpg ... frame_32.jpg

The columns are named ``video behavior_id species_id`` here (the file has no header). ``<clip>`` (the file name
without ``.mp4``) is the example id. ``behavior_id`` is the label and ``species_id`` the group, both integers >= 0. A
short or over-long row, a path that is not a ``.mp4`` file, a non-integer id, or a clip listed twice (in one file
or in both) is one :class:`TaskDataError` naming the file and row, raised when the task is built. A clip whose
frame folder lacks any of its 32 frames is skipped (as in BioBench, whose frame extraction leaves some clips short)
and counted in one :class:`~biobench_tasks._formats.DataWarning` per file naming the first missing file; every
frame's existence is checked when the task is built, from one listing per clip folder.

**Protocol.** Train on ``train.csv``, evaluate on ``test.csv``. A clip is its 32 frames; its feature is the
maximum over their features (the core's ``frame_pooling="max"``). Probe: the core's ``logreg`` (multinomial logistic
regression on standardised features, C by stratified cross-validation on the training clips) on the behaviour
label; ``--set probe=...`` picks another; ``--set n_train=N`` takes a behaviour-balanced sample of N training
clips. Test clips whose behaviour no training clip has are kept with a warning (they score 0).

**Metric.** Macro-F1 over every behaviour the task declares, one absent from the truth and the predictions scoring 0
(``macro-f1-all``, BioBench's convention). ``Evaluation.splits``: the same metric per species,
``species:<species_id>``.

**Differences from the published BioBench protocol.** BioBench's ids are the clip names too, and it also skips
clips with missing frames (logging each), max-pools 32 frames and fits a logistic regression. Its logistic
regression is scikit-learn's (saga, class-balanced, C from 30 random draws in [1e-3, 10] scored by macro-F1) on
float16 features; here it is the core's logreg on float32 features. BioBench's macro-F1 averages over every class
index from 0 to the largest label seen (absent classes scoring 0); here over every declared class, the same whenever
the largest occurs. BioBench opens frames without converting them (here: 8-bit RGB, upright) and reports no per-species
scores. A clip listed twice is an error here; BioBench would use it twice.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path, PurePosixPath

from biobench_core import DataRecipe, Download, Example, TaskDataError
from biobench_tasks._formats import DataWarning, FileIndex, read_columns
from biobench_tasks._video import VideoTask, warn_unseen_test_labels

__all__ = ["MammalNet", "DATA", "COLUMNS", "SPLIT_FILES", "N_FRAMES", "frame_names"]

ANNOTATIONS = ("annotation", "composition")
FRAMES = "frames"
COLUMNS = ("video", "behavior_id", "species_id")
SPLIT_FILES = {"train": "train.csv", "test": "test.csv"}
N_FRAMES = 32

DATA = DataRecipe(
    downloads=(
        Download("https://mammalnet.s3.amazonaws.com/annotation.tar", "annotation.tar", unpack=True),
        Download("https://mammalnet.s3.amazonaws.com/full_video.tar.gz", "full_video.tar.gz", unpack=True),
    ),
    manual_steps=(
        "MammalNet publishes full videos; the task reads 32 frames of each trimmed clip, made with ffmpeg:\n"
        "  1. trim every segment of DIR/annotation/detection_annotations.json out of DIR/full_videos/<id>.mp4\n"
        "     into DIR/trimmed_videos/<id>.mp4 (<id>_<k>.mp4, k = 1, 2, ..., for a video with several segments):\n"
        "       ffmpeg -ss START -i full_videos/<id>.mp4 -t DURATION -c:v libx264 -crf 23 -an trimmed_videos/<id>.mp4\n"
        "  2. sample 32 frames of each clip, every STEP-th frame with STEP = max(1, frames_in_clip // 32):\n"
        "       ffmpeg -i trimmed_videos/<clip>.mp4 -vf \"select=not(mod(n\\,STEP)),setpts=N/FRAME_RATE/TB\" \\\n"
        "              -vsync vfr -frames:v 32 -q:v 2 frames/<clip>/frame_%02d.jpg\n"
        "  BioBench's script does both (it needs ffmpeg and the ffmpeg-python package):\n"
        "    https://github.com/samuelstevens/biobench/blob/main/src/biobench/mammalnet/download.py\n"
        "    python download.py --dir DIR --trim-videos --sample-frames\n"
        "then check the folder: biobench data check tasks/mammalnet DIR"),
    notes="From MammalNet's public bucket, as in BioBench's download script; the source publishes no checksums. "
          "annotation.tar unpacks to annotation/ (composition/{train,test}.csv, detection_annotations.json), "
          "full_video.tar.gz to full_videos/.",
)


def frame_names(n: int = N_FRAMES) -> tuple[str, ...]:
    """``frame_01.jpg`` ... ``frame_32.jpg``: a clip's frame files, in temporal order."""
    return tuple(f"frame_{k:02d}.jpg" for k in range(1, n + 1))


class MammalNet(VideoTask):
    """MammalNet's compositional split: behaviour from 32 max-pooled frames; see the module docstring."""

    frame_pooling = "max"
    open_set = True  # test clips of a behaviour no training clip has are kept and score 0

    def read(self) -> None:
        self.frames = self.root / FRAMES
        folder = self.root.joinpath(*ANNOTATIONS)
        files = FileIndex()
        self.clip_frames = {}
        listed: dict[str, str] = {}  # clip -> where it was first listed, across both files
        self.split_examples = {split: self._read_split(folder / name, files, listed)
                               for split, name in SPLIT_FILES.items()}
        warn_unseen_test_labels(folder / SPLIT_FILES["test"], self.split_examples, "behaviours")

    def _read_split(self, path: Path, files: FileIndex, listed: dict[str, str]) -> tuple[Example, ...]:
        table = read_columns(path, COLUMNS, delimiter=" ", names=COLUMNS)
        cells = {name: table.column(name) for name in COLUMNS}
        names = frame_names()
        examples = []
        skipped, first_missing = 0, None
        for i, record in enumerate(table.records):
            where = table.where(i)
            if len(record) > len(COLUMNS):
                raise TaskDataError(f"{where}: {len(record)} fields, expected {len(COLUMNS)} "
                                    f"(trimmed_videos/<clip>.mp4 <behavior_id> <species_id>)")
            empty = table.empty(i, COLUMNS)
            if empty is not None:
                raise TaskDataError(f"{where}: missing {empty!r} (expected {len(COLUMNS)} space-separated fields: "
                                    f"trimmed_videos/<clip>.mp4 <behavior_id> <species_id>)")
            video = PurePosixPath(cells["video"][i].replace("\\", "/"))
            if video.suffix.lower() != ".mp4" or not video.stem:
                raise TaskDataError(f"{where}: expected a clip path trimmed_videos/<clip>.mp4, got "
                                    f"{cells['video'][i]!r}")
            clip = video.stem
            behaviour = _index(cells["behavior_id"][i], where, "behavior_id")
            species = _index(cells["species_id"][i], where, "species_id")
            first = listed.get(clip)
            if first is not None:
                raise TaskDataError(f"{where}: clip {clip} is also listed in {first}")
            listed[clip] = where
            folder = self.frames / clip
            present = files.names(folder)
            missing = [name for name in names if name not in present]
            if missing:
                skipped += 1
                if first_missing is None:
                    first_missing = folder / missing[0]
                continue
            self.clip_frames[clip] = tuple(os.path.join(folder, name) for name in names)
            examples.append(Example(id=clip, label=behaviour, group=f"species:{species}", source=str(folder)))
        if skipped:
            warnings.warn(f"{path}: {skipped} clip{'s' * (skipped != 1)} skipped for missing frames (expected "
                          f"{names[0]} to {names[-1]}; first missing: {first_missing})", DataWarning, stacklevel=4)
        if not examples:
            raise TaskDataError(f"{path}: no clip with all {N_FRAMES} frames under {self.frames}/<clip>/")
        return tuple(examples)


def _index(cell: str, where: str, column: str) -> int:
    try:
        value = int(cell)
    except ValueError:
        value = -1
    if value < 0:
        raise TaskDataError(f"{where}: {column} {cell!r} is not a class index (an integer >= 0)")
    return value
