"""Each bad upload: the right status, a JSON error that says what to do, and nothing kept.

`assert_refused` (conftest) checks the common THEN: no row, no file under the
storage root, nothing queued, and the API still answering.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from pathlib import Path

import pytest
import soundfile as sf
from fastapi.testclient import TestClient

from stemdeck.api.app import create_app
from stemdeck.core.settings import Settings

from .conftest import Upload

Refused = Callable[..., dict[str, str]]


@pytest.fixture
def flac_bytes(mixture: Path, tmp_path: Path) -> bytes:
    data, rate = sf.read(mixture)
    path = tmp_path / "song.flac"
    sf.write(path, data, rate)
    return path.read_bytes()


def test_an_empty_file_is_400(upload: Upload, assert_refused: Refused) -> None:
    error = assert_refused(upload(b"", filename="song.mp3"), 400, "empty_file")
    assert "empty" in error["message"]


def test_a_text_file_named_mp3_is_415(upload: Upload, assert_refused: Refused) -> None:
    text = b"This is not a song, only words pretending to be one.\n" * 50

    error = assert_refused(upload(text, filename="song.mp3"), 415, "unsupported_media")

    assert "Upload MP3, WAV, FLAC" in error["message"]


def test_random_bytes_named_mp3_are_415(upload: Upload, assert_refused: Refused) -> None:
    noise = random.Random(7).randbytes(200_000)

    assert_refused(upload(noise, filename="song.mp3"), 415, "unsupported_media")


def test_bytes_that_look_like_mpeg_but_are_not_are_415(
    upload: Upload, assert_refused: Refused
) -> None:
    """GIVEN bytes that pass the sniffing (an MPEG frame sync) THEN the probe refuses them."""
    fake = b"\xff\xfb\x90\x00" + random.Random(3).randbytes(50_000)

    assert_refused(upload(fake, filename="song.mp3"), 415, "unsupported_media")


def test_a_truncated_wav_is_422(upload: Upload, mixture: Path, assert_refused: Refused) -> None:
    whole = mixture.read_bytes()

    error = assert_refused(upload(whole[: len(whole) // 2]), 422, "truncated_audio")

    assert "6.8 s" in error["message"] and "complete file" in error["message"]


def test_a_corrupted_flac_is_422(
    upload: Upload, flac_bytes: bytes, assert_refused: Refused
) -> None:
    damaged = bytearray(flac_bytes)
    middle = len(damaged) // 2
    damaged[middle : middle + 4000] = random.Random(1).randbytes(4000)

    error = assert_refused(upload(bytes(damaged), filename="song.flac"), 422, "corrupt_audio")

    assert "again" in error["message"]


def test_a_flac_cut_short_is_422(
    upload: Upload, flac_bytes: bytes, assert_refused: Refused
) -> None:
    half = flac_bytes[: len(flac_bytes) // 2]

    assert_refused(upload(half, filename="song.flac"), 422, "corrupt_audio")


def test_an_unknown_strategy_is_422_and_lists_the_known_ones(
    upload: Upload, mixture: Path, assert_refused: Refused
) -> None:
    response = upload(mixture.read_bytes(), strategy="karaoke-9000")

    error = assert_refused(response, 422, "unknown_strategy")

    assert "karaoke-9000" in error["message"]
    assert "four-stems-dsp" in error["message"] and "center-sides" in error["message"]


def test_an_unknown_format_is_422_and_lists_the_known_ones(
    upload: Upload, mixture: Path, assert_refused: Refused
) -> None:
    response = upload(mixture.read_bytes(), formats="flac,aiff")

    error = assert_refused(response, 422, "unknown_format")

    assert "aiff" in error["message"]
    assert all(name in error["message"] for name in ("wav", "wav24", "flac", "mp3", "opus"))


def test_a_form_without_a_file_is_422(client: TestClient, assert_refused: Refused) -> None:
    response = client.post("/api/jobs", data={"strategy": "four-stems-dsp"}, files={"x": b"1"})

    error = assert_refused(response, 422, "missing_file")

    assert "'file'" in error["message"]


@pytest.mark.parametrize(
    ("content_type", "body"),
    [("text/plain", b"strategy=four-stems-dsp"), ("audio/wav", b"RIFF....WAVE")],
)
def test_a_body_that_is_not_multipart_is_415(
    client: TestClient, assert_refused: Refused, content_type: str, body: bytes
) -> None:
    response = client.post("/api/jobs", content=body, headers={"content-type": content_type})

    error = assert_refused(response, 415, "unsupported_content_type")

    assert "multipart/form-data" in error["message"]


def test_a_malformed_multipart_body_is_400(client: TestClient, assert_refused: Refused) -> None:
    body = b'--b\r\nContent-Disposition: form-data; name="file"; filename="a.wav"\r\n\r\nRIFF'

    response = client.post(
        "/api/jobs", content=body, headers={"content-type": "multipart/form-data; boundary=b"}
    )

    assert_refused(response, 400, "invalid_form")


def test_two_files_in_one_request_are_400(
    client: TestClient, mixture: Path, assert_refused: Refused
) -> None:
    song = mixture.read_bytes()

    response = client.post(
        "/api/jobs", files=[("file", ("a.wav", song)), ("file", ("b.wav", song))]
    )

    assert_refused(response, 400, "invalid_form")


def test_audio_longer_than_the_limit_is_422_and_says_the_limit(
    make_settings: Callable[..., Settings], mixture: Path, assert_refused: Refused
) -> None:
    with TestClient(create_app(make_settings(max_duration_s=5))) as client:
        response = client.post("/api/jobs", files={"file": ("long.wav", mixture.read_bytes())})

    error = assert_refused(response, 422, "audio_too_long")

    assert "6.8 s" in error["message"] and "at most 5 s" in error["message"]
