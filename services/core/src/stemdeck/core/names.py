"""Names from outside (an upload's file name, a page's title): kept for display and to
name downloads, never used to build a storage key."""

from __future__ import annotations

import unicodedata

MAX_NAME_CHARS = 200
FALLBACK_NAME = "upload"


def _cleaned(name: str) -> str:
    """No control or format characters, white space as single spaces, no dots or spaces
    at the ends (so neither "." nor ".." survives), at most MAX_NAME_CHARS; may be empty."""
    name = " ".join(unicodedata.normalize("NFC", name).split())  # line breaks, tabs: spaces
    # Cc: controls (NUL, ESC, bell); Cf: invisible formatting such as the
    # right-to-left override that disguises "song\u202egnp.exe".
    name = "".join(ch for ch in name if unicodedata.category(ch) not in {"Cc", "Cf"})
    name = " ".join(name.split()).strip(" .")
    if len(name) > MAX_NAME_CHARS:
        stem, dot, extension = name.rpartition(".")
        if dot and 0 < len(extension) <= 10:
            name = stem[: MAX_NAME_CHARS - len(extension) - 1].rstrip() + "." + extension
        else:
            name = name[:MAX_NAME_CHARS]
    return name


def display_name(raw: str | None) -> str:
    """A safe name to show for an uploaded file: no path parts, no control or format
    characters, bounded length."""
    if not raw:
        return FALLBACK_NAME
    # Browsers on Windows have sent whole paths; keep the last part only.
    return _cleaned(raw.replace("\\", "/").rsplit("/", 1)[-1]) or FALLBACK_NAME


def title_name(raw: str | None) -> str | None:
    """A page's title (URL jobs) made as safe as an uploaded file's name; None when
    nothing is left of it. Slashes are part of a title ("AC/DC"), not a path: they
    become dashes rather than cutting the title short."""
    if not raw:
        return None
    return _cleaned(raw.replace("/", "-").replace("\\", "-")) or None
