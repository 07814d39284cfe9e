"""The MinIO stand-in (scripts/rehearsal/minio) that the Compose rehearsal runs.

GIVEN the stand-in started through its `minio` shim, and deploy/minio/init.sh run
with its `mc` shim (the real one-shot of docker-compose.yml), WHEN Stemdeck's S3
store works with the app user's keys THEN writes (single and multipart), ranged
reads, listings, deletes and presigned links all work; a link or request whose
signature, key or expiry is wrong gets S3's 403; the app user reaches its own
bucket's objects only, while root reaches everything; objects, users and
policies survive a restart; and bad requests get S3 XML errors while the server
keeps serving.
"""

from __future__ import annotations

import hashlib
import io
import os
import socket
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

import httpx
import pytest
from minio import Minio
from minio.deleteobjects import DeleteObject
from minio.error import S3Error

from stemdeck.core.settings import Settings
from stemdeck.core.storage.s3 import S3Storage
from tests.conftest import REPO
from tests.s3server import S3Server
from tests.s3standin import mc_env, running_standin, standin_module

ROOT_USER, ROOT_PASSWORD = "stemdeck-root", "root-password-for-tests"
APP_USER, APP_PASSWORD = "stemdeck-app-user", "app-password-for-tests"
BUCKET = "stemdeck-stems"
INIT = REPO / "deploy" / "minio" / "init.sh"
SIGNER = standin_module()


@dataclass
class Standin:
    server: S3Server
    data: Path
    home: Path

    @property
    def endpoint(self) -> str:
        return self.server.endpoint

    def client(self, access_key: str, secret_key: str) -> Minio:
        return Minio(
            urlsplit(self.endpoint).netloc,
            access_key=access_key,
            secret_key=secret_key,
            secure=False,
            region="us-east-1",
        )

    def root(self) -> Minio:
        return self.client(ROOT_USER, ROOT_PASSWORD)

    def app_store(self, *, secret: str = APP_PASSWORD) -> S3Storage:
        """Stemdeck's own S3 store, made from settings as the services make it."""
        settings = Settings(  # type: ignore[call-arg]
            _env_file=None,
            storage="s3",
            s3_endpoint=self.endpoint,
            s3_bucket=BUCKET,
            s3_access_key=APP_USER,
            s3_secret_key=secret,
            data_dir=self.home / "stemdeck-data",
        )
        return S3Storage.from_settings(settings)


def run_init(home: Path, endpoint: str) -> subprocess.CompletedProcess[str]:
    """deploy/minio/init.sh itself, with the stand-in's mc first on PATH."""
    env = mc_env(
        home,
        MINIO_URL=endpoint,
        MINIO_ROOT_USER=ROOT_USER,
        MINIO_ROOT_PASSWORD=ROOT_PASSWORD,
        MINIO_APP_USER=APP_USER,
        MINIO_APP_PASSWORD=APP_PASSWORD,
        STEMDECK_S3_BUCKET=BUCKET,
        TMPDIR=str(home),
    )
    return subprocess.run(["sh", str(INIT)], env=env, capture_output=True, text=True, timeout=60)


def mc(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["mc", *args], env=mc_env(home), capture_output=True, text=True, timeout=30
    )


@pytest.fixture
def standin(tmp_path: Path) -> Iterator[Standin]:
    """The stand-in, initialised by init.sh as minio-init does it."""
    data = tmp_path / "minio-data"
    with running_standin(data, ROOT_USER, ROOT_PASSWORD) as server:
        ran = run_init(tmp_path, server.endpoint)
        assert ran.returncode == 0, ran.stdout + ran.stderr
        yield Standin(server, data, tmp_path)


def write(store: S3Storage, key: str, data: bytes) -> None:
    """As the worker writes a stem: in pieces, then committed."""
    writer = store.writer(key)
    for offset in range(0, len(data), 1024 * 1024):
        writer.write(data[offset : offset + 1024 * 1024])
    writer.commit()


