"""Run the real `stemdeck api` and `stemdeck worker` processes for end-to-end tests."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from stemdeck.core.settings import Settings
from tests.waiting import wait_until

# The states a job ends in.
FINAL = {"completed", "failed", "cancelled"}


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
        # Where weights would come from (a closed port on loopback in tests): the stack's
        # readiness checks and downloads never reach the real hosts.
        STEMDECK_MODEL_MIRROR=settings.model_mirror,
        PYTHONUNBUFFERED="1",
    )
    env.update(extra)
    return env


def wait_for_http(
    url: str, process: subprocess.Popen[bytes], log: Path, timeout_s: float = 60
) -> None:
    """Until ``url`` answers at all; the process's log if it exits or never answers."""

    def answers() -> bool:
        if process.poll() is not None:
            raise AssertionError(f"{process.args} exited: {log.read_text()}")
        try:
            httpx.get(url, timeout=1)
        except httpx.TransportError:
            return False
        return True

    wait_until(answers, timeout_s, lambda: f"{url} did not answer: {log.read_text()}")


@dataclass
class Stack:
    base_url: str
    api: subprocess.Popen[bytes]
    workers: list[subprocess.Popen[bytes]]
    env: dict[str, str]
    log_dir: Path

    def start_worker(self) -> subprocess.Popen[bytes]:
        index = len(self.workers)
        proc = _spawn(["worker"], self.env, self.log_dir / f"worker-{index}.log")
        self.workers.append(proc)
        return proc

    def client(self, timeout: float = 60) -> httpx.Client:
        # Stem and waveform URLs answer 307 to a short-lived link, as a browser follows.
        return httpx.Client(base_url=self.base_url, timeout=timeout, follow_redirects=True)

    def wait_for(self, job_id: str, timeout_s: float = 300, poll_s: float = 0.2) -> dict[str, Any]:
        """The job once it is final (completed, failed or cancelled), asked every ``poll_s``."""
        last: dict[str, Any] = {}
        with self.client() as client:

            def final() -> dict[str, Any] | None:
                job: dict[str, Any] = client.get(f"/api/jobs/{job_id}").json()
                last.clear()
                last.update(job)
                return job if job["status"] in FINAL else None

            return wait_until(
                final,
                timeout_s,
                lambda: (
                    f"job {job_id} did not finish (last seen: {last.get('status')}, "
                    f"{last.get('stage')}); logs in {self.log_dir}"
                ),
                poll_s=poll_s,
            )

    def wait_until(
        self, predicate: Callable[[], object], what: str, timeout_s: float = 240
    ) -> None:
        """Until ``predicate`` holds; the failure points at this stack's logs."""
        wait_until(predicate, timeout_s, f"{what} did not happen; logs in {self.log_dir}")


def _spawn(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    handle = log.open("wb")
    return subprocess.Popen(
        [sys.executable, "-m", "stemdeck.core.cli", *args],
        env=env,
        stdout=handle,
        stderr=subprocess.STDOUT,
    )


@contextmanager
def running_stack(
    settings: Settings, *, workers: int = 1, reconciler: bool = False, **extra_env: str
) -> Iterator[Stack]:
    port = free_port()
    env = settings_env(settings, STEMDECK_PORT=str(port), **extra_env)
    log_dir = settings.data_dir / "logs"
    log_dir.mkdir(parents=True, exist_ok=True)
    api = _spawn(["api"], env, log_dir / "api.log")
    procs = [_spawn(["worker"], env, log_dir / f"worker-{i}.log") for i in range(workers)]
    stack = Stack(f"http://127.0.0.1:{port}", api, procs, env, log_dir)
    helpers = [_spawn(["reconciler"], env, log_dir / "reconciler.log")] if reconciler else []
    try:
        wait_for_http(f"{stack.base_url}/health", api, log_dir / "api.log", timeout_s=30)
        yield stack
    finally:
        everything = [api, *stack.workers, *helpers]
        for proc in everything:
            if proc.poll() is None:
                proc.terminate()
        for proc in everything:
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
