"""One webhook try over HTTP, through the same guard as URL ingest (core/netguard.py).

The receiver's host is resolved here (in a thread), every address it has must be a
public one (loopback too under STEMDECK_INGEST_ALLOW_LOOPBACK, for tests), and the
connection goes to one of those checked numeric addresses: a name that resolves to a
public address when checked and to 127.0.0.1 a moment later (DNS rebinding) cannot
steer the connection, since the name is never resolved again. TLS still checks the
certificate against the name (SNI), and the Host header carries it.

No redirect is followed (a 3xx is a failed try), the whole try is cut at the timeout,
and only the start of the answer is read.
"""

from __future__ import annotations

import ssl
import time
from collections.abc import Iterable, Sequence
from typing import Any

import anyio
import httpcore

from stemdeck.core.netguard import IPAddress, UrlRefused, parse_url, resolve_checked
from stemdeck.core.webhooks.deliveries import RESPONSE_CHARS, Outcome

USER_AGENT = "Stemdeck-Webhooks/1"


class _CheckedAddresses(httpcore.AsyncNetworkBackend):
    """Connects to the addresses already checked, whatever host name it is asked for."""

    def __init__(self, addresses: Sequence[IPAddress]) -> None:
        self._addresses = addresses
        self._inner = httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        error: Exception = httpcore.ConnectError(f"{host} has no address")
        for address in self._addresses:
            try:
                return await self._inner.connect_tcp(
                    str(address), port, timeout, local_address, socket_options
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as failed:
                error = failed
        raise error

    async def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Any = None
    ) -> httpcore.AsyncNetworkStream:
        raise httpcore.ConnectError("webhooks go over TCP only")

    async def sleep(self, seconds: float) -> None:
        await anyio.sleep(seconds)


async def post(
    url: str,
    body: bytes,
    headers: dict[str, str],
    *,
    timeout_s: float,
    allow_loopback: bool,
) -> Outcome:
    """POST ``body`` to ``url``: the status and the start of the answer, or why none came."""
    started = time.monotonic()

    def outcome(status: int | None, response: str) -> Outcome:
        return Outcome(status, round((time.monotonic() - started) * 1000), response)

    try:
        with anyio.fail_after(timeout_s):
            addresses = await _resolve(url, allow_loopback)
            status, start = await _send(url, body, headers, addresses)
    except UrlRefused as refused:
        return outcome(None, f"refused: {refused.message}")
    except TimeoutError:
        return outcome(None, f"timed out after {timeout_s:g} s")
    except (httpcore.NetworkError, httpcore.ProtocolError, ssl.SSLError, OSError) as error:
        return outcome(None, f"no answer: {type(error).__name__}: {error}".strip().rstrip(":"))
    return outcome(status, start)


async def _resolve(url: str, allow_loopback: bool) -> list[IPAddress]:
    _scheme, host, port = parse_url(url)
    # The resolver cannot be interrupted; a try cut at the timeout leaves it behind.
    return await anyio.to_thread.run_sync(
        lambda: resolve_checked(host, port, allow_loopback=allow_loopback),
        abandon_on_cancel=True,
    )


async def _send(
    url: str, body: bytes, headers: dict[str, str], addresses: Sequence[IPAddress]
) -> tuple[int, str]:
    sent = [
        *((name.encode(), value.encode()) for name, value in headers.items()),
        (b"Content-Type", b"application/json"),
        (b"User-Agent", USER_AGENT.encode()),
    ]
    async with (
        httpcore.AsyncConnectionPool(
            network_backend=_CheckedAddresses(addresses), max_connections=1, retries=0
        ) as pool,
        pool.stream("POST", url.strip(), headers=sent, content=body) as response,
    ):
        start = b""
        async for chunk in response.aiter_stream():
            start += chunk
            if len(start) >= RESPONSE_CHARS:
                break
        return response.status, start[:RESPONSE_CHARS].decode("utf-8", "replace")
