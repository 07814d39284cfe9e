"""The web port's nginx config, run by a real nginx in front of the real API and store.

GIVEN deploy/nginx rendered the way the nginx image does it (the .envsh script,
then ${VAR} filled in from the environment), WHEN nginx runs in front of the
API and the MinIO stand-in (which, unlike moto, verifies signatures), THEN the
app, the API and the bucket are all on one port, uploads stream through up to
the API's own limit, and a body past nginx's limit gets the API's JSON error
shape. The API runs STEMDECK_AUTH=accounts, as in Compose, so every job call
carries an API token through nginx. The bucket passes only presigned GET and
HEAD of objects, whose signatures the store checks over the Host nginx passes
on, and what it serves cannot run in the app's origin.
"""

from __future__ import annotations

import io
import json
import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

import httpx
import pytest
from pydantic import SecretStr

from stemdeck.api.delivery import IMMUTABLE
from stemdeck.api.front_door import security_headers
from stemdeck.core.accounts.api_tokens import issue_api_token
from stemdeck.core.db import session_scope
from stemdeck.core.models import LOCAL_ADMIN_ID, User
from stemdeck.core.settings import Settings
from stemdeck.core.storage import keys, make_storage
from stemdeck.core.storage.s3 import S3Storage
from tests.conftest import REPO
from tests.integration.factories import short_wav
from tests.integration.stack import Stack, free_port, running_stack, wait_for_http
from tests.s3server import ACCESS_KEY, SECRET_KEY
from tests.s3standin import running_standin

NGINX_DIR = REPO / "deploy" / "nginx"
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"


@pytest.fixture(scope="module")
def s3_endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The store behind nginx is the MinIO stand-in, not moto: it verifies signatures, so
    every presigned URL fetched below is checked through nginx, Host header and all."""
    data = tmp_path_factory.mktemp("minio") / "data"
    with running_standin(data, ACCESS_KEY, SECRET_KEY) as server:
        yield server.endpoint


def render(env: dict[str, str]) -> str:
    """What /docker-entrypoint.d does: source the .envsh, then envsubst defined variables."""
    script = NGINX_DIR / "15-stemdeck-limits.envsh"
    shell = f'. "{script}"; echo "$NGINX_BODY_LIMIT_MB"'
    computed = subprocess.run(
        ["sh", "-c", shell], env=env, capture_output=True, text=True, check=True
    ).stdout.strip()
    defined = {**env, "NGINX_BODY_LIMIT_MB": computed}
    template = (NGINX_DIR / "templates" / "default.conf.template").read_text()
    # envsubst replaces $NAME and ${NAME} of defined variables only; nginx's own stay.
    return re.sub(
        r"\$\{(\w+)\}|\$(\w+)",
        lambda m: defined.get(m[1] or m[2], m[0]),
        template,
    )


def main_config(site: str, workdir: Path, port: int) -> Path:
    temp = workdir / "temp"
    temp.mkdir(parents=True, exist_ok=True)
    html = workdir / "html"
    html.mkdir(exist_ok=True)
    (html / "index.html").write_text("<!doctype html><title>Stemdeck</title>")
    (html / "assets").mkdir(exist_ok=True)
    (html / "assets" / "index-test.js").write_text("export {};\n")
    site = site.replace("listen 8080;", f"listen 127.0.0.1:{port};")
    site = site.replace("root /usr/share/nginx/html;", f"root {html};")
    config = workdir / "nginx.conf"
    # As root, nginx's workers would drop to nobody, who cannot read pytest's tmp dirs.
    user = "user root;\n" if os.geteuid() == 0 else ""
    config.write_text(
        f"""{user}daemon off;
