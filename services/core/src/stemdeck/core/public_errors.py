"""What a failure may show a user, and the reference that joins it to the log.

A user is told what went wrong in words they can act on, with a short random
reference (``E-7F3K2Q``). The log line under the same reference holds what must not
reach an answer: exception texts, tracebacks, the server's paths, download URLs.
Paths and addresses tell an attacker how the server is laid out and mean nothing
to the user; the admin who is handed the reference finds the rest with grep.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterable
from pathlib import Path

# No 0/O, 1/I/L or U, so a reference read aloud or copied by hand survives.
REF_ALPHABET = "23456789ABCDEFGHJKMNPQRSTVWXYZ"
REF_LENGTH = 6
REF_PATTERN = re.compile(rf"E-[{REF_ALPHABET}]{{{REF_LENGTH}}}")

# scheme://… up to a space, quote or bracket.
_URL = re.compile(r"\b[A-Za-z][A-Za-z0-9+.-]*://[^\s'\"<>()\[\]{}]+")
# An absolute path of two parts or more (/ready and /docs stay), not one of the API's
# own routes (/api/…), and not the tail of a word or URL (wav/flac, 24/7).
_ABSOLUTE_PATH = re.compile(r"(?<![\w.:/~-])/(?!api/)(?:[\w.@+~-]+/)+[\w.@+~-]*")
_ERRNO = re.compile(r"\[(?:Errno|WinError) -?\d+\]\s*")
# ffmpeg's "[aac @ 0x559fd8311a40] ": a memory address of the server's process.
_FFMPEG_CONTEXT = re.compile(r"\[([\w:.-]+) @ 0x[0-9a-fA-F]+\]\s*")


def new_ref() -> str:
    """A fresh error reference: E- and six characters (30⁶, about 729 million)."""
    return "E-" + "".join(secrets.choice(REF_ALPHABET) for _ in range(REF_LENGTH))


def with_ref(message: str, ref: str) -> str:
    """``message`` ending with where the details are."""
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
