"""Passwords, hashed with argon2id; checking one costs the same whether or not the
account exists, so sign-in timing cannot tell which emails have accounts."""

from __future__ import annotations

import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from stemdeck.core.settings import EXAMPLE_SECRETS, MIN_PASSWORD_LENGTH

# Hashing a megabyte costs what hashing a word does, but a request body of them adds up.
MAX_PASSWORD_LENGTH = 1024

# argon2-cffi's defaults: argon2id, RFC 9106's low-memory profile (t=3, m=64 MiB, p=4).
_hasher = PasswordHasher()
# Verified against when there is no stored hash (unknown email, account without a
# password), so the answer takes as long as a wrong password's. Made once, at import,
# so not even the first unknown email is quicker.
_DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(32))


class PasswordRefused(ValueError):
    """A new password that may not be set; the message says what to do."""


def check_new_password(password: str) -> None:
    if not password:
        raise PasswordRefused("the password is empty; give one of at least 12 characters")
    if len(password) < MIN_PASSWORD_LENGTH:
        raise PasswordRefused(
            f"the password has {len(password)} characters; it needs at least "
            f"{MIN_PASSWORD_LENGTH} (`openssl rand -hex 16` makes one)"
        )
    if len(password) > MAX_PASSWORD_LENGTH:
        raise PasswordRefused(f"the password is longer than {MAX_PASSWORD_LENGTH} characters")
    if password in EXAMPLE_SECRETS:
        raise PasswordRefused("that is an example password from this repository; choose another")


def hash_password(password: str) -> str:
    """The argon2id hash (salt and parameters included) of a password fit to set."""
    check_new_password(password)
    return _hasher.hash(password)


def verify_password(stored_hash: str | None, password: str) -> bool:
    """Whether ``password`` matches ``stored_hash``; with no hash, nearly the same work
    and always False."""
    try:
        matches = _hasher.verify(stored_hash or _DUMMY_HASH, password[:MAX_PASSWORD_LENGTH])
    except (VerificationError, InvalidHashError):
        return False
    return matches and stored_hash is not None


def needs_rehash(stored_hash: str) -> bool:
    """Whether the hash was made with weaker parameters than today's (rehash on sign-in)."""
    return _hasher.check_needs_rehash(stored_hash)
