"""Do the weights' download sources answer? A short, bounded check, remembered for minutes.

Readiness promises "downloads on first use" only where this says the source answered
lately; otherwise a job would be accepted and then fail on a download that cannot
happen. Each origin (scheme, host, port) is checked with one small request (the
first byte of one of its files) in a thread of its own, so a caller waits at most
the timeout however long a name lookup hangs; a check still running then counts as
no answer, and its result serves the next caller.
"""

from __future__ import annotations

import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterable
from dataclasses import dataclass, field
from urllib.parse import urlsplit

CHECK_TIMEOUT_S = 2.0
REMEMBER_S = 300.0


def origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def answers(url: str, timeout_s: float) -> bool:
    """Whether ``url`` serves its first byte (redirects followed) within the timeout."""
    request = urllib.request.Request(url, headers={"Range": "bytes=0-0"})
    try:
        with urllib.request.urlopen(request, timeout=timeout_s) as response:
            return bool(200 <= response.status < 300)
    except (urllib.error.URLError, OSError, ValueError):
        return False


@dataclass
class _Check:
    done: threading.Event = field(default_factory=threading.Event)
    answered: bool = False
    finished_at: float = 0.0


class SourceChecks:
    """Per-origin answers, each remembered for ``remember_s`` seconds."""

    def __init__(self, timeout_s: float = CHECK_TIMEOUT_S, remember_s: float = REMEMBER_S) -> None:
        self.timeout_s = timeout_s
        self.remember_s = remember_s
        self._lock = threading.Lock()
        self._checks: dict[str, _Check] = {}

    def answered(self, urls: Iterable[str]) -> bool:
        """Whether every origin among ``urls`` answered its latest check.

        Stale or absent checks start at once, all together; the wait is bounded by one
        timeout in all.
        """
        checks = [self._current(url) for url in urls]
        deadline = time.monotonic() + self.timeout_s + 0.5
        for check in checks:
            if not check.done.wait(max(0.0, deadline - time.monotonic())):
                return False
        return all(check.answered for check in checks)

    def _current(self, url: str) -> _Check:
        key = origin(url)
        with self._lock:
            check = self._checks.get(key)
            fresh = check is not None and (
                not check.done.is_set() or time.monotonic() - check.finished_at < self.remember_s
            )
            if check is not None and fresh:
                return check
            check = _Check()
            self._checks[key] = check
        threading.Thread(
            target=self._run, args=(check, url), name=f"source-check {key}", daemon=True
        ).start()
        return check

    def _run(self, check: _Check, url: str) -> None:
        check.answered = answers(url, self.timeout_s)
        check.finished_at = time.monotonic()
        check.done.set()


SOURCE_CHECKS = SourceChecks()
"""The process's checks: API replicas and CLI commands each remember their own."""
