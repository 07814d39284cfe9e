"""A worker asked to stop (SIGTERM) hands its current job back at the next progress point."""

from __future__ import annotations

import threading

_requested = threading.Event()


class WorkerStopping(Exception):
    """Raised at a progress point once the worker was asked to stop."""


def request() -> None:
    _requested.set()


def requested() -> bool:
    return _requested.is_set()


def reset() -> None:
    _requested.clear()
