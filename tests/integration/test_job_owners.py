"""Every job belongs to someone: with STEMDECK_AUTH=accounts, users see only their own.

Two real users and an admin, signed in with real API tokens (Authorization: Bearer).
The route walk reads the app's own route table, so a job route added later without
the owner check (jobstore.load_job) fails it.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from stemdeck.api.app import create_app
from stemdeck.api.auth.principal import SESSION_COOKIE
from stemdeck.core.accounts.api_tokens import issue_api_token
from stemdeck.core.accounts.sessions import SessionLimits, start_session
from stemdeck.core.accounts.users import add_user
from stemdeck.core.db import session_scope
from stemdeck.core.models import LOCAL_ADMIN_ID, User, new_job_id
from stemdeck.core.settings import Settings
from stemdeck.core.storage import Storage
from tests.integration.conftest import StoredJob
from tests.integration.factories import short_wav

READ_WRITE = ("jobs:read", "jobs:write")
# A value for each path parameter a job route may have; a new one must be added here.
SAMPLE_PARAMS = {"stem": "vocals", "fmt": "flac", "kind": "json"}
# What the owner gets from each route on a completed job (a file: 307 to a signed link).
OWNER_STATUSES = {200, 202, 204, 307, 409}


@dataclass(frozen=True)
class Caller:
    user_id: str
    email: str
    headers: dict[str, str]


Token = Callable[..., Caller]


@pytest.fixture
def accounts_settings(make_settings: Callable[..., Settings]) -> Settings:
    return make_settings(
        auth="accounts", admin_email="admin@example.com", admin_password="a long admin password"
    )


@pytest.fixture
def app(accounts_settings: Settings) -> FastAPI:
    return create_app(accounts_settings)


@pytest.fixture
def settings(accounts_settings: Settings) -> Settings:
    """conftest's stored-job and storage fixtures work on the accounts-mode database."""
    return accounts_settings


@pytest.fixture
def token(accounts_settings: Settings) -> Token:
    """A signed-in caller: the user with ``email`` (made when new; "admin" is the built-in
    first admin), holding a fresh API token with ``scopes``."""

    def sign_in(email: str, *scopes: str) -> Caller:
        with session_scope(accounts_settings.effective_database_url) as session:
            user = session.get(User, LOCAL_ADMIN_ID) if email == "admin" else None
            if user is None:
                user = session.query(User).filter_by(email=email).one_or_none()
            if user is None:
                user = add_user(session, email, "a long enough password")
            value = issue_api_token(session, user, scopes or READ_WRITE, "test")
            return Caller(user.id, user.email, {"Authorization": f"Bearer {value}"})

    return sign_in


@pytest.fixture
def ada(token: Token) -> Caller:
    return token("ada@example.com")


@pytest.fixture
def bea(token: Token) -> Caller:
    return token("bea@example.com")


@pytest.fixture
def job_of(make_stored_job: Callable[..., StoredJob]) -> Callable[[Caller], str]:
    """A completed job (stems vocals and drums, flac and mp3) that ``caller`` owns."""

    def make(caller: Caller) -> str:
        return make_stored_job(owner_id=caller.user_id).id

    return make


@dataclass(frozen=True)
class JobRoute:
    method: str
    path: str  # the template: /api/jobs/{job_id}/stems/{stem}.{fmt}
    name: str  # its operation id

    def at(self, job_id: str) -> str:
        unknown = set(re.findall(r"{(\w+)}", self.path)) - {"job_id", *SAMPLE_PARAMS}
        assert not unknown, f"{self.path}: add a sample value for {unknown} to SAMPLE_PARAMS"
        return self.path.format(job_id=job_id, **SAMPLE_PARAMS)


def job_routes(app: FastAPI) -> list[JobRoute]:
    """Every operation of the OpenAPI schema that takes a job id, deletions last."""
    found = [
        JobRoute(method.upper(), path, operation["operationId"])
        for path, operations in app.openapi()["paths"].items()
        if "{job_id}" in path
        for method, operation in operations.items()
    ]
    return sorted(found, key=lambda route: route.method == "DELETE")


