"""Credentials proved a moment ago, kept for a few seconds (STEMDECK_AUTH_CACHE_SECONDS),
so that a page's burst of requests (a job, its stems, waveforms, events) costs one
database read for its cookie or token, not one each.

How stale it may be: a change this process makes (a sign-out, a session ended, a token
revoked, a password changed, a user disabled or their role changed) forgets that user's
entries at once. A change made elsewhere (another API replica, `stemdeck users disable`)
is seen here within STEMDECK_AUTH_CACHE_SECONDS. An entry never outlives its credential
(the session's end, the token's expiry). 0 turns the cache off.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from stemdeck.api.auth.principal import Principal

# Far more credentials than one process sees in a few seconds; past it, the oldest go.
MAX_ENTRIES = 10_000


@dataclass(frozen=True)
class _Entry:
    principal: Principal
    until: float  # on the cache's clock


class PrincipalCache:
    """Keys are the credential's SHA-256 (what the database keeps), never the value."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self._entries: dict[str, _Entry] = {}
        self._lock = threading.Lock()
        # Bumped by every forget: a lookup that began before one must not store what it
        # read, which may be what was just revoked.
        self._generation = 0

    def generation(self) -> int:
        return self._generation

    def get(self, key: str) -> Principal | None:
        entry = self._entries.get(key)
        if entry is None or entry.until <= self.clock():
            return None
        return entry.principal

    def put(self, key: str, principal: Principal, seconds: float, generation: int) -> None:
        """Keep ``principal`` for ``seconds``, unless something was forgotten since the
        lookup that found it began (``generation``)."""
        if seconds <= 0:
            return
        with self._lock:
            if generation != self._generation:
                return
            if len(self._entries) >= MAX_ENTRIES:
                self._prune()
            self._entries[key] = _Entry(principal, self.clock() + seconds)

    def forget(self, key: str) -> None:
        with self._lock:
            self._generation += 1
            self._entries.pop(key, None)

    def forget_user(self, user_id: str) -> None:
        with self._lock:
            self._generation += 1
            self._entries = {
                key: entry
                for key, entry in self._entries.items()
                if entry.principal.user_id != user_id
            }

    def _prune(self) -> None:
        now = self.clock()
        self._entries = {key: e for key, e in self._entries.items() if e.until > now}
        while len(self._entries) >= MAX_ENTRIES:  # dicts keep insertion order: oldest first
            del self._entries[next(iter(self._entries))]
