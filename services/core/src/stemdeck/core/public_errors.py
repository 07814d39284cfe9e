"""What a failure may show a user, and the reference that joins it to the log.

A user is told what went wrong in words they can act on, with a reference: the id the
log lines of that work carry anyway, the ``request_id`` of an API request that failed
inside the server, the ``job_id`` of a failed job. The log line with the same id holds
what must not reach an answer: exception texts, tracebacks, the server's paths,
download URLs. Paths and addresses tell an attacker how the server is laid out and mean
nothing to the user; the admin who is handed the reference finds the rest with grep.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path

# The reference in a message ``with_ref`` wrote (group 1).
REF_PATTERN = re.compile(r"\(Error reference (\S+): the server's log has the details\.\)")

# scheme://… up to a space, quote or bracket.
_URL = re.compile(r"\b[A-Za-z][A-Za-z0-9+.-]*://[^\s'\"<>()\[\]{}]+")
# An absolute path of two parts or more (/ready and /docs stay), not one of the API's
# own routes (/api/…), and not the tail of a word or URL (wav/flac, 24/7).
_ABSOLUTE_PATH = re.compile(r"(?<![\w.:/~-])/(?!api/)(?:[\w.@+~-]+/)+[\w.@+~-]*")
_ERRNO = re.compile(r"\[(?:Errno|WinError) -?\d+\]\s*")
# ffmpeg's "[aac @ 0x559fd8311a40] ": a memory address of the server's process.
_FFMPEG_CONTEXT = re.compile(r"\[([\w:.-]+) @ 0x[0-9a-fA-F]+\]\s*")


def with_ref(message: str, ref: str) -> str:
    """``message`` ending with where the details are: the log lines with ``ref``."""
    return f"{message.rstrip()} (Error reference {ref}: the server's log has the details.)"


def public_text(text: str, roots: Iterable[Path] = ()) -> str:
    """``text`` without what only the server should know: files under one of ``roots``
    (the models or data directory) named relative to it, other absolute paths and every
    URL replaced by a placeholder, errno tags dropped, and ffmpeg's memory addresses."""
    shown = _URL.sub("[URL]", text)
    for root in sorted({str(root).rstrip("/") for root in roots}, key=len, reverse=True):
        if root:
            shown = shown.replace(root + "/", "")
    shown = _ABSOLUTE_PATH.sub("[path]", shown)
    shown = _FFMPEG_CONTEXT.sub(r"\1: ", shown)
    return _ERRNO.sub("", shown)
