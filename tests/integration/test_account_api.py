"""The caller's own account through the real app: /api/account/sessions, /tokens and
/password, who may use them, and that a refusal stores nothing."""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from stemdeck.api.app import create_app
from stemdeck.api.auth.principal import SESSION_COOKIE
from stemdeck.core.accounts.sessions import SessionLimits, start_session
from stemdeck.core.accounts.tokens import digest
from stemdeck.core.accounts.users import find_user
from stemdeck.core.db import session_scope
from stemdeck.core.models import LOCAL_ADMIN_ID, ApiToken, SignInSession, User, utcnow
from stemdeck.core.settings import Settings
from tests.integration.factories import ADMIN_EMAIL, ADMIN_PASSWORD
from tests.integration.test_auth_api import (
    PASSWORD,
    error,
    login,
    session_cookie,
    token_for,
)

ADA, BOB = "ada@example.com", "bob@example.com"
NEW_PASSWORD = "ada's brand new password"
JSON = {"Content-Type": "application/json"}
EVIL = "https://evil.example"


@pytest.fixture
def accounts(accounts: Callable[..., Settings]) -> Callable[..., Settings]:
    """The first admin (as `stemdeck migrate` leaves it), Ada and Bob."""
    return functools.partial(accounts, users={ADA: PASSWORD, BOB: PASSWORD})


@pytest.fixture
def settings(accounts: Callable[..., Settings]) -> Settings:
    # A small limit keeps the argon2 work of the limit test short.
    return accounts(signin_attempts_per_account=3)


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings)) as test_client:
        yield test_client


@pytest.fixture
def ada_client(client: TestClient) -> TestClient:
    """The client, signed in as Ada (its cookie jar holds her session)."""
    assert login(client, ADA, PASSWORD).status_code == 200
    return client


def browser(settings: Settings, email: str, user_agent: str = "Other/1.0") -> str:
    """Another browser's session of ``email``, started as sign-in starts one: its cookie."""
    with session_scope(settings.effective_database_url) as session:
        user = find_user(session, email)
        limits = SessionLimits.from_settings(settings)
        return start_session(session, user, limits, user_agent=user_agent, ip="192.0.2.7")


def as_browser(cookie: str) -> dict[str, str]:
    # An explicit Cookie header wins over the client's jar.
    return {"Cookie": f"{SESSION_COOKIE}={cookie}"}


def signed_in(client: TestClient, cookie: str) -> bool:
    """Whether ``cookie`` still signs in, asked from a client of its own: the 401's
    clearing Set-Cookie must not reach ``client``'s jar."""
    response = TestClient(client.app).get("/api/auth/me", headers=as_browser(cookie))
    assert response.status_code in (200, 401), response.text
    return response.status_code == 200


def rows(settings: Settings, model: type[Any]) -> int:
    with session_scope(settings.effective_database_url) as session:
        return session.scalar(select(func.count()).select_from(model)) or 0


def password_hash(settings: Settings, email: str) -> str | None:
    with session_scope(settings.effective_database_url) as session:
        return find_user(session, email).password_hash


def new_token(client: TestClient, **body: Any) -> httpx.Response:
    return client.post(
        "/api/account/tokens", json={"name": "laptop", "scopes": ["jobs:read"], **body}
    )


# --- sessions ----------------------------------------------------------------------


def test_sessions_lists_the_callers_live_sessions_newest_first(
    ada_client: TestClient, settings: Settings
) -> None:
    other = browser(settings, ADA, "Firefox/140")
    browser(settings, BOB)
    with session_scope(settings.effective_database_url) as session:
        ada = find_user(session, ADA)
        limits = SessionLimits.from_settings(settings)
        gone = start_session(session, ada, limits)  # idle too long: not live any more
        session.get_one(SignInSession, digest(gone)).last_seen_at = utcnow() - limits.idle
    response = ada_client.get("/api/account/sessions", headers={"User-Agent": "Safari/18"})
    assert response.status_code == 200, response.text
    listed = response.json()
    assert [item["current"] for item in listed] == [False, True]  # newest first
    newest, mine = listed
    assert newest["user_agent"] == "Firefox/140" and newest["ip"] == "192.0.2.7"
    assert set(mine) == {
        "id", "created_at", "last_seen_at", "expires_at", "user_agent", "ip", "current"
    }  # fmt: skip
    assert newest["created_at"] >= mine["created_at"]
    # The id is a prefix of the stored hash: neither the cookie nor its whole hash.
    assert (
        newest["id"] == digest(other)[:16] and len(set(newest["id"]) - set("0123456789abcdef")) == 0
    )
    assert other not in response.text


