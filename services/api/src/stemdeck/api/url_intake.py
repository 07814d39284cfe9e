"""Accepting a URL job: the URL is checked, the row written, the download queued — or nothing kept.

The download itself happens on the ``ingest`` queue (stemdeck.worker.ingest),
behind a guard on every connection; the check here refuses what is plainly
bad at once (not http(s), a host that does not resolve or resolves to a
non-public address), so most refusals are a 4xx on the request itself.
"""

from __future__ import annotations

import json
import logging
from typing import Any, TypeVar
from urllib.parse import urlsplit

from pydantic import BaseModel, Field, ValidationError
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request

from stemdeck.api import idempotency
from stemdeck.api.auth.principal import Principal
from stemdeck.api.context import AppContext
from stemdeck.api.errors import ApiError, json_required, refusal_status
from stemdeck.api.intake import (
    Accepted,
    JobSpec,
    admission,
    check_callback_url,
    choose_job,
    claim_key,
    count_new_job,
    enqueue,
    give_up,
    replayed_job,
    settle_key,
    spec_fields,
)
from stemdeck.core.lifecycle import new_job
from stemdeck.core.models import Job, new_job_id
from stemdeck.core.netguard import MAX_URL_LENGTH, UrlRefused, check_url
from stemdeck.core.settings import Settings

log = logging.getLogger(__name__)

M = TypeVar("M", bound=BaseModel)

MAX_BODY_BYTES = 16 * 1024
URL_EXAMPLE = '{"url": "https://…/song.mp3", "strategy": "vocals"}'


class JobCreateFromUrl(BaseModel):
    url: str = Field(max_length=MAX_URL_LENGTH, examples=["https://example.com/song.mp3"])
    strategy: str | None = Field(None, description="A name from GET /api/strategies")
    formats: list[str] | str | None = Field(
        None, description="A list, or one comma-separated string"
    )
    callback_url: str | None = Field(
        None,
        max_length=MAX_URL_LENGTH,
        description="A public http(s) URL that is sent the job, signed, once it completes "
        "or fails (POST /api/webhooks/callback-secret makes the secret that signs it)",
    )


def bad_body(message: str, example: str = URL_EXAMPLE) -> ApiError:
    return ApiError(400, "invalid_body", f"{message} Send JSON like {example}.")


def media_type(request: Request) -> str:
    """The Content-Type without its parameters, lower-cased ("" when there is none)."""
    return request.headers.get("content-type", "").split(";", 1)[0].strip().lower()


def require_json(request: Request) -> None:
    """415 unless the body is declared as JSON. A form or text/plain post is a "simple"
    request any web page can make cross-site, without a preflight; application/json is
    not, so accepting only it keeps other sites from submitting jobs."""
    if media_type(request) != "application/json":
        raise json_required(request.headers.get("content-type"))


async def read_json(request: Request, max_bytes: int, example: str) -> dict[str, Any]:
    """The request's JSON object, read up to ``max_bytes``; 415 unless declared as JSON,
    400 (with ``example``) when it is not a JSON object."""
    require_json(request)
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > max_bytes:
            raise bad_body(f"The JSON body is larger than {max_bytes // 1024} KB.", example)
    try:
        data: Any = json.loads(body or b"null")
    except (ValueError, RecursionError):  # RecursionError: nested past the parser's depth
        raise bad_body("The body is not valid JSON.", example) from None
    if not isinstance(data, dict):
        raise bad_body("The body is not a JSON object.", example)
    return data


def validated(model: type[M], data: dict[str, Any], example: str) -> M:
    """``data`` as ``model``; 400 naming the first field that does not fit."""
    try:
        return model.model_validate(data)
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        raise bad_body(f"{where}: {first['msg']}.", example) from None


async def read_url_body(request: Request) -> JobCreateFromUrl:
    data = await read_json(request, MAX_BODY_BYTES, URL_EXAMPLE)
    if "url" not in data:
        raise bad_body("The body has no 'url'.")
    return validated(JobCreateFromUrl, data, URL_EXAMPLE)


def formats_values(formats: list[str] | str | None) -> list[str]:
    """A JSON body's formats as the form's repeated fields: each may hold a list."""
    return formats if isinstance(formats, list) else [formats or ""]


def check_source_url(settings: Settings, url: str, where: str = "") -> str:
    """A URL to fetch, checked (public addresses only); ``where`` names it in a refusal
    ("urls[2]: "). Blocking (it resolves the host): run it in a thread."""
    try:
        return check_url(url, allow_loopback=settings.ingest_allow_loopback)
    except UrlRefused as error:
        raise ApiError(refusal_status(error.code), error.code, where + error.message) from None


def _display_name(url: str) -> str:
    parts = urlsplit(url)
    tail = parts.path.rstrip("/").rsplit("/", 1)[-1]
    return f"{parts.hostname}/{tail}"[:255] if tail else (parts.hostname or url)[:255]


def insert_url_job(
    context: AppContext, owner: Principal, job_id: str, url: str, spec: JobSpec
) -> Job:
    """Accept a checked URL as a job (not queued yet: see ``intake.enqueue``). Blocking."""
    job = new_job(
        job_id,
        spec.strategy.name,
        spec.formats,
        owner_id=owner.user_id,
        callback_url=spec.callback_url,
        batch_id=spec.batch_id,
        source_name=_display_name(url),
        source_url=url,
        source_key=None,
    )
    # Its length is unknown until it is downloaded: it counts toward the jobs at once
    # now, toward the day's minutes once fetched, and is admitted while under both.
    context.lifecycle.accept(job, admission(context, owner, None, None))
    return job


async def read_json_spec(
    context: AppContext, strategy: str | None, formats: list[str] | str | None, callback: str | None
) -> JobSpec:
    """The strategy, formats and callback_url of a JSON body, checked."""
    chosen, chosen_formats = await run_in_threadpool(
        choose_job, context, [strategy or ""], formats_values(formats)
    )
    callback_url = await run_in_threadpool(check_callback_url, context.settings, callback)
    return JobSpec(chosen, chosen_formats, callback_url)


async def create_job_from_url(request: Request, context: AppContext, owner: Principal) -> Accepted:
    settings = context.settings
    key = idempotency.read_key(request)
    await run_in_threadpool(count_new_job, request, context, owner)
    body = await read_url_body(request)
    spec = await read_json_spec(context, body.strategy, body.formats, body.callback_url)
    url = await run_in_threadpool(check_source_url, settings, body.url)
    fields = {"url": url, "spec": spec_fields(spec)}
    held = await claim_key(context, owner, key, "POST /api/jobs url", fields)
    if isinstance(held, idempotency.Replay):
        replay = await run_in_threadpool(replayed_job, context, owner, held.target_id)
        return Accepted(replay, replayed=True)

    job_id = new_job_id()
    row_written = False
    try:
        row_written = True
        job = await run_in_threadpool(insert_url_job, context, owner, job_id, url, spec)
        await run_in_threadpool(enqueue, context, job)
    except BaseException as error:
        await give_up(context, job_id, row_written, held, error)
        raise
    await settle_key(context, held, job_id)
    log.info("accepted URL job %s (%s)", job_id, spec.strategy.name)
    return Accepted(job)
