"""``tasks/kabr``: KABR, behaviour recognition of single animals in drone video clips ("mini-scenes").

**What it measures.** How well a linear probe on frozen per-frame features, max-pooled over a clip, recognises
what a giraffe, plains zebra or Grevy's zebra is doing in a short drone video centred on it: 7 behaviours (walk,
graze, browse, head up, auto-groom, trot, run) plus "occluded".

**Citation.** Kholiavchenko, Kline, Ramirez, Stevens, et al. *KABR: In-Situ Dataset for Kenyan Animal Behavior
Recognition from Drone Videos.* WACV Workshops (CV4Smalls) 2024. https://kabrdata.xyz

**Data** (``--data kabr=DIR``; https://huggingface.co/datasets/imageomics/KABR, CC0-1.0; ``biobench data fetch
tasks/kabr --to DIR`` downloads the annotation files and the split zip archives of the frames, which then need
joining and unpacking by hand, see :data:`DATA`)::

    DIR/annotation/train.csv        one row per frame, space-separated, one header line with the columns
    DIR/annotation/val.csv          original_vido_id video_id frame_id path labels (read by name)
    DIR/annotation/classes.json     optional: {"<behaviour>": <label>, ...}, the class names for the report
    DIR/dataset/image/<path>        the frames (e.g. G0001/1.jpg)

A clip is the rows sharing a ``video_id`` (its example id, as written); its frames are ordered by ``frame_id`` (an
integer; a repeated ``frame_id`` within a clip is an error). ``labels`` is the frame's behaviour index (an integer
>= 0, and one of classes.json's indices when that file exists). A missing column, a short or over-long row, a
non-integer field, an unknown label or a frame file that does not exist is one :class:`TaskDataError` naming the
file and row, raised when the task is built: every frame's existence is checked then, from one listing per frame
folder. A clip listed in both files is an error (the same clip in train and test). An example's ``source`` is
the folder of its frames.

**Protocol.** Train on ``train.csv``, evaluate on ``val.csv`` (KABR has no other test split). Clips with fewer
than 16 frames are left out (counted in one :class:`~biobench_tasks._formats.DataWarning` per file). From each
clip, 16 frames are taken every 5th frame (the stride shrinks to ``(n - 1) // 15`` for a clip of ``n < 76``
frames) from a start drawn uniformly from the positions where they fit, by a generator seeded with a SHA-256 of
``f"{seed}:{video_id}"`` (``seed`` is the task's ``--set seed=S``, default 0): the frames depend only on the seed
and the clip, never on workers, batch size or loading order, and the seed is part of :meth:`Kabr.decode_key`, so
the feature cache and the results store see it. The clip's feature is the maximum over its frames' features (the
core's ``frame_pooling="max"``); its label is the most common ``labels`` value among the 16 sampled frames, a tie
going to the smallest label index (deterministic). Probe: the core's ``logreg`` (multinomial logistic regression
on standardised features, C by stratified cross-validation on the training clips); ``--set probe=...`` picks
another. ``--set n_train=N`` takes a class-balanced sample of N training clips.

**Metric.** Macro-F1 over every behaviour the task declares, one absent from the truth and the predictions scoring
0 (``macro-f1-all``, BioBench's convention). ``Evaluation.splits``: the same metric per species, ``species:giraffe`` and
``species:zebra``, read from the first letter of ``original_vido_id`` (``G``/``Z``: KABR's clip names are the
capitalised first letter of the animal's track label and a number, as written by kabr-tools' cvat2slowfast; a
clip whose name starts otherwise has no group). KABR does not tell plains from Grevy's zebras per clip, and each
``original_vido_id`` is one clip, so there is no finer split. Test clips whose label no training clip has are kept
with a warning (they score 0).

**Differences from the published BioBench protocol.** BioBench draws each clip's start from one generator seeded
with 42 and advanced in loading order, so its frames depend on the order, the number of workers and the subset;
here the draw is per clip (seed and clip id). BioBench's ids are dataset positions; here they are KABR's
``video_id``. BioBench opens frames without converting them (here: 8-bit RGB, upright). BioBench fits scikit-learn's
logistic regression (saga, class-balanced, C from 30 random draws in [1e-3, 10] scored by macro-F1); here it is the
core's logreg. BioBench's macro-F1 averages over every class index from 0 to the largest label seen (absent classes
scoring 0); here over every declared class, the same whenever the largest occurs. Frame order: BioBench keeps the file's
row order (and refuses gaps in ``frame_id``); here rows are ordered by ``frame_id`` and gaps are allowed (the stride
counts rows). BioBench reports no per-species scores.
"""

