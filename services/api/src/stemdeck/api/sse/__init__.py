"""What the API's job event streams (routes/job_events.py) share within one process.

- ``hub``: one Redis subscription for every stream, each notice handed to the
  streams of its job only (hub.py);
- ``slots``: the caps on open streams, in all and per user (slots.py);
- ``reads``: every read the streams make, in batches on one thread (batches.py).

With these, a thousand open streams cost one Redis connection for their notices (and
at most one connection of each of the process's pools for their reads), and a
progress write to a job costs one database read however many streams follow it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

from starlette.requests import Request

from stemdeck.api.errors import ApiError
from stemdeck.api.sse.batches import Batches, ReadAll
from stemdeck.api.sse.hub import EventHub
from stemdeck.api.sse.slots import StreamSlots
from stemdeck.core.settings import Settings


@dataclass(frozen=True)
class Snapshot:
    """The job as a stream sends it: made once per read however many streams send it."""

    json: str
    event: bytes  # the whole SSE event
    final: bool  # the stream ends after it


# A stream's read: the job, None when gone (or no longer visible to the stream's
# principal), or the 401 its sign-in would get now.
Reread = Snapshot | ApiError | None


class StreamRead(NamedTuple):
    """One stream's read: its job, as the stream's own request may see it."""

    job_id: str
    request: Request


@dataclass(frozen=True)
class EventStreams:
    hub: EventHub
    slots: StreamSlots
    reads: Batches[StreamRead, Reread]

    @classmethod
    def from_settings(
        cls, settings: Settings, read_all: ReadAll[StreamRead, Reread]
    ) -> EventStreams:
        """``read_all``: what a batch of reads runs (routes/job_events.read_for_streams)."""
        return cls(
            EventHub(settings.require_redis_url(), settings.events_keepalive_s),
            StreamSlots.from_settings(settings),
            Batches(read_all),
        )

    async def aclose(self) -> None:
        await self.hub.aclose()
        self.reads.close()
