"""`stemdeck up` as `make run` starts it: a real process tree (embedded Redis, SQLite, API,
worker, reconciler) that stays up when one of its processes dies, and whose Redis asks
for a password."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import numpy as np
import psutil
import pytest
import soundfile as sf
from redis import Redis

from tests.integration.stack import FINAL, free_port
from tests.waiting import wait_until

pytestmark = pytest.mark.slow

# Fast heartbeats so a dead worker's job is queued again in seconds, not the production 30 s.
FAST_RECOVERY = {
    "STEMDECK_HEARTBEAT_INTERVAL_S": "0.5",
    "STEMDECK_HEARTBEAT_TIMEOUT_S": "3",
    "STEMDECK_RECONCILE_INTERVAL_S": "0.5",
}
SHORT_SONG = "The_Easton_Ellises__Falcon_69"


@dataclass
class Up:
    process: subprocess.Popen[bytes]
    base_url: str
    log: Path

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def child(self, name: str) -> psutil.Process:
        """The running `stemdeck <name>` (or redis-server) that `up` started."""
        for process in psutil.Process(self.process.pid).children():
            try:
                command = " ".join(process.cmdline())
            except psutil.NoSuchProcess:
                continue
            if command.endswith(f"stemdeck.core.cli {name}") or name in process.name():
                return process
        raise AssertionError(f"no {name} runs under stemdeck up: {self.output()}")

    def job(self, job_id: str) -> dict[str, Any]:
        body: dict[str, Any] = httpx.get(f"{self.base_url}/api/jobs/{job_id}", timeout=10).json()
        return body

    def submit(self, song: Path) -> str:
        with song.open("rb") as handle:
            response = httpx.post(
                f"{self.base_url}/api/jobs",
                files={"file": (song.name, handle)},
                data={"strategy": "four-stems-dsp"},
                timeout=60,
            )
        assert response.status_code == 202, response.text
        return str(response.json()["id"])

    def wait_for(self, job_id: str) -> dict[str, Any]:
        def final() -> dict[str, Any] | None:
            job = self.job(job_id)
            return job if job["status"] in FINAL else None

        return wait_until(
            final,
            300,
            lambda: f"job {job_id} did not finish: {self.job(job_id)}; {self.output()}",
            poll_s=0.2,
        )


@contextmanager
def stemdeck_up(data: Path, log: Path, **env: str) -> Iterator[Up]:
    """`stemdeck up` with nothing but a data dir and a port, until /ready answers 200;
    stopped with SIGINT (Ctrl-C) afterwards if the test has not stopped it."""
    port = free_port()
    environment = {k: v for k, v in os.environ.items() if not k.startswith("STEMDECK_")}
    environment.update(STEMDECK_DATA_DIR=str(data), STEMDECK_PORT=str(port), **env)
    with log.open("wb") as handle:
        process = subprocess.Popen(
            [sys.executable, "-m", "stemdeck.core.cli", "up"],
            env=environment,
            stdout=handle,
            stderr=subprocess.STDOUT,
        )
    up = Up(process, f"http://127.0.0.1:{port}", log)

    def ready() -> bool:
        assert process.poll() is None, up.output()
        try:
            return httpx.get(f"{up.base_url}/ready", timeout=2).status_code == 200
        except httpx.TransportError:
            return False

    try:
        wait_until(ready, 120, lambda: f"stemdeck up did not get ready: {up.output()}")
        yield up
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                process.kill()


def stop(up: Up) -> None:
    """Ctrl-C: `up` exits 0 and takes every process it started with it."""
    descendants = psutil.Process(up.process.pid).children(recursive=True)
    up.process.send_signal(signal.SIGINT)
    assert up.process.wait(timeout=60) == 0, up.output()
    for child in descendants:
        assert not child.is_running() or child.status() == psutil.STATUS_ZOMBIE, child


def resp(port: int, *command: str) -> bytes:
    """Redis's first answer line to ``command`` sent as redis-cli sends it, over a new
    connection with no password."""
    request = f"*{len(command)}\r\n".encode()
    for part in command:
        request += f"${len(part.encode())}\r\n{part}\r\n".encode()
    with socket.create_connection(("127.0.0.1", port), timeout=10) as connection:
        connection.sendall(request)
        return connection.makefile("rb").readline()


@pytest.fixture
def long_song(shared_audio: Path, tmp_path: Path) -> Path:
    """Two minutes of music: a worker is still separating it when it is killed."""
    audio, rate = sf.read(shared_audio / SHORT_SONG / "mixture.wav", dtype="float32")
    path = tmp_path / "long.flac"
    sf.write(path, np.tile(audio, (20, 1)), rate)
    return path


class HealthWatch:
    """Asks /health every 0.1 s in a thread; keeps each answer that was not a 200."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        self.asked = 0
        self.failures: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)

    def __enter__(self) -> HealthWatch:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join(timeout=30)

    def _watch(self) -> None:
        with httpx.Client(base_url=self.base_url, timeout=10) as client:
            while not self._stop.wait(0.1):
                try:
                    status = client.get("/health").status_code
                except httpx.TransportError as error:
                    self.failures.append(repr(error))
                else:
                    if status != 200:
                        self.failures.append(f"HTTP {status}")
                self.asked += 1