def call(client: TestClient, method: str, path: str, caller: Caller | None) -> httpx.Response:
    headers = caller.headers if caller else {}
    return client.request(method, path, headers=headers, follow_redirects=False)


def test_another_users_job_is_404_on_every_job_route_exactly_as_an_unknown_id(
    app: FastAPI, client: TestClient, ada: Caller, bea: Caller, job_of: Callable[[Caller], str]
) -> None:
    """GIVEN a completed job of Ada's WHEN Bea (a full jobs:read + jobs:write token) calls
    every route in the app's route table that takes a job id THEN each answers 404
    job_not_found, with the message an id that never existed gets; and Ada's own call
    of the same route is not a 404 (so the walk reached the route)."""
    walked = []
    for route in job_routes(app):
        job_id, unknown = job_of(ada), new_job_id()
        theirs = call(client, route.method, route.at(job_id), bea)
        nobodys = call(client, route.method, route.at(unknown), bea)
        where = f"{route.method} {route.path}"
        assert theirs.status_code == 404, (where, theirs.text)
        assert theirs.json()["error"]["code"] == "job_not_found", where
        assert nobodys.status_code == 404, (where, nobodys.text)
        assert theirs.json()["error"]["message"] == nobodys.json()["error"]["message"].replace(
            unknown, job_id
        )
        own = call(client, route.method, route.at(job_id), ada)
        assert own.status_code in OWNER_STATUSES, (where, own.status_code, own.text)
        walked.append(route.path)
    assert len(walked) >= 10, walked  # read, delete, cancel, events, stems, zip, waveforms, compat


def test_every_job_route_needs_credentials_and_the_right_scope(
    app: FastAPI, client: TestClient, token: Token, ada: Caller, job_of: Callable[[Caller], str]
) -> None:
    """Reads need jobs:read, everything else jobs:write: a token of Ada's own lacking the
    scope gets 403 naming it; no credentials at all get 401."""
    job_id = job_of(ada)
    reader, writer = token(ada.email, "jobs:read"), token(ada.email, "jobs:write")
    routes = [(route.method, route.path, route.at(job_id)) for route in job_routes(app)]
    routes += [("GET", "/api/jobs", "/api/jobs"), ("POST", "/api/jobs", "/api/jobs")]
    routes += [("POST", "/upload", "/upload"), ("POST", "/submit-url", "/submit-url")]
    for method, template, path in routes:
        lacking = reader if method != "GET" else writer
        scope = "jobs:write" if method != "GET" else "jobs:read"
        refused = call(client, method, path, lacking)
        assert refused.status_code == 403, (method, template, refused.text)
        assert refused.json()["error"]["code"] == "missing_scope"
        assert repr(scope) in refused.json()["error"]["message"]
        anonymous = call(client, method, path, None)
        assert anonymous.status_code == 401, (method, template, anonymous.text)
    assert client.get(f"/api/jobs/{job_id}", headers=reader.headers).status_code == 200


def test_a_new_job_belongs_to_its_submitter_and_only_they_see_it(
    client: TestClient, ada: Caller, bea: Caller, mixture: Path
) -> None:
    created = client.post(
        "/api/jobs",
        files={"file": ("song.wav", short_wav(mixture, 2.0), "audio/wav")},
        data={"strategy": "four-stems-dsp"},
        headers=ada.headers,
    )
    assert created.status_code == 202, created.text
    job = created.json()
    assert job["owner_id"] == ada.user_id
    assert client.get(job["url"], headers=ada.headers).status_code == 200
    assert client.get(job["url"], headers=bea.headers).status_code == 404
    assert client.get("/api/jobs", headers=bea.headers).json()["count"] == 0


