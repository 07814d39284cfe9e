#!/usr/bin/env python3
"""A MinIO stand-in: a small S3 server that verifies every signature, stdlib only.

Official images cannot be pulled where the Compose stack is rehearsed, so this
file (with the `minio` and `mc` shims beside it) plays MinIO for Stemdeck: the
S3 calls the app makes through minio-py, presigned GET/HEAD links (through
nginx too), and the `mc` steps of deploy/minio/init.sh. It is not MinIO:

* Authentication is AWS Signature V4 only: an ``Authorization: AWS4-HMAC-SHA256``
  header (the payload's SHA-256 checked when it is given as a hex digest) or
  presigned query parameters (expiry enforced). Anonymous requests are refused;
  bucket policies, ACLs, versioning, tagging, copies and streaming (aws-chunked)
  uploads are not implemented and answer S3's ``NotImplemented``.
* Users: the root user from MINIO_ROOT_USER / MINIO_ROOT_PASSWORD may do
  anything; other users, and the named IAM-style policies attached to them, live
  in DATA_DIR/.standin/iam.json (plain JSON, mode 0600: real MinIO encrypts its
  IAM data). A user may do what an attached policy's statement Allows and no
  statement Denies (Action and Resource with * and ? wildcards; Condition,
  NotAction and NotResource are refused when a policy is created).
* Admin API: real MinIO's admin API (/minio/admin/v3, the madmin protocol)
  encrypts request bodies with the caller's secret key. This one does not: it
  takes plain JSON from root-signed SigV4 requests and exists for the `mc` shim
  beside this file only (add-canned-policy, add-user, policy attach, user-info).
* Storage: each object is a data file plus a JSON sidecar (key, size, ETag,
  content type, write time) under DATA_DIR/<bucket>/, named by the key's SHA-256
  so any key fits a file name. The sidecar is renamed into place last, after
  its data file: a crash leaves either the old object or the new one, never half.

Run it as ``python3 s3_standin.py server DATA_DIR [--address :9000]
[--console-address :9001]``; there is no console, so that address is accepted
and ignored.
"""

from __future__ import annotations

import argparse
import base64
import binascii
import contextlib
import hashlib
import hmac
import json
import os
import re
import shutil
import signal
import sys
import threading
import traceback
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import formatdate, parsedate_to_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import IO, Any
from urllib.parse import quote, unquote, urlsplit
from xml.etree import ElementTree as ET

# --------------------------------------------------------------------------------------
# AWS Signature V4: shared by the server (to verify) and the mc shim (to sign).
# --------------------------------------------------------------------------------------

ALGORITHM = "AWS4-HMAC-SHA256"
UNSIGNED_PAYLOAD = "UNSIGNED-PAYLOAD"
EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()
AMZ_DATE_FORMAT = "%Y%m%dT%H%M%SZ"
DEFAULT_REGION = "us-east-1"


def uri_encode(value: str, *, keep_slash: bool = False) -> str:
    """SigV4's URI encoding: every byte but A-Z a-z 0-9 - _ . ~ (and / in paths)."""
    return quote(value, safe="-_.~/" if keep_slash else "-_.~")


def parse_query(raw: str) -> list[tuple[str, str]]:
    """The query's name/value pairs, percent-decoded ('+' stays '+', as S3 reads it)."""
    pairs = []
    for item in raw.split("&"):
        if item:
            name, _, value = item.partition("=")
            pairs.append((unquote(name), unquote(value)))
    return pairs


def canonical_query(pairs: list[tuple[str, str]]) -> str:
    encoded = sorted((uri_encode(name), uri_encode(value)) for name, value in pairs)
    return "&".join(f"{name}={value}" for name, value in encoded)


def canonical_header_value(values: list[str]) -> str:
    return ",".join(re.sub(" +", " ", value.strip()) for value in values)


def canonical_request(
    method: str,
    path: str,
    query: list[tuple[str, str]],
    headers: dict[str, str],
    payload_hash: str,
) -> str:
    """``headers``: the signed headers only, lower-case names to canonical values."""
    names = sorted(headers)
    return "\n".join(
        [
            method,
            uri_encode(path, keep_slash=True),
            canonical_query(query),
            "".join(f"{name}:{headers[name]}\n" for name in names),
            ";".join(names),
            payload_hash,
        ]
    )


