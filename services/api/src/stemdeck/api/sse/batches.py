"""Streams of one job that re-read at the same moment share one read.

One notice wakes every stream of its job in the same turn of the event loop; each
asks for a re-read, and the first one's request starts a batch that runs on the next
turn, after all of them joined. The batch is one call in the thread pool, so a
thousand streams of one job cost one database session, not a thousand (and not a
thousand thread hand-offs), and every stream still gets its own answer (its own
sign-in is checked: see job_events._reread_all).

A stream only joins a batch that has not started: a read that began before the
stream was woken could miss the change that woke it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from typing import Generic, TypeVar

from starlette.concurrency import run_in_threadpool

Member = TypeVar("Member")
Answer = TypeVar("Answer")

# What a batch runs: the key and every member's input → one answer per member, in order.
ReadAll = Callable[[str, Sequence[Member]], list[Answer]]


class Batches(Generic[Member, Answer]):
    def __init__(self) -> None:
        self._forming: dict[str, _Batch[Member, Answer]] = {}
        # The event loop keeps only weak references to tasks.
        self._running: set[asyncio.Task[None]] = set()

    async def read(self, key: str, member: Member, read_all: ReadAll[Member, Answer]) -> Answer:
        """``member``'s answer from ``read_all``, called once for every member that asks
        for ``key`` in this turn of the loop (the first one's ``read_all``)."""
        loop = asyncio.get_running_loop()
        batch = self._forming.get(key)
        # Another loop's batch never runs here (a test client without its lifespan
        # gives each request a loop of its own).
        if batch is None or batch.loop is not loop:
            batch = self._forming[key] = _Batch(loop, read_all)
            # A task starts on the loop's next turn: after the streams woken with this one.
            task = loop.create_task(self._run(key, batch))
            self._running.add(task)
            task.add_done_callback(self._running.discard)
        answer: asyncio.Future[Answer] = loop.create_future()
        batch.members.append((member, answer))
        return await answer

    async def _run(self, key: str, batch: _Batch[Member, Answer]) -> None:
        if self._forming.get(key) is batch:
            del self._forming[key]
        members = [member for member, _ in batch.members]
        try:
            answers = await run_in_threadpool(batch.read_all, key, members)
        except Exception as error:
            for _, answer in batch.members:
                if not answer.done():
                    answer.set_exception(error)
            return
        for (_, answer), result in zip(batch.members, answers, strict=True):
            # Done already: its stream was cancelled (the client hung up) meanwhile.
            if not answer.done():
                answer.set_result(result)


class _Batch(Generic[Member, Answer]):
    def __init__(self, loop: asyncio.AbstractEventLoop, read_all: ReadAll[Member, Answer]) -> None:
        self.loop = loop
        self.read_all = read_all
        self.members: list[tuple[Member, asyncio.Future[Answer]]] = []
