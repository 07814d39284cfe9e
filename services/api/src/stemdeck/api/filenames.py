"""Client file names: kept only for display, never used to build a storage key."""

from __future__ import annotations

import unicodedata
from urllib.parse import quote

MAX_NAME_CHARS = 200
FALLBACK_NAME = "upload"


def display_name(raw: str | None) -> str:
    """A safe name to show: no path parts, no control or format characters, bounded length."""
    if not raw:
        return FALLBACK_NAME
    # Browsers on Windows have sent whole paths; keep the last part only.
    name = raw.replace("\\", "/").rsplit("/", 1)[-1]
    name = unicodedata.normalize("NFC", name)
    # Cc: controls (NUL, newlines, ESC); Cf: invisible formatting such as the
    # right-to-left override that disguises "song\u202egnp.exe".
    name = "".join(ch for ch in name if unicodedata.category(ch) not in {"Cc", "Cf"})
    name = " ".join(name.split()).strip(" .")
    if len(name) > MAX_NAME_CHARS:
        stem, dot, extension = name.rpartition(".")
        if dot and 0 < len(extension) <= 10:
            name = stem[: MAX_NAME_CHARS - len(extension) - 1].rstrip() + "." + extension
        else:
            name = name[:MAX_NAME_CHARS]
    return name or FALLBACK_NAME


def content_disposition(filename: str, disposition: str = "attachment") -> str:
    """RFC 6266: an ASCII fallback plus the UTF-8 name for clients that read it."""
    ascii_name = unicodedata.normalize("NFKD", filename).encode("ascii", "ignore").decode("ascii")
    ascii_name = "".join(ch if ch.isprintable() and ch not in '"\\' else "_" for ch in ascii_name)
    value = f'{disposition}; filename="{ascii_name or "download"}"'
    if ascii_name != filename:
        value += f"; filename*=UTF-8''{quote(filename, safe='')}"
    return value
