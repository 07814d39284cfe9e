"""The isolation matrix: every operation in the app's OpenAPI schema, tried by nobody,
by another user, by a token lacking its scope, and by its owner.

GIVEN two users (Ada and Bea) and the first admin, signed in for real (POST
/api/auth/login for their cookies; API tokens issued by core with chosen scopes), and
real jobs (completed ones with stems, waveforms and a source stored; unfinished ones)
WHEN each operation is called THEN:

- without credentials it answers 401;
- a token of the owner's that lacks the operation's scope gets 403 naming it (the
  account routes: 403 session_required for any token; admin routes: 403 for a
  non-admin, whatever they send);
- Bea, on Ada's job, session or token, gets 404 exactly as for an id that never
  existed; on an operation naming none, her answer shows nothing of Ada's;
- Ada (her cookie, then a token with just that scope) gets the operation's documented
  success, on the very ids Bea was refused; an admin does too on Ada's jobs.

The walk reads app.openapi(), so an operation added later fails the matrix until it is
described in OPERATIONS (with the access it needs) or listed in PUBLIC with the reason
it needs no sign-in.
"""

from __future__ import annotations

import itertools
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from stemdeck.api.auth.principal import SESSION_COOKIE
from stemdeck.core.accounts.api_tokens import create_api_token
from stemdeck.core.accounts.invites import create_invite
from stemdeck.core.accounts.sessions import (
    HANDLE_LENGTH,
    SessionLimits,
    session_handle,
    start_session,
)
from stemdeck.core.accounts.tokens import digest
from stemdeck.core.db import session_scope
from stemdeck.core.models import (
    LOCAL_ADMIN_ID,
    Batch,
    Job,
    SignInSession,
    User,
    WebhookDelivery,
    WebhookEndpoint,
    new_id,
    new_job_id,
)
from stemdeck.core.settings import Settings
from stemdeck.core.states import JobStatus
from stemdeck.core.webhooks.signing import new_secret
from tests.integration.conftest import StoredJob
from tests.integration.factories import ADMIN_EMAIL, ADMIN_PASSWORD, short_wav

READ, WRITE = "jobs:read", "jobs:write"


class Access(Enum):
    """What an operation asks of its caller."""

    read = READ
    write = WRITE
    admin = "admin"
    account = "a signed-in browser"  # /api/account sessions, tokens and password
    signed_in = "any credentials"  # who am I


@dataclass
class Person:
    id: str
    email: str
    password: str
    cookie: str = ""
    # Ids of what they own (jobs, sessions, tokens): none may show in another's answer.
    owned: set[str] = field(default_factory=set)


# Keyword arguments of the request (json=, files=, data=) for a caller.
Sample = Callable[["World", Person], dict[str, Any]]


@dataclass(frozen=True)
class Operation:
    access: Access
    sample: Sample | None = None
    unfinished: bool = False  # {job_id} names a job not finished yet (cancel)
    signs_out: bool = False  # ends the caller's own sessions: sign in again after


def upload(world: World, caller: Person) -> dict[str, Any]:
    return {
        "files": {"file": ("song.wav", world.song, "audio/wav")},
        "data": {"strategy": "four-stems-dsp"},
    }


def url_job(world: World, caller: Person) -> dict[str, Any]:
    # Nothing is fetched: the job waits on the ingest queue, which no worker serves here.
    return {"json": {"url": "http://127.0.0.1:9/song.mp3", "strategy": "four-stems-dsp"}}


def url_batch(world: World, caller: Person) -> dict[str, Any]:
    return {"json": {"urls": ["http://127.0.0.1:9/a.mp3", "http://127.0.0.1:9/b.mp3"]}}


def webhook(world: World, caller: Person) -> dict[str, Any]:
    return {"json": {"url": "http://127.0.0.1:9/hook", "events": ["job.completed"]}}


def webhook_change(world: World, caller: Person) -> dict[str, Any]:
    return {"json": {"description": "changed by the matrix"}}


def new_token(world: World, caller: Person) -> dict[str, Any]:
    return {"json": {"name": "matrix", "scopes": [READ]}}


def same_password(world: World, caller: Person) -> dict[str, Any]:
    # The same password again: a real change (other sessions end), and later sign-ins
    # still know it.
    return {"json": {"current_password": caller.password, "new_password": caller.password}}


