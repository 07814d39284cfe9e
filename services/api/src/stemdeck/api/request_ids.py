"""Every request gets an id: in its log lines, in the ``X-Request-ID`` of its answer, and
as the error reference of a failure inside the server.

An ``X-Request-ID`` a proxy or client sent is kept when it is sane (1-128 characters of
letters, digits and ``. _ : -``), so the proxy's log and ours share it; anything
else (too long, control characters, non-ASCII, empty, sent twice) is replaced by a fresh
id, never refused. The id is bound in structlog's contextvars, so every line logged while
the request runs carries ``request_id``, and it is kept in the ASGI scope for the error
handlers (``request_id_of``).

When the request ends, one ``request`` line says its method, route template, status
and duration; uvicorn's own access log is off (api/cli.py). A probe that passes
(/health or /ready answering 2xx, which Compose and Kubernetes ask every few seconds)
logs it at DEBUG, so the log at INFO holds requests people made; a failing probe
stays at INFO.

Pure ASGI and outermost among the app's middleware, so the front door's refusals (an
unknown Host) carry the header too. A 500 is sent by Starlette's ServerErrorMiddleware,
outside every middleware: its handler (api/errors.py) sets the header itself.
"""

from __future__ import annotations

import logging
import re
import secrets
import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send
from structlog.contextvars import bind_contextvars

from stemdeck.api.request_metrics import UNMATCHED, route_template

HEADER = b"x-request-id"
SCOPE_KEY = "stemdeck.request_id"
# What an id may be, ours or a proxy's (the error JSON's ``ref`` in the OpenAPI schema).
PATTERN = r"[A-Za-z0-9._:-]{1,128}"
_SANE = re.compile(PATTERN.encode())
# A path is logged as sent only when no route matched it, and no longer than this.
MAX_LOGGED_PATH = 200
# Liveness and readiness, which orchestrators and healthchecks ask all the time.
PROBE_PATHS = frozenset({"/health", "/ready"})

access_log = logging.getLogger("stemdeck.api.requests")


def new_request_id() -> str:
    return secrets.token_hex(8)


def accepted_id(scope: Scope) -> str:
    """The request's own X-Request-ID when it sent exactly one sane value, else a new id."""
    sent: list[bytes] = [value for name, value in scope["headers"] if name == HEADER]
    if len(sent) == 1 and _SANE.fullmatch(sent[0]):
        return sent[0].decode("ascii")
    return new_request_id()


def request_id_of(scope: Scope) -> str:
    """The id RequestIds gave this request."""
    request_id: str = scope[SCOPE_KEY]
    return request_id


def _where(scope: Scope) -> dict[str, str]:
    """The route template the request matched; when none did, its path (shortened)."""
    route = route_template(scope)
    if route == UNMATCHED:
        return {"route": route, "path": scope["path"][:MAX_LOGGED_PATH]}
    return {"route": route}


class RequestIds:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = accepted_id(scope)
        scope[SCOPE_KEY] = request_id
        # Not unbound afterwards: each request runs in its own task and context, and the
        # 500 handler, which runs after this returns, logs under the id too.
        bind_contextvars(request_id=request_id)
        header = (HEADER, request_id.encode("ascii"))
        # What ServerErrorMiddleware answers when the app raised before responding.
        status = 500
        started = time.perf_counter()

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", ()), header]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            quiet = scope["path"] in PROBE_PATHS and 200 <= status < 300
            access_log.log(
                logging.DEBUG if quiet else logging.INFO,
                "request",
                extra={
                    "method": scope["method"],
                    **_where(scope),
                    "status": status,
                    "duration_ms": round((time.perf_counter() - started) * 1000, 2),
                },
            )
