"""A zip of many files, produced chunk by chunk and never held whole in memory.

zipfile writes into a sink that cannot seek, so it emits data descriptors after
each entry instead of seeking back to patch headers; the sink is drained after
every write. Entries are stored, not deflated: audio barely compresses, and a
stored zip costs no CPU.

Entry names pass through ``entry_name``, whoever built them: unzip tools differ in
what they refuse, so no entry may reach outside the folder it is unpacked in.
"""

from __future__ import annotations

import unicodedata
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime

from stemdeck.core.storage import Storage

# What stands for a part of an entry's path that had nothing safe left in it.
EMPTY_PART = "_"


def entry_name(*parts: str) -> str:
    """A relative archive path made of ``parts``, one folder or file name each, that no
    unzip tool takes outside the folder it unpacks into.

    Within a part, slashes and backslashes (a separator on Windows) become "_", as does
    ":" (a drive letter or a stream name on Windows); control and invisible formatting
    characters go, and so do dots and spaces at either end, which leaves no "." or ".."
    and no name Windows would trim. A part with nothing left becomes EMPTY_PART.
    """
    safe = []
    for part in parts:
        text = "".join(
            "_" if ch in "/\\:" else ch
            for ch in part
            if unicodedata.category(ch) not in {"Cc", "Cf"}
        )
        safe.append(text.strip(" .") or EMPTY_PART)
    return "/".join(safe) or EMPTY_PART


@dataclass(frozen=True)
class ZipEntry:
    name: str  # path inside the archive, "/" between its parts (entry_name makes it safe)
    key: str  # storage key
    size: int


class _Sink:
    """A write-only file object whose bytes are taken out as they arrive."""

    def __init__(self) -> None:
        self._chunks: list[bytes] = []

    def write(self, data: bytes, /) -> int:
        self._chunks.append(bytes(data))
        return len(data)

    def flush(self) -> None:
        pass

    def close(self) -> None:
        pass

    def drain(self) -> bytes:
        data = b"".join(self._chunks)
        self._chunks.clear()
        return data


def zip_chunks(
    storage: Storage, entries: Iterable[ZipEntry], modified: datetime
) -> Iterator[bytes]:
    sink = _Sink()
    stamp = (max(1980, modified.year), *modified.timetuple()[1:6])
    with zipfile.ZipFile(sink, mode="w", compression=zipfile.ZIP_STORED) as archive:
        for entry in entries:
            parts = [part for part in entry.name.split("/") if part]  # no leading "/"
            info = zipfile.ZipInfo(entry_name(*parts), date_time=stamp)
            info.compress_type = zipfile.ZIP_STORED
            info.file_size = entry.size  # lets zipfile decide on ZIP64 up front
            with archive.open(info, mode="w") as member:
                for chunk in storage.iter_range(entry.key):
                    member.write(chunk)
                    yield sink.drain()
            yield sink.drain()
    yield sink.drain()
