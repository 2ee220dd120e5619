"""Golden outputs pin the core's protocols: results and features are keyed by protocol versions, not by the core's
files, so a change that alters a protocol's output must bump its version.

Fixed images and a tiny deterministic backbone give fixed pixels and features (the extraction protocol); fixed
features give fixed predictions (each built-in probe); fixed labels, predictions and bootstrap weights give fixed
values (each built-in metric). The expected outputs are recorded *per protocol version*: a change that alters an
output fails here, naming the version to bump; after the bump, the test asks for the new output to be recorded
under the new version (the message prints it).
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from biobench_core import EncodedImgBatch, Preprocessing, TaskSpec, VisionBackbone
from biobench_core.contract._extensions import make_probe, metric_spec, probe_spec
from biobench_core.contract._registry import get_registry
from biobench_core.contract._tasks import Example, Task
from biobench_core.engine import _identity
from biobench_core.engine._extraction import extract, prepare_backbone
from biobench_core.engine._images import load_image
from biobench_core.engine._pixel_cache import PixelCache

CPU = torch.device("cpu")
HERE = "tests/test_golden_protocols.py"

# -- the recorded outputs, by protocol version ---------------------------------------------------------------------

#: EXTRACTION_PROTOCOL -> the sha256 of the decoded uint8 pixels, and the features (rounded to 5 decimals) of the
#: declared-preprocessing path and of the callable-transform path.
GOLDEN_EXTRACTION: dict[str, dict[str, object]] = {
    "1": {"pixels": "ed00420da1e1208209dc55157481a7013d61f6f412996250a29ff52a9a708a1f",
          "declared": [[0.35142, -0.5291, -0.25609, -0.5857],
                       [-0.66815, -1.72932, -0.34763, 0.52977],
                       [-0.49977, 0.05411, 1.13501, 0.11891],
                       [0.4136, -0.06242, 0.11377, -0.70999],
                       [-0.34264, 0.20234, 1.1151, -0.04775],
                       [0.71219, -0.49773, -0.58782, -0.92417]],
          "callable": [[0.34825, -0.53043, -0.25416, -0.58258],
                       [-0.66978, -1.71562, -0.33332, 0.52932],
                       [-0.49906, 0.0531, 1.13337, 0.1184],
                       [0.41565, -0.06696, 0.10752, -0.71123],
                       [-0.3326, 0.19145, 1.09499, -0.05549],
                       [0.71337, -0.46852, -0.56195, -0.92944]]},
}

#: probe name -> ProbeSpec.version -> the test predictions, one digit per example.
GOLDEN_PROBES: dict[str, dict[str, str]] = {
    "simpleshot": {"1": "012112012012012012012012112012"},
    # logreg, svm 1 -> 2: C chosen by the task's metric, the mean over folds, ties as GridSearchCV breaks them.
    "logreg": {"1": "012112212012112012012012012212", "2": "012112212012112012012012012212"},
    "svm": {"1": "012112212012112012012012112212", "2": "012112012012112012012012012212"},
    "knn": {"1": "012112212022012012022012012212"},
    "adamw-head": {"1": "012112212000110012012010212012"},
    "logreg-saga": {"1": "012112012012012012012012012012"},
}

#: metric name -> MetricSpec.version -> (value, bootstrap replicate values or None), rounded to 12 decimals.
GOLDEN_METRICS: dict[str, dict[str, tuple[float, list[float] | None]]] = {
    # Recorded on inputs with two unscored (-1) predictions. macro-f1 1 -> 2: -1 is a miss, no longer a class.
    "accuracy": {"1": (0.8, [0.85, 0.7, 0.975])},
    "balanced-accuracy": {"1": (0.786300505051, [0.855769230769, 0.678599178599, 0.977272727273])},
    "macro-f1": {"2": (0.656047873695, [0.691024531025, 0.573351648352, 0.978835978836])},
    # Unbound (no class count): every id 0..4 of these inputs occurs, so the same as macro-f1's union here.
    "macro-f1-all": {"1": (0.656047873695, [0.691024531025, 0.573351648352, 0.978835978836])},
    "mean": {"1": (0.480467654137, None)},
}


def _recorded(table: dict[str, dict], name: str, version: str, what: str, where: str, actual: object) -> object:
    """The golden output of ``name`` at ``version``; fails, printing ``actual``, when none is recorded."""
    if name not in table:
        pytest.fail(f"{what} {name!r} has no golden output: add {name!r}: {{{version!r}: {actual!r}}} to {where} "
                    f"in {HERE}")
    if version not in table[name]:
        pytest.fail(f"{what} {name!r} is at version {version!r}, which has no golden output: record "
                    f"{version!r}: {actual!r} under {name!r} in {where} in {HERE}")
    return table[name][version]


# -- extraction -----------------------------------------------------------------------------------------------------

class Pixels(VisionBackbone):
    """A fixed linear map of 4x4-pooled pixels to 4 features: weights from a formula, not a random generator."""

    backbone_id = "golden/linear"
    weights_id = "golden:fixed"

    def __init__(self, declared: bool):
        super().__init__()
        self.linear = torch.nn.Linear(48, 4)
        with torch.no_grad():
            grid = torch.arange(4 * 48, dtype=torch.float32).reshape(4, 48)
            self.linear.weight.copy_(torch.cos(grid * 0.37) / 8)
            self.linear.bias.copy_(torch.tensor([0.1, -0.2, 0.3, -0.4]))
        self.declared = declared

    def img_encode(self, batch):
        pooled = torch.nn.functional.adaptive_avg_pool2d(batch.float(), 4).flatten(1)
        return EncodedImgBatch(self.linear(pooled), None)

    def make_img_transform(self):
        from torchvision import transforms

        return transforms.Compose([transforms.Resize(24), transforms.CenterCrop(20), transforms.ToTensor(),
                                   transforms.Normalize((0.5, 0.4, 0.3), (0.2, 0.25, 0.3))])

    def preprocessing(self):
        return Preprocessing.of(24, crop=20, interpolation="bicubic", mean=(0.5, 0.4, 0.3), std=(0.2, 0.25, 0.3)) \
            if self.declared else None


class Folder(Task):
    def __init__(self, root: Path):
        super().__init__(TaskSpec(id="golden/files", factory="x:y", needs_data=False))
        self.root = root

    def examples(self, split):
        return [Example(id=p.stem, label=i % 2, source=str(p)) for i, p in enumerate(sorted(self.root.iterdir()))]

    def load(self, example):
        return load_image(example.source)


def _images(root: Path) -> Path:
    """Six PNGs (lossless: every machine decodes the same pixels) of differing sizes and aspect ratios."""
    root.mkdir()
    for i in range(6):
        height, width = 30 + 9 * i, 52 - 4 * i
        yy, xx = np.mgrid[0:height, 0:width]
        image = np.stack([(xx * (3 + i)) % 256, (yy * (5 + 2 * i)) % 256, ((xx + yy) * 7 + 40 * i) % 256], axis=-1)
        Image.fromarray(image.astype(np.uint8)).save(root / f"img{i}.png")
    return root


def _extraction_outputs(tmp_path: Path) -> dict[str, object]:
    task = Folder(_images(tmp_path / "img"))
    cache = PixelCache(tmp_path / "pixels", 2**30)
    out: dict[str, object] = {}
    for name, declared in (("declared", True), ("callable", False)):
        backbone = prepare_backbone(Pixels(declared), CPU, "fp32")
        result = extract(backbone, task, "train", device=CPU, batch_size=4, progress=False,
                         pixel_cache=cache if declared else None, pixel_base_key="golden" if declared else None)
        out[name] = [[round(float(v), 5) for v in row] for row in result.split.features]
    [entry] = [folder for folder in (tmp_path / "pixels").iterdir() if not folder.name.startswith(".")]
    out["pixels"] = hashlib.sha256((entry / "pixels.u8").read_bytes()).hexdigest()
    return out


def test_the_extraction_protocol_gives_its_golden_pixels_and_features(tmp_path):
    version = _identity.EXTRACTION_PROTOCOL
    actual = _extraction_outputs(tmp_path)
    expected = _recorded({"extraction": GOLDEN_EXTRACTION}, "extraction", version, "protocol", "GOLDEN_EXTRACTION",
                         actual)
    bump = (f"bump EXTRACTION_PROTOCOL (now {version!r}) in biobench_core/engine/_identity.py and record the new "
            f"golden output under the new version in GOLDEN_EXTRACTION in {HERE}")
    assert actual["pixels"] == expected["pixels"], f"extraction output changed (decoded pixels): {bump}"
    for path in ("declared", "callable"):
        assert np.allclose(actual[path], expected[path], rtol=0, atol=2e-5), \
            f"extraction output changed ({path} path features): {bump}; now {actual[path]!r}"


# -- probes ---------------------------------------------------------------------------------------------------------

def _features() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Three overlapping classes in 8 dimensions: 45 train and 30 test examples, from a seeded generator."""
    rng = np.random.default_rng(7)
    centres = rng.normal(size=(3, 8)) * 1.2
    y_train, y_test = np.arange(45) % 3, np.arange(30) % 3
    x_train = (centres[y_train] + rng.normal(size=(45, 8))).astype(np.float32)
    x_test = (centres[y_test] + rng.normal(size=(30, 8))).astype(np.float32)
    return x_train, y_train, x_test