def signing_key(secret: str, day: str, region: str, service: str) -> bytes:
    key = f"AWS4{secret}".encode()
    for part in (day, region, service, "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    return key


def signature(secret: str, amz_date: str, scope: str, canonical: str) -> str:
    day, region, service, _ = scope.split("/")
    to_sign = "\n".join(
        [ALGORITHM, amz_date, scope, hashlib.sha256(canonical.encode()).hexdigest()]
    )
    key = signing_key(secret, day, region, service)
    return hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()


def sign_headers(
    method: str,
    url: str,
    body: bytes,
    access_key: str,
    secret_key: str,
    *,
    headers: dict[str, str] | None = None,
    region: str = DEFAULT_REGION,
    now: datetime | None = None,
) -> dict[str, str]:
    """The headers of a request signed in the Authorization header (what mc sends)."""
    parts = urlsplit(url)
    amz_date = (now or datetime.now(UTC)).strftime(AMZ_DATE_FORMAT)
    payload_hash = hashlib.sha256(body).hexdigest()
    signed = {name.lower(): value for name, value in (headers or {}).items()}
    signed.update(
        {"host": parts.netloc, "x-amz-date": amz_date, "x-amz-content-sha256": payload_hash}
    )
    canonical = canonical_request(
        method,
        unquote(parts.path) or "/",
        parse_query(parts.query),
        {name: canonical_header_value([value]) for name, value in signed.items()},
        payload_hash,
    )
    scope = f"{amz_date[:8]}/{region}/s3/aws4_request"
    mac = signature(secret_key, amz_date, scope, canonical)
    signed["authorization"] = (
        f"{ALGORITHM} Credential={access_key}/{scope}, "
        f"SignedHeaders={';'.join(sorted(signed))}, Signature={mac}"
    )
    return signed


# --------------------------------------------------------------------------------------
# Errors, answered as S3's XML <Error> (or JSON on the admin API).
# --------------------------------------------------------------------------------------

S3_NS = "http://s3.amazonaws.com/doc/2006-03-01/"
ERRORS: dict[str, tuple[int, str]] = {
    "AccessDenied": (403, "Access Denied."),
    "AuthorizationHeaderMalformed": (400, "The authorization header is malformed."),
    "AuthorizationQueryParametersError": (400, "The presigned query parameters are malformed."),
    "BadDigest": (400, "The Content-MD5 you specified did not match what we received."),
    "BucketAlreadyOwnedByYou": (
        409,
        "Your previous request to create the named bucket succeeded and you already own it.",
    ),
    "BucketNotEmpty": (409, "The bucket you tried to delete is not empty."),
    "EntityTooLarge": (400, "Your proposed upload exceeds the maximum allowed object size."),
    "EntityTooSmall": (
        400,
        "Your proposed upload is smaller than the minimum allowed object size.",
    ),
    "IncompleteBody": (
        400,
        "You did not provide the number of bytes specified by the Content-Length HTTP header.",
    ),
    "InternalError": (500, "We encountered an internal error, please try again."),
    "InvalidAccessKeyId": (403, "The Access Key Id you provided does not exist in our records."),
    "InvalidArgument": (400, "Invalid argument."),
    "InvalidBucketName": (400, "The specified bucket is not valid."),
    "InvalidDigest": (400, "The Content-MD5 you specified is not valid."),
    "InvalidPart": (400, "One or more of the specified parts could not be found."),
    "InvalidPartOrder": (400, "The list of parts was not in ascending order."),
    "InvalidRange": (416, "The requested range is not satisfiable."),
    "InvalidRequest": (400, "Invalid request."),
    "KeyTooLongError": (400, "Your key is too long."),
    "MalformedXML": (
        400,
        "The XML you provided was not well-formed or did not validate against our schema.",
    ),
    "MalformedPolicy": (400, "The policy is not valid."),
    "MethodNotAllowed": (405, "The specified method is not allowed against this resource."),
    "MissingContentLength": (411, "You must provide the Content-Length HTTP header."),
    "NoSuchBucket": (404, "The specified bucket does not exist."),
    "NoSuchKey": (404, "The specified key does not exist."),
    "NoSuchUpload": (404, "The specified multipart upload does not exist."),
    "NotImplemented": (
        501,
        "A header or query you provided implies functionality that is not implemented.",
    ),
    "PreconditionFailed": (412, "At least one of the pre-conditions you specified did not hold."),
    "RequestTimeTooSkewed": (
        403,
        "The difference between the request time and the server's time is too large.",
    ),
    "SignatureDoesNotMatch": (
        403,
        "The request signature we calculated does not match the signature you provided."
        " Check your key and signing method.",
    ),
    "XAmzContentSHA256Mismatch": (
        400,
        "The provided 'x-amz-content-sha256' header does not match what was computed.",
    ),
    "XMinioAdminNoSuchPolicy": (404, "The canned policy does not exist."),
    "XMinioAdminNoSuchUser": (404, "The specified user does not exist."),
    "XMinioAdminPolicyChangeAlreadyApplied": (
        400,
        "The specified policy change is already in effect.",
    ),
    "XMinioAdminInvalidArgument": (400, "Invalid arguments specified."),
}


class S3Error(Exception):
    def __init__(self, code: str, message: str | None = None, **extra: str) -> None:
        status, default = ERRORS[code]
        super().__init__(message or default)
        self.code, self.status, self.message, self.extra = code, status, message or default, extra
        self.headers: dict[str, str] = {}


def error_xml(error: S3Error, resource: str, request_id: str) -> bytes:
    root = ET.Element("Error")
    fields = {"Code": error.code, "Message": error.message, **error.extra}
    fields.update(Resource=resource, RequestId=request_id, HostId="s3-standin")
    for name, value in fields.items():
        ET.SubElement(root, name).text = value
    return b'<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root)


def xml_document(tag: str, children: list[tuple[str, Any]]) -> bytes:
    """An S3 answer: (name, text) children, or (name, list of pairs) for nested ones."""
    root = ET.Element(tag, xmlns=S3_NS)

    def add(parent: ET.Element, items: list[tuple[str, Any]]) -> None:
        for name, value in items:
            child = ET.SubElement(parent, name)
            if isinstance(value, list):
                add(child, value)
            elif value is not None:
                child.text = str(value)

    add(root, children)
    return b'<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root)


def parse_xml(body: bytes) -> ET.Element:
    try:
        root = ET.fromstring(body)
    except ET.ParseError as error:
        raise S3Error("MalformedXML", f"The XML body could not be read: {error}.") from None
    for element in root.iter():  # names without their namespace: clients differ
        element.tag = element.tag.rpartition("}")[2]
    return root


# --------------------------------------------------------------------------------------
# Users and IAM-style policies.
# --------------------------------------------------------------------------------------

ACCESS_KEY_RE = re.compile(r"^[A-Za-z0-9_.@+=-]{3,128}$")
POLICY_NAME_RE = re.compile(r"^[A-Za-z0-9_.@+=,-]{1,128}$")


@dataclass(frozen=True)
class Principal:
    access_key: str
    secret_key: str
    is_root: bool
    statements: tuple[dict[str, Any], ...] = ()


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _wildcard(pattern: str, value: str, *, fold: bool) -> bool:
    regex = "".join(
        ".*" if char == "*" else "." if char == "?" else re.escape(char) for char in pattern
    )
    return re.fullmatch(regex, value, re.IGNORECASE if fold else 0) is not None


def policy_allows(statements: tuple[dict[str, Any], ...], action: str, resource: str) -> bool:
    """Allowed when a statement Allows it and none Denies it (IAM's rule)."""
    allowed = False
    for statement in statements:
        if any(_wildcard(a, action, fold=True) for a in _as_list(statement["Action"])) and any(
            _wildcard(r, resource, fold=False) for r in _as_list(statement["Resource"])
        ):
            if statement["Effect"] == "Deny":
                return False
            allowed = True
    return allowed


def validate_policy(document: Any) -> list[dict[str, Any]]:
    """The policy's statements, or MalformedPolicy saying what to change."""

    def bad(why: str) -> S3Error:
        return S3Error("MalformedPolicy", f"The policy is not valid: {why}.")

    if not isinstance(document, dict) or "Statement" not in document:
        raise bad("it must be a JSON object with a Statement list")
    statements = _as_list(document["Statement"])
    for statement in statements:
        if not isinstance(statement, dict):
            raise bad("each statement must be a JSON object")
        unknown = set(statement) - {"Sid", "Effect", "Action", "Resource"}
        if unknown:
            raise bad(f"{sorted(unknown)} are not supported by this stand-in")
        if statement.get("Effect") not in ("Allow", "Deny"):
            raise bad("Effect must be Allow or Deny")
        for name in ("Action", "Resource"):
            values = _as_list(statement.get(name))
            if not values or not all(isinstance(v, str) and v for v in values):
                raise bad(f"{name} must be a string or a list of strings")
    return statements


class Iam:
    """Root from the environment; users and policies in DATA_DIR/.standin/iam.json."""

    def __init__(self, path: Path, root_user: str, root_password: str) -> None:
        self.path = path
        self.root = Principal(root_user, root_password, is_root=True)
        self.lock = threading.Lock()
        self.state: dict[str, dict[str, Any]] = {"policies": {}, "users": {}}
        if path.exists():
            self.state = json.loads(path.read_text())

    def principal(self, access_key: str) -> Principal | None:
        if hmac.compare_digest(access_key, self.root.access_key):
            return self.root
        with self.lock:
            user = self.state["users"].get(access_key)
            if user is None or user.get("status") != "enabled":
                return None
            statements = tuple(
                statement
                for name in user["policies"]
                for statement in self.state["policies"].get(name, {}).get("Statement", [])
            )
        return Principal(access_key, user["secret"], is_root=False, statements=statements)

    def set_policy(self, name: str, document: Any) -> None:
        if not POLICY_NAME_RE.match(name):
            raise S3Error("XMinioAdminInvalidArgument", f"'{name}' is not a policy name.")
        statements = validate_policy(document)
        with self.lock:
            self.state["policies"][name] = {**document, "Statement": statements}
            self._save()

    def set_user(self, access_key: str, secret_key: str) -> None:
        """Adds the user, or gives an existing one the new secret (keeping its policies)."""
        if not ACCESS_KEY_RE.match(access_key) or access_key == self.root.access_key:
            raise S3Error(
                "XMinioAdminInvalidArgument",
                f"'{access_key}' is not a valid access key: 3 to 128 of A-Z a-z 0-9 _ . @ + = -"
                ", other than the root user's.",
            )
        if not 8 <= len(secret_key) <= 40:
            raise S3Error("XMinioAdminInvalidArgument", "The secret key must be 8 to 40 long.")
        with self.lock:
            user = self.state["users"].setdefault(access_key, {"policies": []})
            user.update(secret=secret_key, status="enabled")
            self._save()

    def attach(self, access_key: str, names: list[str]) -> None:
        with self.lock:
            user = self._user(access_key)
            missing = [name for name in names if name not in self.state["policies"]]
            if missing:
                raise S3Error("XMinioAdminNoSuchPolicy", f"No such policy: {', '.join(missing)}.")
            new = [name for name in names if name not in user["policies"]]
            if not new:
                raise S3Error("XMinioAdminPolicyChangeAlreadyApplied")
            user["policies"].extend(new)
            self._save()

    def user_info(self, access_key: str) -> dict[str, Any]:
        with self.lock:
            user = self._user(access_key)
            return {"policyName": ",".join(user["policies"]), "status": user["status"]}

    def _user(self, access_key: str) -> dict[str, Any]:
        user: dict[str, Any] | None = self.state["users"].get(access_key)
        if user is None:
            raise S3Error("XMinioAdminNoSuchUser", f"The user '{access_key}' does not exist.")
        return user

    def _save(self) -> None:
        temp = self.path.with_name(f".{self.path.name}.{uuid.uuid4().hex}")
        with open(os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "w") as handle:
            json.dump(self.state, handle, indent=1)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp, self.path)