def test_each_user_lists_only_their_jobs_and_an_admin_lists_and_filters_all(
    client: TestClient,
    token: Token,
    ada: Caller,
    bea: Caller,
    job_of: Callable[[Caller], str],
) -> None:
    ada_jobs = {job_of(ada), job_of(ada)}
    bea_jobs = {job_of(bea)}
    admin = token("admin", "jobs:read", "admin")

    def listed(caller: Caller, query: str = "") -> set[str]:
        response = client.get(f"/api/jobs{query}", headers=caller.headers)
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["count"] == len(body["data"])
        return {job["id"] for job in body["data"]}

    assert listed(ada) == ada_jobs
    assert listed(bea) == bea_jobs
    assert listed(bea, f"?owner={bea.email}") == bea_jobs  # naming oneself is fine
    assert listed(admin) == ada_jobs | bea_jobs
    assert listed(admin, f"?owner={bea.email.upper()}") == bea_jobs
    assert listed(admin, f"?owner={ada.user_id}") == ada_jobs
    # An admin's token without the admin scope sees that admin's own jobs, like anyone's.
    assert listed(token("admin", "jobs:read")) == set()

    peek = client.get(f"/api/jobs?owner={ada.email}", headers=bea.headers)
    assert peek.status_code == 403 and peek.json()["error"]["code"] == "missing_scope"
    for owner, code in [("nobody@example.com", "unknown_owner"), ("0" * 32, "unknown_owner")]:
        response = client.get(f"/api/jobs?owner={owner}", headers=admin.headers)
        assert response.status_code == 422 and response.json()["error"]["code"] == code
        assert owner in response.json()["error"]["message"]
    bad = client.get("/api/jobs?owner=ada", headers=admin.headers)
    assert bad.status_code == 422 and bad.json()["error"]["code"] == "invalid_owner"
    assert "id (32 hex characters) or email" in bad.json()["error"]["message"]


def test_a_job_whose_body_the_api_keeps_is_still_404_to_another_user(
    client: TestClient, token: Token, ada: Caller, bea: Caller, job_of: Callable[[Caller], str]
) -> None:
    """Finished jobs' bodies are kept per process (api/bodies.py); the owner is checked
    on every read all the same."""
    job_id = job_of(ada)
    for _ in range(2):  # the second read answers from what the API kept
        assert client.get(f"/api/jobs/{job_id}", headers=ada.headers).status_code == 200
        assert job_id in [
            job["id"] for job in client.get("/api/jobs", headers=ada.headers).json()["data"]
        ]

    theirs = client.get(f"/api/jobs/{job_id}", headers=bea.headers)

    assert theirs.status_code == 404
    assert theirs.json()["error"]["code"] == "job_not_found"
    assert client.get("/api/jobs", headers=bea.headers).json()["data"] == []
    admin = token("admin", "jobs:read", "admin")
    assert client.get(f"/api/jobs/{job_id}", headers=admin.headers).status_code == 200
    read_only_admin = token("admin", "jobs:read")  # an admin's own jobs, like anyone's
    assert client.get(f"/api/jobs/{job_id}", headers=read_only_admin.headers).status_code == 404


def test_an_admin_reaches_any_users_job(
    client: TestClient, token: Token, ada: Caller, job_of: Callable[[Caller], str]
) -> None:
    job_id = job_of(ada)
    admin = token("admin", "jobs:read", "jobs:write", "admin")
    assert client.get(f"/api/jobs/{job_id}", headers=admin.headers).status_code == 200
    assert client.delete(f"/api/jobs/{job_id}", headers=admin.headers).status_code == 204
    assert client.get(f"/api/jobs/{job_id}", headers=ada.headers).status_code == 404


