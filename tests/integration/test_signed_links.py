"""Signed file links: what a stem or waveform URL redirects to when the store does not
presign (local storage), or must not (a dedup twin's file on S3).

GIVEN STEMDECK_AUTH=accounts and real users with real API tokens, WHEN a stem URL is
asked for THEN it answers 307 to /api/files/{token}, which serves the file with Range
to anyone holding it, without credentials, until it expires; an altered, forged or
otherwise-signed token is refused; and under dedup nothing a user receives (job JSON,
redirects, links, the zip) names the job whose stems were reused.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from joserfc import jwt
from joserfc.jwk import OctKey

from stemdeck.api.app import create_app
from stemdeck.core.accounts.api_tokens import issue_api_token
from stemdeck.core.db import session_scope
from stemdeck.core.models import User
from stemdeck.core.settings import DedupScope, Settings
from stemdeck.core.signing import purpose_key
from stemdeck.core.storage import keys
from tests.conftest import s3_values
from tests.integration.conftest import StoredJob
from tests.integration.factories import short_wav
from tests.waiting import wait_until

PASSWORDS = {"ada@example.com": "ada's own password", "bea@example.com": "bea's own password"}
LINKS = "http://testserver/api/files/"


@dataclass(frozen=True)
class Caller:
    user_id: str
    headers: dict[str, str]


@pytest.fixture
def store() -> str:
    return "local"


@pytest.fixture
def settings(
    request: pytest.FixtureRequest, accounts: Callable[..., Settings], store: str
) -> Settings:
    """Accounts mode with Ada and Bea, global dedup, on ``store`` (local unless a test
    parametrizes it); conftest's stored jobs and storage use it."""
    extra = s3_values(request.getfixturevalue("s3_endpoint")) if store == "s3" else {}
    return accounts(users=PASSWORDS, dedup_scope="global", **extra)


@pytest.fixture
def caller(settings: Settings) -> Callable[[str], Caller]:
    def sign_in(email: str) -> Caller:
        with session_scope(settings.effective_database_url) as session:
            user = session.query(User).filter_by(email=email).one()
            value = issue_api_token(session, user, ("jobs:read", "jobs:write"), "links")
            return Caller(user.id, {"Authorization": f"Bearer {value}"})

    return sign_in


@pytest.fixture
def ada(caller: Callable[[str], Caller]) -> Caller:
    return caller("ada@example.com")


@pytest.fixture
def bea(caller: Callable[[str], Caller]) -> Caller:
    return caller("bea@example.com")


@pytest.fixture
def job(make_stored_job: Callable[..., StoredJob], ada: Caller) -> StoredJob:
    return make_stored_job(owner_id=ada.user_id, stems=("vocals", "drums"), formats=("flac",))


@pytest.fixture
def anonymous(app: FastAPI) -> Iterator[TestClient]:
    """Another client with no cookie and no token: what a bare <audio src> or curl has."""
    with TestClient(app) as client:
        yield client


def link_for(client: TestClient, path: str, who: Caller) -> str:
    redirect = client.get(path, headers=who.headers, follow_redirects=False)
    assert redirect.status_code == 307, redirect.text
    assert redirect.headers["cache-control"] == "no-store"
    location = redirect.headers["location"]
    return location


def token_of(link: str) -> str:
    assert link.startswith(LINKS), link
    return link.removeprefix(LINKS)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def segments(token: str) -> list[dict[str, Any]]:
    """A JWT's header and claims, as anyone holding it can read them."""
    header, claims, _ = token.split(".")
    return [
        json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))
        for part in (header, claims)
    ]


def with_claims(token: str, **changes: Any) -> str:
    """The token with its claims changed and its signature kept."""
    header, _, signature = token.split(".")
    claims = segments(token)[1] | changes
    return ".".join([header, _b64(json.dumps(claims).encode()), signature])


def refused(response: httpx.Response, status: int, code: str) -> str:
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["code"] == code
    return str(error["message"])


# --- the link serves the file -------------------------------------------------------


def test_a_stem_url_redirects_to_a_link_that_plays_without_credentials(
    client: TestClient, anonymous: TestClient, job: StoredJob, ada: Caller
) -> None:
    link = link_for(client, f"/api/jobs/{job.id}/stems/vocals.flac", ada)
    expected = job.files[keys.stem(job.id, "vocals", "flac")]

    whole = anonymous.get(link)
    sought = anonymous.get(link, headers={"Range": "bytes=100-199"})
    tail = anonymous.get(link, headers={"Range": "bytes=-10"})
    beyond = anonymous.get(link, headers={"Range": "bytes=5000-"})

    assert segments(token_of(link))[0]["alg"] == "HS256"
    assert whole.status_code == 200
    assert whole.content == expected
    assert whole.headers["content-type"] == "audio/flac"
    assert whole.headers["content-disposition"] == "inline"
    # The file never changes: kept for good, by the browser only (delivery.IMMUTABLE).
    assert whole.headers["cache-control"] == "private, max-age=31536000, immutable"
    assert sought.headers["etag"] == whole.headers["etag"]
    assert whole.headers["x-content-type-options"] == "nosniff"
    assert whole.headers["accept-ranges"] == "bytes"
    assert sought.status_code == 206
    assert sought.content == expected[100:200]
    assert sought.headers["content-range"] == "bytes 100-199/5000"
    assert tail.content == expected[-10:]
    assert refused(beyond, 416, "range_not_satisfiable")
    assert beyond.headers["content-range"] == "bytes */5000"
    # The authenticated URL itself still wants credentials.
    assert anonymous.get(f"/api/jobs/{job.id}/stems/vocals.flac").status_code == 401


