"""Admins manage users and invites through the real app: /api/admin/users,
/api/admin/invites and POST /api/auth/accept-invite; who may use them, and that a
refusal stores nothing."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from stemdeck.api.app import create_app
from stemdeck.core.accounts.tokens import digest
from stemdeck.core.accounts.users import find_user
from stemdeck.core.db import session_scope
from stemdeck.core.models import LOCAL_ADMIN_ID, Invite, User, utcnow
from stemdeck.core.settings import Settings
from tests.integration.factories import ADMIN_EMAIL
from tests.integration.test_account_api import as_browser, browser, signed_in
from tests.integration.test_auth_api import PASSWORD, error, login, token_for

ADA, BOB, CARA = "ada@example.com", "bob@example.com", "cara@example.com"
CARA_PASSWORD = "cara's very own password"


@pytest.fixture
def settings(accounts: Callable[..., Settings]) -> Settings:
    """The first admin, Ada (an admin too) and Bob."""
    settings = accounts(users={ADA: PASSWORD, BOB: PASSWORD}, signin_attempts_per_ip=50)
    with session_scope(settings.effective_database_url) as session:
        find_user(session, ADA).is_admin = True
    return settings


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings)) as test_client:
        yield test_client


def bearer(settings: Settings, email: str, *scopes: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token_for(settings, email, *scopes)}"}


def user_id(settings: Settings, email: str) -> str:
    with session_scope(settings.effective_database_url) as session:
        return find_user(session, email).id


def count(settings: Settings, model: type[Any]) -> int:
    with session_scope(settings.effective_database_url) as session:
        return session.scalar(select(func.count()).select_from(model)) or 0


@pytest.fixture
def ada(settings: Settings) -> dict[str, str]:
    """Ada's admin token (the admin scope)."""
    return bearer(settings, ADA, "admin")


def invite(client: TestClient, headers: dict[str, str], **body: Any) -> httpx.Response:
    return client.post("/api/admin/invites", json={"email": CARA, **body}, headers=headers)


def accept(client: TestClient, token: str, password: str = CARA_PASSWORD) -> httpx.Response:
    return client.post("/api/auth/accept-invite", json={"token": token, "password": password})


def token_of(created: httpx.Response) -> str:
    assert created.status_code == 201, created.text
    return str(created.json()["url"]).split("#", 1)[1]


# --- users --------------------------------------------------------------------------


def test_lists_users_with_role_quotas_and_usage(
    client: TestClient, settings: Settings, ada: dict[str, str]
) -> None:
    response = client.get("/api/admin/users", headers=ada)
    assert response.status_code == 200, response.text
    by_email = {user["email"]: user for user in response.json()}
    assert set(by_email) == {ADMIN_EMAIL, ADA, BOB}
    bob = by_email[BOB]
    assert bob["is_admin"] is False and bob["disabled"] is False
    assert bob["first_admin"] is False and by_email[ADMIN_EMAIL]["first_admin"] is True
    assert bob["quotas"] == {"active_jobs": None, "audio_minutes_per_day": None, "storage_mb": None}
    assert bob["usage"] == {"active_jobs": 0, "audio_minutes_today": 0.0, "storage_bytes": 0}
    assert bob["created_at"]


def test_patch_sets_role_and_quotas_and_null_puts_a_default_back(
    client: TestClient, settings: Settings, ada: dict[str, str]
) -> None:
    path = f"/api/admin/users/{user_id(settings, BOB)}"
    quotas = {"active_jobs": 2, "audio_minutes_per_day": 0, "storage_mb": 100}
    response = client.patch(path, json={"is_admin": True, "quotas": quotas}, headers=ada)
    assert response.status_code == 200, response.text
    assert response.json()["is_admin"] is True and response.json()["quotas"] == quotas
    response = client.patch(path, json={"quotas": {"storage_mb": None}}, headers=ada)
    assert response.json()["quotas"] == {**quotas, "storage_mb": None}
    with session_scope(settings.effective_database_url) as session:
        bob = find_user(session, BOB)
        assert (bob.is_admin, bob.max_active_jobs, bob.storage_bytes) == (True, 2, None)


