"""BenchmarkReport and the percentile bootstrap, checked against scipy.stats.bootstrap."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from scipy import stats

from biobench_core.contract._report import BenchmarkReport, bootstrap_interval, get_git_hash


def _report(scores):
    return BenchmarkReport(name="t", examples=[(f"ex{i}", float(s), {}) for i, s in enumerate(scores)])


@pytest.mark.parametrize(
    "scores",
    [
        np.random.default_rng(0).integers(0, 2, 200).astype(float),  # accuracy-like 0/1 scores
        np.random.default_rng(1).normal(0.6, 0.2, 57),  # continuous scores, odd n
        np.random.default_rng(2).exponential(1.0, 400),  # skewed
        np.r_[np.ones(30), np.zeros(3)],  # near the boundary
    ],
)
@pytest.mark.parametrize("confidence", [95, 80])
def test_interval_matches_scipy_percentile_bootstrap(scores, confidence):
    n_resamples = 20_000
    ours = _report(scores).get_confidence_interval(confidence=confidence, n_resamples=n_resamples, seed=3)
    ref = stats.bootstrap((scores,), np.mean, confidence_level=confidence / 100, n_resamples=n_resamples,
                          method="percentile", random_state=np.random.default_rng(4)).confidence_interval
    # Two independent Monte-Carlo runs of the same estimator: they agree to a small fraction of the standard error.
    # 0/1 scores make the resampled means a grid of step 1/n, so allow one grid step there.
    se = scores.std(ddof=1) / np.sqrt(len(scores))
    tol = max(0.06 * se, 1.01 / len(scores) if set(np.unique(scores)) <= {0.0, 1.0} else 0.0)
    assert ours[0] == pytest.approx(ref.low, abs=tol)
    assert ours[1] == pytest.approx(ref.high, abs=tol)
    # And both match the normal approximation roughly: the interval is over the mean, not over single examples.
    z = stats.norm.ppf(0.5 + confidence / 200)
    assert ours[1] - ours[0] == pytest.approx(2 * z * se, rel=0.15)


def test_interval_is_of_the_mean_not_of_the_examples():
    scores = np.random.default_rng(5).integers(0, 2, 1000).astype(float)
    low, high = _report(scores).get_confidence_interval()
    assert 0.4 < low < scores.mean() < high < 0.6  # a per-example interval would be (0, 1)


def test_single_example_and_all_equal_scores():
    assert _report([0.7]).get_confidence_interval() == (0.7, 0.7)
    assert _report([1.0] * 25).get_confidence_interval() == (1.0, 1.0)
    ref = stats.bootstrap((np.ones(25),), np.mean, method="percentile", random_state=0).confidence_interval
    assert (ref.low, ref.high) == (1.0, 1.0)
    # scipy refuses n=1 ("two or more observations"); every resample of one example is that example.
    with pytest.raises(ValueError):
        stats.bootstrap((np.array([0.7]),), np.mean, method="percentile", random_state=0)


def test_defaults_are_deterministic_and_mean_score():
    report = _report([1, 0, 1, 1, 0, 1])
    assert report.mean_score == pytest.approx(4 / 6)
    assert report.get_confidence_interval() == report.get_confidence_interval()
    continuous = _report(np.random.default_rng(0).normal(size=50))
    assert continuous.get_confidence_interval(seed=1) != continuous.get_confidence_interval(seed=2)
    low, high = report.get_confidence_interval(statistic="median")
    assert 0 <= low <= high <= 1


def test_bad_arguments_are_clear():
    with pytest.raises(ValueError, match="statistic"):
        bootstrap_interval([1.0], statistic="mode")
    with pytest.raises(ValueError, match="non-empty"):
        bootstrap_interval([])
    with pytest.raises(ValueError, match="confidence"):
        bootstrap_interval([1.0], confidence=1.5 * 100)
    with pytest.raises(ValueError, match="no examples"):
        _ = _report([]).mean_score


def test_defaults_never_crash_outside_git_and_without_gpu(tmp_path):
    assert get_git_hash(tmp_path) == "unknown"
    code = ("import os; os.chdir(%r)\n"
            "from biobench_core import BenchmarkReport\n"
            "r = BenchmarkReport(name='x', examples=[('a', 1.0, {})])\n"
            "print(r.commit, r.gpu_name, bool(r.hostname), r.posix_time > 0)\n") % str(tmp_path)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60)
    assert out.stdout.split() == ["unknown", "cpu", "True", "True"]


def test_git_hash_inside_a_checkout(tmp_path):
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    subprocess.run(["git", "-C", str(tmp_path), "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q",
                    "--allow-empty", "-m", "x"], check=True)
    commit = get_git_hash(tmp_path)
    assert len(commit) == 40 and all(c in "0123456789abcdef" for c in commit)


def test_chunked_resampling_gives_the_unchunked_interval(monkeypatch):
    from biobench_core.contract import _resample as bb_stats

    scores = np.random.default_rng(6).normal(size=3000)
    rng = np.random.default_rng(11)
    index = rng.integers(0, scores.size, size=(500, scores.size))  # the documented draw, all at once
    expected = tuple(float(v) for v in np.percentile(scores[index].mean(axis=1), [2.5, 97.5]))
    monkeypatch.setattr(bb_stats, "CHUNK_ELEMENTS", 7 * scores.size)  # 7 resamples per chunk
    assert bootstrap_interval(scores, n_resamples=500, seed=11) == expected
    assert _report(scores).get_confidence_interval(seed=11) == expected
