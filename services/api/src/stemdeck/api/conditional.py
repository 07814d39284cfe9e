"""Conditional requests (RFC 9110 §13) for stored files: If-None-Match and If-Range
against the file's entity tag.

A stored stem or waveform never changes under its key once its job has completed, so
its tag is strong. It comes from the store's own record of the object (its size and
version: a new inode and mtime, or S3's ETag, at every write) rather than from the job's
row: should a superseded attempt's late write ever replace the bytes, the tag changes
with them. It is a digest, never the key itself: under dedup a key names another job
(maybe another user's).
"""

from __future__ import annotations

import hashlib
import re

from stemdeck.core.storage import ObjectInfo

# One entity-tag of a list: optionally weak, then a quoted opaque part (commas allowed).
_ENTITY_TAG = re.compile(r'(W/)?"([\x21\x23-\x7e\x80-\xff]*)"')


def entity_tag(key: str, info: ObjectInfo) -> str:
    """The strong ETag of the object stored under ``key``, quoted as the header wants."""
    digest = hashlib.sha256(f"{key}\n{info.size}\n{info.version}".encode()).hexdigest()
    return f'"{digest[:32]}"'


def none_match(header: str | None, etag: str) -> bool:
    """Whether If-None-Match names the file as the client has it (so: 304).

    Weak comparison, as RFC 9110 §13.1.2 asks: W/"x" matches "x"; "*" matches any file.
    """
    if not header:
        return False
    if header.strip() == "*":
        return True
    opaque = etag.strip('"')
    return any(match[2] == opaque for match in _ENTITY_TAG.finditer(header))


def range_applies(header: str | None, etag: str) -> bool:
    """Whether a Range may be served under If-Range (RFC 9110 §13.1.5).

    Only our own strong tag, compared strongly, lets it through. A date, which a client
    sends only with a Last-Modified these responses do not carry, or a weak or other tag
    means the client's copy may differ: it gets the whole file (200) instead.
    """
    if header is None:
        return True
    return header.strip() == etag