def test_ending_another_session_of_yours_signs_that_browser_out_only(
    ada_client: TestClient, settings: Settings
) -> None:
    other = browser(settings, ADA)
    response = ada_client.delete(f"/api/account/sessions/{digest(other)[:16]}")
    assert response.status_code == 204 and response.content == b""
    assert SESSION_COOKIE not in response.headers.get("set-cookie", "")
    assert not signed_in(ada_client, other)
    assert ada_client.get("/api/auth/me").status_code == 200
    assert [item["current"] for item in ada_client.get("/api/account/sessions").json()] == [True]


def test_ending_your_current_session_by_id_clears_its_cookie(ada_client: TestClient) -> None:
    (mine,) = ada_client.get("/api/account/sessions").json()
    response = ada_client.delete(f"/api/account/sessions/{mine['id']}")
    assert response.status_code == 204
    assert session_cookie(response)["max-age"] == "0"
    error(ada_client.get("/api/auth/me"), 401, "not_signed_in")


@pytest.mark.parametrize("handle", ["0123456789abcdef", "nope", "A" * 16, "%25", "0" * 64])
def test_an_unknown_session_id_is_404(ada_client: TestClient, handle: str) -> None:
    error(ada_client.delete(f"/api/account/sessions/{handle}"), 404, "session_not_found")
    assert ada_client.get("/api/auth/me").status_code == 200


def test_another_users_session_is_404_and_stays(ada_client: TestClient, settings: Settings) -> None:
    bobs = browser(settings, BOB)
    response = ada_client.delete(f"/api/account/sessions/{digest(bobs)[:16]}")
    assert "None of your sessions" in error(response, 404, "session_not_found")
    assert signed_in(ada_client, bobs)


def test_ending_all_sessions_ends_the_current_one_too(
    ada_client: TestClient, settings: Settings
) -> None:
    other, bobs = browser(settings, ADA), browser(settings, BOB)
    response = ada_client.delete("/api/account/sessions")
    assert response.status_code == 204
    assert session_cookie(response)["max-age"] == "0"
    assert not signed_in(ada_client, other)
    error(ada_client.get("/api/auth/me"), 401, "not_signed_in")
    assert signed_in(ada_client, bobs)


# --- API tokens --------------------------------------------------------------------


def test_a_created_token_is_shown_once_and_stored_only_as_its_hash(
    ada_client: TestClient, settings: Settings
) -> None:
    response = new_token(ada_client, scopes=["jobs:read", "jobs:write"], expires_days=30)
    assert response.status_code == 201, response.text
    created = response.json()
    value = created.pop("token")
    assert value.startswith("sdk_") and created["prefix"] == value[:12]
    assert created["name"] == "laptop" and created["scopes"] == ["jobs:read", "jobs:write"]
    assert created["last_used_at"] is None
    with session_scope(settings.effective_database_url) as session:
        row = session.get_one(ApiToken, created["id"])
        assert row.token_hash == digest(value)
        assert value not in {row.name, row.prefix, row.token_hash}
        assert row.expires_at is not None
        assert abs(row.expires_at - (row.created_at + timedelta(days=30))) < timedelta(seconds=1)
    listed = ada_client.get("/api/account/tokens")
    assert listed.status_code == 200
    assert listed.json() == [created]  # the same fields, without the value
    me = ada_client.get("/api/auth/me", headers={"Authorization": f"Bearer {value}"})
    assert me.json()["via"] == "token" and me.json()["user"]["email"] == ADA


