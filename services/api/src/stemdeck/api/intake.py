"""Accepting a job: the upload is stored, checked, recorded, then queued — or nothing is kept.

Order matters. Everything that can refuse the upload runs before the Job row is
committed (the quotas in the very transaction that writes it, so parallel uploads
cannot all pass them), and the row is committed before the RQ entry exists, so a
worker never sees an id without a row. Any failure removes the job's files (and row).
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import anyio
from redis.exceptions import RedisError
from sqlalchemy import delete
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request

from stemdeck.api.auth.principal import Principal
from stemdeck.api.auth.ratelimit import JobCreateLimiter, client_ip
from stemdeck.api.context import AppContext
from stemdeck.api.errors import ApiError, queue_unavailable, quota_exceeded, refusal_status
from stemdeck.api.jobstore import load_job
from stemdeck.api.upload import ReceivedFile, receive_form
from stemdeck.core.accounts.quotas import admission_refusal
from stemdeck.core.db import session_scope
from stemdeck.core.formats import FORMATS
from stemdeck.core.lifecycle import new_job
from stemdeck.core.models import Job, new_job_id
from stemdeck.core.probe import AudioError, AudioInfo, check_duration, probe, verify_decodes
from stemdeck.core.public_errors import public_text
from stemdeck.core.queue import enqueue_separation, separate_queue
from stemdeck.core.readiness import default_strategy, missing_weights_message
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


def _check_audio(storage: Storage, source: ReceivedFile, settings: Settings) -> AudioInfo:
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


def _insert_job(
    context: AppContext,
    owner: Principal,
    job_id: str,
    source: ReceivedFile,
    info: AudioInfo,
    strategy: Strategy,
    formats: list[str],
) -> Job:
    job = new_job(
        job_id,
        strategy.name,
        formats,
        owner_id=owner.user_id,
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


async def create_job_from_upload(request: Request, context: AppContext, owner: Principal) -> Job:
    settings, storage = context.settings, context.storage
    # Counted before the upload is read: a refused one costs no bandwidth or disk.
    await run_in_threadpool(count_new_job, request, context, owner)
    job_id = new_job_id()
    row_written = False
    try:
        form = await receive_form(request, storage, job_id, settings.max_upload_bytes)
        # Cheap checks first: a bad choice is refused before the file is decoded.
        strategy = choose_strategy(
            form.fields.get("strategy", []),
            context.strategies,
            default_strategy(context.strategies, settings),
        )
        if lacking := missing_weights_message(strategy, settings):
            raise ApiError(422, "weights_missing", lacking)
        formats = choose_formats(form.fields.get("formats", []), settings.default_formats)
        if form.file is None:
            raise ApiError(
                422,
                "missing_file",
                "No file was sent. Put the audio in a multipart form field named 'file'.",
            )
        source = form.file
        info = await run_in_threadpool(_check_audio, storage, source, settings)
        row_written = True  # set first: a commit can succeed and still raise on the way back
        job = await run_in_threadpool(
            _insert_job, context, owner, job_id, source, info, strategy, formats
        )
        if job.status == JobStatus.queued:
            await run_in_threadpool(
                enqueue_separation,
                separate_queue(context.redis),
                settings,
                job_id,
                info.duration_s,
                strategy.cost,
            )
    except BaseException as error:
        # Shielded so a client that hangs up mid-upload still leaves nothing behind.
        with anyio.CancelScope(shield=True):
            await run_in_threadpool(forget, settings, storage, job_id, row_written)
        if isinstance(error, RedisError):
            log.error("could not enqueue job %s: %s", job_id, error)
            raise queue_unavailable() from error
        raise
    log.info("accepted job %s (%s, %s)", job_id, strategy.name, source.display_name)
    return job
