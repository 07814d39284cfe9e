"""What one API process holds for its lifetime: settings, strategies, storage, Redis,
and the job lifecycle every change of a job goes through."""

from __future__ import annotations

from dataclasses import dataclass

from redis import Redis

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