# --------------------------------------------------------------------------------------
# Objects on disk.
# --------------------------------------------------------------------------------------

BUCKET_RE = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
UPLOAD_ID_RE = re.compile(r"^[0-9a-f]{32}$")
MAX_OBJECT = 5 * 1024**3
MIN_PART = 5 * 1024 * 1024
COPY_CHUNK = 1024 * 1024
# Stored with an object and answered with it, as S3 keeps them.
STORED_HEADERS = ("cache-control", "content-disposition", "content-encoding", "content-language")


@dataclass
class Received:
    """A request body written to a temp file, with its digests."""

    path: Path
    size: int
    md5: str
    sha256: str


@dataclass
class Meta:
    key: str
    size: int
    etag: str
    content_type: str
    modified: float
    data: str  # the data file's name, beside the sidecar
    headers: dict[str, str] = field(default_factory=dict)


def write_durably(path: Path, data: bytes) -> None:
    with path.open("wb") as out:
        out.write(data)
        out.flush()
        os.fsync(out.fileno())


class Store:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.system = root / ".standin"
        self.tmp = self.system / "tmp"
        self.uploads = self.system / "multipart"
        self.lock = threading.Lock()
        for folder in (self.tmp, self.uploads):
            folder.mkdir(parents=True, exist_ok=True)
        for leftover in self.tmp.iterdir():  # bodies a crash cut short: never committed
            leftover.unlink()

    def temp_path(self) -> Path:
        return self.tmp / uuid.uuid4().hex

    # Buckets -----------------------------------------------------------------------
    def bucket_dir(self, bucket: str) -> Path:
        if not BUCKET_RE.match(bucket) or ".." in bucket:
            raise S3Error("InvalidBucketName", f"'{bucket}' is not a valid bucket name.")
        return self.root / bucket

    def require_bucket(self, bucket: str) -> Path:
        folder = self.bucket_dir(bucket)
        if not folder.is_dir():
            raise S3Error("NoSuchBucket", BucketName=bucket)
        return folder

    def buckets(self) -> list[tuple[str, float]]:
        return sorted(
            (entry.name, entry.stat().st_mtime)
            for entry in os.scandir(self.root)
            if entry.is_dir() and BUCKET_RE.match(entry.name)
        )

    def create_bucket(self, bucket: str) -> None:
        try:
            self.bucket_dir(bucket).mkdir()
        except FileExistsError:
            raise S3Error("BucketAlreadyOwnedByYou", BucketName=bucket) from None

    def delete_bucket(self, bucket: str) -> None:
        folder = self.require_bucket(bucket)
        with self.lock:
            if any(name.endswith(".json") for name in os.listdir(folder)):
                raise S3Error("BucketNotEmpty", BucketName=bucket)
            shutil.rmtree(folder)

    # Objects -----------------------------------------------------------------------
    def _sidecar(self, bucket: str, key: str) -> Path:
        name = hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()
        return self.require_bucket(bucket) / f"{name}.json"

    def head(self, bucket: str, key: str) -> Meta:
        try:
            return Meta(**json.loads(self._sidecar(bucket, key).read_text()))
        except FileNotFoundError:
            raise S3Error("NoSuchKey", Key=key, BucketName=bucket) from None

    @contextlib.contextmanager
    def open(self, bucket: str, key: str) -> Iterator[tuple[Meta, IO[bytes]]]:
        # An overwrite between reading the sidecar and opening its data file removes
        # that file: the sidecar read again names the new one.
        for _ in range(5):
            meta = self.head(bucket, key)
            with contextlib.ExitStack() as stack:
                try:
                    path = self._sidecar(bucket, key).with_name(meta.data)
                    handle = stack.enter_context(path.open("rb"))
                except FileNotFoundError:
                    continue
                yield meta, handle
                return
        raise S3Error("InternalError", "The object kept changing while it was read; retry.")

    def commit(self, bucket: str, key: str, body: Path, meta: Meta) -> None:
        """Make ``body`` the object: data file first, then its sidecar (the commit point)."""
        sidecar = self._sidecar(bucket, key)
        meta.data = f"{sidecar.stem}.{uuid.uuid4().hex}.data"
        os.replace(body, sidecar.with_name(meta.data))
        temp = self.temp_path()
        write_durably(temp, json.dumps(meta.__dict__).encode())
        with self.lock:
            old = self._data_name(sidecar)
            os.replace(temp, sidecar)
            if old:
                sidecar.with_name(old).unlink(missing_ok=True)

    def delete(self, bucket: str, key: str) -> None:
        sidecar = self._sidecar(bucket, key)
        with self.lock:
            old = self._data_name(sidecar)
            sidecar.unlink(missing_ok=True)
            if old:
                sidecar.with_name(old).unlink(missing_ok=True)

    @staticmethod
    def _data_name(sidecar: Path) -> str | None:
        try:
            return str(json.loads(sidecar.read_text())["data"])
        except FileNotFoundError:
            return None

    def objects(self, bucket: str) -> list[Meta]:
        found = []
        for entry in os.scandir(self.require_bucket(bucket)):
            if entry.name.endswith(".json"):
                with contextlib.suppress(FileNotFoundError):  # deleted meanwhile
                    found.append(Meta(**json.loads(Path(entry.path).read_text())))
        return sorted(found, key=lambda meta: meta.key)

    # Multipart uploads -------------------------------------------------------------
    def create_upload(
        self, bucket: str, key: str, content_type: str, headers: dict[str, str]
    ) -> str:
        self.require_bucket(bucket)
        upload_id = uuid.uuid4().hex
        folder = self.uploads / upload_id
        folder.mkdir()
        info = {"bucket": bucket, "key": key, "content_type": content_type, "headers": headers}
        (folder / "upload.json").write_text(json.dumps(info))
        return upload_id

    def upload(self, upload_id: str, bucket: str, key: str) -> tuple[Path, dict[str, Any]]:
        folder = self.uploads / upload_id
        try:
            if not UPLOAD_ID_RE.match(upload_id):
                raise FileNotFoundError
            info = json.loads((folder / "upload.json").read_text())
        except FileNotFoundError:
            raise S3Error(
                "NoSuchUpload", f"No upload '{upload_id}' of this key.", Key=key
            ) from None
        if (info["bucket"], info["key"]) != (bucket, key):
            raise S3Error("NoSuchUpload", f"No upload '{upload_id}' of this key.", Key=key)
        return folder, info

    def put_part(self, folder: Path, number: int, body: Received) -> None:
        os.replace(body.path, folder / f"{number}.part")
        # The part's digest goes beside it, after the bytes it describes.
        temp = self.temp_path()
        write_durably(temp, json.dumps({"etag": body.md5, "size": body.size}).encode())
        os.replace(temp, folder / f"{number}.json")

    def complete(self, folder: Path, info: dict[str, Any], parts: list[tuple[int, str]]) -> Meta:
        chosen = []
        for index, (number, etag) in enumerate(parts):
            try:
                part = json.loads((folder / f"{number}.json").read_text())
            except FileNotFoundError:
                raise S3Error("InvalidPart", f"Part {number} was never uploaded.") from None
            if part["etag"] != etag:
                raise S3Error("InvalidPart", f"Part {number}'s ETag is not {etag}.")
            if part["size"] < MIN_PART and index < len(parts) - 1:
                raise S3Error("EntityTooSmall", f"Part {number} is under 5 MiB and not the last.")
            chosen.append((number, part))
        temp = self.temp_path()
        with temp.open("wb") as out:
            for number, _ in chosen:
                with (folder / f"{number}.part").open("rb") as source:
                    shutil.copyfileobj(source, out, COPY_CHUNK)
            out.flush()
            os.fsync(out.fileno())
        digest = hashlib.md5(b"".join(bytes.fromhex(part["etag"]) for _, part in chosen))
        meta = Meta(
            key=info["key"],
            size=sum(part["size"] for _, part in chosen),
            etag=f"{digest.hexdigest()}-{len(chosen)}",
            content_type=info["content_type"],
            modified=datetime.now(UTC).timestamp(),
            data="",
            headers=info["headers"],
        )
        self.commit(info["bucket"], info["key"], temp, meta)
        shutil.rmtree(folder, ignore_errors=True)
        return meta


