"""Response bodies, named by role (``JobPublic``, ``JobsPublic``, …)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator
from pydantic_core import PydanticCustomError

from stemdeck.api.request_ids import PATTERN as REQUEST_ID_PATTERN
from stemdeck.core.accounts.api_tokens import MAX_EXPIRES_DAYS, MAX_NAME_LENGTH
from stemdeck.core.accounts.invites import MAX_INVITE_HOURS, MAX_INVITE_TOKEN_LENGTH
from stemdeck.core.accounts.passwords import MAX_PASSWORD_LENGTH
from stemdeck.core.accounts.quotas import MAX_INTEGER, MAX_STORAGE_MB
from stemdeck.core.accounts.tokens import Scope
from stemdeck.core.accounts.users import MAX_EMAIL_LENGTH
from stemdeck.core.formats import FormatId
from stemdeck.core.netguard import MAX_URL_LENGTH
from stemdeck.core.readiness import ModelStatus
from stemdeck.core.states import JobStatus, Stage


class ErrorDetail(BaseModel):
    code: str = Field(examples=["job_not_found"])
    message: str = Field(examples=["No job with id '…'. GET /api/jobs lists the jobs there are."])
    ref: str | None = Field(
        default=None,
        pattern=f"^{REQUEST_ID_PATTERN}$",
        examples=["3f9c2a7e1b4d8c06"],
        description="For a failure inside the server (500, a dependency down): the error "
        "reference, the request's X-Request-ID, which the server's log lines of it carry",
    )


class ErrorPublic(BaseModel):
    error: ErrorDetail


# The answers every job route may give before it looks at the job: not signed in (401),
# a token without the route's scope or a cross-site cookie request (403). For a
# router's ``responses``, so /docs and the generated client list them.
SIGN_IN_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorPublic, "description": "Not signed in (no or a dead session or token)"},
    403: {
        "model": ErrorPublic,
        "description": "The API token lacks the scope this needs, or a request signed in "
        "by cookie came from another site",
    },
}


def error_responses(**described: str) -> dict[int | str, dict[str, Any]]:
    """OpenAPI responses with what each means: ``error_responses(e404="…")``."""
    return {
        int(status[1:]): {"model": ErrorPublic, "description": text}
        for status, text in described.items()
    }


# What a route that reads a JSON body (auth.body.JsonBodyRoute) may answer about the body.
JSON_BODY_ERRORS = {
    "e413": "The body is over 16 KiB",
    "e415": "The body is not Content-Type: application/json",
}


class SourcePublic(BaseModel):
    name: str = Field(description="The uploaded file's name or the source's title, for display")
    url: str | None = Field(description="Where a URL job fetches its audio from")
    title: str | None = Field(description="The title the source gave (URL jobs)")
    # Empty until a URL job's audio has been downloaded.
    sha256: str | None
    size_bytes: int | None
    duration_s: float | None
    format: str | None
    sample_rate: int | None
    channels: int | None


class StemPublic(BaseModel):
    name: str
    duration_s: float
    lufs: float | None = Field(description="Integrated loudness (LUFS)")
    peak_dbfs: float | None
    formats: list[FormatId]
    sizes: dict[str, int] = Field(description="Bytes per format")
    urls: dict[str, str] = Field(description="Format → URL to stream (supports HTTP Range)")
    download_urls: dict[str, str] = Field(description="Format → URL that downloads as a file")
    waveform_url: str
    waveform_png_url: str


class KeyPublic(BaseModel):
    tonic: str = Field(description="The key's first note, with sharps: C, C#, D, … B")
    mode: Literal["major", "minor"]
    name: str = Field(examples=["A minor"], description="Tonic and mode, for display")
    confidence: float = Field(
        ge=0.0,
        le=1.0,
        description="How clearly the song's pitch classes fit this key's profile rather "
        "than another's; below about 0.5 treat the key as a guess (the relative or parallel "
        "key is the usual other reading)",
    )


class AnalysisPublic(BaseModel):
    bpm: float | None = Field(
        description="Tempo in beats per minute, from the beats found; null when the song "
        "has no steady beat"
    )
    beats: list[float] = Field(
        description="Every beat, in seconds from the start of the song, to the millisecond"
    )
    downbeats: list[float] = Field(
        description="The beats that start a bar (one in four: 4/4 time is assumed)"
    )
    key: KeyPublic | None = Field(description="The song's key; null when nothing pitched")


class JobPublic(BaseModel):
    id: str
    url: str
    owner_id: str = Field(
        description="The id of the user who submitted it; only they (and admins) see the job"
    )
    status: JobStatus = Field(
        description="queued → fetching (URL jobs) → running → completed, failed or cancelled. "
        "A cancelled job answers so for STEMDECK_CANCELLED_RETENTION_HOURS, then 404."
    )
    stage: Stage = Field(description="What an unfinished job is doing now")
    stage_detail: str | None = Field(
        description="The model at work while separating (demucs:htdemucs, …), or, while "
        "its weights download on first use, 'downloading demucs:htdemucs weights 40%'"
    )
    progress: float = Field(ge=0.0, le=1.0)
    eta_seconds: float | None = Field(
        description="Estimated seconds left while running, from the measured speed of its "
        "strategy on its worker's device (extrapolated from progress until one was measured)"
    )
    queue_position: int | None = Field(
        description="While queued: its place in line, 1 = next; null otherwise"
    )
    estimated_start_s: float | None = Field(
        description="While queued: seconds until a worker should start it, from the work "
        "ahead and the workers' measured speed; null when unknown",
    )
    error: str | None
    error_code: str | None = Field(
        description="Why it failed, stable: url_forbidden, timeout, worker_lost, …"
    )
    error_status: int | None = Field(
        description="For a source refused while it was fetched, the 4xx it stands for"
    )
    notes: list[str] = Field(description="What the service did to the audio, for the user")
    gain_db: float = Field(
        description="Gain applied to every stem; below 0 when loud input was turned down"
    )
    strategy: str
    strategy_label: str | None = Field(
        description="The strategy in plain words, as GET /api/strategies names it; null when "
        "this server's strategies file no longer has it"
    )
    formats: list[FormatId]
    attempts: int
    created_at: datetime
    updated_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    source: SourcePublic
    stems: list[StemPublic]
    zip_url: str | None = Field(description="All stems in one zip, once the job is completed")
    callback_url: str | None = Field(
        description="Where the job is sent, signed, once it completes or fails; null for none"
    )
    batch_id: str | None = Field(
        description="The batch it was sent in (GET /api/batches/{id}); null for a single job"
    )
    analysis: AnalysisPublic | None = Field(
        description="Tempo, beats, downbeats and key, measured on the song by the worker "
        "once the job is completed; null before that, for jobs finished before Stemdeck "
        "measured them, and when the measurement failed (the stems are there all the same)"
    )


class JobsPublic(BaseModel):
    data: list[JobPublic]
    count: int = Field(description="Jobs in total, for pagination")
    limit: int
    offset: int


BatchStatus = Literal["queued", "running", "completed", "failed", "partial"]


class BatchPublic(BaseModel):
    id: str
    url: str
    created_at: datetime
    strategy: str
    formats: list[FormatId]
    status: BatchStatus = Field(
        description="queued (no job started), running, then completed (every job did), "
        "failed (none did) or partial (some did)"
    )
    progress: float = Field(
        ge=0.0, le=1.0, description="The mean of its jobs' progress, a finished job as 1"
    )
    counts: dict[str, int] = Field(description="How many of its jobs are in each status")
    jobs: list[JobPublic] = Field(description="Its jobs, in the order they were sent")
    zip_url: str | None = Field(
        description="Every completed job's stems in one zip, once every job has finished "
        "and at least one completed"
    )


class BatchesPublic(BaseModel):
    data: list[BatchPublic]
    count: int = Field(description="Batches in total, for pagination")
    limit: int
    offset: int


class ModelPublic(BaseModel):
    id: str
    label: str
    status: ModelStatus = Field(
        description="'ready': weights present; 'download': fetched on first use (downloads "
        "are on and their source answered lately); 'missing': jobs are refused until "
        "missing_files are put in place"
    )
    missing_files: list[str] = Field(
        description="Weight files not yet in the models directory, as paths relative to it"
    )


class StrategyPublic(BaseModel):
    name: str
    label: str
    stems: list[str]
    models: list[ModelPublic]
    default: bool
    seconds_per_audio_second: float | None = Field(
        description="Seconds of work per second of audio on this server: the median, over "
        "the live workers, of the speed measured on each one's device; null until it ran there"
    )
    available: bool = Field(
        description="A job for it would start now: its weights are present (or download on "
        "first use) and a live worker takes separations"
    )
    unavailable_reason: str | None = Field(
        description="Why it is not available, and what to do, in words for the page; null "
        "when available"
    )


class FormatPublic(BaseModel):
    id: FormatId = Field(description="What a job's `formats` names it by")
    label: str = Field(examples=["FLAC 24-bit"])
    extension: str = Field(description="Of the stem files, without the dot")
    media_type: str = Field(examples=["audio/flac"])
    lossless: bool
    default: bool = Field(
        description="In STEMDECK_DEFAULT_FORMATS: what a job gets when it names no format"
    )


class HealthPublic(BaseModel):
    status: Literal["ok"]


class ReadyPublic(BaseModel):
    status: Literal["ready"]
    checks: dict[str, str]


# The older "Stem Splitter" REST API, kept for its clients (routes/compat.py).


class CompatUploadPublic(BaseModel):
    job_id: str
    status: str
    status_url: str


class CompatStatusPublic(BaseModel):
    job_id: str
    status: str
    stage: str
    progress: float
    eta_seconds: float | None
    error: str | None
    stems: list[str]
    downloads: dict[str, str] = Field(description="Stem → download URL (default format)")


class CompatDeletedPublic(BaseModel):
    job_id: str
    deleted: bool


# Sign-in (routes/auth.py).


class LoginCredentials(BaseModel):
    email: str = Field(min_length=1, max_length=320, examples=["ada@example.com"])
    # Up to passwords.MAX_PASSWORD_LENGTH: longer cannot be anyone's password.
    password: str = Field(min_length=1, max_length=1024)


class UserPublic(BaseModel):
    id: str
    email: str
    is_admin: bool


class MePublic(BaseModel):
    user: UserPublic
    auth: Literal["none", "accounts"] = Field(description="The server's STEMDECK_AUTH")
    via: Literal["local", "session", "token"] = Field(
        description="How this request proved who it is: local (auth none, everyone is "
        "the local admin), session (the sign-in cookie) or token (an API token)"
    )


class OidcMethodPublic(BaseModel):
    label: str = Field(description="The sign-in button's text, e.g. 'Sign in with Google'")
    login_url: str = Field(
        description="Where the button leads (add ?next=/path to come back to a page)"
    )


class SignInMethodsPublic(BaseModel):
    auth: Literal["none", "accounts"] = Field(description="The server's STEMDECK_AUTH")
    password: bool = Field(
        description="Whether email and password sign in (false under auth none, or "
        "STEMDECK_OIDC_ONLY=true)"
    )
    oidc: OidcMethodPublic | None = Field(
        description="Sign-in with an OpenID Connect provider, when it is set up"
    )


# Your account (routes/account.py).


class SessionPublic(BaseModel):
    id: str = Field(
        description="A handle for DELETE /api/account/sessions/{id}; not the cookie, and "
        "cannot be turned into it"
    )
    created_at: datetime = Field(description="When this session signed in")
    last_seen_at: datetime = Field(description="Its latest request (updated each minute)")
    expires_at: datetime = Field(description="Its absolute end; it ends sooner when idle")
    user_agent: str | None = Field(description="The browser that signed in, as it said")
    ip: str | None = Field(description="The address it signed in from")
    current: bool = Field(description="Whether this is the session making this request")


class TokenPublic(BaseModel):
    id: str
    name: str
    prefix: str = Field(
        description="The token's first characters, to tell tokens apart", examples=["sdk_AbC12xYz"]
    )
    scopes: list[Scope]
    created_at: datetime
    last_used_at: datetime | None = Field(description="Updated at most once a minute")
    expires_at: datetime | None = Field(description="None: it never expires")


class TokenCreate(BaseModel):
    # Unknown fields are refused: a misspelt "expires_day" must not make a token that
    # never expires.
    model_config = ConfigDict(extra="forbid")

    name: str = Field(
        description=f"1 to {MAX_NAME_LENGTH} characters, to tell your tokens apart",
        examples=["backup script"],
    )
    scopes: list[str] = Field(
        description="One or more of "
        + ", ".join(scope.value for scope in Scope)
        + " (admin only for admins)",
        examples=[["jobs:read", "jobs:write"]],
    )
    expires_days: int | None = Field(
        default=None,
        strict=True,
        ge=1,
        le=MAX_EXPIRES_DAYS,
        description="Days it works; null or left out: it never expires",
    )


class TokenCreated(TokenPublic):
    token: str = Field(
        description="The token itself, shown this once: only its hash is kept",
        examples=["sdk_AbC12xYz…"],
    )


class PasswordChange(BaseModel):
    model_config = ConfigDict(extra="forbid")

    current_password: str = Field(min_length=1, max_length=MAX_PASSWORD_LENGTH)
    # Its rules (length, not an example password) are checked by the route, which says
    # which one failed.
    new_password: str


# Usage against the caller's quotas (routes/usage.py).


class QuotaUsagePublic(BaseModel):
    used: int
    allowed: int | None = Field(description="The caller's limit; null: unlimited")


class AudioUsagePublic(BaseModel):
    used: float = Field(description="Minutes of source audio sent in the last 24 hours")
    allowed: int | None = Field(description="Minutes allowed in any 24 hours; null: unlimited")
    resets_at: datetime | None = Field(
        description="When the earliest of those minutes leave the rolling 24 hours (and "
        "`used` drops); null when none are counted"
    )


class UsagePublic(BaseModel):
    active_jobs: QuotaUsagePublic = Field(description="Jobs queued, fetching or running")
    audio_minutes_today: AudioUsagePublic
    storage_bytes: QuotaUsagePublic = Field(
        description="Bytes of the caller's stored sources and stems"
    )


# Admins manage users and invites (routes/admin_users.py, routes/invites.py).


class QuotaOverridesPublic(BaseModel):
    active_jobs: int | None = Field(description="Own limit; null: the server's default")
    audio_minutes_per_day: int | None = Field(description="Own limit; null: the default")
    storage_mb: int | None = Field(description="Own limit in MB; null: the default")


class AdminUsagePublic(BaseModel):
    active_jobs: int = Field(description="Jobs queued, fetching or running")
    audio_minutes_today: float = Field(description="Minutes of audio sent in the last 24 hours")
    storage_bytes: int = Field(description="Bytes of the user's stored sources and stems")


class AdminUserPublic(BaseModel):
    id: str
    email: str
    is_admin: bool
    disabled: bool
    first_admin: bool = Field(
        description="The settings' first admin (STEMDECK_ADMIN_EMAIL): cannot be disabled "
        "or lose the admin role here"
    )
    created_at: datetime
    quotas: QuotaOverridesPublic = Field(
        description="The user's own limits (0: unlimited); null ones are the defaults"
    )
    usage: AdminUsagePublic


class QuotaOverridesUpdate(BaseModel):
    """Only the quotas named change; null puts one back to the server's default."""

    model_config = ConfigDict(extra="forbid")

    active_jobs: int | None = Field(default=None, strict=True, ge=0, le=MAX_INTEGER)
    audio_minutes_per_day: int | None = Field(default=None, strict=True, ge=0, le=MAX_INTEGER)
    storage_mb: int | None = Field(default=None, strict=True, ge=0, le=MAX_STORAGE_MB)


