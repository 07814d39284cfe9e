"""Idempotency-Key on POST /api/jobs: a retry gets the first job back, never a second one;
a key reused for another request is refused; keys expire; a failed try frees its key.
Real Postgres and Redis; the races run against the app behind a real uvicorn."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi.testclient import TestClient
from redis import Redis
from sqlalchemy import func, select

from stemdeck.api.app import create_app
from stemdeck.api.idempotency import redis_key
from stemdeck.core.accounts.api_tokens import create_api_token
from stemdeck.core.db import session_scope
from stemdeck.core.models import LOCAL_ADMIN_ID, Job, User
from stemdeck.core.settings import Settings
from tests.integration.conftest import Leftovers
from tests.integration.factories import short_wav
from tests.integration.stack import free_port
from tests.waiting import wait_until

SONG_URL = "http://127.0.0.1:9/song.mp3"  # checked, never fetched: no worker runs here


@pytest.fixture
def key_settings(make_settings: Callable[..., Settings]) -> Settings:
    return make_settings(ingest_allow_loopback=True)


@pytest.fixture
def key_client(key_settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(key_settings)) as client:
        yield client


@pytest.fixture
def wav(shared_audio: Path) -> bytes:
    return short_wav(shared_audio / "Music_Delta__80s_Rock" / "mixture.wav", 2.0)


def job_count(settings: Settings) -> int:
    with session_scope(settings.effective_database_url) as session:
        return session.scalar(select(func.count()).select_from(Job)) or 0


def post_url(client: TestClient, key: str | bytes | None, **body: Any) -> httpx.Response:
    headers = {} if key is None else {"Idempotency-Key": key}
    response: httpx.Response = client.post(
        "/api/jobs", json={"url": SONG_URL, **body}, headers=headers
    )
    return response


def test_the_same_key_and_request_answer_the_first_job(
    key_client: TestClient, key_settings: Settings
) -> None:
    first = post_url(key_client, "retry-1", strategy="four-stems-dsp")
    again = post_url(key_client, "retry-1", strategy="four-stems-dsp")

    assert first.status_code == 202, first.text
    assert "Idempotent-Replayed" not in first.headers
    assert again.status_code == 200, again.text
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.json()["id"] == first.json()["id"]
    assert again.headers["Location"] == first.headers["Location"]
    assert job_count(key_settings) == 1
    # Without a key, the same request is a new job.
    assert post_url(key_client, None, strategy="four-stems-dsp").status_code == 202
    assert job_count(key_settings) == 2


def test_the_same_key_with_another_request_is_refused(
    key_client: TestClient, key_settings: Settings, wav: bytes
) -> None:
    assert post_url(key_client, "k-2", strategy="four-stems-dsp").status_code == 202

    other_strategy = post_url(key_client, "k-2", strategy="center-sides")
    other_url = key_client.post(
        "/api/jobs", json={"url": SONG_URL + "?b"}, headers={"Idempotency-Key": "k-2"}
    )
    an_upload = key_client.post(
        "/api/jobs", files={"file": ("a.wav", wav)}, headers={"Idempotency-Key": "k-2"}
    )

    for response in (other_strategy, other_url, an_upload):
        assert response.status_code == 409, response.text
        error = response.json()["error"]
        assert error["code"] == "idempotency_key_reused"
        assert "different request" in error["message"]
    assert job_count(key_settings) == 1
    stored = [p for p in key_settings.storage_root.rglob("*") if p.is_file()]
    assert stored == []  # the refused upload was not kept


def test_an_upload_retried_with_its_key_is_one_job(
    key_client: TestClient, key_settings: Settings, wav: bytes
) -> None:
    def send() -> httpx.Response:
        response: httpx.Response = key_client.post(
            "/api/jobs",
            files={"file": ("take.wav", wav)},
            data={"strategy": "four-stems-dsp", "formats": "flac"},
            headers={"Idempotency-Key": "upload-1"},
        )
        return response

    first, again = send(), send()

    assert (first.status_code, again.status_code) == (202, 200), again.text
    assert again.json()["id"] == first.json()["id"]
    assert job_count(key_settings) == 1
    job_id = first.json()["id"]
    stored = {p.parent.name for p in key_settings.storage_root.rglob("*") if p.is_file()}
    assert stored == {job_id}  # the retry's copy of the file is gone


@pytest.mark.parametrize(
    "key",
    ["", "has space", "x" * 256, "tab\there", "ключ".encode()],
    ids=["empty", "space", "too-long", "tab", "not-ascii"],
)
def test_a_malformed_key_is_refused_before_anything_is_stored(
    key_client: TestClient,
    key_settings: Settings,
    leftovers: Callable[[], Leftovers],
    key: str | bytes,
) -> None:
    response = post_url(key_client, key)

    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["code"] == "invalid_idempotency_key"
    assert "1 to 255 visible ASCII characters" in error["message"]
    assert leftovers().empty


def test_a_key_expires_after_its_time_to_live(
    make_settings: Callable[..., Settings], redis_conn: Redis
) -> None:
    settings = make_settings(ingest_allow_loopback=True, idempotency_ttl_s=1)
    with TestClient(create_app(settings)) as client:
        first = post_url(client, "short-lived")
        assert first.status_code == 202, first.text
        stored = redis_key(LOCAL_ADMIN_ID, "short-lived")
        assert redis_conn.exists(stored)
        wait_until(lambda: not redis_conn.exists(stored), 30, "the key did not expire")

        later = post_url(client, "short-lived")

    assert later.status_code == 202, later.text
    assert later.json()["id"] != first.json()["id"]
    assert job_count(settings) == 2


def test_a_refused_request_frees_its_key_for_a_retry(
    key_client: TestClient, key_settings: Settings, wav: bytes
) -> None:
    """GIVEN an upload that is refused after its key was claimed (it does not decode)
    THEN the key is free: a retry with it (a good file this time) makes the job."""
    garbage = b"RIFF\xff\xff\xff\xffWAVEfmt " + b"\x00" * 4000
    refused = key_client.post(
        "/api/jobs", files={"file": ("bad.wav", garbage)}, headers={"Idempotency-Key": "k-3"}
    )
    assert 400 <= refused.status_code < 500, refused.text

    retried = key_client.post(
        "/api/jobs", files={"file": ("good.wav", wav)}, headers={"Idempotency-Key": "k-3"}
    )

    assert retried.status_code == 202, retried.text
    assert job_count(key_settings) == 1


def test_a_key_whose_job_was_deleted_says_so(
    key_client: TestClient, key_settings: Settings
) -> None:
    job_id = post_url(key_client, "k-4").json()["id"]
    # The first DELETE cancels the queued job; the second removes it.
    assert key_client.delete(f"/api/jobs/{job_id}").status_code == 204
    assert post_url(key_client, "k-4").json()["status"] == "cancelled"
    assert key_client.delete(f"/api/jobs/{job_id}").status_code == 204

    replay = post_url(key_client, "k-4")

    assert replay.status_code == 409, replay.text
    error = replay.json()["error"]
    assert error["code"] == "idempotency_key_target_deleted"
    assert job_id in error["message"] and "new key" in error["message"]
    assert job_count(key_settings) == 0


@pytest.fixture
def live_server(key_settings: Settings) -> Iterator[str]:
    """The app behind a real uvicorn: concurrent requests really run at once."""
    port = free_port()
    config = uvicorn.Config(
        create_app(key_settings), host="127.0.0.1", port=port, log_level="warning"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    wait_until(lambda: server.started, 120, f"uvicorn on port {port} did not start")
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)


def race(count: int, send: Callable[[httpx.Client], httpx.Response]) -> list[httpx.Response]:
    """``count`` requests released at one moment, each from its own thread."""
    start = threading.Barrier(count)
    answers: list[httpx.Response] = []
    lock = threading.Lock()

    def one() -> None:
        with httpx.Client(timeout=120) as client:
            start.wait()
            response = send(client)
        with lock:
            answers.append(response)

    threads = [threading.Thread(target=one) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return answers


@pytest.mark.parametrize("kind", ["url", "upload"])
def test_concurrent_requests_with_one_key_make_one_job(
    live_server: str, key_settings: Settings, wav: bytes, kind: str
) -> None:
    headers = {"Idempotency-Key": f"race-{kind}"}

    def send(client: httpx.Client) -> httpx.Response:
        if kind == "url":
            return client.post(f"{live_server}/api/jobs", json={"url": SONG_URL}, headers=headers)
        return client.post(
            f"{live_server}/api/jobs", files={"file": ("race.wav", wav)}, headers=headers
        )

    answers = race(8, send)

    statuses = sorted(response.status_code for response in answers)
    assert statuses == [200] * 7 + [202], [response.text for response in answers]
    assert len({response.json()["id"] for response in answers}) == 1
    assert job_count(key_settings) == 1
    if kind == "upload":
        stored = {p.parent.name for p in key_settings.storage_root.rglob("*") if p.is_file()}
        assert stored == {answers[0].json()["id"]}


def test_keys_are_per_user(accounts: Callable[..., Settings]) -> None:
    """GIVEN two users sending one key THEN each gets a job of their own: a key never
    answers with another user's job (nor refuses theirs as reused)."""
    settings = accounts(
        users={"ada@example.com": "ada's own password", "bea@example.com": "bea's own password"},
        ingest_allow_loopback=True,
    )
    tokens = {}
    with session_scope(settings.effective_database_url) as session:
        for user in session.scalars(select(User).where(User.email.like("%a@example.com"))):
            tokens[user.email] = create_api_token(session, user, ["jobs:write"], "keys")[0]
    with TestClient(create_app(settings)) as client:
        answers = {
            email: client.post(
                "/api/jobs",
                json={"url": SONG_URL, "strategy": "four-stems-dsp" if "ada" in email else None},
                headers={"Idempotency-Key": "shared", "Authorization": f"Bearer {token}"},
            )
            for email, token in tokens.items()
        }

    assert sorted(answers) == ["ada@example.com", "bea@example.com"]
    assert [answer.status_code for answer in answers.values()] == [202, 202]
    owners = {answer.json()["owner_id"] for answer in answers.values()}
    assert len(owners) == 2
    assert job_count(settings) == 2
