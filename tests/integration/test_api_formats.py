"""GET /api/formats: the output formats as core declares them, served to clients."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from fastapi.testclient import TestClient

from stemdeck.api.app import create_app
from stemdeck.core.settings import Settings

from .conftest import Upload


def test_formats_are_listed_with_labels_and_the_default(client: TestClient) -> None:
    response = client.get("/api/formats")

    assert response.status_code == 200
    assert response.json() == [
        {
            "id": "wav",
            "label": "WAV 16-bit",
            "extension": "wav",
            "media_type": "audio/wav",
            "lossless": True,
            "default": False,
        },
        {
            "id": "wav24",
            "label": "WAV 24-bit",
            "extension": "wav",
            "media_type": "audio/wav",
            "lossless": True,
            "default": False,
        },
        {
            "id": "flac",
            "label": "FLAC 24-bit",
            "extension": "flac",
            "media_type": "audio/flac",
            "lossless": True,
            "default": True,
        },
        {
            "id": "mp3",
            "label": "MP3 (VBR, high quality)",
            "extension": "mp3",
            "media_type": "audio/mpeg",
            "lossless": False,
            "default": False,
        },
        {
            "id": "opus",
            "label": "Opus 48 kHz",
            "extension": "opus",
            "media_type": "audio/ogg",
            "lossless": False,
            "default": False,
        },
    ]


def test_configured_default_formats_are_flagged(make_settings: Callable[..., Settings]) -> None:
    settings = make_settings(default_formats="opus,wav24")
    with TestClient(create_app(settings)) as client:
        listed = client.get("/api/formats").json()
    assert [item["id"] for item in listed if item["default"]] == ["wav24", "opus"]


def test_every_listed_format_is_one_a_job_can_ask_for(
    client: TestClient, upload: Upload, mixture: Path
) -> None:
    ids = [item["id"] for item in client.get("/api/formats").json()]

    response = upload(mixture.read_bytes(), strategy="four-stems-dsp", formats=",".join(ids))

    assert response.status_code == 202, response.text
    assert response.json()["formats"] == ids
    # The schema names the same ids, so generated clients can type them.
    schemas = client.get("/openapi.json").json()["components"]["schemas"]
    assert schemas["FormatId"]["enum"] == ids
