"""Limits counted in Redis, so they hold across every API replica: failed sign-ins per
account and per client IP, and new jobs per user and per client IP.

Each event is counted *before* the work it guards, in one MULTI/EXEC, so a burst of
parallel requests cannot all slip in under the limit meanwhile (a sign-in's slow hash,
an upload's decode); a successful sign-in then takes its count back. A window starts
at a counter's first event and lasts a fixed time: a fixed window, so the answer can
say exactly when it resets.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from redis import Redis
from starlette.requests import Request

from stemdeck.api.errors import ApiError, over_limit
from stemdeck.core.accounts.tokens import digest
from stemdeck.core.models import utcnow
from stemdeck.core.settings import ENV_PREFIX, Settings

_PREFIX = "stemdeck:signin"
_JOBS_PREFIX = "stemdeck:jobs-created"
JOBS_WINDOW_S = 60


@dataclass(frozen=True)
class _Counter:
    limit: str  # the limit's name in the answer: "signin_per_account", "jobs_per_minute_ip"…
    key: str
    allowed: int
    what: str  # for the message: "for this account", "from your address"
    setting: str


@dataclass(frozen=True)
class _Over:
    """A counter past its limit: its count in this window, and when the window ends."""

    counter: _Counter
    count: int
    retry_after_s: int

    @property
    def resets_at(self) -> datetime:
        return (utcnow() + timedelta(seconds=self.retry_after_s)).replace(microsecond=0)


def _count(redis: Redis, counters: Sequence[_Counter], window_s: int) -> _Over | None:
    """Count one event on every counter at once; the one past its limit whose window
    ends last (the wait that lets the request through), else None."""
    pipe = redis.pipeline(transaction=True)
    for counter in counters:
        # The TTL is set once, by the first event of a window; INCR keeps it.
        pipe.set(counter.key, 0, ex=window_s, nx=True)
        pipe.incr(counter.key)
        pipe.ttl(counter.key)
    results = pipe.execute()
    over = [
        _Over(counter, int(count), int(ttl) if int(ttl) > 0 else window_s)
        for counter, count, ttl in zip(counters, results[1::3], results[2::3], strict=True)
        if int(count) > counter.allowed
    ]
    return max(over, key=lambda item: item.retry_after_s) if over else None


def client_ip(request: Request) -> str:
    # The peer, or the address a trusted proxy forwarded (uvicorn's proxy headers).
    return request.client.host if request.client else "unknown"


@dataclass(frozen=True)
class SignInLimiter:
    redis: Redis
    per_account: int
    per_ip: int
    window_s: int

    @classmethod
    def from_settings(cls, redis: Redis, settings: Settings) -> SignInLimiter:
        return cls(
            redis,
            settings.signin_attempts_per_account,
            settings.signin_attempts_per_ip,
            settings.signin_window_minutes * 60,
        )

    def _counters(self, email: str, ip: str) -> tuple[_Counter, _Counter]:
        # The email's hash, not the email: Redis need not hold who tried to sign in.
        return (
            _Counter(
                "signin_per_account",
                f"{_PREFIX}:account:{digest(email)}",
                self.per_account,
                "for this account",
                f"{ENV_PREFIX}SIGNIN_ATTEMPTS_PER_ACCOUNT",
            ),
            _Counter(
                "signin_per_ip",
                f"{_PREFIX}:ip:{ip}",
                self.per_ip,
                "from your address",
                f"{ENV_PREFIX}SIGNIN_ATTEMPTS_PER_IP",
            ),
        )

    def count_attempt(self, email: str, ip: str) -> None:
        """Count one attempt for ``email`` and ``ip``; 429 when either is past its limit."""
        if over := _count(self.redis, self._counters(email, ip), self.window_s):
            raise self._refusal(over)

    def succeeded(self, email: str, ip: str) -> None:
        """A right password: the account starts afresh, and the IP's count takes back
        this attempt (it counts only failures)."""
        account, address = self._counters(email, ip)
        pipe = self.redis.pipeline(transaction=True)
        pipe.delete(account.key)
        pipe.decr(address.key)
        _, left = pipe.execute()
        if int(left) < 0:
            # The window ended meanwhile and DECR made a new key, without a TTL: drop it.
            self.redis.delete(address.key)

    def _refusal(self, over: _Over) -> ApiError:
        counter, retry_after_s, resets_at = over.counter, over.retry_after_s, over.resets_at
        minutes = math.ceil(retry_after_s / 60)
        window = self.window_s // 60
        return ApiError(
            429,
            "too_many_attempts",
            f"Too many failed sign-ins {counter.what}: {counter.allowed} are allowed "
            f"in {window} minutes ({counter.setting}). Try again in {minutes} minute(s), "
            f"after {resets_at:%H:%M:%S} UTC.",
            headers={"Retry-After": str(retry_after_s)},
            details={
                "limit": counter.limit,
                "allowed": counter.allowed,
                "window_s": self.window_s,
                "retry_after_s": retry_after_s,
                "resets_at": resets_at.isoformat(),
            },
        )


@dataclass(frozen=True)
class JobCreateLimiter:
    """New jobs per user and per client IP in each minute (0: that limit is off).

    Every attempt counts, refused ones included: what it guards is the work of
    receiving and checking an upload, which a refused one costs too."""

    redis: Redis
    per_user: int
    per_ip: int

    @classmethod
    def from_settings(cls, redis: Redis, settings: Settings) -> JobCreateLimiter:
        return cls(
            redis, settings.job_create_per_minute_per_user, settings.job_create_per_minute_per_ip
        )

    def count(self, user_id: str, ip: str) -> None:
        """Count one new job of ``user_id`` from ``ip``; 429 when either is past its limit."""
        counters = [
            counter
            for counter in (
                _Counter(
                    "jobs_per_minute_user",
                    f"{_JOBS_PREFIX}:user:{user_id}",
                    self.per_user,
                    "for your account",
                    f"{ENV_PREFIX}JOB_CREATE_PER_MINUTE_PER_USER",
                ),
                _Counter(
                    "jobs_per_minute_ip",
                    f"{_JOBS_PREFIX}:ip:{ip}",
                    self.per_ip,
                    "from your address",
                    f"{ENV_PREFIX}JOB_CREATE_PER_MINUTE_PER_IP",
                ),
            )
            if counter.allowed > 0
        ]
        if counters and (over := _count(self.redis, counters, JOBS_WINDOW_S)):
            counter = over.counter
            raise over_limit(
                "rate_limited",
                f"Too many new jobs {counter.what}: {counter.allowed} are allowed per minute "
                f"({counter.setting}). Try again in {over.retry_after_s} s, after "
                f"{over.resets_at:%H:%M:%S} UTC.",
                limit=counter.limit,
                used=over.count,
                allowed=counter.allowed,
                retry_after_s=over.retry_after_s,
                resets_at=over.resets_at,
            )