def quotas(world: World, caller: Person) -> dict[str, Any]:
    # Back to the default (unlimited here): Bea, its target, goes on creating jobs.
    return {"json": {"quotas": {"active_jobs": None}}}


def invite(world: World, caller: Person) -> dict[str, Any]:
    return {"json": {"email": world.fresh_email()}}


# Every operation that needs a sign-in, with what it needs. A new route goes here (or in
# PUBLIC); its path parameters get values in World.value.
OPERATIONS: dict[tuple[str, str], Operation] = {
    ("POST", "/api/jobs"): Operation(Access.write, upload),
    ("GET", "/api/jobs"): Operation(Access.read),
    ("GET", "/api/jobs/{job_id}"): Operation(Access.read),
    ("DELETE", "/api/jobs/{job_id}"): Operation(Access.write),
    ("POST", "/api/jobs/{job_id}/cancel"): Operation(Access.write, unfinished=True),
    ("GET", "/api/jobs/{job_id}/events"): Operation(Access.read),
    ("GET", "/api/jobs/{job_id}/stems/{stem}.{fmt}"): Operation(Access.read),
    ("GET", "/api/jobs/{job_id}/stems.zip"): Operation(Access.read),
    ("GET", "/api/jobs/{job_id}/waveforms/{stem}.{kind}"): Operation(Access.read),
    ("POST", "/api/batches"): Operation(Access.write, url_batch),
    ("GET", "/api/batches"): Operation(Access.read),
    ("GET", "/api/batches/{batch_id}"): Operation(Access.read),
    ("GET", "/api/batches/{batch_id}/zip"): Operation(Access.read),
    ("DELETE", "/api/batches/{batch_id}"): Operation(Access.write),
    ("POST", "/api/webhooks"): Operation(Access.write, webhook),
    ("GET", "/api/webhooks"): Operation(Access.read),
    ("GET", "/api/webhooks/{webhook_id}"): Operation(Access.read),
    ("PATCH", "/api/webhooks/{webhook_id}"): Operation(Access.write, webhook_change),
    ("DELETE", "/api/webhooks/{webhook_id}"): Operation(Access.write),
    ("GET", "/api/webhooks/{webhook_id}/deliveries"): Operation(Access.read),
    ("POST", "/api/webhooks/deliveries/{delivery_id}/redeliver"): Operation(Access.write),
    ("POST", "/api/webhooks/callback-secret"): Operation(Access.write),
    ("GET", "/api/webhooks/callback-deliveries"): Operation(Access.read),
    ("GET", "/api/auth/me"): Operation(Access.signed_in),
    ("GET", "/api/account/usage"): Operation(Access.read),
    ("GET", "/api/account/sessions"): Operation(Access.account),
    ("DELETE", "/api/account/sessions"): Operation(Access.account, signs_out=True),
    ("DELETE", "/api/account/sessions/{session_id}"): Operation(Access.account),
    ("GET", "/api/account/tokens"): Operation(Access.account),
    ("POST", "/api/account/tokens"): Operation(Access.account, new_token),
    ("DELETE", "/api/account/tokens/{token_id}"): Operation(Access.account),
    ("POST", "/api/account/password"): Operation(Access.account, same_password),
    ("GET", "/api/admin/users"): Operation(Access.admin),
    ("PATCH", "/api/admin/users/{user_id}"): Operation(Access.admin, quotas),
    ("GET", "/api/admin/invites"): Operation(Access.admin),
    ("POST", "/api/admin/invites"): Operation(Access.admin, invite),
    ("DELETE", "/api/admin/invites/{invite_id}"): Operation(Access.admin),
    ("GET", "/api/system"): Operation(Access.admin),
    ("POST", "/upload"): Operation(Access.write, upload),
    ("POST", "/submit-url"): Operation(Access.write, url_job),
    ("GET", "/status/{job_id}"): Operation(Access.read),
    ("GET", "/download/{job_id}/{stem}"): Operation(Access.read),
    ("DELETE", "/job/{job_id}"): Operation(Access.write),
}