pid {workdir}/nginx.pid;
error_log {workdir}/error.log info;
events {{ worker_connections 64; }}
http {{
    include /etc/nginx/mime.types;
    access_log {workdir}/access.log;
    client_body_temp_path {temp}/body;
    proxy_temp_path {temp}/proxy;
    fastcgi_temp_path {temp}/fastcgi;
    uwsgi_temp_path {temp}/uwsgi;
    scgi_temp_path {temp}/scgi;
{site}
}}
"""
    )
    return config


def nginx_env(stack: Stack, s3: str, max_upload_mb: int, bucket: str) -> dict[str, str]:
    return {
        "PATH": os.environ["PATH"],
        "STEMDECK_MAX_UPLOAD_MB": str(max_upload_mb),
        "STEMDECK_S3_BUCKET": bucket,
        "NGINX_API_UPSTREAM": stack.base_url.removeprefix("http://"),
        "NGINX_S3_UPSTREAM": s3.removeprefix("http://"),
        "NGINX_RESOLVER": "127.0.0.1",
    }


def test_the_rendered_config_is_valid_nginx(tmp_path: Path) -> None:
    env = {
        "PATH": os.environ["PATH"],
        "STEMDECK_MAX_UPLOAD_MB": "500",
        "STEMDECK_S3_BUCKET": "stemdeck",
        "NGINX_API_UPSTREAM": "api:8000",
        "NGINX_S3_UPSTREAM": "minio:9000",
        "NGINX_RESOLVER": "127.0.0.11",
    }
    site = render(env)
    assert "client_max_body_size 501m;" in site
    assert "location /stemdeck/ {" in site
    assert "${" not in site
    config = main_config(site, tmp_path, free_port())
    checked = subprocess.run([NGINX, "-t", "-c", str(config)], capture_output=True, text=True)
    assert checked.returncode == 0, checked.stderr


def admin_token(settings: Settings) -> dict[str, str]:
    """Headers with an API token of the first admin (what `stemdeck tokens create` makes)."""
    with session_scope(settings.effective_database_url) as session:
        admin = session.get(User, LOCAL_ADMIN_ID)
        assert admin is not None
        token = issue_api_token(session, admin, ["jobs:read", "jobs:write"], "nginx test")
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def web(s3_settings: Settings, s3_endpoint: str, tmp_path: Path) -> Iterator[tuple[str, Stack]]:
    """The API (on S3, presigning for the web port, accounts mode) behind nginx, like the
    Compose stack."""
    port = free_port()
    public = f"http://127.0.0.1:{port}"
    with running_stack(
        s3_settings.model_copy(update={"max_upload_mb": 1}),
        workers=0,
        STEMDECK_AUTH="accounts",
        STEMDECK_ADMIN_EMAIL="admin@example.com",
        STEMDECK_ADMIN_PASSWORD="a long admin password",
        STEMDECK_STORAGE="s3",
        STEMDECK_S3_ENDPOINT=s3_endpoint,
        STEMDECK_S3_BUCKET=s3_settings.s3_bucket,
        STEMDECK_S3_ACCESS_KEY=s3_settings.s3_access_key,
        STEMDECK_S3_SECRET_KEY=s3_settings.s3_secret_key.get_secret_value(),
        STEMDECK_S3_PUBLIC_URL=public,
    ) as stack:
        site = render(nginx_env(stack, s3_endpoint, 1, s3_settings.s3_bucket))
        config = main_config(site, tmp_path / "nginx", port)
        error_log = tmp_path / "nginx" / "error.log"
        process = subprocess.Popen([NGINX, "-c", str(config)], stderr=subprocess.DEVNULL)
        try:
            wait_for_http(f"{public}/nginx-health", process, error_log, timeout_s=20)
            yield public, stack
        finally:
            process.terminate()
            process.wait(timeout=10)


def test_one_port_serves_the_app_the_api_and_presigned_stems(
    web: tuple[str, Stack], mixture: Path, s3_settings: Settings
) -> None:
    public, _ = web
    with httpx.Client(base_url=public, timeout=30, headers=admin_token(s3_settings)) as client:
        assert client.get("/").text.startswith("<!doctype html>")
        assert client.get("/player/some-job").text.startswith("<!doctype html>")  # app routes
        assert client.get("/health").json() == {"status": "ok"}
        assert client.get("/ready").json()["checks"]["storage"] == "ok"
        assert client.get("/api/strategies").status_code == 200
        assert client.get("/docs").status_code == 200

        small = short_wav(mixture, seconds=2.0)  # under the 1 MB limit
        created = client.post(
            "/api/jobs",
            files={"file": ("song.wav", small, "audio/wav")},
            data={"strategy": "four-stems-dsp"},
        )
        assert created.status_code == 202, created.text
        job_id = created.json()["id"]
        # The token came through nginx; without one the same job is not reachable.
        assert httpx.get(f"{public}/api/jobs/{job_id}").status_code == 401

        # The bucket is on the same port: a URL presigned for it fetches through nginx.
        store = make_storage(s3_settings.model_copy(update={"s3_public_url": public}))
        url = store.presigned_url(
            keys.source(job_id, "wav"), media_type="audio/wav", disposition="inline"
        )
        assert url is not None and url.startswith(f"{public}/{s3_settings.s3_bucket}/")
        fetched = httpx.get(url, timeout=30)
        assert fetched.status_code == 200
        assert fetched.content == small


def test_the_app_served_by_nginx_carries_the_apis_security_headers(
    web: tuple[str, Stack],
) -> None:
    """nginx serves the web app's pages itself; they get the same headers as the API's."""
    public, _ = web
    expected = dict(
        (name.decode(), value.decode()) for name, value in security_headers(store_origin=None)
    )
    for path in ("/", "/jobs", "/player/some-job"):
        page = httpx.get(public + path)
        for name, value in expected.items():
            assert page.headers.get(name) == value, (path, name)
    served = httpx.get(f"{public}/assets/index-test.js")
    assert served.status_code == 200 and served.headers["x-content-type-options"] == "nosniff"


def test_an_upload_past_the_limit_is_refused_as_json_at_either_layer(
    web: tuple[str, Stack], mixture: Path, s3_settings: Settings
) -> None:
    public, _ = web
    song = short_wav(mixture, seconds=7.0)  # 1.2 MB
    with httpx.Client(base_url=public, timeout=30, headers=admin_token(s3_settings)) as client:
        # Past the API's 1 MB but inside nginx's 2 MB: the API refuses it as it streams.
        over_api = client.post("/api/jobs", files={"file": ("a.wav", song, "audio/wav")})
        # Past nginx's own limit: nginx answers, in the API's error shape.
        over_nginx = client.post(
            "/api/jobs", files={"file": ("a.wav", b"RIFF" + bytes(3 * 1024 * 1024), "audio/wav")}
        )
        still = client.get("/health")

    assert over_api.status_code == 413
    assert over_api.json()["error"]["code"] == "file_too_large"
    assert over_nginx.status_code == 413
    assert over_nginx.json()["error"]["code"] == "file_too_large"
    assert "STEMDECK_MAX_UPLOAD_MB" in over_nginx.json()["error"]["message"]
    assert still.status_code == 200


def test_job_events_stream_through_unbuffered(
    web: tuple[str, Stack], mixture: Path, s3_settings: Settings
) -> None:
    """GIVEN a queued job (no worker runs, so its event stream stays open) WHEN its events
    are read through nginx THEN the first event arrives while the stream is still open: a
    buffering proxy would hold it back until the stream ended, past the read timeout."""
    public, _ = web
    with httpx.Client(base_url=public, timeout=30, headers=admin_token(s3_settings)) as client:
        created = client.post(
            "/api/jobs",
            files={"file": ("song.wav", short_wav(mixture, seconds=2.0), "audio/wav")},
            data={"strategy": "four-stems-dsp"},
        )
        assert created.status_code == 202, created.text
        job_id = created.json()["id"]
        # The API's keep-alive comes every 15 s; a read timeout under it means only the
        # first event itself can satisfy this read.
        with client.stream(
            "GET", f"/api/jobs/{job_id}/events", timeout=httpx.Timeout(30, read=10)
        ) as response:
            assert response.status_code == 200
            assert response.headers["content-type"].startswith("text/event-stream")
            lines = response.iter_lines()
            assert next(lines) == "event: job"
            data = next(lines)
        assert data.startswith("data: ")
        job = json.loads(data.removeprefix("data: "))
        assert job["id"] == job_id and job["status"] == "queued"


def stored_store(s3_settings: Settings, public: str) -> S3Storage:
    """The API's store, presigning for the web port (its bucket made)."""
    store = make_storage(s3_settings.model_copy(update={"s3_public_url": public}))
    assert isinstance(store, S3Storage)
    store.check()
    return store


