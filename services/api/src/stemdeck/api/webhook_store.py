"""A user's webhook endpoints, their deliveries and their callback secret, as the routes
read and change them.

Everything is reached through its owner: another user's endpoint or delivery is
answered exactly as an id that never existed (404), so nothing of theirs shows.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from stemdeck.api.errors import ApiError
from stemdeck.core.models import CallbackSecret, User, WebhookDelivery, WebhookEndpoint, utcnow
from stemdeck.core.webhooks.deliveries import callback_secret, due_again
from stemdeck.core.webhooks.signing import new_secret

# models.new_id(): uuid4 hex. Anything else names no endpoint: a 404 without a query
# (and no NUL byte, which Postgres refuses, ever reaches one).
ENDPOINT_ID = re.compile(r"^[0-9a-f]{32}$")
# A delivery's id is its webhook-id ("msg_" and hex); its column holds at most 40.
DELIVERY_ID = re.compile(r"^[A-Za-z0-9_]{1,40}$")


def webhook_not_found(endpoint_id: str) -> ApiError:
    return ApiError(
        404,
        "webhook_not_found",
        f"None of your webhook endpoints has the id {endpoint_id!r}: it may have been "
        "deleted. GET /api/webhooks lists them.",
    )


def delivery_not_found(delivery_id: str) -> ApiError:
    return ApiError(
        404,
        "delivery_not_found",
        f"None of your webhook deliveries has the id {delivery_id!r}: the log keeps them "
        "for a while, and an endpoint's go with it. GET /api/webhooks/{id}/deliveries "
        "lists an endpoint's, GET /api/webhooks/callback-deliveries those to your jobs' "
        "callback_url.",
    )


def too_many_webhooks(cap: int) -> ApiError:
    return ApiError(
        409,
        "too_many_webhooks",
        f"You have {cap} webhook endpoints, the most this server allows each user "
        "(STEMDECK_WEBHOOKS_PER_USER). Delete one you no longer use (DELETE "
        "/api/webhooks/{id}), or change one's url or events (PATCH) instead.",
        details={"limit": cap},
    )


def list_endpoints(session: Session, owner_id: str) -> Sequence[WebhookEndpoint]:
    """The owner's endpoints, oldest first: the order they were added in."""
    return session.scalars(
        select(WebhookEndpoint)
        .where(WebhookEndpoint.owner_id == owner_id)
        .order_by(WebhookEndpoint.created_at, WebhookEndpoint.id)
    ).all()


def load_endpoint(session: Session, owner_id: str, endpoint_id: str) -> WebhookEndpoint:
    """The owner's endpoint with this id, else 404 ``webhook_not_found``."""
    found = (
        session.scalars(
            select(WebhookEndpoint).where(
                WebhookEndpoint.id == endpoint_id, WebhookEndpoint.owner_id == owner_id
            )
        ).first()
        if ENDPOINT_ID.match(endpoint_id)
        else None
    )
    if found is None:
        raise webhook_not_found(endpoint_id)
    return found


def add_endpoint(
    session: Session, owner_id: str, cap: int, fields: dict[str, Any]
) -> WebhookEndpoint:
    """A new endpoint with a new secret, unless the owner has ``cap`` already (409)."""
    # The owner's row locked: two requests at once cannot both take the last place.
    session.get_one(User, owner_id, with_for_update=True)
    held = session.scalar(
        select(func.count())
        .select_from(WebhookEndpoint)
        .where(WebhookEndpoint.owner_id == owner_id)
    )
    if (held or 0) >= cap:
        raise too_many_webhooks(cap)
    endpoint = WebhookEndpoint(owner_id=owner_id, secret=new_secret(), **fields)
    session.add(endpoint)
    session.flush()
    return endpoint


def delivery_page(
    session: Session, owner_id: str, endpoint_id: str | None, limit: int, offset: int
) -> tuple[Sequence[WebhookDelivery], int]:
    """A page of the owner's deliveries to one endpoint (None: to jobs' callback_url),
    newest first, and how many there are in all."""
    scope = [
        WebhookDelivery.owner_id == owner_id,
        WebhookDelivery.endpoint_id.is_(None)
        if endpoint_id is None
        else WebhookDelivery.endpoint_id == endpoint_id,
    ]
    count = session.scalar(select(func.count()).select_from(WebhookDelivery).where(*scope))
    page = session.scalars(
        select(WebhookDelivery)
        .where(*scope)
        .order_by(WebhookDelivery.created_at.desc(), WebhookDelivery.id.desc())
        .limit(limit)
        .offset(offset)
    ).all()
    return page, count or 0


def redeliver(session: Session, owner_id: str, delivery_id: str) -> WebhookDelivery:
    """The owner's delivery, due again now (core.webhooks.deliveries.due_again)."""
    delivery = (
        session.scalars(
            select(WebhookDelivery)
            .where(WebhookDelivery.id == delivery_id, WebhookDelivery.owner_id == owner_id)
            .with_for_update()
        ).first()
        if DELIVERY_ID.match(delivery_id)
        else None
    )
    if delivery is None:
        raise delivery_not_found(delivery_id)
    due_again(session, delivery_id)
    session.refresh(delivery)
    return delivery


def rotate_callback_secret(session: Session, owner_id: str) -> CallbackSecret:
    """A new secret for the owner's callback deliveries, replacing any they had; the
    sender reads it at each try, so retries still due are signed with it too."""
    callback_secret(session, owner_id)  # the row, made if the owner had none (race-safe)
    row = session.get_one(CallbackSecret, owner_id, with_for_update=True, populate_existing=True)
    row.secret = new_secret()
    row.created_at = utcnow()
    session.flush()
    return row
