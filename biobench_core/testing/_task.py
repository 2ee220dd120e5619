"""``check_task``: build a task and check its data contract and its evaluation on random features."""

from __future__ import annotations

import math
from collections import Counter
from pathlib import Path
from typing import Any

from biobench_core.testing._report import Report, exception_line

__all__ = ["check_task"]


def _is_int_label(label: Any) -> bool:
    import numpy as np

    return isinstance(label, (int, np.integer)) and not isinstance(label, (bool, np.bool_))


def _key(examples: Any) -> list[tuple[Any, ...]]:
    return [(ex.id, ex.label, ex.group, ex.source) for ex in examples]


def check_task(task_id: str, data: str | Path | None = None, settings: dict[str, str] | None = None, *,
               n_load: int = 3, feature_dim: int = 16, evaluate: bool = True, run: bool = False,
               run_limit: int | None = None) -> Report:
    """Build ``task_id`` (through the current registry) and check it; return a :class:`Report`.

    Checks: the task declares its settings as :class:`~biobench_core.contract._tasks.Setting` objects and refuses an
    unknown one with a ``SettingsError`` (so a typo is never silently ignored); both splits are non-empty lists
    of ``Example``; ids are unique, disjoint across splits (for a ``leave_one_out`` task: every test id in train)
    and stable across two calls; labels are ints and every test label occurs in train (unless the task is
    ``open_set``); ``load()`` returns a PIL image (or a non-empty list of frames) for the first
    ``n_load`` examples of each split; ``manifest()`` is stable; and ``evaluate()`` on random features
    (``SplitFeatures``, one row per example) returns one finite score per test example, with
    the test ids in order, also when one test example is missing (as when its image fails to decode).

    ``run=True`` then runs the task end to end, when every check above passed: ``biobench run`` with the kit's tiny
    backbone (``kit/tiny``, no download) on ``data``, in this process, through the real run path (decoding,
    extraction, the task's probe and its metric) into a temporary results folder and without the feature cache,
    and checks that ``biobench report`` shows one finite score; ``run_limit`` runs it on the first that many
    examples of each split (``--limit``), for a task whose own data is large. The task must be installed (found through its
    entry point, as ``biobench`` finds it), not only registered in-process.
    """
    from PIL import Image

    from biobench_core.contract._catalog import load_task
    from biobench_core.contract._tasks import Example

    report = Report(task_id)
    try:
        task = load_task(task_id, data, settings)
    except Exception as exc:  # noqa: BLE001
        report.fail("load", f"load_task({task_id!r}, data={data!r}) raised {exception_line(exc)}")
        return report
    report.subject = task.spec.id
    accepted = _check_settings(report, task, task_id, data, settings)
    report.ok_("load", f"{type(task).__name__} (probe {task.probe}, metric {task.metric}"
                       + (f"; settings {accepted}, an unknown one refused)" if accepted is not None else ")"))

    splits: dict[str, list[Any]] = {}
    for split in ("train", "test"):
        try:
            first, second = list(task.examples(split)), list(task.examples(split))
        except Exception as exc:  # noqa: BLE001
            report.fail(f"{split} split", f"examples({split!r}) raised {exception_line(exc)}")
            continue
        if not first:
            report.fail(f"{split} split", f"the {split} split is empty")
            continue
        not_examples = [type(ex).__name__ for ex in first if not isinstance(ex, Example)]
        if not_examples:
            report.fail(f"{split} split", f"examples({split!r}) yields {not_examples[0]}, not Example")
            continue
        splits[split] = first
        problems = []
        dupes = [i for i, n in Counter(ex.id for ex in first).items() if n > 1]
        if dupes:
            problems.append(f"duplicate ids in {split}: {', '.join(map(repr, dupes[:5]))}")
        if _key(first) != _key(second):
            problems.append(f"examples({split!r}) is not stable: two calls return different ids, labels or order")
        bad_labels = [ex.label for ex in first if not _is_int_label(ex.label)]
        if bad_labels:
            problems.append(f"labels must be ints; {split} has {type(bad_labels[0]).__name__} {bad_labels[0]!r}")
        for problem in problems:
            report.fail(f"{split} split", problem)
        if not problems:
            n_classes = len({ex.label for ex in first})
            report.ok_(f"{split} split", f"{len(first)} examples, {n_classes} classes, ids unique and stable")
    if len(splits) < 2:
        return report

    train, test = splits["train"], splits["test"]
    train_ids, test_ids = {ex.id for ex in train}, {ex.id for ex in test}
    if getattr(task, "leave_one_out", False):
        if test_ids <= train_ids:
            report.ok_("leave-one-out", "every test example is also in train, as a leave-one-out task declares")
        else:
            missing = sorted(test_ids - train_ids)
            report.fail("leave-one-out", f"a leave-one-out task's test ids must be in train: {missing[:5]} are not")
    else:
        overlap = sorted(train_ids & test_ids)
        if overlap:
            report.fail("disjoint splits", f"ids in both train and test: {', '.join(map(repr, overlap[:5]))}")
    unseen = sorted({ex.label for ex in test} - {ex.label for ex in train}, key=str)
    if unseen and getattr(task, "open_set", False):
        report.ok_("open set", f"{len(unseen)} test label(s) never seen in train, as an open-set task declares")
    elif unseen:
        report.fail("labels", f"test labels never seen in train: {unseen[:10]}")
    names = task.class_names
    if names is not None and all(_is_int_label(ex.label) for ex in (*train, *test)):
        top = max(int(ex.label) for ex in (*train, *test))
        if top >= len(names):
            report.fail("labels", f"label {top} has no entry in class_names ({len(names)} names)")

    for split, examples in splits.items():
        for ex in examples[:n_load]:
            try:
                item = task.load(ex)
            except Exception as exc:  # noqa: BLE001
                report.fail("load()", f"load({ex.id!r}) raised {exception_line(exc)}")
                break
            frames = item if isinstance(item, list) else [item]
            if not frames or not all(isinstance(f, Image.Image) for f in frames):
                got = (f"a list of {sorted({type(f).__name__ for f in item})}" if isinstance(item, list) and item
                       else type(item).__name__)
                report.fail("load()", f"load({ex.id!r}) returned {got}; expected a PIL image or a non-empty "
                                      f"list of PIL images (video frames)")
                break
            if any(f.width < 1 or f.height < 1 for f in frames):
                report.fail("load()", f"load({ex.id!r}) returned an empty image")
                break
    if not any(c.name == "load()" for c in report.checks):
        report.ok_("load()", f"the first {n_load} examples of each split decode to PIL images")

    try:
        stable = all(task.manifest(s) == task.manifest(s) for s in ("train", "test"))
        if not stable:
            report.fail("manifest", "manifest() is not stable: two calls give different hashes, so the feature "
                                    "cache would never hit")
        elif task.manifest("train") == task.manifest("test"):
            report.fail("manifest", "train and test have the same manifest")
        else:
            report.ok_("manifest", "stable across calls")
    except Exception as exc:  # noqa: BLE001
        report.fail("manifest", f"manifest() raised {exception_line(exc)}")

    if evaluate:
        _check_evaluate(report, task, train, test, feature_dim)
    if run and report.ok:
        _check_run(report, task.spec.id, data, settings or {}, run_limit)
    return report