def test_tokens_lists_only_your_unrevoked_tokens_newest_first(
    ada_client: TestClient, settings: Settings
) -> None:
    token_for(settings, BOB, "jobs:read")
    first = new_token(ada_client, name="first").json()["id"]
    second = new_token(ada_client, name="second", expires_days=None).json()["id"]
    assert [t["id"] for t in ada_client.get("/api/account/tokens").json()] == [second, first]
    assert ada_client.delete(f"/api/account/tokens/{first}").status_code == 204
    assert [t["id"] for t in ada_client.get("/api/account/tokens").json()] == [second]


def test_an_admin_may_create_an_admin_token(client: TestClient) -> None:
    assert login(client, ADMIN_EMAIL, ADMIN_PASSWORD).status_code == 200
    response = new_token(client, scopes=["admin", "jobs:read"])
    assert response.status_code == 201
    assert response.json()["scopes"] == ["admin", "jobs:read"]


@pytest.mark.parametrize(
    ("body", "code", "says"),
    [
        ({"scopes": []}, "invalid_token_request", "at least one scope"),
        ({"scopes": ["jobs:read", "jobs:everything"]}, "invalid_token_request", "unknown scope"),
        ({"scopes": ["admin"]}, "invalid_token_request", "not an admin"),
        ({"name": ""}, "invalid_token_request", "1 to 100 characters"),
        ({"name": "   "}, "invalid_token_request", "1 to 100 characters"),
        ({"name": "x" * 101}, "invalid_token_request", "1 to 100 characters"),
        ({"expires_days": 0}, "invalid_request", "expires_days"),
        ({"expires_days": -1}, "invalid_request", "expires_days"),
        ({"expires_days": 3651}, "invalid_request", "expires_days"),
        ({"expires_days": 10**30}, "invalid_request", "expires_days"),
        ({"expires_days": "30"}, "invalid_request", "expires_days"),
        ({"expires_days": 1.5}, "invalid_request", "expires_days"),
        ({"expires_days": True}, "invalid_request", "expires_days"),
        ({"name": 7}, "invalid_request", "name"),
        ({"scopes": "jobs:read"}, "invalid_request", "scopes"),
        ({"scopes": [1]}, "invalid_request", "scopes"),
        ({"expires_day": 30}, "invalid_request", "expires_day"),  # a typo is no "never"
    ],
)
def test_a_bad_token_request_is_422_and_stores_nothing(
    ada_client: TestClient, settings: Settings, body: dict[str, Any], code: str, says: str
) -> None:
    assert says in error(new_token(ada_client, **body), 422, code)
    assert rows(settings, ApiToken) == 0


def test_a_token_body_without_name_or_scopes_is_422(ada_client: TestClient) -> None:
    for body in (b'{"scopes": ["jobs:read"]}', b'{"name": "x"}', b"{}", b"[]", b"null"):
        response = ada_client.post("/api/account/tokens", content=body, headers=JSON)
        error(response, 422, "invalid_request")


def test_revoking_a_token_stops_it_at_once(ada_client: TestClient, settings: Settings) -> None:
    created = new_token(ada_client).json()
    auth = {"Authorization": f"Bearer {created['token']}"}
    assert ada_client.get("/api/auth/me", headers=auth).status_code == 200
    assert ada_client.delete(f"/api/account/tokens/{created['id']}").status_code == 204
    error(ada_client.get("/api/auth/me", headers=auth), 401, "invalid_token")
    with session_scope(settings.effective_database_url) as session:
        assert session.get_one(ApiToken, created["id"]).revoked_at is not None  # kept, revoked
    again = ada_client.delete(f"/api/account/tokens/{created['id']}")
    error(again, 404, "token_not_found")


def test_another_users_or_an_unknown_token_is_404_and_keeps_working(
    ada_client: TestClient, settings: Settings
) -> None:
    bobs = token_for(settings, BOB, "jobs:read")
    with session_scope(settings.effective_database_url) as session:
        bobs_id = session.scalars(select(ApiToken.id)).one()
    for token_id in (bobs_id, "0" * 32, "nope"):
        error(ada_client.delete(f"/api/account/tokens/{token_id}"), 404, "token_not_found")
    assert (
        ada_client.get("/api/auth/me", headers={"Authorization": f"Bearer {bobs}"}).json()["user"][
            "email"
        ]
        == BOB
    )


