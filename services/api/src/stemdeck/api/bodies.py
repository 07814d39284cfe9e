"""Job bodies and pages of jobs, kept per process as encoded JSON for polls and lists.

Building a job's body (its row and stems, its place in line, the Pydantic body, the
JSON) was most of what GET /api/jobs/{id} and GET /api/jobs cost; once bodies were
kept, reading the row's version to check one was most of what was left. So what is
kept carries the change marks (core/job_marks.py) read before the database was, and
is answered again after one Redis read finds them the same:

- a job's body: its job's mark; a page: its owner's mark, or every job's for an
  admin's list of everyone's;
- an unfinished job (or a page holding one) also the queue mark, as its place in line
  moves when other jobs move; and it is answered for LIVE_S at most, as its ETA moves
  with the clock and places move with workers coming and going.

A change whose marks could not be set (Redis failed just then) would go unseen, so
nothing is answered on its marks for longer than TRUST_S: then a finished job's body is
checked against its row's version (updated_at and status, which every lifecycle write
moves; a removed job has no row), and a page is read again. Without Redis, every
answer is checked or built that way.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Generic, TypeVar

from pydantic import TypeAdapter
from redis.asyncio import Redis as AsyncRedis
from redis.exceptions import RedisError
from starlette.requests import Request

from stemdeck.api.schemas import JobPublic
from stemdeck.api.urls import route_urls
from stemdeck.core.job_marks import (
    EVERY_JOB_MARK,
    QUEUE_MARK,
    Marks,
    job_mark,
    owner_mark,
    read_marks,
)
from stemdeck.core.states import FINAL_STATES

# About 4 KB a job of four stems: a few thousand jobs are some 10-20 MB per process.
MAX_BODIES = 4096
MAX_PAGES = 1024
LIVE_S = 1.0
TRUST_S = 5.0
_FINAL = frozenset(str(status) for status in FINAL_STATES)
_ENCODER = TypeAdapter(JobPublic)

Version = tuple[datetime, str]
# A page of a list: (whose jobs: jobstore.list_scope, limit, offset, base URL).
PageKey = tuple[str, int, int, str]


def finished(status: str) -> bool:
    return status in _FINAL


def body_marks(job_id: str, final: bool) -> list[str]:
    return [job_mark(job_id)] if final else [job_mark(job_id), QUEUE_MARK]


def page_marks(scope: str, live: bool) -> list[str]:
    """``scope``: a user's id, or an admin's ``*…`` (jobstore.list_scope), whose pages
    change with any job (one owner's too: the owner is not known before the read)."""
    whose = EVERY_JOB_MARK if scope.startswith("*") else owner_mark(scope)
    return [whose, QUEUE_MARK] if live else [whose]


@dataclass(frozen=True)
class Kept:
    """A body or a page, with the marks read before it was built (None: not read)."""

    body: bytes
    marks: Marks | None
    kept_at: float
    live: bool  # an unfinished job, or a page holding one

    def answerable(self, now: float) -> bool:
        """Whether its marks may vouch for it still (they are checked next)."""
        age = now - self.kept_at
        return self.marks is not None and age < (LIVE_S if self.live else TRUST_S)


@dataclass(frozen=True)
class KeptBody(Kept):
    version: Version
    owner_id: str


class JobBodies:
    """Bounded LRUs of job bodies and pages (routes use them from the event loop and
    the threadpool, hence the lock), and the Redis client that reads their marks."""

    def __init__(
        self, redis_url: str, max_bodies: int = MAX_BODIES, max_pages: int = MAX_PAGES
    ) -> None:
        self._bodies: _Lru[tuple[str, str], KeptBody] = _Lru(max_bodies)  # (job, base URL)
        self._pages: _Lru[PageKey, Kept] = _Lru(max_pages)
        self._marks = _MarkReader(redis_url)

    async def answer(self, job_id: str, base: str) -> KeptBody | None:
        """The job's kept body when its marks say it is still right."""
        kept = self._bodies.get((job_id, base))
        if kept is None or not kept.answerable(time.monotonic()):
            return None
        marks = await self._marks.read(body_marks(job_id, not kept.live))
        return kept if marks == kept.marks else None

    async def answer_page(self, key: PageKey) -> bytes | None:
        kept = self._pages.get(key)
        if kept is None or not kept.answerable(time.monotonic()):
            return None
        marks = await self._marks.read(page_marks(key[0], kept.live))
        return kept.body if marks == kept.marks else None

    def holds(self, job_id: str, base: str) -> bool:
        """Whether a finished job's body is here, maybe stale: worth a version read."""
        kept = self._bodies.get((job_id, base))
        return kept is not None and not kept.live

    def matching(self, job_id: str, base: str, version: Version) -> KeptBody | None:
        """The finished job's body built from exactly this version of its row, else None."""
        kept = self._bodies.get((job_id, base))
        if kept is None or kept.live or kept.version != version:
            return None
        return kept

    def keep(
        self,
        job_id: str,
        base: str,
        version: Version,
        owner_id: str,
        body: bytes,
        marks: Marks | None,
    ) -> None:
        """Keep a body built after ``marks`` were read (``body_marks`` of an unfinished
        job; of a finished one, the first of them is enough). Without marks an
        unfinished job's body is not kept: only its version could vouch for it."""
        live = not finished(version[1])
        if live and marks is None:
            return
        vouching = marks if live or marks is None else marks[:1]
        kept = KeptBody(body, vouching, time.monotonic(), live, version, owner_id)
        self._bodies.put((job_id, base), kept)

    def keep_page(self, key: PageKey, live: bool, body: bytes, marks: Marks | None) -> None:
        """Keep a page built after ``marks`` (``page_marks(key[0], True)``) were read."""
        if marks is not None:
            vouching = marks if live else marks[:1]
            self._pages.put(key, Kept(body, vouching, time.monotonic(), live))

    def start(self) -> None:
        """On the app's event loop, at start-up."""
        self._marks.start()

    async def aclose(self) -> None:
        await self._marks.aclose()


K = TypeVar("K")
V = TypeVar("V")


class _Lru(Generic[K, V]):
    def __init__(self, size: int) -> None:
        self._size = size
        self._items: OrderedDict[K, V] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: K) -> V | None:
        with self._lock:
            value = self._items.get(key)
            if value is not None:
                self._items.move_to_end(key)
            return value

    def put(self, key: K, value: V) -> None:
        with self._lock:
            self._items[key] = value
            self._items.move_to_end(key)
            while len(self._items) > self._size:
                self._items.popitem(last=False)


