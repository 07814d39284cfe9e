"""The app's MinIO policy (deploy/minio/app-policy.json) against what the store receives.

GIVEN S3Storage doing all the app does with its store (the bucket check, streamed writes
small and multipart, an aborted upload, put_file, size, exists, a range, a presigned read
and deleting a job's prefix) against a real S3 server that logs every request, WHEN each
request is named as the IAM action S3 and MinIO authorise it by, THEN the shipped policy
allows each one on the resource it names, and allows no action the app never uses.

MinIO cannot be installed here, and the S3 server in its place does not enforce policies,
so the request-to-action table below is S3's documented one (HeadBucket is s3:ListBucket;
every multipart step but the abort is s3:PutObject; a multi-object delete is
s3:DeleteObject). A request it does not know fails the test: name it there and decide
whether the policy must grant it.
"""

from __future__ import annotations

import fnmatch
import json
import re
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
from minio import Minio

from stemdeck.core.settings import Settings
from stemdeck.core.storage import make_storage
from stemdeck.core.storage.s3 import PART_SIZE, S3Storage
from tests.conftest import REPO, s3_values
from tests.s3server import ACCESS_KEY, SECRET_KEY, running_s3_server

POLICY = REPO / "deploy" / "minio" / "app-policy.json"
_REQUEST_LINE = re.compile(r'"(GET|HEAD|PUT|POST|DELETE) (\S+) HTTP/1\.[01]"')
_COLOUR = re.compile(r"\x1b\[[0-9;]*m")  # the server colours lines that are not 200
# Query parameters that only shape a listing or a presigned read; anything else names
# a subresource (?policy, ?acl, ?uploads, …), which is another action.
_PLAIN = re.compile(r"X-Amz-.*|response-.*|list-type|prefix|delimiter|max-keys|encoding-type")


def action(method: str, key: str, query: set[str]) -> str:
    """The IAM action S3 checks for one request (bucket-level when ``key`` is empty)."""
    query = {name for name in query if not _PLAIN.fullmatch(name)}
    table = {
        ("HEAD", False, frozenset()): "s3:ListBucket",
        ("GET", False, frozenset()): "s3:ListBucket",
        ("POST", False, frozenset({"delete"})): "s3:DeleteObject",
        ("PUT", True, frozenset()): "s3:PutObject",
        ("POST", True, frozenset({"uploads"})): "s3:PutObject",
        ("PUT", True, frozenset({"partNumber", "uploadId"})): "s3:PutObject",
        ("POST", True, frozenset({"uploadId"})): "s3:PutObject",
        ("DELETE", True, frozenset({"uploadId"})): "s3:AbortMultipartUpload",
        ("GET", True, frozenset()): "s3:GetObject",
        ("HEAD", True, frozenset()): "s3:GetObject",
        ("DELETE", True, frozenset()): "s3:DeleteObject",
    }
    named = table.get((method, bool(key), frozenset(query)))
    assert named, f"{method} {'object' if key else 'bucket'} ?{sorted(query)}: name its action"
    return named


def requests_since(log: Path, start: int) -> list[tuple[str, str, str, set[str]]]:
    """(method, bucket, key, query names) of each request logged after ``start`` bytes."""
    found = []
    for line in log.read_text()[start:].splitlines():
        if match := _REQUEST_LINE.search(_COLOUR.sub("", line)):
            parts = urlsplit(match[2])
            bucket, _, key = parts.path.lstrip("/").partition("/")
            query = set(parse_qs(parts.query, keep_blank_values=True))
            found.append((match[1], bucket, key, query))
    return found


def allows(policy: dict[str, Any], wanted: str, resource: str) -> bool:
    return any(
        statement["Effect"] == "Allow"
        and wanted in statement["Action"]
        and any(fnmatch.fnmatchcase(resource, pattern) for pattern in statement["Resource"])
        for statement in policy["Statement"]
    )


def use_the_store_as_the_app_does(store: S3Storage, tmp_path: Path) -> None:
    store.check()
    small = store.writer("jobs/a/source.wav")
    small.write(b"RIFF small")
    small.commit()
    large = store.writer("jobs/a/stems/vocals.flac")
    large.write(bytes(PART_SIZE + 10))  # two parts: a multipart upload
    large.commit()
    dropped = store.writer("jobs/a/stems/drums.flac")
    dropped.write(bytes(PART_SIZE))
    dropped.abort()
    wav = tmp_path / "bass.wav"
    wav.write_bytes(b"RIFF bass")
    store.put_file("jobs/a/stems/bass.wav", wav)
    assert store.size("jobs/a/source.wav") == len(b"RIFF small")
    assert not store.exists("jobs/a/missing.flac")
    assert b"".join(store.iter_range("jobs/a/source.wav", 1, 3)) == b"IFF"
    url = store.presigned_url("jobs/a/source.wav", media_type="audio/wav", disposition="attachment")
    assert url is not None and httpx.get(url).content == b"RIFF small"
    store.delete_prefix("jobs/a/")
    assert not store.exists("jobs/a/source.wav")


def test_the_app_policy_allows_what_the_store_is_asked_and_nothing_more(tmp_path: Path) -> None:
    log = tmp_path / "s3.log"
    with running_s3_server(log) as server:
        values = s3_values(server.endpoint)
        bucket = values["s3_bucket"]
        # minio-init's part, with the root keys: the bucket exists before the app starts.
        root = Minio(urlsplit(server.endpoint).netloc, ACCESS_KEY, SECRET_KEY, secure=False)
        root.make_bucket(bucket)
        start = len(log.read_text())
        store = make_storage(Settings.model_validate({"data_dir": tmp_path, **values}))
        assert isinstance(store, S3Storage)
        use_the_store_as_the_app_does(store, tmp_path)
        asked = requests_since(log, start)

    policy = json.loads(POLICY.read_text().replace("${STEMDECK_S3_BUCKET}", bucket))
    used: set[str] = set()
    assert asked, "the S3 server logged no request"
    for method, on_bucket, key, query in asked:
        assert on_bucket == bucket, (method, on_bucket)
        wanted = action(method, key, query)
        resource = f"arn:aws:s3:::{bucket}"
        if wanted != "s3:ListBucket":  # an object action: a multi-delete's for each key
            resource += f"/{key or '<each key in the request>'}"
        assert allows(policy, wanted, resource), f"{method} /{bucket}/{key} needs {wanted}"
        used.add(wanted)
    granted = {name for statement in policy["Statement"] for name in statement["Action"]}
    assert granted == used
    # And nothing at all on any other bucket, or on the bucket's configuration.
    assert not allows(policy, "s3:GetObject", "arn:aws:s3:::other/jobs/a/source.wav")
    assert not allows(policy, "s3:ListBucket", "arn:aws:s3:::other")
    assert not allows(policy, "s3:PutBucketPolicy", f"arn:aws:s3:::{bucket}")
    assert not allows(policy, "s3:PutObject", f"arn:aws:s3:::{bucket}")