def put(store: S3Storage, key: str, data: bytes, content_type: str) -> None:
    """An object written straight to the store (not through nginx), with its own type."""
    store.client.put_object(store.bucket, key, io.BytesIO(data), len(data), content_type)


def assert_refused_by_nginx(response: httpx.Response, status: int) -> None:
    """nginx's own short plain answer, with the bucket's headers: the store never saw it."""
    assert response.status_code == status, response.text
    assert response.text.startswith("The bucket only serves presigned"), response.text
    assert response.headers["content-type"].startswith("text/plain")
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["content-security-policy"] == "sandbox"


def test_the_bucket_passes_only_presigned_reads_of_objects(
    web: tuple[str, Stack], s3_settings: Settings
) -> None:
    """GIVEN the bucket on the web port and someone who holds the store's keys WHEN they
    write, delete, post, read unsigned or list through nginx, even with valid signatures,
    THEN nginx answers each itself (405 for a method, 403 for the rest) and the object is
    untouched; a presigned GET, and a presigned HEAD, still reach the store."""
    public, _ = web
    store = stored_store(s3_settings, public)
    key = "jobs/nginx-bucket/stems/vocals.flac"
    put(store, key, b"fLaC original", "audio/flac")
    bucket, signer = store.bucket, store.presigner
    path = f"{public}/{bucket}/{key}"
    with httpx.Client(timeout=30) as client:
        for method in ("PUT", "DELETE", "POST", "PATCH", "OPTIONS"):
            refused = client.request(method, path, content=b"<script>alert(1)</script>")
            assert_refused_by_nginx(refused, 405)
            assert refused.headers["allow"] == "GET, HEAD"
        # Signed by the keys' holder: the store would take these, so nginx must not pass them.
        for method in ("PUT", "DELETE"):
            signed = signer.get_presigned_url(method, bucket, key)
            assert_refused_by_nginx(client.request(method, signed, content=b"x"), 405)
        uploads = signer.get_presigned_url("POST", bucket, key, extra_query_params={"uploads": ""})
        assert_refused_by_nginx(client.post(uploads), 405)
        # The bucket itself answers nothing, whatever the method.
        assert_refused_by_nginx(client.put(f"{public}/{bucket}/?policy", content=b"{}"), 403)

        assert_refused_by_nginx(client.get(path), 403)  # unsigned
        assert_refused_by_nginx(client.get(f"{path}?X-Amz-Signature=nothex"), 403)
        for query in ("policy", "list-type=2", "acl", "location", "uploads"):
            assert_refused_by_nginx(client.get(f"{public}/{bucket}/?{query}"), 403)
            assert_refused_by_nginx(client.get(f"{public}/{bucket}/{key}?{query}"), 403)
        # A listing whose query carries every presign parameter and a signature.
        signed_read = signer.presigned_get_object(bucket, key)
        listing = signed_read.replace(f"/{bucket}/{key}?", f"/{bucket}/?list-type=2&")
        assert_refused_by_nginx(client.get(listing), 403)
        signed_acl = signer.get_presigned_url("GET", bucket, key, extra_query_params={"acl": ""})
        assert_refused_by_nginx(client.get(signed_acl), 403)

        read = client.get(signed_read)
        assert read.status_code == 200 and read.content == b"fLaC original"
        head = client.head(signer.get_presigned_url("HEAD", bucket, key))
        assert head.status_code == 200
        assert head.headers["content-length"] == str(len(b"fLaC original"))
    assert b"".join(store.iter_range(key)) == b"fLaC original"


