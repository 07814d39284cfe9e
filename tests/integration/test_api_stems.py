"""Stem audio with HTTP Range, downloads, the zip and waveforms, from local storage;
their caching (a strong ETag, If-None-Match, If-Range, Cache-Control immutable) and their
names (after the song).

The stem and waveform URLs redirect to a signed link (/api/files/…), which the test
client follows, Range and all; the links themselves are in test_signed_links.py.
Presigned redirects from an S3 store are in test_api_s3.py.

Jobs are written straight to the database and storage (`make_stored_job`), as
the worker would leave them.
"""

from __future__ import annotations

import io
import re
import zipfile
from collections.abc import Callable
from datetime import UTC, datetime
from urllib.parse import unquote

import pytest
from fastapi.testclient import TestClient

from stemdeck.api.zipstream import ZipEntry, zip_chunks
from stemdeck.core.states import JobStatus
from stemdeck.core.storage import CHUNK_SIZE, Storage, keys

from .conftest import StoredJob

MakeJob = Callable[..., StoredJob]


@pytest.fixture
def job(make_stored_job: MakeJob) -> StoredJob:
    return make_stored_job(stems=("vocals", "drums"), formats=("flac", "mp3", "wav24"))


def _url(job: StoredJob, stem: str = "vocals", fmt: str = "flac") -> str:
    return f"/api/jobs/{job.id}/stems/{stem}.{fmt}"


def _content(job: StoredJob, stem: str = "vocals", fmt: str = "flac") -> bytes:
    return job.files[keys.stem(job.id, stem, fmt)]


def test_without_range_the_whole_file_is_sent(client: TestClient, job: StoredJob) -> None:
    response = client.get(_url(job))

    assert response.status_code == 200
    assert response.content == _content(job)
    assert response.headers["accept-ranges"] == "bytes"
    assert response.headers["content-length"] == str(len(_content(job)))
    assert response.headers["content-type"] == "audio/flac"
    assert response.headers["content-disposition"] == "inline"


@pytest.mark.parametrize(
    ("header", "first", "last"),
    [
        ("bytes=0-0", 0, 0),
        ("bytes=10-99", 10, 99),
        ("bytes=4000-", 4000, 4999),
        ("bytes=-300", 4700, 4999),
        ("bytes=4990-999999", 4990, 4999),  # an end past the file is clamped
        ("bytes=-999999", 0, 4999),  # so is a suffix longer than the file
    ],
)
def test_a_range_gets_206_and_exactly_those_bytes(
    client: TestClient, job: StoredJob, header: str, first: int, last: int
) -> None:
    response = client.get(_url(job), headers={"Range": header})

    assert response.status_code == 206
    assert response.content == _content(job)[first : last + 1]
    assert response.headers["content-range"] == f"bytes {first}-{last}/5000"
    assert response.headers["content-length"] == str(last - first + 1)


@pytest.mark.parametrize("header", ["bytes=5000-", "bytes=9000-9100", "bytes=-0"])
def test_an_unsatisfiable_range_is_416_with_the_size(
    client: TestClient, job: StoredJob, header: str
) -> None:
    response = client.get(_url(job), headers={"Range": header})

    assert response.status_code == 416
    assert response.headers["content-range"] == "bytes */5000"
    assert response.json()["error"]["code"] == "range_not_satisfiable"


@pytest.mark.parametrize("header", ["bytes=0-1,5-6", "items=0-5", "bytes=9-2", "bytes=x-y"])
def test_ranges_we_do_not_serve_get_the_whole_file(
    client: TestClient, job: StoredJob, header: str
) -> None:
    response = client.get(_url(job), headers={"Range": header})

    assert response.status_code == 200
    assert response.content == _content(job)


def test_download_sends_an_attachment_with_a_useful_name(
    client: TestClient, job: StoredJob
) -> None:
    flac = client.get(_url(job) + "?download=1")
    wav24 = client.get(_url(job, "drums", "wav24") + "?download=1")

    assert flac.headers["content-disposition"] == 'attachment; filename="My Song - vocals.flac"'
    assert wav24.headers["content-disposition"] == (
        'attachment; filename="My Song - drums.24bit.wav"'
    )
    assert wav24.content == _content(job, "drums", "wav24")


