"""A job's callback_url: taken from the JSON body or the upload's form, checked like a URL
to fetch before anything is stored, and shown in the job's JSON."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from stemdeck.api.app import create_app
from stemdeck.core.settings import Settings
from tests.integration.conftest import Leftovers
from tests.integration.factories import short_wav

SONG_URL = "http://127.0.0.1:9/song.mp3"  # checked, never fetched: no worker runs here
HOOK = "http://127.0.0.1:9/hooks/stemdeck"


@pytest.fixture
def loopback_client(make_settings: Callable[..., Settings]) -> Iterator[TestClient]:
    with TestClient(create_app(make_settings(ingest_allow_loopback=True))) as client:
        yield client


@pytest.fixture
def wav(shared_audio: Path) -> bytes:
    return short_wav(shared_audio / "Music_Delta__80s_Rock" / "mixture.wav", 2.0)


def test_a_callback_url_is_kept_on_the_job(loopback_client: TestClient, wav: bytes) -> None:
    by_url = loopback_client.post("/api/jobs", json={"url": SONG_URL, "callback_url": HOOK})
    by_upload = loopback_client.post(
        "/api/jobs", files={"file": ("a.wav", wav)}, data={"callback_url": HOOK}
    )
    without = loopback_client.post("/api/jobs", json={"url": SONG_URL})

    for response in (by_url, by_upload):
        assert response.status_code == 202, response.text
        job = response.json()
        assert (job["callback_url"], job["batch_id"]) == (HOOK, None)
        assert loopback_client.get(job["url"]).json()["callback_url"] == HOOK
    assert without.json()["callback_url"] is None


@pytest.mark.parametrize(
    ("callback_url", "status", "code", "words"),
    [
        ("http://10.1.2.3/hook", 422, "url_forbidden", "private address"),
        ("http://127.0.0.1:9/hook", 422, "url_forbidden", "loopback address"),
        ("ftp://example.com/hook", 400, "invalid_url", "Only http:// and https://"),
        ("not a url", 400, "invalid_url", ""),
    ],
    ids=["private", "loopback", "scheme", "garbage"],
)
@pytest.mark.parametrize("kind", ["json", "form"])
def test_a_bad_callback_url_is_refused_and_nothing_is_stored(
    client: TestClient,
    leftovers: Callable[[], Leftovers],
    wav: bytes,
    kind: str,
    callback_url: str,
    status: int,
    code: str,
    words: str,
) -> None:
    """The default settings: loopback is refused, for the callback as for the source."""
    if kind == "json":
        body = {"url": "http://93.184.215.14/song.mp3", "callback_url": callback_url}
        response = client.post("/api/jobs", json=body)
    else:
        response = client.post(
            "/api/jobs", files={"file": ("a.wav", wav)}, data={"callback_url": callback_url}
        )

    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["code"] == code
    assert error["message"].startswith("callback_url: ")
    assert words in error["message"]
    assert leftovers().empty


def test_a_callback_url_longer_than_a_url_may_be_is_refused(
    loopback_client: TestClient,
) -> None:
    long_url = "http://127.0.0.1:9/" + "a" * 2100
    response = loopback_client.post("/api/jobs", json={"url": SONG_URL, "callback_url": long_url})

    assert response.status_code == 400, response.text
    assert response.json()["error"]["message"].startswith("callback_url: ")
