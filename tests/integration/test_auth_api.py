"""Who is asking, through the real app: the principal (local admin, token, session),
scope checks, and the sign-in routes /api/auth/login, /logout and /me."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from stemdeck.api.app import create_app
from stemdeck.api.auth.principal import SESSION_COOKIE, Admin, JobsReader, JobsWriter, Principal
from stemdeck.core.accounts.api_tokens import issue_api_token
from stemdeck.core.accounts.tokens import digest
from stemdeck.core.accounts.users import add_user, disable_user, find_user
from stemdeck.core.db import session_scope
from stemdeck.core.models import LOCAL_ADMIN_EMAIL, LOCAL_ADMIN_ID, SignInSession, User
from stemdeck.core.settings import Settings
from tests.integration.factories import ADMIN_EMAIL, ADMIN_PASSWORD

PASSWORD = "ada's own password"


def probe(principal: Principal) -> dict[str, Any]:
    scopes = sorted(s.value for s in principal.scopes) if principal.scopes is not None else None
    return {"email": principal.email, "via": principal.via, "scopes": scopes}


def with_probes(app: FastAPI) -> FastAPI:
    """Routes that need each scope, as the job routes will: what `requires` lets through."""

    def read(principal: JobsReader) -> dict[str, Any]:
        return probe(principal)

    def write(principal: JobsWriter) -> dict[str, Any]:
        return probe(principal)

    def admin(principal: Admin) -> dict[str, Any]:
        return probe(principal)

    app.add_api_route("/probe/read", read)
    app.add_api_route("/probe/write", write, methods=["POST"])
    app.add_api_route("/probe/admin", admin)
    return app


@pytest.fixture
def settings(accounts: Callable[..., Settings]) -> Settings:
    return accounts()


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    with TestClient(with_probes(create_app(settings))) as test_client:
        yield test_client


@pytest.fixture
def ada(settings: Settings) -> str:
    with session_scope(settings.effective_database_url) as session:
        return add_user(session, "ada@example.com", PASSWORD).id


def token_for(settings: Settings, email: str, *scopes: str) -> str:
    with session_scope(settings.effective_database_url) as session:
        return issue_api_token(session, find_user(session, email), scopes, "test")


def login(client: TestClient, email: str, password: str, **kwargs: Any) -> httpx.Response:
    return client.post("/api/auth/login", json={"email": email, "password": password}, **kwargs)


def session_cookie(response: httpx.Response) -> dict[str, str]:
    """The Set-Cookie of the session, its attributes by lower-cased name."""
    (header,) = [h for h in response.headers.get_list("set-cookie") if h.startswith(SESSION_COOKIE)]
    name_value, *attributes = [part.strip() for part in header.split(";")]
    parts = {"value": name_value.split("=", 1)[1]}
    for attribute in attributes:
        key, _, value = attribute.partition("=")
        parts[key.lower()] = value
    return parts


def sessions_of(settings: Settings, user_id: str) -> int:
    with session_scope(settings.effective_database_url) as session:
        count = select(func.count()).select_from(SignInSession)
        return session.scalar(count.where(SignInSession.user_id == user_id)) or 0


def error(response: httpx.Response, status: int, code: str) -> str:
    assert response.status_code == status, response.text
    body = response.json()["error"]
    assert body["code"] == code
    assert len(body["message"]) > 20, "a message should say what to do"
    return str(body["message"])


# --- auth=none -----------------------------------------------------------------------


def test_none_mode_is_the_local_admin_whatever_is_sent(
    make_settings: Callable[..., Settings],
) -> None:
    with TestClient(with_probes(create_app(make_settings()))) as client:
        me = client.get("/api/auth/me", headers={"Authorization": "Basic nonsense"})
        assert me.status_code == 200
        assert me.json() == {
            "user": {"id": LOCAL_ADMIN_ID, "email": LOCAL_ADMIN_EMAIL, "is_admin": True},
            "auth": "none",
            "via": "local",
        }
        assert client.get("/probe/admin").json()["via"] == "local"
        assert client.post("/probe/write").status_code == 200
        error(login(client, ADMIN_EMAIL, ADMIN_PASSWORD), 409, "sign_in_off")
        # No cross-site check without accounts: nothing changes for a first try.
        cross = client.post(
            "/api/auth/logout",
            headers={"Origin": "https://evil.example", "Cookie": f"{SESSION_COOKIE}=x"},
        )
        assert cross.status_code == 204


# --- the principal under auth=accounts ---------------------------------------------------


def test_no_credentials_is_401_not_signed_in_with_www_authenticate(client: TestClient) -> None:
    for path in ("/api/auth/me", "/probe/read", "/probe/admin"):
        response = client.get(path)
        message = error(response, 401, "not_signed_in")
        assert response.headers["www-authenticate"] == "Bearer"
        assert "/api/auth/login" in message


@pytest.mark.parametrize(
    "header",
    [
        "Basic YWRhOnNlY3JldA==",
        "Bearer",
        "Bearer ",
        "Bearer sdk_short",
        "Token sdk_" + "A" * 43,
        "Bearer sdk_" + "A" * 43 + "x",
        "Bearer " + "A" * 47,
        "Bearer sdk_" + "A" * 43,  # the right shape, but no such token
    ],
)
def test_a_bad_authorization_header_is_401_invalid_token(client: TestClient, header: str) -> None:
    response = client.get("/api/auth/me", headers={"Authorization": header})
    error(response, 401, "invalid_token")
    assert 'error="invalid_token"' in response.headers["www-authenticate"]


def test_a_live_token_acts_with_its_scopes_only(
    client: TestClient, settings: Settings, ada: str
) -> None:
    token = token_for(settings, "ada@example.com", "jobs:read")
    auth = {"Authorization": f"bearer {token}"}  # the scheme is case-insensitive
    assert client.get("/probe/read", headers=auth).json() == {
        "email": "ada@example.com",
        "via": "token",
        "scopes": ["jobs:read"],
    }
    me = client.get("/api/auth/me", headers=auth).json()
    assert me == {
        "user": {"id": ada, "email": "ada@example.com", "is_admin": False},
        "auth": "accounts",
        "via": "token",
    }
    message = error(client.post("/probe/write", headers=auth), 403, "missing_scope")
    assert "'jobs:write'" in message and "lacks" in message


def test_admin_needs_an_admin_user_and_the_admin_scope(
    client: TestClient, settings: Settings, ada: str
) -> None:
    signed_in = login(client, "ada@example.com", PASSWORD)
    assert signed_in.status_code == 200
    assert client.get("/probe/read").json()["via"] == "session"
    message = error(client.get("/probe/admin"), 403, "missing_scope")
    assert "'admin'" in message and "only admins" in message

    client.cookies.clear()
    reader = token_for(settings, ADMIN_EMAIL, "jobs:read")
    response = client.get("/probe/admin", headers={"Authorization": f"Bearer {reader}"})
    assert "'admin'" in error(response, 403, "missing_scope")

    full = token_for(settings, ADMIN_EMAIL, "jobs:read", "admin")
    auth = {"Authorization": f"Bearer {full}"}
    assert client.get("/probe/admin", headers=auth).status_code == 200
    with session_scope(settings.effective_database_url) as session:
        session.get_one(User, LOCAL_ADMIN_ID).is_admin = False  # demoted since, elsewhere
    # Seen once the API's credential cache has had its STEMDECK_AUTH_CACHE_SECONDS.
    cache = client.app.state.context.principals  # type: ignore[attr-defined]
    cache.clock = lambda: time.monotonic() + settings.auth_cache_seconds
    error(client.get("/probe/admin", headers=auth), 403, "missing_scope")


def test_a_token_wins_over_a_cookie(client: TestClient, settings: Settings, ada: str) -> None:
    assert login(client, ADMIN_EMAIL, ADMIN_PASSWORD).status_code == 200
    token = token_for(settings, "ada@example.com", "jobs:read")
    me = client.get("/api/auth/me", headers={"Authorization": f"Bearer {token}"}).json()
    assert (me["user"]["email"], me["via"]) == ("ada@example.com", "token")


@pytest.mark.parametrize("cookie", ["not-a-session", "A" * 43, "A" * 5000, "ünïcode"])
def test_a_tampered_or_unknown_cookie_is_401_and_cleared(client: TestClient, cookie: str) -> None:
    raw = f"{SESSION_COOKIE}={cookie}".encode()  # raw bytes: a browser may send any
    response = client.get("/api/auth/me", headers={"Cookie": raw})  # type: ignore[dict-item]
    error(response, 401, "session_expired")
    cleared = session_cookie(response)
    assert cleared["value"] == "" and cleared["max-age"] == "0"


# --- POST /api/auth/login ------------------------------------------------------------


def test_login_sets_a_fresh_http_only_lax_cookie_for_the_session_lifetime(
    client: TestClient, settings: Settings, ada: str
) -> None:
    response = login(client, " Ada@Example.com ", PASSWORD)
    assert response.status_code == 200, response.text
    assert response.json() == {
        "user": {"id": ada, "email": "ada@example.com", "is_admin": False},
        "auth": "accounts",
        "via": "session",
    }
    cookie = session_cookie(response)
    assert "httponly" in cookie and cookie["samesite"].lower() == "lax"
    assert cookie["path"] == "/" and "secure" not in cookie  # http://testserver
    assert int(cookie["max-age"]) == int(settings.session_lifetime_days * 86400)
    assert client.get("/api/auth/me").json()["via"] == "session"

    again = login(client, "ada@example.com", PASSWORD)
    assert session_cookie(again)["value"] != cookie["value"]
    # The id the browser sent with the second sign-in ended with it.
    assert sessions_of(settings, ada) == 1


def test_a_planted_session_id_is_never_reused(
    client: TestClient, settings: Settings, ada: str
) -> None:
    """GIVEN an attacker who signed in and planted their session id in the victim's
    browser WHEN the victim signs in THEN the victim gets a new id, and the planted
    one no longer works."""
    planted = session_cookie(login(client, ADMIN_EMAIL, ADMIN_PASSWORD))["value"]
    client.cookies.clear()
    fresh = login(
        client, "ada@example.com", PASSWORD, headers={"Cookie": f"{SESSION_COOKIE}={planted}"}
    )
    assert session_cookie(fresh)["value"] != planted
    client.cookies.clear()
    error(
        client.get("/api/auth/me", headers={"Cookie": f"{SESSION_COOKIE}={planted}"}),
        401,
        "session_expired",
    )


def test_the_cookie_is_secure_when_the_public_url_is_https(
    accounts: Callable[..., Settings],
) -> None:
    settings = accounts(public_url="https://stemdeck.example.com/")
    with TestClient(create_app(settings)) as client:
        response = login(client, ADMIN_EMAIL, ADMIN_PASSWORD)
        assert "secure" in session_cookie(response)
        out = client.post("/api/auth/logout", headers={"Origin": "https://stemdeck.example.com"})
        assert "secure" in session_cookie(out)


def test_unknown_email_wrong_password_and_disabled_user_get_one_answer(
    client: TestClient, settings: Settings, ada: str, argon2_verifications: list[str]
) -> None:
    with session_scope(settings.effective_database_url) as session:
        bob = add_user(session, "bob@example.com", PASSWORD)
        disable_user(session, bob)
    answers = []
    for email, password in [
        ("nobody@example.com", PASSWORD),
        ("ada@example.com", "not ada's password"),
        ("bob@example.com", PASSWORD),
        ("no email at all", PASSWORD),
    ]:
        before = len(argon2_verifications)
        response = login(client, email, password)
        assert len(argon2_verifications) == before + 1, (
            f"{email}: one argon2 verify, as for everyone"
        )
        error(response, 401, "invalid_credentials")
        assert SESSION_COOKIE not in response.headers.get("set-cookie", "")
        answers.append(
            (response.status_code, response.json(), response.headers.get("www-authenticate"))
        )
    assert all(answer == answers[0] for answer in answers), answers


@pytest.mark.parametrize(
    ("content", "headers", "status", "code"),
    [
        (
            b'{"email": "a@b.co", "password": "x"}',
            {"Content-Type": "text/plain"},
            415,
            "unsupported_content_type",
        ),
        (
            b"email=a@b.co&password=x",
            {"Content-Type": "application/x-www-form-urlencoded"},
            415,
            "unsupported_content_type",
        ),
        (b'{"email": "a@b.co", "password": "x"}', {}, 415, "unsupported_content_type"),
        (
            b'{"email": "a@b.co", "password":',
            {"Content-Type": "application/json"},
            422,
            "invalid_request",
        ),
        (b"", {"Content-Type": "application/json"}, 422, "invalid_request"),
        (b"[]", {"Content-Type": "application/json"}, 422, "invalid_request"),
        (b'{"email": "a@b.co"}', {"Content-Type": "application/json"}, 422, "invalid_request"),
        (
            b'{"email": 7, "password": ["x"]}',
            {"Content-Type": "application/json"},
            422,
            "invalid_request",
        ),
        (
            b'{"email": "", "password": ""}',
            {"Content-Type": "application/json"},
            422,
            "invalid_request",
        ),
        (
            b'{"email": "a@b.co", "password": "' + b"x" * 1025 + b'"}',
            {"Content-Type": "application/json"},
            422,
            "invalid_request",
        ),
        (
            b'{"email": "a@b.co", "password": "' + b"x" * 20000 + b'"}',
            {"Content-Type": "application/json"},
            413,
            "too_large",
        ),
    ],
)
def test_bad_login_bodies_are_refused_before_any_password_work(
    client: TestClient,
    argon2_verifications: list[str],
    content: bytes,
    headers: dict[str, str],
    status: int,
    code: str,
) -> None:
    response = client.post("/api/auth/login", content=content, headers=headers)
    error(response, status, code)
    assert argon2_verifications == []


def test_a_huge_chunked_login_body_is_cut_off(
    client: TestClient, argon2_verifications: list[str]
) -> None:
    def chunks() -> Iterator[bytes]:
        yield b'{"email": "a@b.co", "password": "'
        for _ in range(1000):
            yield b"x" * 1024

    response = client.post(
        "/api/auth/login", content=chunks(), headers={"Content-Type": "application/json"}
    )
    assert "content-length" not in response.request.headers
    error(response, 413, "too_large")
    assert argon2_verifications == []


# --- logout and me -------------------------------------------------------------------


def test_logout_ends_the_session_and_clears_the_cookie(
    client: TestClient, settings: Settings, ada: str
) -> None:
    session_id = session_cookie(login(client, "ada@example.com", PASSWORD))["value"]
    response = client.post("/api/auth/logout")
    assert response.status_code == 204 and response.content == b""
    cleared = session_cookie(response)
    assert cleared["value"] in {"", '""'} and cleared["max-age"] == "0"
    with session_scope(settings.effective_database_url) as session:
        assert session.get(SignInSession, digest(session_id)) is None
    error(
        client.get("/api/auth/me", headers={"Cookie": f"{SESSION_COOKIE}={session_id}"}),
        401,
        "session_expired",
    )


def test_logout_without_a_session_is_still_204(client: TestClient) -> None:
    assert client.post("/api/auth/logout").status_code == 204
    stale = client.post("/api/auth/logout", headers={"Cookie": f"{SESSION_COOKIE}=stale"})
    assert stale.status_code == 204


def test_me_is_401_when_not_signed_in(client: TestClient) -> None:
    error(client.get("/api/auth/me"), 401, "not_signed_in")