# Operations anyone may call, each with why.
PUBLIC: dict[tuple[str, str], str] = {
    ("GET", "/health"): "liveness probe for orchestrators: answers 'ok', nothing else",
    ("GET", "/ready"): "readiness probe: names the dependencies that are down, no user data",
    ("GET", "/api/strategies"): "the server's strategies, the same for everyone",
    ("GET", "/api/formats"): "the output formats, the same for everyone",
    ("POST", "/api/auth/login"): "how a browser signs in",
    ("POST", "/api/auth/logout"): "ends the cookie's session if any (204 without one)",
    ("POST", "/api/auth/accept-invite"): "the invite link's token in the body is the credential",
    ("GET", "/api/files/{token}"): "a short-lived signed stem link: the token is the credential",
    ("GET", "/api/auth/methods"): "how to sign in here, asked by the sign-in page first",
    ("GET", "/api/auth/oidc/login"): "starts a sign-in at the OpenID Connect provider",
    ("GET", "/api/auth/oidc/callback"): "the provider's answer: state, nonce and PKCE prove it",
}

# Path parameters naming something a user owns: another user's is a 404, as a missing one.
NOBODYS: dict[str, Callable[[], str]] = {
    "job_id": new_job_id,
    "session_id": lambda: secrets.token_hex(HANDLE_LENGTH // 2),
    "token_id": new_id,
    "batch_id": new_id,
    "webhook_id": new_id,
    "delivery_id": lambda: "msg_" + secrets.token_hex(16),
}
FIXED = {"stem": "vocals", "fmt": "flac", "kind": "json"}
# What a route answers for want of a sign-in, or of a scope.
SIGN_IN_REFUSALS = {"not_signed_in", "session_expired", "missing_scope", "session_required"}
PASSWORDS = {"ada@example.com": "ada's own password", "bea@example.com": "bea's own password"}


@dataclass(frozen=True)
class Credential:
    label: str
    person: Person
    headers: dict[str, str]
    cookie: bool


class World:
    """Ada, Bea and the first admin, signed in, and what they own; calls as any of them."""

    def __init__(
        self, client: TestClient, settings: Settings, make_job: Callable[..., StoredJob]
    ) -> None:
        self.client, self.settings, self.make_job = client, settings, make_job
        self.song = b""
        self._emails = itertools.count()
        self._tokens: dict[tuple[str, frozenset[str]], str] = {}
        with session_scope(settings.effective_database_url) as session:
            users = {user.email: user.id for user in session.query(User)}
        self.ada, self.bea = (
            Person(users[email], email, password) for email, password in PASSWORDS.items()
        )
        self.admin = Person(LOCAL_ADMIN_ID, ADMIN_EMAIL, ADMIN_PASSWORD)
        for person in (self.ada, self.bea, self.admin):
            self.sign_in(person)

    def sign_in(self, person: Person) -> None:
        """A real sign-in: the cookie the API sets."""
        self.client.cookies.clear()
        body = {"email": person.email, "password": person.password}
        response = self.client.post("/api/auth/login", json=body)
        assert response.status_code == 200, response.text
        person.cookie = response.cookies[SESSION_COOKIE]
        person.owned.add(digest(person.cookie)[:HANDLE_LENGTH])
        self.client.cookies.clear()

    def cookie(self, person: Person) -> Credential:
        name = person.email.split("@")[0]
        headers = {"Cookie": f"{SESSION_COOKIE}={person.cookie}"}
        return Credential(f"{name}'s session cookie", person, headers, cookie=True)

    def token(self, person: Person, *scopes: str) -> Credential:
        key = (person.id, frozenset(scopes))
        if key not in self._tokens:
            with session_scope(self.settings.effective_database_url) as session:
                user = session.get_one(User, person.id)
                self._tokens[key], row = create_api_token(session, user, scopes, "matrix")
                person.owned.add(row.id)
        name = person.email.split("@")[0]
        headers = {"Authorization": f"Bearer {self._tokens[key]}"}
        return Credential(f"{name}'s {'+'.join(sorted(scopes))} token", person, headers, False)

    def fresh_email(self) -> str:
        return f"invited{next(self._emails)}@example.com"

    # --- path parameter values -----------------------------------------------------

    def values(self, template: str, owner: Person, operation: Operation) -> dict[str, str]:
        return {name: self.value(name, owner, operation) for name in parameters(template)}

    def value(self, name: str, owner: Person, operation: Operation) -> str:
        if name == "job_id":
            status = JobStatus.running if operation.unfinished else JobStatus.completed
            job_id = self.make_job(status=status, owner_id=owner.id).id
            owner.owned.add(job_id)
            return job_id
        if name == "batch_id":
            return self._batch(owner)
        if name in ("webhook_id", "delivery_id"):
            return self._webhook(owner, name)
        if name == "session_id":
            return self._session_handle(owner)
        if name == "token_id":
            with session_scope(self.settings.effective_database_url) as session:
                user = session.get_one(User, owner.id)
                row = create_api_token(session, user, [READ], "a token to revoke")[1]
                owner.owned.add(row.id)
                return row.id
        if name == "user_id":
            return self.bea.id  # the user an admin changes
        if name == "invite_id":
            with session_scope(self.settings.effective_database_url) as session:
                return create_invite(session, self.fresh_email(), False, 24, LOCAL_ADMIN_ID)[1].id
        if name in FIXED:
            return FIXED[name]
        raise AssertionError(
            f"no sample value for the path parameter {{{name}}}: give it one in "
            "World.value, and add it to NOBODYS if it names something a user owns"
        )

    def _batch(self, owner: Person) -> str:
        """A batch of ``owner``'s holding one completed job (so its zip is ready)."""
        job_id = self.make_job(owner_id=owner.id).id
        with session_scope(self.settings.effective_database_url) as session:
            batch = Batch(owner_id=owner.id, strategy="four-stems-dsp", formats=["flac"])
            session.add(batch)
            session.flush()
            session.get_one(Job, job_id).batch_id = batch.id
        owner.owned.update({batch.id, job_id})
        return batch.id

    def _webhook(self, owner: Person, name: str) -> str:
        """An endpoint of ``owner``'s, with a delivery to it (its log is not empty), and
        one to a job's callback_url: the endpoint's id, or the delivery's."""
        with session_scope(self.settings.effective_database_url) as session:
            url = "http://127.0.0.1:9/hook"
            endpoint = WebhookEndpoint(
                owner_id=owner.id, url=url, secret=new_secret(), events=["job.completed"]
            )
            session.add(endpoint)
            session.flush()
            deliveries = [
                WebhookDelivery(
                    id="msg_" + secrets.token_hex(16),
                    endpoint_id=endpoint_id,
                    owner_id=owner.id,
                    job_id=new_job_id(),
                    url=url,
                    event="job.completed",
                    status="delivered",
                    attempts=1,
                )
                for endpoint_id in (endpoint.id, None)
            ]
            session.add_all(deliveries)
        owner.owned.update({endpoint.id, *(delivery.id for delivery in deliveries)})
        return endpoint.id if name == "webhook_id" else deliveries[0].id

    def _session_handle(self, owner: Person) -> str:
        """Another session of ``owner``'s (another browser), for ending it by its handle."""
        limits = SessionLimits.from_settings(self.settings)
        with session_scope(self.settings.effective_database_url) as session:
            session_id = start_session(session, session.get_one(User, owner.id), limits)
            handle = session_handle(session.get_one(SignInSession, digest(session_id)))
        owner.owned.add(handle)
        return handle

    # --- calls ---------------------------------------------------------------------

    def call(
        self,
        method: str,
        template: str,
        values: dict[str, str],
        operation: Operation,
        credential: Credential | None,
    ) -> httpx.Response:
        caller = credential.person if credential else self.ada
        request = operation.sample(self, caller) if operation.sample else {}
        self.client.cookies.clear()  # only the credential given, never a kept cookie
        response = self.client.request(
            method,
            template.format(**values),
            headers=credential.headers if credential else {},
            follow_redirects=False,
            **request,
        )
        if operation.signs_out and credential and credential.cookie and response.is_success:
            self.sign_in(credential.person)
        return response


def parameters(template: str) -> list[str]:
    return re.findall(r"{(\w+)}", template)


def schema_operations(app: FastAPI) -> dict[tuple[str, str], set[int]]:
    """Every (method, path) in the OpenAPI schema, with its documented success: its 2xx
    statuses, or else its redirects (a stem's audio: 307 to a short-lived link)."""
    found = {}
    for path, methods in app.openapi()["paths"].items():
        for method, spec in methods.items():
            codes = {int(code) for code in spec["responses"] if code[0] in "23"}
            found[(method.upper(), path)] = {c for c in codes if c < 300} or codes
    return found


def refused(response: httpx.Response, status: int, code: str, who: str = "nobody") -> str:
    """THEN: ``status`` with the JSON error ``code`` and a message; the message."""
    got = f"{who}: expected {status} {code}, got {response.status_code} {response.text[:300]}"
    assert response.status_code == status, got
    error = response.json()["error"]
    assert error["code"] == code, got
    assert len(error["message"]) > 20, "a message should say what to do"
    return str(error["message"])


def succeeded(
    response: httpx.Response, success: set[int], who: str, client: TestClient | None = None
) -> None:
    got = f"{response.status_code} {response.text[:300]}"
    assert response.status_code in success, f"{who}: expected {sorted(success)}, got {got}"
    if response.is_redirect and client is not None:
        # Where it sends the browser works on its own: a signed link, no credentials.
        client.cookies.clear()
        followed = client.get(response.headers["location"])
        assert followed.status_code == 200, f"{who}: its redirect gave {followed.status_code}"


@pytest.fixture
def settings(accounts: Callable[..., Settings]) -> Settings:
    # No quotas or per-minute limits: the walk creates many jobs in a few seconds.
    return accounts(
        users=PASSWORDS,
        quota_active_jobs=0,
        quota_audio_minutes_per_day=0,
        quota_storage_mb=0,
        job_create_per_minute_per_user=0,
        job_create_per_minute_per_ip=0,
        ingest_allow_loopback=True,
        webhooks_per_user=1000,  # every caller of POST /api/webhooks makes one
    )


@pytest.fixture
def world(
    client: TestClient,
    settings: Settings,
    make_stored_job: Callable[..., StoredJob],
    mixture: Path,
) -> World:
    made = World(client, settings, make_stored_job)
    made.song = short_wav(mixture, 1.0)
    return made


# --- the walk --------------------------------------------------------------------------


def test_every_operation_is_described_or_public(app: FastAPI) -> None:
    """A route added later fails here until someone says what it needs."""
    found = schema_operations(app)
    unknown = sorted(op for op in found if op not in OPERATIONS and op not in PUBLIC)
    assert not unknown, (
        f"{unknown}: add each to OPERATIONS in tests/integration/test_isolation_matrix.py "
        "with the access it needs (and a sample request body if it takes one), or to "
        "PUBLIC with a one-line reason it needs no sign-in"
    )
    assert not set(OPERATIONS) & set(PUBLIC), "an operation is either public or not"
    gone = sorted(op for op in [*OPERATIONS, *PUBLIC] if op not in found)
    assert not gone, f"{gone} are no longer in the OpenAPI schema: remove them here"


def test_every_operation_keeps_each_user_to_their_own(app: FastAPI, world: World) -> None:
    problems = []
    walked = 0
    for (method, template), success in schema_operations(app).items():
        operation = OPERATIONS.get((method, template))
        if operation is None:
            continue  # public, or unknown: the test above says which
        try:
            check_operation(world, method, template, operation, success)
        except AssertionError as failure:
            problems.append(f"{method} {template}: {failure}")
        walked += 1
    assert not problems, "\n\n".join(problems)
    assert walked == len(OPERATIONS)


def check_operation(
    world: World, method: str, template: str, operation: Operation, success: set[int]
) -> None:
    owner = world.admin if operation.access is Access.admin else world.ada
    values = world.values(template, owner, operation)
    refused(world.call(method, template, values, operation, None), 401, "not_signed_in")
    check_lacking_scope(world, method, template, values, operation, success)
    if operation.access is not Access.admin:
        check_another_user(world, method, template, values, operation, success)
    check_owner(world, method, template, values, operation, success)


def check_lacking_scope(
    world: World,
    method: str,
    template: str,
    values: dict[str, str],
    operation: Operation,
    success: set[int],
) -> None:
    def call(credential: Credential) -> httpx.Response:
        return world.call(method, template, values, operation, credential)

    ada, admin, bea = world.ada, world.admin, world.bea
    if operation.access in (Access.read, Access.write):
        other = WRITE if operation.access is Access.read else READ
        lacking = world.token(ada, other)
        message = refused(call(lacking), 403, "missing_scope", lacking.label)
        assert repr(operation.access.value) in message, message
    elif operation.access is Access.admin:
        # An admin's token without the admin scope; a user who is not an admin at all.
        for lacking in (world.token(admin, READ, WRITE), world.cookie(bea), world.token(bea, READ)):
            message = refused(call(lacking), 403, "missing_scope", lacking.label)
            assert "'admin'" in message, (lacking.label, message)
    elif operation.access is Access.account:
        token = world.token(ada, READ, WRITE)
        refused(call(token), 403, "session_required", token.label)
    else:  # any credentials will do: a token of either scope
        for scope in (READ, WRITE):
            succeeded(call(world.token(ada, scope)), success, f"ada's {scope} token")


def check_another_user(
    world: World,
    method: str,
    template: str,
    values: dict[str, str],
    operation: Operation,
    success: set[int],
) -> None:
    """Bea on Ada's ids: 404 exactly as ids that never existed. Without such an id, Bea
    gets her own answer, which names nothing of Ada's."""
    owned = [name for name in parameters(template) if name in NOBODYS]
    others = [world.cookie(world.bea)]
    if operation.access is Access.account:
        if owned:  # an admin too ends only their own sessions, revokes only their tokens
            others.append(world.cookie(world.admin))
    else:
        others.append(world.token(world.bea, READ, WRITE))
    for other in others:
        theirs = world.call(method, template, values, operation, other)
        if not owned:
            succeeded(theirs, success, other.label)
            ada = {world.ada.id, world.ada.email, *world.ada.owned}
            shown = sorted(secret for secret in ada if secret in theirs.text)
            assert not shown, f"{other.label} was shown Ada's {shown}: {theirs.text[:300]}"
            continue
        nobody = {**values, **{name: NOBODYS[name]() for name in owned}}
        nobodys = world.call(method, template, nobody, operation, other)
        assert nobodys.status_code == 404, f"{other.label}, an unknown id: {nobodys.text}"
        code = nobodys.json()["error"]["code"]
        message = refused(theirs, 404, code, f"{other.label} on Ada's")
        expected = nobodys.json()["error"]["message"]
        for name in owned:
            expected = expected.replace(nobody[name], values[name])
        assert message == expected, (other.label, message, expected)


def check_owner(
    world: World,
    method: str,
    template: str,
    values: dict[str, str],
    operation: Operation,
    success: set[int],
) -> None:
    """The owner's cookie on the very ids others were refused, then the owner's token
    with just the scope and, on a job, an admin's cookie, each on fresh ids."""
    access = operation.access
    owner = world.admin if access is Access.admin else world.ada
    callers = [world.cookie(owner)]
    if access in (Access.read, Access.write, Access.admin):
        callers.append(world.token(owner, access.value))
    if "job_id" in parameters(template):
        callers.append(world.cookie(world.admin))  # admins see every job
    for number, caller in enumerate(callers):
        here = values if number == 0 else world.values(template, owner, operation)
        response = world.call(method, template, here, operation, caller)
        succeeded(response, success, caller.label, world.client)


# --- around the walk ---------------------------------------------------------------


def test_public_operations_answer_without_credentials(client: TestClient) -> None:
    """Each needs no sign-in: whatever it answers, it is not a refusal for lack of one."""
    for method, template in PUBLIC:
        path = template.format(**{name: "not-a-real-one" for name in parameters(template)})
        client.cookies.clear()
        response = client.request(method, path, follow_redirects=False)
        body = response.json() if "json" in response.headers.get("content-type", "") else {}
        error = body.get("error", {}) if isinstance(body, dict) else {}
        assert error.get("code") not in SIGN_IN_REFUSALS, (method, template, response.text)


def test_an_admin_lists_every_job_and_one_owners_with_a_filter(world: World) -> None:
    ada_jobs = {world.value("job_id", world.ada, OPERATIONS[("GET", "/api/jobs")]) for _ in "ab"}
    bea_job = world.value("job_id", world.bea, OPERATIONS[("GET", "/api/jobs")])

    def listed(credential: Credential, query: str = "") -> set[str]:
        world.client.cookies.clear()
        response = world.client.get(f"/api/jobs{query}", headers=credential.headers)
        assert response.status_code == 200, response.text
        return {job["id"] for job in response.json()["data"]}

    admin = world.cookie(world.admin)
    assert listed(admin) == ada_jobs | {bea_job}
    assert listed(admin, f"?owner={world.ada.email}") == ada_jobs
    assert listed(world.token(world.admin, READ, "admin"), f"?owner={world.bea.id}") == {bea_job}
    assert listed(world.cookie(world.bea)) == {bea_job}
    world.client.cookies.clear()
    peek = world.client.get(
        f"/api/jobs?owner={world.ada.email}", headers=world.cookie(world.bea).headers
    )
    assert "'admin'" in refused(peek, 403, "missing_scope")