# --------------------------------------------------------------------------------------
# The HTTP server.
# --------------------------------------------------------------------------------------

MAX_SKEW = timedelta(minutes=15)
MAX_PRESIGN_EXPIRY = 7 * 24 * 3600
SMALL_BODY_LIMIT = 2 * 1024 * 1024  # XML and JSON request bodies
ADMIN_PREFIX = "/minio/admin/v3/"
HEALTH_PATHS = {"/minio/health/live", "/minio/health/ready", "/minio/health/cluster"}
RESPONSE_OVERRIDES = {
    "response-content-type": "Content-Type",
    "response-content-language": "Content-Language",
    "response-expires": "Expires",
    "response-cache-control": "Cache-Control",
    "response-content-disposition": "Content-Disposition",
    "response-content-encoding": "Content-Encoding",
}
SAFE_HEADER_VALUE = re.compile(r"^[\x20-\x7e\xa0-\xff\t]*$")


@dataclass
class Request:
    method: str
    path: str  # percent-decoded
    query: list[tuple[str, str]]
    bucket: str
    key: str

    @property
    def params(self) -> dict[str, str]:
        return dict(self.query)

    @property
    def resource(self) -> str:
        return f"arn:aws:s3:::{self.bucket}" + (f"/{self.key}" if self.key else "")


class StandinServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], store: Store, iam: Iam) -> None:
        self.store, self.iam = store, iam
        super().__init__(address, Handler)


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: StandinServer
    server_version = "s3-standin"
    sys_version = ""

    # Every method goes through one dispatcher; unknown ones get 405 from it.
    def do_GET(self) -> None:
        self.handle_s3()

    def do_HEAD(self) -> None:
        self.handle_s3()

    def do_PUT(self) -> None:
        self.handle_s3()

    def do_POST(self) -> None:
        self.handle_s3()

    def do_DELETE(self) -> None:
        self.handle_s3()

    def do_PATCH(self) -> None:
        self.handle_s3()

    def do_OPTIONS(self) -> None:
        self.handle_s3()

    # State of one request -------------------------------------------------------
    def setup_request(self) -> None:
        self.request_id = uuid.uuid4().hex[:16].upper()
        self.body_read = False
        self.payload_hash = EMPTY_SHA256
        self.resource = "/"
        self.replied = False

    def handle_s3(self) -> None:
        self.setup_request()
        admin = self.path.startswith(ADMIN_PREFIX)
        try:
            self.dispatch()
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True
        except Exception as error:  # the server keeps serving; the log has the traceback
            if not isinstance(error, S3Error):
                traceback.print_exc()
                error = S3Error("InternalError")
            if self.replied:  # an answer is under way: cutting the connection is all left
                self.close_connection = True
            else:
                self.send_failure(error, admin=admin)

    def dispatch(self) -> None:
        raw_path, _, raw_query = self.path.partition("?")
        if not raw_path.startswith("/"):
            raise S3Error("InvalidRequest", "The request target must be a path.")
        try:
            path = unquote(raw_path, errors="strict")
        except UnicodeDecodeError:
            raise S3Error("InvalidRequest", "The path is not percent-encoded UTF-8.") from None
        self.resource = path
        if path in HEALTH_PATHS and self.command in ("GET", "HEAD"):
            self.reply(200)
            return
        if self.command not in ("GET", "HEAD", "PUT", "POST", "DELETE"):
            raise S3Error("MethodNotAllowed")
        bucket, _, key = path[1:].partition("/")
        request = Request(self.command, path, parse_query(raw_query), bucket, key)
        principal = self.authenticate(request)
        if path.startswith(ADMIN_PREFIX):
            AdminApi(self, principal).dispatch(request)
        else:
            S3Api(self, principal).dispatch(request)

    # Authentication --------------------------------------------------------------
    def authenticate(self, request: Request) -> Principal:
        params = request.params
        if "X-Amz-Algorithm" in params:
            return self.authenticate_presigned(request, params)
        header = self.headers.get("Authorization")
        if header is None:
            raise S3Error(
                "AccessDenied", "Anonymous access is not allowed: sign requests with SigV4."
            )
        if not header.startswith(ALGORITHM + " "):
            raise S3Error(
                "AuthorizationHeaderMalformed",
                f"Only {ALGORITHM} Authorization headers are accepted here.",
            )
        fields = dict(
            part.strip().partition("=")[::2] for part in header[len(ALGORITHM) :].split(",")
        )
        if not {"Credential", "SignedHeaders", "Signature"} <= fields.keys():
            raise S3Error(
                "AuthorizationHeaderMalformed",
                "The Authorization header needs Credential, SignedHeaders and Signature.",
            )
        amz_date = self.headers.get("X-Amz-Date", "")
        when = parse_amz_date(amz_date, "AuthorizationHeaderMalformed", "X-Amz-Date")
        if abs(datetime.now(UTC) - when) > MAX_SKEW:
            raise S3Error("RequestTimeTooSkewed")
        self.payload_hash = self.headers.get("X-Amz-Content-Sha256", "")
        check_payload_hash(self.payload_hash)
        return self.verify(
            request, fields, amz_date, self.payload_hash, "AuthorizationHeaderMalformed"
        )

    def authenticate_presigned(self, request: Request, params: dict[str, str]) -> Principal:
        error = "AuthorizationQueryParametersError"
        names = ["Algorithm", "Credential", "Date", "Expires", "SignedHeaders", "Signature"]
        missing = [name for name in names if f"X-Amz-{name}" not in params]
        if missing or params["X-Amz-Algorithm"] != ALGORITHM:
            raise S3Error(
                error, f"A presigned {ALGORITHM} URL needs X-Amz-{', X-Amz-'.join(names)}."
            )
        when = parse_amz_date(params["X-Amz-Date"], error, "X-Amz-Date")
        expires = params["X-Amz-Expires"]
        if not expires.isdigit() or not 1 <= int(expires) <= MAX_PRESIGN_EXPIRY:
            raise S3Error(error, "X-Amz-Expires must be 1 to 604800 seconds.")
        fields = {
            "Credential": params["X-Amz-Credential"],
            "SignedHeaders": params["X-Amz-SignedHeaders"],
            "Signature": params["X-Amz-Signature"],
        }
        signed_query = [(k, v) for k, v in request.query if k != "X-Amz-Signature"]
        unsigned = Request(request.method, request.path, signed_query, request.bucket, request.key)
        principal = self.verify(unsigned, fields, params["X-Amz-Date"], UNSIGNED_PAYLOAD, error)
        now = datetime.now(UTC)
        if when - now > MAX_SKEW:
            raise S3Error("AccessDenied", "Request is not valid yet")
        if now > when + timedelta(seconds=int(expires)):
            raise S3Error("AccessDenied", "Request has expired")
        self.payload_hash = UNSIGNED_PAYLOAD
        return principal

    def verify(
        self,
        request: Request,
        fields: dict[str, str],
        amz_date: str,
        payload_hash: str,
        malformed: str,
    ) -> Principal:
        access_key, _, scope = fields["Credential"].partition("/")
        scope_parts = scope.split("/")
        if len(scope_parts) != 4 or scope_parts[2:] != ["s3", "aws4_request"]:
            raise S3Error(malformed, "The credential must be KEY/DATE/REGION/s3/aws4_request.")
        if scope_parts[0] != amz_date[:8]:
            raise S3Error(malformed, "The credential's date is not the request's date.")
        signed_names = fields["SignedHeaders"].split(";")
        if "host" not in signed_names:
            raise S3Error(malformed, "SignedHeaders must include host.")
        principal = self.server.iam.principal(access_key)
        if principal is None:
            raise S3Error("InvalidAccessKeyId")
        signed = {
            name: canonical_header_value(self.headers.get_all(name) or []) for name in signed_names
        }
        canonical = canonical_request(
            request.method, request.path, request.query, signed, payload_hash
        )
        expected = signature(principal.secret_key, amz_date, scope, canonical)
        if not hmac.compare_digest(expected, fields["Signature"]):
            raise S3Error("SignatureDoesNotMatch")
        return principal

    # Bodies ----------------------------------------------------------------------
    def content_length(self, limit: int) -> int:
        if self.headers.get("Transfer-Encoding"):
            self.close_connection = True
            raise S3Error("MissingContentLength", "Send the body with a Content-Length.")
        raw = self.headers.get("Content-Length", "0")
        if not raw.isdigit():
            raise S3Error("InvalidArgument", "Content-Length must be a number.")
        length = int(raw)
        if length > limit:
            raise S3Error("EntityTooLarge", f"The body may be at most {limit} bytes.")
        return length

    def receive(self, limit: int) -> Received:
        """The request body into a temp file, hashed as it arrives, then checked."""
        length = self.content_length(limit)
        md5, sha256 = hashlib.md5(), hashlib.sha256()
        path = self.server.store.temp_path()
        try:
            with path.open("wb") as out:
                remaining = length
                while remaining:
                    chunk = self.rfile.read(min(COPY_CHUNK, remaining))
                    if not chunk:
                        self.close_connection = True
                        raise S3Error("IncompleteBody")
                    md5.update(chunk)
                    sha256.update(chunk)
                    out.write(chunk)
                    remaining -= len(chunk)
                out.flush()
                os.fsync(out.fileno())  # on disk before a rename can make it the object
            self.body_read = True
            self.check_body(md5, sha256.hexdigest())
        except BaseException:
            path.unlink(missing_ok=True)
            raise
        return Received(path, length, md5.hexdigest(), sha256.hexdigest())

    def read_small_body(self) -> bytes:
        length = self.content_length(SMALL_BODY_LIMIT)
        body = self.rfile.read(length)
        if len(body) != length:
            self.close_connection = True
            raise S3Error("IncompleteBody")
        self.body_read = True
        self.check_body(hashlib.md5(body), hashlib.sha256(body).hexdigest())
        return body

    def check_body(self, md5: Any, sha256: str) -> None:
        if self.payload_hash != UNSIGNED_PAYLOAD and self.payload_hash != sha256:
            raise S3Error("XAmzContentSHA256Mismatch")
        given = self.headers.get("Content-MD5")
        if given is not None:
            try:
                expected = base64.b64decode(given, validate=True)
            except binascii.Error:
                raise S3Error("InvalidDigest") from None
            if expected != md5.digest():
                raise S3Error("BadDigest")

    # Answers ---------------------------------------------------------------------
    def reply(
        self,
        status: int,
        body: bytes = b"",
        headers: dict[str, str] | None = None,
        content_type: str = "application/xml",
    ) -> None:
        self.send_response(status)
        self.replied = True
        all_headers = {"x-amz-request-id": self.request_id, **(headers or {})}
        if body:
            all_headers.setdefault("Content-Type", content_type)
        all_headers.setdefault("Content-Length", str(len(body)))
        for name, value in all_headers.items():
            self.send_header(name, value)
        if self.close_connection or not self.body_done():
            self.close_connection = True
            self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD" and body:
            self.wfile.write(body)

    def body_done(self) -> bool:
        """Whether the connection can carry another request: no unread body is left."""
        if self.body_read or self.headers is None:
            return True
        return self.headers.get("Content-Length", "0") == "0" and not self.headers.get(
            "Transfer-Encoding"
        )

    def send_failure(self, error: S3Error, *, admin: bool) -> None:
        if admin:
            document = {"Code": error.code, "Message": error.message, "RequestId": self.request_id}
            self.reply(error.status, json.dumps(document).encode(), content_type="application/json")
        else:
            body = error_xml(error, self.resource, self.request_id)
            self.reply(error.status, body, headers=error.headers)

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """http.server's own refusals (a malformed request line, too many headers) in S3's
        shape rather than an HTML page."""
        self.request_id = uuid.uuid4().hex[:16].upper()
        self.close_connection = True
        # An unknown method (http.server's 501) is S3's 405; the rest keep their status.
        status = 405 if code == 501 else int(code)
        s3_code = "MethodNotAllowed" if status == 405 else "InvalidRequest"
        error = S3Error(s3_code, message or "The request could not be read.")
        body = error_xml(error, "/", self.request_id)
        self.send_response(status, message)
        self.send_header("Content-Type", "application/xml")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Connection", "close")
        self.end_headers()
        if getattr(self, "command", "") != "HEAD":
            self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        # The path without its query: presigned signatures stay out of the log.
        sys.stderr.write(f"{self.address_string()} {format % args}".split("?")[0] + "\n")

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        path = self.path.split("?")[0] if hasattr(self, "path") else "-"
        sys.stderr.write(f"{self.address_string()} {getattr(self, 'command', '-')} {path} {code}\n")


