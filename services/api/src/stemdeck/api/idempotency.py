"""Idempotency-Key: a client that retries a POST after a timeout gets the first answer's
job (or batch), never a second one.

A key is claimed in Redis with SET NX before anything is accepted, so of two requests
racing with one key only one creates; the other waits briefly for it to finish and then
answers with what it made. The claim remembers a fingerprint of the request: the same
key sent with a different request is refused, not answered with the wrong job. Keys
are per user (one user's key never matches another's) and kept for
STEMDECK_IDEMPOTENCY_TTL_S. A request that fails releases its claim, so a retry with
the same key is a fresh try.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from redis import Redis
from starlette.requests import Request

from stemdeck.api.errors import ApiError

HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
MAX_KEY_CHARS = 255
KEY_PREFIX = "stemdeck:idempotency"
# How long a request waits for the one holding its key before answering 409.
WAIT_S = 30.0
POLL_S = 0.05
# A claim not finished in this long is let go: the process that held it died. Far past
# what accepting takes once the upload is stored (a decode, a few writes).
PENDING_TTL_S = 600

# Deletes the claim only while it is still the pending one this request made.
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


@dataclass(frozen=True)
class Claim:
    """A key this request holds: it must ``finish`` (with what it made) or ``release``."""

    redis_key: str
    pending: str  # the value stored while this request works
    fingerprint: str
    ttl_s: int


@dataclass(frozen=True)
class Replay:
    """The key was used before for this very request: answer with ``target_id``."""

    target_id: str


def read_key(request: Request) -> str | None:
    """The request's Idempotency-Key, None when it has none; 400 when it is malformed."""
    values = request.headers.getlist(HEADER)
    if not values:
        return None
    key = values[0]
    if len(values) > 1:
        raise _bad_key("Send one Idempotency-Key header, not several.")
    if not 1 <= len(key) <= MAX_KEY_CHARS or not all("!" <= ch <= "~" for ch in key):
        raise _bad_key(
            f"The Idempotency-Key must be 1 to {MAX_KEY_CHARS} visible ASCII characters "
            "(no spaces); a UUID is a good choice."
        )
    return key


def _bad_key(message: str) -> ApiError:
    return ApiError(400, "invalid_idempotency_key", message)


def fingerprint(route: str, fields: Mapping[str, Any]) -> str:
    """A hash of what a request asks for: the same request always gives the same one."""
    canonical = json.dumps([route, fields], sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def redis_key(user_id: str, key: str) -> str:
    digest = hashlib.sha256(key.encode()).hexdigest()
    return f"{KEY_PREFIX}:{user_id}:{digest}"


def claim(
    redis: Redis, ttl_s: int, user_id: str, key: str, print_: str, wait_s: float = WAIT_S
) -> Claim | Replay:
    """Claim ``key`` for a request with fingerprint ``print_``, or learn what an earlier
    request with it made. Blocking (it may wait for a request in flight): run it in a
    thread. 409 when the key was used for another request, or is still in flight after
    ``wait_s``; 409 also when what it made was deleted since (see ``gone``)."""
    name = redis_key(user_id, key)
    pending = json.dumps({"fingerprint": print_, "id": None, "claim": secrets.token_hex(8)})
    deadline = time.monotonic() + wait_s
    while True:
        if redis.set(name, pending, nx=True, ex=min(ttl_s, PENDING_TTL_S)):
            return Claim(name, pending, print_, ttl_s)
        stored = redis.get(name)
        if stored is None:  # expired or released between the two calls
            continue
        held = json.loads(stored)
        if held["fingerprint"] != print_:
            raise ApiError(
                409,
                "idempotency_key_reused",
                "This Idempotency-Key was already used for a different request. Use a new "
                "key for a new request; reuse a key only to retry the very same request.",
            )
        if held["id"] is not None:
            return Replay(str(held["id"]))
        if time.monotonic() >= deadline:
            raise ApiError(
                409,
                "idempotency_key_in_flight",
                "A request with this Idempotency-Key is still being processed. Retry in a "
                "little while with the same key to get its result.",
            )
        time.sleep(POLL_S)


def finish(redis: Redis, held: Claim, target_id: str) -> None:
    """Remember that the claimed request made ``target_id``, for the key's time to live."""
    done = json.dumps({"fingerprint": held.fingerprint, "id": target_id})
    redis.set(held.redis_key, done, ex=held.ttl_s)


def release(redis: Redis, held: Claim) -> None:
    """Let the key go after the claimed request failed, so a retry can try again."""
    redis.eval(_RELEASE, 1, held.redis_key, held.pending)


def gone(kind: str, target_id: str) -> ApiError:
    """What a replay answers when the job (or batch) its key made was deleted since."""
    return ApiError(
        409,
        "idempotency_key_target_deleted",
        f"This Idempotency-Key made {kind} {target_id}, which has since been deleted. "
        "Send the request with a new key to make a new one.",
    )