IMMUTABLE = "private, max-age=31536000, immutable"


def test_a_stem_has_a_strong_stable_etag_and_is_cached_for_good(
    client: TestClient, job: StoredJob
) -> None:
    whole = client.get(_url(job))
    again = client.get(_url(job))
    part = client.get(_url(job), headers={"Range": "bytes=10-19"})
    other = client.get(_url(job, "drums"))
    peaks = client.get(f"/api/jobs/{job.id}/waveforms/vocals.json")

    etag = whole.headers["etag"]
    assert re.fullmatch(r'"[0-9a-f]{32}"', etag)  # strong: no W/ prefix
    assert again.headers["etag"] == etag
    assert part.status_code == 206 and part.headers["etag"] == etag
    assert other.headers["etag"] != etag
    assert re.fullmatch(r'"[0-9a-f]{32}"', peaks.headers["etag"])
    for response in (whole, part, peaks):
        assert response.headers["cache-control"] == IMMUTABLE


@pytest.mark.parametrize("form", ["{}", "W/{}", '"older", {}', "*"])
def test_if_none_match_with_the_etag_is_304_without_a_body(
    client: TestClient, job: StoredJob, form: str
) -> None:
    etag = client.get(_url(job)).headers["etag"]

    cached = client.get(_url(job), headers={"If-None-Match": form.format(etag)})
    sought = client.get(
        _url(job), headers={"If-None-Match": form.format(etag), "Range": "bytes=0-9"}
    )

    for response in (cached, sought):
        assert response.status_code == 304
        assert response.content == b""
        assert response.headers["etag"] == etag
        assert response.headers["cache-control"] == IMMUTABLE


def test_if_none_match_with_another_etag_gets_the_file(client: TestClient, job: StoredJob) -> None:
    response = client.get(_url(job), headers={"If-None-Match": '"0123456789abcdef"'})

    assert response.status_code == 200
    assert response.content == _content(job)


@pytest.mark.parametrize(
    ("if_range", "status"),
    [
        ("{}", 206),  # the client's partial copy is of these bytes: the range it lacks
        ('"0123456789abcdef"', 200),  # of other bytes: the whole file
        ("W/{}", 200),  # a weak tag never satisfies If-Range
        ("Wed, 21 Oct 2015 07:28:00 GMT", 200),  # a date: no Last-Modified to compare
    ],
)
def test_if_range_serves_the_range_only_for_the_same_bytes(
    client: TestClient, job: StoredJob, if_range: str, status: int
) -> None:
    etag = client.get(_url(job)).headers["etag"]

    response = client.get(
        _url(job), headers={"Range": "bytes=10-19", "If-Range": if_range.format(etag)}
    )

    assert response.status_code == status
    assert response.headers["etag"] == etag
    expected = _content(job)[10:20] if status == 206 else _content(job)
    assert response.content == expected


def test_a_stale_if_range_beats_an_unsatisfiable_range(client: TestClient, job: StoredJob) -> None:
    response = client.get(_url(job), headers={"Range": "bytes=9000-", "If-Range": '"older"'})

    assert response.status_code == 200
    assert response.content == _content(job)


def test_the_etag_changes_when_the_bytes_under_the_key_do(
    client: TestClient, job: StoredJob, storage: Storage
) -> None:
    """GIVEN a client holding a stem and its ETag WHEN other bytes are written under the
    same key (what a superseded attempt's late write would do; nothing else rewrites a
    stem) THEN its If-None-Match no longer matches: it gets the new bytes and a new tag."""
    before = client.get(_url(job)).headers["etag"]
    storage.put_bytes(keys.stem(job.id, "vocals", "flac"), b"fLaC other bytes")

    after = client.get(_url(job), headers={"If-None-Match": before})

    assert after.status_code == 200
    assert after.content == b"fLaC other bytes"
    assert after.headers["etag"] != before


