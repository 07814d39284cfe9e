"""The download process of a URL job: yt-dlp behind the socket guard, with byte and duration caps.

Run as ``python -m stemdeck.worker.fetch`` by the ingest task, one process per
download, so the guard can patch this whole process's sockets (the worker's own
Redis connection stays untouched), the wall-clock cap is a plain kill, and a
hostile server cannot grow the worker's memory. The request comes as JSON on
stdin; the answer is one JSON line on stdout.

yt-dlp runs audio-only, one item (no playlists), no cookies, no post-processors
or ``--exec``, no proxy from the environment. Its ``max_filesize`` trusts
Content-Length only, so a progress hook counts the bytes that really arrive.

The process gets only ``download_environment`` of the worker's environment, which
holds the database, Redis and store credentials: code that a hostile page finds a
way to run in here learns none of them.
"""

from __future__ import annotations

import json
import re
import resource
import sys
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from stemdeck.core.netguard import SocketGuard, UrlRefused, install_socket_guard, parse_url

# The download process needs little memory; a page that never ends must not take the host's.
MEMORY_LIMIT_BYTES = 2 * 1024**3
# All the download process takes from the worker's environment: where programs, home and
# temporary files are, the locale, which CA certificates to trust, and where Python finds
# this package. No proxy variables: yt-dlp is told to use none, and they can hold a password.
PASSED_VARIABLES = frozenset(
    {
        "PATH",
        "HOME",
        "TMPDIR",
        "TEMP",
        "TMP",
        "LANG",
        "LANGUAGE",
        "TZ",
        "SSL_CERT_FILE",
        "SSL_CERT_DIR",
        "REQUESTS_CA_BUNDLE",
        "PYTHONPATH",
    }
)


def download_environment(environ: Mapping[str, str]) -> dict[str, str]:
    """The environment of a download process started from one with ``environ``."""
    return {
        name: value
        for name, value in environ.items()
        if name in PASSED_VARIABLES or name.startswith("LC_")
    }


@dataclass(frozen=True)
class FetchRequest:
    url: str
    out_dir: str
    max_bytes: int
    max_duration_s: float
    allow_loopback: bool


@dataclass(frozen=True)
class FetchResult:
    ok: bool
    code: str = ""
    message: str = ""
    path: str = ""
    title: str = ""
    duration_s: float | None = None
    # What yt-dlp said, for the worker's log only: it holds URLs, addresses, errno texts.
    detail: str = ""


