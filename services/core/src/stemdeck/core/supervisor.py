"""`stemdeck up`'s supervisor: keeps the all-in-one stack's processes running.

A child that dies (the kernel's OOM killer on a long track, a crash, a stray
``kill -9``) is started again after a short wait, and the log says how it died. A
job its worker was running is not lost: the reconciler sees its heartbeats stop
(``STEMDECK_HEARTBEAT_TIMEOUT_S``) and queues it again, and it runs as its next
attempt. Everything stops on Ctrl-C or SIGTERM, or when one child fails
``QUICK_FAILURES_LIMIT`` times in a row within ``STARTUP_S`` of being started
(exiting or crashing, not killed with SIGKILL from outside): a bad setting or a
taken port does not get better by trying again.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

log = logging.getLogger("stemdeck.up")

Spawn = Callable[[], subprocess.Popen[bytes]]

# A child that ends by itself sooner than this after it was started failed at start-up
# (a worker loading torch on a busy machine takes several seconds to refuse a setting).
STARTUP_S = 30.0
QUICK_FAILURES_LIMIT = 5
# The wait before a restart doubles with each quick failure in a row: 0.5, 1, 2, 4 s.
FIRST_BACKOFF_S = 0.5
MAX_BACKOFF_S = 30.0
STOP_GRACE_S = 15.0
POLL_S = 0.2


def how_it_ended(returncode: int) -> str:
    """A child's end in words: the signal that killed it, or its exit code."""
    if returncode >= 0:
        return f"exited with code {returncode}"
    try:
        name = signal.Signals(-returncode).name
    except ValueError:
        name = f"signal {-returncode}"
    if -returncode == signal.SIGKILL:
        return f"was killed by {name} (kill -9, or the kernel's OOM killer when memory ran out)"
    return f"was killed by {name}"


@dataclass
class Child:
    """One supervised process. ``last`` ones are stopped after the others (Redis: the
    worker hands its job back through it while it stops)."""

    name: str
    spawn: Spawn
    last: bool = False
    process: subprocess.Popen[bytes] | None = None
    started_at: float = 0.0
    quick_failures: int = 0
    restart_at: float | None = None

    def __post_init__(self) -> None:
        if self.process is not None:  # started by the caller (Redis: to wait until it answers)
            self.started_at = time.monotonic()

    def start(self) -> None:
        self.process = self.spawn()
        self.started_at = time.monotonic()
        self.restart_at = None


class Supervisor:
    def __init__(
        self,
        children: list[Child],
        *,
        startup_s: float = STARTUP_S,
        quick_failures_limit: int = QUICK_FAILURES_LIMIT,
        first_backoff_s: float = FIRST_BACKOFF_S,
    ) -> None:
        self.children = children
        self.startup_s = startup_s
        self.quick_failures_limit = quick_failures_limit
        self.first_backoff_s = first_backoff_s
        self._stop = threading.Event()

    def stop(self) -> None:
        """Ask ``run`` to stop every child and return (safe from a signal handler)."""
        self._stop.set()

    def run(self, *, handle_signals: bool = True) -> int:
        """Start the children that are not running yet and keep them running until
        ``stop`` (Ctrl-C or SIGTERM with ``handle_signals``): 0, or 1 when a child kept
        failing at start-up. Every child is stopped before it returns."""
        if handle_signals:
            signal.signal(signal.SIGINT, lambda _signum, _frame: self.stop())
            signal.signal(signal.SIGTERM, lambda _signum, _frame: self.stop())
        exit_code = 0
        try:
            for child in self.children:
                if child.process is None:
                    child.start()
            while not self._stop.is_set():
                if not self._tend():
                    exit_code = 1
                    break
                self._stop.wait(POLL_S)
        finally:
            self._stop_all()
        return exit_code

    def _tend(self) -> bool:
        """One look at every child: restart those due, note those that died. False when
        one keeps failing at start-up."""
        now = time.monotonic()
        for child in self.children:
            if child.restart_at is not None:
                if now >= child.restart_at:
                    log.info("starting %s again", child.name)
                    child.start()
                continue
            assert child.process is not None
            if child.process.poll() is not None and not self._died(child, now):
                return False
        return True

    def _died(self, child: Child, now: float) -> bool:
        """Log how ``child`` ended and plan its restart; False when it has failed at
        start-up too many times in a row."""
        assert child.process is not None
        process = child.process
        _kill_leftovers(process)
        ran_s = now - child.started_at
        # SIGKILL comes from outside (the OOM killer, kill -9): a child that fails to start
        # exits by itself or crashes.
        quick = ran_s < self.startup_s and process.returncode != -signal.SIGKILL
        child.quick_failures = child.quick_failures + 1 if quick else 0
        how = how_it_ended(process.returncode)
        if child.quick_failures >= self.quick_failures_limit:
            log.error(
                "%s %s, %s times in a row within %g s of starting; stopping everything. "
                "Its own messages above say why: fix that and run `stemdeck up` again.",
                child.name,
                how,
                child.quick_failures,
                self.startup_s,
            )
            return False
        wait_s = min(MAX_BACKOFF_S, self.first_backoff_s * 2 ** max(0, child.quick_failures - 1))
        log.warning(
            "%s (pid %s) %s after %.0f s; starting it again in %g s",
            child.name,
            process.pid,
            how,
            ran_s,
            wait_s,
        )
        child.restart_at = now + wait_s
        return True

    def _stop_all(self) -> None:
        # The others first: a stopping worker hands its job back through Redis.
        for last in (False, True):
            running = [
                child.process
                for child in self.children
                if child.last == last and child.process is not None and child.process.poll() is None
            ]
            for process in running:
                process.send_signal(signal.SIGTERM)
            deadline = time.monotonic() + STOP_GRACE_S
            for process in running:
                try:
                    process.wait(timeout=max(0.1, deadline - time.monotonic()))
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()


def _kill_leftovers(process: subprocess.Popen[bytes]) -> None:
    """What a dead child started in its own process group (an ffmpeg decoding for the
    worker, say) would run on, orphaned, holding memory: end it with its parent."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)