def test_presigned_stems_keep_their_cache_headers_through_nginx(
    web: tuple[str, Stack], s3_settings: Settings
) -> None:
    """GIVEN a stem URL presigned as the API does it (with a Cache-Control override) WHEN
    it is fetched through nginx THEN nginx passes it (the override is one of the signed
    parameters it allows), the store's strong ETag and the Cache-Control come back, and
    If-None-Match and Range reach the store (304, and 206 with the same ETag)."""
    public, _ = web
    store = stored_store(s3_settings, public)
    key = "jobs/nginx-cache/stems/vocals.flac"
    put(store, key, b"fLaC" + bytes(range(256)) * 8, "audio/flac")
    url = store.presigned_url(
        key,
        media_type="audio/flac",
        disposition='attachment; filename="Song - vocals.flac"; '
        "filename*=UTF-8''Song%20-%20vocals.flac",
        cache_control=IMMUTABLE,
    )
    assert url is not None and "response-cache-control=" in url
    with httpx.Client(timeout=30) as client:
        whole = client.get(url)
        cached = client.get(url, headers={"If-None-Match": whole.headers.get("etag", "")})
        sought = client.get(url, headers={"Range": "bytes=0-3"})

    assert whole.status_code == 200, whole.text
    assert whole.headers["cache-control"] == IMMUTABLE
    assert whole.headers["content-disposition"].endswith("Song%20-%20vocals.flac")
    etag = whole.headers["etag"]
    assert etag.startswith('"')  # strong
    assert cached.status_code == 304 and cached.content == b""
    assert sought.status_code == 206 and sought.content == b"fLaC"
    assert sought.headers["etag"] == etag