def test_disabling_ends_sessions_and_tokens_and_enabling_lets_them_sign_in(
    client: TestClient, settings: Settings, ada: dict[str, str]
) -> None:
    cookie, token = browser(settings, BOB), bearer(settings, BOB, "jobs:read")
    assert client.get("/api/jobs", headers=token).status_code == 200
    path = f"/api/admin/users/{user_id(settings, BOB)}"
    response = client.patch(path, json={"disabled": True}, headers=ada)
    assert response.status_code == 200 and response.json()["disabled"] is True
    error(client.get("/api/jobs", headers=token), 401, "invalid_token")
    assert not signed_in(client, cookie)
    error(login(TestClient(client.app), BOB, PASSWORD), 401, "invalid_credentials")
    response = client.patch(path, json={"disabled": False}, headers=ada)
    assert response.json()["disabled"] is False
    assert login(TestClient(client.app), BOB, PASSWORD).status_code == 200


@pytest.mark.parametrize("change", [{"is_admin": False}, {"disabled": True}])
def test_no_admin_can_demote_or_disable_themself_or_the_first_admin(
    client: TestClient, settings: Settings, ada: dict[str, str], change: dict[str, bool]
) -> None:
    """GIVEN Ada, an admin WHEN she demotes or disables herself or the first admin THEN
    409 saying why, and nothing changed (her own token still works)."""
    own = client.patch(f"/api/admin/users/{user_id(settings, ADA)}", json=change, headers=ada)
    assert "yourself" in error(own, 409, "user_change_refused")
    first = client.patch(f"/api/admin/users/{LOCAL_ADMIN_ID}", json=change, headers=ada)
    assert "STEMDECK_ADMIN_EMAIL" in error(first, 409, "user_change_refused")
    with session_scope(settings.effective_database_url) as session:
        assert all(
            user.is_admin and user.disabled_at is None
            for user in (find_user(session, ADA), session.get_one(User, LOCAL_ADMIN_ID))
        )
    assert client.get("/api/admin/users", headers=ada).status_code == 200


def test_a_refused_change_changes_nothing_else_in_the_body(
    client: TestClient, settings: Settings, ada: dict[str, str]
) -> None:
    body = {"quotas": {"active_jobs": 7}, "disabled": True}
    error(
        client.patch(f"/api/admin/users/{LOCAL_ADMIN_ID}", json=body, headers=ada),
        409,
        "user_change_refused",
    )
    with session_scope(settings.effective_database_url) as session:
        assert session.get_one(User, LOCAL_ADMIN_ID).max_active_jobs is None


def test_unknown_user_is_404(client: TestClient, ada: dict[str, str]) -> None:
    error(
        client.patch("/api/admin/users/nobody", json={"is_admin": True}, headers=ada),
        404,
        "user_not_found",
    )


@pytest.mark.parametrize(
    "body",
    [
        {"is_admin": "yes"},
        {"disabled": 1},
        {"role": "admin"},
        {"quotas": {"active_jobs": -1}},
        {"quotas": {"active_jobs": 1.5}},
        {"quotas": {"storage_mb": 2**41}},
        {"quotas": {"jobs": 3}},
        {"quotas": 5},
    ],
)
def test_patch_refuses_a_malformed_body(
    client: TestClient, settings: Settings, ada: dict[str, str], body: dict[str, Any]
) -> None:
    bob = user_id(settings, BOB)
    error(client.patch(f"/api/admin/users/{bob}", json=body, headers=ada), 422, "invalid_request")


def test_patch_takes_json_only(client: TestClient, settings: Settings, ada: dict[str, str]) -> None:
    path = f"/api/admin/users/{user_id(settings, BOB)}"
    response = client.patch(
        path, content=b'{"is_admin": true}', headers={**ada, "Content-Type": "text/plain"}
    )
    error(response, 415, "unsupported_content_type")


ADMIN_ROUTES = [
    ("GET", "/api/admin/users", None),
    ("PATCH", f"/api/admin/users/{LOCAL_ADMIN_ID}", {"quotas": {"active_jobs": 1}}),
    ("GET", "/api/admin/invites", None),
    ("POST", "/api/admin/invites", {"email": CARA}),
    ("DELETE", "/api/admin/invites/some-id", None),
]


@pytest.mark.parametrize(("method", "path", "body"), ADMIN_ROUTES)
def test_admin_routes_need_an_admin_with_the_admin_scope(
    client: TestClient, settings: Settings, method: str, path: str, body: Any
) -> None:
    def call(**kwargs: Any) -> httpx.Response:
        return TestClient(client.app).request(method, path, json=body, **kwargs)

    error(call(), 401, "not_signed_in")
    bob = bearer(settings, BOB, "jobs:read", "jobs:write")
    assert "only admins" in error(call(headers=bob), 403, "missing_scope")
    error(call(headers=as_browser(browser(settings, BOB))), 403, "missing_scope")
    no_admin_scope = bearer(settings, ADA, "jobs:read", "jobs:write")
    assert "'admin'" in error(call(headers=no_admin_scope), 403, "missing_scope")
    assert count(settings, Invite) == 0