@pytest.mark.parametrize(
    ("path", "code"),
    [
        ("/stems/bass.flac", "stem_not_found"),
        ("/stems/vocals.opus", "format_not_found"),  # a format this job did not store
        ("/stems/vocals.aiff", "format_not_found"),  # no such format at all
        ("/waveforms/bass.json", "stem_not_found"),
        ("/waveforms/vocals.svg", "not_found"),
    ],
)
def test_what_a_job_does_not_have_is_404(
    client: TestClient, job: StoredJob, path: str, code: str
) -> None:
    response = client.get(f"/api/jobs/{job.id}{path}")

    assert response.status_code == 404
    assert response.json()["error"]["code"] == code


def test_stems_appear_only_once_written(client: TestClient, make_stored_job: MakeJob) -> None:
    queued = make_stored_job(status=JobStatus.queued, stems=())

    response = client.get(f"/api/jobs/{queued.id}/stems/vocals.flac")

    assert response.status_code == 404
    assert "once the job is completed" in response.json()["error"]["message"]


def test_waveforms_are_served_as_json_and_png(client: TestClient, job: StoredJob) -> None:
    peaks = client.get(f"/api/jobs/{job.id}/waveforms/vocals.json")
    image = client.get(f"/api/jobs/{job.id}/waveforms/vocals.png")

    assert peaks.headers["content-type"] == "application/json"
    assert peaks.json() == {"peaks": [0.1, 0.5]}
    assert image.headers["content-type"] == "image/png"
    assert image.content == job.files[keys.waveform(job.id, "vocals", "png")]


def test_the_zip_holds_every_stem_in_every_format(client: TestClient, job: StoredJob) -> None:
    response = client.get(f"/api/jobs/{job.id}/stems.zip")

    assert response.status_code == 200
    assert response.headers["content-type"] == "application/zip"
    assert response.headers["content-disposition"] == ('attachment; filename="My Song - stems.zip"')
    # Streamed: the length is not known up front.
    assert "content-length" not in response.headers
    archive = zipfile.ZipFile(io.BytesIO(response.content))
    assert archive.testzip() is None
    expected = {
        f"My Song/My Song - {name}": _content(job, stem, fmt)
        for stem in ("vocals", "drums")
        for fmt, name in (
            ("flac", f"{stem}.flac"),
            ("mp3", f"{stem}.mp3"),
            ("wav24", f"{stem}.24bit.wav"),
        )
    }
    assert sorted(archive.namelist()) == sorted(expected)
    for info in archive.infolist():
        assert info.compress_type == zipfile.ZIP_STORED
        assert archive.read(info) == expected[info.filename]


def test_a_non_ascii_song_name_survives_in_the_zip_name(
    client: TestClient, make_stored_job: MakeJob
) -> None:
    stored = make_stored_job(source_name='Café "Déjà" vu.flac')

    response = client.get(f"/api/jobs/{stored.id}/stems.zip")

    assert response.headers["content-disposition"] == (
        "attachment; filename=\"Cafe 'Deja' vu - stems.zip\"; "
        "filename*=UTF-8''Caf%C3%A9%20%27D%C3%A9j%C3%A0%27%20vu%20-%20stems.zip"
    )
    names = zipfile.ZipFile(io.BytesIO(response.content)).namelist()
    assert "Café 'Déjà' vu/Café 'Déjà' vu - vocals.flac" in names


# Stored names (an upload's, or a URL job's page title) and the names their downloads get.
BAD_TITLES = [
    pytest.param({"source_name": "東京の夜.mp3"}, "東京の夜", id="non-ascii"),
    pytest.param({"source_name": 'Say "Hi".mp3'}, "Say 'Hi'", id="quotes"),
    pytest.param(
        {"source_name": "AC/DC - Back in Black", "source_title": "AC/DC - Back in Black"},
        "AC-DC - Back in Black",
        id="slashes",
    ),
    pytest.param({"source_name": "..\\..\\boot.wav"}, "boot", id="a-windows-path"),
    pytest.param({"source_name": "bell\x07\x1b[2J\u202egnp.wav"}, "bell[2Jgnp", id="controls"),
    pytest.param({"source_name": "What? <Live>.wav"}, "What_ _Live_", id="windows-reserved"),
    pytest.param({"source_name": "ö" * 120 + ".wav"}, "ö" * 60, id="very-long"),
    pytest.param({"source_name": "...wav"}, None, id="nothing-left"),
]