def test_stems_come_with_a_disposition_and_their_own_type_never_as_a_page(
    web: tuple[str, Stack], s3_settings: Settings
) -> None:
    """GIVEN an object stored as text/html (what an attacker with the keys would upload)
    WHEN the API's presigned link fetches it through nginx THEN it is the stem's type with
    the API's disposition; and WHEN a link signed by hand asks for no overrides THEN the
    page still cannot run in the app's origin (sandboxed, not sniffed) and downloads."""
    public, _ = web
    store = stored_store(s3_settings, public)
    key = "jobs/nginx-html/stems/vocals.flac"
    page = b"<!doctype html><script>fetch('/api/jobs')</script>"
    put(store, key, page, "text/html")
    with httpx.Client(timeout=30) as client:
        stem_url = store.presigned_url(
            key, media_type="audio/flac", disposition='attachment; filename="vocals.flac"'
        )
        assert stem_url is not None
        stem = client.get(stem_url)
        by_hand = client.get(store.presigner.presigned_get_object(store.bucket, key))
    assert stem.status_code == 200 and stem.content == page
    assert stem.headers["content-type"] == "audio/flac"
    assert stem.headers["content-disposition"] == 'attachment; filename="vocals.flac"'
    for response in (stem, by_hand):
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["content-security-policy"] == "sandbox"
    assert by_hand.status_code == 200
    assert by_hand.headers["content-disposition"] == "attachment"


def test_presigned_urls_are_verified_through_nginx(
    web: tuple[str, Stack], s3_settings: Settings
) -> None:
    """GIVEN a stem URL presigned for the web port WHEN it reaches the store through nginx
    THEN the store verifies its signature over the Host nginx passed on (200), and the same
    URL with a changed signature, access key, override or secret is refused by the store
    itself (403, S3's error code), as is the right URL sent to another host."""
    public, _ = web
    store = stored_store(s3_settings, public)
    key = "jobs/nginx-signed/stems/vocals.flac"
    put(store, key, b"fLaC signed", "audio/flac")
    url = store.presigned_url(key, media_type="audio/flac", disposition="attachment")
    assert url is not None and url.startswith(f"{public}/")
    query = dict(parse_qsl(urlsplit(url).query))
    wrong_secret = make_storage(
        s3_settings.model_copy(
            update={"s3_public_url": public, "s3_secret_key": SecretStr("not-the-key")}
        )
    ).presigned_url(key, media_type="audio/flac", disposition="attachment")
    assert wrong_secret is not None
    changed = {
        "signature": replace_param(url, "X-Amz-Signature", query["X-Amz-Signature"][::-1]),
        "key": replace_param(
            url, "X-Amz-Credential", query["X-Amz-Credential"].replace(ACCESS_KEY, "someone")
        ),
        "override": replace_param(url, "response-content-type", "text/html"),
        "secret": wrong_secret,
    }
    codes = {
        "signature": "SignatureDoesNotMatch",
        "key": "InvalidAccessKeyId",
        "override": "SignatureDoesNotMatch",
        "secret": "SignatureDoesNotMatch",
    }
    with httpx.Client(timeout=30) as client:
        assert client.get(url).content == b"fLaC signed"
        for name, changed_url in changed.items():
            refused = client.get(changed_url)
            assert refused.status_code == 403, (name, refused.text)
            assert f"<Code>{codes[name]}</Code>" in refused.text, (name, refused.text)
            assert b"fLaC" not in refused.content
        # Signed for the web port's host: straight at the store, the Host differs.
        direct = client.get(url.replace(public, s3_settings.s3_endpoint, 1))
    assert direct.status_code == 403 and "<Code>SignatureDoesNotMatch</Code>" in direct.text


def replace_param(url: str, name: str, value: str) -> str:
    """``url`` with one query parameter's value changed, the rest as signed."""
    parts = urlsplit(url)
    query = [(key, value if key == name else old) for key, old in parse_qsl(parts.query)]
    return urlunsplit(parts._replace(query=urlencode(query, quote_via=quote)))