# --- the password ------------------------------------------------------------------


def change(client: TestClient, current: str, new: str, **kwargs: Any) -> httpx.Response:
    body = {"current_password": current, "new_password": new}
    return client.post("/api/account/password", json=body, **kwargs)


def test_changing_the_password_ends_your_other_sessions_and_keeps_this_one(
    ada_client: TestClient, settings: Settings
) -> None:
    other, bobs = browser(settings, ADA), browser(settings, BOB)
    token = token_for(settings, ADA, "jobs:read")
    response = change(ada_client, PASSWORD, NEW_PASSWORD)
    assert response.status_code == 204, response.text
    assert ada_client.get("/api/auth/me").status_code == 200
    assert not signed_in(ada_client, other)
    assert signed_in(ada_client, bobs)
    # Tokens are not passwords: scripts keep working (revoke them on their own).
    assert ada_client.get("/api/auth/me", headers={"Authorization": f"Bearer {token}"}).is_success
    ada_client.cookies.clear()
    error(login(ada_client, ADA, PASSWORD), 401, "invalid_credentials")
    assert login(ada_client, ADA, NEW_PASSWORD).status_code == 200


def test_a_wrong_current_password_is_401_changes_nothing_and_is_limited(
    ada_client: TestClient, settings: Settings
) -> None:
    """GIVEN a borrowed session WHEN it guesses the current password THEN each guess
    counts as a failed sign-in for the account, up to 429, and nothing changes."""
    before, other = password_hash(settings, ADA), browser(settings, ADA)
    for _ in range(settings.signin_attempts_per_account):
        message = error(
            change(ada_client, "a wrong guess here", NEW_PASSWORD), 401, "invalid_credentials"
        )
        assert "current password" in message
    limited = change(ada_client, PASSWORD, NEW_PASSWORD)  # even the right one, for now
    error(limited, 429, "too_many_attempts")
    assert int(limited.headers["retry-after"]) > 0
    assert password_hash(settings, ADA) == before and signed_in(ada_client, other)
    assert ada_client.get("/api/auth/me").status_code == 200  # still signed in
    ada_client.cookies.clear()
    error(login(ada_client, ADA, PASSWORD), 429, "too_many_attempts")


@pytest.mark.parametrize(
    ("new", "says"),
    [("", "empty"), ("short", "at least 12"), ("x" * 1025, "longer than 1024")],
)
def test_an_unfit_new_password_is_422_with_the_reason(
    ada_client: TestClient, settings: Settings, new: str, says: str
) -> None:
    before, other = password_hash(settings, ADA), browser(settings, ADA)
    assert says in error(change(ada_client, PASSWORD, new), 422, "invalid_password")
    assert password_hash(settings, ADA) == before and signed_in(ada_client, other)


def test_the_first_admins_password_comes_from_the_settings(
    client: TestClient, settings: Settings
) -> None:
    assert login(client, ADMIN_EMAIL, ADMIN_PASSWORD).status_code == 200
    before = password_hash(settings, ADMIN_EMAIL)
    message = error(change(client, ADMIN_PASSWORD, NEW_PASSWORD), 409, "password_from_settings")
    assert "STEMDECK_ADMIN_PASSWORD" in message and "stemdeck migrate" in message
    assert password_hash(settings, ADMIN_EMAIL) == before


# --- who may, and which bodies -----------------------------------------------------

ROUTES = [
    ("GET", "/api/account/sessions", None),
    ("DELETE", "/api/account/sessions", None),
    ("DELETE", "/api/account/sessions/0123456789abcdef", None),
    ("GET", "/api/account/tokens", None),
    ("POST", "/api/account/tokens", {"name": "x", "scopes": ["jobs:read"]}),
    ("DELETE", "/api/account/tokens/0123", None),
    ("POST", "/api/account/password", {"current_password": PASSWORD, "new_password": "y" * 20}),
]


@pytest.mark.parametrize(("method", "path", "body"), ROUTES)
def test_an_api_token_is_403_session_required_even_with_every_scope(
    client: TestClient, settings: Settings, method: str, path: str, body: Any
) -> None:
    token = token_for(settings, ADMIN_EMAIL, "jobs:read", "jobs:write", "admin")
    auth = {"Authorization": f"Bearer {token}"}
    message = error(client.request(method, path, json=body, headers=auth), 403, "session_required")
    assert "stemdeck tokens create" in message
    assert rows(settings, ApiToken) == 1


