"""Passwords with real argon2id: hashes, refusals, and an unknown account that costs
as much time as a wrong password."""

from __future__ import annotations

import time
from collections.abc import Callable

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


def _seconds(check: Callable[[], bool]) -> float:
    start = time.perf_counter()
    assert check() is False
    return time.perf_counter() - start


def test_an_unknown_account_takes_nearly_as_long_as_a_wrong_password() -> None:
    """GIVEN an account's hash WHEN a wrong password is checked against it, and a password
    is checked for an account that does not exist THEN both take about the same time,
    and that time is argon2's (not a quick refusal)."""
    stored = hash_password(GOOD)
    wrong: list[float] = []
    unknown: list[float] = []
    # Interleaved, and medians: other work on a shared machine slows both alike.
    for _ in range(7):
        wrong.append(_seconds(lambda: verify_password(stored, "wrong password!")))
        unknown.append(_seconds(lambda: verify_password(None, "wrong password!")))
    wrong_s, unknown_s = sorted(wrong)[3], sorted(unknown)[3]
    assert wrong_s > 0.005, f"{wrong_s:.4f} s: too fast to be argon2"
    assert 0.5 < unknown_s / wrong_s < 2, f"unknown {unknown_s:.4f} s, wrong {wrong_s:.4f} s"