class Refusal(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class _QuietLogger:
    """yt-dlp's messages, kept for the error report instead of printed."""

    def __init__(self) -> None:
        self.errors: list[str] = []

    def debug(self, message: str) -> None:
        pass

    def info(self, message: str) -> None:
        pass

    def warning(self, message: str) -> None:
        pass

    def error(self, message: str) -> None:
        self.errors.append(message)


def _options(request: FetchRequest, logger: _QuietLogger, state: dict[str, Any]) -> dict[str, Any]:
    def byte_cap(progress: dict[str, Any]) -> None:
        done = progress.get("downloaded_bytes") or 0
        if done > request.max_bytes:
            state["too_large"] = True
            raise Refusal("source_too_large", "too large")

    def live_and_length(info: dict[str, Any], *, incomplete: bool) -> str | None:
        if info.get("is_live") or info.get("live_status") in {"is_live", "is_upcoming"}:
            state["live"] = True
            return "live stream"
        duration = info.get("duration")
        if isinstance(duration, int | float) and duration > request.max_duration_s:
            state["too_long"] = float(duration)
            return "too long"
        return None

    return {
        # Only what yt-dlp downloads in Python, through the guarded sockets of this process:
        # plain http(s) and DASH fragments. HLS goes to ffmpeg whenever a playlist asks for
        # a feature yt-dlp's own downloader lacks (a key, say), and ffmpeg's connections
        # are its own; so no HLS, and no ffmpeg to hand anything to.
        "format": "bestaudio[protocol^=http]/best[protocol^=http]",
        "ffmpeg_location": str(Path(request.out_dir) / "no-ffmpeg-here"),
        "noplaylist": True,
        "playlist_items": "1",
        "outtmpl": str(Path(request.out_dir) / "download.%(ext)s"),
        "paths": {"home": request.out_dir, "temp": request.out_dir},
        "restrictfilenames": True,
        "overwrites": True,
        "quiet": True,
        "no_warnings": True,
        "noprogress": True,
        "logger": logger,
        "max_filesize": request.max_bytes,
        "match_filter": live_and_length,
        "progress_hooks": [byte_cap],
        "socket_timeout": 20,
        "retries": 0,
        "fragment_retries": 0,
        "extractor_retries": 0,
        "cachedir": False,
        "cookiefile": None,
        "proxy": "",
        "postprocessors": [],
        "updatetime": False,
        "check_formats": False,
    }


def _downloaded(out_dir: Path) -> Path | None:
    files = [p for p in out_dir.iterdir() if p.is_file() and not p.name.endswith(".part")]
    return max(files, key=lambda p: p.stat().st_size) if files else None


def _failure(
    error: BaseException | None,
    guard: SocketGuard,
    logger: _QuietLogger,
    state: dict[str, Any],
    request: FetchRequest,
) -> FetchResult:
    if guard.refusals:
        host = parse_url(request.url)[1]
        return FetchResult(
            False,
            "url_forbidden",
            f"Stemdeck will not fetch this URL: while fetching from {host}, a connection went "
            f"to a forbidden address ({guard.refusals[0]}). Only public addresses can be "
            "fetched; download the file yourself and upload it instead.",
        )
    if state.get("too_large"):
        return FetchResult(
            False,
            "source_too_large",
            f"The download passed {request.max_bytes // (1024 * 1024)} MB and was stopped. "
            "Choose a shorter source, or ask the admin to raise STEMDECK_MAX_UPLOAD_MB.",
        )
    if state.get("live"):
        return FetchResult(
            False,
            "live_stream",
            "This is a live stream, which has no end to separate. Submit a recording instead.",
        )
    if "too_long" in state:
        return FetchResult(
            False,
            "audio_too_long",
            f"The source is {state['too_long']:.0f} s long; this server accepts at most "
            f"{request.max_duration_s:g} s (STEMDECK_MAX_DURATION_S).",
        )
    text = " ".join(logger.errors) or (str(error) if error else "nothing was downloaded")
    lowered = text.lower()
    status = _HTTP_STATUS.search(text)
    if status is not None and status[1][0] in "45":
        return FetchResult(
            False,
            "source_unavailable",
            f"The server of this URL answered with an error (HTTP {status[1]}). Check the URL.",
            detail=_short(text),
        )
    if "requested format is not available" in lowered:
        return FetchResult(
            False,
            "unsupported_url",
            "This link offers its audio only as a stream (HLS) or in another form Stemdeck "
            "does not download. Link to an audio file, or download it and upload it.",
        )
    if "unsupported url" in lowered or "no video formats" in lowered or "no audio" in lowered:
        return FetchResult(
            False,
            "unsupported_url",
            "No audio was found at this URL. Link to an audio file or a page of a site "
            "yt-dlp supports.",
        )
    return FetchResult(
        False,
        "download_failed",
        "The download failed: the server of this URL could not be reached, or sent nothing "
        "that could be downloaded. Check the URL, or download the file and upload it.",
        detail=_short(text),
    )


_HTTP_STATUS = re.compile(r"HTTP Error (\d{3})", re.IGNORECASE)


def _short(text: str, limit: int = 2000) -> str:
    text = text.removeprefix("ERROR: ").strip()
    return text if len(text) <= limit else text[: limit - 1] + "…"


def fetch(request: FetchRequest) -> FetchResult:
    import yt_dlp

    guard = install_socket_guard(allow_loopback=request.allow_loopback)
    logger = _QuietLogger()
    state: dict[str, Any] = {}
    out_dir = Path(request.out_dir)
    info: dict[str, Any] | None = None
    try:
        with yt_dlp.YoutubeDL(_options(request, logger, state)) as ydl:
            info = ydl.extract_info(request.url, download=True)
    except BaseException as error:  # yt-dlp wraps whatever a hook raised
        if isinstance(error, KeyboardInterrupt | SystemExit):
            raise
        return _failure(error, guard, logger, state, request)
    if info is None or state:
        return _failure(None, guard, logger, state, request)
    if info.get("_type") in {"playlist", "multi_video"}:
        return FetchResult(
            False, "playlist", "This URL is a playlist; submit one item of it at a time."
        )
    path = _downloaded(out_dir)
    if path is None:
        return _failure(None, guard, logger, state, request)
    if path.stat().st_size > request.max_bytes:
        state["too_large"] = True
        return _failure(None, guard, logger, state, request)
    duration = info.get("duration")
    return FetchResult(
        True,
        path=str(path),
        title=str(info.get("title") or "")[:255],
        duration_s=float(duration) if isinstance(duration, int | float) else None,
    )


def main() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT_BYTES, MEMORY_LIMIT_BYTES))
    request = FetchRequest(**json.loads(sys.stdin.read()))
    try:
        parse_url(request.url)
        result = fetch(request)
    except UrlRefused as error:
        result = FetchResult(False, error.code, error.message)
    sys.stdout.write(json.dumps(asdict(result)) + "\n")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
