"""STEMDECK_MAX_UPLOAD_MB: refused up front when the size is declared, cut off while
streaming when it is not — the body is never read to the end, nor held in memory."""

from __future__ import annotations

import asyncio
import select
import socket
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import httpx
import numpy as np
import pytest
import soundfile as sf
import uvicorn
from fastapi import FastAPI
from fastapi.testclient import TestClient

from stemdeck.api.app import create_app
from stemdeck.api.upload import FLUSH_BYTES
from stemdeck.core.settings import Settings
from tests.waiting import wait_until

from .conftest import MULTIPART_TAIL, MULTIPART_TYPE, Leftovers, multipart_head

MIB = 1024 * 1024
LIMIT_MB = 1
# Bytes that sniff as WAV, so the upload is written to storage while it streams.
WAV_START = b"RIFF\xff\xff\xff\xffWAVEfmt "


@pytest.fixture
def small_limit_app(make_settings: Callable[..., Settings]) -> FastAPI:
    return create_app(make_settings(max_upload_mb=LIMIT_MB))


def _assert_too_large(response: httpx.Response) -> None:
    assert response.status_code == 413, response.text
    error = response.json()["error"]
    assert error["code"] == "file_too_large"
    assert f"({LIMIT_MB} MB)" in error["message"] and "STEMDECK_MAX_UPLOAD_MB" in error["message"]


def test_a_declared_size_over_the_limit_is_refused_at_once(
    small_limit_app: FastAPI, leftovers: Callable[[], Leftovers]
) -> None:
    with TestClient(small_limit_app) as client:
        body = WAV_START + bytes(2 * MIB)
        response = client.post("/api/jobs", files={"file": ("big.wav", body)})

        _assert_too_large(response)
        assert leftovers().empty, leftovers()
        assert client.get("/health").status_code == 200


def test_a_file_just_under_the_limit_is_accepted(small_limit_app: FastAPI, tmp_path: Path) -> None:
    path = tmp_path / "fits.wav"
    frames = (LIMIT_MB * MIB - 1000) // 4  # 16-bit stereo
    sf.write(path, np.zeros((frames, 2), dtype=np.int16), 44100, subtype="PCM_16")
    assert LIMIT_MB * MIB - 2000 < path.stat().st_size <= LIMIT_MB * MIB

    with TestClient(small_limit_app) as client:
        response = client.post("/api/jobs", files={"file": ("fits.wav", path.read_bytes())})

    assert response.status_code == 202, response.text


