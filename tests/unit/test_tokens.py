"""API tokens and session ids: long, random, prefixed, kept only as SHA-256."""

from __future__ import annotations

import hashlib

import pytest

from stemdeck.core.accounts.tokens import (
    Scope,
    digest,
    looks_like_api_token,
    new_api_token,
    new_session_id,
    parse_scopes,
)


def test_an_api_token_is_sdk_and_256_random_bits_kept_as_its_sha256() -> None:
    tokens = [new_api_token() for _ in range(100)]
    assert len({token.value for token in tokens}) == 100
    token = tokens[0]
    assert token.value.startswith("sdk_")
    assert len(token.value) - len("sdk_") == 43  # 32 bytes of URL-safe base64
    assert token.digest == hashlib.sha256(token.value.encode()).hexdigest()
    assert token.value not in token.digest
    assert token.shown_prefix == token.value[:12]
    assert looks_like_api_token(token.value)


def test_a_session_id_is_256_random_bits_kept_as_its_sha256() -> None:
    session = new_session_id()
    assert len(session.value) == 43
    assert session.digest == digest(session.value) and len(session.digest) == 64
    assert new_session_id().value != session.value


@pytest.mark.parametrize(
    "value",
    ["", "sdk_", "sdk_short", "Bearer sdk_" + "a" * 43, "sdk_" + "a" * 42 + "!", "xyz_" + "a" * 43],
)
def test_malformed_tokens_are_not_worth_a_lookup(value: str) -> None:
    assert not looks_like_api_token(value)


def test_scopes_are_known_kept_in_order_once() -> None:
    assert parse_scopes(["jobs:write", "jobs:read", " jobs:write"]) == [
        Scope.jobs_write,
        Scope.jobs_read,
    ]
    assert parse_scopes(["admin"]) == [Scope.admin]


@pytest.mark.parametrize(
    ("scopes", "message"),
    [
        (["jobs:delete"], "unknown scope 'jobs:delete'; choose from jobs:read, jobs:write, admin"),
        (["jobs:read", "JOBS:WRITE"], "unknown scope 'JOBS:WRITE'"),
        ([], "at least one scope"),
    ],
)
def test_bad_scopes_are_refused_naming_them(scopes: list[str], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_scopes(scopes)
