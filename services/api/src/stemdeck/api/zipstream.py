"""A zip of many files, produced chunk by chunk and never held whole in memory.

zipfile writes into a sink that cannot seek, so it emits data descriptors after
each entry instead of seeking back to patch headers; the sink is drained after
every write. Entries are stored, not deflated: audio barely compresses, and a
stored zip costs no CPU.
"""

from __future__ import annotations

import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime

from stemdeck.core.storage import Storage


@dataclass(frozen=True)
class ZipEntry:
    name: str  # path inside the archive
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
            info = zipfile.ZipInfo(entry.name, date_time=stamp)
            info.compress_type = zipfile.ZIP_STORED
            info.file_size = entry.size  # lets zipfile decide on ZIP64 up front
            with archive.open(info, mode="w") as member:
                for chunk in storage.iter_range(entry.key):
                    member.write(chunk)
                    yield sink.drain()
            yield sink.drain()
    yield sink.drain()
