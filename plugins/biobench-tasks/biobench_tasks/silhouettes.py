"""``tasks/animal-silhouettes``: Animal-MNIST v3, 10,000 28x28 grayscale animal silhouettes in 10 classes.

The data ship in the PyPI package ``animal-mnist`` (MIT). That package's modules import tensorflow, so this task
never imports them: it finds the package's folder without executing it and reads the two gzipped pickles with
an unpickler that only rebuilds numpy arrays.
"""

from __future__ import annotations

import functools
import gzip
import importlib.metadata
import importlib.util
import math
import pickle
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from biobench_core import Example, Setting, SettingsError, Task, TaskDataError, TaskSpec
from biobench_tasks._split import stable_order, stratified_counts, take_stratified

if TYPE_CHECKING:
    from PIL import Image

__all__ = ["AnimalSilhouettes", "CLASS_NAMES", "load_arrays"]

CLASS_NAMES = ["bear", "bird", "cat", "cow", "dog", "elephant", "giraffe", "horse", "sheep", "zebra"]
PACKAGE = "animal_mnist"
DISTRIBUTION = "animal-mnist"
INSTALL_HINT = f"pip install --no-deps {DISTRIBUTION}==0.4"
DATA_FILE = "animal_data_version_3.gz"
LABEL_FILE = "animal_label_version_3.gz"
N_EXAMPLES, SIDE = 10_000, 28
TEST_FRACTION = 0.2
SEED = 0


class _ArrayUnpickler(pickle.Unpickler):
    """Rebuilds numpy arrays and nothing else: any other global in the pickle is refused."""

    _reconstruct = np.empty(0).__reduce__()[0]  # numpy's own array reconstructor, whatever module it lives in
    _ALLOWED = {
        ("numpy.core.multiarray", "_reconstruct"): _reconstruct,
        ("numpy._core.multiarray", "_reconstruct"): _reconstruct,
        ("numpy", "ndarray"): np.ndarray,
        ("numpy", "dtype"): np.dtype,
    }

    def find_class(self, module: str, name: str) -> Any:
        try:
            return self._ALLOWED[(module, name)]
        except KeyError:
            raise pickle.UnpicklingError(f"refusing to load {module}.{name}: only numpy arrays are allowed") from None


def data_dir() -> Path:
    """The folder holding Animal-MNIST's data files; raises :class:`TaskDataError` with the install command."""
    spec = importlib.util.find_spec(PACKAGE)  # finds the package without importing its (tensorflow) modules
    locations = list(spec.submodule_search_locations or []) if spec is not None else []
    if not locations:
        raise TaskDataError(f"tasks/animal-silhouettes needs the animal-mnist data package: run `{INSTALL_HINT}` "
                            "(--no-deps: its metadata pulls in tensorflow)")
    return Path(locations[0]) / "data" / "Animal_MNIST"


def package_version() -> str:
    try:
        return importlib.metadata.version(DISTRIBUTION)
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


def _read_array(path: Path) -> np.ndarray:
    if not path.is_file():
        raise TaskDataError(f"{path}: missing data file; reinstall with `{INSTALL_HINT}`")
    try:
        with gzip.open(path, "rb") as f:
            array = _ArrayUnpickler(f).load()
    except (OSError, EOFError, pickle.UnpicklingError, ValueError) as exc:
        raise TaskDataError(f"{path}: cannot read: {type(exc).__name__}: {exc}") from exc
    if not isinstance(array, np.ndarray):
        raise TaskDataError(f"{path}: expected a numpy array, found {type(array).__name__}")
    return array


@functools.lru_cache(maxsize=2)
def load_arrays(folder: Path) -> tuple[np.ndarray, np.ndarray]:
    """``(images uint8 (10000, 28, 28), labels int64 (10000,))``, checked, read once per process."""
    images, labels = _read_array(folder / DATA_FILE), _read_array(folder / LABEL_FILE)
    if images.shape != (N_EXAMPLES, SIDE, SIDE) or images.dtype != np.uint8:
        raise TaskDataError(f"{folder / DATA_FILE}: expected uint8 {(N_EXAMPLES, SIDE, SIDE)}, "
                            f"found {images.dtype} {images.shape}")
    if labels.shape != (N_EXAMPLES,) or labels.min() < 0 or labels.max() >= len(CLASS_NAMES):
        raise TaskDataError(f"{folder / LABEL_FILE}: expected {N_EXAMPLES} labels in 0..{len(CLASS_NAMES) - 1}")
    images.setflags(write=False)
    labels = labels.astype(np.int64)
    labels.setflags(write=False)
    return images, labels


def _check_subset(given: str | None, subset: int | None, n_train: int) -> int | None:
    """``subset`` (the typed setting, >= 1 already), refused above the ``n_train`` examples there are."""
    if subset is not None and subset > n_train:
        raise SettingsError(f"tasks/animal-silhouettes: setting subset={given!r}: expected an integer in 1..{n_train}")
    return subset


class AnimalSilhouettes(Task):
    """Animal-MNIST silhouettes with a fixed, stratified 80/20 train/test split.

    Ids are ``silhouette-NNNNN`` (the index in the package's array). ``--set subset=N`` keeps a stratified,
    deterministic subset of N train and ceil(N/4) test examples; the subsets are nested (subset=100 is contained
    in subset=200).
    """

    settings_schema = {
        "subset": Setting("a stratified subset of N train and ceil(N/4) test examples (N in 1..8000)", type=int,
                          minimum=1),
    }

    def __init__(self, spec: TaskSpec, data: str | Path | None = None, settings: dict[str, str] | None = None):
        super().__init__(spec, data, settings)
        self._images, labels = load_arrays(data_dir())
        self.data_version = f"1+{DISTRIBUTION}-{package_version()}"

        by_class = [stable_order(np.flatnonzero(labels == c).tolist(), f"animal-silhouettes:{SEED}:test")
                    for c in range(len(CLASS_NAMES))]
        n_test = [round(len(members) * TEST_FRACTION) for members in by_class]
        test = [members[:n] for members, n in zip(by_class, n_test, strict=True)]
        train = [stable_order(members[n:], f"animal-silhouettes:{SEED}:subset")
                 for members, n in zip(by_class, n_test, strict=True)]

        subset = _check_subset(self.given_settings.get("subset"), self.settings.get("subset"), sum(map(len, train)))
        if subset is None:
            train_idx = take_stratified(train, [len(m) for m in train])
            test_idx = take_stratified(test, [len(m) for m in test])
        else:
            train_idx = take_stratified(train, stratified_counts(subset, len(CLASS_NAMES)))
            test_idx = take_stratified(test, stratified_counts(math.ceil(subset / 4), len(CLASS_NAMES)))
        self.split_examples = {
            "train": tuple(Example(id=f"silhouette-{i:05d}", label=int(labels[i])) for i in train_idx),
            "test": tuple(Example(id=f"silhouette-{i:05d}", label=int(labels[i])) for i in test_idx),
        }

    def load(self, example: Example) -> Image.Image:
        from PIL import Image

        prefix, _, number = example.id.partition("-")
        if prefix != "silhouette" or not number.isdigit() or not 0 <= int(number) < len(self._images):
            raise TaskDataError(f"tasks/animal-silhouettes: unknown example id {example.id!r}")
        return Image.fromarray(np.ascontiguousarray(self._images[int(number)])).convert("RGB")

    @property
    def class_names(self) -> list[str]:
        return list(CLASS_NAMES)