def parse_amz_date(value: str, error: str, name: str) -> datetime:
    try:
        return datetime.strptime(value, AMZ_DATE_FORMAT).replace(tzinfo=UTC)
    except ValueError:
        raise S3Error(error, f"{name} must be a date like 20250102T030405Z.") from None


def check_payload_hash(value: str) -> None:
    if value.startswith("STREAMING-"):
        raise S3Error(
            "NotImplemented", "Streaming (aws-chunked) uploads are not supported by this stand-in."
        )
    if value != UNSIGNED_PAYLOAD and not re.fullmatch(r"[0-9a-f]{64}", value):
        raise S3Error(
            "InvalidArgument",
            "x-amz-content-sha256 must be the body's SHA-256 in hex, or UNSIGNED-PAYLOAD.",
        )


# --------------------------------------------------------------------------------------
# S3 operations.
# --------------------------------------------------------------------------------------


def http_date(timestamp: float) -> str:
    return formatdate(timestamp, usegmt=True)


def iso_date(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def parse_range(header: str | None, size: int) -> tuple[int, int] | None:
    """(first, last) of a single bytes range; None for no (or an ignorable) range."""
    match = re.fullmatch(r"bytes=(\d*)-(\d*)", (header or "").strip())
    if not match or match.group(1) == match.group(2) == "":
        return None
    first, last = match.group(1), match.group(2)
    if first == "":
        start, end = max(size - int(last), 0), size - 1
    else:
        start, end = int(first), min(int(last), size - 1) if last else size - 1
    if start >= size or start > end:
        error = S3Error("InvalidRange", f"The object is {size} bytes long.")
        error.headers["Content-Range"] = f"bytes */{size}"
        raise error
    return start, end


def etag_matches(header: str, etag: str) -> bool:
    tags = [tag.strip().removeprefix("W/").strip('"') for tag in header.split(",")]
    return "*" in tags or etag in tags


class S3Api:
    def __init__(self, handler: Handler, principal: Principal) -> None:
        self.handler, self.principal, self.store = handler, principal, handler.server.store

    def require(self, action: str, request: Request, key: str | None = None) -> None:
        if self.principal.is_root:
            return
        resource = f"arn:aws:s3:::{request.bucket}" + (f"/{key}" if key else "")
        if not policy_allows(self.principal.statements, action, resource):
            raise S3Error(
                "AccessDenied", f"{self.principal.access_key} may not {action} {resource}."
            )

    def dispatch(self, request: Request) -> None:
        if request.method not in ("GET", "HEAD", "PUT", "POST", "DELETE"):
            raise S3Error("MethodNotAllowed")
        if not request.bucket:
            if request.method != "GET":
                raise S3Error("MethodNotAllowed")
            self.list_buckets()
        elif not request.key:
            self.bucket_operation(request)
        else:
            if len(request.key.encode("utf-8", "surrogatepass")) > 1024 or "\x00" in request.key:
                raise S3Error("KeyTooLongError", "Keys are at most 1024 bytes, without NUL.")
            self.object_operation(request)

    def unsupported(self, request: Request, allowed: set[str]) -> None:
        extra = {name for name, _ in request.query} - allowed - set(RESPONSE_OVERRIDES)
        extra = {name for name in extra if not name.startswith("X-Amz-")}
        if extra:
            raise S3Error(
                "NotImplemented", f"This stand-in does not implement ?{', ?'.join(sorted(extra))}."
            )

    def list_buckets(self) -> None:
        self.require("s3:ListAllMyBuckets", Request("GET", "/", [], "*", ""))
        buckets = [
            ("Bucket", [("Name", name), ("CreationDate", iso_date(created))])
            for name, created in self.store.buckets()
        ]
        owner = [("ID", "s3-standin"), ("DisplayName", "s3-standin")]
        body = xml_document("ListAllMyBucketsResult", [("Owner", owner), ("Buckets", buckets)])
        self.handler.reply(200, body)

    def bucket_operation(self, request: Request) -> None:
        params, method = request.params, request.method
        self.store.bucket_dir(request.bucket)  # a valid name, or InvalidBucketName
        if method == "PUT" and not request.query:
            self.require("s3:CreateBucket", request)
            self.handler.read_small_body()  # an optional location we ignore
            self.store.create_bucket(request.bucket)
            self.handler.reply(200, headers={"Location": f"/{request.bucket}"})
        elif method == "HEAD" and not request.query:
            self.require("s3:ListBucket", request)
            self.store.require_bucket(request.bucket)
            self.handler.reply(200)
        elif method == "GET" and "location" in params:
            self.require("s3:GetBucketLocation", request)
            self.store.require_bucket(request.bucket)
            body = xml_document("LocationConstraint", [])
            self.handler.reply(200, body)
        elif method == "GET" and params.get("list-type") == "2":
            self.unsupported(
                request,
                {
                    "list-type",
                    "prefix",
                    "delimiter",
                    "max-keys",
                    "continuation-token",
                    "start-after",
                    "encoding-type",
                    "fetch-owner",
                    "metadata",
                },
            )
            self.require("s3:ListBucket", request)
            self.list_objects(request)
        elif method == "POST" and "delete" in params:
            self.delete_objects(request)
        elif method == "DELETE" and not request.query:
            self.require("s3:DeleteBucket", request)
            self.store.delete_bucket(request.bucket)
            self.handler.reply(204)
        elif method == "GET" and not request.query:
            raise S3Error("NotImplemented", "Only ListObjectsV2 (?list-type=2) is implemented.")
        else:
            self.unsupported(request, set())
            raise S3Error("MethodNotAllowed")

    def list_objects(self, request: Request) -> None:
        params = request.params
        prefix, delimiter = params.get("prefix", ""), params.get("delimiter", "")
        max_keys = params.get("max-keys", "1000")
        if not max_keys.isdigit():
            raise S3Error("InvalidArgument", "max-keys must be a whole number.")
        encoding = params.get("encoding-type")
        if encoding not in (None, "url"):
            raise S3Error("InvalidArgument", "encoding-type may only be url.")
        marker = params.get("start-after", "")
        if "continuation-token" in params:
            try:
                marker = base64.urlsafe_b64decode(params["continuation-token"]).decode()
            except (binascii.Error, UnicodeDecodeError):
                raise S3Error("InvalidArgument", "The continuation token is not valid.") from None
        entries, truncated = self.page(request.bucket, prefix, delimiter, marker, int(max_keys))

        def enc(value: str) -> str:
            return quote(value, safe="/") if encoding == "url" else value

        children: list[tuple[str, Any]] = [
            ("Name", request.bucket),
            ("Prefix", enc(prefix)),
            ("KeyCount", len(entries)),
            ("MaxKeys", min(int(max_keys), 1000)),
            ("IsTruncated", str(truncated).lower()),
        ]
        if delimiter:
            children.append(("Delimiter", enc(delimiter)))
        if encoding:
            children.append(("EncodingType", encoding))
        if truncated:
            last = entries[-1] if isinstance(entries[-1], str) else entries[-1].key
            token = base64.urlsafe_b64encode(last.encode()).decode()
            children.append(("NextContinuationToken", token))
        for entry in entries:
            if isinstance(entry, str):
                children.append(("CommonPrefixes", [("Prefix", enc(entry))]))
            else:
                children.append(
                    (
                        "Contents",
                        [
                            ("Key", enc(entry.key)),
                            ("LastModified", iso_date(entry.modified)),
                            ("ETag", f'"{entry.etag}"'),
                            ("Size", entry.size),
                            ("StorageClass", "STANDARD"),
                        ],
                    )
                )
        self.handler.reply(200, xml_document("ListBucketResult", children))

    def page(
        self, bucket: str, prefix: str, delimiter: str, marker: str, max_keys: int
    ) -> tuple[list[Meta | str], bool]:
        """Objects and common prefixes after ``marker``, and whether more follow."""
        entries: list[Meta | str] = []
        for meta in self.store.objects(bucket):
            key = meta.key
            if not key.startswith(prefix) or key <= marker:
                continue
            if delimiter and marker.endswith(delimiter) and key.startswith(marker):
                continue  # inside the common prefix the last page ended with
            rest = key[len(prefix) :]
            cut = rest.find(delimiter) if delimiter else -1
            entry: Meta | str = meta if cut < 0 else prefix + rest[: cut + len(delimiter)]
            if entries and entries[-1] == entry:
                continue
            if len(entries) == min(max_keys, 1000):
                return entries, True
            entries.append(entry)
        return entries, False

    def delete_objects(self, request: Request) -> None:
        root = parse_xml(self.handler.read_small_body())
        quiet = (root.findtext("Quiet") or "").strip().lower() == "true"
        keys = [element.findtext("Key") or "" for element in root.findall("Object")]
        if root.tag != "Delete" or not 1 <= len(keys) <= 1000:
            raise S3Error("MalformedXML", "Send <Delete> with 1 to 1000 <Object><Key> entries.")
        results: list[tuple[str, Any]] = []
        for key in keys:
            try:
                self.require("s3:DeleteObject", request, key)
                self.store.delete(request.bucket, key)
                if not quiet:
                    results.append(("Deleted", [("Key", key)]))
            except S3Error as error:
                if error.code == "NoSuchBucket":
                    raise
                results.append(
                    ("Error", [("Key", key), ("Code", error.code), ("Message", error.message)])
                )
        self.handler.reply(200, xml_document("DeleteResult", results))

    def object_operation(self, request: Request) -> None:
        params, method = request.params, request.method
        if method in ("GET", "HEAD"):
            self.unsupported(request, set())
            self.require("s3:GetObject", request, request.key)
            self.get_object(request)
        elif method == "PUT" and "uploadId" in params:
            self.unsupported(request, {"uploadId", "partNumber"})
            self.require("s3:PutObject", request, request.key)
            self.upload_part(request)
        elif method == "PUT":
            self.unsupported(request, set())
            self.require("s3:PutObject", request, request.key)
            self.put_object(request)
        elif method == "POST" and "uploads" in params:
            self.require("s3:PutObject", request, request.key)
            self.create_upload(request)
        elif method == "POST" and "uploadId" in params:
            self.require("s3:PutObject", request, request.key)
            self.complete_upload(request)
        elif method == "DELETE" and "uploadId" in params:
            self.require("s3:AbortMultipartUpload", request, request.key)
            folder, _ = self.store.upload(params["uploadId"], request.bucket, request.key)
            shutil.rmtree(folder, ignore_errors=True)
            self.handler.reply(204)
        elif method == "DELETE":
            self.unsupported(request, set())
            self.require("s3:DeleteObject", request, request.key)
            self.store.delete(request.bucket, request.key)
            self.handler.reply(204)
        else:
            raise S3Error("MethodNotAllowed")

    def stored_headers(self) -> tuple[str, dict[str, str]]:
        headers = self.handler.headers
        if headers.get("x-amz-copy-source"):
            raise S3Error("NotImplemented", "Copies are not implemented by this stand-in.")
        kept = {name: headers[name] for name in STORED_HEADERS if headers.get(name)}
        kept.update(
            {
                name.lower(): value
                for name, value in headers.items()
                if name.lower().startswith("x-amz-meta-")
            }
        )
        return headers.get("Content-Type") or "application/octet-stream", kept

    def put_object(self, request: Request) -> None:
        content_type, kept = self.stored_headers()
        self.store.require_bucket(request.bucket)
        body = self.handler.receive(MAX_OBJECT)
        meta = Meta(
            request.key, body.size, body.md5, content_type, datetime.now(UTC).timestamp(), "", kept
        )
        try:
            self.store.commit(request.bucket, request.key, body.path, meta)
        finally:
            body.path.unlink(missing_ok=True)
        self.handler.reply(200, headers={"ETag": f'"{meta.etag}"'})

    def create_upload(self, request: Request) -> None:
        content_type, kept = self.stored_headers()
        upload_id = self.store.create_upload(request.bucket, request.key, content_type, kept)
        body = xml_document(
            "InitiateMultipartUploadResult",
            [
                ("Bucket", request.bucket),
                ("Key", request.key),
                ("UploadId", upload_id),
            ],
        )
        self.handler.reply(200, body)

    def upload_part(self, request: Request) -> None:
        number = request.params.get("partNumber", "")
        if not number.isdigit() or not 1 <= int(number) <= 10000:
            raise S3Error("InvalidArgument", "partNumber must be 1 to 10000.")
        folder, _ = self.store.upload(request.params["uploadId"], request.bucket, request.key)
        body = self.handler.receive(MAX_OBJECT)
        try:
            self.store.put_part(folder, int(number), body)
        finally:
            body.path.unlink(missing_ok=True)
        self.handler.reply(200, headers={"ETag": f'"{body.md5}"'})

    def complete_upload(self, request: Request) -> None:
        folder, info = self.store.upload(request.params["uploadId"], request.bucket, request.key)
        root = parse_xml(self.handler.read_small_body())
        parts = []
        for element in root.findall("Part"):
            number = (element.findtext("PartNumber") or "").strip()
            etag = (element.findtext("ETag") or "").strip().strip('"')
            if not number.isdigit():
                raise S3Error("MalformedXML", "Each <Part> needs a <PartNumber>.")
            parts.append((int(number), etag))
        if root.tag != "CompleteMultipartUpload" or not parts:
            raise S3Error("MalformedXML", "Send <CompleteMultipartUpload> with its <Part>s.")
        if [number for number, _ in parts] != sorted({number for number, _ in parts}):
            raise S3Error("InvalidPartOrder")
        meta = self.store.complete(folder, info, parts)
        body = xml_document(
            "CompleteMultipartUploadResult",
            [
                ("Location", f"/{request.bucket}/{request.key}"),
                ("Bucket", request.bucket),
                ("Key", request.key),
                ("ETag", f'"{meta.etag}"'),
            ],
        )
        self.handler.reply(200, body)

    def get_object(self, request: Request) -> None:
        overrides = {}
        for name, header in RESPONSE_OVERRIDES.items():
            value = request.params.get(name)
            if value is not None:
                if not SAFE_HEADER_VALUE.match(value):
                    raise S3Error("InvalidArgument", f"{name} holds characters a header cannot.")
                overrides[header] = value
        self.store.require_bucket(request.bucket)
        with self.store.open(request.bucket, request.key) as (meta, data):
            headers = {
                "ETag": f'"{meta.etag}"',
                "Last-Modified": http_date(meta.modified),
                "Accept-Ranges": "bytes",
            }
            if self.not_modified(meta):
                self.handler.reply(304, headers=headers)
                return
            headers["Content-Type"] = meta.content_type
            headers.update({name.title(): value for name, value in meta.headers.items()})
            headers.update(overrides)
            self.send_object(meta, data, headers)

    def not_modified(self, meta: Meta) -> bool:
        """True for 304; raises PreconditionFailed for a failed If-Match/-Unmodified-Since."""
        headers, modified = self.handler.headers, int(meta.modified)
        if_match, if_unmodified = headers.get("If-Match"), headers.get("If-Unmodified-Since")
        if if_match is not None and not etag_matches(if_match, meta.etag):
            raise S3Error("PreconditionFailed")
        if (
            if_match is None
            and if_unmodified
            and modified > http_timestamp(if_unmodified, modified)
        ):
            raise S3Error("PreconditionFailed")
        if_none, if_modified = headers.get("If-None-Match"), headers.get("If-Modified-Since")
        if if_none is not None:
            return etag_matches(if_none, meta.etag)
        if not if_modified:
            return False
        return modified <= http_timestamp(if_modified, modified - 1)

    def send_object(self, meta: Meta, data: IO[bytes], headers: dict[str, str]) -> None:
        handler = self.handler
        span = parse_range(handler.headers.get("Range"), meta.size)
        status, start, length = 200, 0, meta.size
        if span is not None:
            status, start, length = 206, span[0], span[1] - span[0] + 1
            headers["Content-Range"] = f"bytes {span[0]}-{span[1]}/{meta.size}"
        headers["Content-Length"] = str(length)
        handler.reply(status, headers=headers)
        if handler.command == "HEAD":
            return
        data.seek(start)
        while length:
            chunk = data.read(min(COPY_CHUNK, length))
            if not chunk:
                handler.close_connection = True  # the file shrank: cut the answer short
                return
            handler.wfile.write(chunk)
            length -= len(chunk)


def http_timestamp(value: str, default: int) -> int:
    try:
        return int(parsedate_to_datetime(value).timestamp())
    except (TypeError, ValueError, IndexError):
        return default


# --------------------------------------------------------------------------------------
# Admin API (root only; plain JSON, unlike real MinIO's encrypted madmin bodies).
# --------------------------------------------------------------------------------------


class AdminApi:
    def __init__(self, handler: Handler, principal: Principal) -> None:
        self.handler, self.principal, self.iam = handler, principal, handler.server.iam

    def dispatch(self, request: Request) -> None:
        if not self.principal.is_root:
            raise S3Error("AccessDenied", "Only the root user may use the admin API.")
        operation = request.path.removeprefix(ADMIN_PREFIX)
        params = request.params
        if operation == "add-canned-policy" and request.method == "PUT":
            self.iam.set_policy(params.get("name", ""), self.json_body())
        elif operation == "add-user" and request.method == "PUT":
            body = self.json_body()
            self.iam.set_user(params.get("accessKey", ""), str(body.get("secretKey", "")))
        elif operation == "idp/builtin/policy/attach" and request.method == "POST":
            body = self.json_body()
            policies = body.get("policies")
            if not isinstance(policies, list) or not policies:
                raise S3Error("XMinioAdminInvalidArgument", "Name at least one policy.")
            self.iam.attach(str(body.get("user", "")), [str(name) for name in policies])
        elif operation == "user-info" and request.method == "GET":
            info = self.iam.user_info(params.get("accessKey", ""))
            self.handler.reply(200, json.dumps(info).encode(), content_type="application/json")
            return
        else:
            raise S3Error("NotImplemented", f"No admin operation {request.method} {operation}.")
        self.handler.reply(200)

    def json_body(self) -> dict[str, Any]:
        try:
            body = json.loads(self.handler.read_small_body())
        except ValueError:
            raise S3Error("XMinioAdminInvalidArgument", "The body must be JSON.") from None
        if not isinstance(body, dict):
            raise S3Error("XMinioAdminInvalidArgument", "The body must be a JSON object.")
        return body


# --------------------------------------------------------------------------------------
# Command line.
# --------------------------------------------------------------------------------------


def parse_address(value: str) -> tuple[str, int]:
    host, _, port = value.rpartition(":")
    if not port.isdigit():
        raise SystemExit(f"s3-standin: --address '{value}' must be HOST:PORT or :PORT")
    return host.strip("[]") or "0.0.0.0", int(port)


def root_credentials() -> tuple[str, str]:
    user = os.environ.get("MINIO_ROOT_USER", "minioadmin")
    password = os.environ.get("MINIO_ROOT_PASSWORD", "minioadmin")
    if len(user) < 3 or len(password) < 8:
        raise SystemExit(
            "s3-standin: MINIO_ROOT_USER must be at least 3 characters and "
            "MINIO_ROOT_PASSWORD at least 8 (as MinIO asks); set them and start again"
        )
    return user, password


def serve(data_dir: Path, address: str) -> None:
    data_dir.mkdir(parents=True, exist_ok=True)
    store = Store(data_dir)
    iam = Iam(store.system / "iam.json", *root_credentials())
    server = StandinServer(parse_address(address), store, iam)

    def stop(signum: int, frame: Any) -> None:
        # As PID 1 in a container, SIGTERM does nothing unless handled.
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    host, port = server.server_address[:2]
    print(f"s3-standin: serving {data_dir} on {host!s}:{port}", file=sys.stderr, flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="s3_standin.py", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    server = commands.add_parser("server", help="serve DATA_DIR over S3")
    server.add_argument("data_dir", type=Path)
    server.add_argument("--address", default=":9000", help="HOST:PORT or :PORT (default :9000)")
    server.add_argument(
        "--console-address", help="accepted for MinIO's command line and ignored: no console"
    )
    args = parser.parse_args(argv)
    if args.console_address:
        print("s3-standin: no console here; --console-address is ignored", file=sys.stderr)
    serve(args.data_dir, args.address)


if __name__ == "__main__":
    main()
