"""`stemdeck up`'s supervisor with real child processes (small Python scripts)."""

from __future__ import annotations

import logging
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psutil
import pytest

from stemdeck.core.supervisor import Child, Supervisor, how_it_ended
from tests.waiting import wait_until


def python(script: str) -> list[str]:
    return [sys.executable, "-c", script]


class Spawner:
    """Starts ``command`` in its own session, as `stemdeck up` does, and keeps every
    process it started."""

    def __init__(self, command: list[str]) -> None:
        self.command = command
        self.started: list[subprocess.Popen[bytes]] = []

    def __call__(self) -> subprocess.Popen[bytes]:
        process = subprocess.Popen(self.command, start_new_session=True)
        self.started.append(process)
        return process


@contextmanager
def supervising(supervisor: Supervisor) -> Iterator[list[int]]:
    """``supervisor.run`` in a thread; yields a list that holds its exit code once it ends."""
    result: list[int] = []
    thread = threading.Thread(target=lambda: result.append(supervisor.run(handle_signals=False)))
    thread.start()
    try:
        yield result
    finally:
        supervisor.stop()
        thread.join(timeout=60)


@pytest.mark.parametrize(
    ("returncode", "words"),
    [
        (0, "exited with code 0"),
        (2, "exited with code 2"),
        (-signal.SIGKILL, "was killed by SIGKILL (kill -9, or the kernel's OOM killer"),
        (-signal.SIGSEGV, "was killed by SIGSEGV"),
        (-200, "was killed by signal 200"),
    ],
)
def test_how_a_child_ended_is_said_in_words(returncode: int, words: str) -> None:
    assert how_it_ended(returncode).startswith(words)


def test_a_child_killed_from_outside_is_started_again_and_the_others_keep_running(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """GIVEN a worker and an api WHEN the worker is killed with SIGKILL THEN a new worker
    runs, the log says how the old one died, and the api is the same process throughout;
    stop() then ends every process and run() returns 0."""
    worker = Spawner(python("import time; time.sleep(600)"))
    api = Spawner(python("import time; time.sleep(600)"))
    supervisor = Supervisor([Child("worker", worker), Child("api", api)], first_backoff_s=0.01)
    caplog.set_level(logging.INFO, logger="stemdeck.up")
    with supervising(supervisor) as result:
        wait_until(lambda: worker.started and api.started, 30, "the children did not start")
        first = worker.started[0]
        first.send_signal(signal.SIGKILL)
        wait_until(lambda: len(worker.started) == 2, 30, "the worker was not started again")
        assert worker.started[1].poll() is None
        assert len(api.started) == 1 and api.started[0].poll() is None
        supervisor.stop()
        wait_until(lambda: result, 60, "run() did not return after stop()")

    assert result == [0]
    assert f"worker (pid {first.pid}) was killed by SIGKILL" in caplog.text
    assert "starting it again" in caplog.text
    assert all(p.poll() is not None for p in worker.started + api.started)


def test_a_child_that_keeps_failing_at_start_up_stops_everything(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """GIVEN a reconciler that exits with code 3 as soon as it starts WHEN it has failed
    five times in a row THEN the supervisor stops the others and returns 1, saying so."""
    failing = Spawner(python("raise SystemExit(3)"))
    api = Spawner(python("import time; time.sleep(600)"))
    supervisor = Supervisor([Child("api", api), Child("reconciler", failing)], first_backoff_s=0.01)
    with supervising(supervisor) as result:
        wait_until(lambda: result, 60, "the supervisor did not give up")

    assert result == [1]
    assert len(failing.started) == 5
    assert "reconciler exited with code 3, 5 times in a row" in caplog.text
    assert "stopping everything" in caplog.text
    assert api.started[0].poll() is not None


def test_a_child_that_runs_a_while_between_crashes_is_never_given_up_on(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Crashes spaced further apart than the start-up window are not start-up failures:
    the count starts again after each, so the child is restarted past the limit."""
    crashing = Spawner(python("import time; time.sleep(0.3); raise SystemExit(1)"))
    supervisor = Supervisor(
        [Child("worker", crashing)], startup_s=0.1, quick_failures_limit=2, first_backoff_s=0.01
    )
    with supervising(supervisor) as result:
        wait_until(lambda: len(crashing.started) >= 4, 60, "the worker was not restarted")
        assert result == []

    assert result == [0]
    assert "times in a row" not in caplog.text


def test_what_a_dead_child_left_running_in_its_group_is_ended_with_it() -> None:
    """GIVEN a worker that started a helper process (as it starts ffmpeg) WHEN the worker is
    killed THEN the helper, orphaned in the worker's process group, is ended too."""
    worker = Spawner(
        python(
            "import subprocess, sys, time\n"
            "subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(600)'])\n"
            "time.sleep(600)"
        )
    )
    supervisor = Supervisor([Child("worker", worker)], first_backoff_s=60)
    with supervising(supervisor):
        wait_until(lambda: worker.started, 30, "the worker did not start")
        parent = psutil.Process(worker.started[0].pid)
        helper = wait_until(lambda: parent.children(), 30, "the helper did not start")[0]
        parent.send_signal(signal.SIGKILL)
        wait_until(
            lambda: not helper.is_running() or helper.status() == psutil.STATUS_ZOMBIE,
            30,
            "the orphaned helper is still running",
        )


def test_redis_is_stopped_after_the_others(tmp_path: Path) -> None:
    """The worker hands its job back through Redis while it stops, so Redis (``last``)
    gets SIGTERM only once the others have exited."""
    worker_done = tmp_path / "worker-stopped"
    seen_by_redis = tmp_path / "redis-saw"
    worker_stops = f"time.sleep(0.5)\n    open({str(worker_done)!r}, 'w').close()"
    redis_stops = (
        f"open({str(seen_by_redis)!r}, 'w').write(str(os.path.exists({str(worker_done)!r})))"
    )
    worker = Spawner(python(on_sigterm(tmp_path / "worker-ready", worker_stops)))
    redis = Spawner(python(on_sigterm(tmp_path / "redis-ready", redis_stops)))
    supervisor = Supervisor([Child("redis", redis, last=True), Child("worker", worker)])
    with supervising(supervisor) as result:
        wait_until(
            lambda: (tmp_path / "worker-ready").exists() and (tmp_path / "redis-ready").exists(),
            30,
            "the children did not start",
        )
        supervisor.stop()
        wait_until(lambda: result, 60, "run() did not return after stop()")

    assert seen_by_redis.read_text() == "True"


def on_sigterm(ready: Path, action: str) -> str:
    """A script that runs ``action`` on SIGTERM and exits 0; ``ready`` exists once it listens."""
    return (
        "import os, signal, sys, time\n"
        "def stop(*_):\n"
        f"    {action}\n"
        "    sys.exit(0)\n"
        "signal.signal(signal.SIGTERM, stop)\n"
        f"open({str(ready)!r}, 'w').close()\n"
        "time.sleep(600)"
    )
