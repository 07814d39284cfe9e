"""Missing model weights: listed as such, and jobs refused at once when they cannot download."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from fastapi.testclient import TestClient

from stemdeck.api.app import create_app
from stemdeck.core.settings import Settings


def test_missing_weights_are_listed_and_jobs_refused_naming_the_files(
    make_settings: Callable[..., Settings],
    mixture: Path,
    assert_refused: Callable[..., dict[str, str]],
) -> None:
    settings = make_settings(model_downloads=False)
    with TestClient(create_app(settings)) as client:
        listed = {item["name"]: item for item in client.get("/api/strategies").json()}
        [htdemucs] = listed["htdemucs"]["models"]
        assert htdemucs["status"] == "missing"
        expected = str(settings.effective_models_dir / "demucs" / "955717e8-8726e21a.th")
        assert htdemucs["missing_files"] == [expected]

        response = client.post(
            "/api/jobs",
            files={"file": ("song.wav", mixture.read_bytes(), "audio/wav")},
            data={"strategy": "htdemucs"},
        )
        error = assert_refused(response, 422, "weights_missing")
        assert expected in error["message"] and "stemdeck models" in error["message"]


def test_downloadable_weights_are_reported_as_such(client: TestClient) -> None:
    listed = {item["name"]: item for item in client.get("/api/strategies").json()}
    assert {m["status"] for m in listed["htdemucs_ft"]["models"]} == {"download"}
    assert not listed["htdemucs"]["default"]
