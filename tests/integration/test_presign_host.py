"""Stems play at whichever address the web port was opened at, never at one a client made up.

GIVEN the Compose layout, run for real: the API (S3 storage, accounts) and the MinIO
stand-in (which verifies every signature) behind deploy/nginx, with PUBLIC_URL and
STEMDECK_S3_PUBLIC_URL both http://localhost:<port>, nginx also answering at a
second address (127.0.0.2, as a LAN IP would be), WHEN a stem is asked for at an
address the API answers to by name (STEMDECK_ALLOWED_HOSTS) THEN the link is presigned
for that same address and plays from it through nginx; the forwarded scheme counts
only from a proxy the API trusts; and a Host the API does not name (under "*") never
appears in a link: it gets the public URL, and the log says once what to set.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from stemdeck.api.app import create_app
from stemdeck.core.settings import Settings
from stemdeck.core.storage import Storage, keys
from stemdeck.core.storage.s3 import S3Storage
from tests.conftest import s3_values
from tests.integration.conftest import StoredJob
from tests.integration.factories import ADMIN_EMAIL, ADMIN_PASSWORD
from tests.integration.stack import Stack, free_port, running_stack, wait_for_http
from tests.integration.test_nginx import admin_token, main_config, nginx_env, render
from tests.s3server import ACCESS_KEY, SECRET_KEY
from tests.s3standin import running_standin

NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
# Another address of this machine that nginx answers at, standing for its LAN IP.
SECOND = "127.0.0.2"
# A LAN IP no interface here has: requests for it go to 127.0.0.1 with this Host header,
# as they would reach the host's nginx from another machine.
LAN = "192.168.1.20"
NAMED = f"localhost,{SECOND},{LAN}"
STEM = "stems/vocals.flac"


@pytest.fixture(scope="module")
def s3_endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The MinIO stand-in, not moto: it checks each presigned URL's signature against the
    Host it arrives with, so a link signed for the wrong address fails here as in a browser."""
    data = tmp_path_factory.mktemp("minio") / "data"
    with running_standin(data, ACCESS_KEY, SECRET_KEY) as server:
        yield server.endpoint


@pytest.fixture
def port() -> int:
    return free_port()


@pytest.fixture
def allowed_hosts() -> str:
    return NAMED


@pytest.fixture
def store() -> str:
    return "s3"


@pytest.fixture
def settings(
    request: pytest.FixtureRequest,
    accounts: Callable[..., Settings],
    port: int,
    allowed_hosts: str,
    store: str,
) -> Settings:
    """Compose's settings: the bucket on the web port, at PUBLIC_URL (or local storage)."""
    public = f"http://localhost:{port}"
    extra = {}
    if store == "s3":
        extra = {**s3_values(request.getfixturevalue("s3_endpoint")), "s3_public_url": public}
    return accounts(public_url=public, allowed_hosts=allowed_hosts, **extra)


@contextmanager
def nginx_in_front(stack: Stack, settings: Settings, port: int, workdir: Path) -> Iterator[None]:
    """deploy/nginx at 127.0.0.1:port and SECOND:port, in front of ``stack`` and the store."""
    site = render(nginx_env(stack, settings.s3_endpoint, 1, settings.s3_bucket))
    config = main_config(site, workdir, port)
    text = config.read_text()
    listen = f"listen 127.0.0.1:{port};"
    assert listen in text
    config.write_text(text.replace(listen, f"{listen}\n    listen {SECOND}:{port};"))
    process = subprocess.Popen([NGINX, "-c", str(config)], stderr=subprocess.DEVNULL)
    try:
        wait_for_http(f"http://{SECOND}:{port}/nginx-health", process, workdir / "error.log")
        yield
    finally:
        process.terminate()
        process.wait(timeout=10)


