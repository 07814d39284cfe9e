"""One settings class for every Stemdeck process, read from ``STEMDECK_*``."""

from __future__ import annotations

import ipaddress
import re
from enum import StrEnum
from functools import lru_cache
from pathlib import Path
from typing import Annotated
from urllib.parse import urlsplit

from pydantic import (
    AliasChoices,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

ENV_PREFIX = "STEMDECK_"


class StorageKind(StrEnum):
    local = "local"
    s3 = "s3"


class Device(StrEnum):
    auto = "auto"
    cpu = "cpu"
    cuda = "cuda"
    mps = "mps"


class AuthMode(StrEnum):
    # One built-in local admin, for a laptop: start-up refuses it off loopback.
    none = "none"
    # Sign-in, per-user jobs and API tokens (Compose, Kubernetes).
    accounts = "accounts"


class LogFormat(StrEnum):
    # Human-readable when stderr is a terminal (`stemdeck up`), JSON otherwise (containers).
    auto = "auto"
    json = "json"
    console = "console"


class DedupScope(StrEnum):
    # A job completes from a twin (same audio, strategy, formats) of its own owner only.
    user = "user"
    # From anyone's twin: the files are shared, nothing else about the twin shows.
    global_ = "global"


# The example secrets of .env.example and deploy/kubernetes/base/secrets.env.example,
# and the variable a user sets to replace each: a copied example starts nothing.
EXAMPLE_SECRETS = {
    "change-me-admin": "STEMDECK_ADMIN_PASSWORD",
    "change-me-postgres": "POSTGRES_PASSWORD",
    "change-me-redis": "REDIS_PASSWORD",
    "change-me-minio": "MINIO_ROOT_PASSWORD",
    "change-me-minioapp": "MINIO_APP_PASSWORD",
    "change-me-signing": "STEMDECK_SECRET_KEY",
}
MIN_SECRET_KEY_LENGTH = 32
MIN_PASSWORD_LENGTH = 12
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
_DOMAIN = re.compile(r"(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z][a-z0-9-]{0,62}")
OIDC_DISCOVERY_PATH = "/.well-known/openid-configuration"


def _host_list(value: str) -> list[str]:
    return [name.strip().lower() for name in value.split(",") if name.strip()]


def host_name(host: str) -> str:
    """``host`` (a Host header or URL netloc) without its port; IPv6 keeps its brackets."""
    host = host.rsplit("@", 1)[-1].lower()
    if host.startswith("["):
        return host.split("]", 1)[0] + "]"
    return host.split(":", 1)[0]


def is_loopback(host: str) -> bool:
    """Whether only this machine can reach ``host`` (names other than localhost: unknown)."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


class SettingsError(Exception):
    """Settings that cannot start a process; the message names each variable."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_file=".env",
        env_file_encoding="utf-8",
        env_ignore_empty=True,
        extra="ignore",
        # Settings(link_ttl_s=…) as well as its environment names (see link_ttl_s).
        validate_by_name=True,
    )

    data_dir: Path = Path("data")
    database_url: str = ""
    # How long `stemdeck migrate` (and `up`) waits for a Postgres that does not answer
    # yet, e.g. one still creating its volume beside it in Compose (0: try once).
    db_wait_s: float = Field(60.0, ge=0, le=3600)
    redis_url: str = ""
    storage: StorageKind = StorageKind.local
    # S3-compatible object store (MinIO, Cloudflare R2, AWS S3) when storage is "s3".
    s3_endpoint: str = ""
    s3_region: str = "us-east-1"
    s3_bucket: str = "stemdeck"
    s3_access_key: str = ""
    s3_secret_key: SecretStr = SecretStr("")
    # Where browsers reach the store, when not at s3_endpoint (e.g. through the web port).
    s3_public_url: str = ""
    # How long a stem or waveform link works: a presigned S3 URL or a signed local link
    # (/api/files/…). A player that outlives it asks the job's stem URL again. Its old
    # name, STEMDECK_S3_PRESIGN_TTL_S, is still read.
    link_ttl_s: int = Field(
        900,
        ge=1,
        le=7 * 24 * 3600,
        validation_alias=AliasChoices(f"{ENV_PREFIX}LINK_TTL_S", f"{ENV_PREFIX}S3_PRESIGN_TTL_S"),
    )
    models_dir: Path | None = None
    device: Device = Device.auto
    # Download missing model weights on first use (where the network allows).
    model_downloads: bool = True
    # Fetch weights from here (`{mirror}/{path in the models dir}`) instead of upstream;
    # every file is still checked against the SHA-256 the catalog pins.
    model_mirror: str = ""
    # Loaded models are kept across jobs up to this much memory, least recently used out first.
    model_memory_mb: int = Field(6144, ge=0)
    # Threads torch may use per worker (0: torch's own choice, one per core).
    torch_threads: int = Field(0, ge=0)

    host: str = "127.0.0.1"
    port: int = Field(8000, ge=1, le=65535)
    # The API's HTTP server, for clients that reach it without a proxy in front: request
    # headers over this many KB get 431; headers not complete this long after a connection
    # opens (or its previous request ends) get 408; a request body that sends nothing for
    # this long is cut off; idle keep-alive connections close after this long; and past
    # this many open connections, new requests get 503.
    http_max_header_kb: int = Field(32, ge=8, le=1024)
    http_header_timeout_s: float = Field(10.0, gt=0, le=300)
    http_body_idle_timeout_s: float = Field(30.0, gt=0, le=3600)
    http_keepalive_s: int = Field(5, ge=1, le=300)
    http_max_connections: int = Field(1000, ge=1)
    max_upload_mb: int = Field(500, ge=1)
    max_duration_s: float = Field(1800.0, gt=0)
    # Empty: the first strategy in the strategies file whose weights are present.
    default_strategy: str | None = None
    default_formats: Annotated[list[str], NoDecode] = ["flac"]
    strategies_file: Path | None = None

    job_timeout_base_s: int = Field(300, ge=1)
    job_timeout_per_audio_s: float = Field(4.0, gt=0)

    # URL ingest: the download's wall-clock cap (bytes and duration use the upload limits).
    ingest_timeout_s: float = Field(600.0, gt=0)
    # Lets URL jobs fetch from 127.0.0.1/::1. For tests only: it opens the server to SSRF.
    ingest_allow_loopback: bool = False

    # Webhooks (job.completed / job.failed / job.progress), sent by the API from an outbox
    # table, at least once; the same guard as URL ingest (public addresses only, loopback
    # with INGEST_ALLOW_LOOPBACK). A job's progress is sent at most once per interval; the
    # API looks for due deliveries this often; a try that takes longer is cut and retried.
    webhook_progress_interval_s: float = Field(5.0, gt=0, le=3600)
    webhook_poll_s: float = Field(1.0, gt=0, le=60)
    webhook_timeout_s: float = Field(10.0, gt=0, le=300)
    # Retries wait a random time up to base, 2 × base, 4 × base … (at most 2 h), until
    # the window after the first try has passed; then the delivery failed and its
    # endpoint is marked failing.
    webhook_retry_base_s: float = Field(5.0, gt=0, le=3600)
    webhook_retry_window_s: float = Field(86400.0, gt=0, le=7 * 86400)
    # Finished deliveries (the delivery log) are deleted after this many days.
    webhook_log_days: float = Field(7.0, gt=0, le=365)

    # Idempotency-Key on POST /api/jobs and /api/batches: how long a key is remembered.
    idempotency_ttl_s: int = Field(86400, ge=1)
    # The most songs (URLs or files) one POST /api/batches may carry.
    batch_max_items: int = Field(20, ge=1, le=1000)

    # Durable jobs: a job whose worker stops sending heartbeats is re-queued by the
    # reconciler, up to max_attempts runs in all, then failed with the reason.
    max_attempts: int = Field(3, ge=1)
    heartbeat_interval_s: float = Field(5.0, gt=0)
    heartbeat_timeout_s: float = Field(30.0, gt=0)
    reconcile_interval_s: float = Field(10.0, gt=0)
    # A job's event stream (SSE) sends a keep-alive this often while nothing changes, and
    # checks then that its sign-in is still valid (ending the stream when it is not).
    events_keepalive_s: float = Field(15.0, gt=0, le=300)
    # Event streams one API process holds open, in all and per user; past either, a new
    # one gets 429 (and the web app polls). Each holds a connection, so the total stays
    # below HTTP_MAX_CONNECTIONS, leaving room for every other request. Unset: four
    # fifths of HTTP_MAX_CONNECTIONS (800 of 1000); the per-user cap never above it.
    events_max_streams: int | None = Field(None, ge=1)
    events_max_streams_per_client: int = Field(50, ge=1)
    # Jobs finished longer ago than this are deleted, files and rows (0: keep forever).
    retention_days: float = Field(0.0, ge=0)
    # A cancelled job answers `cancelled` this long, then it is removed (its files go
    # at once, when it is cancelled).
    cancelled_retention_hours: float = Field(24.0, gt=0)
    # Whose completed jobs a new job may reuse the stems of (see core/dedup.py).
    dedup_scope: DedupScope = DedupScope.user
    result_ttl_s: int = Field(7 * 24 * 3600, ge=60)
    failure_ttl_s: int = Field(30 * 24 * 3600, ge=60)
    log_level: str = "INFO"
    # How log lines are written (see core/logs.py).
    log_format: LogFormat = LogFormat.auto
    # Prometheus /metrics on its own port, never the public one (0: off). Compose and
    # Kubernetes give every container the same port; `stemdeck up` runs three processes
    # on one host, so its worker takes this port + 1 and its reconciler + 2.
    metrics_port: int = Field(0, ge=0, le=65535 - 2)
    # Where /metrics listens: loopback on a laptop, 0.0.0.0 in a container for Prometheus.
    metrics_host: str = "127.0.0.1"
    # The built web app (index.html + assets) the API serves at /; empty: this
    # checkout's services/frontend/dist when it has been built.
    web_dir: Path | None = None

    auth: AuthMode = AuthMode.none
    # Lets `auth=none` listen beyond loopback, for a proxy in front that signs users in.
    allow_anonymous_network: bool = False
    # The first admin: ensured by `stemdeck migrate` / `stemdeck up`, never "whoever
    # signs in first". Required by auth=accounts.
    admin_email: str = ""
    admin_password: SecretStr = SecretStr("")
    # A session ends after this long unused, and this long after sign-in whatever happens.
    session_idle_hours: float = Field(168.0, gt=0)
    session_lifetime_days: float = Field(30.0, gt=0)
    # How long an API process trusts a cookie or token it has just looked up, before it
    # reads the database again (0: every request). Changes made by this process apply at
    # once; those made by another (a replica, `stemdeck users disable`) within this.
    auth_cache_seconds: float = Field(5.0, ge=0, le=60)
    # Signs what the server hands out and must recognise later (short-lived stem links;
    # the OIDC sign-in state waits in Redis instead). Empty: a random key per process,
    # which is enough for one API process; several (replicas) need one shared key.
    secret_key: SecretStr = SecretStr("")

    # Sign-in with an OpenID Connect provider (Google, Authentik, Keycloak, Authelia,
    # Zitadel…), under auth=accounts. The issuer is the URL its discovery document hangs
    # off (<issuer>/.well-known/openid-configuration), e.g. https://accounts.google.com.
    oidc_issuer: str = ""
    oidc_client_id: str = ""
    oidc_client_secret: SecretStr = SecretStr("")
    # The sign-in page's button; empty: "Sign in with Google" for Google, else the
    # issuer's host name.
    oidc_button_label: str = ""
    # Who may get an account by signing in with the provider (comma-separated), on their
    # provider-verified email: these addresses, and every address at these domains.
    # Someone with an account already (made by an admin) signs in whatever the lists say.
    oidc_allowed_emails: Annotated[list[str], NoDecode] = []
    oidc_allowed_domains: Annotated[list[str], NoDecode] = []
    # Turns password sign-in off: everyone signs in with the provider.
    oidc_only: bool = False

    # The address browsers use (https://stemdeck.example.com); empty: the address each
    # request came to. Its https makes the session cookie Secure, and its origin is one a
    # signed-in browser's POST, PUT, PATCH or DELETE may come from.
    public_url: str = ""
    # Host names the API answers to (comma-separated; "*" for any). Empty: the host of
    # STEMDECK_PUBLIC_URL plus localhost and 127.0.0.1. Any other Host header gets 400,
    # so a page whose name was re-pointed at this machine (DNS rebinding) reads nothing.
    allowed_hosts: str = ""
    # Failed sign-ins allowed per account (email) and per client IP in each window, in
    # Redis so they hold across API replicas; past either, sign-in answers 429.
    signin_attempts_per_account: int = Field(5, ge=1)
    signin_attempts_per_ip: int = Field(20, ge=1)
    signin_window_minutes: int = Field(15, ge=1, le=24 * 60)
    # Proxies whose X-Forwarded-For / -Proto the API believes (comma-separated IPs or
    # "*"), for the client address that per-IP sign-in limits count. Only what sits in
    # front of the API: anyone else listed could claim any address.
    forwarded_allow_ips: str = "127.0.0.1"
    # Each user's quotas unless an admin set their own (`stemdeck users quota`); 0 is
    # unlimited. Only under auth=accounts: a laptop's one user has no one to share with.
    # Jobs queued, fetching or running at once.
    quota_active_jobs: int = Field(10, ge=0)
    # Minutes of source audio accepted in the last 24 hours (a rolling day).
    quota_audio_minutes_per_day: int = Field(240, ge=0, le=2**31 - 1)
    # Bytes stored for the user's jobs (sources and stems), in MiB.
    quota_storage_mb: int = Field(20480, ge=0, le=2**40)
    # New jobs per minute per user and per client IP, counted in Redis so they hold
    # across API replicas; 0 is unlimited.
    job_create_per_minute_per_user: int = Field(10, ge=0)
    job_create_per_minute_per_ip: int = Field(30, ge=0)
    # Webhook endpoints one user may register (POST /api/webhooks); each event of theirs
    # is one delivery per endpoint, so this bounds the sending one job can cause.
    webhooks_per_user: int = Field(10, ge=1, le=1000)

    @field_validator("default_formats", mode="before")
    @classmethod
    def _split_formats(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("database_url")
    @classmethod
    def _check_database_url(cls, value: str) -> str:
        if value and not value.startswith(("postgresql", "sqlite")):
            raise ValueError("must start with postgresql+psycopg:// or sqlite:///")
        if value.startswith("postgresql://") or value.startswith("postgres://"):
            # psycopg 3 is the only Postgres driver installed; say so in the URL.
            value = "postgresql+psycopg://" + value.split("://", 1)[1]
        return value

    @field_validator("redis_url")
    @classmethod
    def _check_redis_url(cls, value: str) -> str:
        if value and not value.startswith(("redis://", "rediss://", "unix://")):
            raise ValueError("must start with redis://, rediss:// or unix://")
        return value

    @field_validator("s3_endpoint", "s3_public_url")
    @classmethod
    def _check_store_url(cls, value: str) -> str:
        if not value:
            return value
        parts = urlsplit(value)
        if parts.scheme not in {"http", "https"} or not parts.hostname:
            raise ValueError("must be a URL like https://host or http://host:9000")
        if parts.path.strip("/") or parts.query:
            raise ValueError(
                "must be scheme://host[:port] with no path; the bucket goes in STEMDECK_S3_BUCKET"
            )
        return value.rstrip("/")

    @field_validator("model_mirror")
    @classmethod
    def _check_model_mirror(cls, value: str) -> str:
        if not value:
            return value
        parts = urlsplit(value)
        if parts.scheme not in {"http", "https"} or not parts.hostname or parts.query:
            raise ValueError("must be a URL like https://mirror.example.com/stemdeck-models")
        return value.rstrip("/")

    @field_validator("public_url")
    @classmethod
    def _check_public_url(cls, value: str) -> str:
        if not value:
            return value
        parts = urlsplit(value)
        if parts.scheme not in {"http", "https"} or not parts.hostname or parts.username:
            raise ValueError("must be the URL browsers open, like https://stemdeck.example.com")
        return value.rstrip("/")

    @field_validator("allowed_hosts")
    @classmethod
    def _check_allowed_hosts(cls, value: str) -> str:
        for name in _host_list(value):
            if name != "*" and not re.fullmatch(r"[a-z0-9._:\[\]-]+", name):
                raise ValueError(
                    f"{name!r} is not a host name; list names like stemdeck.example.com, "
                    "comma-separated, without scheme or port"
                )
        return value

    @field_validator("oidc_issuer")
    @classmethod
    def _check_oidc_issuer(cls, value: str) -> str:
        if not value:
            return value
        # Pasting the discovery document's own URL is an easy mistake; its base is meant.
        value = value.strip().removesuffix(OIDC_DISCOVERY_PATH).rstrip("/")
        parts = urlsplit(value)
        if parts.scheme not in {"http", "https"} or not parts.hostname or parts.query:
            raise ValueError(
                "must be the provider's issuer URL, like https://accounts.google.com (its "
                f"discovery document is at <issuer>{OIDC_DISCOVERY_PATH})"
            )
        if parts.scheme == "http" and not is_loopback(parts.hostname):
            raise ValueError(
                "must be https: sign-in answers from the provider travel over it (plain "
                "http only for a provider on this machine, for testing)"
            )
        return value

    @field_validator("oidc_allowed_emails", mode="before")
    @classmethod
    def _split_emails(cls, value: object) -> object:
        if not isinstance(value, str):
            return value
        emails = [part.strip().lower() for part in value.split(",") if part.strip()]
        for email in emails:
            if not _EMAIL.fullmatch(email):
                raise ValueError(
                    f"{email!r} is not an email address; list ones like ada@example.com"
                )
        return emails

    @field_validator("oidc_allowed_domains", mode="before")
    @classmethod
    def _split_domains(cls, value: object) -> object:
        if not isinstance(value, str):
            return value
        domains = [part.strip().lower().lstrip("@") for part in value.split(",") if part.strip()]
        for domain in domains:
            if not _DOMAIN.fullmatch(domain):
                raise ValueError(
                    f"{domain!r} is not a domain name; list ones like example.com (no @ or "
                    "wildcards: each domain counts exactly, not its subdomains)"
                )
        return domains

    @field_validator("s3_bucket")
    @classmethod
    def _check_bucket(cls, value: str) -> str:
        if not re.fullmatch(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]", value):
            raise ValueError("must be 3-63 lowercase letters, digits, dots or hyphens")
        return value

    @field_validator("log_level")
    @classmethod
    def _check_log_level(cls, value: str) -> str:
        level = value.upper()
        if level not in {"DEBUG", "INFO", "WARNING", "ERROR"}:
            raise ValueError("must be one of DEBUG, INFO, WARNING, ERROR")
        return level

    @field_validator("admin_email")
    @classmethod
    def _check_admin_email(cls, value: str) -> str:
        value = value.strip().lower()
        if value and not _EMAIL.fullmatch(value):
            raise ValueError("must be an email address like admin@example.com")
        return value

    @model_validator(mode="after")
    def _check_formats(self) -> Settings:
        from stemdeck.core.formats import FORMATS

        unknown = [f for f in self.default_formats if f not in FORMATS]
        if unknown or not self.default_formats:
            raise ValueError(
                f"STEMDECK_DEFAULT_FORMATS: unknown format(s) {unknown}; "
                f"choose from {', '.join(FORMATS)}"
            )
        return self

    @model_validator(mode="after")
    def _check_s3(self) -> Settings:
        if self.storage is not StorageKind.s3:
            return self
        missing = [
            f"{ENV_PREFIX}{name.upper()}"
            for name, value in (
                ("s3_endpoint", self.s3_endpoint),
                ("s3_bucket", self.s3_bucket),
                ("s3_access_key", self.s3_access_key),
                ("s3_secret_key", self.s3_secret_key.get_secret_value()),
            )
            if not value
        ]
        if missing:
            raise ValueError(
                f"{missing[0]}: STEMDECK_STORAGE=s3 also needs {', '.join(missing)} "
                "(the store's URL, bucket and access keys)"
            )
        return self

    @model_validator(mode="after")
    def _check_event_streams(self) -> Settings:
        most = self.stream_caps[0]
        if self.events_max_streams is not None and most >= self.http_max_connections:
            raise ValueError(
                f"{ENV_PREFIX}EVENTS_MAX_STREAMS: {most} streams would take every one of the "
                f"{self.http_max_connections} connections {ENV_PREFIX}HTTP_MAX_CONNECTIONS "
                "allows, leaving none for other requests; lower it, or raise "
                f"{ENV_PREFIX}HTTP_MAX_CONNECTIONS"
            )
        asked = self.events_max_streams_per_client
        if "events_max_streams_per_client" in self.model_fields_set and asked > most:
            unset = (
                ""
                if self.events_max_streams
                else f", four fifths of {ENV_PREFIX}HTTP_MAX_CONNECTIONS"
            )
            raise ValueError(
                f"{ENV_PREFIX}EVENTS_MAX_STREAMS_PER_CLIENT: {asked} is more than the "
                f"{most} streams in all ({ENV_PREFIX}EVENTS_MAX_STREAMS{unset}); lower it"
            )
        return self

    @model_validator(mode="after")
    def _check_metrics_port(self) -> Settings:
        if self.metrics_port and self.metrics_port == self.port:
            raise ValueError(
                f"{ENV_PREFIX}METRICS_PORT: {self.metrics_port} is {ENV_PREFIX}PORT too; "
                "/metrics must not be reachable on the public port, so choose another "
                "(e.g. 9100) or 0 for none"
            )
        return self

    @model_validator(mode="after")
    def _check_webhook_retries(self) -> Settings:
        if self.webhook_retry_base_s >= self.webhook_retry_window_s:
            raise ValueError(
                f"{ENV_PREFIX}WEBHOOK_RETRY_BASE_S: {self.webhook_retry_base_s:g} s leaves no "
                f"room for retries in {ENV_PREFIX}WEBHOOK_RETRY_WINDOW_S "
                f"({self.webhook_retry_window_s:g} s); make it smaller than the window"
            )
        return self

    @model_validator(mode="after")
    def _check_heartbeat(self) -> Settings:
        if self.heartbeat_timeout_s <= 2 * self.heartbeat_interval_s:
            raise ValueError(
                f"{ENV_PREFIX}HEARTBEAT_TIMEOUT_S: must be more than twice "
                f"{ENV_PREFIX}HEARTBEAT_INTERVAL_S ({self.heartbeat_interval_s:g}), or live "
                "workers would be taken for dead"
            )
        return self

    @model_validator(mode="after")
    def _check_auth(self) -> Settings:
        email, password = self.admin_email, self.admin_password.get_secret_value()
        if bool(email) != bool(password):
            given, missing = (
                ("ADMIN_EMAIL", "ADMIN_PASSWORD") if email else ("ADMIN_PASSWORD", "ADMIN_EMAIL")
            )
            raise ValueError(
                f"{ENV_PREFIX}{missing}: {ENV_PREFIX}{given} is set, so the first admin "
                f"needs {ENV_PREFIX}{missing} too (or unset both)"
            )
        if self.auth is AuthMode.none:
            if not is_loopback(self.host) and not self.allow_anonymous_network:
                raise ValueError(
                    f"{ENV_PREFIX}AUTH: `none` on {ENV_PREFIX}HOST={self.host} would let anyone "
                    "who reaches the port read and delete every job; set "
                    f"{ENV_PREFIX}AUTH=accounts (with {ENV_PREFIX}ADMIN_EMAIL and "
                    f"{ENV_PREFIX}ADMIN_PASSWORD), keep {ENV_PREFIX}HOST on 127.0.0.1, or set "
                    f"{ENV_PREFIX}ALLOW_ANONYMOUS_NETWORK=true when a proxy in front signs "
                    "users in"
                )
            return self
        if not email:
            raise ValueError(
                f"{ENV_PREFIX}ADMIN_EMAIL: {ENV_PREFIX}AUTH=accounts needs the first admin's "
                f"{ENV_PREFIX}ADMIN_EMAIL and {ENV_PREFIX}ADMIN_PASSWORD; nobody could sign "
                "in otherwise"
            )
        return self

    @model_validator(mode="after")
    def _check_oidc(self) -> Settings:
        oidc = f"{ENV_PREFIX}OIDC_"
        if not self.oidc_issuer:
            extra = [
                f"{oidc}{name.upper()}"
                for name, value in (
                    ("client_id", self.oidc_client_id),
                    ("client_secret", self.oidc_client_secret.get_secret_value()),
                    ("only", self.oidc_only),
                    ("allowed_emails", self.oidc_allowed_emails),
                    ("allowed_domains", self.oidc_allowed_domains),
                )
                if value
            ]
            if extra:
                raise ValueError(
                    f"{oidc}ISSUER: {', '.join(extra)} is set, but sign-in with a provider "
                    f"needs {oidc}ISSUER too (e.g. https://accounts.google.com), or unset it"
                )
            return self
        if self.auth is not AuthMode.accounts:
            raise ValueError(
                f"{ENV_PREFIX}AUTH: {oidc}ISSUER signs users in, which needs "
                f"{ENV_PREFIX}AUTH=accounts (under `none` nobody signs in)"
            )
        missing = [
            f"{oidc}{name}"
            for name, value in (
                ("CLIENT_ID", self.oidc_client_id),
                ("CLIENT_SECRET", self.oidc_client_secret.get_secret_value()),
            )
            if not value.strip()
        ]
        if missing:
            raise ValueError(
                f"{missing[0]}: {oidc}ISSUER is set, so sign-in with the provider also needs "
                f"{' and '.join(missing)}: the client the provider gave Stemdeck when you "
                "registered it (redirect URI <public URL>/api/auth/oidc/callback)"
            )
        return self

    @model_validator(mode="after")
    def _check_admin_password(self) -> Settings:
        password = self.admin_password.get_secret_value()
        if password and len(password) < MIN_PASSWORD_LENGTH:
            raise ValueError(
                f"{ENV_PREFIX}ADMIN_PASSWORD: must be at least {MIN_PASSWORD_LENGTH} "
                "characters (`openssl rand -hex 16` makes one)"
            )
        return self

    @model_validator(mode="after")
    def _check_secret_key(self) -> Settings:
        key = self.secret_key.get_secret_value()
        if key and len(key) < MIN_SECRET_KEY_LENGTH and key not in EXAMPLE_SECRETS:
            raise ValueError(
                f"{ENV_PREFIX}SECRET_KEY: must be at least {MIN_SECRET_KEY_LENGTH} characters "
                "(`openssl rand -hex 32` makes one), or empty for a random key per process"
            )
        return self

    @model_validator(mode="after")
    def _refuse_example_secrets(self) -> Settings:
        """A secret still equal to its example value is public: it is in this repository."""
        secrets = {
            "admin_password": self.admin_password.get_secret_value(),
            "s3_secret_key": self.s3_secret_key.get_secret_value(),
            "secret_key": self.secret_key.get_secret_value(),
            "database_url": urlsplit(self.database_url).password or "",
            "redis_url": urlsplit(self.redis_url).password or "",
        }
        for field, value in secrets.items():
            if value in EXAMPLE_SECRETS:
                source = EXAMPLE_SECRETS[value]
                variable = f"{ENV_PREFIX}{field.upper()}"
                via = "" if source == variable else f" (set from {source} in Compose)"
                raise ValueError(
                    f"{variable}: still holds the example secret {value!r}{via}, which "
                    "anyone can read in the example files; change it to a long random "
                    "string (`openssl rand -hex 24`)"
                )
        return self

    @property
    def effective_database_url(self) -> str:
        return self.database_url or f"sqlite:///{(self.data_dir / 'stemdeck.db').resolve()}"

    @property
    def storage_root(self) -> Path:
        return self.data_dir / "storage"

    @property
    def effective_models_dir(self) -> Path:
        return self.models_dir or self.data_dir / "models"

    @property
    def public_origin(self) -> str | None:
        """scheme://host[:port] of ``public_url`` (what browsers send as Origin), if set."""
        if not self.public_url:
            return None
        parts = urlsplit(self.public_url)
        return f"{parts.scheme}://{parts.netloc}".lower()

    @property
    def host_allowlist(self) -> frozenset[str] | None:
        """The Host names requests may carry (lower case, no port); None: any."""
        names = set(_host_list(self.allowed_hosts))
        if "*" in names:
            return None
        if not names:
            names = {"localhost", "127.0.0.1", "[::1]"}
            if self.public_url:
                names.add(host_name(urlsplit(self.public_url).netloc))
        return frozenset(names)

    @property
    def named_hosts(self) -> frozenset[str]:
        """The Host names the API answers to by name: the allowlist without "*", plus the
        public URL's host. A "*" admits any Host to the API, but only these are trusted to
        appear in a link the API makes (a Host header is whatever the client sent)."""
        names = set(self.host_allowlist or _host_list(self.allowed_hosts)) - {"*"}
        if self.public_url:
            names.add(host_name(urlsplit(self.public_url).netloc))
        return frozenset(names)

    @property
    def bucket_at_public_origin(self) -> bool:
        """Whether browsers reach the bucket at the app's own origin: S3 storage whose
        public URL is STEMDECK_PUBLIC_URL's origin, as Compose's nginx serves it (the
        bucket proxied on the web port). Then every address the web port answers at
        serves the bucket too, and a stem can be presigned for the address a request
        came to (a LAN IP, say) rather than only for the public URL."""
        if self.storage is not StorageKind.s3 or not self.s3_public_url:
            return False
        parts = urlsplit(self.s3_public_url)
        return f"{parts.scheme}://{parts.netloc}".lower() == self.public_origin

    @property
    def store_origin(self) -> str | None:
        """scheme://host[:port] browsers fetch stems from when it is not this server."""
        url = self.s3_public_url or self.s3_endpoint
        if self.storage is not StorageKind.s3 or not url:
            return None
        parts = urlsplit(url)
        return f"{parts.scheme}://{parts.netloc}".lower()

    @property
    def oidc_label(self) -> str:
        """The sign-in page's button for the provider ("" when there is none)."""
        if not self.oidc_issuer:
            return ""
        if self.oidc_button_label.strip():
            return self.oidc_button_label.strip()
        host = urlsplit(self.oidc_issuer).hostname or self.oidc_issuer
        return "Sign in with Google" if host == "accounts.google.com" else f"Sign in with {host}"

    @property
    def password_sign_in(self) -> bool:
        """Whether email and password sign in (accounts mode, not OIDC only)."""
        return self.auth is AuthMode.accounts and not self.oidc_only

    @property
    def stream_caps(self) -> tuple[int, int]:
        """The most event streams one API process holds open: in all, and per user."""
        most = self.events_max_streams or max(1, self.http_max_connections * 4 // 5)
        return most, min(self.events_max_streams_per_client, most)

    @property
    def max_upload_bytes(self) -> int:
        return self.max_upload_mb * 1024 * 1024

    def require_redis_url(self) -> str:
        if not self.redis_url:
            raise SettingsError(
                f"{ENV_PREFIX}REDIS_URL is not set: point it at Redis "
                "(e.g. redis://127.0.0.1:6379/0), or use `stemdeck up`, which starts one"
            )
        return self.redis_url


# Settings also read under an older name, said in a bad value's message.
OLD_NAMES = {f"{ENV_PREFIX}LINK_TTL_S": f" (or its old name {ENV_PREFIX}S3_PRESIGN_TTL_S)"}


def describe_validation_error(error: ValidationError) -> str:
    lines = ["Stemdeck cannot start; fix these settings (environment or .env):"]
    for item in error.errors():
        field = ".".join(str(part) for part in item["loc"]) or "settings"
        message = item["msg"].removeprefix("Value error, ")
        name = message.split(":", 1)[0] if message.startswith(ENV_PREFIX) else None
        # A field read under environment names (an alias) is located by the first of them.
        variable = field if field.startswith(ENV_PREFIX) else f"{ENV_PREFIX}{field.upper()}"
        variable += OLD_NAMES.get(variable, "")
        if name:
            lines.append(f"  {message}")
        else:
            lines.append(f"  {variable}: {message} (got {item.get('input')!r})")
    return "\n".join(lines)


def load_settings() -> Settings:
    """Read settings fresh, turning validation errors into one readable message."""
    try:
        return Settings()
    except ValidationError as error:
        raise SettingsError(describe_validation_error(error)) from None


@lru_cache
def get_settings() -> Settings:
    return load_settings()
