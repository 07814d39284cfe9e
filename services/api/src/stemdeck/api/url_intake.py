"""Accepting a URL job: the URL is checked, the row written, the download queued — or nothing kept.

The download itself happens on the ``ingest`` queue (stemdeck.worker.ingest),
behind a guard on every connection; the check here refuses what is plainly
bad at once (not http(s), a host that does not resolve or resolves to a
non-public address), so most refusals are a 4xx on the request itself.
"""

from __future__ import annotations

import json
import logging
from typing import Any
from urllib.parse import urlsplit

import anyio
from pydantic import BaseModel, Field, ValidationError
from redis.exceptions import RedisError
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request

from stemdeck.api.auth.principal import Principal
from stemdeck.api.context import AppContext
from stemdeck.api.errors import ApiError, json_required, queue_unavailable, refusal_status
from stemdeck.api.intake import (
    admission,
    choose_formats,
    choose_strategy,
    count_new_job,
    forget,
)
from stemdeck.core.lifecycle import new_job
from stemdeck.core.models import Job, new_job_id
from stemdeck.core.netguard import MAX_URL_LENGTH, UrlRefused, check_url
from stemdeck.core.queue import enqueue_ingest, ingest_queue
from stemdeck.core.readiness import default_strategy, missing_weights_message

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 16 * 1024


class JobCreateFromUrl(BaseModel):
    url: str = Field(max_length=MAX_URL_LENGTH, examples=["https://example.com/song.mp3"])
    strategy: str | None = Field(None, description="A name from GET /api/strategies")
    formats: list[str] | str | None = Field(
        None, description="A list, or one comma-separated string"
    )


def _bad_body(message: str) -> ApiError:
    return ApiError(
        400,
        "invalid_body",
        message + ' Send JSON like {"url": "https://…/song.mp3", "strategy": "vocals"}.',
    )


def media_type(request: Request) -> str:
    """The Content-Type without its parameters, lower-cased ("" when there is none)."""
    return request.headers.get("content-type", "").split(";", 1)[0].strip().lower()


def require_json(request: Request) -> None:
    """415 unless the body is declared as JSON. A form or text/plain post is a "simple"
    request any web page can make cross-site, without a preflight; application/json is
    not, so accepting only it keeps other sites from submitting jobs."""
    if media_type(request) != "application/json":
        raise json_required(request.headers.get("content-type"))


async def read_url_body(request: Request) -> JobCreateFromUrl:
    require_json(request)
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_BODY_BYTES:
            raise _bad_body(f"The JSON body is larger than {MAX_BODY_BYTES // 1024} KB.")
    try:
        data: Any = json.loads(body or b"null")
    except (ValueError, RecursionError):  # RecursionError: nested past the parser's depth
        raise _bad_body("The body is not valid JSON.") from None
    if not isinstance(data, dict) or "url" not in data:
        raise _bad_body("The body has no 'url'.")
    try:
        return JobCreateFromUrl.model_validate(data)
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        raise _bad_body(f"{where}: {first['msg']}.") from None


def _display_name(url: str) -> str:
    parts = urlsplit(url)
    tail = parts.path.rstrip("/").rsplit("/", 1)[-1]
    return f"{parts.hostname}/{tail}"[:255] if tail else (parts.hostname or url)[:255]


def _insert(
    context: AppContext, owner: Principal, job_id: str, url: str, strategy: str, formats: list[str]
) -> Job:
    job = new_job(
        job_id,
        strategy,
        formats,
        owner_id=owner.user_id,
        source_name=_display_name(url),
        source_url=url,
        source_key=None,
    )
    # Its length is unknown until it is downloaded: it counts toward the jobs at once
    # now, toward the day's minutes once fetched, and is admitted while under both.
    context.lifecycle.accept(job, admission(context, owner, None, None))
    return job


async def create_job_from_url(request: Request, context: AppContext, owner: Principal) -> Job:
    settings = context.settings
    await run_in_threadpool(count_new_job, request, context, owner)
    body = await read_url_body(request)
    strategy = choose_strategy(
        [body.strategy or ""], context.strategies, default_strategy(context.strategies, settings)
    )
    if lacking := missing_weights_message(strategy, settings):
        raise ApiError(422, "weights_missing", lacking)
    formats = choose_formats(
        body.formats if isinstance(body.formats, list) else [body.formats or ""],
        settings.default_formats,
    )
    try:
        url = await run_in_threadpool(
            check_url, body.url, allow_loopback=settings.ingest_allow_loopback
        )
    except UrlRefused as error:
        raise ApiError(refusal_status(error.code), error.code, error.message) from None

    job_id = new_job_id()
    row_written = False
    try:
        row_written = True
        job = await run_in_threadpool(_insert, context, owner, job_id, url, strategy.name, formats)
        await run_in_threadpool(enqueue_ingest, ingest_queue(context.redis), settings, job_id)
    except BaseException as error:
        with anyio.CancelScope(shield=True):
            await run_in_threadpool(forget, settings, context.storage, job_id, row_written)
        if isinstance(error, RedisError):
            log.error("could not enqueue the download of job %s: %s", job_id, error)
            raise queue_unavailable() from error
        raise
    log.info("accepted URL job %s (%s)", job_id, strategy.name)
    return job
