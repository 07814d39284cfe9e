"""Model weights as the API reports them: present, downloadable only when the source really
answers, or missing, named relative to the models dir; jobs refused at once when missing.

Sources are real HTTP servers on 127.0.0.1 (a mirror answering), or a closed port on
loopback standing in for a machine without network.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from stemdeck.api.app import create_app
from stemdeck.core.settings import Settings

# Every Demucs and RoFormer strategy in the shipped file.
WEIGHTED = ("htdemucs_ft", "htdemucs", "htdemucs_6s", "roformer-demucs")
CLOSED_PORT = "http://127.0.0.1:1"


def listed(client: TestClient) -> dict[str, dict[str, Any]]:
    response = client.get("/api/strategies")
    assert response.status_code == 200
    return {item["name"]: item for item in response.json()}


def test_missing_weights_are_listed_and_jobs_refused_naming_the_files(
    make_settings: Callable[..., Settings],
    mixture: Path,
    assert_refused: Callable[..., dict[str, str]],
) -> None:
    settings = make_settings(model_downloads=False)
    models_dir = str(settings.effective_models_dir)
    with TestClient(create_app(settings)) as client:
        strategies = listed(client)
        [htdemucs] = strategies["htdemucs"]["models"]
        assert htdemucs["status"] == "missing"
        assert htdemucs["missing_files"] == ["demucs/955717e8-8726e21a.th"]
        assert models_dir not in client.get("/api/strategies").text

        response = client.post(
            "/api/jobs",
            files={"file": ("song.wav", mixture.read_bytes(), "audio/wav")},
            data={"strategy": "htdemucs"},
        )
        error = assert_refused(response, 422, "weights_missing")
        assert "demucs/955717e8-8726e21a.th" in error["message"]
        assert "stemdeck models" in error["message"] and models_dir not in error["message"]


def test_offline_no_strategy_promises_a_download_and_jobs_are_refused_at_once(
    make_settings: Callable[..., Settings],
    mixture: Path,
    assert_refused: Callable[..., dict[str, str]],
) -> None:
    """GIVEN downloads on, but the download source a closed port on loopback (as on a
    machine without network) THEN every Demucs and RoFormer strategy is `missing` with
    its files named, and a job for one is refused with 422 instead of failing later."""
    settings = make_settings(model_downloads=True, model_mirror=CLOSED_PORT)
    with TestClient(create_app(settings)) as client:
        strategies = listed(client)
        for name in WEIGHTED:
            models = strategies[name]["models"]
            assert {m["status"] for m in models} == {"missing"}, name
            for model in models:
                assert model["missing_files"], model
                assert all(not Path(f).is_absolute() for f in model["missing_files"])
        assert not strategies["htdemucs"]["default"]

        response = client.post(
            "/api/jobs",
            files={"file": ("song.wav", mixture.read_bytes(), "audio/wav")},
            data={"strategy": "htdemucs_ft"},
        )
        error = assert_refused(response, 422, "weights_missing")
        assert "demucs/f7e0c4bc-ba3fe64a.th" in error["message"]


def test_weights_download_on_first_use_only_while_their_source_answers(
    make_settings: Callable[..., Settings], weights_source: str
) -> None:
    settings = make_settings(model_downloads=True, model_mirror=weights_source)
    with TestClient(create_app(settings)) as client:
        strategies = listed(client)
    for name in ("htdemucs_ft", "htdemucs", "htdemucs_6s"):
        assert {m["status"] for m in strategies[name]["models"]} == {"download"}
    # BS-RoFormer's files are pinned too; Demucs on its instrumental likewise.
    assert {m["status"] for m in strategies["roformer-demucs"]["models"]} == {"download"}
    assert not strategies["htdemucs"]["default"]
