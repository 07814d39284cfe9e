"""The event streams' reads, batched on one thread (api/sse/batches.py)."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Sequence

from stemdeck.api.sse.batches import Batches


class Recorder:
    """A read_all that notes each batch it is given; ``gate`` holds a batch in the thread."""

    def __init__(self) -> None:
        self.batches: list[list[int]] = []
        self.gate = threading.Event()
        self.gate.set()
        self.inside = threading.Event()

    def __call__(self, members: Sequence[int]) -> list[int]:
        self.batches.append(list(members))
        self.inside.set()
        self.gate.wait(timeout=30)
        return [member * 10 for member in members]


def test_reads_asked_in_one_turn_share_one_call() -> None:
    recorder = Recorder()
    batches = Batches(recorder)

    async def scenario() -> list[int]:
        return list(await asyncio.gather(*(batches.read(number) for number in range(100))))

    assert asyncio.run(scenario()) == [number * 10 for number in range(100)]
    assert recorder.batches == [list(range(100))]
    batches.close()


def test_a_read_asked_while_a_batch_runs_waits_for_the_next_one() -> None:
    """A batch that has started may have read before the change that woke a later
    stream, so that stream's read goes in the next batch, with all that came meanwhile."""
    recorder = Recorder()
    recorder.gate.clear()
    batches = Batches(recorder)

    async def scenario() -> tuple[int, list[int]]:
        first = asyncio.ensure_future(batches.read(1))
        await asyncio.to_thread(recorder.inside.wait, 30)  # the first batch is reading
        later = asyncio.gather(batches.read(2), batches.read(3))
        await asyncio.sleep(0)
        recorder.gate.set()
        return await first, list(await later)

    assert asyncio.run(scenario()) == (10, [20, 30])
    assert recorder.batches == [[1], [2, 3]]
    batches.close()


def test_a_failed_read_fails_every_stream_of_its_batch_and_the_next_batch_runs() -> None:
    calls: list[list[int]] = []

    def read_all(members: Sequence[int]) -> list[int]:
        calls.append(list(members))
        if len(calls) == 1:
            raise ConnectionError("the database is down")
        return list(members)

    batches = Batches(read_all)

    async def scenario() -> tuple[list[object], int]:
        failed = await asyncio.gather(batches.read(1), batches.read(2), return_exceptions=True)
        return failed, await batches.read(3)

    failed, after = asyncio.run(scenario())
    assert [type(error) for error in failed] == [ConnectionError, ConnectionError]
    assert after == 3
    batches.close()


def test_a_closed_batcher_starts_its_thread_again() -> None:
    batches = Batches(lambda members: list(members))
    assert asyncio.run(batches.read(1)) == 1
    batches.close()
    assert asyncio.run(batches.read(2)) == 2
    batches.close()
