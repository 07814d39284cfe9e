"""Download names: the song's title made safe as a file or folder name on any common
system, the names built from it, and the header that carries them. Names from clients
are first cleaned in stemdeck.core.names, as an upload's file name is."""

from __future__ import annotations

import unicodedata
from pathlib import PurePath
from urllib.parse import quote

from stemdeck.core.formats import download_filename
from stemdeck.core.models import Job
from stemdeck.core.names import title_name

# Most file systems cap a name at 255 bytes. A title this long in UTF-8 leaves room for
# " - ", the stem's name (64 characters at most) and ".24bit.wav".
MAX_TITLE_BYTES = 120
# Characters Windows refuses in a name (where a zip is often unpacked and a download
# saved); a double quote becomes a single one, which reads the same.
_WINDOWS_UNSAFE = str.maketrans({'"': "'", **{ch: "_" for ch in "<>:|?*"}})
# Names Windows keeps for devices, whatever their extension: no folder may be one.
_DEVICE_NAMES = frozenset(
    {"CON", "PRN", "AUX", "NUL", *(f"{port}{n}" for port in ("COM", "LPT") for n in range(1, 10))}
)


def song_title(job: Job) -> str | None:
    """The song's title for naming its downloads, or None when nothing safe is left.

    A URL job's page title, else the uploaded file's name without its extension (or the
    URL's last part), cleaned as a page title is: no control or invisible characters,
    slashes as dashes, no dots or spaces at the ends.
    """
    raw = job.source_title or PurePath(job.source_name.replace("\\", "/")).stem
    title = title_name(raw)
    if title is None:
        return None
    title = title.translate(_WINDOWS_UNSAFE)
    # Cut at a character's edge: "ignore" drops a character the cut split in two.
    title = title.encode()[:MAX_TITLE_BYTES].decode(errors="ignore").rstrip(" .")
    if title.split(".")[0].strip().upper() in _DEVICE_NAMES:
        title += "_"
    return title or None


def stem_filename(title: str | None, stem: str, format_id: str) -> str:
    """``<title> - vocals.flac``, or plain ``vocals.flac`` for a song without a title."""
    name = download_filename(stem, format_id)
    return f"{title} - {name}" if title else name


def zip_filename(title: str | None) -> str:
    return f"{title} - stems.zip" if title else "stems.zip"


def content_disposition(filename: str, disposition: str = "attachment") -> str:
    """RFC 6266: an ASCII fallback plus the UTF-8 name for clients that read it."""
    ascii_name = unicodedata.normalize("NFKD", filename).encode("ascii", "ignore").decode("ascii")
    ascii_name = "".join(ch if ch.isprintable() and ch not in '"\\' else "_" for ch in ascii_name)
    # A title with no ASCII in it leaves " - vocals.flac": the fallback starts at the stem.
    ascii_name = " ".join(ascii_name.split()).lstrip(" -.")
    value = f'{disposition}; filename="{ascii_name or "download"}"'
    if ascii_name != filename:
        value += f"; filename*=UTF-8''{quote(filename, safe='')}"
    return value
