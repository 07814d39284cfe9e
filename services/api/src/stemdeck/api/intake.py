"""Accepting a job: the upload is stored, checked, recorded, then queued — or nothing is kept.

Order matters. Everything that can refuse the upload runs before the Job row is
committed (the quotas in the very transaction that writes it, so parallel uploads
cannot all pass them), and the row is committed before the RQ entry exists, so a
worker never sees an id without a row. Any failure removes the job's files (and row).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import anyio
from redis.exceptions import RedisError
from sqlalchemy import delete
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request

from stemdeck.api import idempotency
from stemdeck.api.auth.principal import Principal
from stemdeck.api.auth.ratelimit import JobCreateLimiter, client_ip
from stemdeck.api.context import AppContext
from stemdeck.api.errors import ApiError, queue_unavailable, quota_exceeded, refusal_status
from stemdeck.api.jobstore import load_job
from stemdeck.api.upload import ReceivedFile, ReceivedForm, receive_form
from stemdeck.core.accounts.quotas import admission_refusal
from stemdeck.core.db import session_scope
from stemdeck.core.formats import FORMATS
from stemdeck.core.lifecycle import new_job
from stemdeck.core.models import Job, new_job_id
from stemdeck.core.netguard import UrlRefused, check_url
from stemdeck.core.presence import read_workers, reports
from stemdeck.core.probe import AudioError, AudioInfo, check_duration, probe, verify_decodes
from stemdeck.core.public_errors import public_text
from stemdeck.core.queue import enqueue_ingest, enqueue_separation, ingest_queue, separate_queue
from stemdeck.core.readiness import Reports, default_strategy, missing_weights_message
from stemdeck.core.settings import AuthMode, Settings
from stemdeck.core.states import JobStatus
from stemdeck.core.storage import Storage, keys
from stemdeck.core.strategies import Strategy

log = logging.getLogger(__name__)


def choose_strategy(values: list[str], strategies: dict[str, Strategy], default: str) -> Strategy:
    name = (values[-1] if values else "").strip() or default
    strategy = strategies.get(name)
    if strategy is None:
        raise ApiError(
            422,
            "unknown_strategy",
            f"Unknown strategy {name!r}. Choose one of: {', '.join(strategies)} "
            "(GET /api/strategies describes them).",
        )
    return strategy


def choose_formats(values: list[str], default: list[str]) -> list[str]:
    """Formats from repeated fields and/or comma-separated lists, in order, without repeats."""
    chosen: list[str] = []
    for value in values:
        for part in value.split(","):
            name = part.strip().lower()
            if name and name not in chosen:
                chosen.append(name)
    unknown = [name for name in chosen if name not in FORMATS]
    if unknown:
        raise ApiError(
            422,
            "unknown_format",
            f"Unknown format(s): {', '.join(unknown)}. Choose from: {', '.join(FORMATS)} "
            "(comma-separated or repeated 'formats' fields).",
        )
    return chosen or list(default)


def count_new_job(request: Request, context: AppContext, owner: Principal) -> None:
    """429 past the per-minute limits on new jobs (per user, per IP; in Redis, so across
    replicas). Blocking: run it in a thread. Under auth=none nobody is limited."""
    if context.settings.auth is AuthMode.none:
        return
    limiter = JobCreateLimiter.from_settings(context.redis, context.settings)
    limiter.count(owner.user_id, client_ip(request))


def admission(
    context: AppContext, owner: Principal, seconds: float | None, size_bytes: int | None
) -> Callable[[Session], None] | None:
    """What ``lifecycle.accept`` runs before it adds ``owner``'s job, with ``seconds`` of
    audio in ``size_bytes`` (None: a URL job, not downloaded yet): 429 when the job would
    pass a quota of theirs. In the accepting transaction, with the user's row locked, so
    parallel requests are checked one at a time. Under auth=none there are no quotas."""
    settings = context.settings
    if settings.auth is AuthMode.none:
        return None

    def admit(session: Session) -> None:
        refusal = admission_refusal(session, owner.user_id, settings, seconds, size_bytes)
        if refusal is not None:
            raise quota_exceeded(refusal)

    return admit


def check_callback_url(settings: Settings, value: str | None) -> str | None:
    """The job's ``callback_url`` checked like a URL to fetch (public addresses only),
    None when none was given. Blocking (it resolves the host): run it in a thread."""
    if value is None or not value.strip():
        return None
    try:
        return check_url(value, allow_loopback=settings.ingest_allow_loopback)
    except UrlRefused as error:
        raise ApiError(
            refusal_status(error.code),
            error.code,
            f"callback_url: {error.message} Stemdeck posts the finished job there, so it "
            "must be a public http(s) address.",
        ) from None


def choose_job(
    context: AppContext, strategy_values: list[str], formats_values: list[str]
) -> tuple[Strategy, list[str]]:
    """The strategy (whose weights the workers must have, or be able to fetch) and
    formats a request asked for. Blocking (it reads Redis): run it in a thread."""
    settings = context.settings
    weights = _weights_reports(context)
    strategy = choose_strategy(
        strategy_values, context.strategies, default_strategy(context.strategies, settings, weights)
    )
    if lacking := missing_weights_message(strategy, settings, weights):
        raise ApiError(422, "weights_missing", lacking)
    return strategy, choose_formats(formats_values, settings.default_formats)


def _weights_reports(context: AppContext) -> Reports:
    """The live workers' weights reports; none (this process looks itself) when Redis
    does not answer, which the enqueue that follows reports as such."""
    try:
        return reports(read_workers(context.redis))
    except RedisError as error:
        log.warning("weights checked here, without the workers' reports: %s", error)
        return []


def check_audio(storage: Storage, source: ReceivedFile, settings: Settings) -> AudioInfo:
    """Probe and fully decode the stored source (blocking: run it in a thread)."""
    with storage.local_path(source.key) as path:
        try:
            info = probe(path)
            verify_decodes(path, info)
            check_duration(info, settings.max_duration_s)
        except AudioError as error:
            # ffmpeg's words may name the file where the server keeps it.
            message = public_text(error.message, [path.parent])
            raise ApiError(refusal_status(error.code), error.code, message) from None
    return info


@dataclass(frozen=True)
class JobSpec:
    """What every job of one request shares: how to separate it, and where it belongs."""

    strategy: Strategy
    formats: list[str]
    callback_url: str | None = None
    batch_id: str | None = None


def insert_upload_job(
    context: AppContext,
    owner: Principal,
    job_id: str,
    source: ReceivedFile,
    info: AudioInfo,
    spec: JobSpec,
) -> Job:
    """Accept an uploaded, checked source as a job (not queued yet: see ``enqueue``).
    Blocking: run it in a thread."""
    job = new_job(
        job_id,
        spec.strategy.name,
        spec.formats,
        owner_id=owner.user_id,
        callback_url=spec.callback_url,
        batch_id=spec.batch_id,
        source_name=source.display_name,
        source_key=source.key,
        source_sha256=source.sha256,
        source_size_bytes=source.size_bytes,
        source_format=info.format[:32],
        source_duration_s=info.duration_s,
        source_sample_rate=info.sample_rate,
        source_channels=info.channels,
    )
    # Quotas are checked once the length is known, in the transaction that adds the row:
    # a refusal writes nothing, and forget removes the stored upload.
    context.lifecycle.accept(job, admission(context, owner, info.duration_s, source.size_bytes))
    # Same audio, strategy and formats as a completed job: done at once from its stems.
    reused = context.lifecycle.reuse_twin(job_id, context.settings.dedup_scope)
    if not reused:
        return job
    if isinstance(reused, str):
        context.storage.delete_prefix(reused)
    with session_scope(context.settings.effective_database_url) as session:
        return load_job(session, job_id, owner)


def enqueue(context: AppContext, job: Job) -> None:
    """Queue an accepted job's next step: a URL job's download, an upload's separation
    (none for one done at once from a twin's stems). Blocking: run it in a thread."""
    settings = context.settings
    if job.source_key is None:
        enqueue_ingest(ingest_queue(context.redis), settings, job.id)
    elif job.status == JobStatus.queued:
        strategy = context.strategies[job.strategy]
        duration_s = job.source_duration_s or 0.0
        enqueue_separation(
            separate_queue(context.redis), settings, job.id, duration_s, strategy.cost
        )


def forget(settings: Settings, storage: Storage, job_id: str, row_written: bool) -> None:
    """Remove every trace of a job that was not accepted: its row, if any, and its files.

    Best effort and never raising, so the error that made us give up is the one
    the client sees (the database may be the thing that is down).
    """
    try:
        if row_written:
            with session_scope(settings.effective_database_url) as session:
                session.execute(delete(Job).where(Job.id == job_id))
    except Exception:
        log.exception("could not remove the row of refused job %s", job_id)
    try:
        storage.delete_prefix(keys.job_prefix(job_id))
    except Exception:
        log.exception("could not remove the files of refused job %s", job_id)


@dataclass(frozen=True)
class Accepted:
    """What a POST answers with: the job it made, or the one its Idempotency-Key made."""

    job: Job
    replayed: bool = False


async def claim_key(
    context: AppContext, owner: Principal, key: str | None, route: str, fields: dict[str, Any]
) -> idempotency.Claim | idempotency.Replay | None:
    """Claim the request's Idempotency-Key (None without one); may wait for a twin request."""
    if key is None:
        return None
    try:
        return await run_in_threadpool(
            idempotency.claim,
            context.redis,
            context.settings.idempotency_ttl_s,
            owner.user_id,
            key,
            idempotency.fingerprint(route, fields),
        )
    except RedisError as error:
        log.error("could not claim an idempotency key: %s", error)
        raise queue_unavailable() from error


def replayed_job(context: AppContext, owner: Principal, job_id: str) -> Job:
    """The job an earlier request with the same key made, as it is now. Blocking."""
    with session_scope(context.settings.effective_database_url) as session:
        try:
            return load_job(session, job_id, owner)
        except ApiError:
            raise idempotency.gone("job", job_id) from None


async def settle_key(
    context: AppContext, held: idempotency.Claim | idempotency.Replay | None, made: str | None
) -> None:
    """Record what the claimed request ``made`` under its key, or release the key when it
    made nothing (a failure), so a retry is a fresh try. Never raising: the job was made,
    or the error that ended the request is the one the client sees."""
    if not isinstance(held, idempotency.Claim):
        return
    with anyio.CancelScope(shield=True):
        try:
            if made is not None:
                await run_in_threadpool(idempotency.finish, context.redis, held, made)
            else:
                await run_in_threadpool(idempotency.release, context.redis, held)
        except RedisError as error:
            # The job stands (or the failure is reported); the claim lapses on its own.
            log.warning("could not settle an idempotency key: %s", error)


async def create_job_from_upload(
    request: Request, context: AppContext, owner: Principal
) -> Accepted:
    settings, storage = context.settings, context.storage
    key = idempotency.read_key(request)
    # Counted before the upload is read: a refused one costs no bandwidth or disk.
    await run_in_threadpool(count_new_job, request, context, owner)
    job_id = new_job_id()
    row_written = False
    held: idempotency.Claim | idempotency.Replay | None = None
    try:
        form = await receive_form(request, storage, [job_id], settings.max_upload_bytes)
        # Cheap checks first: a bad choice is refused before the file is decoded.
        spec, source = await _read_upload_form(context, form)
        fields = {"sha256": source.sha256, "spec": spec_fields(spec)}
        held = await claim_key(context, owner, key, "POST /api/jobs upload", fields)
        if isinstance(held, idempotency.Replay):
            await run_in_threadpool(forget, settings, storage, job_id, False)
            replay = await run_in_threadpool(replayed_job, context, owner, held.target_id)
            return Accepted(replay, replayed=True)
        info = await run_in_threadpool(check_audio, storage, source, settings)
        row_written = True  # set first: a commit can succeed and still raise on the way back
        job = await run_in_threadpool(insert_upload_job, context, owner, job_id, source, info, spec)
        await run_in_threadpool(enqueue, context, job)
    except BaseException as error:
        await give_up(context, job_id, row_written, held, error)
        raise
    await settle_key(context, held, job_id)
    log.info("accepted job %s (%s, %s)", job_id, spec.strategy.name, source.display_name)
    return Accepted(job)


async def _read_upload_form(
    context: AppContext, form: ReceivedForm
) -> tuple[JobSpec, ReceivedFile]:
    spec = await read_form_spec(context, form)
    if form.file is None:
        raise ApiError(
            422,
            "missing_file",
            "No file was sent. Put the audio in a multipart form field named 'file'.",
        )
    return spec, form.file


async def read_form_spec(context: AppContext, form: ReceivedForm) -> JobSpec:
    """The strategy, formats and callback_url of a multipart form, checked."""
    strategy, formats = await run_in_threadpool(
        choose_job, context, form.fields.get("strategy", []), form.fields.get("formats", [])
    )
    callbacks = form.fields.get("callback_url", [])
    callback_url = await run_in_threadpool(
        check_callback_url, context.settings, callbacks[-1] if callbacks else None
    )
    return JobSpec(strategy, formats, callback_url)


def spec_fields(spec: JobSpec) -> dict[str, Any]:
    """The parts of a spec that make two requests the same (for the idempotency key)."""
    return {
        "strategy": spec.strategy.name,
        "formats": spec.formats,
        "callback_url": spec.callback_url,
    }


async def give_up(
    context: AppContext,
    job_id: str,
    row_written: bool,
    held: idempotency.Claim | idempotency.Replay | None,
    error: BaseException,
) -> None:
    """Undo a job that was not accepted and let its key go; 503 when the queue failed."""
    # Shielded so a client that hangs up mid-upload still leaves nothing behind.
    with anyio.CancelScope(shield=True):
        await run_in_threadpool(forget, context.settings, context.storage, job_id, row_written)
    await settle_key(context, held, None)
    if isinstance(error, RedisError):
        log.error("could not enqueue job %s: %s", job_id, error)
        raise queue_unavailable() from error
