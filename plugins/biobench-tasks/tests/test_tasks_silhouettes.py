"""tasks/animal-silhouettes: a deterministic, stratified, disjoint split over the real Animal-MNIST data."""

from __future__ import annotations

import gzip
import importlib.util
import os
import pickle
import re
import subprocess
import sys
from collections import Counter

import numpy as np
import pytest

from biobench_core import SettingsError, TaskDataError, list_tasks, load_task, resolve_task

needs_data = pytest.mark.skipif(importlib.util.find_spec("animal_mnist") is None,
                                reason="pip install --no-deps animal-mnist==0.4")
TASK = "tasks/animal-silhouettes"


@pytest.fixture(scope="module")
def task():
    return load_task(TASK)


def test_plugin_lists_both_tasks_without_torch_or_pil():
    code = ("import sys, biobench_tasks; from biobench_core import list_tasks; "
            "ids = [t.id for t in list_tasks('tasks/*')]; "
            "assert 'tasks/animal-silhouettes' in ids and 'tasks/image-folder' in ids, ids; "
            "bad = [m for m in ('torch', 'PIL', 'animal_mnist.dataset_Loader', 'tensorflow') if m in sys.modules]; "
            "assert not bad, bad")
    env = {**os.environ, "BIOBENCH_LOAD_PLUGINS": "biobench-tasks"}
    subprocess.run([sys.executable, "-c", code], check=True, env=env)


def test_spec():
    spec = resolve_task(TASK)
    assert spec in list_tasks()
    assert (spec.needs_data, spec.protocol, spec.metric) == (False, "logreg", "accuracy")
    assert spec.license == "MIT" and spec.data_source == "PyPI animal-mnist==0.4"


@needs_data
def test_split_is_stratified_disjoint_and_complete(task):
    train, test = task.examples("train"), task.examples("test")
    assert (len(train), len(test)) == (8000, 2000)
    assert Counter(e.label for e in train) == {c: 800 for c in range(10)}
    assert Counter(e.label for e in test) == {c: 200 for c in range(10)}
    train_ids, test_ids = {e.id for e in train}, {e.id for e in test}
    assert not train_ids & test_ids
    assert train_ids | test_ids == {f"silhouette-{i:05d}" for i in range(10_000)}
    assert all(re.fullmatch(r"silhouette-\d{5}", e.id) for e in (*train, *test))


@needs_data
def test_split_is_deterministic_and_machine_independent(task):
    again = load_task(TASK)
    for split in ("train", "test"):
        assert again.examples(split) == task.examples(split)
        assert again.manifest(split) == task.manifest(split)
    # Pinned: the split hashes indices with SHA-256, so it may never change with the machine or numpy.
    assert [e.id for e in task.examples("test")[:4]] == [
        "silhouette-00006", "silhouette-00011", "silhouette-00014", "silhouette-00027"]


@needs_data
def test_ids_are_indices_into_the_package_array(task):
    from biobench_tasks.silhouettes import data_dir, load_arrays

    images, labels = load_arrays(data_dir())
    for example in task.examples("test")[::250]:
        index = int(example.id.split("-")[1])
        assert labels[index] == example.label
        assert np.array_equal(np.asarray(task.load(example))[..., 0], images[index])


@needs_data
def test_images_are_28px_rgb_and_not_blank(task):
    for example in task.examples("train")[::800]:
        img = task.load(example)
        assert (img.mode, img.size) == ("RGB", (28, 28))
        pixels = np.asarray(img)
        assert pixels.min() < 50 and pixels.max() > 200  # a light silhouette on a dark background


@needs_data
def test_class_names_and_data_version(task):
    assert task.class_names == ["bear", "bird", "cat", "cow", "dog", "elephant", "giraffe", "horse", "sheep",
                                "zebra"]
    assert "animal-mnist-0.4" in task.data_version


@needs_data
def test_subset_is_stratified_nested_and_deterministic(task):
    small = load_task(TASK, settings={"subset": "100"})
    train, test = small.examples("train"), small.examples("test")
    assert (len(train), len(test)) == (100, 25)
    assert Counter(e.label for e in train) == {c: 10 for c in range(10)}
    assert set(Counter(e.label for e in test).values()) == {2, 3}
    assert {e.id for e in train} <= {e.id for e in task.examples("train")}
    assert {e.id for e in test} <= {e.id for e in task.examples("test")}
    bigger = load_task(TASK, settings={"subset": "200"})
    assert {e.id for e in train} <= {e.id for e in bigger.examples("train")}
    assert load_task(TASK, settings={"subset": "100"}).examples("train") == train
    assert small.manifest("train") != task.manifest("train")
    assert "subset=100" in small.settings_key()


@needs_data
@pytest.mark.parametrize("bad", ["0", "-3", "ten", "8001"])
def test_bad_subset_is_a_task_data_error(bad):
    with pytest.raises(TaskDataError, match="subset"):
        load_task(TASK, settings={"subset": bad})


@pytest.mark.parametrize(("settings", "message"), [
    ({"subsett": "5"}, "unknown setting 'subsett'; did you mean 'subset'? (settings of tasks/animal-silhouettes: "
                       "class_weight, n_train, probe, seed, subset)"),
    ({"subset": "ten"}, "setting subset='ten': expected an integer >= 1"),
])
def test_settings_are_refused_before_the_data_is_read(monkeypatch, settings, message):
    from biobench_tasks import silhouettes

    def no_data(*args):
        raise AssertionError("read the data before checking the settings")

    monkeypatch.setattr(silhouettes, "data_dir", no_data)
    with pytest.raises(SettingsError) as info:
        load_task(TASK, settings=settings)
    assert message in str(info.value)


@needs_data
def test_subset_above_the_train_size_is_a_settings_error():
    with pytest.raises(SettingsError, match=r"subset='8001': expected an integer in 1\.\.8000"):
        load_task(TASK, settings={"subset": "8001"})


def test_missing_package_says_how_to_install(monkeypatch):
    from biobench_tasks import silhouettes

    monkeypatch.setattr(silhouettes.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(TaskDataError, match=re.escape("pip install --no-deps animal-mnist==0.4")) as info:
        load_task(TASK)
    assert "\n" not in str(info.value)


def test_unpickler_refuses_anything_but_arrays(tmp_path):
    from biobench_tasks.silhouettes import _read_array

    evil = tmp_path / "evil.gz"
    with gzip.open(evil, "wb") as f:
        pickle.dump(os.getcwd, f)  # a global outside numpy
    with pytest.raises(TaskDataError, match="refusing to load"):
        _read_array(evil)
    fine = tmp_path / "fine.gz"
    with gzip.open(fine, "wb") as f:
        pickle.dump(np.arange(6, dtype=np.uint8).reshape(2, 3), f)
    assert _read_array(fine).tolist() == [[0, 1, 2], [3, 4, 5]]


@needs_data
def test_conformance_kit():
    from biobench_core.testing import check_task

    check_task(TASK, settings={"subset": "100"}).assert_ok()
