"""/api/webhooks: the caller's webhook endpoints, the log of deliveries to them, and the
secret that signs deliveries to their jobs' own callback_url.

Tokens are welcome (jobs:read to look, jobs:write to change), as on /api/jobs: this is
what scripts and automation tools set up. An endpoint's secret is shown once, in the
answer that made it; a url is checked as URL ingest checks one (public addresses only).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response
from sqlalchemy.orm import Session

from stemdeck.api.auth.body import JsonBodyRoute
from stemdeck.api.auth.principal import JobsReader, JobsWriter
from stemdeck.api.deps import ContextDep
from stemdeck.api.errors import ApiError, refusal_status
from stemdeck.api.schemas import (
    JSON_BODY_ERRORS,
    SIGN_IN_ERRORS,
    CallbackSecretCreated,
    DeliveriesPublic,
    DeliveryPublic,
    WebhookCreate,
    WebhookCreated,
    WebhookPublic,
    WebhooksPublic,
    WebhookUpdate,
    error_responses,
)
from stemdeck.api.urls import route_urls
from stemdeck.api.webhook_store import (
    add_endpoint,
    delivery_page,
    list_endpoints,
    load_endpoint,
    redeliver,
    rotate_callback_secret,
)
from stemdeck.core.db import session_scope
from stemdeck.core.models import WebhookDelivery, WebhookEndpoint
from stemdeck.core.netguard import UrlRefused, check_url
from stemdeck.core.settings import Settings

router = APIRouter(
    prefix="/webhooks", tags=["webhooks"], route_class=JsonBodyRoute, responses=SIGN_IN_ERRORS
)

# Far past any real log, and inside every database's OFFSET (as GET /api/jobs).
MAX_OFFSET = 2**31 - 1
Limit = Annotated[int, Query(ge=1, le=100)]
Offset = Annotated[int, Query(ge=0, le=MAX_OFFSET)]

NO_ENDPOINT = "None of your endpoints has this id (webhook_not_found)"
URL_ERRORS = {
    "e400": "A url that is not a whole http(s) URL (invalid_url)",
    "e422": "A url whose host does not resolve (url_unresolvable) or is not a public "
    "address (url_forbidden); events not among those there are, or named twice; a "
    "description over 200 characters; an unknown field (invalid_request)",
}


def checked_url(url: str, settings: Settings) -> str:
    """``url`` stripped, if deliveries may go there; else the refusal URL ingest gives."""
    try:
        return check_url(url, allow_loopback=settings.ingest_allow_loopback)
    except UrlRefused as refused:
        raise ApiError(refusal_status(refused.code), refused.code, _for_webhooks(refused)) from None


def _for_webhooks(refused: UrlRefused) -> str:
    # netguard words its refusal for downloads; the reason holds here, its remedy not.
    reason, marker, _ = refused.message.partition(". Only public")
    if refused.code != "url_forbidden" or not marker:
        return refused.message
    return (
        reason.replace("will not fetch from", "will not deliver to")
        + ". Webhooks go to public http(s) addresses only: give the address a receiver "
        "has on the internet (for one on your own machine, a tunnel's)."
    )


def webhook_public(request: Request, endpoint: WebhookEndpoint) -> WebhookPublic:
    return WebhookPublic(
        id=endpoint.id,
        url=endpoint.url,
        events=endpoint.events,
        description=endpoint.description,
        created_at=endpoint.created_at,
        failing=endpoint.failing_since is not None,
        failing_since=endpoint.failing_since,
        deliveries_url=route_urls(request)("list_webhook_deliveries", webhook_id=endpoint.id),
    )


def delivery_public(delivery: WebhookDelivery) -> DeliveryPublic:
    return DeliveryPublic(
        id=delivery.id,
        event=delivery.event,
        job_id=delivery.job_id,
        url=delivery.url,
        status=delivery.status,
        attempts=delivery.attempts,
        created_at=delivery.created_at,
        last_attempt_at=delivery.last_attempt_at,
        next_attempt_at=delivery.next_attempt_at,
        status_code=delivery.last_status_code,
        latency_ms=delivery.last_latency_ms,
        response=delivery.last_response,
    )


def deliveries_public(
    session: Session, owner_id: str, endpoint_id: str | None, limit: int, offset: int
) -> DeliveriesPublic:
    page, count = delivery_page(session, owner_id, endpoint_id, limit, offset)
    data = [delivery_public(delivery) for delivery in page]
    return DeliveriesPublic(data=data, count=count, limit=limit, offset=offset)


# --- jobs' own callback_url: declared before /{webhook_id}, which would take its paths


@router.post(
    "/callback-secret",
    status_code=201,
    name="create_callback_secret",
    summary="Make, or replace, the secret that signs deliveries to your jobs' callback_url",
)
def create_callback_secret(principal: JobsWriter, context: ContextDep) -> CallbackSecretCreated:
    """The new secret is in this answer only; the one it replaces signs nothing more, so
    update your receivers with it."""
    with session_scope(context.settings.effective_database_url) as session:
        row = rotate_callback_secret(session, principal.user_id)
        return CallbackSecretCreated(secret=row.secret, created_at=row.created_at)


@router.get(
    "/callback-deliveries",
    name="list_callback_deliveries",
    summary="Deliveries to your jobs' callback_url, newest first",
    responses=error_responses(e422="A limit or offset out of range"),
)
def list_callback_deliveries(
    principal: JobsReader, context: ContextDep, limit: Limit = 20, offset: Offset = 0
) -> DeliveriesPublic:
    with session_scope(context.settings.effective_database_url) as session:
        return deliveries_public(session, principal.user_id, None, limit, offset)


@router.post(
    "/deliveries/{delivery_id}/redeliver",
    status_code=202,
    name="redeliver_webhook_delivery",
    summary="Send a delivery again: the same webhook-id and body, with a fresh set of tries",
    responses=error_responses(e404="None of your deliveries has this id (delivery_not_found)"),
)
def redeliver_delivery(
    delivery_id: str, principal: JobsWriter, context: ContextDep
) -> DeliveryPublic:
    """It is due at once; receivers that saw it before can tell by its webhook-id."""
    with session_scope(context.settings.effective_database_url) as session:
        return delivery_public(redeliver(session, principal.user_id, delivery_id))


# --- endpoints -------------------------------------------------------------------------


@router.post(
    "",
    status_code=201,
    name="create_webhook",
    summary="Register a URL to hear of your jobs' events",
    responses=error_responses(
        e409="You have STEMDECK_WEBHOOKS_PER_USER endpoints already (too_many_webhooks)",
        **URL_ERRORS,
        **JSON_BODY_ERRORS,
    ),
)
def create_webhook(
    body: WebhookCreate,
    request: Request,
    response: Response,
    principal: JobsWriter,
    context: ContextDep,
) -> WebhookCreated:
    """Its `secret` signs every delivery to it, and is in this answer only: keep it."""
    settings = context.settings
    fields: dict[str, Any] = {
        "url": checked_url(body.url, settings),
        "events": body.events,
        "description": body.description,
    }
    with session_scope(settings.effective_database_url) as session:
        endpoint = add_endpoint(session, principal.user_id, settings.webhooks_per_user, fields)
        public = webhook_public(request, endpoint)
        created = WebhookCreated(**public.model_dump(), secret=endpoint.secret)
    response.headers["Location"] = route_urls(request)("read_webhook", webhook_id=created.id)
    return created


@router.get("", name="list_webhooks", summary="Your webhook endpoints, oldest first")
def list_webhooks(request: Request, principal: JobsReader, context: ContextDep) -> WebhooksPublic:
    with session_scope(context.settings.effective_database_url) as session:
        rows = list_endpoints(session, principal.user_id)
        return WebhooksPublic(data=[webhook_public(request, row) for row in rows])


@router.get(
    "/{webhook_id}",
    name="read_webhook",
    summary="One of your webhook endpoints (never its secret)",
    responses=error_responses(e404=NO_ENDPOINT),
)
def read_webhook(
    webhook_id: str, request: Request, principal: JobsReader, context: ContextDep
) -> WebhookPublic:
    with session_scope(context.settings.effective_database_url) as session:
        return webhook_public(request, load_endpoint(session, principal.user_id, webhook_id))


@router.patch(
    "/{webhook_id}",
    name="update_webhook",
    summary="Change an endpoint's url, events or description (its secret stays)",
    responses=error_responses(e404=NO_ENDPOINT, **URL_ERRORS, **JSON_BODY_ERRORS),
)
def update_webhook(
    webhook_id: str,
    body: WebhookUpdate,
    request: Request,
    principal: JobsWriter,
    context: ContextDep,
) -> WebhookPublic:
    """Only the fields sent change; deliveries already made keep the url they had."""
    settings = context.settings
    url = checked_url(body.url, settings) if body.url is not None else None
    with session_scope(settings.effective_database_url) as session:
        endpoint = load_endpoint(session, principal.user_id, webhook_id)
        if url is not None:
            endpoint.url = url
        if body.events is not None:
            endpoint.events = list(body.events)
        if body.description is not None:
            endpoint.description = body.description
        session.flush()
        return webhook_public(request, endpoint)


@router.delete(
    "/{webhook_id}",
    status_code=204,
    name="delete_webhook",
    summary="Remove an endpoint, and its deliveries: none is sent to it again",
    responses=error_responses(e404=NO_ENDPOINT),
)
def delete_webhook(webhook_id: str, principal: JobsWriter, context: ContextDep) -> Response:
    with session_scope(context.settings.effective_database_url) as session:
        session.delete(load_endpoint(session, principal.user_id, webhook_id))
    return Response(status_code=204)


@router.get(
    "/{webhook_id}/deliveries",
    name="list_webhook_deliveries",
    summary="An endpoint's delivery log, newest first",
    responses=error_responses(e404=NO_ENDPOINT, e422="A limit or offset out of range"),
)
def list_webhook_deliveries(
    webhook_id: str,
    principal: JobsReader,
    context: ContextDep,
    limit: Limit = 20,
    offset: Offset = 0,
) -> DeliveriesPublic:
    with session_scope(context.settings.effective_database_url) as session:
        endpoint = load_endpoint(session, principal.user_id, webhook_id)
        return deliveries_public(session, principal.user_id, endpoint.id, limit, offset)
