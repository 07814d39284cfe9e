"""/api/webhooks through the real app: endpoints registered, read, changed and removed;
their secret shown once; every bad input refused with what to do and nothing stored;
another user's ids answered as ids that never existed; the delivery log, redelivery,
and the callback secret.

Deliveries are written straight into the outbox table, as the sender leaves them: these
tests are about what the routes show and change, not about sending.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from standardwebhooks import Webhook

from stemdeck.api.app import create_app
from stemdeck.api.auth.principal import SESSION_COOKIE
from stemdeck.core.accounts.sessions import SessionLimits, start_session
from stemdeck.core.accounts.users import find_user
from stemdeck.core.db import session_scope
from stemdeck.core.models import (
    CallbackSecret,
    User,
    WebhookDelivery,
    WebhookEndpoint,
    new_job_id,
    utcnow,
)
from stemdeck.core.settings import Settings
from stemdeck.core.webhooks.signing import delivery_headers
from tests.integration.test_auth_api import error, token_for

ADA, BOB = "ada@example.com", "bob@example.com"
# Loopback is allowed for these (as for every test stack); a closed port: nothing is sent.
HOOK = "http://127.0.0.1:9/hooks/stemdeck"
CAP = 3


@pytest.fixture
def accounts(accounts: Callable[..., Settings]) -> Callable[..., Settings]:
    """Ada and Bob besides the first admin; without passwords (no argon2 work): they
    sign in by token, or by a session started for them."""

    def build(**overrides: Any) -> Settings:
        settings = accounts(**overrides)
        with session_scope(settings.effective_database_url) as session:
            session.add_all([User(email=ADA), User(email=BOB)])
        return settings

    return build


@pytest.fixture
def settings(accounts: Callable[..., Settings]) -> Settings:
    return accounts(ingest_allow_loopback=True, webhooks_per_user=CAP)


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings)) as test_client:
        yield test_client


def bearer(settings: Settings, email: str, *scopes: str) -> dict[str, str]:
    scopes = scopes or ("jobs:read", "jobs:write")
    return {"Authorization": f"Bearer {token_for(settings, email, *scopes)}"}


@pytest.fixture
def ada(settings: Settings) -> dict[str, str]:
    return bearer(settings, ADA)


@pytest.fixture
def bob(settings: Settings) -> dict[str, str]:
    return bearer(settings, BOB)


def register(client: TestClient, headers: dict[str, str], **body: Any) -> dict[str, Any]:
    response = client.post("/api/webhooks", json={"url": HOOK, **body}, headers=headers)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


def stored_endpoints(settings: Settings) -> list[WebhookEndpoint]:
    with session_scope(settings.effective_database_url) as session:
        rows = session.scalars(select(WebhookEndpoint)).all()
        session.expunge_all()
        return list(rows)


def user_id(settings: Settings, email: str) -> str:
    with session_scope(settings.effective_database_url) as session:
        return find_user(session, email).id


def add_delivery(
    settings: Settings, owner: str, endpoint_id: str | None, created_at: datetime, **fields: Any
) -> str:
    """A delivery row as the sender leaves one: tried, answered, logged."""
    delivery_id = "msg_" + secrets.token_hex(16)
    values: dict[str, Any] = {
        "id": delivery_id,
        "endpoint_id": endpoint_id,
        "owner_id": owner,
        "job_id": new_job_id(),
        "url": HOOK,
        "event": "job.completed",
        "payload": '{"type": "job.completed"}',
        "status": "delivered",
        "attempts": 1,
        "next_attempt_at": None,
        "created_at": created_at,
        "last_attempt_at": created_at + timedelta(seconds=1),
        "last_status_code": 200,
        "last_latency_ms": 42,
        "last_response": "ok",
    }
    values |= fields
    with session_scope(settings.effective_database_url) as session:
        row = WebhookDelivery(**values)
        session.add(row)
        session.flush()
        # A None given for a column with a default gets the default on insert.
        for name, value in values.items():
            if value is None:
                setattr(row, name, None)
    return delivery_id


# --- registering, reading, changing, removing ---------------------------------------


def test_an_endpoint_is_registered_with_a_secret_shown_only_in_that_answer(
    client: TestClient, settings: Settings, ada: dict[str, str]
) -> None:
    response = client.post(
        "/api/webhooks",
        json={"url": f"  {HOOK}  ", "description": "n8n: new stems"},
        headers=ada,
    )

    assert response.status_code == 201, response.text
    created = response.json()
    secret = created.pop("secret")
    assert secret.startswith("whsec_")
    assert created["url"] == HOOK  # stripped, as URL ingest keeps one
    assert created["events"] == ["job.completed", "job.failed"]  # the default
    assert created["description"] == "n8n: new stems"
    assert created["failing"] is False and created["failing_since"] is None
    location = f"http://testserver/api/webhooks/{created['id']}"
    assert response.headers["location"] == location
    assert created["deliveries_url"] == f"{location}/deliveries"
    # The secret is the endpoint's: a body signed with the stored one verifies with it.
    (row,) = stored_endpoints(settings)
    assert row.secret == secret and row.owner_id == user_id(settings, ADA)
    signed = delivery_headers(row.secret, "msg_" + "0" * 32, utcnow(), b"{}")
    Webhook(secret).verify(b"{}", signed)

    one = client.get(f"/api/webhooks/{created['id']}", headers=ada)
    listed = client.get("/api/webhooks", headers=ada)
    assert one.status_code == listed.status_code == 200
    assert one.json() == created
    assert listed.json() == {"data": [created]}
    assert secret not in one.text + listed.text and "secret" not in one.json()


def test_events_and_description_are_kept_as_sent_and_listed_oldest_first(
    client: TestClient, ada: dict[str, str]
) -> None:
    first = register(client, ada, events=["job.progress"])
    second = register(client, ada, events=["job.failed", "job.completed", "job.progress"])

    listed = client.get("/api/webhooks", headers=ada).json()["data"]

    assert [hook["id"] for hook in listed] == [first["id"], second["id"]]
    assert listed[0]["events"] == ["job.progress"]
    assert listed[1]["events"] == ["job.failed", "job.completed", "job.progress"]


def test_a_patch_changes_only_the_fields_sent_and_keeps_the_secret(
    client: TestClient, settings: Settings, ada: dict[str, str]
) -> None:
    created = register(client, ada, description="before")
    path = f"/api/webhooks/{created['id']}"

    events = client.patch(path, json={"events": ["job.progress"]}, headers=ada)
    url = client.patch(path, json={"url": "http://127.0.0.1:9/elsewhere"}, headers=ada)
    nothing = client.patch(path, json={}, headers=ada)

    assert events.status_code == url.status_code == nothing.status_code == 200
    assert events.json()["events"] == ["job.progress"]
    assert events.json()["url"] == HOOK and events.json()["description"] == "before"
    assert url.json()["url"] == "http://127.0.0.1:9/elsewhere"
    assert url.json()["events"] == ["job.progress"]
    assert nothing.json() == url.json() == client.get(path, headers=ada).json()
    (row,) = stored_endpoints(settings)
    assert row.secret == created["secret"] and "secret" not in url.json()


def test_a_patched_url_is_checked_again_and_a_refusal_changes_nothing(
    client: TestClient, settings: Settings, ada: dict[str, str]
) -> None:
    created = register(client, ada)
    path = f"/api/webhooks/{created['id']}"
    body = {"url": "http://10.1.2.3/hook", "description": "changed?"}

    message = error(client.patch(path, json=body, headers=ada), 422, "url_forbidden")

    assert "10.1.2.3 is a private address" in message
    (row,) = stored_endpoints(settings)
    assert (row.url, row.description) == (HOOK, "")


def test_deleting_an_endpoint_removes_it_and_its_deliveries(
    client: TestClient, settings: Settings, ada: dict[str, str]
) -> None:
    created = register(client, ada)
    kept = register(client, ada)
    owner = user_id(settings, ADA)
    add_delivery(settings, owner, created["id"], utcnow())
    add_delivery(settings, owner, kept["id"], utcnow())

    gone = client.delete(f"/api/webhooks/{created['id']}", headers=ada)

    assert gone.status_code == 204 and gone.content == b""
    error(client.get(f"/api/webhooks/{created['id']}", headers=ada), 404, "webhook_not_found")
    error(client.delete(f"/api/webhooks/{created['id']}", headers=ada), 404, "webhook_not_found")
    assert [row.id for row in stored_endpoints(settings)] == [kept["id"]]
    with session_scope(settings.effective_database_url) as session:
        left = session.scalars(select(WebhookDelivery.endpoint_id)).all()
    assert left == [kept["id"]]


# --- bad input --------------------------------------------------------------------------

LONG = "x" * 201


@pytest.mark.parametrize(
    ("body", "status", "code", "says"),
    [
        ({"url": "http://10.0.0.7/hook"}, 422, "url_forbidden", "10.0.0.7 is a private"),
        ({"url": "http://169.254.169.254/x"}, 422, "url_forbidden", "link-local"),
        ({"url": "http://127.0.0.2/hook"}, 422, "url_forbidden", "loopback"),
        ({"url": "http://[::ffff:10.0.0.1]/"}, 422, "url_forbidden", "private address"),
        ({"url": "ftp://example.com/hook"}, 400, "invalid_url", "http:// and https://"),
        ({"url": "https://user:pw@1.1.1.1/"}, 400, "invalid_url", "user name or password"),
        ({"url": "https://host.invalid/"}, 422, "url_unresolvable", "cannot be resolved"),
        ({"url": ""}, 400, "invalid_url", "1 to 2048 characters"),
        ({"url": "http://a.b/" + "x" * 2048}, 422, "invalid_request", "at most 2048"),
        ({}, 422, "invalid_request", "url: Field required"),
        ({"url": HOOK, "events": []}, 422, "invalid_request", "at least 1 item"),
        ({"url": HOOK, "events": ["job.started"]}, 422, "invalid_request", "'job.progress'"),
        ({"url": HOOK, "events": "job.failed"}, 422, "invalid_request", "valid list"),
        (
            {"url": HOOK, "events": ["job.failed", "job.progress", "job.failed"]},
            422,
            "invalid_request",
            "job.failed named more than once",
        ),
        ({"url": HOOK, "description": LONG}, 422, "invalid_request", "at most 200 characters"),
        ({"url": HOOK, "secret": "whsec_mine"}, 422, "invalid_request", "secret: Extra inputs"),
        ({"url": 7}, 422, "invalid_request", "url: Input should be a valid string"),
    ],
)
def test_a_bad_endpoint_is_refused_with_what_to_do_and_nothing_stored(
    client: TestClient,
    settings: Settings,
    ada: dict[str, str],
    body: dict[str, Any],
    status: int,
    code: str,
    says: str,
) -> None:
    created = client.post("/api/webhooks", json=body, headers=ada)
    assert says in error(created, status, code)

    # The same refusal for a change to an endpoint that exists, which keeps what it had
    # ({} changes nothing, which is no error).
    existing = register(client, ada)
    if body:
        changed = client.patch(f"/api/webhooks/{existing['id']}", json=body, headers=ada)
        assert says in error(changed, status, code)
    assert [row.url for row in stored_endpoints(settings)] == [HOOK]


def test_a_private_address_is_refused_as_for_webhooks_not_downloads(
    client: TestClient, ada: dict[str, str]
) -> None:
    message = error(
        client.post("/api/webhooks", json={"url": "http://192.168.1.20/hook"}, headers=ada),
        422,
        "url_forbidden",
    )

    assert message.startswith("Stemdeck will not deliver to 192.168.1.20:")
    assert "public http(s) addresses only" in message and "upload" not in message


def test_loopback_is_refused_unless_the_test_only_setting_allows_it(
    accounts: Callable[..., Settings],
) -> None:
    settings = accounts()  # STEMDECK_INGEST_ALLOW_LOOPBACK off, as in production
    with TestClient(create_app(settings)) as client:
        headers = bearer(settings, ADA)
        for url in (HOOK, "http://[::1]:9/hook", "http://localhost:9/hook"):
            refused = client.post("/api/webhooks", json={"url": url}, headers=headers)
            assert "loopback address" in error(refused, 422, "url_forbidden"), url
        # A public address is taken as it is (nothing is sent to it here).
        public = client.post("/api/webhooks", json={"url": "https://1.1.1.1/h"}, headers=headers)
        assert public.status_code == 201, public.text
    assert [row.url for row in stored_endpoints(settings)] == ["https://1.1.1.1/h"]


@pytest.mark.parametrize(
    ("content", "content_type", "status", "code"),
    [
        (b'{"url": "http://127.0.0.1:9/"}', "text/plain", 415, "unsupported_content_type"),
        (
            b"url=http://127.0.0.1:9/",
            "application/x-www-form-urlencoded",
            415,
            "unsupported_content_type",
        ),
        (b'{"url": ', "application/json", 422, "invalid_request"),
        (b'["http://127.0.0.1:9/"]', "application/json", 422, "invalid_request"),
        (b'{"url": "\xff"}', "application/json", 422, "invalid_request"),
        (b'{"description": "' + b"x" * 17_000 + b'"}', "application/json", 413, "too_large"),
    ],
    ids=["text-plain", "form", "broken-json", "not-an-object", "not-utf8", "over-16-kib"],
)
def test_a_body_that_is_not_a_small_json_object_is_refused(
    client: TestClient,
    settings: Settings,
    ada: dict[str, str],
    content: bytes,
    content_type: str,
    status: int,
    code: str,
) -> None:
    response = client.post(
        "/api/webhooks", content=content, headers={**ada, "Content-Type": content_type}
    )

    error(response, status, code)
    assert stored_endpoints(settings) == []


def test_past_the_per_user_cap_a_new_endpoint_is_409_until_one_is_deleted(
    client: TestClient, settings: Settings, ada: dict[str, str], bob: dict[str, str]
) -> None:
    made = [register(client, ada) for _ in range(CAP)]

    over = client.post("/api/webhooks", json={"url": HOOK}, headers=ada)

    message = error(over, 409, "too_many_webhooks")
    assert f"You have {CAP} webhook endpoints" in message
    assert "STEMDECK_WEBHOOKS_PER_USER" in message and "DELETE /api/webhooks/{id}" in message
    assert over.json()["error"]["limit"] == CAP
    assert len(stored_endpoints(settings)) == CAP
    register(client, bob)  # the cap is each user's own
    assert client.delete(f"/api/webhooks/{made[0]['id']}", headers=ada).status_code == 204
    register(client, ada)


def test_requests_at_once_cannot_pass_the_cap_together(
    client: TestClient, settings: Settings, ada: dict[str, str]
) -> None:
    """Each request counts the endpoints with the owner's row locked: of many at once,
    only as many as the cap allows are made."""
    many = 4 * CAP
    with ThreadPoolExecutor(max_workers=many) as pool:
        answers = list(
            pool.map(
                lambda _: client.post("/api/webhooks", json={"url": HOOK}, headers=ada),
                range(many),
            )
        )

    statuses = sorted(answer.status_code for answer in answers)
    assert statuses == [201] * CAP + [409] * (many - CAP)
    assert len(stored_endpoints(settings)) == CAP


# --- who may -----------------------------------------------------------------------------


def test_another_users_endpoint_is_404_as_one_that_never_existed(
    client: TestClient, settings: Settings, ada: dict[str, str], bob: dict[str, str]
) -> None:
    theirs = register(client, ada)
    delivery = add_delivery(settings, user_id(settings, ADA), theirs["id"], utcnow())
    nobody, no_delivery = "0" * 32, "msg_" + "0" * 32
    calls: list[tuple[str, str, dict[str, Any]]] = [
        ("GET", "/api/webhooks/{}", {}),
        ("PATCH", "/api/webhooks/{}", {"json": {"description": "Bob's now"}}),
        ("DELETE", "/api/webhooks/{}", {}),
        ("GET", "/api/webhooks/{}/deliveries", {}),
    ]
    for method, template, request in calls:
        bobs = client.request(method, template.format(theirs["id"]), headers=bob, **request)
        nobodys = client.request(method, template.format(nobody), headers=bob, **request)
        message = error(bobs, 404, "webhook_not_found")
        assert message == error(nobodys, 404, "webhook_not_found").replace(nobody, theirs["id"])
    redeliver = "/api/webhooks/deliveries/{}/redeliver"
    bobs = client.post(redeliver.format(delivery), headers=bob)
    nobodys = client.post(redeliver.format(no_delivery), headers=bob)
    message = error(bobs, 404, "delivery_not_found")
    assert message == error(nobodys, 404, "delivery_not_found").replace(no_delivery, delivery)

    # Bob's lists show nothing of Ada's; hers is as she left it.
    for path in ("/api/webhooks", "/api/webhooks/callback-deliveries"):
        listed = client.get(path, headers=bob)
        assert listed.status_code == 200 and listed.json()["data"] == []
    theirs.pop("secret")
    assert client.get(f"/api/webhooks/{theirs['id']}", headers=ada).json() == theirs
    assert delivery_row(settings, delivery).status == "delivered"


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/api/webhooks"),
        ("PATCH", "/api/webhooks/{id}"),
        ("DELETE", "/api/webhooks/{id}"),
        ("POST", "/api/webhooks/callback-secret"),
        ("POST", "/api/webhooks/deliveries/msg_0/redeliver"),
    ],
)
def test_a_read_only_token_may_look_but_not_change(
    client: TestClient, settings: Settings, ada: dict[str, str], method: str, path: str
) -> None:
    existing = register(client, ada)
    reader = bearer(settings, ADA, "jobs:read")
    assert client.get("/api/webhooks", headers=reader).status_code == 200

    response = client.request(
        method, path.format(id=existing["id"]), json={"url": HOOK}, headers=reader
    )

    assert "'jobs:write'" in error(response, 403, "missing_scope")
    assert len(stored_endpoints(settings)) == 1


def test_a_signed_in_browser_registers_from_the_app_but_not_from_another_site(
    client: TestClient, settings: Settings
) -> None:
    with session_scope(settings.effective_database_url) as session:
        user = find_user(session, ADA)
        cookie = start_session(session, user, SessionLimits.from_settings(settings))
    browser = {"Cookie": f"{SESSION_COOKIE}={cookie}"}
    forged = client.post(
        "/api/webhooks", json={"url": HOOK}, headers={**browser, "Origin": "https://evil.example"}
    )
    error(forged, 403, "cross_site_request")
    assert stored_endpoints(settings) == []

    app = {**browser, "Origin": "http://testserver"}
    own = client.post("/api/webhooks", json={"url": HOOK}, headers=app)
    assert own.status_code == 201, own.text


# --- the delivery log and redelivery ---------------------------------------------------


def delivery_row(settings: Settings, delivery_id: str) -> WebhookDelivery:
    with session_scope(settings.effective_database_url) as session:
        row = session.get_one(WebhookDelivery, delivery_id)
        session.expunge(row)
        return row


def test_an_endpoints_deliveries_are_paged_newest_first(
    client: TestClient, settings: Settings, ada: dict[str, str]
) -> None:
    hook, other = register(client, ada), register(client, ada)
    owner, start = user_id(settings, ADA), utcnow() - timedelta(hours=1)
    ids = [
        add_delivery(settings, owner, hook["id"], start + timedelta(minutes=n)) for n in range(5)
    ]
    add_delivery(settings, owner, other["id"], start)
    add_delivery(settings, owner, None, start)  # to a job's callback_url
    failed = add_delivery(
        settings,
        owner,
        hook["id"],
        start + timedelta(minutes=9),
        status="failed",
        attempts=14,
        event="job.failed",
        last_status_code=None,
        last_latency_ms=10_000,
        last_response="timed out after 10 s",
    )

    first = client.get(hook["deliveries_url"], params={"limit": 2}, headers=ada)
    rest = client.get(hook["deliveries_url"], params={"limit": 10, "offset": 2}, headers=ada)

    assert first.status_code == rest.status_code == 200
    assert {key: first.json()[key] for key in ("count", "limit", "offset")} == {
        "count": 6,
        "limit": 2,
        "offset": 0,
    }
    newest = [failed, *reversed(ids)]
    assert [d["id"] for d in first.json()["data"] + rest.json()["data"]] == newest
    shown = first.json()["data"][0]
    row = delivery_row(settings, failed)
    assert shown == {
        "id": failed,
        "event": "job.failed",
        "job_id": row.job_id,
        "url": HOOK,
        "status": "failed",
        "attempts": 14,
        "created_at": iso(row.created_at),
        "last_attempt_at": iso(row.last_attempt_at),
        "next_attempt_at": None,
        "status_code": None,
        "latency_ms": 10_000,
        "response": "timed out after 10 s",
    }
    past = client.get(hook["deliveries_url"], params={"offset": 50}, headers=ada).json()
    assert past["data"] == [] and past["count"] == 6


def iso(when: datetime | None) -> str:
    assert when is not None
    return when.isoformat().replace("+00:00", "Z")


@pytest.mark.parametrize("query", ["limit=0", "limit=101", "offset=-1", "offset=2147483648"])
def test_a_page_out_of_range_is_422(client: TestClient, ada: dict[str, str], query: str) -> None:
    hook = register(client, ada)
    for path in (hook["deliveries_url"], "http://testserver/api/webhooks/callback-deliveries"):
        error(client.get(f"{path}?{query}", headers=ada), 422, "invalid_request")


def test_callback_deliveries_are_those_to_jobs_own_urls(
    client: TestClient, settings: Settings, ada: dict[str, str]
) -> None:
    hook = register(client, ada)
    owner = user_id(settings, ADA)
    add_delivery(settings, owner, hook["id"], utcnow())
    callback = add_delivery(settings, owner, None, utcnow(), url="http://127.0.0.1:9/job-done")
    add_delivery(settings, user_id(settings, BOB), None, utcnow())

    page = client.get("/api/webhooks/callback-deliveries", headers=ada).json()

    assert [d["id"] for d in page["data"]] == [callback] and page["count"] == 1
    assert page["data"][0]["url"] == "http://127.0.0.1:9/job-done"


def test_a_redelivery_is_the_same_delivery_due_now_with_fresh_tries(
    client: TestClient, settings: Settings, ada: dict[str, str]
) -> None:
    hook = register(client, ada)
    sent = utcnow() - timedelta(days=2)
    delivery = add_delivery(
        settings,
        user_id(settings, ADA),
        hook["id"],
        sent,
        status="failed",
        attempts=14,
        payload='{"type": "job.failed", "data": {}}',
        locked_until=sent + timedelta(minutes=1),
        retry_until=sent + timedelta(days=1),
        last_status_code=503,
    )
    before = utcnow()

    response = client.post(f"/api/webhooks/deliveries/{delivery}/redeliver", headers=ada)

    assert response.status_code == 202, response.text
    again = response.json()
    assert again["id"] == delivery
    assert (again["status"], again["attempts"]) == ("pending", 0)
    due = datetime.fromisoformat(again["next_attempt_at"])
    assert before <= due <= utcnow()
    assert again["status_code"] == 503  # the last try's answer stays in the log till the next
    row = delivery_row(settings, delivery)
    assert row.payload == '{"type": "job.failed", "data": {}}'  # the same bytes are sent
    assert (row.endpoint_id, row.created_at) == (hook["id"], sent)
    log = client.get(hook["deliveries_url"], headers=ada).json()
    assert [d["id"] for d in log["data"]] == [delivery]  # the same row, not a second one


def test_a_callback_delivery_is_redelivered_too(
    client: TestClient, settings: Settings, ada: dict[str, str]
) -> None:
    delivery = add_delivery(settings, user_id(settings, ADA), None, utcnow(), status="failed")

    response = client.post(f"/api/webhooks/deliveries/{delivery}/redeliver", headers=ada)

    assert response.status_code == 202 and response.json()["status"] == "pending"


@pytest.mark.parametrize("delivery_id", ["msg_" + "f" * 32, "not a delivery", "x" * 41, "%00"])
def test_redelivering_an_unknown_delivery_is_404(
    client: TestClient, ada: dict[str, str], delivery_id: str
) -> None:
    response = client.post(f"/api/webhooks/deliveries/{delivery_id}/redeliver", headers=ada)
    assert "GET /api/webhooks/{id}/deliveries" in error(response, 404, "delivery_not_found")


@pytest.mark.parametrize("webhook_id", ["0" * 32, "not-an-id", "%00", "A" * 32])
def test_an_unknown_endpoint_id_is_404(
    client: TestClient, ada: dict[str, str], webhook_id: str
) -> None:
    for method, suffix in (("GET", ""), ("PATCH", ""), ("DELETE", ""), ("GET", "/deliveries")):
        response = client.request(
            method, f"/api/webhooks/{webhook_id}{suffix}", headers=ada, json={}
        )
        assert "GET /api/webhooks lists them" in error(response, 404, "webhook_not_found")


# --- the callback secret ---------------------------------------------------------------


def test_the_callback_secret_is_made_then_replaced_and_shown_only_then(
    client: TestClient, settings: Settings, ada: dict[str, str], bob: dict[str, str]
) -> None:
    first = client.post("/api/webhooks/callback-secret", headers=ada)
    second = client.post("/api/webhooks/callback-secret", headers=ada)
    bobs = client.post("/api/webhooks/callback-secret", headers=bob)

    assert first.status_code == second.status_code == bobs.status_code == 201
    secrets_shown = [r.json()["secret"] for r in (first, second, bobs)]
    assert all(s.startswith("whsec_") for s in secrets_shown)
    assert len(set(secrets_shown)) == 3
    assert second.json()["created_at"] >= first.json()["created_at"]
    with session_scope(settings.effective_database_url) as session:
        rows = {row.owner_id: row.secret for row in session.scalars(select(CallbackSecret))}
    assert rows == {
        user_id(settings, ADA): secrets_shown[1],  # the first one signs nothing any more
        user_id(settings, BOB): secrets_shown[2],
    }
    for path in ("/api/webhooks", "/api/webhooks/callback-deliveries"):
        assert not any(s in client.get(path, headers=ada).text for s in secrets_shown)


def test_the_local_user_manages_webhooks_without_signing_in(
    make_settings: Callable[..., Settings],
) -> None:
    """STEMDECK_AUTH=none: the laptop's one user, as for jobs."""
    settings = make_settings(ingest_allow_loopback=True)
    with TestClient(create_app(settings)) as client:
        created = register(client, {})
        assert client.get("/api/webhooks").json()["data"][0]["id"] == created["id"]
        assert client.post("/api/webhooks/callback-secret").status_code == 201
    with session_scope(settings.effective_database_url) as session:
        assert session.scalar(select(func.count()).select_from(WebhookEndpoint)) == 1


