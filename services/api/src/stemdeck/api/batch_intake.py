"""Accepting a batch: several URLs (JSON) or several files (multipart), one strategy and
one set of formats, made into a Batch row and one job per item — or nothing kept.

Every item is checked before anything is written, so a refused batch (too many items,
a URL the guard refuses, a file that does not decode) leaves no row and no file, and
the refusal names the item. Jobs are made by the same pieces single jobs are
(api/intake.py, api/url_intake.py), each admitted by the quotas on its own; if one is
refused midway, every job already made is forgotten with the batch.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from typing import Any

import anyio
from pydantic import BaseModel, Field
from redis.exceptions import RedisError
from sqlalchemy import delete
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request

from stemdeck.api import idempotency
from stemdeck.api.auth.principal import Principal
from stemdeck.api.context import AppContext
from stemdeck.api.errors import ApiError, queue_unavailable
from stemdeck.api.intake import (
    JobSpec,
    check_audio,
    claim_key,
    count_new_job,
    enqueue,
    forget,
    insert_upload_job,
    read_form_spec,
    settle_key,
    spec_fields,
)
from stemdeck.api.jobstore import cancel_queue_entry
from stemdeck.api.upload import ReceivedFile, receive_form
from stemdeck.api.url_intake import (
    MAX_BODY_BYTES,
    bad_body,
    check_source_url,
    insert_url_job,
    read_json,
    read_json_spec,
    validated,
)
from stemdeck.core.db import session_scope
from stemdeck.core.models import Batch, Job, new_id, new_job_id
from stemdeck.core.netguard import MAX_URL_LENGTH
from stemdeck.core.probe import AudioInfo
from stemdeck.core.settings import Settings

log = logging.getLogger(__name__)

BATCH_EXAMPLE = (
    '{"urls": ["https://…/one.mp3", "https://…/two.mp3"], "strategy": "vocals", '
    '"formats": ["flac"]}'
)


class BatchCreateFromUrls(BaseModel):
    urls: list[str] = Field(
        description="The songs to fetch, one job each (STEMDECK_BATCH_MAX_ITEMS at most)",
        examples=[["https://example.com/one.mp3", "https://example.com/two.mp3"]],
    )
    strategy: str | None = Field(None, description="A name from GET /api/strategies")
    formats: list[str] | str | None = Field(
        None, description="A list, or one comma-separated string"
    )
    callback_url: str | None = Field(
        None,
        max_length=MAX_URL_LENGTH,
        description="A public http(s) URL that is sent each job once it completes or fails",
    )


@dataclass(frozen=True)
class BatchAccepted:
    """The batch a POST made, or the one its Idempotency-Key made before."""

    batch_id: str
    replayed: bool = False


def check_count(count: int, settings: Settings, what: str) -> None:
    """422 for a batch of no items, or more than STEMDECK_BATCH_MAX_ITEMS."""
    most = settings.batch_max_items
    if count == 0:
        raise ApiError(
            422, "batch_empty", f"The batch has no {what}. Send at least one (at most {most})."
        )
    if count > most:
        raise ApiError(
            422,
            "batch_too_large",
            f"The batch has {count} {what}; this server takes at most {most} in one batch "
            "(STEMDECK_BATCH_MAX_ITEMS). Split them into several batches.",
        )


async def read_batch_body(request: Request, settings: Settings) -> BatchCreateFromUrls:
    # Room for every URL at its longest, and the other fields.
    most = settings.batch_max_items * (MAX_URL_LENGTH + 16) + MAX_BODY_BYTES
    data = await read_json(request, most, BATCH_EXAMPLE)
    if "urls" not in data:
        raise bad_body("The body has no 'urls'.", BATCH_EXAMPLE)
    urls = data["urls"]
    if not isinstance(urls, list):
        raise bad_body("urls: must be a list of URLs.", BATCH_EXAMPLE)
    check_count(len(urls), settings, "URLs")
    for index, url in enumerate(urls):
        if not isinstance(url, str) or not url.strip():
            raise bad_body(f"urls[{index}]: must be a URL (a non-empty string).", BATCH_EXAMPLE)
        if len(url) > MAX_URL_LENGTH:
            raise bad_body(
                f"urls[{index}]: longer than {MAX_URL_LENGTH} characters.", BATCH_EXAMPLE
            )
    return validated(BatchCreateFromUrls, data, BATCH_EXAMPLE)


def _check_urls(settings: Settings, urls: list[str]) -> list[str]:
    """Every URL checked, in order; the refusal names the first bad one. Blocking."""
    return [check_source_url(settings, url, f"urls[{index}]: ") for index, url in enumerate(urls)]


def _add_batch(context: AppContext, owner: Principal, batch_id: str, spec: JobSpec) -> None:
    with session_scope(context.settings.effective_database_url) as session:
        session.add(
            Batch(
                id=batch_id,
                owner_id=owner.user_id,
                strategy=spec.strategy.name,
                formats=spec.formats,
            )
        )


def _accept_urls(
    context: AppContext,
    owner: Principal,
    batch_id: str,
    urls: list[str],
    job_ids: list[str],
    spec: JobSpec,
) -> None:
    """The batch row, then every job (admitted one by one), then their downloads queued:
    nothing is queued unless every job was accepted. Blocking."""
    _add_batch(context, owner, batch_id, spec)
    spec = replace(spec, batch_id=batch_id)
    jobs = [
        insert_url_job(context, owner, job_id, url, spec)
        for job_id, url in zip(job_ids, urls, strict=True)
    ]
    for job in jobs:
        enqueue(context, job)


def _accept_uploads(
    context: AppContext,
    owner: Principal,
    batch_id: str,
    items: list[tuple[str, ReceivedFile, AudioInfo]],
    spec: JobSpec,
) -> None:
    """As ``_accept_urls``, for stored and checked uploads (job id, file, its audio)."""
    _add_batch(context, owner, batch_id, spec)
    spec = replace(spec, batch_id=batch_id)
    jobs = [
        insert_upload_job(context, owner, job_id, source, info, spec)
        for job_id, source, info in items
    ]
    for job in jobs:
        enqueue(context, job)


def forget_batch(context: AppContext, batch_id: str, job_ids: list[str]) -> None:
    """Remove a batch that was not accepted: its jobs (rows, files, queue entries), then
    its row. Best effort and never raising, like ``intake.forget``."""
    for job_id in job_ids:
        cancel_queue_entry(context.redis, job_id)
        forget(context.settings, context.storage, job_id, row_written=True)
    try:
        with session_scope(context.settings.effective_database_url) as session:
            session.execute(delete(Job).where(Job.batch_id == batch_id))
            session.execute(delete(Batch).where(Batch.id == batch_id))
    except Exception:
        log.exception("could not remove the row of refused batch %s", batch_id)


async def _give_up(
    context: AppContext,
    batch_id: str,
    job_ids: list[str],
    held: idempotency.Claim | idempotency.Replay | None,
    error: BaseException,
) -> None:
    with anyio.CancelScope(shield=True):
        await run_in_threadpool(forget_batch, context, batch_id, job_ids)
    await settle_key(context, held, None)
    if isinstance(error, RedisError):
        log.error("could not queue the jobs of batch %s: %s", batch_id, error)
        raise queue_unavailable() from error


async def create_batch_from_urls(
    request: Request, context: AppContext, owner: Principal
) -> BatchAccepted:
    settings = context.settings
    key = idempotency.read_key(request)
    # One count for the request: what the limit guards is the work of taking it in.
    await run_in_threadpool(count_new_job, request, context, owner)
    body = await read_batch_body(request, settings)
    spec = await read_json_spec(context, body.strategy, body.formats, body.callback_url)
    urls = await run_in_threadpool(_check_urls, settings, body.urls)
    fields: dict[str, Any] = {"urls": urls, "spec": spec_fields(spec)}
    held = await claim_key(context, owner, key, "POST /api/batches urls", fields)
    if isinstance(held, idempotency.Replay):
        return BatchAccepted(held.target_id, replayed=True)
    batch_id, job_ids = new_id(), [new_job_id() for _ in urls]
    try:
        await run_in_threadpool(_accept_urls, context, owner, batch_id, urls, job_ids, spec)
    except BaseException as error:
        await _give_up(context, batch_id, job_ids, held, error)
        raise
    await settle_key(context, held, batch_id)
    log.info("accepted batch %s of %d URL jobs (%s)", batch_id, len(urls), spec.strategy.name)
    return BatchAccepted(batch_id)


async def _checked_audio(context: AppContext, files: list[ReceivedFile]) -> list[AudioInfo]:
    """Every stored file probed and decoded; the refusal names the file."""
    infos = []
    for index, source in enumerate(files):
        try:
            infos.append(
                await run_in_threadpool(check_audio, context.storage, source, context.settings)
            )
        except ApiError as error:
            where = f"file[{index}] ({source.display_name}): "
            raise ApiError(error.status, error.code, where + error.message) from None
    return infos


async def create_batch_from_upload(
    request: Request, context: AppContext, owner: Principal
) -> BatchAccepted:
    settings, storage = context.settings, context.storage
    key = idempotency.read_key(request)
    await run_in_threadpool(count_new_job, request, context, owner)
    batch_id = new_id()
    job_ids = [new_job_id() for _ in range(settings.batch_max_items)]
    held: idempotency.Claim | idempotency.Replay | None = None
    try:
        form = await receive_form(request, storage, job_ids, settings.max_upload_bytes)
        spec = await read_form_spec(context, form)
        check_count(len(form.files), settings, "files (multipart fields named 'file')")
        fields = {"sha256": [file.sha256 for file in form.files], "spec": spec_fields(spec)}
        held = await claim_key(context, owner, key, "POST /api/batches upload", fields)
        if isinstance(held, idempotency.Replay):
            await run_in_threadpool(forget_batch, context, batch_id, job_ids)
            return BatchAccepted(held.target_id, replayed=True)
        infos = await _checked_audio(context, form.files)
        items = list(zip(job_ids, form.files, infos, strict=False))
        await run_in_threadpool(_accept_uploads, context, owner, batch_id, items, spec)
    except BaseException as error:
        await _give_up(context, batch_id, job_ids, held, error)
        raise
    await settle_key(context, held, batch_id)
    log.info("accepted batch %s of %d uploads (%s)", batch_id, len(items), spec.strategy.name)
    return BatchAccepted(batch_id)