class _MarkReader:
    """Reads marks from the event loop the app's lifespan started it on (a test client
    without its lifespan runs each request in a new loop: nothing kept is answered
    there). A missing mark or a Redis error reads as None: nothing kept matches it, so
    the route builds its answer (and the threadpool's reader sets missing marks)."""

    def __init__(self, redis_url: str) -> None:
        self._redis_url = redis_url
        self._client: AsyncRedis | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._client = AsyncRedis.from_url(
            self._redis_url, socket_connect_timeout=1, socket_timeout=1
        )

    async def read(self, keys: Sequence[str]) -> Marks | None:
        if self._client is None or self._loop is not asyncio.get_running_loop():
            return None
        try:
            values = await self._client.mget(keys)
        except (RedisError, OSError):
            return None
        marks = tuple(value.decode() for value in values if isinstance(value, bytes))
        return marks if len(marks) == len(keys) else None  # else a mark not set yet

    async def aclose(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            with contextlib.suppress(RedisError, OSError):
                await client.aclose()


def marks_before_reading(request: Request, keys: Sequence[str]) -> Marks | None:
    """The marks to keep an answer with, read (in a thread) before the database is; None
    when Redis cannot be read, and then nothing unfinished is kept."""
    try:
        return read_marks(request.app.state.context.redis, keys)
    except RedisError:
        return None


def job_bodies(request: Request) -> JobBodies:
    """This process's bodies (api/context.py)."""
    bodies: JobBodies = request.app.state.context.bodies
    return bodies


def base_url(request: Request) -> str:
    return route_urls(request).base


def encode(body: JobPublic) -> bytes:
    """The bytes FastAPI would send for ``body`` (compact JSON, field names as declared)."""
    return _ENCODER.dump_json(body, by_alias=True)
