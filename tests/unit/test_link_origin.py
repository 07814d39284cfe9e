"""Which origin a presigned link is signed for (api/link_origin.py), and the store's
presigner per origin (core/storage/s3.py). The whole path, through a real nginx and a
signature-checking store, is tests/integration/test_presign_host.py.

GIVEN Compose's settings (the bucket at PUBLIC_URL's origin) WHEN a request's Host is one
the API names THEN links are signed for that origin; any other Host, malformed or
unnamed, gets None (the public URL), and a store that is elsewhere by design is left be.
"""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import urlsplit

import pytest
from minio import Minio

from stemdeck.api.link_origin import LinkOrigins, parse_host
from stemdeck.core.settings import Settings
from stemdeck.core.storage.s3 import MAX_ORIGIN_PRESIGNERS, S3Storage

PUBLIC = "http://localhost:8080"


def settings(**values: Any) -> Settings:
    compose = {
        "storage": "s3",
        "s3_endpoint": "http://minio:9000",
        "s3_access_key": "app",
        "s3_secret_key": "app-secret",
        "s3_public_url": PUBLIC,
        "public_url": PUBLIC,
    }
    return Settings(_env_file=None, **{**compose, **values})  # type: ignore[call-arg]


@pytest.mark.parametrize(
    ("header", "parsed"),
    [
        ("192.168.1.20:8080", ("192.168.1.20", "192.168.1.20:8080")),
        ("Stemdeck.LAN", ("stemdeck.lan", "stemdeck.lan")),
        ("[::1]:8080", ("[::1]", "[::1]:8080")),
        ("192.168.1.20:8080@evil.example", None),
        ("evil.example/path", None),
        ("192.168.1.20 evil.example", None),
        ("192.168.1.20:99999", None),
        ("192.168.1.20:0", None),
        ("192.168.1.20:", None),
        ("", None),
    ],
)
def test_only_a_plain_host_and_port_are_read_from_a_host_header(
    header: str, parsed: tuple[str, str] | None
) -> None:
    assert parse_host(header) == parsed


def test_a_named_host_gets_its_own_origin_with_the_requests_scheme() -> None:
    origins = LinkOrigins(settings(allowed_hosts="localhost,192.168.1.20,stemdeck.lan"))
    assert origins.for_request("http", "192.168.1.20:8080") == "http://192.168.1.20:8080"
    assert origins.for_request("https", "Stemdeck.LAN") == "https://stemdeck.lan"
    # The public URL's own host: its own presigner, with its own scheme, on any port
    # (another port on that host is the API's own, say, which serves no bucket).
    assert origins.for_request("http", "localhost:8080") is None
    assert origins.for_request("https", "localhost:9999") is None


def test_an_ipv6_public_url_keeps_its_links_on_any_port() -> None:
    public = "http://[fd00::20]:8080"
    origins = LinkOrigins(
        settings(public_url=public, s3_public_url=public, allowed_hosts="fd00::20,localhost")
    )
    assert origins.for_request("http", "[fd00::20]:8000") is None
    assert origins.for_request("http", "localhost:8080") == "http://localhost:8080"


def test_the_default_allowlist_names_the_public_host_and_loopback() -> None:
    lan = "http://192.168.1.20:8080"
    origins = LinkOrigins(settings(public_url=lan, s3_public_url=lan))
    assert origins.for_request("http", "127.0.0.1:8080") == "http://127.0.0.1:8080"
    assert origins.for_request("http", "192.168.1.20:8080") is None  # the public URL itself
    assert origins.for_request("http", "10.0.0.5:8080") is None


@pytest.mark.parametrize(
    "host", ["evil.example", "evil.example:8080", "192.168.1.20:8080@evil.example", "x y"]
)
def test_under_any_host_an_unnamed_one_never_becomes_an_origin(host: str) -> None:
    origins = LinkOrigins(settings(allowed_hosts="*,192.168.1.20"))
    assert origins.for_request("http", host) is None
    assert origins.for_request("http", "192.168.1.20:8080") == "http://192.168.1.20:8080"


@pytest.mark.parametrize(
    "values",
    [
        # A store browsers reach at its own address (a CDN, R2): links keep pointing there.
        {"s3_public_url": "https://media.example.com", "allowed_hosts": "192.168.1.20"},
        # No public URL to say the bucket shares the app's origin.
        {"public_url": "", "allowed_hosts": "192.168.1.20"},
        # Local storage: signed /api/files links are on the request's address already.
        {"storage": "local", "allowed_hosts": "192.168.1.20"},
    ],
)
def test_links_follow_the_request_only_where_the_bucket_is_at_the_apps_origin(
    values: dict[str, str],
) -> None:
    assert LinkOrigins(settings(**values)).for_request("http", "192.168.1.20:8080") is None


def test_a_link_another_machine_cannot_reach_is_warned_about_once_per_host(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Compose with PUBLIC_URL unset: the API has no public URL, the store's is localhost."""
    origins = LinkOrigins(settings(public_url="", allowed_hosts="*"))
    with caplog.at_level(logging.WARNING, logger="stemdeck.api.link_origin"):
        for _ in range(3):
            assert origins.for_request("http", "192.168.1.20:8080") is None
        assert origins.for_request("http", "127.0.0.1:8080") is None  # reaches localhost
    assert len(caplog.records) == 1
    message = caplog.records[0].getMessage()
    assert "requests to 192.168.1.20:8080 point at http://localhost:8080" in message
    assert "PUBLIC_URL=http://192.168.1.20:8080 in .env" in message


def test_the_store_keeps_one_presigner_per_origin_and_only_the_latest_few() -> None:
    made: list[str] = []

    def make(origin: str) -> Minio:
        made.append(origin)
        parts = urlsplit(origin)
        return Minio(parts.netloc, "app", "app-secret", secure=False, region="us-east-1")

    store = S3Storage(
        Minio("minio:9000", "app", "app-secret", secure=False, region="us-east-1"),
        "stemdeck",
        endpoint="http://minio:9000",
        make_presigner=make,
    )
    first = "http://192.168.1.20:8080"
    url = store.presigned_url("jobs/a/x.flac", media_type="audio/flac", disposition="inline")
    assert url is not None and url.startswith("http://minio:9000/stemdeck/jobs/a/x.flac?")
    lan = store.presigned_url(
        "jobs/a/x.flac", media_type="audio/flac", disposition="inline", origin=first
    )
    assert lan is not None and lan.startswith(f"{first}/stemdeck/jobs/a/x.flac?")
    assert store.presigner_for(first) is store.presigner_for(first)
    for number in range(MAX_ORIGIN_PRESIGNERS):
        store.presigner_for(f"http://10.0.0.{number}:8080")
    assert made.count(first) == 1
    store.presigner_for(first)  # the oldest, dropped when the cache went past its bound
    assert made.count(first) == 2
    assert len(made) == MAX_ORIGIN_PRESIGNERS + 2
