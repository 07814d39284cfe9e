"""How many event streams one API process holds open: in all, and per user.

Each stream holds a connection for as long as its job runs, so without a cap a few
thousand idle tabs would take every connection the server has
(STEMDECK_HTTP_MAX_CONNECTIONS) and starve every other request. Past either cap a
new stream gets 429 with Retry-After, and a client falls back to polling
GET /api/jobs/{id}; closing a stream frees its slot at once.

"Per client" is per user (a principal's user id), whether the streams come from one
browser, several, or API tokens: under STEMDECK_AUTH=none everyone is the one local
user, so the per-client cap applies to all of them together. Counted in the process,
on its event loop (no lock needed); each API process (replica) has its own caps.
"""

from __future__ import annotations

from collections import Counter

from stemdeck.api.errors import ApiError, over_limit
from stemdeck.core.settings import Settings

# A slot frees when another stream ends (its job finishes, a tab closes): no clock
# says when, so a client waits this long before it tries again, polling meanwhile.
RETRY_AFTER_S = 15


class StreamSlots:
    def __init__(self, most: int, most_per_client: int) -> None:
        self.most = most
        self.most_per_client = most_per_client
        self._open: Counter[str] = Counter()

    @classmethod
    def from_settings(cls, settings: Settings) -> StreamSlots:
        return cls(*settings.stream_caps)

    @property
    def total(self) -> int:
        return self._open.total()

    def take(self, client: str) -> None:
        """A slot for one more stream of ``client``, else the 429 to answer."""
        if self._open[client] >= self.most_per_client:
            raise _refusal(
                "events_streams_per_client",
                self._open[client],
                self.most_per_client,
                f"You already have {self._open[client]} job event streams open, the most "
                "one user may (STEMDECK_EVENTS_MAX_STREAMS_PER_CLIENT). Close one (another "
                "tab, or a job you no longer follow), or poll GET /api/jobs/{id} instead.",
            )
        if self.total >= self.most:
            raise _refusal(
                "events_streams",
                self.total,
                self.most,
                f"This server has {self.total} job event streams open, the most it holds "
                "(STEMDECK_EVENTS_MAX_STREAMS). Poll GET /api/jobs/{id} meanwhile, and try "
                f"the stream again in {RETRY_AFTER_S} s.",
            )
        self._open[client] += 1

    def give_back(self, client: str) -> None:
        self._open[client] -= 1
        if self._open[client] <= 0:
            del self._open[client]


def _refusal(limit: str, used: int, allowed: int, message: str) -> ApiError:
    return over_limit(
        "too_many_streams",
        message,
        limit=limit,
        used=used,
        allowed=allowed,
        retry_after_s=RETRY_AFTER_S,
        resets_at=None,
    )
