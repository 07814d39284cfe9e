"""The API's cache of cookies and tokens just checked (STEMDECK_AUTH_CACHE_SECONDS),
through the real app on the real database: one read for a burst of requests, and every
way of ending a session or a token still taking effect — at once when this process
makes the change, within the cache's seconds when another process does."""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import event

from stemdeck.api.app import create_app
from stemdeck.api.auth.cache import PrincipalCache
from stemdeck.api.auth.principal import SESSION_COOKIE
from stemdeck.core.accounts.api_tokens import issue_api_token
from stemdeck.core.accounts.sessions import SessionLimits, session_user, start_session
from stemdeck.core.accounts.tokens import digest
from stemdeck.core.accounts.users import disable_user, find_user
from stemdeck.core.db import engine_for, session_scope
from stemdeck.core.models import ApiToken, SignInSession, utcnow
from stemdeck.core.settings import Settings
from tests.integration.factories import ADMIN_EMAIL, ADMIN_PASSWORD

ADA, PASSWORD = "ada@example.com", "ada's own password"


@pytest.fixture
def accounts(accounts: Callable[..., Settings]) -> Callable[..., Settings]:
    return functools.partial(accounts, users={ADA: PASSWORD})


@pytest.fixture
def settings(accounts: Callable[..., Settings]) -> Settings:
    return accounts()


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings)) as test_client:
        yield test_client


def cache_of(client: TestClient) -> PrincipalCache:
    cache: PrincipalCache = client.app.state.context.principals  # type: ignore[attr-defined]
    return cache


def sign_in(client: TestClient, email: str = ADA, password: str = PASSWORD) -> dict[str, str]:
    """A real sign-in; the cookie as a header of its own (the client's jar stays empty)."""
    client.cookies.clear()
    response = client.post("/api/auth/login", json={"email": email, "password": password})
    assert response.status_code == 200, response.text
    client.cookies.clear()
    return {"Cookie": f"{SESSION_COOKIE}={response.cookies[SESSION_COOKIE]}"}


def token(settings: Settings, *scopes: str, email: str = ADA) -> dict[str, str]:
    with session_scope(settings.effective_database_url) as session:
        value = issue_api_token(session, find_user(session, email), scopes or ["jobs:read"], "t")
    return {"Authorization": f"Bearer {value}"}


def me(client: TestClient, headers: dict[str, str]) -> int:
    client.cookies.clear()
    return client.get("/api/auth/me", headers=headers).status_code


@pytest.fixture
def reads(clean_database: str) -> Iterator[list[str]]:
    """Every SQL statement this process sends to the test database."""
    sent: list[str] = []

    def record(*args: Any) -> None:
        # (conn, cursor, statement, parameters, context, many); the webhook sender's
        # background polls of its outbox are not the requests' reads.
        if "webhook_deliveries" not in args[2]:
            sent.append(args[2])

    engine = engine_for(clean_database)
    event.listen(engine, "before_cursor_execute", record)
    yield sent
    event.remove(engine, "before_cursor_execute", record)


def test_a_burst_of_requests_reads_its_token_or_cookie_once(
    client: TestClient, settings: Settings, reads: list[str]
) -> None:
    bearer, cookie = token(settings), sign_in(client)
    reads.clear()
    for _ in range(10):
        assert me(client, bearer) == 200
        assert me(client, cookie) == 200
    assert len([s for s in reads if "FROM api_tokens" in s]) == 1, reads
    assert len([s for s in reads if "FROM sessions" in s]) == 1, reads


def test_with_the_cache_off_every_request_reads(
    accounts: Callable[..., Settings], reads: list[str]
) -> None:
    settings = accounts(auth_cache_seconds=0)
    bearer = token(settings)
    with TestClient(create_app(settings)) as client:
        reads.clear()
        for _ in range(3):
            assert me(client, bearer) == 200
    assert len([s for s in reads if "FROM api_tokens" in s]) == 3


# --- what this process changes applies at once ----------------------------------------


def revoke_the_token(client: TestClient, settings: Settings, victim: dict[str, str]) -> None:
    owner = sign_in(client)  # tokens are revoked from a signed-in browser
    (listed,) = client.get("/api/account/tokens", headers=owner).json()
    response = client.delete(f"/api/account/tokens/{listed['id']}", headers=owner)
    assert response.status_code == 204, response.text


def end_the_session(client: TestClient, settings: Settings, victim: dict[str, str]) -> None:
    other = sign_in(client)
    mine = [s["id"] for s in client.get("/api/account/sessions", headers=other).json()]
    handle = digest(victim["Cookie"].split("=", 1)[1])[:16]
    assert handle in mine
    assert client.delete(f"/api/account/sessions/{handle}", headers=other).status_code == 204


def sign_out_everywhere(client: TestClient, settings: Settings, victim: dict[str, str]) -> None:
    assert client.delete("/api/account/sessions", headers=sign_in(client)).status_code == 204


