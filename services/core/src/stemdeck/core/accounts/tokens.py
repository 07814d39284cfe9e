"""API tokens and session ids: 256 random bits, stored only as their SHA-256.

SHA-256 rather than argon2: a 256-bit random value cannot be guessed, so a slow hash
adds nothing but time, and a fast one lets each request find its token or session
with one indexed read.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

TOKEN_PREFIX = "sdk_"
SECRET_BYTES = 32  # 256 bits
# What a user is shown to tell their tokens apart: "sdk_" and the first 8 characters.
SHOWN_PREFIX_LENGTH = len(TOKEN_PREFIX) + 8
# token_urlsafe(32): 43 characters of the URL-safe base64 alphabet.
_TOKEN = re.compile(rf"{TOKEN_PREFIX}[A-Za-z0-9_-]{{43}}")
_SESSION_ID = re.compile(r"[A-Za-z0-9_-]{43}")


class Scope(StrEnum):
    jobs_read = "jobs:read"
    jobs_write = "jobs:write"
    admin = "admin"


@dataclass(frozen=True)
class NewSecret:
    """A secret as it is made: the value goes to its holder once; the database keeps
    only ``digest`` (and ``shown_prefix``, to tell tokens apart)."""

    value: str
    digest: str
    shown_prefix: str


def digest(value: str) -> str:
    """The SHA-256 (hex) that the database keeps of a token or session id."""
    return hashlib.sha256(value.encode()).hexdigest()


def _new(prefix: str) -> NewSecret:
    value = prefix + secrets.token_urlsafe(SECRET_BYTES)
    return NewSecret(value, digest(value), value[:SHOWN_PREFIX_LENGTH])


def new_api_token() -> NewSecret:
    return _new(TOKEN_PREFIX)


def new_session_id() -> NewSecret:
    return _new("")


def looks_like_api_token(value: str) -> bool:
    """Whether ``value`` has an API token's shape (worth a database read)."""
    return _TOKEN.fullmatch(value) is not None


def looks_like_session_id(value: str) -> bool:
    """Whether ``value`` has a session id's shape (worth a database read)."""
    return _SESSION_ID.fullmatch(value) is not None


def parse_scopes(values: Iterable[str]) -> list[Scope]:
    """Known scopes, in the order given, each once; ValueError naming any unknown one."""
    choices = ", ".join(scope.value for scope in Scope)
    found: list[Scope] = []
    for value in values:
        try:
            scope = Scope(value.strip())
        except ValueError:
            raise ValueError(f"unknown scope {value!r}; choose from {choices}") from None
        if scope not in found:
            found.append(scope)
    if not found:
        raise ValueError(f"a token needs at least one scope; choose from {choices}")
    return found