def error_code(response: httpx.Response) -> str:
    assert response.headers["content-type"].startswith("application/xml"), response.text
    start = response.text.index("<Code>") + len("<Code>")
    return response.text[start : response.text.index("</Code>")]


def with_query(url: str, **changes: str) -> str:
    parts = urlsplit(url)
    query = dict(parse_qsl(parts.query, keep_blank_values=True))
    query.update(changes)
    # quote, not quote_plus: S3 reads '+' as itself, so only the changed value differs.
    return urlunsplit(parts._replace(query=urlencode(query, quote_via=quote)))


def test_init_sh_runs_twice_and_mc_reports_like_mc(standin: Standin) -> None:
    """A second `up` runs minio-init again: attach fails as real mc's does, init.sh sees
    the policy in `mc admin user info` and goes on."""
    again = run_init(standin.home, standin.endpoint)
    assert again.returncode == 0, again.stdout + again.stderr
    assert "The specified policy change is already in effect" in again.stderr
    assert f"bucket {BUCKET} ready" in again.stdout

    info = mc(standin.home, "admin", "user", "info", "stemdeck", APP_USER)
    assert info.returncode == 0 and "PolicyName: stemdeck-app" in info.stdout
    assert mc(standin.home, "ready", "stemdeck").returncode == 0
    missing = mc(standin.home, "admin", "user", "info", "stemdeck", "nobody-here")
    assert missing.returncode == 1 and missing.stderr.startswith("mc: <ERROR>")
    exists = mc(standin.home, "mb", "stemdeck/" + BUCKET)  # without --ignore-existing
    assert exists.returncode == 1 and "already own it" in exists.stderr
    wrong = mc(standin.home, "alias", "set", "bad", standin.endpoint, ROOT_USER, "wrong-secret")
    assert wrong.returncode == 1 and "Unable to initialize new alias" in wrong.stderr


def test_the_app_store_works_through_the_app_users_keys(standin: Standin, tmp_path: Path) -> None:
    store = standin.app_store()
    store.check()  # the bucket is there: init.sh made it
    write(store, "jobs/j1/source.wav", b"RIFF small")
    big = os.urandom(12 * 1024 * 1024)  # an 8 MiB part and the rest: a multipart upload
    write(store, "jobs/j1/stems/vocals.flac", big)
    file = tmp_path / "drums.flac"
    file.write_bytes(big[: 6 * 1024 * 1024 + 7])  # fput_object: multipart past 5 MiB
    store.put_file("jobs/j1/stems/drums.flac", file)
    store.put_file("jobs/j2/source.wav", file)

    assert store.size("jobs/j1/stems/vocals.flac") == len(big)
    assert store.info("jobs/j1/stems/vocals.flac").version.endswith("-2")  # multipart ETag
    assert store.info("jobs/j1/source.wav").version == hashlib.md5(b"RIFF small").hexdigest()
    ranged = b"".join(store.iter_range("jobs/j1/stems/vocals.flac", 9 * 1024 * 1024, 1000))
    assert ranged == big[9 * 1024 * 1024 : 9 * 1024 * 1024 + 1000]
    assert b"".join(store.iter_range("jobs/j1/stems/drums.flac")) == file.read_bytes()
    listed = standin.root().list_objects(BUCKET, prefix="jobs/j1/", recursive=True)
    assert [item.object_name for item in listed] == [
        "jobs/j1/source.wav",
        "jobs/j1/stems/drums.flac",
        "jobs/j1/stems/vocals.flac",
    ]

    store.delete_prefix("jobs/j1/")
    assert not store.exists("jobs/j1/stems/vocals.flac")
    assert not store.exists("jobs/j1/source.wav")
    assert store.exists("jobs/j2/source.wav")