@pytest.fixture
def web(settings: Settings, port: int, storage: Storage, tmp_path: Path) -> Iterator[Stack]:
    """The API behind nginx, as Compose runs it."""
    assert isinstance(storage, S3Storage)
    storage.check()  # the bucket, for the stored jobs
    with (
        running_stack(
            settings,
            workers=0,
            STEMDECK_AUTH="accounts",
            STEMDECK_ADMIN_EMAIL=ADMIN_EMAIL,
            STEMDECK_ADMIN_PASSWORD=ADMIN_PASSWORD,
            STEMDECK_STORAGE="s3",
            STEMDECK_S3_ENDPOINT=settings.s3_endpoint,
            STEMDECK_S3_BUCKET=settings.s3_bucket,
            STEMDECK_S3_ACCESS_KEY=settings.s3_access_key,
            STEMDECK_S3_SECRET_KEY=settings.s3_secret_key.get_secret_value(),
            STEMDECK_S3_PUBLIC_URL=settings.s3_public_url,
            STEMDECK_PUBLIC_URL=settings.public_url,
            STEMDECK_ALLOWED_HOSTS=settings.allowed_hosts,
        ) as stack,
        nginx_in_front(stack, settings, port, tmp_path / "nginx"),
    ):
        yield stack


def stem_redirect(url: str, headers: dict[str, str], **client: object) -> httpx.Response:
    with httpx.Client(timeout=30, **client) as http:  # type: ignore[arg-type]
        return http.get(url, headers=headers, follow_redirects=False)


def test_a_stem_asked_for_at_another_named_address_is_presigned_for_it_and_plays(
    web: Stack,
    settings: Settings,
    port: int,
    make_stored_job: Callable[..., StoredJob],
) -> None:
    """Before: every link pointed at localhost, which another machine cannot reach."""
    job = make_stored_job(stems=("vocals",), formats=("flac",))
    expected = job.files[keys.stem(job.id, "vocals", "flac")]
    token = admin_token(settings)
    path = f"/api/jobs/{job.id}/{STEM}"
    for address in (f"localhost:{port}", f"{SECOND}:{port}", f"{LAN}:{port}"):
        # The LAN IP is not this machine's: it is reached at 127.0.0.1 by its Host header.
        connect = address if not address.startswith(LAN) else f"127.0.0.1:{port}"
        headers = {**token, "Host": address}
        redirect = stem_redirect(f"http://{connect}{path}", headers)
        assert redirect.status_code == 307, (address, redirect.text)
        link = redirect.headers["location"]
        assert link.startswith(f"http://{address}/{settings.s3_bucket}/jobs/{job.id}/"), link
        # The store checks the signature over the Host nginx passes on: the link's own.
        played = stem_redirect(link.replace(address, connect, 1), {"Host": address})
        assert played.status_code == 200, (address, played.text)
        assert played.content == expected
        # The same link sent to another named address is refused: the host is signed.
        elsewhere = stem_redirect(link.replace(address, connect, 1), {"Host": "localhost"})
        assert elsewhere.status_code == 403 and "SignatureDoesNotMatch" in elsewhere.text


def test_the_scheme_comes_from_the_forwarded_proto_only_of_a_trusted_proxy(
    web: Stack,
    settings: Settings,
    port: int,
    make_stored_job: Callable[..., StoredJob],
) -> None:
    """GIVEN the API straight (no nginx), trusting X-Forwarded-Proto from 127.0.0.1 only
    WHEN a request for another named host says https THEN the link is https from
    127.0.0.1 and http from a client at 127.0.0.2, whose headers the API does not believe."""
    job = make_stored_job(stems=("vocals",), formats=("flac",))
    api = f"{web.base_url}/api/jobs/{job.id}/{STEM}"
    headers = {**admin_token(settings), "Host": f"{LAN}:8443", "X-Forwarded-Proto": "https"}
    trusted = stem_redirect(api, headers)
    untrusted_peer = httpx.HTTPTransport(local_address=SECOND)
    # The same API address, called from another one: a peer not in FORWARDED_ALLOW_IPS.
    untrusted = stem_redirect(api, headers, transport=untrusted_peer)
    assert trusted.status_code == untrusted.status_code == 307, (trusted.text, untrusted.text)
    assert trusted.headers["location"].startswith(f"https://{LAN}:8443/{settings.s3_bucket}/")
    assert untrusted.headers["location"].startswith(f"http://{LAN}:8443/{settings.s3_bucket}/")