# --- invites ------------------------------------------------------------------------


def test_an_invite_end_to_end(client: TestClient, settings: Settings, ada: dict[str, str]) -> None:
    """GIVEN an admin's invite WHEN Cara accepts it THEN she has the account, signed in,
    her password signs in after, and the link works no more."""
    created = invite(client, ada, email="  Cara@Example.com ", expires_hours=24)
    body = created.json()
    token = token_of(created)
    assert body["url"] == f"http://testserver/invite#{token}"
    assert body["email"] == CARA and body["is_admin"] is False
    assert body["created_by"] == user_id(settings, ADA)
    with session_scope(settings.effective_database_url) as session:
        row = session.get_one(Invite, body["id"])
        assert row.token_hash == digest(token)  # only the hash is kept
        assert timedelta(hours=23) < row.expires_at - utcnow() <= timedelta(hours=24)
    listed = client.get("/api/admin/invites", headers=ada).json()
    assert [item["id"] for item in listed] == [body["id"]] and token not in str(listed)

    cara = TestClient(client.app)
    response = accept(cara, token)
    assert response.status_code == 200, response.text
    assert response.json()["user"]["email"] == CARA and response.json()["via"] == "session"
    assert cara.get("/api/auth/me").json()["user"]["email"] == CARA  # the cookie signs in
    assert login(TestClient(client.app), CARA, CARA_PASSWORD).status_code == 200
    assert client.get("/api/admin/invites", headers=ada).json() == []
    assert "new link" in error(
        accept(TestClient(client.app), token, "another good password"), 410, "invite_invalid"
    )


def test_an_admin_invite_makes_an_admin(
    client: TestClient, settings: Settings, ada: dict[str, str]
) -> None:
    token = token_of(invite(client, ada, is_admin=True))
    assert accept(client, token).json()["user"]["is_admin"] is True


def test_expired_revoked_and_unknown_invites_are_410(
    client: TestClient, settings: Settings, ada: dict[str, str]
) -> None:
    expired = token_of(invite(client, ada))
    with session_scope(settings.effective_database_url) as session:
        row = session.scalar(select(Invite).where(Invite.token_hash == digest(expired)))
        assert row is not None
        row.expires_at = utcnow() - timedelta(seconds=1)
    error(accept(client, expired), 410, "invite_invalid")

    revoked = invite(client, ada, email="dan@example.com")
    response = client.delete(f"/api/admin/invites/{revoked.json()['id']}", headers=ada)
    assert response.status_code == 204
    error(accept(client, token_of(revoked)), 410, "invite_invalid")
    error(
        client.delete(f"/api/admin/invites/{revoked.json()['id']}", headers=ada),
        404,
        "invite_not_found",
    )
    error(accept(client, "not-a-token-at-all"), 410, "invite_invalid")
    assert count(settings, User) == 3


def test_an_unfit_password_or_a_taken_email_stores_nothing(
    client: TestClient, settings: Settings, ada: dict[str, str]
) -> None:
    token = token_of(invite(client, ada))
    assert "12" in error(accept(client, token, "short"), 422, "invalid_password")
    with session_scope(settings.effective_database_url) as session:
        from stemdeck.core.accounts.users import add_user

        add_user(session, CARA, "made meanwhile by the CLI")
    error(accept(client, token, CARA_PASSWORD), 409, "email_taken")
    with session_scope(settings.effective_database_url) as session:
        assert session.scalar(select(Invite.used_at)) is None  # still unused
        assert find_user(session, CARA).password_hash is not None
    assert count(settings, User) == 4
    error(invite(client, ada, email=BOB), 409, "email_taken")


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"email": "not an email"}, "invalid_email"),
        ({"email": "ada@example"}, "invalid_email"),
        ({"email": "a" * 310 + "@example.com"}, "invalid_request"),  # over 320
        ({"expires_hours": 0}, "invalid_request"),
        ({"expires_hours": 10**6}, "invalid_request"),
        ({"expires_hours": "72"}, "invalid_request"),
        ({"is_admin": "true"}, "invalid_request"),
        ({"role": "admin"}, "invalid_request"),
    ],
)
def test_invite_refuses_bad_input(
    client: TestClient, settings: Settings, ada: dict[str, str], body: dict[str, Any], code: str
) -> None:
    error(invite(client, ada, **body), 422, code)
    assert count(settings, Invite) == 0


