"""Waiting on a condition instead of for a fixed time.

A loaded machine is slow, not wrong: a test waits until what it needs is true,
bounded by a generous deadline, and says what never happened when it fails.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def wait_until(
    predicate: Callable[[], T | None],
    timeout_s: float,
    message: str | Callable[[], str],
    *,
    poll_s: float = 0.1,
) -> T:
    """Call ``predicate`` every ``poll_s`` until it returns something truthy, and return that.

    After ``timeout_s`` it fails with ``message`` (a callable is read only then, so it can
    hold what was seen last or a log). A predicate may raise to fail at once, e.g. when the
    process it waits on has exited.
    """
    deadline = time.monotonic() + timeout_s
    while True:
        result = predicate()
        if result:
            return result
        if time.monotonic() >= deadline:
            text = message() if callable(message) else message
            raise AssertionError(f"{text} (waited {timeout_s} s)")
        time.sleep(poll_s)
