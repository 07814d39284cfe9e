"""Hostile media at the front door, through the real app, real ffmpeg and a real worker:
files that point ffmpeg at other files, and titles and names that would climb out of
the zip's folder.

`assert_refused` (conftest) checks the common THEN: no row, no file under the storage
root, nothing queued, and the API still answering.
"""

from __future__ import annotations

import io
import subprocess
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from stemdeck.api.app import create_app
from stemdeck.core.settings import Settings
from tests.integration.hostile_server import HostileServer, hostile_server
from tests.integration.test_url_ingest import INGEST_TIMEOUT_S, run_job

from .conftest import StoredJob, Upload

Refused = Callable[..., dict[str, str]]

# An ID3v2.3 header with an empty body: all it takes to pass for an MP3 at a glance.
ID3 = b"ID3\x03\x00\x00\x00\x00\x00\x00"


@pytest.fixture
def secret(mixture: Path, tmp_path: Path) -> Path:
    """An MP3 on the server's disk that no upload may make ffmpeg read."""
    path = tmp_path / "secret" / "private.mp3"
    path.parent.mkdir()
    subprocess.run(
        ["ffmpeg", "-nostdin", "-v", "error", "-t", "3", "-i", str(mixture), str(path)],
        check=True,
    )
    return path


def _hls(target: Path) -> bytes:
    return f"#EXTM3U\n#EXT-X-TARGETDURATION:4\n#EXTINF:3.0,\n{target}\n#EXT-X-ENDLIST\n".encode()


def _sdp() -> bytes:
    # An RTP stream on loopback: ffmpeg, reading it, would open UDP sockets and wait.
    return (
        b"v=0\r\no=- 0 0 IN IP4 127.0.0.1\r\ns=stream\r\nc=IN IP4 127.0.0.1\r\n"
        b"t=0 0\r\nm=audio 5004 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n"
    )


# name → (the file's bytes, made from the secret's path; the words the refusal uses)
HOSTILE_FILES: dict[str, tuple[Callable[[Path], bytes], str]] = {
    "id3-hls": (lambda secret: ID3 + _hls(secret), "an HLS or M3U playlist"),
    "hls": (_hls, "an HLS or M3U playlist"),
    "bom-m3u8": (lambda secret: b"\xef\xbb\xbf" + _hls(secret), "an HLS or M3U playlist"),
    "id3-ffconcat": (
        lambda secret: ID3 + f"ffconcat version 1.0\nfile '{secret.name}'\n".encode(),
        "an ffmpeg concat list",
    ),
    "ffconcat": (
        lambda secret: f"ffconcat version 1.0\nfile '{secret}'\n".encode(),
        "an ffmpeg concat list",
    ),
    "id3-sdp": (lambda _: ID3 + _sdp(), "an SDP stream description"),
    "sdp": (lambda _: _sdp(), "an SDP stream description"),
    "m3u": (
        lambda secret: f"#EXTM3U\n#EXTINF:3,Artist - Song\n{secret}\n".encode(),
        "an HLS or M3U playlist",
    ),
    "id3-m3u-without-header": (
        lambda secret: ID3 + f"#EXTINF:3,Artist - Song\n{secret}\n".encode(),
        "an M3U playlist",
    ),
    "pls": (
        lambda secret: f"[playlist]\nFile1={secret}\nNumberOfEntries=1\n".encode(),
        "a PLS playlist",
    ),
}


@pytest.mark.parametrize("kind", list(HOSTILE_FILES))
@pytest.mark.parametrize("path", ["/api/jobs", "/upload"])
def test_a_file_that_points_elsewhere_is_refused_and_nothing_is_kept(
    upload: Upload, assert_refused: Refused, secret: Path, kind: str, path: str
) -> None:
    """GIVEN a playlist, concat list or stream description, bare or behind an ID3 tag so
    it passes for an MP3, naming a file on the server's disk WHEN it is uploaded THEN it
    is refused for what it is, before ffmpeg could read what it names."""
    build, words = HOSTILE_FILES[kind]

    response = upload(build(secret), filename="song.mp3", path=path)

    error = assert_refused(response, 415, "playlist_file")
    assert words in error["message"]
    assert "Upload the audio file itself" in error["message"]
    assert str(secret) not in error["message"]