@pytest.mark.parametrize(
    "body",
    [
        {"token": "x"},
        {"token": 5, "password": CARA_PASSWORD},
        {"token": "x" * 200, "password": CARA_PASSWORD},
        {"token": "x", "password": CARA_PASSWORD, "email": CARA},
    ],
)
def test_accept_refuses_a_malformed_body(client: TestClient, body: dict[str, Any]) -> None:
    error(client.post("/api/auth/accept-invite", json=body), 422, "invalid_request")


def test_invite_routes_take_json_only(client: TestClient, ada: dict[str, str]) -> None:
    for path, headers in (("/api/admin/invites", ada), ("/api/auth/accept-invite", {})):
        response = client.post(
            path,
            content=b'{"email": "c@example.com"}',
            headers={**headers, "Content-Type": "text/plain"},
        )
        error(response, 415, "unsupported_content_type")


def test_accept_is_counted_by_the_sign_in_limiter(
    accounts: Callable[..., Settings],
) -> None:
    settings = accounts(signin_attempts_per_ip=2)
    with TestClient(create_app(settings)) as client:
        for _ in range(2):
            error(accept(client, "guessed"), 410, "invite_invalid")
        response = accept(client, "guessed again")
        error(response, 429, "too_many_attempts")
        assert int(response.headers["Retry-After"]) > 0


def test_public_url_makes_the_link(accounts: Callable[..., Settings]) -> None:
    settings = accounts(public_url="https://stemdeck.example.com")
    admin = bearer(settings, ADMIN_EMAIL, "admin")
    with TestClient(create_app(settings)) as client:
        created = client.post("/api/admin/invites", json={"email": CARA}, headers=admin)
        assert created.json()["url"].startswith("https://stemdeck.example.com/invite#")


def test_none_mode_has_no_invites(make_settings: Callable[..., Settings]) -> None:
    with TestClient(create_app(make_settings())) as client:
        error(client.get("/api/admin/invites"), 409, "sign_in_off")
        error(client.post("/api/admin/invites", json={"email": CARA}), 409, "sign_in_off")
        error(accept(client, "anything"), 409, "sign_in_off")


def test_the_routes_declare_their_errors_in_openapi(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    declared = {
        ("get", "/api/admin/users"): {"401", "403"},
        ("patch", "/api/admin/users/{user_id}"): {"401", "403", "404", "409", "413", "415", "422"},
        ("post", "/api/admin/invites"): {"401", "403", "409", "413", "415", "422"},
        ("get", "/api/admin/invites"): {"401", "403", "409"},
        ("delete", "/api/admin/invites/{invite_id}"): {"401", "403", "404", "409"},
        ("post", "/api/auth/accept-invite"): {"409", "410", "413", "415", "422", "429"},
    }
    for (method, path), statuses in declared.items():
        assert statuses <= set(paths[path][method]["responses"]), (method, path)


def test_an_invite_accepted_over_real_http(settings: Settings) -> None:
    """GIVEN a real `stemdeck api` process WHEN Cara accepts an invite with httpx THEN
    she is signed in by the cookie it set, and her password signs in after."""
    from tests.integration.factories import ADMIN_PASSWORD
    from tests.integration.stack import running_stack

    admin = bearer(settings, ADMIN_EMAIL, "admin")
    with (
        running_stack(
            settings,
            workers=0,
            STEMDECK_AUTH="accounts",
            STEMDECK_ADMIN_EMAIL=ADMIN_EMAIL,
            STEMDECK_ADMIN_PASSWORD=ADMIN_PASSWORD,
        ) as stack,
        stack.client() as client,
    ):
        created = client.post("/api/admin/invites", json={"email": CARA}, headers=admin)
        assert created.status_code == 201, created.text
        url = created.json()["url"]
        assert url.startswith(f"{stack.base_url}/invite#")
        body = {"token": url.split("#", 1)[1], "password": CARA_PASSWORD}
        with stack.client() as cara:
            assert cara.post("/api/auth/accept-invite", json=body).status_code == 200
            assert cara.get("/api/auth/me").json()["user"]["email"] == CARA
        again = client.post("/api/auth/accept-invite", json=body)
        assert again.status_code == 410, again.text
        signin = {"email": CARA, "password": CARA_PASSWORD}
        assert client.post("/api/auth/login", json=signin).status_code == 200
