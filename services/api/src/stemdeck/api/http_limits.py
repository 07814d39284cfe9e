"""Limits for the API's HTTP server when clients reach it directly, without a proxy.

uvicorn's httptools protocol buffers a request head without bound and waits for it,
or for a body, forever: one client could hold memory with huge headers, or hold
connections open by sending a byte now and then. This protocol adds:

- a cap on the request head (request line and headers): past it, 431 and close,
  having kept at most that much of it;
- a deadline for the whole head, from the connection's first byte or the end of the
  previous request: past it, 408 and close (a connection that sends nothing too);
- an idle deadline while a body streams: no byte for that long, and the connection
  closes; the route sees the client gone and stores nothing. Time the server itself
  stops reading (an upload written slower than it arrives) does not count.

The keep-alive timeout and the connection limit are uvicorn's own settings.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from stemdeck.core.settings import Settings

HEAD_END = b"\r\n\r\n"


@dataclass(frozen=True)
class HttpLimits:
    head_bytes: int
    head_timeout_s: float
    body_idle_s: float

    @classmethod
    def from_settings(cls, settings: Settings) -> HttpLimits:
        return cls(
            settings.http_max_header_kb * 1024,
            settings.http_header_timeout_s,
            settings.http_body_idle_timeout_s,
        )


def _plain_response(status: str, message: str) -> bytes:
    body = message.encode()
    head = (
        f"HTTP/1.1 {status}\r\ncontent-type: text/plain; charset=utf-8\r\n"
        f"content-length: {len(body)}\r\nconnection: close\r\n\r\n"
    )
    return head.encode() + body


class LimitedHttpProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with the head cap and the read deadlines above."""

    limits: HttpLimits  # set on a subclass by protocol_for()

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._in_head = True
        self._head_seen = 0
        self._tail = b""
        self._timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm(self.limits.head_timeout_s, self._head_too_slow)

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._in_head and not self._count_head(data):
            return
        if not self._in_head:
            self._arm(self.limits.body_idle_s, self._body_stalled)
        super().data_received(data)

    def _count_head(self, data: bytes) -> bool:
        """Counts ``data`` toward the head; False when it went past the cap (refused)."""
        window = self._tail + data
        end = window.find(HEAD_END)
        self._head_seen += len(data) if end < 0 else end + len(HEAD_END) - len(self._tail)
        if self._head_seen > self.limits.head_bytes:
            kb = self.limits.head_bytes // 1024
            self._refuse("431 Request Header Fields Too Large", f"Request headers over {kb} KB.")
            return False
        self._tail = window[-(len(HEAD_END) - 1) :]
        return True

    def on_headers_complete(self) -> None:
        self._in_head = False
        self._disarm()
        self._arm(self.limits.body_idle_s, self._body_stalled)
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        super().on_message_complete()
        # The next request on this connection starts its own head, with its own deadline.
        self._in_head, self._head_seen, self._tail = True, 0, b""
        self._disarm()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if self._in_head and not self.transport.is_closing():
            self._arm(self.limits.head_timeout_s, self._head_too_slow)

    def _arm(self, delay_s: float, callback: Any) -> None:
        self._disarm()
        self._timer = self.loop.call_later(delay_s, callback)

    def _disarm(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _head_too_slow(self) -> None:
        if self._in_head and not self._answering():
            self._refuse("408 Request Timeout", "The request headers took too long.")

    def _body_stalled(self) -> None:
        if self._in_head or self.transport.is_closing():
            return
        if self.flow.read_paused:  # we stopped reading, not the client
            self._arm(self.limits.body_idle_s, self._body_stalled)
            return
        self.logger.info("Closing a connection whose request body stalled.")
        self.transport.close()

    def _answering(self) -> bool:
        """A response of this connection is still going out (not a moment to write 408)."""
        return self.cycle is not None and not self.cycle.response_complete

    def _refuse(self, status: str, message: str) -> None:
        self.logger.info("Refusing a request: %s", status)
        self._disarm()
        if not self.transport.is_closing():
            self.transport.write(_plain_response(status, message))
            self.transport.close()


def protocol_for(settings: Settings) -> type[LimitedHttpProtocol]:
    """The protocol class uvicorn builds for each connection, with these settings' limits."""
    return type(
        "StemdeckHttpProtocol",
        (LimitedHttpProtocol,),
        {"limits": HttpLimits.from_settings(settings)},
    )