def _builtin(attribute: str) -> list[str]:
    registry = get_registry()
    catalogue = getattr(registry, attribute)
    return sorted(name for name in catalogue.specs if catalogue.owner[name] is registry.builtin)


def test_every_builtin_probe_and_metric_has_golden_outputs():
    assert _builtin("probes") == sorted(GOLDEN_PROBES), f"record golden outputs in GOLDEN_PROBES in {HERE}"
    assert _builtin("metrics") == sorted(GOLDEN_METRICS), f"record golden outputs in GOLDEN_METRICS in {HERE}"


@pytest.mark.parametrize("name", sorted(GOLDEN_PROBES))
def test_each_probe_gives_its_golden_predictions(name):
    x_train, y_train, x_test = _features()
    probe = make_probe(name, device="cpu", seed=0)
    probe.fit(x_train, y_train)
    actual = "".join(str(int(p)) for p in np.asarray(probe.predict(x_test)))
    version = probe_spec(name).version
    expected = _recorded(GOLDEN_PROBES, name, version, "probe", "GOLDEN_PROBES", actual)
    assert actual == expected, (
        f"probe {name!r} output changed: bump its ProbeSpec.version (now {version!r}) in "
        f"biobench_core/engine/_builtin.py and record the new predictions {actual!r} under the new version in "
        f"GOLDEN_PROBES in {HERE}")