class AdminUserUpdate(BaseModel):
    """Only the fields sent change."""

    model_config = ConfigDict(extra="forbid")

    is_admin: bool | None = Field(default=None, strict=True)
    disabled: bool | None = Field(
        default=None,
        strict=True,
        description="true ends all the user's sessions and revokes their API tokens at once",
    )
    quotas: QuotaOverridesUpdate | None = None


class InviteCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    email: str = Field(min_length=1, max_length=MAX_EMAIL_LENGTH, examples=["ada@example.com"])
    is_admin: bool = Field(default=False, strict=True)
    expires_hours: int = Field(default=72, strict=True, ge=1, le=MAX_INVITE_HOURS)


class InvitePublic(BaseModel):
    id: str
    email: str
    is_admin: bool
    created_by: str | None = Field(description="The admin's user id who sent it")
    created_at: datetime
    expires_at: datetime


class InviteCreated(InvitePublic):
    url: str = Field(
        description="The link to send, shown this once: only its token's hash is kept",
        examples=["https://stemdeck.example.com/invite#Zm9vYmFy…"],
    )


class InviteAccept(BaseModel):
    model_config = ConfigDict(extra="forbid")

    token: str = Field(min_length=1, max_length=MAX_INVITE_TOKEN_LENGTH)
    # Its rules are checked by the route, which says which one failed.
    password: str


