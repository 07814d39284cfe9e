"""The API's cache of credentials just checked: how long an entry is trusted, and what
makes it go at once."""

from __future__ import annotations

import pytest

from stemdeck.api.auth import cache as cache_module
from stemdeck.api.auth.cache import PrincipalCache
from stemdeck.api.auth.principal import Principal


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def principal(user_id: str = "ada") -> Principal:
    return Principal(user_id, f"{user_id}@example.com", False, None, "session")


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def cache(clock: Clock) -> PrincipalCache:
    return PrincipalCache(clock)


def test_an_entry_is_trusted_for_its_seconds_and_not_after(
    cache: PrincipalCache, clock: Clock
) -> None:
    cache.put("key", principal(), 5.0, cache.generation())
    clock.now += 4.9
    assert cache.get("key") == principal()
    clock.now += 0.1
    assert cache.get("key") is None


@pytest.mark.parametrize("seconds", [0.0, -3.0])
def test_no_time_left_keeps_nothing(cache: PrincipalCache, seconds: float) -> None:
    """0 is STEMDECK_AUTH_CACHE_SECONDS=0 (off); below it, a credential ending now."""
    cache.put("key", principal(), seconds, cache.generation())
    assert cache.get("key") is None


def test_forgetting_a_user_drops_each_of_their_credentials_and_no_one_elses(
    cache: PrincipalCache,
) -> None:
    for key, user in [("cookie", "ada"), ("token", "ada"), ("other", "bea")]:
        cache.put(key, principal(user), 5.0, cache.generation())
    cache.forget_user("ada")
    assert cache.get("cookie") is None and cache.get("token") is None
    assert cache.get("other") == principal("bea")
    cache.forget("other")
    assert cache.get("other") is None


def test_a_lookup_that_began_before_a_revocation_stores_nothing(cache: PrincipalCache) -> None:
    """GIVEN a request that read a token's row WHEN the token is revoked before the
    request stores what it read THEN the revoked token is not kept."""
    began = cache.generation()
    cache.forget_user("ada")  # the revocation, committed meanwhile
    cache.put("token", principal(), 5.0, began)
    assert cache.get("token") is None
    cache.put("token", principal(), 5.0, cache.generation())  # the next lookup's
    assert cache.get("token") == principal()


def test_a_full_cache_drops_what_ended_then_the_oldest(
    cache: PrincipalCache, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(cache_module, "MAX_ENTRIES", 3)
    cache.put("ended", principal("a"), 1.0, cache.generation())
    cache.put("old", principal("b"), 9.0, cache.generation())
    cache.put("new", principal("c"), 9.0, cache.generation())
    clock.now += 2
    cache.put("newest", principal("d"), 9.0, cache.generation())
    assert [cache.get(key) is not None for key in ("ended", "old", "new", "newest")] == [
        False,
        True,
        True,
        True,
    ]
    cache.put("one more", principal("e"), 9.0, cache.generation())
    assert cache.get("old") is None and cache.get("one more") is not None
