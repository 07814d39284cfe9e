"""Run the real `stemdeck api` and `stemdeck worker` processes for end-to-end tests."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from stemdeck.core.settings import Settings


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def settings_env(settings: Settings, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("STEMDECK_")}
    env.update(
        STEMDECK_DATA_DIR=str(settings.data_dir),
        STEMDECK_DATABASE_URL=settings.effective_database_url,
        STEMDECK_REDIS_URL=settings.redis_url,
        STEMDECK_MAX_UPLOAD_MB=str(settings.max_upload_mb),
        STEMDECK_MAX_DURATION_S=str(settings.max_duration_s),
        PYTHONUNBUFFERED="1",
    )
    env.update(extra)
    return env


@dataclass
class Stack:
    base_url: str
    api: subprocess.Popen[bytes]
    workers: list[subprocess.Popen[bytes]]
    env: dict[str, str]
    log_dir: Path

    def start_worker(self) -> subprocess.Popen[bytes]:
        """One more worker; the stack stops it with the others."""
        worker = _spawn(["worker"], self.env, self.log_dir / f"worker-{len(self.workers)}.log")
        self.workers.append(worker)
        return worker

    def client(self, timeout: float = 60) -> httpx.Client:
        return httpx.Client(base_url=self.base_url, timeout=timeout)

    def wait_for(self, job_id: str, timeout_s: float = 300, poll_s: float = 0.2) -> dict[str, Any]:
        deadline = time.monotonic() + timeout_s
        with self.client() as client:
            while time.monotonic() < deadline:
                job: dict[str, Any] = client.get(f"/api/jobs/{job_id}").json()
                if job["status"] in {"completed", "failed", "cancelled"}:
                    return job
                time.sleep(0.2)
        raise AssertionError(
            f"job {job_id} did not finish in {timeout_s} s; logs in {self.log_dir}"
        )


def _spawn(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    handle = log.open("wb")
    return subprocess.Popen(
        [sys.executable, "-m", "stemdeck.core.cli", *args],
        env=env,
        stdout=handle,
        stderr=subprocess.STDOUT,
    )


@contextmanager
def running_stack(settings: Settings, *, workers: int = 1, **extra_env: str) -> Iterator[Stack]:
    port = free_port()
    env = settings_env(settings, STEMDECK_PORT=str(port), **extra_env)
    log_dir = settings.data_dir / "logs"
    log_dir.mkdir(parents=True, exist_ok=True)
    api = _spawn(["api"], env, log_dir / "api.log")
    procs = [_spawn(["worker"], env, log_dir / f"worker-{i}.log") for i in range(workers)]
    stack = Stack(f"http://127.0.0.1:{port}", api, procs, env, log_dir)
    try:
        deadline = time.monotonic() + 30
        while True:
            if api.poll() is not None:
                raise AssertionError((log_dir / "api.log").read_text())
            try:
                if httpx.get(f"{stack.base_url}/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise AssertionError("the API did not start in 30 s")
            time.sleep(0.1)
        yield stack
    finally:
        for proc in [api, *stack.workers]:
            proc.terminate()
        for proc in [api, *stack.workers]:
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
