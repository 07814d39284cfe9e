"""Every read the event streams of one process make goes through one thread, in batches.

One notice wakes every stream of its job in the same turn of the event loop, and each
asks for a read; a keep-alive or a new stream asks on its own. Requests wait in the
forming batch while the thread reads the previous one, then go together: a thousand
streams of one job cost one database session and one look at the queue, not a
thousand, and the more streams ask at once the larger the batches get (rather than a
queue of thread hand-offs). The one thread also bounds what streams take from the
process's database and Redis pools: one connection each, however many streams read.

A request only joins a batch that has not started: a read that began before the
stream was woken could miss the change that woke it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Generic, TypeVar

Member = TypeVar("Member")
Answer = TypeVar("Answer")

# What a batch runs in the thread: every member's input → one answer each, in order.
ReadAll = Callable[[Sequence[Member]], list[Answer]]


class Batches(Generic[Member, Answer]):
    def __init__(self, read_all: ReadAll[Member, Answer]) -> None:
        self._read_all = read_all
        self._thread: ThreadPoolExecutor | None = None
        self._forming: list[tuple[Member, asyncio.Future[Answer]]] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self._reader: asyncio.Task[None] | None = None

    async def read(self, member: Member) -> Answer:
        """``member``'s answer, from the next batch to start."""
        loop = asyncio.get_running_loop()
        if self._loop is not loop:
            # A test client without its lifespan gives each request a loop of its own:
            # another loop's requests and task are dead here.
            self._loop, self._forming, self._reader = loop, [], None
        answer: asyncio.Future[Answer] = loop.create_future()
        self._forming.append((member, answer))
        if self._reader is None or self._reader.done():
            # It starts on the loop's next turn: after the streams woken with this one.
            self._reader = loop.create_task(self._read_batches(), name="stemdeck-stream-reads")
        return await answer

    def close(self) -> None:
        """Stop the thread (at the app's shutdown); a later read starts a new one."""
        if self._thread is not None:
            self._thread.shutdown(wait=False, cancel_futures=True)
            self._thread = None

    async def _read_batches(self) -> None:
        loop = asyncio.get_running_loop()
        if self._thread is None:
            self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="stemdeck-streams")
        while self._forming:
            batch, self._forming = self._forming, []
            members = [member for member, _ in batch]
            try:
                answers = await loop.run_in_executor(self._thread, self._read_all, members)
            except Exception as error:
                for _, answer in batch:
                    if not answer.done():
                        answer.set_exception(error)
                continue
            for (_, answer), result in zip(batch, answers, strict=True):
                # Done already: its stream was cancelled (the client hung up) meanwhile.
                if not answer.done():
                    answer.set_result(result)
