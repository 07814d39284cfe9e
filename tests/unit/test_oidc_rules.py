"""OIDC sign-in's rules that need no provider: its settings, which claims count as a
verified email, the allowlist, and the path a sign-in may come back to."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from stemdeck.api.routes.oidc import local_path
from stemdeck.core.accounts.oidc import AllowList, OidcClaims
from stemdeck.core.settings import Settings

ISSUER = "https://accounts.google.com"
PROVIDER = {"oidc_issuer": ISSUER, "oidc_client_id": "id", "oidc_client_secret": "secret"}
ACCOUNTS = {"auth": "accounts", "admin_email": "a@example.com", "admin_password": "x" * 12}


def settings(**values: object) -> Settings:
    return Settings(_env_file=None, **values)  # type: ignore[arg-type]


def test_the_provider_settings_read_as_given() -> None:
    read = settings(
        **ACCOUNTS,
        **{**PROVIDER, "oidc_issuer": ISSUER + "/.well-known/openid-configuration"},
        oidc_allowed_emails=" Ada@Example.com ,bo@band.example,",
        oidc_allowed_domains="@Band.Example, studio.example",
    )
    assert read.oidc_issuer == ISSUER
    assert read.oidc_allowed_emails == ["ada@example.com", "bo@band.example"]
    assert read.oidc_allowed_domains == ["band.example", "studio.example"]
    assert read.oidc_label == "Sign in with Google"
    assert read.password_sign_in


def test_the_button_label() -> None:
    other = {**PROVIDER, "oidc_issuer": "https://auth.example.org/application/o/stemdeck"}
    assert settings(**ACCOUNTS, **other).oidc_label == "Sign in with auth.example.org"
    named = settings(**ACCOUNTS, **PROVIDER, oidc_button_label=" Sign in with Work ")
    assert named.oidc_label == "Sign in with Work"
    assert settings(**ACCOUNTS).oidc_label == ""


def test_oidc_only_turns_passwords_off() -> None:
    assert not settings(**ACCOUNTS, **PROVIDER, oidc_only=True).password_sign_in
    assert not settings().password_sign_in  # auth none: nobody signs in


@pytest.mark.parametrize(
    ("values", "named"),
    [
        ({**ACCOUNTS, "oidc_issuer": ISSUER}, "STEMDECK_OIDC_CLIENT_ID"),
        (
            {**ACCOUNTS, "oidc_issuer": ISSUER, "oidc_client_id": "id"},
            "STEMDECK_OIDC_CLIENT_SECRET",
        ),
        ({**PROVIDER}, "STEMDECK_AUTH"),
        ({**ACCOUNTS, "oidc_client_id": "id"}, "STEMDECK_OIDC_ISSUER"),
        ({**ACCOUNTS, "oidc_only": True}, "STEMDECK_OIDC_ISSUER"),
        ({**ACCOUNTS, "oidc_allowed_domains": "example.com"}, "STEMDECK_OIDC_ISSUER"),
        ({**ACCOUNTS, **PROVIDER, "oidc_issuer": "http://idp.example.com"}, "https"),
        ({**ACCOUNTS, **PROVIDER, "oidc_issuer": "accounts.google.com"}, "issuer URL"),
        ({**ACCOUNTS, **PROVIDER, "oidc_issuer": "https://idp.example.com?x=1"}, "issuer URL"),
        ({**ACCOUNTS, **PROVIDER, "oidc_allowed_emails": "ada"}, "not an email"),
        ({**ACCOUNTS, **PROVIDER, "oidc_allowed_domains": "*.example.com"}, "not a domain"),
        ({**ACCOUNTS, **PROVIDER, "oidc_allowed_domains": "example"}, "not a domain"),
    ],
)
def test_settings_that_cannot_work_are_refused_saying_what_to_set(
    values: dict[str, object], named: str
) -> None:
    with pytest.raises(ValidationError, match=named):
        settings(**values)


def test_a_provider_on_this_machine_may_use_plain_http() -> None:
    local = {**PROVIDER, "oidc_issuer": "http://127.0.0.1:5556/dex"}
    assert settings(**ACCOUNTS, **local).oidc_issuer == "http://127.0.0.1:5556/dex"


@pytest.mark.parametrize(
    ("claims", "email"),
    [
        ({"email": "Ada@Example.com", "email_verified": True}, "ada@example.com"),
        # Amazon Cognito sends the JSON string.
        ({"email": "ada@example.com", "email_verified": "true"}, "ada@example.com"),
        ({"email": "ada@example.com", "email_verified": False}, None),
        ({"email": "ada@example.com", "email_verified": "false"}, None),
        ({"email": "ada@example.com", "email_verified": 1}, None),
        ({"email": "ada@example.com"}, None),
        ({"email_verified": True}, None),
        ({"email": "not an address", "email_verified": True}, None),
        ({"email": ["ada@example.com"], "email_verified": True}, None),
    ],
)
def test_an_email_counts_only_when_the_provider_verified_it(
    claims: dict[str, object], email: str | None
) -> None:
    identity = OidcClaims.of(ISSUER, {"sub": "1234", **claims})
    assert (identity.issuer, identity.subject, identity.verified_email) == (ISSUER, "1234", email)


@pytest.mark.parametrize("subject", [None, "", 1234])
def test_claims_without_a_subject_are_refused(subject: object) -> None:
    with pytest.raises(ValueError, match="subject"):
        OidcClaims.of(ISSUER, {"sub": subject})


def test_the_allowlist_matches_whole_emails_and_exact_domains() -> None:
    allowed = AllowList.of(["dee@elsewhere.example"], ["band.example"])
    assert allowed.allows("dee@elsewhere.example")
    assert allowed.allows("anyone@band.example")
    for email in ("eve@elsewhere.example", "eve@sub.band.example", "eve@band.example.org"):
        assert not allowed.allows(email), email
    assert not AllowList.of([], []).allows("ada@example.com")


@pytest.mark.parametrize(
    ("given", "kept"),
    [
        ("/jobs", "/jobs"),
        ("/jobs/abc?tab=mix", "/jobs/abc?tab=mix"),
        (None, "/"),
        ("", "/"),
        ("jobs", "/"),
        ("https://evil.example/", "/"),
        ("//evil.example", "/"),
        ("/\\evil.example", "/"),
        ("/\t/evil.example", "/"),
        ("/api/auth/oidc/login", "/"),
        ("/sign-in?next=/jobs", "/"),
        ("/" + "a" * 3000, "/"),
    ],
)
def test_a_sign_in_comes_back_only_to_a_page_of_this_site(given: str | None, kept: str) -> None:
    assert local_path(given) == kept