#: A setting name no task declares: building a task with it must fail.
UNKNOWN_SETTING = "biobench-kit-unknown-setting"


def _check_settings(report: Report, task: Any, task_id: str, data: str | Path | None,
                    settings: dict[str, str] | None) -> str | None:
    """The declared settings are ``Setting`` objects, and building the task with an unknown one is refused.

    Failures are ``settings`` checks; on success, returns the accepted names for the ``load`` check's message.
    """
    from biobench_core.contract._catalog import load_task
    from biobench_core.contract._tasks import Setting, SettingsError

    try:
        accepted = type(task).accepted_settings()
    except Exception as exc:  # noqa: BLE001
        report.fail("settings", f"accepted_settings() raised {exception_line(exc)}; settings_schema must map names "
                                f"to Setting(description, check)")
        return None
    bad = sorted(name for name, setting in accepted.items()
                 if not isinstance(name, str) or not isinstance(setting, Setting) or not setting.description)
    if bad:
        report.fail("settings", f"settings_schema entries {bad} are not Setting(description, check) with a "
                                f"description")
    try:
        load_task(task_id, data, {**(settings or {}), UNKNOWN_SETTING: "1"})
    except SettingsError:
        pass
    except Exception as exc:  # noqa: BLE001
        report.fail("settings", f"an unknown setting raised {exception_line(exc)}, not SettingsError; call "
                                f"super().__init__(spec, data, settings) before reading any data")
        return None
    else:
        report.fail("settings", f"an unknown setting ({UNKNOWN_SETTING}=1) was accepted silently; pass the "
                                f"settings to Task.__init__, which checks them against settings_schema")
        return None
    return None if bad else ", ".join(sorted(accepted)) or "none"


