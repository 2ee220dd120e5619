"""The ``slurm_cluster`` fixture: a real single-node Slurm cluster (scripts/cluster.sh) for this session, and the
``scale_matrix`` fixture: a tiny matrix for the executor to run.

The cluster is started if it is not already up and healthy. Each session holds a lease on it (its pid): at the end
of the session the cluster is stopped if a session's fixture started it and no other live session holds a lease,
and left running if it was started by hand (`plugins/biobench-slurm/scripts/cluster.sh start`). If it cannot start
(Slurm not installed, not root, a daemon that dies), every test that uses the fixture FAILS with the script's reason
and the daemon's log tail: the Slurm tests are never skipped.
"""

from __future__ import annotations

import os
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from biobench_core.testing import ScaleMatrix, reset_registry
from biobench_slurm.executor import environ_over

REPO = Path(__file__).resolve().parents[3]
CLUSTER_SH = Path(__file__).resolve().parents[1] / "scripts" / "cluster.sh"
DEFAULT_DIR = "/tmp/biobench-slurm"


@dataclass(frozen=True)
class SlurmCluster:
    """A running cluster: ``env`` (already in ``os.environ`` for the session) reaches it from sbatch and submitit."""

    partition: str
    env: dict[str, str]
    dir: Path
    started_here: bool  # whether this session started the daemons (False: it found the cluster up)
    startup_s: float  # how long `cluster.sh start` took (the daemons started, or a running cluster reused)
    log_dir: Path = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "log_dir", self.dir / "log")

    def executor(self, folder: os.PathLike | str, **parameters):
        """A ``submitit.AutoExecutor`` for this cluster's partition (``parameters`` go to update_parameters)."""
        import submitit

        executor = submitit.AutoExecutor(folder=folder, cluster="slurm")
        executor.update_parameters(**{"slurm_partition": self.partition, "timeout_min": 10, "cpus_per_task": 1,
                                      **parameters})
        return executor


def run_cluster_sh(*args: str, env: dict[str, str] | None = None,
                   timeout: float = 300) -> subprocess.CompletedProcess:
    """Run ``scripts/cluster.sh ARGS``; stdout and stderr captured as text (the daemons never hold them)."""
    return subprocess.run(["bash", str(CLUSTER_SH), *args], capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, **(env or {})}, stdin=subprocess.DEVNULL)


def read_env_file(path: Path) -> dict[str, str]:
    env = {}
    for line in path.read_text().splitlines():
        if "=" in line and not line.lstrip().startswith("#"):
            key, value = line.split("=", 1)
            env[key.strip()] = value
    return env


_STARTUP_REPORT: list[str] = []


@pytest.fixture(autouse=True)
def _fresh_registry():
    """Each test discovers the plugins its environment names (BIOBENCH_LOAD_PLUGINS), not a registry left over."""
    reset_registry()
    yield
    reset_registry()


@pytest.fixture(scope="session")
def cluster_sh():
    """``cluster_sh(*args, env=None, timeout=300)``: run scripts/cluster.sh (e.g. on a private directory)."""
    return run_cluster_sh


@pytest.fixture(scope="session")
def slurm_cluster():
    cluster_dir = Path(os.environ.get("BIOBENCH_SLURM_DIR", DEFAULT_DIR))
    lease = str(os.getpid())  # concurrent sessions share the cluster: the last one out stops it (if one started it)
    t0 = time.monotonic()
    try:
        proc = run_cluster_sh("start", "--lease", lease)
    except subprocess.TimeoutExpired as exc:
        proc = subprocess.CompletedProcess(exc.cmd, 124, exc.stdout or "", f"{exc.stderr or ''}\n(timed out)")
    startup_s = time.monotonic() - t0
    if proc.returncode != 0:
        run_cluster_sh("release", lease, timeout=120)  # stops the daemons that did start, unless others use them
        pytest.fail(f"could not start the local Slurm cluster (`{CLUSTER_SH.relative_to(REPO)} start` exited "
                    f"{proc.returncode}; see docs/slurm-dev.md):\n{proc.stderr.strip()}", pytrace=False)
    env = read_env_file(cluster_dir / "env")
    started = "(reused)" not in proc.stderr
    cluster = SlurmCluster(partition=env.get("BIOBENCH_SLURM_PARTITION", "debug"), env=env, dir=cluster_dir,
                           started_here=started, startup_s=startup_s)
    _STARTUP_REPORT.append(f"slurm cluster: {'started' if started else 'already up, reused'} in {startup_s:.1f}s, "
                           f"SLURM_CONF={env.get('SLURM_CONF')}")
    try:
        with environ_over(env):  # submitit's sbatch/sacct/scancel subprocesses read it
            yield cluster
    finally:
        t0 = time.monotonic()
        release = run_cluster_sh("release", lease, timeout=120)
        lines = release.stderr.strip().splitlines() or [f"release exited {release.returncode}"]
        _STARTUP_REPORT.append(f"slurm cluster: {lines[-1].split('] ', 1)[-1]} [{time.monotonic() - t0:.1f}s]")


def pytest_terminal_summary(terminalreporter) -> None:
    for line in _STARTUP_REPORT:
        terminalreporter.write_line(line)


@pytest.fixture
def scale_matrix(tmp_path, monkeypatch):
    """The kit's :class:`~biobench_core.testing.ScaleMatrix` with biobench-slurm loaded, its environment set here."""
    matrix = ScaleMatrix.create(tmp_path, load_plugins=("biobench-slurm",))
    for key, value in matrix.env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    return matrix
