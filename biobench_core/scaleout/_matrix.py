"""Where a matrix stands: which experiments are done, claimed by a running job, failed, or left; what is left costs.

``biobench plan --config FILE`` (or ``biobench run --config FILE --dry-run``) and ``biobench status`` print it; the
launcher (:mod:`biobench_core.scaleout._launcher`) polls it to know when to start more workers and when to stop.

The estimate of what is left uses the throughput recorded by earlier results of the same backbone in the store:
the median images per second of its extractions times the images left, plus the median seconds its probes took.
It ignores the feature cache (an upper bound) and says ``unknown`` for a backbone that never ran here.
"""

from __future__ import annotations

import dataclasses
import statistics
import time
from collections.abc import Sequence
from typing import Any

from biobench_core.scaleout._claims import ClaimRow, FailureRow, claims, failures, is_live
from biobench_core.scaleout._runner import Cell, RunOptions, done_check
from biobench_core.results._store import ResultsStore

__all__ = ["Survey", "survey", "Estimate", "estimate", "format_plan", "format_duration"]


@dataclasses.dataclass
class Survey:
    """The cells of a matrix by state. ``left`` holds those a worker may claim now (failed ones with attempts
    left too); ``failed`` those that failed ``max_attempts`` times; ``claimed`` those a live process holds."""

    done: list[Cell] = dataclasses.field(default_factory=list)
    left: list[Cell] = dataclasses.field(default_factory=list)
    claimed: list[tuple[Cell, ClaimRow]] = dataclasses.field(default_factory=list)
    failed: list[tuple[Cell, FailureRow]] = dataclasses.field(default_factory=list)
    retrying: dict[Any, FailureRow] = dataclasses.field(default_factory=dict)  # left cells that failed before

    @property
    def unfinished(self) -> int:
        """Cells some process still has to run: left or claimed."""
        return len(self.left) + len(self.claimed)


def survey(store: ResultsStore | None, cells: Sequence[Cell], options: RunOptions,
           max_attempts: int | None = None) -> Survey:
    """Classify ``cells`` against the store (``None``: no store yet, everything is left)."""
    out = Survey()
    if store is None:
        out.left = list(cells)
        return out
    now = time.time()
    held = {row.key: row for row in claims(store) if is_live(row, now)}
    failed = {row.key: row for row in failures(store)}
    for cell in cells:
        stored = store.stored_state(cell.key)
        if stored is not None and done_check(cell, options)(*stored):
            out.done.append(cell)
        elif cell.key in held:
            out.claimed.append((cell, held[cell.key]))
        elif cell.key in failed and max_attempts is not None and failed[cell.key].attempts >= max_attempts:
            out.failed.append((cell, failed[cell.key]))
        else:
            out.left.append(cell)
            if cell.key in failed:
                out.retrying[cell.key] = failed[cell.key]
    return out


@dataclasses.dataclass
class Estimate:
    """Seconds per backbone id for what is left (``None``: no earlier run of that backbone to go by)."""

    images: dict[str, int]
    seconds: dict[str, float | None]
    cells: dict[str, int]

    @property
    def total(self) -> float | None:
        known = [s for s in self.seconds.values() if s is not None]
        return sum(known) if known and len(known) == len(self.seconds) else None


def estimate(store: ResultsStore | None, cells: Sequence[Cell]) -> Estimate:
    """The cost of running ``cells``, from the throughput the store recorded for each backbone."""
    images: dict[str, int] = {}
    counts: dict[str, int] = {}
    for cell in cells:
        images[cell.spec.id] = images.get(cell.spec.id, 0) + cell.n_images
        counts[cell.spec.id] = counts.get(cell.spec.id, 0) + 1
    seconds: dict[str, float | None] = {}
    for backbone in images:
        rate, fit = _throughput(store, backbone)
        seconds[backbone] = None if rate is None else images[backbone] / rate + counts[backbone] * (fit or 0.0)
    return Estimate(images, seconds, counts)


def _throughput(store: ResultsStore | None, backbone: str) -> tuple[float | None, float | None]:
    """The median images/s of the backbone's recorded extractions and the median seconds of its probe fits."""
    if store is None:
        return None, None
    rows = store.costs(backbone)
    rates = [r[0] for r in rows if r[0]]
    fits = [r[1] for r in rows if r[1] is not None]
    return (statistics.median(rates) if rates else None), (statistics.median(fits) if fits else None)


def format_duration(seconds: float | None) -> str:
    if seconds is None:
        return "unknown"
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def format_plan(found: Survey, cost: Estimate, max_attempts: int | None) -> str:
    """The ``biobench plan`` text: counts, then each claimed, failed and left experiment, then the estimate."""
    total = len(found.done) + len(found.left) + len(found.claimed) + len(found.failed)
    lines = [f"{total} experiments: {len(found.done)} done, {len(found.claimed)} claimed by a running job, "
             f"{len(found.failed)} failed" + (f" {max_attempts} times" if max_attempts and found.failed else "")
             + f", {len(found.left)} left"]
    now = time.time()
    for cell, row in found.claimed:
        lines.append(f"  claimed  {cell.name}: {row.holder()}, running {format_duration(now - row.started)}")
    for cell, row in found.failed:
        lines.append(f"  failed   {cell.name}: {row.attempts} attempts; last on {row.host}: {row.error}")
    for cell in found.left:
        again = found.retrying.get(cell.key)
        note = f"; failed {again.attempts} time(s) before: {again.error}" if again else ""
        lines.append(f"  left     {cell.name}: {cell.n_images} images{note}")
    if found.left:
        parts = [f"{backbone}: {cost.cells[backbone]} experiments, {cost.images[backbone]} images, "
                 f"{format_duration(seconds) if seconds is not None else 'unknown (no earlier run in this store)'}"
                 for backbone, seconds in cost.seconds.items()]
        lines.append(f"estimate of what is left (from earlier runs' images/s; ignores the feature cache): "
                     f"{format_duration(cost.total)} in one worker")
        lines.extend(f"  {part}" for part in parts)
    return "\n".join(lines)