# Webhooks: endpoints a user registers, the deliveries sent to them, and the secret of
# jobs' own callback URLs (routes/webhooks.py).

WebhookEvent = Literal["job.completed", "job.failed", "job.progress"]
DEFAULT_WEBHOOK_EVENTS: list[WebhookEvent] = ["job.completed", "job.failed"]
MAX_WEBHOOK_DESCRIPTION = 200
EVENTS_DESCRIPTION = (
    "One or more of job.completed, job.failed and job.progress (as the job moves, "
    "throttled), each once"
)


def _distinct_events(events: list[WebhookEvent] | None) -> list[WebhookEvent] | None:
    if events is not None:
        twice = sorted({event for event in events if events.count(event) > 1})
        if twice:
            raise PydanticCustomError(
                "duplicate_events",
                "{twice} named more than once: name each event once",
                {"twice": ", ".join(twice)},
            )
    return events


class WebhookCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: str = Field(
        max_length=MAX_URL_LENGTH,
        description="Where deliveries are POSTed: a public http(s) address",
        examples=["https://example.com/hooks/stemdeck"],
    )
    events: list[WebhookEvent] = Field(
        default_factory=lambda: list(DEFAULT_WEBHOOK_EVENTS),
        min_length=1,
        description=EVENTS_DESCRIPTION + "; default job.completed and job.failed",
    )
    description: str = Field(
        default="", max_length=MAX_WEBHOOK_DESCRIPTION, examples=["n8n: new stems"]
    )

    _events = field_validator("events")(_distinct_events)