def test_tagged_audio_is_still_accepted(upload: Upload, secret: Path, tmp_path: Path) -> None:
    """The ID3 tag is looked past, not refused: a tagged MP3, and a FLAC that some
    tagger prefixed with an ID3 tag, are read as what they are."""
    flac = tmp_path / "song.flac"
    subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-i", str(secret), str(flac)], check=True)
    tag_body = b"TIT2\x00\x00\x00\x05\x00\x00\x00Song"
    tag = b"ID3\x03\x00\x00\x00\x00\x00" + bytes([len(tag_body)]) + tag_body

    for name, content in [
        ("a.mp3", tag + secret.read_bytes()),
        ("b.flac", tag + flac.read_bytes()),
    ]:
        response = upload(content, filename=name, strategy="center-sides")
        assert response.status_code == 202, response.text
        assert response.json()["source"]["duration_s"] == pytest.approx(3.0, abs=0.1)


@pytest.fixture
def server(shared_audio: Path, tmp_path: Path) -> Iterator[HostileServer]:
    song = tmp_path / "on-the-server.mp3"
    subprocess.run(
        [
            "ffmpeg", "-nostdin", "-v", "error", "-t", "4",
            "-i", str(shared_audio / "Music_Delta__80s_Rock" / "mixture.wav"), str(song),
        ],
        check=True,
    )  # fmt: skip
    with hostile_server(song) as base:
        yield base


@pytest.fixture
def ingest_settings(make_settings: Callable[..., Settings]) -> Settings:
    return make_settings(
        ingest_allow_loopback=True, ingest_timeout_s=INGEST_TIMEOUT_S, max_duration_s=60
    )


@pytest.fixture
def ingest_client(ingest_settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(ingest_settings)) as client:
        yield client


def test_a_url_serving_a_disguised_playlist_fails_the_job_with_what_to_do(
    ingest_client: TestClient, ingest_settings: Settings, server: HostileServer
) -> None:
    """GIVEN a URL that serves an "MP3" (audio/mpeg) that is an ID3 tag and an HLS
    playlist naming a file on the server's disk WHEN it is submitted THEN the job fails
    saying what it got and what to send instead; no stems come from the server's file."""
    job = run_job(ingest_client, ingest_settings, f"{server}/disguised-playlist.mp3")

    assert job["status"] == "failed", job
    assert (job["error_code"], job["error_status"]) == ("playlist_file", 415), job["error"]
    assert "HLS or M3U playlist" in job["error"]
    assert "Link to the audio file itself" in job["error"]
    assert job["stems"] == []
    assert [p for p in ingest_settings.storage_root.rglob("*") if p.is_file()] == []


def test_a_page_titled_dotdot_names_no_folder_outside_the_zip(
    ingest_client: TestClient, ingest_settings: Settings, server: HostileServer
) -> None:
    """GIVEN a page whose title is ".." WHEN its audio is separated THEN the title is
    dropped as a name (nothing is left of it once cleaned like a file name) and every
    zip entry sits inside one folder named after the page."""
    job = run_job(
        ingest_client,
        ingest_settings,
        f"{server}/page-titled-dotdot.html",
        strategy="center-sides",
        formats="flac",
    )

    assert job["status"] == "completed", job["error"]
    assert job["source"]["title"] is None
    assert ".." not in job["source"]["name"].split("/")
    response = ingest_client.get(f"/api/jobs/{job['id']}/stems.zip")
    assert response.status_code == 200
    names = zipfile.ZipFile(io.BytesIO(response.content)).namelist()
    assert names == [
        "page-titled-dotdot/page-titled-dotdot - center.flac",
        "page-titled-dotdot/page-titled-dotdot - sides.flac",
    ]


@pytest.mark.parametrize(
    ("source_name", "entry"),
    [
        ("..", "stems/vocals.flac"),  # nothing left of the name: no song title
        ("../../../tmp/evil.mp3", "evil/evil - vocals.flac"),
        # Backslashes count as folders: the song is the file's own name.
        ("..\\..\\Windows\\evil.mp3", "evil/evil - vocals.flac"),
        ("/etc/cron.d/x.mp3", "x/x - vocals.flac"),
        ("bad\x1b[31m\x07name\u202e.mp3", "bad[31mname/bad[31mname - vocals.flac"),
        ("C:evil.mp3", "C_evil/C_evil - vocals.flac"),
    ],
)
def test_a_stored_name_of_any_kind_makes_a_zip_that_stays_in_its_folder(
    client: TestClient, make_stored_job: Callable[..., StoredJob], source_name: str, entry: str
) -> None:
    """GIVEN a job whose stored name is hostile (a row written before names were
    cleaned, say) THEN its zip still holds only entries inside one safe folder, named
    after what is left of the song's name."""
    stored = make_stored_job(stems=("vocals",), formats=("flac",), source_name=source_name)

    response = client.get(f"/api/jobs/{stored.id}/stems.zip")

    assert response.status_code == 200
    assert zipfile.ZipFile(io.BytesIO(response.content)).namelist() == [entry]
