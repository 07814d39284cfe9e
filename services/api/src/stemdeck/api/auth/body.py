"""Small JSON bodies only: a route class that refuses any other content type (415)
and stops reading a body past a few kilobytes (413), before FastAPI parses it.

FastAPI reads the whole body before any dependency runs, so the check sits in the
route's handler, as FastAPI's docs do for custom request classes.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import Request, Response
from fastapi.routing import APIRoute

from stemdeck.api.errors import ApiError, body_too_large, json_required

# A sign-in body is an email (≤ 320) and a password (≤ 1024), with room to spare.
MAX_JSON_BODY = 16 * 1024


class _CappedRequest(Request):
    async def body(self) -> bytes:
        if not hasattr(self, "_body"):
            declared = self.headers.get("content-length", "")
            if declared.isdigit() and int(declared) > MAX_JSON_BODY:
                raise body_too_large(MAX_JSON_BODY)
            chunks, size = [], 0
            async for chunk in self.stream():  # chunked bodies give no length up front
                size += len(chunk)
                if size > MAX_JSON_BODY:
                    raise body_too_large(MAX_JSON_BODY)
                chunks.append(chunk)
            self._body = b"".join(chunks)
        return self._body


def _check_json_text(body: bytes) -> None:
    """FastAPI answers a body that ``json`` cannot read as text, or that nests past
    Python's recursion limit, with a bare 400; refuse it here like any other malformed
    JSON (422). Other malformed JSON is left to FastAPI, which says where it broke."""
    if not body:
        return
    try:
        json.loads(body)
    except (UnicodeDecodeError, RecursionError):
        raise ApiError(
            422,
            "invalid_request",
            "Invalid request: the body is not JSON text. Send UTF-8 JSON, an object with "
            "the fields in /docs.",
        ) from None
    except ValueError:
        pass


def _is_json(content_type: str | None) -> bool:
    return (content_type or "").split(";", 1)[0].strip().lower() == "application/json"


class JsonBodyRoute(APIRoute):
    """Routes with a body take only ``application/json``, of at most MAX_JSON_BODY bytes.

    Only JSON matters for cross-site safety too: a form on another site can post
    text/plain or form data without a preflight, never application/json."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()
        if self.body_field is None:
            return handler

        async def json_only(request: Request) -> Response:
            content_type = request.headers.get("content-type")
            if not _is_json(content_type):
                raise json_required(content_type)
            capped = _CappedRequest(request.scope, request.receive)
            # Read here, not in FastAPI's handler, which would turn a 413 into a 400.
            _check_json_text(await capped.body())
            return await handler(capped)

        return json_only