def _check_evaluate(report: Report, task: Any, train: list[Any], test: list[Any], dim: int) -> None:
    """``evaluate()`` on random features: once on every example, once with the last test example missing (as
    when an image fails to decode), which it must score by ``test.examples``, not ``Task.examples("test")``."""
    import numpy as np

    from biobench_core.contract._tasks import Evaluation, SplitFeatures

    rng = np.random.default_rng(0)

    def features(examples: list[Any]) -> SplitFeatures:
        n = len(examples)
        patches = rng.standard_normal((n, 4, dim)).astype(np.float32) if task.needs_patches else None
        return SplitFeatures(examples=list(examples), features=rng.standard_normal((n, dim)).astype(np.float32),
                             patches=patches)

    runs = [("", test)] + ([(" (last test example missing)", test[:-1])] if len(test) > 1 else [])
    for note, subset in runs:
        try:
            result = task.evaluate(features(train), features(subset))
        except Exception as exc:  # noqa: BLE001
            report.fail("evaluate", f"evaluate() on random features{note} ({len(train)} and {len(subset)} rows) "
                                    f"raised {exception_line(exc)}")
            return
        if not isinstance(result, Evaluation):
            report.fail("evaluate", f"evaluate() returned {type(result).__name__}, not Evaluation")
            return
        rows = result.examples
        problems = []
        if len(rows) != len(subset):
            problems.append(f"evaluate(){note} returned {len(rows)} examples for {len(subset)} test examples"
                            + ("; score test.examples, not Task.examples('test')" if note else ""))
        elif [row[0] if isinstance(row, tuple) and row else None for row in rows] != [ex.id for ex in subset]:
            problems.append(f"evaluate(){note} returned ids that are not the test ids in order")
        bad = [row for row in rows if not (isinstance(row, tuple) and len(row) == 3
                                           and isinstance(row[1], (int, float)) and math.isfinite(row[1])
                                           and isinstance(row[2], dict))]
        if bad:
            problems.append(f"every example must be (id, finite score, info dict); got {bad[0]!r}")
        bad_splits = {k: v for k, v in result.splits.items()
                      if not (isinstance(v, (int, float)) and math.isfinite(v))}
        if bad_splits:
            problems.append(f"non-finite sub-scores: {bad_splits}")
        for problem in problems:
            report.fail("evaluate", problem)
        if problems:
            return
    mean = sum(row[1] for row in rows) / len(rows)
    report.ok_("evaluate", f"one finite score per test example on random features (mean {mean:.3f}), also with "
                           f"an example missing")


def _check_run(report: Report, task_id: str, data: str | Path | None, settings: dict[str, str],
               limit: int | None) -> None:
    """``biobench run`` of ``kit/tiny`` on the task, then ``biobench report --format json``: one finite score."""
    import tempfile

    from biobench_core.contract import _registry
    from biobench_core.testing._tiny import tiny_backbone

    current = _registry._REGISTRY  # the command reads the installed plugins afresh; the caller's registry comes back
    try:
        with tempfile.TemporaryDirectory(prefix="biobench-kit-run-") as tmp, tiny_backbone() as backbone:
            ok, message = _run_and_report(backbone, task_id, data, settings, limit, Path(tmp) / "results")
    finally:
        _registry._REGISTRY = current
    report.add("end to end", "ok" if ok else "fail", message)


def _run_and_report(backbone: str, task_id: str, data: str | Path | None, settings: dict[str, str],
                    limit: int | None, results: Path) -> tuple[bool, str]:
    """Run the task with ``backbone`` into ``results`` and read the report back: (passed, the check's message)."""
    import json
    import time

    from biobench_core.testing._cli import cli_in_process

    command = ["run", "--backbone", backbone, "--task", task_id, "--results", str(results), "--workers", "0",
               "--device", "cpu", "--quiet", "--no-cache"]
    command += ["--data", f"{task_id}={data}"] if data is not None else []
    command += ["--limit", str(limit)] if limit is not None else []
    for name, value in settings.items():
        command += ["--set", f"{name}={value}"]
    shown = (f"biobench run --backbone {backbone} --task {task_id}" + (" --data DIR" if data is not None else "")
             + (f" --limit {limit}" if limit is not None else ""))
    start = time.perf_counter()
    proc = cli_in_process(*command)
    seconds = time.perf_counter() - start
    if proc.returncode != 0:
        lines = (proc.stderr.strip() or proc.stdout.strip() or "no output").splitlines()
        return False, f"{shown} exited {proc.returncode}: {lines[-1]}"
    board = cli_in_process("report", "--results", str(results), "--format", "json", "--all")
    try:
        cells = json.loads(board.stdout)["results"] if board.returncode == 0 else []
    except (ValueError, KeyError, TypeError):
        cells = []
    if not cells:
        lines = board.stderr.strip().splitlines() or ["no output"]
        return False, f"{shown} finished, but biobench report shows no result ({lines[-1]})"
    metric, score = cells[0].get("metric"), cells[0].get("score")
    if not isinstance(score, (int, float)) or not math.isfinite(score):
        return False, f"{shown}: the report's {metric} is {score!r}, not a finite number"
    return True, f"{shown}: {metric} {score:.3f} with the tiny backbone, in {seconds:.1f} s"