def test_a_host_the_api_does_not_name_is_refused_and_never_in_a_link(
    web: Stack, settings: Settings, port: int, make_stored_job: Callable[..., StoredJob]
) -> None:
    job = make_stored_job(stems=("vocals",), formats=("flac",))
    headers = {**admin_token(settings), "Host": f"evil.example:{port}"}
    refused = stem_redirect(f"http://127.0.0.1:{port}/api/jobs/{job.id}/{STEM}", headers)
    assert refused.status_code == 400
    assert refused.json()["error"]["code"] == "host_not_allowed"
    assert "location" not in refused.headers


@pytest.mark.parametrize("allowed_hosts", [f"*,{SECOND}"])
def test_under_any_host_an_unnamed_one_gets_the_public_url_and_one_warning(
    web: Stack,
    settings: Settings,
    port: int,
    make_stored_job: Callable[..., StoredJob],
) -> None:
    """GIVEN STEMDECK_ALLOWED_HOSTS=* (any Host passes the front door) WHEN requests come
    with Host names no setting names (an attacker's, or a LAN IP nobody listed) THEN each
    link is still the public URL's, which plays; the API logs what to set once per host;
    a named host still gets its own address."""
    job = make_stored_job(stems=("vocals",), formats=("flac",))
    token = admin_token(settings)
    path = f"/api/jobs/{job.id}/{STEM}"
    public = f"http://localhost:{port}/{settings.s3_bucket}/"
    for host in ("evil.example", f"evil.example:{port}", f"{LAN}:{port}", f"{LAN}:{port}"):
        redirect = stem_redirect(f"http://127.0.0.1:{port}{path}", {**token, "Host": host})
        assert redirect.status_code == 307, (host, redirect.text)
        link = redirect.headers["location"]
        assert link.startswith(public), (host, link)
        assert "evil" not in link
        assert stem_redirect(link, {}).status_code == 200
    named = stem_redirect(f"http://{SECOND}:{port}{path}", token)
    assert named.headers["location"].startswith(f"http://{SECOND}:{port}/")

    log = (web.log_dir / "api.log").read_text()
    warnings = [line for line in log.splitlines() if "stem links for requests to" in line]
    assert len(warnings) == 3, warnings  # evil.example, evil.example:port, the LAN IP once
    lan = next(line for line in warnings if f"requests to {LAN}:{port} " in line)
    assert f"add {LAN} to STEMDECK_ALLOWED_HOSTS" in lan
    assert "PUBLIC_URL in Compose's .env" in lan and f"http://{LAN}:{port}" in lan


@pytest.mark.parametrize("store", ["local"])
def test_local_signed_links_follow_the_named_host_they_were_asked_at(
    settings: Settings, make_stored_job: Callable[..., StoredJob]
) -> None:
    """Local storage presigns nothing: its signed /api/files links are built on the
    request's own address, which the front door has already checked."""
    job = make_stored_job(stems=("vocals",), formats=("flac",))
    path = f"/api/jobs/{job.id}/{STEM}"
    token = admin_token(settings)
    with TestClient(create_app(settings), base_url=f"http://{LAN}:8080") as client:
        redirect = client.get(path, headers=token, follow_redirects=False)
        assert redirect.status_code == 307, redirect.text
        link = redirect.headers["location"]
        assert link.startswith(f"http://{LAN}:8080/api/files/"), link
        assert client.get(link).content == job.files[keys.stem(job.id, "vocals", "flac")]
        refused = client.get(path, headers={**token, "Host": "evil.example"})
    assert refused.status_code == 400 and "location" not in refused.headers
