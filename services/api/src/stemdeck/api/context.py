"""What one API process holds for its lifetime: settings, strategies, storage, Redis,
the job lifecycle every change of a job goes through, what its job event streams share,
the job bodies it keeps, and the credentials it has just checked."""

from __future__ import annotations

from dataclasses import dataclass, field

from redis import Redis

from stemdeck.api.auth.cache import PrincipalCache
from stemdeck.api.bodies import JobBodies
from stemdeck.api.link_origin import LinkOrigins
from stemdeck.api.sse import EventStreams
from stemdeck.core.lifecycle import JobLifecycle
from stemdeck.core.settings import Settings
from stemdeck.core.storage import Storage
from stemdeck.core.strategies import Strategy


@dataclass(frozen=True)
class AppContext:
    settings: Settings
    strategies: dict[str, Strategy]
    storage: Storage
    # One connection pool per process; Redis.from_url connects lazily, so a
    # Redis that is down does not stop start-up (/ready reports it instead).
    redis: Redis
    lifecycle: JobLifecycle
    # One Redis subscription and the stream caps for every event stream (api/sse).
    streams: EventStreams
    # Job bodies and pages kept, answered again while their change marks stay (api/bodies.py).
    bodies: JobBodies
    # Where presigned links point for each request's address (api/link_origin.py).
    link_origins: LinkOrigins
    # Cookies and tokens looked up a moment ago (STEMDECK_AUTH_CACHE_SECONDS).
    principals: PrincipalCache = field(default_factory=PrincipalCache)