# -- metrics --------------------------------------------------------------------------------------------------------

def _labels() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(11)
    y_true = rng.integers(0, 4, 40)
    y_pred = np.where(rng.random(40) < 0.6, y_true, rng.integers(0, 5, 40))
    y_pred[[3, 17]] = -1  # two examples the backbone could not score
    scores = rng.random(40)
    weights = rng.multinomial(40, np.full(40, 1 / 40), size=3).astype(np.float64)
    return y_true, y_pred, scores, weights


@pytest.mark.parametrize("name", sorted(GOLDEN_METRICS))
def test_each_metric_gives_its_golden_value_and_replicates(name):
    from biobench_core.contract._specs import import_attr

    y_true, y_pred, scores, weights = _labels()
    spec = metric_spec(name)
    function = spec.load()
    value = float(function(scores) if spec.needs == "scores" else function(y_true, y_pred))
    replicates = None if spec.replicates is None else \
        [round(float(v), 12) for v in import_attr(spec.replicates)(y_true, y_pred, weights)]
    actual = (round(value, 12), replicates)
    expected = _recorded(GOLDEN_METRICS, name, spec.version, "metric", "GOLDEN_METRICS", actual)
    same = np.isclose(actual[0], expected[0], rtol=1e-10, atol=1e-12) and (
        (actual[1] is None and expected[1] is None)
        or (actual[1] is not None and expected[1] is not None
            and np.allclose(actual[1], expected[1], rtol=1e-10, atol=1e-12)))
    assert same, (f"metric {name!r} output changed: bump its MetricSpec.version (now {spec.version!r}) in "
                  f"biobench_core/results/_builtin.py and record the new output {actual!r} under the new version in "
                  f"GOLDEN_METRICS in {HERE}")


# -- the checks themselves: a changed output names the version to bump; a bumped version asks for its output ------

def test_a_changed_probe_output_says_which_version_to_bump(monkeypatch):
    from biobench_core.engine._probes.simpleshot import SimpleShotProbe

    original = SimpleShotProbe.predict
    monkeypatch.setattr(SimpleShotProbe, "predict", lambda self, X: (np.asarray(original(self, X)) + 1) % 3)
    with pytest.raises(AssertionError, match=r"probe 'simpleshot' output changed: bump its ProbeSpec.version "
                                             r"\(now '1'\) in biobench_core/engine/_builtin.py"):
        test_each_probe_gives_its_golden_predictions("simpleshot")


def test_a_bumped_extraction_protocol_asks_for_its_golden_output(tmp_path, monkeypatch):
    monkeypatch.setattr(_identity, "EXTRACTION_PROTOCOL", "2")
    with pytest.raises(pytest.fail.Exception, match="protocol 'extraction' is at version '2', which has no golden"):
        test_the_extraction_protocol_gives_its_golden_pixels_and_features(tmp_path)