@pytest.mark.parametrize(("method", "path", "body"), ROUTES)
def test_not_signed_in_is_401(client: TestClient, method: str, path: str, body: Any) -> None:
    error(client.request(method, path, json=body), 401, "not_signed_in")


@pytest.mark.parametrize(("method", "path", "body"), [r for r in ROUTES if r[0] != "GET"])
def test_a_cross_site_request_with_the_cookie_is_403(
    ada_client: TestClient, settings: Settings, method: str, path: str, body: Any
) -> None:
    before = password_hash(settings, ADA)
    response = ada_client.request(method, path, json=body, headers={"Origin": EVIL})
    error(response, 403, "cross_site_request")
    assert ada_client.get("/api/auth/me").status_code == 200
    assert rows(settings, ApiToken) == 0 and password_hash(settings, ADA) == before


@pytest.mark.parametrize("path", ["/api/account/tokens", "/api/account/password"])
@pytest.mark.parametrize(
    ("content", "headers", "status", "code"),
    [
        (b'{"name": "x", "scopes": ["jobs:read"]}', {"Content-Type": "text/plain"}, 415,
         "unsupported_content_type"),
        (b"name=x&scopes=jobs:read", {"Content-Type": "application/x-www-form-urlencoded"}, 415,
         "unsupported_content_type"),
        (b'{"name": "x", "scopes": ["jobs:read"]}', {}, 415, "unsupported_content_type"),
        (b'{"name": "x", "scopes": [', JSON, 422, "invalid_request"),
        (b"", JSON, 422, "invalid_request"),
        (b'{"name": "' + b"x" * 20000 + b'", "scopes": ["jobs:read"]}', JSON, 413, "too_large"),
    ],
)  # fmt: skip
def test_bad_bodies_are_refused_and_store_nothing(
    ada_client: TestClient,
    settings: Settings,
    path: str,
    content: bytes,
    headers: dict[str, str],
    status: int,
    code: str,
) -> None:
    before = password_hash(settings, ADA)
    error(ada_client.post(path, content=content, headers=headers), status, code)
    assert rows(settings, ApiToken) == 0 and password_hash(settings, ADA) == before


def test_the_routes_declare_their_errors_in_openapi(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    expected = {
        ("/api/account/sessions", "get"): {"401", "403"},
        ("/api/account/sessions/{session_id}", "delete"): {"401", "403", "404"},
        ("/api/account/tokens", "post"): {"201", "401", "403", "413", "415", "422"},
        ("/api/account/tokens/{token_id}", "delete"): {"204", "401", "403", "404"},
        ("/api/account/password", "post"): {"204", "401", "403", "409", "413", "415", "422", "429"},
    }
    for (path, method), statuses in expected.items():
        assert statuses <= set(paths[path][method]["responses"]), (path, method)


# --- STEMDECK_AUTH=none --------------------------------------------------------------


def test_under_auth_none_tokens_work_for_the_local_admin_and_there_are_no_sessions(
    make_settings: Callable[..., Settings],
) -> None:
    settings = make_settings()
    with TestClient(create_app(settings)) as client:
        assert client.get("/api/account/sessions").json() == []
        assert client.delete("/api/account/sessions").status_code == 204
        error(client.delete("/api/account/sessions/0123456789abcdef"), 404, "session_not_found")
        created = new_token(client, scopes=["admin"])
        assert created.status_code == 201
        with session_scope(settings.effective_database_url) as session:
            assert session.get_one(ApiToken, created.json()["id"]).user_id == LOCAL_ADMIN_ID
            assert session.get_one(User, LOCAL_ADMIN_ID).is_admin
        assert [t["id"] for t in client.get("/api/account/tokens").json()] == [created.json()["id"]]
        assert client.delete(f"/api/account/tokens/{created.json()['id']}").status_code == 204
        error(change(client, "anything at all", NEW_PASSWORD), 409, "sign_in_off")
