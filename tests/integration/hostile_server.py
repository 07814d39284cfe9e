"""A local HTTP server on 127.0.0.1 serving audio and the hostile cases URL ingest must survive."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path


class _Handler(BaseHTTPRequestHandler):
    song: bytes = b""
    # A non-public address that is never reached: the guard refuses before connecting.
    private_target = "http://10.255.255.1/song.mp3"

    def log_message(self, format: str, *args: object) -> None:
        pass

    def _send(self, status: int, content_type: str, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def do_HEAD(self) -> None:
        self.do_GET()

    def do_GET(self) -> None:
        port = self.server.server_address[1]
        path = self.path.split("?", 1)[0]
        try:
            if path == "/song.mp3":
                self._send(200, "audio/mpeg", self.song)
            elif path == "/redirect-to-private":
                self.send_response(302)
                self.send_header("Location", self.private_target)
                self.end_headers()
            elif path == "/redirect-to-song":
                self.send_response(302)
                self.send_header("Location", f"http://127.0.0.1:{port}/song.mp3")
                self.end_headers()
            elif path == "/page-private.html":
                page = f'<html><body><video src="{self.private_target}"></video></body></html>'
                self._send(200, "text/html", page.encode())
            elif path == "/page-other-loopback.html":
                # 127.0.0.2 is loopback too, and outside the test allowance (127.0.0.1, ::1).
                page = f'<html><body><video src="http://127.0.0.2:{port}/song.mp3"></video>'
                self._send(200, "text/html", page.encode() + b"</body></html>")
            elif path == "/redirect-to-hex-loopback":
                self.send_response(302)
                self.send_header("Location", f"http://0x7f000002:{port}/song.mp3")
                self.end_headers()
            elif path == "/page-loopback.html":
                page = f'<html><body><video src="http://127.0.0.1:{port}/song.mp3"></video>'
                self._send(200, "text/html", page.encode() + b"</body></html>")
            elif path == "/trickle.mp3":
                self.send_response(200)
                self.send_header("Content-Type", "audio/mpeg")
                self.send_header("Content-Length", str(len(self.song)))
                self.end_headers()
                for byte in self.song:
                    self.wfile.write(bytes([byte]))
                    self.wfile.flush()
                    time.sleep(1)
            elif path == "/endless.mp3":
                self.send_response(200)
                self.send_header("Content-Type", "audio/mpeg")
                self.end_headers()
                block = self.song[: 64 * 1024]
                while True:  # until the client hangs up
                    self.wfile.write(block)
            elif path == "/notes.txt":
                self._send(200, "text/plain", b"these are not the droids you are looking for\n")
            else:
                self._send(404, "text/plain", b"not found\n")
        except (BrokenPipeError, ConnectionResetError):
            pass


@contextmanager
def hostile_server(song: Path) -> Iterator[str]:
    """Base URL of a server on 127.0.0.1 (a free port) until the block ends."""
    handler = type("Handler", (_Handler,), {"song": song.read_bytes()})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