class WebhookUpdate(BaseModel):
    """Only the fields sent change (null: unchanged); a new url is checked again."""

    model_config = ConfigDict(extra="forbid")

    url: str | None = Field(default=None, max_length=MAX_URL_LENGTH)
    events: list[WebhookEvent] | None = Field(
        default=None, min_length=1, description=EVENTS_DESCRIPTION
    )
    description: str | None = Field(default=None, max_length=MAX_WEBHOOK_DESCRIPTION)

    _events = field_validator("events")(_distinct_events)


class WebhookPublic(BaseModel):
    id: str
    url: str
    events: list[WebhookEvent]
    description: str
    created_at: datetime
    failing: bool = Field(
        description="A delivery to it ran out of tries; the next one that succeeds clears it"
    )
    failing_since: datetime | None = Field(description="When that delivery gave up")
    deliveries_url: str = Field(description="Its delivery log (GET)")


class WebhookCreated(WebhookPublic):
    secret: str = Field(
        description="Signs every delivery to it (Standard Webhooks); shown this once",
        examples=["whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"],
    )


class WebhooksPublic(BaseModel):
    data: list[WebhookPublic]


class DeliveryPublic(BaseModel):
    id: str = Field(
        description="Its webhook-id header, the same on every try and redelivery: "
        "receivers deduplicate on it",
        examples=["msg_5f0c3a1e9b2d4c6a8e7f1b3d5c7a9e0f"],
    )
    event: WebhookEvent
    job_id: str
    url: str = Field(description="Where it is sent")
    status: Literal["pending", "delivered", "failed"] = Field(
        description="pending: to be tried (again) at next_attempt_at; delivered: a 2xx "
        "answer; failed: out of tries"
    )
    attempts: int = Field(description="Tries so far")
    created_at: datetime
    last_attempt_at: datetime | None
    next_attempt_at: datetime | None
    status_code: int | None = Field(description="The last try's HTTP status")
    latency_ms: int | None = Field(description="How long the last try took")
    response: str | None = Field(
        description="The start of the last answer's body, or why there was none"
    )


class DeliveriesPublic(BaseModel):
    data: list[DeliveryPublic] = Field(description="Newest first")
    count: int
    limit: int
    offset: int


class CallbackSecretCreated(BaseModel):
    secret: str = Field(
        description="Signs deliveries to your jobs' callback_url; shown this once, and "
        "the one it replaces stops signing at once",
        examples=["whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"],
    )
    created_at: datetime
