"""Passwords with real argon2id: hashes, refusals, and an unknown account that costs
as much work as a wrong password."""

from __future__ import annotations

import pytest
from argon2 import PasswordHasher, Type, extract_parameters

from stemdeck.core.accounts.passwords import (
    PasswordRefused,
    hash_password,
    needs_rehash,
    verify_password,
)

GOOD = "correct horse battery staple"


def test_a_hash_is_argon2id_salted_and_verifies_only_its_password() -> None:
    first, second = hash_password(GOOD), hash_password(GOOD)
    assert first.startswith("$argon2id$")
    assert extract_parameters(first).type is Type.ID
    assert first != second, "each hash has its own salt"
    assert GOOD not in first
    assert verify_password(first, GOOD)
    assert not verify_password(first, GOOD + " ")
    assert not verify_password(first, "")
    assert not needs_rehash(first)


@pytest.mark.parametrize(
    ("password", "message"),
    [
        ("", "the password is empty"),
        ("short", "needs at least 12"),
        ("x" * 1025, "longer than 1024"),
        ("change-me-admin", "example password"),
    ],
)
def test_a_password_unfit_to_set_is_refused_saying_why(password: str, message: str) -> None:
    with pytest.raises(PasswordRefused, match=message):
        hash_password(password)


@pytest.mark.parametrize("stored", [None, "", "not a hash", "$argon2id$v=19$m=1,t=1,p=1$bad"])
def test_no_or_a_broken_hash_never_verifies(stored: str | None) -> None:
    assert verify_password(stored, GOOD) is False


def test_a_weaker_hash_asks_to_be_rehashed() -> None:
    weak = PasswordHasher(time_cost=1, memory_cost=8 * 1024).hash(GOOD)
    assert verify_password(weak, GOOD)
    assert needs_rehash(weak)


def test_an_unknown_account_costs_one_full_argon2_verify_like_a_wrong_password(
    argon2_verifications: list[str],
) -> None:
    """GIVEN an account's hash WHEN a wrong password is checked against it, and a password
    is checked for an account that does not exist THEN each runs exactly one argon2
    verification with the same parameters, so neither answers sooner. (Counted, not
    timed: bench/signin.py measures the time.)"""
    stored = hash_password(GOOD)

    assert verify_password(stored, "wrong password!") is False
    assert verify_password(None, "wrong password!") is False
    assert verify_password("", "wrong password!") is False

    assert len(argon2_verifications) == 3
    assert argon2_verifications[0] == stored
    params = [extract_parameters(hashed) for hashed in argon2_verifications]
    assert params == [extract_parameters(stored)] * 3, "the dummy hash costs what a real one does"