def sign_out(client: TestClient, settings: Settings, victim: dict[str, str]) -> None:
    assert client.post("/api/auth/logout", headers=victim).status_code == 204


def change_the_password(client: TestClient, settings: Settings, victim: dict[str, str]) -> None:
    body = {"current_password": PASSWORD, "new_password": "ada's brand new password"}
    response = client.post("/api/account/password", json=body, headers=sign_in(client))
    assert response.status_code == 204, response.text


def disable_the_user(client: TestClient, settings: Settings, victim: dict[str, str]) -> None:
    with session_scope(settings.effective_database_url) as session:
        ada = find_user(session, ADA).id
    admin = sign_in(client, ADMIN_EMAIL, ADMIN_PASSWORD)
    changed = client.patch(f"/api/admin/users/{ada}", json={"disabled": True}, headers=admin)
    assert changed.status_code == 200, changed.text


@pytest.mark.parametrize(
    ("credential", "change"),
    [
        ("token", revoke_the_token),
        ("token", disable_the_user),
        ("cookie", end_the_session),
        ("cookie", sign_out_everywhere),
        ("cookie", sign_out),
        ("cookie", change_the_password),
        ("cookie", disable_the_user),
    ],
)
def test_what_this_process_ends_stops_working_at_once(
    client: TestClient,
    settings: Settings,
    credential: str,
    change: Callable[[TestClient, Settings, dict[str, str]], None],
) -> None:
    """GIVEN a cookie or token just used (so kept in the cache) WHEN this API process
    ends it THEN its next request is refused, with no wait for the cache."""
    victim = token(settings) if credential == "token" else sign_in(client)
    assert me(client, victim) == 200
    change(client, settings, victim)
    assert me(client, victim) == 401


def test_a_role_taken_away_here_applies_at_once(client: TestClient, settings: Settings) -> None:
    with session_scope(settings.effective_database_url) as session:
        ada = find_user(session, ADA)
        ada.is_admin = True
        ada_id = ada.id
    bearer = token(settings, "jobs:read", "admin")
    assert client.get("/api/admin/users", headers=bearer).status_code == 200
    admin = sign_in(client, ADMIN_EMAIL, ADMIN_PASSWORD)
    demoted = client.patch(f"/api/admin/users/{ada_id}", json={"is_admin": False}, headers=admin)
    assert demoted.status_code == 200, demoted.text
    refused = client.get("/api/admin/users", headers=bearer)
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "missing_scope"


# --- what another process changes applies within the cache's seconds ---------------------


def later(client: TestClient, seconds: float) -> None:
    """The cache's clock, ``seconds`` on."""
    cache_of(client).clock = lambda: time.monotonic() + seconds


def test_a_user_disabled_by_another_process_is_refused_once_the_seconds_pass(
    client: TestClient, settings: Settings
) -> None:
    """GIVEN Ada's token and cookie just used WHEN `stemdeck users disable` (another
    process, here core's disable_user) disables her THEN both are refused once
    STEMDECK_AUTH_CACHE_SECONDS have passed."""
    bearer, cookie = token(settings), sign_in(client)
    assert me(client, bearer) == me(client, cookie) == 200
    with session_scope(settings.effective_database_url) as session:
        disable_user(session, find_user(session, ADA))
    later(client, settings.auth_cache_seconds)
    assert me(client, bearer) == me(client, cookie) == 401


def test_with_the_cache_off_another_process_change_applies_at_once(
    accounts: Callable[..., Settings],
) -> None:
    settings = accounts(auth_cache_seconds=0)
    bearer = token(settings)
    with TestClient(create_app(settings)) as client:
        assert me(client, bearer) == 200
        with session_scope(settings.effective_database_url) as session:
            disable_user(session, find_user(session, ADA))
        assert me(client, bearer) == 401


def test_a_token_is_never_kept_past_its_expiry(client: TestClient, settings: Settings) -> None:
    bearer = token(settings)
    with session_scope(settings.effective_database_url) as session:
        row = session.query(ApiToken).one()
        row.expires_at = utcnow() + timedelta(seconds=settings.auth_cache_seconds / 5)
    assert me(client, bearer) == 200
    key = digest(bearer["Authorization"].removeprefix("Bearer "))
    assert cache_of(client).get(key) is not None
    later(client, settings.auth_cache_seconds / 5)
    assert cache_of(client).get(key) is None


def test_a_session_says_when_it_ends_unless_used(settings: Settings) -> None:
    """The end the cache is capped by: the idle end, or the absolute end if sooner."""
    url, limits = settings.effective_database_url, SessionLimits.from_settings(settings)
    with session_scope(url) as session:
        cookie = start_session(session, find_user(session, ADA), limits)
    with session_scope(url) as session:
        row = session.get_one(SignInSession, digest(cookie))
        found = session_user(session, cookie, limits)
        assert found is not None and found[1] == row.last_seen_at + limits.idle
        row.expires_at = row.last_seen_at + timedelta(minutes=5)
        found = session_user(session, cookie, limits)
        assert found is not None and found[1] == row.expires_at
