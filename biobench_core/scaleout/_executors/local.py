"""The local executor: worker processes on this machine (``python -m biobench_core.scaleout._worker``).

With ``devices`` (``--devices 0,1``) each worker sees one GPU (``CUDA_VISIBLE_DEVICES``), one worker per GPU; on
CPU the cores are split between the workers (``OMP_NUM_THREADS`` and torch's thread count). Each worker's
environment is this process's with the factory's ``env`` over it. Their output goes to this process's standard
error, each line prefixed with the worker's name.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from biobench_core.scaleout._config import ConfigError, ExecutorConfig
from biobench_core.scaleout._worker import WorkerJob

__all__ = ["LocalExecutor"]


class _Process:
    def __init__(self, name: str, proc: subprocess.Popen, device: int | None) -> None:
        self.name, self.proc, self.device = name, proc, device

    def done(self) -> bool:
        return self.proc.poll() is not None

    def error(self) -> str | None:
        code = self.proc.poll()
        if code in (None, 0):
            return None
        if code < 0:
            return f"killed by {signal.Signals(-code).name}"
        return f"exited with status {code}"

    def cancel(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()  # SIGTERM: the worker releases its claim
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def _check_visible(devices: tuple[int, ...]) -> None:
    """Refuse GPU indices torch cannot see (a worker would silently run on the CPU instead), naming what is."""
    if not devices:
        return
    import torch

    visible = torch.cuda.device_count() if torch.cuda.is_available() else 0
    missing = [d for d in devices if d >= visible]
    if missing:
        seen = "no GPU" if visible == 0 else f"{visible} GPU(s): {', '.join(map(str, range(visible)))}"
        raise ConfigError(f"[executor] devices: GPU {', '.join(map(str, missing))} not visible; torch sees {seen} "
                          "(drop devices to run CPU workers, or check CUDA_VISIBLE_DEVICES)")


class LocalExecutor:
    kind = "local"

    def __init__(self, config: ExecutorConfig, results_dir: Path, env: dict[str, str] | None = None) -> None:
        self.devices = tuple(config.devices)
        _check_visible(self.devices)
        self.env = dict(env or {})
        self.default_workers = len(self.devices) or config.jobs or 1
        self.threads = max(1, (os.cpu_count() or 1) // max(1, self.default_workers))
        self.running: list[_Process] = []

    def start(self, jobs: list[WorkerJob]) -> list[_Process]:
        started = []
        for job in jobs:
            self.running = [p for p in self.running if not p.done()]
            env = {**os.environ, **self.env, "PYTHONUNBUFFERED": "1"}
            device = None
            if self.devices:
                busy = {p.device for p in self.running}
                device = next((d for d in self.devices if d not in busy), self.devices[0])
                env["CUDA_VISIBLE_DEVICES"] = str(device)
            else:
                env["OMP_NUM_THREADS"] = str(self.threads)
                job.threads = job.threads or self.threads
            proc = subprocess.Popen([sys.executable, "-m", "biobench_core.scaleout._worker"], stdin=subprocess.PIPE,
                                    env=env)
            assert proc.stdin is not None
            proc.stdin.write(job.to_json().encode())
            proc.stdin.close()
            handle = _Process(job.label, proc, device)
            self.running.append(handle)
            started.append(handle)
        return started
