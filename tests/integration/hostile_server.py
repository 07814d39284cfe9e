"""A local HTTP server on 127.0.0.1 serving audio and the hostile cases URL ingest must survive."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

# An ID3v2.3 header with an empty body: what makes a file pass for an MP3 at a glance.
ID3_HEADER = b"ID3\x03\x00\x00\x00\x00\x00\x00"


class _Handler(BaseHTTPRequestHandler):
    song: bytes = b""
    song_path = ""  # the song's file on this machine, which a disguised playlist names
    # A second server on 127.0.0.2 (loopback, outside the test allowance) that only
    # records what reaches it: a request there is a request the guard let through.
    inner_port = 0
    inner_requests: list[str]
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
        if self.server.server_address[0] == "127.0.0.2":
            self.inner_requests.append(path)
            self._send(200, "application/octet-stream", self.song[:4096])
            return
        try:
            if path == "/playlist.m3u8":
                # An HLS playlist whose key and segment sit on an inward address: yt-dlp
                # hands such playlists to ffmpeg, whose connections no Python guard sees.
                inner = f"http://127.0.0.2:{self.inner_port}"
                playlist = (
                    "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:10\n"
                    f'#EXT-X-KEY:METHOD=SAMPLE-AES,URI="{inner}/key"\n'
                    f"#EXTINF:10.0,\n{inner}/seg0.ts\n#EXT-X-ENDLIST\n"
                )
                self._send(200, "application/vnd.apple.mpegurl", playlist.encode())
            elif path == "/song.mp3":
                self._send(200, "audio/mpeg", self.song)
            elif path == "/disguised-playlist.mp3":
                # An "MP3" that is an ID3 header and an HLS playlist naming a file on the
                # server's disk: ffmpeg, left to guess, reads it as HLS and decodes that file.
                playlist = (
                    "#EXTM3U\n#EXT-X-TARGETDURATION:11\n"
                    f"#EXTINF:10.9,\n{self.song_path}\n#EXT-X-ENDLIST\n"
                )
                self._send(200, "audio/mpeg", ID3_HEADER + playlist.encode())
            elif path == "/page-titled-dotdot.html":
                # A page whose title (yt-dlp reads og:title) would name the zip's folder "..".
                page = (
                    '<html><head><meta property="og:title" content="..">'
                    f'<meta property="og:audio" content="http://127.0.0.1:{port}/song.mp3">'
                    "</head><body></body></html>"
                )
                self._send(200, "text/html", page.encode())
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


class HostileServer(str):
    """The base URL of the server on 127.0.0.1; ``inner_requests`` lists the paths that
    reached its twin on 127.0.0.2."""

    inner_requests: list[str]


@contextmanager
def hostile_server(song: Path) -> Iterator[HostileServer]:
    """A server on 127.0.0.1 (a free port), and its recording twin on 127.0.0.2."""
    seen: list[str] = []
    handler = type(
        "Handler",
        (_Handler,),
        {"song": song.read_bytes(), "song_path": str(song), "inner_requests": seen},
    )
    servers = [ThreadingHTTPServer((host, 0), handler) for host in ("127.0.0.1", "127.0.0.2")]
    handler.inner_port = servers[1].server_address[1]
    for server in servers:
        server.daemon_threads = True
        threading.Thread(target=server.serve_forever, daemon=True).start()
    base = HostileServer(f"http://127.0.0.1:{servers[0].server_address[1]}")
    base.inner_requests = seen
    try:
        yield base
    finally:
        for server in servers:
            server.shutdown()
            server.server_close()
