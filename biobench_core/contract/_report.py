"""``BenchmarkReport``: one task's per-example scores for one backbone, and their bootstrap interval.

Torch-free, so that ``biobench report`` never imports torch.
"""

from __future__ import annotations

import dataclasses
import socket
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["BenchmarkReport", "get_git_hash", "bootstrap_interval", "default_gpu_name"]

_STATISTICS = {"mean": np.mean, "median": np.median}


def get_git_hash(cwd: str | Path | None = None) -> str:
    """The commit of the git checkout at ``cwd`` (default: the current directory), or ``"unknown"``."""
    try:
        proc = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=cwd, capture_output=True, text=True, timeout=5, check=False
        )
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    commit = proc.stdout.strip()
    return commit if proc.returncode == 0 and commit else "unknown"


def default_gpu_name() -> str:
    """The CUDA device's name when torch is loaded and sees one, else ``"cpu"``. Never raises, never imports torch."""
    torch = sys.modules.get("torch")
    try:
        if torch is not None and torch.cuda.is_available():
            return str(torch.cuda.get_device_name())
    except Exception:  # noqa: BLE001 - a broken driver still means "no usable GPU"
        pass
    return "cpu"


def bootstrap_interval(
    scores: Sequence[float] | np.ndarray,
    *,
    statistic: str = "mean",
    confidence: float = 95,
    n_resamples: int = 500,
    seed: int = 42,
) -> tuple[float, float]:
    """Percentile bootstrap interval of ``statistic`` over examples.

    Resamples the examples with replacement ``n_resamples`` times, takes the statistic of each resample, and
    returns the ``(100 - confidence) / 2`` and ``100 - (100 - confidence) / 2`` percentiles of those values.
    """
    if statistic not in _STATISTICS:
        raise ValueError(f"statistic must be one of {sorted(_STATISTICS)}, got {statistic!r}")
    if not 0 < confidence < 100:
        raise ValueError(f"confidence is a percentage in (0, 100), got {confidence}")
    values = np.asarray(scores, dtype=np.float64)
    if values.ndim != 1 or values.size == 0:
        raise ValueError("need a non-empty 1-D sequence of scores")
    from biobench_core.contract._resample import resample_index

    # One seeded stream of (n_resamples, n) positions, drawn in chunks of rows so memory stays bounded; the draws
    # do not depend on the chunk size.
    stats = np.concatenate([_STATISTICS[statistic](values[index], axis=1)  # one statistic per resample
                            for index in resample_index(values.size, n_resamples, seed)])
    alpha = (100 - confidence) / 2
    low, high = np.percentile(stats, [alpha, 100 - alpha])
    return float(low), float(high)


@dataclasses.dataclass
class BenchmarkReport:
    """One backbone's results on one task.

    ``examples`` holds ``(example_id, score, info)`` per test example; ``splits`` named sub-scores.
    """

    name: str
    examples: list[tuple[str, float, dict[str, Any]]]
    splits: dict[str, float] = dataclasses.field(default_factory=dict)
    argv: list[str] = dataclasses.field(default_factory=lambda: list(sys.argv))
    commit: str = dataclasses.field(default_factory=get_git_hash)
    posix_time: float = dataclasses.field(default_factory=time.time)
    gpu_name: str = dataclasses.field(default_factory=default_gpu_name)
    hostname: str = dataclasses.field(default_factory=socket.gethostname)

    @property
    def scores(self) -> np.ndarray:
        return np.array([score for _, score, _ in self.examples], dtype=np.float64)

    @property
    def mean_score(self) -> float:
        if not self.examples:
            raise ValueError(f"{self.name}: no examples, so no mean score")
        return float(self.scores.mean())

    def get_confidence_interval(
        self, statistic: str = "mean", confidence: float = 95, n_resamples: int = 500, seed: int = 42
    ) -> tuple[float, float]:
        """Percentile bootstrap interval over the examples; see :func:`bootstrap_interval`."""
        return bootstrap_interval(
            self.scores, statistic=statistic, confidence=confidence, n_resamples=n_resamples, seed=seed
        )