def test_an_undeclared_size_is_cut_off_while_streaming(
    small_limit_app: FastAPI, leftovers: Callable[[], Leftovers]
) -> None:
    """GIVEN a chunked body of 64 MiB with no Content-Length
    WHEN it is streamed in 64 KiB pieces
    THEN the API answers 413 having pulled little more than the limit, and keeps nothing."""
    chunk = bytes(64 * 1024)
    total = 64 * MIB
    pulled = 0

    async def body() -> AsyncIterator[bytes]:
        nonlocal pulled
        for piece in (multipart_head(b"big.wav") + WAV_START, *([chunk] * (total // len(chunk)))):
            pulled += len(piece)
            yield piece
        yield MULTIPART_TAIL

    async def send() -> httpx.Response:
        # httpx's ASGI transport pulls the body lazily, one receive() per piece.
        transport = httpx.ASGITransport(app=small_limit_app)
        async with httpx.AsyncClient(transport=transport, base_url="http://localhost") as client:
            return await client.post(
                "/api/jobs", content=body(), headers={"content-type": MULTIPART_TYPE}
            )

    response = asyncio.run(send())

    _assert_too_large(response)
    assert "content-length" not in {k.lower() for k in response.request.headers}
    assert pulled <= LIMIT_MB * MIB + 3 * len(chunk), pulled
    assert leftovers().empty, leftovers()


@pytest.fixture
def live_server(small_limit_app: FastAPI) -> Iterator[tuple[str, int]]:
    """The app behind a real uvicorn, so the test speaks raw HTTP/1.1 to it."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = int(probe.getsockname()[1])
    server = uvicorn.Server(
        uvicorn.Config(small_limit_app, host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()

    def started() -> bool:
        # Set once the app's startup has run and the socket listens; a thread that ends
        # first (the port taken, startup failed) will never set it.
        if not server.started and not thread.is_alive():
            raise AssertionError("uvicorn stopped before it started; its error is above")
        return bool(server.started)

    # A bound on a hang, not an expected time: on a loaded machine the server's thread can
    # wait long for its turn.
    wait_until(started, 120, f"uvicorn on port {port} did not start", poll_s=0.02)
    yield "127.0.0.1", port
    server.should_exit = True
    thread.join(timeout=10)


def _request_head(extra: str) -> bytes:
    return (
        "POST /api/jobs HTTP/1.1\r\nHost: localhost\r\n"
        f"Content-Type: {MULTIPART_TYPE}\r\n{extra}\r\n"
    ).encode()


def _read_status(connection: socket.socket) -> bytes:
    connection.settimeout(10)
    return connection.recv(65536).split(b"\r\n", 1)[0]


def test_a_real_server_answers_413_before_the_client_sends_the_body(
    live_server: tuple[str, int], leftovers: Callable[[], Leftovers]
) -> None:
    with socket.create_connection(live_server) as connection:
        connection.sendall(_request_head(f"Content-Length: {500 * MIB}\r\n"))

        # Not one byte of the 500 MB body has been sent.
        assert b" 413 " in _read_status(connection)
    assert leftovers().empty, leftovers()


def test_a_real_server_stops_a_chunked_upload_mid_stream(
    live_server: tuple[str, int], leftovers: Callable[[], Leftovers]
) -> None:
    def frame(data: bytes) -> bytes:
        return f"{len(data):x}\r\n".encode() + data + b"\r\n"

    total = 256 * MIB
    chunk = bytes(64 * 1024)
    sent = 0
    with socket.create_connection(live_server) as connection:
        connection.sendall(_request_head("Transfer-Encoding: chunked\r\n"))
        connection.sendall(frame(multipart_head(b"big.wav") + WAV_START))
        while sent < total:
            readable, _, _ = select.select([connection], [], [], 0)
            if readable:
                break  # the server has answered mid-upload
            try:
                connection.sendall(frame(chunk))
            except OSError:
                break  # or it has already closed its side
            sent += len(chunk)

        status = _read_status(connection)

    assert b" 413 " in status
    # Only what fits in the socket buffers went beyond the limit.
    assert sent < total / 4, sent
    assert leftovers().empty, leftovers()
    with socket.create_connection(live_server) as connection:
        connection.sendall(b"GET /health HTTP/1.1\r\nHost: localhost\r\n\r\n")
        assert b" 200 " in _read_status(connection)


def test_a_client_that_hangs_up_mid_upload_leaves_nothing(
    app: FastAPI, shared_audio: Path, leftovers: Callable[[], Leftovers]
) -> None:
    """GIVEN half of a valid song has arrived (more than one storage write)
    WHEN the client disconnects
    THEN the partial source file is removed and no row or queue entry exists."""
    song = shared_audio / "The_Easton_Ellises__Falcon_69" / "mixture.wav"
    body = multipart_head(b"song.wav") + song.read_bytes()
    assert len(body) // 2 > FLUSH_BYTES
    pieces = [body[i : i + 64 * 1024] for i in range(0, len(body) // 2, 64 * 1024)]
    sent: list[dict[str, object]] = []

    async def receive() -> dict[str, object]:
        if pieces:
            return {"type": "http.request", "body": pieces.pop(0), "more_body": True}
        return {"type": "http.disconnect"}

    async def send(message: dict[str, object]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/api/jobs",
        "raw_path": b"/api/jobs",
        "root_path": "",
        "query_string": b"",
        "headers": [(b"host", b"localhost"), (b"content-type", MULTIPART_TYPE.encode())],
        "client": ("127.0.0.1", 1234),
        "server": ("test", 80),
    }

    asyncio.run(app(scope, receive, send))  # type: ignore[arg-type]

    assert not pieces, "the whole first half was read"
    assert sent[0]["status"] == 400  # logged as a disconnect, not a server error
    assert leftovers().empty, leftovers()
