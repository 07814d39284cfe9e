"""Settings for sign-in: the public URL (its origin, its checks) and the attempt limits."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from stemdeck.core.settings import Settings


def settings(**values: object) -> Settings:
    return Settings(_env_file=None, **values)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("url", "origin"),
    [
        ("https://Stemdeck.Example.com/", "https://stemdeck.example.com"),
        ("http://localhost:8080", "http://localhost:8080"),
        ("https://example.com/stemdeck/", "https://example.com"),
        ("", None),
    ],
)
def test_the_public_urls_origin(url: str, origin: str | None) -> None:
    assert settings(public_url=url).public_origin == origin


@pytest.mark.parametrize(
    "url", ["stemdeck.example.com", "ftp://example.com", "https://", "https://user@example.com"]
)
def test_a_public_url_that_is_not_one_is_refused_naming_the_variable(url: str) -> None:
    with pytest.raises(ValidationError, match="public_url"):
        settings(public_url=url)


@pytest.mark.parametrize(
    "values",
    [
        {"signin_attempts_per_account": 0},
        {"signin_attempts_per_ip": -1},
        {"signin_window_minutes": 0},
        {"signin_window_minutes": 24 * 60 + 1},
        {"signin_attempts_per_ip": "many"},
    ],
)
def test_sign_in_limits_must_be_positive(values: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        settings(**values)


def test_sign_in_limits_default_to_5_per_account_20_per_ip_in_15_minutes() -> None:
    defaults = settings()
    assert (
        defaults.signin_attempts_per_account,
        defaults.signin_attempts_per_ip,
        defaults.signin_window_minutes,
    ) == (5, 20, 15)