@pytest.mark.parametrize(("columns", "title"), BAD_TITLES)
def test_downloads_and_the_zip_are_named_after_the_song_made_safe(
    client: TestClient, make_stored_job: MakeJob, columns: dict[str, str], title: str | None
) -> None:
    """GIVEN a song whose name is hostile or awkward WHEN its stem is downloaded and its
    zip fetched THEN every name is the cleaned title (or the plain stem name when nothing
    of it is left), in the header's UTF-8 form and in the zip, and every zip entry is a
    file inside one folder."""
    stored = make_stored_job(stems=("vocals",), formats=("flac",), **columns)
    stem_name = f"{title} - vocals.flac" if title else "vocals.flac"
    zip_name = f"{title} - stems.zip" if title else "stems.zip"

    download = client.get(_url(stored) + "?download=1")
    archive = client.get(f"/api/jobs/{stored.id}/stems.zip")

    assert download.status_code == 200 and archive.status_code == 200
    assert _utf8_name(download.headers["content-disposition"]) == stem_name
    assert _utf8_name(archive.headers["content-disposition"]) == zip_name
    for header in (download.headers["content-disposition"], archive.headers["content-disposition"]):
        assert header.isascii() and header.isprintable()
    names = zipfile.ZipFile(io.BytesIO(archive.content)).namelist()
    assert names == [f"{title or 'stems'}/{stem_name}"]
    assert all(len(part.encode()) <= 255 for part in names[0].split("/"))


def _utf8_name(disposition: str) -> str:
    """The name a browser saves under: filename* if there is one, else filename."""
    params = dict(part.strip().split("=", 1) for part in disposition.split(";")[1:])
    if "filename*" in params:
        return unquote(params["filename*"].removeprefix("UTF-8''"))
    return params["filename"].strip('"')


def test_playing_stays_inline(client: TestClient, job: StoredJob) -> None:
    played = client.get(_url(job))
    peaks = client.get(f"/api/jobs/{job.id}/waveforms/vocals.json")

    assert played.headers["content-disposition"] == "inline"
    assert peaks.headers["content-disposition"] == "inline"


@pytest.mark.parametrize("status", [JobStatus.queued, JobStatus.running, JobStatus.failed])
def test_the_zip_waits_for_a_completed_job(
    client: TestClient, make_stored_job: MakeJob, status: JobStatus
) -> None:
    unfinished = make_stored_job(status=status)

    response = client.get(f"/api/jobs/{unfinished.id}/stems.zip")

    assert response.status_code == 409
    assert response.json()["error"]["code"] == "job_not_completed"
    assert status.value in response.json()["error"]["message"]


def test_the_zip_is_produced_chunk_by_chunk(storage: Storage) -> None:
    """Large members never sit whole in memory: each piece is about one storage read."""
    member = bytes(range(256)) * (5 * CHUNK_SIZE // 256)
    storage.put_bytes("jobs/x/stems/a.flac", member)
    storage.put_bytes("jobs/x/stems/b.flac", member)
    entries = [ZipEntry(f"{n}.flac", f"jobs/x/stems/{n}.flac", len(member)) for n in "ab"]

    chunks = list(zip_chunks(storage, entries, datetime(2026, 1, 1, tzinfo=UTC)))

    assert max(len(chunk) for chunk in chunks) <= CHUNK_SIZE + 1024
    archive = zipfile.ZipFile(io.BytesIO(b"".join(chunks)))
    assert [archive.read(name) == member for name in ("a.flac", "b.flac")] == [True, True]
