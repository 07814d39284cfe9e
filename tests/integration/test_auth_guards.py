"""Sign-in rate limits (Redis, shared by every API process) and the cross-site rule for
cookie requests, through the real app."""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from redis import Redis

from stemdeck.api.app import create_app
from stemdeck.api.auth.principal import SESSION_COOKIE
from stemdeck.api.auth.ratelimit import SignInLimiter
from stemdeck.core.settings import Settings
from tests.integration.factories import ADMIN_EMAIL, ADMIN_PASSWORD
from tests.integration.stack import running_stack

PASSWORD = "ada's own password"
EVIL = "https://evil.example"


@pytest.fixture
def accounts(accounts: Callable[..., Settings]) -> Callable[..., Settings]:
    return functools.partial(accounts, users={"ada@example.com": PASSWORD})


@pytest.fixture
def settings(accounts: Callable[..., Settings]) -> Settings:
    # Small limits keep the argon2 work of each test short.
    return accounts(signin_attempts_per_account=3, signin_attempts_per_ip=5)


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings)) as test_client:
        yield test_client


def login(client: TestClient, email: str, password: str, **kwargs: Any) -> httpx.Response:
    return client.post("/api/auth/login", json={"email": email, "password": password}, **kwargs)


def refused(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()["error"]
    assert body["code"] == code
    assert len(body["message"]) > 20
    return body


# --- rate limits ---------------------------------------------------------------------


def test_failed_sign_ins_per_account_end_in_429_with_retry_after(
    client: TestClient, settings: Settings
) -> None:
    for _ in range(3):
        refused(login(client, "ada@example.com", "wrong password!"), 401, "invalid_credentials")
    response = login(client, "ADA@example.com", PASSWORD)  # even the right one, now
    body = refused(response, 429, "too_many_attempts")
    retry_after = int(response.headers["retry-after"])
    assert 0 < retry_after <= settings.signin_window_minutes * 60
    assert body["limit"] == "signin_per_account" and body["allowed"] == 3
    assert body["retry_after_s"] == retry_after
    assert datetime.fromisoformat(body["resets_at"]).tzinfo is not None
    message = body["message"]
    assert "3 are allowed in 15 minutes" in message
    assert "STEMDECK_SIGNIN_ATTEMPTS_PER_ACCOUNT" in message and "UTC" in message
    assert SESSION_COOKIE not in response.headers.get("set-cookie", "")
    # Another account from the same address is not locked by this one.
    assert login(client, ADMIN_EMAIL, ADMIN_PASSWORD).status_code == 200


def test_a_success_clears_the_accounts_count(client: TestClient) -> None:
    for _ in range(2):
        refused(login(client, "ada@example.com", "wrong password!"), 401, "invalid_credentials")
    assert login(client, "ada@example.com", PASSWORD).status_code == 200
    for _ in range(3):
        refused(login(client, "ada@example.com", "wrong password!"), 401, "invalid_credentials")
    refused(login(client, "ada@example.com", PASSWORD), 429, "too_many_attempts")


def test_failed_sign_ins_per_ip_span_accounts(client: TestClient) -> None:
    """GIVEN one address guessing a few passwords of many accounts THEN the per-IP limit
    stops it although no single account reached its own."""
    for number in range(5):
        refused(login(client, f"user{number}@example.com", "guess"), 401, "invalid_credentials")
    body = refused(login(client, ADMIN_EMAIL, ADMIN_PASSWORD), 429, "too_many_attempts")
    assert body["limit"] == "signin_per_ip"
    assert "STEMDECK_SIGNIN_ATTEMPTS_PER_IP" in body["message"]


def test_two_api_processes_share_one_limit(settings: Settings) -> None:
    with TestClient(create_app(settings)) as first, TestClient(create_app(settings)) as second:
        for replica in (first, second, first):
            refused(login(replica, "ada@example.com", "wrong!"), 401, "invalid_credentials")
        refused(login(second, "ada@example.com", PASSWORD), 429, "too_many_attempts")


def test_a_lock_ends_with_its_window(client: TestClient, redis_url: str) -> None:
    for _ in range(3):
        login(client, "ada@example.com", "wrong password!")
    refused(login(client, "ada@example.com", PASSWORD), 429, "too_many_attempts")
    redis = Redis.from_url(redis_url)
    keys = list(redis.scan_iter("stemdeck:signin:account:*"))
    assert len(keys) == 1 and b"ada" not in keys[0], "the email is kept only as a hash"
    redis.delete(*keys)  # what expiry does at the end of the window
    redis.close()
    assert login(client, "ada@example.com", PASSWORD).status_code == 200


def test_redis_down_is_503_and_no_sign_in(accounts: Callable[..., Settings]) -> None:
    settings = accounts(redis_url="redis://127.0.0.1:1/0")
    with TestClient(create_app(settings)) as client:
        response = login(client, "ada@example.com", PASSWORD)
        assert "Redis" in refused(response, 503, "queue_unavailable")["message"]
        assert SESSION_COOKIE not in response.headers.get("set-cookie", "")


# --- cross-site requests ---------------------------------------------------------------


@pytest.fixture
def signed_in(client: TestClient) -> TestClient:
    assert login(client, "ada@example.com", PASSWORD).status_code == 200
    return client


def still_signed_in(client: TestClient) -> bool:
    return client.get("/api/auth/me").status_code == 200


@pytest.mark.parametrize(
    "headers",
    [
        {"Origin": EVIL},
        {"Origin": "null"},
        {"Origin": "https://testserver"},  # another scheme is another origin
        {"Origin": EVIL, "Sec-Fetch-Site": "cross-site"},
        {"Sec-Fetch-Site": "cross-site"},
        {"Sec-Fetch-Site": "same-site"},
    ],
)
def test_a_cross_site_cookie_request_is_403(signed_in: TestClient, headers: dict[str, str]) -> None:
    response = signed_in.post("/api/auth/logout", headers=headers)
    message = refused(response, 403, "cross_site_request")["message"]
    assert "another site" in message and "Bearer" in message
    deleted = signed_in.delete("/api/jobs/0123", headers=headers)
    refused(deleted, 403, "cross_site_request")
    assert still_signed_in(signed_in)


@pytest.mark.parametrize(
    "headers",
    [
        {"Origin": "http://testserver"},
        {"Origin": "HTTP://TESTSERVER"},
        {"Sec-Fetch-Site": "same-origin"},
        {"Sec-Fetch-Site": "none"},
        # TLS ended at a proxy: the browser's Origin is https, and it says same-origin.
        {"Origin": "https://testserver", "Sec-Fetch-Site": "same-origin"},
        {},  # no browser sends neither header: curl with a cookie jar
    ],
)
def test_a_same_origin_cookie_request_passes(
    signed_in: TestClient, headers: dict[str, str]
) -> None:
    assert signed_in.post("/api/auth/logout", headers=headers).status_code == 204
    assert not still_signed_in(signed_in)


def test_the_public_urls_origin_passes(accounts: Callable[..., Settings]) -> None:
    # A proxy that sends its upstream's name as Host needs that name allowed too.
    settings = accounts(
        public_url="https://stemdeck.example.com", allowed_hosts="stemdeck.example.com,api"
    )
    with TestClient(create_app(settings), base_url="https://stemdeck.example.com") as client:
        assert login(client, "ada@example.com", PASSWORD).status_code == 200
        # Behind a proxy the API sees its own address; the public URL is still home.
        response = client.post(
            "http://api:8000/api/auth/logout",
            headers={
                "Origin": "https://stemdeck.example.com",
                "Cookie": f"{SESSION_COOKIE}={client.cookies[SESSION_COOKIE]}",
            },
        )
        assert response.status_code == 204


def test_safe_methods_bearer_tokens_and_cookieless_requests_are_not_checked(
    signed_in: TestClient,
) -> None:
    assert signed_in.get("/api/auth/me", headers={"Origin": EVIL}).status_code == 200
    # An Authorization header is the script's own doing: no browser adds one by itself.
    with_token = signed_in.delete(
        "/api/jobs/0123",
        headers={"Origin": EVIL, "Authorization": "Bearer sdk_" + "A" * 43},
    )
    refused(with_token, 401, "invalid_token")
    signed_in.cookies.clear()
    assert signed_in.post("/api/auth/logout", headers={"Origin": EVIL}).status_code == 204


def test_a_cross_site_sign_in_is_403(client: TestClient) -> None:
    """A forged sign-in would put the victim's browser in the attacker's account."""
    response = login(client, "ada@example.com", PASSWORD, headers={"Origin": EVIL})
    refused(response, 403, "cross_site_request")
    assert SESSION_COOKIE not in response.headers.get("set-cookie", "")


def test_a_success_at_the_end_of_a_window_leaves_no_key_behind(
    settings: Settings, redis_url: str
) -> None:
    """GIVEN a sign-in whose IP window expires while its password is checked WHEN it
    succeeds THEN taking its attempt back leaves no counter without an expiry."""
    redis = Redis.from_url(redis_url)
    limiter = SignInLimiter.from_settings(redis, settings)
    limiter.count_attempt("ada@example.com", "203.0.113.7")
    redis.delete(*redis.scan_iter("stemdeck:signin:*"))  # the window ends
    limiter.succeeded("ada@example.com", "203.0.113.7")
    assert list(redis.scan_iter("stemdeck:signin:*")) == []
    redis.close()


@pytest.mark.parametrize(("trusted", "separate"), [("127.0.0.1", True), ("10.9.9.9", False)])
def test_the_per_ip_limit_counts_the_address_a_trusted_proxy_forwards(
    settings: Settings, trusted: str, separate: bool
) -> None:
    """GIVEN the real `stemdeck api` behind a proxy at 127.0.0.1 WHEN one forwarded address
    exhausts the per-IP limit THEN another forwarded address may still try, but only when
    STEMDECK_FORWARDED_ALLOW_IPS trusts the proxy (else both are the proxy's one address)."""
    env = {
        "STEMDECK_AUTH": "accounts",
        "STEMDECK_ADMIN_EMAIL": ADMIN_EMAIL,
        "STEMDECK_ADMIN_PASSWORD": ADMIN_PASSWORD,
        "STEMDECK_SIGNIN_ATTEMPTS_PER_IP": "5",
        "STEMDECK_FORWARDED_ALLOW_IPS": trusted,
    }
    with running_stack(settings, workers=0, **env) as stack, stack.client() as http:

        def attempt(number: int, address: str) -> httpx.Response:
            body = {"email": f"user{number}@example.com", "password": "guess"}
            return http.post("/api/auth/login", json=body, headers={"X-Forwarded-For": address})

        for number in range(5):
            refused(attempt(number, "203.0.113.7"), 401, "invalid_credentials")
        refused(attempt(5, "203.0.113.7"), 429, "too_many_attempts")
        other = attempt(6, "198.51.100.2")
    assert other.status_code == (401 if separate else 429), other.text
