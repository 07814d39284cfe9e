"""The API's webhook sender: a background task that sends the outbox's due deliveries.

Every ``STEMDECK_WEBHOOK_POLL_S`` it claims the deliveries that are due (several API
replicas share the work: each row is claimed by one, core/webhooks/deliveries.py),
sends each through the guarded client (api/webhook_client.py), and records the try.
The database work runs in threads; the event loop only waits on sockets.

The body is rendered at a delivery's first try and stored, so every try (and every
redelivery) sends the same bytes: ``{"type", "timestamp", "data"}`` where ``data`` is
the job as GET /api/jobs/{id} answers it, its URLs on STEMDECK_PUBLIC_URL (without it,
``http://localhost:<STEMDECK_PORT>``, which only a receiver on this machine can follow).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from dataclasses import dataclass
from datetime import UTC
from typing import Any
from urllib.parse import urlsplit

from anyio import CancelScope, create_task_group, sleep, to_thread
from fastapi import FastAPI
from prometheus_client import Counter
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session
from starlette.requests import Request

from stemdeck.api import webhook_client
from stemdeck.api.bodies import encode
from stemdeck.api.presenters import job_public
from stemdeck.api.standings import standing_of
from stemdeck.core.db import session_scope
from stemdeck.core.models import Job, WebhookDelivery, utcnow
from stemdeck.core.settings import Settings
from stemdeck.core.webhooks.deliveries import (
    Claim,
    Outcome,
    claim_due,
    record_try,
    release,
    signing_secret,
)
from stemdeck.core.webhooks.signing import delivery_headers

log = logging.getLogger(__name__)

# Tries in flight at once in one API process.
CONCURRENCY = 16
# A claim outlives its try's timeout by this much: time for the database work around it.
LEASE_MARGIN_S = 30.0

TRIES = Counter(
    "stemdeck_webhook_tries",
    "Webhook delivery tries by event and what followed: delivered, retrying, failed "
    "(out of tries).",
    ["event", "result"],
)


@dataclass(frozen=True)
class Prepared:
    delivery_id: str
    event: str
    url: str
    body: bytes
    secret: str


def base_url(settings: Settings) -> str:
    return settings.public_url or f"http://localhost:{settings.port}"


class WebhookSender:
    def __init__(self, app: FastAPI, settings: Settings) -> None:
        self.app = app
        self.settings = settings
        self.database_url = settings.effective_database_url
        self._held: dict[str, Claim] = {}
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        """On the app's event loop, at start-up."""
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def aclose(self) -> None:
        """Stop: tries in flight are dropped, and their rows handed back for the next
        sender (one whose outcome was recorded meanwhile is left as it is)."""
        task, self._task = self._task, None
        if task is None:
            return
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        try:
            await to_thread.run_sync(release, self.database_url, list(self._held.values()))
        except SQLAlchemyError as error:
            log.warning("webhooks: claims kept until their lease ends: %s", error)

    async def _run(self) -> None:
        lease_s = self.settings.webhook_timeout_s + LEASE_MARGIN_S
        async with create_task_group() as group:
            while True:
                free = CONCURRENCY - len(self._held)
                # Shielded: rows claimed are held (and so handed back on a stop), never lost.
                with CancelScope(shield=True):
                    claims = await self._claim(free, lease_s)
                    for claim in claims:
                        self._held[claim.delivery_id] = claim
                for claim in claims:
                    group.start_soon(self._deliver, claim)
                await sleep(self.settings.webhook_poll_s)

    async def _claim(self, free: int, lease_s: float) -> list[Claim]:
        try:
            return await to_thread.run_sync(claim_due, self.database_url, free, lease_s)
        except SQLAlchemyError as error:
            log.warning("webhooks: the database cannot be read, trying later: %s", error)
            return []

    async def _deliver(self, claim: Claim) -> None:
        try:
            await self._try(claim)
        except Exception:
            # The row stays claimed until its lease ends, then it is tried again.
            log.exception("webhook %s: the try failed unexpectedly", claim.delivery_id)
        # Not in a finally: a try cancelled by aclose stays held, for aclose to hand back.
        self._held.pop(claim.delivery_id, None)

    async def _try(self, claim: Claim) -> None:
        prepared = await to_thread.run_sync(self._prepare, claim)
        if prepared is None:
            return
        headers = delivery_headers(prepared.secret, prepared.delivery_id, utcnow(), prepared.body)
        outcome = await webhook_client.post(
            prepared.url,
            prepared.body,
            headers,
            timeout_s=self.settings.webhook_timeout_s,
            allow_loopback=self.settings.ingest_allow_loopback,
        )
        status = await to_thread.run_sync(self._record, claim, outcome)
        if status is not None:
            result = "retrying" if status == "pending" else status
            TRIES.labels(prepared.event, result).inc()
            log.info(
                "webhook %s to %s: %s (%s)",
                prepared.delivery_id,
                prepared.url,
                result,
                outcome.status_code or outcome.response,
            )

    def _record(self, claim: Claim, outcome: Outcome) -> str | None:
        return record_try(
            self.database_url,
            claim,
            outcome,
            retry_base_s=self.settings.webhook_retry_base_s,
            retry_window_s=self.settings.webhook_retry_window_s,
        )

    def _prepare(self, claim: Claim) -> Prepared | None:
        """The claimed row's body (rendered and stored at its first try) and secret."""
        with session_scope(self.database_url) as session:
            row = session.get(WebhookDelivery, claim.delivery_id)
            if row is None or row.locked_until != claim.lease:
                return None
            secret = signing_secret(session, row)
            if secret is None:  # its endpoint was deleted since (its rows go with it)
                return None
            if row.payload is None:
                row.payload = self._render(session, row)
            return Prepared(row.id, row.event, row.url, row.payload.encode(), secret)

    def _render(self, session: Session, row: WebhookDelivery) -> str:
        job = session.get(Job, row.job_id)
        if job is None:
            # Deleted before its first try: its id is all there is left to say.
            data = json.dumps({"id": row.job_id}, separators=(",", ":")).encode()
        else:
            request = request_for(self.app, base_url(self.settings))
            data = encode(job_public(request, job, standing_of(request, job, session)))
        timestamp = row.created_at.astimezone(UTC).isoformat().replace("+00:00", "Z")
        head = json.dumps({"type": row.event, "timestamp": timestamp}, separators=(",", ":"))
        return head[:-1] + ',"data":' + data.decode() + "}"


def request_for(app: FastAPI, url: str) -> Request:
    """A request as if made to ``url``: what the presenters build absolute URLs from."""
    parts = urlsplit(url)
    root = parts.path.rstrip("/")
    default = 443 if parts.scheme == "https" else 80
    scope: dict[str, Any] = {
        "type": "http",
        "app": app,
        "method": "GET",
        "scheme": parts.scheme,
        "server": (parts.hostname, parts.port or default),
        "root_path": root,
        "path": root + "/",
        "query_string": b"",
        "headers": [(b"host", parts.netloc.encode())],
    }
    return Request(scope)