def test_a_killed_worker_is_started_again_and_its_job_completes_as_attempt_two(
    long_song: Path, tmp_path: Path
) -> None:
    """GIVEN `stemdeck up` separating a long song WHEN its worker is killed with SIGKILL (as
    the OOM killer does) THEN the API answers /health throughout, `up` says how the worker
    died and starts a new one, the job completes on it as attempt 2, and the API, the
    reconciler and Redis are the processes they were before."""
    with stemdeck_up(tmp_path / "data", tmp_path / "up.log", **FAST_RECOVERY) as up:
        others = {name: up.child(name).pid for name in ("api", "reconciler", "redis-server")}
        job_id = up.submit(long_song)
        wait_until(
            lambda: (
                (job := up.job(job_id))["status"] == "running"
                and job["stage"].startswith("separating")
            ),
            240,
            lambda: f"the job never reached separating: {up.job(job_id)}",
        )
        worker = up.child("worker")
        with HealthWatch(up.base_url) as health:
            worker.send_signal(signal.SIGKILL)
            worker.wait(timeout=30)
            job = up.wait_for(job_id)
        new_worker = up.child("worker")
        still = {name: up.child(name).pid for name in others}
        output = up.output()
        stop(up)

    assert (job["status"], job["attempts"]) == ("completed", 2), job["error"]
    assert [stem["name"] for stem in job["stems"]] == ["vocals", "drums", "bass", "other"]
    assert health.asked > 0 and health.failures == []
    assert new_worker.pid != worker.pid
    assert still == others
    assert f"worker (pid {worker.pid}) was killed by SIGKILL" in output
    assert "starting it again" in output
    assert f"job {job_id} lost its worker (attempt 1)" in output


def test_the_embedded_redis_refuses_clients_without_this_run_s_password(
    shared_audio: Path, tmp_path: Path
) -> None:
    """GIVEN `stemdeck up` WHEN another local program talks to its Redis without the
    password (or with a wrong one) THEN it is refused and queues nothing, while the stack
    completes a job; the password is on no command line and in no output, and the next
    run has another."""
    data, song = tmp_path / "data", shared_audio / SHORT_SONG / "mixture.wav"
    with stemdeck_up(data, tmp_path / "up.log") as up:
        redis_server = up.child("redis-server")
        (port,) = {c.laddr.port for c in redis_server.net_connections() if c.status == "LISTEN"}
        url = up.child("api").environ()["STEMDECK_REDIS_URL"]
        password = urlsplit(url).password
        assert password and urlsplit(url).port == port
        assert resp(port, "LPUSH", "rq:queue:separate", "a job id").startswith(b"-NOAUTH")
        assert resp(port, "AUTH", "stemdeck").startswith(b"-WRONGPASS")
        assert Redis.from_url(url).exists("rq:queue:separate") == 0

        job = up.wait_for(up.submit(song))
        assert job["status"] == "completed", job["error"]
        descendants = psutil.Process(up.process.pid).children(recursive=True)
        commands = [" ".join(p.cmdline()) for p in descendants]
        stop(up)
    with stemdeck_up(data, tmp_path / "up-again.log") as again:
        next_url = again.child("api").environ()["STEMDECK_REDIS_URL"]

    assert [c for c in commands if password in c] == []
    assert password not in up.output()
    assert urlsplit(next_url).password not in {None, password}


def test_a_child_that_keeps_failing_at_start_up_stops_everything_saying_why(
    tmp_path: Path,
) -> None:
    """GIVEN a strategies file the API and the worker refuse WHEN `stemdeck up` runs THEN
    each refusal is printed and the process started again, until one has failed five times
    in a row: then `up` stops everything, Redis too, and exits 1 saying so."""
    broken = tmp_path / "strategies.yaml"
    broken.write_text(
        "strategies:\n  s:\n    tree: {model: builtin:hpss, outputs: {harmonic: a}}\n"
    )
    port = free_port()
    environment = {k: v for k, v in os.environ.items() if not k.startswith("STEMDECK_")}
    environment.update(
        STEMDECK_DATA_DIR=str(tmp_path / "data"),
        STEMDECK_PORT=str(port),
        STEMDECK_STRATEGIES_FILE=str(broken),
    )
    process = subprocess.Popen(
        [sys.executable, "-m", "stemdeck.core.cli", "up"],
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    redis_server = wait_until(
        lambda: [p for p in psutil.Process(process.pid).children() if "redis" in p.name()],
        60,
        "the embedded Redis did not start",
    )[0]
    output, _ = process.communicate(timeout=300)
    text = output.decode(errors="replace")

    assert process.returncode == 1, text
    assert "slot(s) ['percussive'] of builtin:hpss are not mapped" in text
    assert "exited with code 2, 5 times in a row within 30 s of starting" in text
    assert "stopping everything" in text
    assert not redis_server.is_running() or redis_server.status() == psutil.STATUS_ZOMBIE


def three_free_ports() -> int:
    """A port whose next two are free too: `up` serves metrics on it, +1 and +2."""
    for _ in range(50):
        base = free_port()
        try:
            with socket.socket() as one, socket.socket() as two:
                one.bind(("127.0.0.1", base + 1))
                two.bind(("127.0.0.1", base + 2))
        except OSError:
            continue
        return base
    raise AssertionError("no three free ports in a row on loopback")


def test_up_serves_each_processs_metrics_on_its_own_port(tmp_path: Path) -> None:
    """One host, three processes: the API's /metrics on STEMDECK_METRICS_PORT, the
    worker's on the next port and the reconciler's on the one after."""
    base = three_free_ports()
    own = {
        base: "stemdeck_http_requests_total",
        base + 1: "stemdeck_worker_busy",
        base + 2: "stemdeck_queue_depth",
    }
    with stemdeck_up(tmp_path / "data", tmp_path / "up.log", STEMDECK_METRICS_PORT=str(base)):
        for port, metric in own.items():

            def served(port: int = port, metric: str = metric) -> str | None:
                try:
                    text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
                except httpx.TransportError:
                    return None
                return text if metric in text else None

            text = wait_until(served, 60, f"no {metric} on port {port}")
            for other in set(own.values()) - {metric}:
                assert other not in text, f"port {port} serves {other} too"
