"""What the API's job event streams (routes/job_events.py) share within one process.

- ``hub``: one Redis subscription for every stream, each notice handed to the
  streams of its job only (hub.py);
- ``slots``: the caps on open streams, in all and per user (slots.py);
- ``rereads``: streams of one job woken by one notice re-read together (batches.py).

With these, a thousand open streams cost one Redis connection, and a progress write
to a job costs one database read however many streams follow it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from starlette.requests import Request

from stemdeck.api.errors import ApiError
from stemdeck.api.sse.batches import Batches
from stemdeck.api.sse.hub import EventHub
from stemdeck.api.sse.slots import StreamSlots
from stemdeck.core.settings import Settings

# A stream's re-read: the job as JSON, None when gone (or no longer visible to the
# stream's principal), or the 401 its sign-in would get now.
Reread = str | ApiError | None


@dataclass(frozen=True)
class EventStreams:
    hub: EventHub
    slots: StreamSlots
    rereads: Batches[Request, Reread] = field(default_factory=Batches)

    @classmethod
    def from_settings(cls, settings: Settings) -> EventStreams:
        return cls(EventHub(settings.require_redis_url()), StreamSlots.from_settings(settings))
