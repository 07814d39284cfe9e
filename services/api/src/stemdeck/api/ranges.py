"""HTTP Range requests (RFC 9110 §14): one range per request, which is all players use."""

from __future__ import annotations

import re
from dataclasses import dataclass

_SINGLE_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")
# A position with more significant digits than this lies past any file, so its exact value
# is never needed, nor converted (Python refuses to convert more than 4300 digits).
_MAX_DIGITS = 18
_PAST_ANY_FILE: int = 10**_MAX_DIGITS


def _position(digits: str) -> int:
    """The byte position ``digits`` names (not empty), or one past any file if it is huge."""
    significant = digits.lstrip("0")
    if len(significant) > _MAX_DIGITS:
        return _PAST_ANY_FILE
    return int(significant or "0")


class RangeNotSatisfiableError(Exception):
    def __init__(self, size: int) -> None:
        super().__init__(f"no requested byte lies within the {size} bytes")
        self.size = size


@dataclass(frozen=True)
class ByteRange:
    start: int
    end: int  # inclusive, as in Content-Range

    @property
    def length(self) -> int:
        return self.end - self.start + 1

    def content_range(self, size: int) -> str:
        return f"bytes {self.start}-{self.end}/{size}"


def parse_range(header: str | None, size: int) -> ByteRange | None:
    """The byte range asked for, or None to send the whole body.

    Syntax we do not serve (several ranges, other units, garbage) is ignored,
    which RFC 9110 allows: the client then gets a plain 200. Positions of any length
    are taken: a first byte past the end is unsatisfiable (416), a last byte or a suffix
    past it means "to the end", as RFC 9110 says.
    """
    if not header:
        return None
    match = _SINGLE_RANGE.match(header.strip().replace(" ", ""))
    if match is None:
        return None
    first, last = match.groups()
    if not first and not last:
        return None
    if not first:  # suffix: the last n bytes
        suffix = _position(last)
        if suffix == 0 or size == 0:
            raise RangeNotSatisfiableError(size)
        return ByteRange(max(0, size - suffix), size - 1)
    start = _position(first)
    end = _position(last) if last else None
    if end is not None and end < start:
        return None  # invalid, so ignored
    if start >= size:
        raise RangeNotSatisfiableError(size)
    return ByteRange(start, size - 1 if end is None else min(end, size - 1))
