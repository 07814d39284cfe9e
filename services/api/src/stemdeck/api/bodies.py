"""Encoded JSON of finished jobs, kept per process so polls and pages reuse it.

A finished job's body (completed, failed, cancelled) depends only on its row, its
stems and the request's base URL; building it (the ORM rows with their stems, then the
Pydantic body, then FastAPI checking and encoding it) was most of what GET /api/jobs/{id}
and GET /api/jobs cost. Every lifecycle write sets the row's ``updated_at`` (stems only
change inside those writes, and a removed job has no row), so a body stays right while
its job's ``updated_at`` and ``status`` do. The routes read those two first, in one
light statement, and load full rows only for the jobs whose body is not here.

An entry is per (job id, base URL) and remembers the (updated_at, status) it was built
from; a job that changed is a miss, and its new body replaces the old one. Queued and
running jobs carry their live place in line and ETA, so they are never kept.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from datetime import datetime

from pydantic import TypeAdapter
from starlette.requests import Request

from stemdeck.api.schemas import JobPublic
from stemdeck.api.urls import route_urls
from stemdeck.core.states import FINAL_STATES

# About 4 KB a job of four stems: a few thousand jobs are some 10-20 MB per process.
MAX_BODIES = 4096
_FINAL = frozenset(str(status) for status in FINAL_STATES)
_ENCODER = TypeAdapter(JobPublic)

Version = tuple[datetime, str]


class BodyCache:
    """A bounded LRU of job bodies; routes run in the threadpool, hence the lock."""

    def __init__(self, size: int = MAX_BODIES) -> None:
        self._size = size
        self._bodies: OrderedDict[tuple[str, str], tuple[Version, bytes]] = OrderedDict()
        self._lock = threading.Lock()

    def holds(self, job_id: str, base: str) -> bool:
        """Whether some version of this job's body is here (maybe stale)."""
        return (job_id, base) in self._bodies

    def get(self, job_id: str, base: str, version: Version) -> bytes | None:
        """The body built from exactly this version of the row, else None."""
        key = (job_id, base)
        with self._lock:
            entry = self._bodies.get(key)
            if entry is None or entry[0] != version:
                return None
            self._bodies.move_to_end(key)
            return entry[1]

    def put(self, job_id: str, base: str, version: Version, body: bytes) -> None:
        if version[1] not in _FINAL:
            return
        with self._lock:
            self._bodies[(job_id, base)] = (version, body)
            self._bodies.move_to_end((job_id, base))
            while len(self._bodies) > self._size:
                self._bodies.popitem(last=False)


def job_bodies(request: Request) -> BodyCache:
    """This process's cache (one per app)."""
    state = request.app.state
    cache: BodyCache | None = getattr(state, "job_bodies", None)
    if cache is None:
        cache = state.job_bodies = BodyCache()
    return cache


def base_url(request: Request) -> str:
    return route_urls(request).base


def encode(body: JobPublic) -> bytes:
    """The bytes FastAPI would send for ``body`` (compact JSON, field names as declared)."""
    return _ENCODER.dump_json(body, by_alias=True)