def test_a_signed_in_browser_is_held_to_the_same_rule(
    client: TestClient,
    accounts_settings: Settings,
    ada: Caller,
    bea: Caller,
    job_of: Callable[[Caller], str],
) -> None:
    """The session cookie (every scope of its user) reaches its own jobs and no others;
    an admin's session sees every job."""
    theirs, own = job_of(ada), job_of(bea)

    def cookie(user_id: str) -> dict[str, str]:
        limits = SessionLimits.from_settings(accounts_settings)
        with session_scope(accounts_settings.effective_database_url) as session:
            user = session.get(User, user_id)
            assert user is not None
            return {SESSION_COOKIE: start_session(session, user, limits)}

    client.cookies.update(cookie(bea.user_id))
    assert client.get(f"/api/jobs/{theirs}").status_code == 404
    assert client.delete(f"/api/jobs/{theirs}").status_code == 404
    assert {job["id"] for job in client.get("/api/jobs").json()["data"]} == {own}
    client.cookies.update(cookie(LOCAL_ADMIN_ID))
    assert {job["id"] for job in client.get("/api/jobs").json()["data"]} == {theirs, own}


# --- dedup across owners -------------------------------------------------------------


def twin_upload(
    client: TestClient,
    make_stored_job: Callable[..., StoredJob],
    mixture: Path,
    first: Caller,
    second: Caller,
) -> tuple[str, httpx.Response]:
    """``first`` has a completed job of a song; ``second`` uploads the same song with the
    same strategy and formats. (``first``'s job id, ``second``'s answer.)"""
    song = short_wav(mixture, 2.0)
    earlier = make_stored_job(
        owner_id=first.user_id, source_sha256=hashlib.sha256(song).hexdigest()
    ).id
    response = client.post(
        "/api/jobs",
        files={"file": ("song.wav", song, "audio/wav")},
        data={"strategy": "four-stems-dsp", "formats": "flac,mp3"},
        headers=second.headers,
    )
    assert response.status_code == 202, response.text
    return earlier, response


def test_under_user_dedup_another_users_song_is_processed_anew_and_reveals_nothing(
    client: TestClient,
    make_stored_job: Callable[..., StoredJob],
    mixture: Path,
    ada: Caller,
    bea: Caller,
) -> None:
    earlier, response = twin_upload(client, make_stored_job, mixture, ada, bea)
    job = client.get(response.json()["url"], headers=bea.headers).json()
    assert (job["status"], job["notes"], job["stems"]) == ("queued", [], [])
    assert earlier not in response.text


@pytest.fixture
def global_settings(make_settings: Callable[..., Settings]) -> Settings:
    return make_settings(
        auth="accounts",
        admin_email="admin@example.com",
        admin_password="a long admin password",
        dedup_scope="global",
    )


def test_under_global_dedup_stems_are_shared_but_the_other_job_never_shows(
    global_settings: Settings,
    make_stored_job: Callable[..., StoredJob],
    storage: Storage,
    mixture: Path,
    ada: Caller,
    bea: Caller,
) -> None:
    """GIVEN global dedup and Ada's completed job of a song WHEN Bea uploads the same song
    THEN Bea's job completes at once from Ada's stems, and nothing Bea is shown names
    Ada's job; deleting Ada's job keeps the files Bea's uses, deleting Bea's frees them."""
    with TestClient(create_app(global_settings)) as client:
        earlier, response = twin_upload(client, make_stored_job, mixture, ada, bea)
        job = response.json()
        assert job["status"] == "completed"
        assert job["notes"] == [
            "The same audio was already separated with this strategy; its stems were reused."
        ]
        events = client.get(f"{job['url']}/events", headers=bea.headers)
        for shown in (response, client.get(job["url"], headers=bea.headers), events):
            assert earlier not in shown.text

        assert client.delete(f"/api/jobs/{earlier}", headers=ada.headers).status_code == 204
        for stem in job["stems"]:
            audio = client.get(stem["urls"]["flac"], headers=bea.headers)
            assert audio.status_code == 200 and len(audio.content) == stem["sizes"]["flac"]
        assert client.get(job["zip_url"], headers=bea.headers).status_code == 200

        assert client.delete(job["url"], headers=bea.headers).status_code == 204
    root = global_settings.storage_root
    assert [p for p in root.rglob("*") if p.is_file() and ".staging" not in str(p)] == []