def test_the_routes_declare_their_answers_in_openapi(client: TestClient) -> None:
    """So /docs and the generated clients (the web app's, `stemdeck remote`) know them."""
    paths = client.get("/openapi.json").json()["paths"]
    signed_in = {"401", "403"}
    expected = {
        ("/api/webhooks", "post"): {"201", "400", "409", "413", "415", "422"},
        ("/api/webhooks", "get"): {"200"},
        ("/api/webhooks/{webhook_id}", "get"): {"200", "404"},
        ("/api/webhooks/{webhook_id}", "patch"): {"200", "400", "404", "413", "415", "422"},
        ("/api/webhooks/{webhook_id}", "delete"): {"204", "404"},
        ("/api/webhooks/{webhook_id}/deliveries", "get"): {"200", "404", "422"},
        ("/api/webhooks/deliveries/{delivery_id}/redeliver", "post"): {"202", "404"},
        ("/api/webhooks/callback-secret", "post"): {"201"},
        ("/api/webhooks/callback-deliveries", "get"): {"200", "422"},
    }
    for (path, method), statuses in expected.items():
        assert statuses | signed_in <= set(paths[path][method]["responses"]), (path, method)
    created = paths["/api/webhooks"]["post"]["responses"]["201"]["content"]["application/json"]
    assert created["schema"]["$ref"].endswith("/WebhookCreated")
