"""``check_format``: render a small real leaderboard through a report format and check what comes back."""

from __future__ import annotations

from typing import Any

from biobench_core.testing._report import Report, exception_line

__all__ = ["check_format", "sample_records", "KIT_OPTIONS"]

#: The report options the kit passes to a format, as ``biobench report`` does.
KIT_OPTIONS = {"results": "biobench-kit-results", "all": False}


def sample_records(seed: int = 0, n: int = 60) -> list[Any]:
    """Synthetic stored results: two backbones on an accuracy task and a macro-F1 task, a third backbone on the
    accuracy task only (so its benchmark mean is missing), one skipped example: every kind of cell a board has."""
    import numpy as np

    from biobench_core.contract._tasks import Prediction
    from biobench_core.results._store import ExperimentKey, ExperimentRecord

    rng = np.random.default_rng(seed)
    y_true = np.arange(n) % 3
    records = []
    both = ("kit/acc", "kit/f1")
    for backbone, skill, tasks in (("kit/alpha", 0.9, both), ("kit/beta", 0.7, both), ("kit/gamma", 0.5, ("kit/acc",))):
        for task in tasks:
            right = rng.random(n) < skill
            y_pred = np.where(right, y_true, (y_true + 1) % 3)
            if backbone == "kit/gamma":
                y_pred[0] = -1  # an image the backbone could not read
            metric = "macro-f1" if task == "kit/f1" else "accuracy"
            examples = [Prediction.of(f"ex{i}", label=t, pred=p, score=float(t == p),
                                      **({"skipped": True} if p == -1 else {}))
                        for i, (t, p) in enumerate(zip(y_true, y_pred))]
            key = ExperimentKey(backbone, "pretrained", task, "probe=logreg,dtype=fp32", data="0123456789abcdef")
            records.append(ExperimentRecord(key=key, comparable=True, score=float(np.mean(right)), examples=examples,
                                            splits={}, n_skipped=int(np.sum(y_pred == -1)), metric=metric,
                                            column_settings={"probe": "logreg"}))
    return records


def _describe(output: str | bytes) -> str:
    return f"{type(output).__name__} of {len(output)} {'bytes' if isinstance(output, bytes) else 'characters'}"


def check_format(name: str, *, n_resamples: int = 200) -> Report:
    """Check the report format ``name`` (through the current registry); return a :class:`Report`.

    Builds a small real leaderboard from :func:`sample_records` (``n_resamples`` bootstrap replicates) and renders
    it with the format's factory, ``render(board, options)``. Checks: the name resolves to a
    :class:`~biobench_core.contract._specs.ReportFormatSpec` whose factory imports and is callable; the output is
    ``str`` (``bytes`` when the spec declares ``binary``) and not empty; rendering the same board again, and a
    board built again from the same records, gives the same output (a report is deterministic); an empty board
    (no results) renders too, to the declared type.
    """
    from biobench_core.contract._extensions import format_spec
    from biobench_core.results._leaderboard import build_leaderboard

    report = Report(f"report format {name}")
    try:
        spec = format_spec(name)
        render = spec.load()
    except Exception as exc:  # noqa: BLE001
        report.fail("load", f"report format {name!r} does not load: {exception_line(exc)}")
        return report
    if not callable(render):
        report.fail("load", f"factory {spec.factory!r} is a {type(render).__name__}, not callable")
        return report
    expected = bytes if spec.binary else str
    report.ok_("load", f"{spec.factory} ({'binary, ' if spec.binary else ''}suffix {spec.suffix})")

    records = sample_records()
    board = build_leaderboard(records, n_resamples=n_resamples)
    try:
        first = render(board, dict(KIT_OPTIONS))
    except Exception as exc:  # noqa: BLE001
        report.fail("render", f"render(board, options) raised {exception_line(exc)}")
        return report
    if not isinstance(first, expected):
        report.fail("render", f"returned {type(first).__name__}; the spec declares binary={spec.binary}, so it "
                              f"must return {expected.__name__}")
        return report
    if not first:
        report.fail("render", f"returned an empty {expected.__name__} for a board of {len(board.cells)} results")
        return report
    report.ok_("render", f"{_describe(first)} for a board of {len(board.rows)} rows x {len(board.tasks)} columns")

    try:
        again = render(board, dict(KIT_OPTIONS))
        rebuilt = render(build_leaderboard(records, n_resamples=n_resamples), dict(KIT_OPTIONS))
    except Exception as exc:  # noqa: BLE001
        report.fail("deterministic", f"a second render raised {exception_line(exc)}")
    else:
        if again != first:
            report.fail("deterministic", "rendering the same board twice gives different output (a time stamp or "
                                         "a random order?)")
        elif rebuilt != first:
            report.fail("deterministic", "a board built again from the same records renders differently")
        else:
            report.ok_("deterministic", "the same board, and the same records, render the same")

    try:
        empty = render(build_leaderboard([]), dict(KIT_OPTIONS))
    except Exception as exc:  # noqa: BLE001
        report.fail("empty board", f"a board with no results raised {exception_line(exc)}")
    else:
        if isinstance(empty, expected):
            report.ok_("empty board", _describe(empty))
        else:
            report.fail("empty board", f"returned {type(empty).__name__}, not {expected.__name__}")
    return report