from __future__ import annotations

import hashlib
import json
import os
import warnings
from collections import Counter
from pathlib import Path
import numpy as np

from biobench_core import DataRecipe, Download, Example, TaskDataError
from biobench_tasks._formats import DataWarning, FileIndex, read_columns
from biobench_tasks._video import VideoTask, clip_folder, warn_unseen_test_labels

__all__ = ["Kabr", "DATA", "sample_positions", "clip_label", "N_FRAMES", "STRIDE", "COLUMNS", "SPLIT_FILES"]

ANNOTATION = "annotation"
IMAGES = ("dataset", "image")
CLASSES = "classes.json"
COLUMNS = ("original_vido_id", "video_id", "frame_id", "path", "labels")
SPLIT_FILES = {"train": "train.csv", "test": "val.csv"}  # biobench split -> KABR file
N_FRAMES = 16
STRIDE = 5
SPECIES = {"G": "giraffe", "Z": "zebra"}  # first letter of original_vido_id -> species group

_BASE = "https://huggingface.co/datasets/imageomics/KABR/resolve/main/KABR"
_PARTS = {"giraffes": ("aa", "ad"), "zebras_grevys": ("aa", "am"), "zebras_plains": ("aa", "al")}


def _part_names(animal: str, first: str, last: str) -> list[str]:
    return [f"{animal}_part_{chr(a)}{chr(b)}" for a in range(ord(first[0]), ord(last[0]) + 1)
            for b in range(ord(first[1]), ord(last[1]) + 1)]


DATA = DataRecipe(
    downloads=(
        *(Download(f"{_BASE}/annotation/{name}", name, into="annotation") for name in ("train.csv", "val.csv",
                                                                                       "classes.json")),
        *(Download(f"{_BASE}/dataset/image/{name}", name, into="dataset/image")
          for animal, (first, last) in _PARTS.items()
          for name in (f"{animal}_md5.txt", *_part_names(animal, first, last))),
    ),
    manual_steps=(
        "KABR's frames come as zip archives split into parts; join, verify and unpack them:\n"
        "  cd DIR/dataset/image\n"
        "  for a in giraffes zebras_grevys zebras_plains; do\n"
        "    cat ${a}_part_* > $a.zip\n"
        "    md5sum $a.zip    # must equal the first word of ${a}_md5.txt\n"
        "    unzip -q $a.zip  # the frames land in DIR/dataset/image/<clip>/<frame>.jpg\n"
        "  done\n"
        "then check the folder: biobench data check tasks/kabr DIR\n"
        "(once it passes, the .zip files and the *_part_* files may be deleted)"),
    notes="From the KABR dataset on Hugging Face (imageomics/KABR), as in its own download.py; the source publishes "
          "MD5 sums of the joined archives (the *_md5.txt files), no SHA-256.",
)


