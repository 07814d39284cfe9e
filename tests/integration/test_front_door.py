"""The front door: only known Host names get answers, and every answer carries the
security headers; /docs comes from files installed with the project, not a CDN."""

from __future__ import annotations

import re
from collections.abc import Callable

import httpx
import pytest
from fastapi.testclient import TestClient

from stemdeck.api.app import create_app
from stemdeck.api.front_door import content_security_policy
from stemdeck.core.settings import Settings, SettingsError, load_settings

SECURITY_HEADERS = {
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "no-referrer",
}


@pytest.fixture
def default_hosts(monkeypatch: pytest.MonkeyPatch) -> None:
    """The shipped default, not the test suite's "testserver" allowance."""
    monkeypatch.delenv("STEMDECK_ALLOWED_HOSTS")


def _client(settings: Settings) -> TestClient:
    return TestClient(create_app(settings), base_url="http://localhost:8000")


def assert_security_headers(headers: httpx.Headers) -> None:
    for name, value in SECURITY_HEADERS.items():
        assert headers.get(name) == value, name
    policy = headers["content-security-policy"]
    assert "frame-ancestors 'none'" in policy
    assert "script-src 'self' 'wasm-unsafe-eval';" in policy
    assert "unsafe-inline" not in policy and "'unsafe-eval'" not in policy


@pytest.mark.usefixtures("default_hosts")
def test_a_rebound_host_name_reads_nothing(make_settings: Callable[..., Settings]) -> None:
    """GIVEN the default STEMDECK_ALLOWED_HOSTS WHEN a DNS-rebinding page asks with its
    own name as Host THEN 400 host_not_allowed (saying which setting to change), while
    localhost, 127.0.0.1 and the public URL's host are answered."""
    settings = make_settings(public_url="https://stems.example.org")
    with _client(settings) as client:
        refused = client.get("/api/jobs", headers={"Host": "rebind.attacker.example"})
        assert refused.status_code == 400
        assert refused.json()["error"]["code"] == "host_not_allowed"
        assert "STEMDECK_ALLOWED_HOSTS" in refused.json()["error"]["message"]
        assert "jobs" not in refused.json()
        assert_security_headers(refused.headers)
        for host in ("localhost:8000", "127.0.0.1:8000", "stems.example.org", "LOCALHOST"):
            assert client.get("/api/jobs", headers={"Host": host}).status_code == 200, host
        # A name that merely contains an allowed one is another name.
        assert (
            client.get("/api/jobs", headers={"Host": "localhost.evil.example"}).status_code == 400
        )
        assert client.post("/api/jobs", headers={"Host": "evil.example"}).status_code == 400


@pytest.mark.usefixtures("default_hosts")
def test_probes_answer_any_host(make_settings: Callable[..., Settings]) -> None:
    """Kubelet probes by pod IP; /health and /ready tell nothing about anyone's jobs."""
    with _client(make_settings()) as client:
        for path in ("/health", "/ready"):
            answer = client.get(path, headers={"Host": "10.1.2.3:8000"})
            assert answer.status_code in {200, 503}, path
            assert_security_headers(answer.headers)
        assert client.get("/openapi.json", headers={"Host": "10.1.2.3:8000"}).status_code == 400


def test_allowed_hosts_lists_names_or_any(make_settings: Callable[..., Settings]) -> None:
    with _client(make_settings(allowed_hosts="stems.lan, Studio.Example.com")) as client:
        assert client.get("/api/jobs", headers={"Host": "studio.example.com"}).status_code == 200
        assert client.get("/api/jobs", headers={"Host": "localhost"}).status_code == 400
    with _client(make_settings(allowed_hosts="*")) as client:
        assert client.get("/api/jobs", headers={"Host": "anything.example"}).status_code == 200


def test_a_malformed_allowed_hosts_is_refused_at_start(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STEMDECK_ALLOWED_HOSTS", "https://stems.example.com/")
    with pytest.raises(SettingsError) as caught:
        load_settings()
    assert "STEMDECK_ALLOWED_HOSTS" in str(caught.value) and "without scheme" in str(caught.value)


def test_every_kind_of_answer_carries_the_security_headers(
    make_settings: Callable[..., Settings],
) -> None:
    with _client(make_settings()) as client:
        for path in ("/api/jobs", "/api/jobs/nope", "/", "/docs", "/openapi.json", "/nowhere"):
            assert_security_headers(client.get(path).headers)
        assert_security_headers(client.post("/api/jobs", content=b"x").headers)


def test_the_policy_lets_media_come_from_the_store_only_when_it_is_elsewhere(
    make_settings: Callable[..., Settings],
) -> None:
    local = _client(make_settings()).get("/api/jobs").headers["content-security-policy"]
    assert "media-src 'self' blob:;" in local and "connect-src 'self';" in local
    store = make_settings(
        storage="s3",
        s3_endpoint="http://minio:9000",
        s3_public_url="https://media.example.com",
        s3_bucket="stemdeck",
        s3_access_key="app",
        s3_secret_key="an app secret of some length",
    )
    assert store.store_origin == "https://media.example.com"
    policy = content_security_policy(store.store_origin)
    assert "media-src 'self' blob: https://media.example.com;" in policy
    assert "connect-src 'self' https://media.example.com;" in policy


def test_docs_come_from_installed_files_with_no_inline_script(
    make_settings: Callable[..., Settings],
) -> None:
    with _client(make_settings()) as client:
        page = client.get("/docs")
        assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
        assert not re.search(r"(src|href)=\"(https?:)?//", page.text), "a CDN link is back"
        scripts = re.findall(r"<script([^>]*)>(.*?)</script>", page.text, re.S)
        assert scripts and all('src="' in attrs and not body.strip() for attrs, body in scripts)
        for url in re.findall(r"(?:src|href)=\"(/docs/assets/[^\"]+)\"", page.text):
            asset = client.get(url)
            assert asset.status_code == 200 and len(asset.content) > 100, url
        bundle = client.get("/docs/assets/swagger-ui-bundle.js")
        assert "javascript" in bundle.headers["content-type"]
        assert b"SwaggerUIBundle" in bundle.content
        missing = client.get("/docs/assets/..%2F..%2Fsettings.py")
        assert missing.status_code == 404
        assert client.get("/docs/assets/nothing.js").json()["error"]["code"] == "not_found"