def test_downloads_and_waveforms_come_by_link_too(
    client: TestClient, anonymous: TestClient, job: StoredJob, ada: Caller
) -> None:
    download = anonymous.get(
        link_for(client, f"/api/jobs/{job.id}/stems/drums.flac?download=1", ada)
    )
    compat = anonymous.get(link_for(client, f"/download/{job.id}/drums", ada))
    peaks = anonymous.get(link_for(client, f"/api/jobs/{job.id}/waveforms/drums.json", ada))
    image = anonymous.get(link_for(client, f"/api/jobs/{job.id}/waveforms/drums.png", ada))

    for answer in (download, compat):
        assert answer.headers["content-disposition"] == (
            'attachment; filename="My Song - drums.flac"'
        )
        assert answer.content == job.files[keys.stem(job.id, "drums", "flac")]
    assert peaks.headers["content-type"] == "application/json"
    assert peaks.json() == {"peaks": [0.1, 0.5]}
    assert image.headers["content-type"] == "image/png"
    assert image.content == job.files[keys.waveform(job.id, "drums", "png")]


def test_what_the_job_lacks_is_404_before_any_link_is_made(
    client: TestClient, job: StoredJob, ada: Caller, bea: Caller
) -> None:
    for path, code in [
        ("/stems/bass.flac", "stem_not_found"),
        ("/stems/vocals.mp3", "format_not_found"),
        ("/stems/vocals.aiff", "format_not_found"),
        ("/waveforms/vocals.svg", "not_found"),
    ]:
        refused(client.get(f"/api/jobs/{job.id}{path}", headers=ada.headers), 404, code)
    # Another user asking gets the unknown-job answer, and no link.
    theirs = client.get(f"/api/jobs/{job.id}/stems/vocals.flac", headers=bea.headers)
    refused(theirs, 404, "job_not_found")


# --- refusals -----------------------------------------------------------------------


def test_a_link_expires_and_says_to_ask_the_job_again(
    settings: Settings, job: StoredJob, ada: Caller
) -> None:
    """GIVEN STEMDECK_LINK_TTL_S=1 WHEN the link is used after its lifetime THEN 410
    link_expired names the URL that gives a fresh one, and that URL does."""
    short = settings.model_copy(update={"link_ttl_s": 1})
    with TestClient(create_app(short)) as client:
        path = f"/api/jobs/{job.id}/stems/vocals.flac?download=1"
        link = link_for(client, path, ada)

        expired = wait_until(
            lambda: (answer := client.get(link)).status_code == 410 and answer,
            15,
            "the one-second link never expired",
        )
        message = refused(expired, 410, "link_expired")
        assert f"GET {path}" in message
        fresh = client.get(link_for(client, path, ada))
        assert fresh.status_code == 200
        assert fresh.content == job.files[keys.stem(job.id, "vocals", "flac")]


def test_an_altered_or_otherwise_signed_link_is_refused(
    client: TestClient,
    anonymous: TestClient,
    settings: Settings,
    make_stored_job: Callable[..., StoredJob],
    job: StoredJob,
    ada: Caller,
    bea: Caller,
) -> None:
    """Ada's link cannot be turned into one for Bea's job, another stem, a download or a
    longer life; a token under another algorithm, another key, or none is refused."""
    beas = make_stored_job(owner_id=bea.user_id, formats=("flac",))
    token = token_of(link_for(client, f"/api/jobs/{job.id}/stems/vocals.flac", ada))
    claims = segments(token)[1]
    link_key = OctKey.import_key(purpose_key(settings, "stem-link"))
    forged = [
        with_claims(token, job=beas.id),
        with_claims(token, stem="drums"),
        with_claims(token, part="waveform.json"),
        with_claims(token, dl=True),
        with_claims(token, exp=claims["exp"] + 3600),
        token[:-4],
        token + "x",
        "not-a-token",
        "a.b.c",
        # alg none: no signature at all.
        ".".join([_b64(b'{"alg":"none"}'), token.split(".")[1], ""]),
        # The right key under another algorithm.
        jwt.encode({"alg": "HS512"}, claims, link_key, algorithms=["HS512"]),
        # HS256 under a key that is not the link key: another purpose's, and a random one.
        jwt.encode(
            {"alg": "HS256"},
            claims,
            OctKey.import_key(purpose_key(settings, "oidc-state")),
            algorithms=["HS256"],
        ),
        jwt.encode({"alg": "HS256"}, claims, OctKey.generate_key(256), algorithms=["HS256"]),
        # The link key, but not a link's claims.
        jwt.encode({"alg": "HS256"}, {"exp": claims["exp"]}, link_key, algorithms=["HS256"]),
        "x" * 5000,
    ]
    for bad in forged:
        message = refused(anonymous.get(f"/api/files/{bad}"), 403, "link_invalid")
        assert "GET /api/jobs/{id}" in message
    assert anonymous.get(f"/api/files/{token}").status_code == 200


