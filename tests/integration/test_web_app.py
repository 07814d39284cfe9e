"""The API serves the built web app with SPA routing, never over its own routes.

GIVEN a built web app (index.html and hashed assets), WHEN paths are requested,
THEN app routes get index.html, files come with the right caching, and every
path the API owns keeps its own answer, JSON errors included.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from stemdeck.api import web
from stemdeck.api.app import create_app
from stemdeck.core.settings import Settings, SettingsError

INDEX = "<!doctype html><title>Stemdeck</title><div id=root></div>"


@pytest.fixture
def web_dir(tmp_path: Path) -> Path:
    root = tmp_path / "dist"
    (root / "assets").mkdir(parents=True)
    (root / "index.html").write_text(INDEX)
    (root / "assets" / "index-abc123.js").write_text("console.log('stemdeck')")
    (root / "favicon.svg").write_text("<svg/>")
    (tmp_path / "secret.txt").write_text("not for the web")
    return root


@pytest.fixture
def web_client(make_settings: Callable[..., Settings], web_dir: Path) -> TestClient:
    return TestClient(create_app(make_settings(web_dir=web_dir)))


@pytest.mark.parametrize("path", ["/", "/jobs", "/jobs/0123456789abcdef0123456789abcdef", "/x/y"])
def test_app_routes_get_index_html(web_client: TestClient, path: str) -> None:
    response = web_client.get(path)
    assert response.status_code == 200
    assert response.text == INDEX
    assert response.headers["content-type"].startswith("text/html")
    assert response.headers["cache-control"] == "no-cache"


def test_files_are_served_and_hashed_assets_cached_for_good(web_client: TestClient) -> None:
    asset = web_client.get("/assets/index-abc123.js")
    assert asset.status_code == 200
    assert "stemdeck" in asset.text
    assert "immutable" in asset.headers["cache-control"]
    icon = web_client.get("/favicon.svg")
    assert icon.status_code == 200 and icon.headers["cache-control"] == "no-cache"


@pytest.mark.parametrize(
    "path",
    [
        "/assets/index-old999.js",
        "/robots.txt",
        "/..%2fsecret.txt",
        "/assets/..%2f..%2fsecret.txt",
        "/%00",
        "/assets/" + "a" * 300 + ".js",
    ],
)
def test_missing_files_and_escapes_are_json_404s(web_client: TestClient, path: str) -> None:
    response = web_client.get(path)
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"
    assert "not for the web" not in response.text


@pytest.mark.parametrize(
    ("path", "code"),
    [
        ("/api/nothing-here", "not_found"),
        ("/api/jobs/0123456789abcdef0123456789abcdef", "job_not_found"),
        ("/status/0123456789abcdef0123456789abcdef", "job_not_found"),
        ("/download/0123456789abcdef0123456789abcdef/vocals", "job_not_found"),
        ("/docs/nothing", "not_found"),
        ("/health/x", "not_found"),
    ],
)
def test_paths_the_api_owns_keep_their_json_errors(
    web_client: TestClient, path: str, code: str
) -> None:
    response = web_client.get(path)
    assert response.status_code == 404
    assert response.json()["error"]["code"] == code


def test_other_methods_on_app_paths_are_json_404s(web_client: TestClient) -> None:
    for response in (web_client.post("/jobs"), web_client.delete("/"), web_client.put("/x")):
        assert response.status_code == 404
        assert response.json()["error"]["code"] == "not_found"
    # A method a real route lacks still gets its 405.
    assert web_client.put("/api/jobs").status_code == 405


def test_the_api_routes_still_answer(web_client: TestClient) -> None:
    assert web_client.get("/health").json() == {"status": "ok"}
    assert "openapi" in web_client.get("/openapi.json").json()
    assert "swagger" in web_client.get("/docs").text.lower()
    assert isinstance(web_client.get("/api/strategies").json(), list)
    # The catch-all is no part of the API's schema.
    assert not [p for p in web_client.get("/openapi.json").json()["paths"] if "{path}" in p]


def test_without_a_build_the_root_says_how_to_build_it(
    make_settings: Callable[..., Settings], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(web, "CHECKOUT_WEB_DIR", tmp_path / "never-built")
    client = TestClient(create_app(make_settings()))
    response = client.get("/")
    assert response.status_code == 404
    error = response.json()["error"]
    assert error["code"] == "web_app_not_built"
    assert "npm run build" in error["message"]
    assert client.get("/health").status_code == 200


def test_a_web_dir_without_a_build_stops_start_up(
    make_settings: Callable[..., Settings], tmp_path: Path
) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(SettingsError, match=r"STEMDECK_WEB_DIR: .* has no index.html"):
        create_app(make_settings(web_dir=empty))
