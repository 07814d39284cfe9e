"""Failed sign-ins, counted in Redis per account and per client IP, so the limits hold
across every API replica.

Each attempt is counted *before* its password is checked, in one MULTI/EXEC, so a
burst of parallel guesses cannot all slip in under the limit while the slow hash
runs; a success then takes its count back. A window starts at an account's (or an
IP's) first counted attempt and lasts ``STEMDECK_SIGNIN_WINDOW_MINUTES``: a fixed
window, so the answer can say exactly when it resets.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import timedelta

from redis import Redis

from stemdeck.api.errors import ApiError
from stemdeck.core.accounts.tokens import digest
from stemdeck.core.models import utcnow
from stemdeck.core.settings import ENV_PREFIX, Settings

_PREFIX = "stemdeck:signin"


@dataclass(frozen=True)
class _Counter:
    limit: str  # the limit's name in the answer: "signin_per_account" or "signin_per_ip"
    key: str
    allowed: int
    what: str  # for the message: "for this account", "from your address"
    setting: str


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
        counters = self._counters(email, ip)
        pipe = self.redis.pipeline(transaction=True)
        for counter in counters:
            # The TTL is set once, by the first attempt of a window; INCR keeps it.
            pipe.set(counter.key, 0, ex=self.window_s, nx=True)
            pipe.incr(counter.key)
            pipe.ttl(counter.key)
        results = pipe.execute()
        over = [
            (counter, ttl)
            for counter, count, ttl in zip(counters, results[1::3], results[2::3], strict=True)
            if int(count) > counter.allowed
        ]
        if over:
            counter, ttl = max(over, key=lambda item: int(item[1]))
            raise self._refusal(counter, int(ttl) if int(ttl) > 0 else self.window_s)

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

    def _refusal(self, counter: _Counter, retry_after_s: int) -> ApiError:
        resets_at = (utcnow() + timedelta(seconds=retry_after_s)).replace(microsecond=0)
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