def test_a_link_to_a_deleted_job_is_gone(
    client: TestClient, anonymous: TestClient, job: StoredJob, ada: Caller
) -> None:
    link = link_for(client, f"/api/jobs/{job.id}/stems/vocals.flac", ada)
    assert client.delete(f"/api/jobs/{job.id}", headers=ada.headers).status_code == 204

    refused(anonymous.get(link), 404, "file_gone")


# --- dedup: the twin's id never shows ----------------------------------------------


def hides(client: TestClient, who: Caller, job: dict[str, Any], twin: StoredJob) -> None:
    """THEN nothing ``who`` receives for ``job`` names ``twin`` (read the way anyone
    holding it could: JWT claims decoded), and every file still arrives, the twin's."""
    shown = [json.dumps(job), client.get(job["url"], headers=who.headers).text]
    shown.append(client.get(f"/status/{job['id']}", headers=who.headers).text)
    for stem in job["stems"]:
        name = stem["name"]
        paths = [*stem["urls"].values(), *stem["download_urls"].values()]
        paths += [stem["waveform_url"], stem["waveform_png_url"], f"/download/{job['id']}/{name}"]
        for path in paths:
            link = link_for(client, path, who)
            shown += [link, json.dumps(segments(token_of(link)))]
            answer = client.get(link)  # no credentials
            assert answer.status_code == 200, (path, answer.text)
            assert answer.content in {
                twin.files[keys.stem(twin.id, name, "flac")],
                twin.files[keys.waveform(twin.id, name, "json")],
                twin.files[keys.waveform(twin.id, name, "png")],
            }
    archive = client.get(job["zip_url"], headers=who.headers)
    assert archive.status_code == 200
    assert zipfile.ZipFile(io.BytesIO(archive.content)).testzip() is None
    shown.append(archive.content.decode("latin-1"))
    for text in shown:
        assert twin.id not in text


def upload(client: TestClient, who: Caller, song: bytes) -> dict[str, Any]:
    response = client.post(
        "/api/jobs",
        files={"file": ("song.wav", song, "audio/wav")},
        data={"strategy": "four-stems-dsp", "formats": "flac"},
        headers=who.headers,
    )
    assert response.status_code == 202, response.text
    assert response.json()["status"] == "completed", "it should complete from the twin"
    return dict(response.json())


@pytest.mark.parametrize("store", ["local", "s3"])
def test_under_global_dedup_no_url_or_link_names_the_twin(
    client: TestClient,
    make_stored_job: Callable[..., StoredJob],
    mixture: Path,
    ada: Caller,
    bea: Caller,
) -> None:
    """GIVEN global dedup and Ada's completed job of a song WHEN Bea uploads the same
    song THEN her job completes from Ada's stems, and no URL, redirect, link (on S3 too,
    where a presigned URL would show the twin's storage key) or zip names Ada's job."""
    song = short_wav(mixture, 2.0)
    twin = make_stored_job(
        owner_id=ada.user_id,
        formats=("flac",),
        source_sha256=hashlib.sha256(song).hexdigest(),
    )

    hides(client, bea, upload(client, bea, song), twin)


@pytest.mark.parametrize("store", ["s3"])
def test_under_user_dedup_a_reuse_of_a_reuse_names_no_other_users_job(
    client: TestClient,
    settings: Settings,
    make_stored_job: Callable[..., StoredJob],
    mixture: Path,
    ada: Caller,
    bea: Caller,
) -> None:
    """GIVEN Bea's job made from Ada's stems while dedup was global, WHEN the server runs
    under user dedup and Bea uploads the song again THEN her new job reuses her own
    (whose files are still Ada's), and still nothing she receives names Ada's job."""
    song = short_wav(mixture, 2.0)
    twin = make_stored_job(
        owner_id=ada.user_id,
        formats=("flac",),
        source_sha256=hashlib.sha256(song).hexdigest(),
    )
    upload(client, bea, song)  # from Ada's stems, under global dedup
    user_scope = settings.model_copy(update={"dedup_scope": DedupScope.user})
    with TestClient(create_app(user_scope)) as again:
        # Done at once: under user dedup only from her own job, whose files are Ada's.
        second = upload(again, bea, song)
        hides(again, bea, second, twin)