def test_presigned_links_give_the_bytes_and_refuse_any_change(standin: Standin) -> None:
    store = standin.app_store()
    write(store, "jobs/j3/stems/bass.flac", b"fLaC bass")
    url = store.presigned_url(
        "jobs/j3/stems/bass.flac",
        media_type="audio/flac",
        disposition='attachment; filename="Song - bass.flac"',
    )
    assert url is not None
    fetched = httpx.get(url)
    assert fetched.status_code == 200 and fetched.content == b"fLaC bass"
    assert fetched.headers["content-disposition"] == 'attachment; filename="Song - bass.flac"'
    assert fetched.headers["content-type"] == "audio/flac"
    assert httpx.head(url).status_code == 403  # signed for GET, not for HEAD
    assert httpx.get(with_query(url)).content == b"fLaC bass"  # re-encoded, still valid

    signature = dict(parse_qsl(urlsplit(url).query))["X-Amz-Signature"]
    tampered = with_query(url, **{"X-Amz-Signature": signature[::-1]})
    other_name = with_query(url, **{"response-content-disposition": "inline"})
    wrong_secret = standin.app_store(secret="not-the-app-password").presigned_url(
        "jobs/j3/stems/bass.flac", media_type="audio/flac", disposition="attachment"
    )
    assert wrong_secret is not None
    credential = dict(parse_qsl(urlsplit(url).query))["X-Amz-Credential"]
    unknown_key = with_query(url, **{"X-Amz-Credential": credential.replace(APP_USER, "nobody")})
    for refused, code in [
        (tampered, "SignatureDoesNotMatch"),
        (other_name, "SignatureDoesNotMatch"),
        (wrong_secret, "SignatureDoesNotMatch"),
        (unknown_key, "InvalidAccessKeyId"),
    ]:
        answer = httpx.get(refused)
        assert answer.status_code == 403, refused
        assert error_code(answer) == code
        assert b"fLaC" not in answer.content

    # Signed an hour ago for a minute: a valid signature that has run out.
    expired = store.presigner.presigned_get_object(
        BUCKET,
        "jobs/j3/stems/bass.flac",
        expires=timedelta(minutes=1),
        request_date=datetime.now(UTC) - timedelta(hours=1),
    )
    answer = httpx.get(expired)
    assert answer.status_code == 403 and error_code(answer) == "AccessDenied"
    assert "Request has expired" in answer.text


def test_the_app_user_reaches_its_own_buckets_objects_only(standin: Standin) -> None:
    app, root = standin.client(APP_USER, APP_PASSWORD), standin.root()
    with pytest.raises(S3Error) as refused:
        app.make_bucket("another-bucket")
    assert refused.value.code == "AccessDenied"
    root.make_bucket("another-bucket")  # root may
    root.put_object("another-bucket", "secret.txt", _stream(b"root's"), 6)

    for attempt in (
        lambda: app.stat_object("another-bucket", "secret.txt"),
        lambda: app.put_object("another-bucket", "mine.txt", _stream(b"x"), 1),
        lambda: list(app.list_objects("another-bucket")),
        lambda: app.remove_object("another-bucket", "secret.txt"),
        lambda: app.bucket_exists("another-bucket"),
    ):
        with pytest.raises(S3Error) as denied:
            attempt()
        assert denied.value.code == "AccessDenied"
    failures = list(app.remove_objects("another-bucket", [DeleteObject("secret.txt")]))
    assert [failure.code for failure in failures] == ["AccessDenied"]
    assert root.stat_object("another-bucket", "secret.txt").size == 6

    # Its own bucket's objects, but not the bucket itself: the policy has no DeleteBucket.
    app.put_object(BUCKET, "jobs/x/a.txt", _stream(b"ok"), 2)
    with pytest.raises(S3Error) as denied:
        app.remove_bucket(BUCKET)
    assert denied.value.code == "AccessDenied"
    # The admin API is root's alone.
    info = f"{standin.endpoint}/minio/admin/v3/user-info?accessKey={APP_USER}"
    answer = httpx.get(info, headers=signed("GET", info, user=(APP_USER, APP_PASSWORD)))
    assert answer.status_code == 403 and answer.json()["Code"] == "AccessDenied"
    assert httpx.get(info, headers=signed("GET", info)).json()["policyName"] == "stemdeck-app"