def sample_positions(n_available: int, seed: int, clip_id: str, n: int = N_FRAMES, stride: int = STRIDE,
                     ) -> list[int]:
    """The positions (0-based, into the clip's frames ordered by ``frame_id``) of the ``n`` frames taken.

    ``n`` frames every ``stride`` frames, the stride shrinking until they fit in ``n_available``; the start is
    drawn uniformly from the positions where they fit, by a generator seeded with a SHA-256 of
    ``f"{seed}:{clip_id}"``, so it depends on nothing else.
    """
    if n_available < n:
        raise ValueError(f"clip {clip_id}: {n_available} frames, fewer than {n}")
    stride = max(1, min(stride, (n_available - 1) // max(n - 1, 1)))
    margin = n_available - ((n - 1) * stride + 1)
    digest = hashlib.sha256(f"{seed}:{clip_id}".encode()).digest()
    start = _draw(int.from_bytes(digest[:8], "big"), margin)
    return [start + i * stride for i in range(n)]


# -- the draw: ``int(np.random.default_rng(seed).integers(0, high + 1))``, computed without numpy ------------------
#
# Building a numpy Generator costs ~17 us (most of it SeedSequence), which for 100,000s of clips is a large part of
# building the task. The same number is computed here in Python from NumPy's documented algorithms: SeedSequence's
# entropy mixing (pool of 4 32-bit words, hashmix/mix), generate_state(4, uint64), PCG64's seeding and XSL-RR output,
# and Lemire's bounded draw on buffered 32-bit halves. The first use checks it against NumPy on a few seeds and
# falls back to NumPy for good if they ever differ.

_M32 = 0xFFFFFFFF
_M64 = (1 << 64) - 1
_M128 = (1 << 128) - 1
_PCG_MULT = 0x2360ED051FC65DA44385DF649FCCF645


def _hash_constants(start: int, mult: int, count: int) -> list[tuple[int, int]]:
    """SeedSequence's hash constant before and after each hashmix (it does not depend on the data)."""
    out, h = [], start
    for _ in range(count):
        out.append((h, (h * mult) & _M32))
        h = out[-1][1]
    return out


def _hashmix(value: int, xor: int, mul: int) -> int:
    v = ((value ^ xor) * mul) & _M32
    return v ^ (v >> 16)


_MIX = _hash_constants(0x43B0D7E5, 0x931E8875, 16)  # 4 to fill the pool, 12 to mix it
_POOL_ZERO = (_hashmix(0, *_MIX[2]), _hashmix(0, *_MIX[3]))  # words 2 and 3 of a seed below 2**64 are 0
_MIX_STEPS = tuple((src, dst, *constants) for (src, dst), constants in
                   zip([(s, d) for s in range(4) for d in range(4) if s != d], _MIX[4:]))
_GENERATE = tuple((i & 3, *constants) for i, constants in enumerate(_hash_constants(0x8B51F9DD, 0x58F38DED, 8)))
_numpy_agrees: bool | None = None  # whether _pcg64_draw was checked against NumPy (None: not yet)


def _pcg64_draw(seed: int, high: int) -> int:
    """``int(np.random.default_rng(seed).integers(0, high + 1))`` for ``0 <= seed < 2**64`` and
    ``0 < high < 2**32 - 1``."""
    pool = [_hashmix(seed & _M32, *_MIX[0]), _hashmix(seed >> 32, *_MIX[1]), *_POOL_ZERO]
    for src, dst, xor, mul in _MIX_STEPS:
        r = (0xCA01F9DD * pool[dst] - 0x4973F715 * _hashmix(pool[src], xor, mul)) & _M32
        pool[dst] = r ^ (r >> 16)
    w = [_hashmix(pool[i], xor, mul) for i, xor, mul in _GENERATE]  # generate_state(4, uint64) as 32-bit words
    initstate = (w[0] | w[1] << 32) << 64 | w[2] | w[3] << 32
    inc = (((w[4] | w[5] << 32) << 64 | w[6] | w[7] << 32) << 1 | 1) & _M128
    state = ((inc + initstate) * _PCG_MULT + inc) & _M128  # pcg64_set_seed: two steps around adding initstate
    bound = high + 1
    threshold = (_M32 - high) % bound
    while True:
        state = (state * _PCG_MULT + inc) & _M128
        rot = state >> 122
        x = ((state >> 64) ^ state) & _M64
        x = ((x >> rot) | (x << (64 - rot))) & _M64
        for word in (x & _M32, x >> 32):  # next_uint32: the low half, then the buffered high half
            m = word * bound
            if (m & _M32) >= threshold:  # Lemire: accept unless the low part falls in the biased range
                return m >> 32


def _draw(seed: int, high: int) -> int:
    """``int(np.random.default_rng(seed).integers(0, high + 1))``, by :func:`_pcg64_draw` where it agrees."""
    global _numpy_agrees
    if high == 0:
        return 0  # NumPy returns the low end without drawing
    if _numpy_agrees is None:
        _numpy_agrees = all(_pcg64_draw(s, h) == int(np.random.default_rng(s).integers(0, h + 1))
                            for s, h in ((0, 4), (1, 1), (2**32 + 5, 60), (2**64 - 1, 1000), (12345678901234, 2**31)))
    if _numpy_agrees and 0 <= seed < 2**64 and high < _M32:
        return _pcg64_draw(seed, high)
    return int(np.random.default_rng(seed).integers(0, high + 1))


def clip_label(labels: list[int]) -> int:
    """The most common of a clip's frame labels; a tie goes to the smallest label index."""
    counts = Counter(labels)
    top = max(counts.values())
    return min(label for label, count in counts.items() if count == top)


class Kabr(VideoTask):
    """KABR mini-scenes: train on ``train.csv``, evaluate on ``val.csv``; see the module docstring."""

    frame_pooling = "max"
    open_set = True  # val clips of a behaviour no training clip has are kept and score 0

    def read(self) -> None:
        self.images = self.root.joinpath(*IMAGES)
        self._names = self._read_classes()
        files = FileIndex()
        self.clip_frames = {}
        splits: dict[str, tuple[Example, ...]] = {}
        listed: dict[str, str] = {}  # clip id -> where it was first listed (file row), across both files
        for split, filename in SPLIT_FILES.items():
            splits[split] = self._read_split(self.root / ANNOTATION / filename, files, listed)
        self.split_examples = splits
        warn_unseen_test_labels(self.root / ANNOTATION / SPLIT_FILES["test"], splits)

    # -- reading ---------------------------------------------------------------------------------------------

    def _read_classes(self) -> list[str] | None:
        path = self.root / ANNOTATION / CLASSES
        if not path.is_file():
            return None
        try:
            mapping = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, ValueError) as exc:
            raise TaskDataError(f"{path}: cannot read: {type(exc).__name__}: {exc}") from None
        expected = 'expected a JSON object of class names to label indices, e.g. {"Walk": 0}'
        if not isinstance(mapping, dict) or not mapping:
            raise TaskDataError(f"{path}: {expected}")
        names: dict[int, str] = {}
        for name, index in mapping.items():
            if isinstance(index, bool) or not isinstance(index, int) or index < 0:
                raise TaskDataError(f"{path}: class {name!r} has index {index!r}: {expected}")
            if index in names:
                raise TaskDataError(f"{path}: classes {names[index]!r} and {name!r} have the same index {index}")
            names[index] = str(name)
        return [names.get(i, str(i)) for i in range(max(names) + 1)]

    def _read_split(self, path: Path, files: FileIndex, listed: dict[str, str]) -> tuple[Example, ...]:
        table = read_columns(path, COLUMNS, delimiter=" ")
        width = len(table.header)
        at = {name: table.header.index(name) for name in COLUMNS}
        i_name, i_clip, i_frame, i_path, i_label = (at[name] for name in COLUMNS)
        n_classes = len(self._names) if self._names is not None else None
        images = str(self.images) + os.sep
        folders: dict[str, tuple[str, frozenset[str]]] = {}  # folder in a path cell -> (its path, its file names)
        # clip id -> (frame_id, frame path, label, record, frame folder) of each of its frames
        clips: dict[str, list[tuple[int, str, int, int, str]]] = {}
        names_of: dict[str, str] = {}  # clip id -> original_vido_id of its first row
        for i, record in enumerate(table.records):  # a million rows: where (file and row) is built only for errors
            if len(record) != width:
                where = table.where(i)
                if len(record) > width:
                    raise TaskDataError(f"{where}: {len(record)} fields, expected {width} ({' '.join(table.header)})")
                raise TaskDataError(f"{where}: missing {table.empty(i, COLUMNS)!r} (expected {width} space-separated "
                                    f"fields: {' '.join(table.header)})")
            clip = record[i_clip]
            try:
                frame_id = int(record[i_frame])
            except ValueError:
                raise TaskDataError(f"{table.where(i)}: frame_id {record[i_frame]!r} is not an integer") from None
            try:
                label = int(record[i_label])
            except ValueError:
                raise TaskDataError(f"{table.where(i)}: labels {record[i_label]!r} is not an integer") from None
            if label < 0 or (n_classes is not None and label >= n_classes):
                known = (f"one of the {n_classes} classes of {self.root / ANNOTATION / CLASSES} (0-{n_classes - 1})"
                         if n_classes is not None else "an integer >= 0")
                raise TaskDataError(f"{table.where(i)}: unknown label {record[i_label]!r} (expected {known})")
            cell = record[i_path]
            folder_cell, _, name = cell.rpartition("/")
            known_folder = folders.get(folder_cell)
            if known_folder is None:  # the frame's folder, as os.path.split gives it, listed once
                folder = os.path.split(images + cell)[0]
                known_folder = folders[folder_cell] = (folder, files.names(folder))
            frame = images + cell
            if name not in known_folder[1]:
                raise TaskDataError(f"{table.where(i)}: frame not found: {frame}")
            frames = clips.get(clip)
            if frames is None:
                first = listed.get(clip)
                if first is not None:
                    raise TaskDataError(f"{table.where(i)}: clip {clip} is also listed in {first}: the same clip in "
                                        f"train and test")
                listed[clip] = table.where(i)
                frames = clips[clip] = []
                names_of[clip] = record[i_name]
            frames.append((frame_id, frame, label, i, known_folder[0]))
        for clip, frames in clips.items():
            frames.sort()
            if len({frame[0] for frame in frames}) == len(frames):
                continue
            for before, after in zip(frames, frames[1:]):
                if before[0] == after[0]:
                    first, second = sorted((before[3], after[3]))
                    raise TaskDataError(f"{table.where(second)}: clip {clip} lists frame_id {after[0]} twice (first "
                                        f"in row {table.lines[first]})")

        examples = []
        short: list[tuple[str, int]] = []
        for clip, frames in clips.items():
            if len(frames) < N_FRAMES:
                short.append((clip, len(frames)))
                continue
            chosen = [frames[p] for p in sample_positions(len(frames), self.seed, clip)]
            paths = tuple([frame[1] for frame in chosen])
            self.clip_frames[clip] = paths
            group = SPECIES.get(names_of[clip][:1].upper())
            folders_of = {frame[4] for frame in chosen}  # what clip_folder(paths) takes the dirname of each for
            examples.append(Example(id=clip, label=clip_label([frame[2] for frame in chosen]),
                                    group=f"species:{group}" if group else None,
                                    source=folders_of.pop() if len(folders_of) == 1 else clip_folder(paths)))
        if short:
            clip, n = short[0]
            warnings.warn(f"{path}: {len(short)} clip{'s' * (len(short) != 1)} with fewer than {N_FRAMES} frames "
                          f"left out (e.g. clip {clip}, {n} frame{'s' * (n != 1)})", DataWarning, stacklevel=5)
        if not examples:
            raise TaskDataError(f"{path}: no clip with at least {N_FRAMES} frames")
        return tuple(examples)

    # -- the Task contract -----------------------------------------------------------------------------------

    def decode_key(self) -> str:
        """The frames taken depend on the seed (and on the sampling rule, versioned here)."""
        return f"kabr-frames:v1:n={N_FRAMES}:stride={STRIDE}:seed={self.seed}"

    @property
    def class_names(self) -> list[str] | None:
        return list(self._names) if self._names is not None else None
