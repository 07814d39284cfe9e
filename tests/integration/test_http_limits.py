"""The API's HTTP server reached directly, over raw sockets on loopback: a real
`stemdeck api` process with short limits, so each case ends in seconds.

Huge headers get 431 after the cap, not after 48 MB; a head sent a byte at a time, a
silent connection and a stalled upload are cut off; idle keep-alive connections close;
past the connection limit new requests get 503. Nothing half-sent is stored, and the
server keeps answering."""

from __future__ import annotations

import select
import socket
from collections.abc import Iterator

import httpx
import pytest

from stemdeck.core.settings import Settings
from tests.integration.stack import Stack, running_stack
from tests.waiting import wait_until

# A guard so a broken limit fails the test instead of hanging it; never asserted.
GUARD_S = 30.0


@pytest.fixture
def stack(settings: Settings) -> Iterator[Stack]:
    with running_stack(
        settings,
        workers=0,
        STEMDECK_HTTP_MAX_HEADER_KB="16",
        STEMDECK_HTTP_HEADER_TIMEOUT_S="1.5",
        STEMDECK_HTTP_BODY_IDLE_TIMEOUT_S="1.5",
        STEMDECK_HTTP_KEEPALIVE_S="1",
        STEMDECK_HTTP_MAX_CONNECTIONS="6",
    ) as running:
        yield running


def _connect(stack: Stack) -> socket.socket:
    address = httpx.URL(stack.base_url)
    sock = socket.create_connection((address.host, address.port), timeout=GUARD_S)
    return sock


def _read_all(sock: socket.socket) -> bytes:
    """Everything the server sends until it closes the connection."""
    received = b""
    while chunk := sock.recv(65536):
        received += chunk
    return received


def _closed_within(sock: socket.socket, seconds: float) -> bool:
    """Whether the server closes the connection within ``seconds`` (what it sends first,
    the rest of a response say, is read and dropped)."""
    sock.settimeout(seconds)
    try:
        while sock.recv(65536):
            pass
    except TimeoutError:
        return False
    except ConnectionResetError:
        pass
    return True


def test_huge_headers_get_431_after_the_cap(stack: Stack) -> None:
    sock = _connect(stack)
    sock.sendall(b"GET /health HTTP/1.1\r\nHost: localhost\r\nX-Filler: ")
    sent = 0
    try:
        while sent < 48 * 1024 * 1024:
            sock.sendall(b"a" * 65536)
            sent += 65536
    except (BrokenPipeError, ConnectionResetError):
        pass
    # The server stopped reading at the cap: the 48 MB never went through.
    assert sent < 8 * 1024 * 1024, f"the server took {sent} bytes of one header"
    try:
        answer = _read_all(sock)
    except ConnectionResetError:
        answer = b""  # the reset can overtake the answer when our send buffer was full
    assert answer == b"" or answer.startswith(b"HTTP/1.1 431"), answer[:80]
    assert httpx.get(stack.base_url + "/health").status_code == 200


def test_a_head_over_the_cap_is_answered_431_and_one_under_it_is_served(stack: Stack) -> None:
    over = _connect(stack)
    over.sendall(b"GET /health HTTP/1.1\r\nHost: localhost\r\nX-A: " + b"a" * 17000 + b"\r\n\r\n")
    assert _read_all(over).startswith(b"HTTP/1.1 431 Request Header Fields Too Large")
    headers = {f"X-Filler-{i}": "b" * 900 for i in range(15)}  # ~14 KB, under 16
    assert httpx.get(stack.base_url + "/health", headers=headers).status_code == 200


def test_a_big_upload_arriving_with_its_head_is_not_taken_for_a_huge_head(stack: Stack) -> None:
    """The first read often holds the head and a lot of body: only the head counts."""
    body = b"\0" * (512 * 1024)
    answer = httpx.post(
        stack.base_url + "/api/jobs", files={"file": ("song.wav", body, "audio/wav")}
    )
    assert answer.status_code != 431 and answer.status_code < 500, answer.text


def test_a_head_sent_a_line_at_a_time_is_cut_off(stack: Stack) -> None:
    sock = _connect(stack)
    sock.sendall(b"GET /health HTTP/1.1\r\nHost: localhost\r\n")
    for _ in range(100):  # 30 s of trickling, were nothing to stop it
        sock.sendall(b"X-Slow: a\r\n")
        readable, _, _ = select.select([sock], [], [], 0.3)
        if readable:
            assert _read_all(sock).startswith(b"HTTP/1.1 408 Request Timeout")
            return
    pytest.fail("the server waited for the whole trickled head")


def test_a_silent_connection_gets_408(stack: Stack) -> None:
    sock = _connect(stack)
    assert _read_all(sock).startswith(b"HTTP/1.1 408 Request Timeout")


def test_a_stalled_upload_is_cut_off_and_stores_nothing(stack: Stack) -> None:
    boundary = b"stall"
    part = (
        b'--stall\r\nContent-Disposition: form-data; name="file"; filename="s.wav"\r\n'
        b"Content-Type: audio/wav\r\n\r\n"
    )
    head = (
        b"POST /api/jobs HTTP/1.1\r\nHost: localhost\r\n"
        b"Content-Type: multipart/form-data; boundary=" + boundary + b"\r\n"
        b"Content-Length: 10000000\r\n\r\n"
    )
    sock = _connect(stack)
    sock.sendall(head + part + b"RIFF" + b"\0" * 4096)
    assert _closed_within(sock, GUARD_S), "a stalled upload held its connection"
    assert httpx.get(stack.base_url + "/health").status_code == 200
    assert httpx.get(stack.base_url + "/api/jobs").json()["count"] == 0


def test_an_idle_keep_alive_connection_is_closed(stack: Stack) -> None:
    sock = _connect(stack)
    sock.sendall(b"GET /health HTTP/1.1\r\nHost: localhost\r\n\r\n")
    first = sock.recv(65536)
    assert first.startswith(b"HTTP/1.1 200")
    assert _closed_within(sock, GUARD_S)


def test_past_the_connection_limit_new_requests_get_503(stack: Stack) -> None:
    held = [_connect(stack) for _ in range(6)]
    for sock in held:  # started requests count for as long as they stay open
        sock.sendall(b"GET /health HTTP/1.1\r\nHost: localhost\r\n")
    # Once the server has taken them all in, the next request is refused.
    wait_until(
        lambda: httpx.get(stack.base_url + "/health").status_code == 503,
        10,
        "the connection limit never refused a request",
    )
    for sock in held:
        sock.close()