def test_objects_users_and_policies_survive_a_restart(standin: Standin) -> None:
    store = standin.app_store()
    big = os.urandom(9 * 1024 * 1024)
    write(store, "jobs/kept/stems/other.flac", big)
    standin.server.stop()
    with running_standin(standin.data, ROOT_USER, ROOT_PASSWORD) as again:
        restarted = Standin(again, standin.data, standin.home)
        store = restarted.app_store()  # the app user and its policy came back too
        assert b"".join(store.iter_range("jobs/kept/stems/other.flac")) == big
        with pytest.raises(S3Error) as denied:
            restarted.client(APP_USER, APP_PASSWORD).make_bucket("after-restart")
        assert denied.value.code == "AccessDenied"
    leftovers = os.listdir(standin.data / ".standin" / "tmp")
    assert leftovers == []


def signed(
    method: str, url: str, body: bytes = b"", user: tuple[str, str] = (ROOT_USER, ROOT_PASSWORD)
) -> dict[str, str]:
    """Headers of a request signed as the stand-in's own mc signs (root by default)."""
    headers: dict[str, str] = SIGNER.sign_headers(method, url, body, *user)
    return headers


def test_bad_requests_get_s3_errors_and_the_server_keeps_serving(standin: Standin) -> None:
    base = f"{standin.endpoint}/{BUCKET}"
    key_url = f"{base}/jobs/bad/x.bin"
    delete, nowhere = f"{base}?delete=", f"{standin.endpoint}/no-such-bucket/x"
    with httpx.Client(timeout=10) as client:
        answers = {
            "garbage": client.get(base, headers={"Authorization": "garbage"}),
            "bad v4": client.get(base, headers={"Authorization": "AWS4-HMAC-SHA256 nonsense"}),
            "anonymous": client.get(key_url),
            "patch": client.patch(key_url, content=b"x"),
            # Signed for the body b"x", sent with another.
            "body changed": client.put(
                key_url, content=b"other", headers=signed("PUT", key_url, b"x")
            ),
            "bad xml": client.post(
                delete, content=b"<Delete><Ob", headers=signed("POST", delete, b"<Delete><Ob")
            ),
            "missing": client.get(key_url, headers=signed("GET", key_url)),
            "no bucket": client.get(nowhere, headers=signed("GET", nowhere)),
        }
        expected = {
            "garbage": (400, "AuthorizationHeaderMalformed"),
            "bad v4": (400, "AuthorizationHeaderMalformed"),
            "anonymous": (403, "AccessDenied"),
            "patch": (405, "MethodNotAllowed"),
            "body changed": (400, "XAmzContentSHA256Mismatch"),
            "bad xml": (400, "MalformedXML"),
            "missing": (404, "NoSuchKey"),
            "no bucket": (404, "NoSuchBucket"),
        }
        for name, (status, code) in expected.items():
            assert (answers[name].status_code, error_code(answers[name])) == (status, code), name
        # An operation it does not implement (bucket policies) is S3's NotImplemented.
        policy = client.get(f"{base}?policy=", headers=signed("GET", f"{base}?policy="))
        assert (policy.status_code, error_code(policy)) == (501, "NotImplemented")

        address = urlsplit(standin.endpoint)
        with socket.create_connection((address.hostname, address.port)) as raw:
            # More header lines than any client sends: refused before any S3 handling.
            headers = b"".join(b"X-%d: y\r\n" % number for number in range(200))
            raw.sendall(b"GET / HTTP/1.1\r\nHost: s3\r\n" + headers + b"\r\n")
            refused = b"".join(iter(lambda: raw.recv(65536), b""))  # until it closes
        assert refused.startswith(b"HTTP/1.1 431"), refused
        assert b"<Code>InvalidRequest</Code>" in refused
        assert client.get(f"{standin.endpoint}/minio/health/live").status_code == 200
    assert standin.app_store().exists("jobs/bad/x.bin") is False
    standin.app_store().check()


def _stream(data: bytes) -> io.BytesIO:
    return io.BytesIO(data)
