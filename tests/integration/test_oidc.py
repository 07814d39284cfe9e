"""Sign-in with an OpenID Connect provider, against a real one on 127.0.0.1.

GIVEN pytest-iam's Canaille (a real OpenID provider built on Authlib, signing ID tokens
with its own RSA key) with Stemdeck registered as a client, and the API app in accounts
mode with STEMDECK_OIDC_ISSUER pointing at it: the API's Authlib client talks to the
provider over real HTTP (discovery, JWKS, the token endpoint, userinfo), and each test
plays the browser with httpx: our /login, the provider's authorize endpoint (where its
user is signed in), our /callback.

Every refusal ends as a redirect to the web app's sign-in page with ``oidc_error``
naming it, and stores nothing: no user, no identity, no session.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from canaille.oidc.provider import OpenIDCode
from fastapi.testclient import TestClient
from joserfc.jwk import RSAKey
from pytest_iam import Server
from redis import Redis
from sqlalchemy import func, select

from stemdeck.api.app import create_app
from stemdeck.api.auth.oidc import FLOW_COOKIE
from stemdeck.api.auth.principal import SESSION_COOKIE
from stemdeck.core.accounts.tokens import digest
from stemdeck.core.accounts.users import add_user, disable_user, find_user
from stemdeck.core.db import session_scope
from stemdeck.core.models import LOCAL_ADMIN_ID, Identity, SignInSession, User
from stemdeck.core.settings import Settings
from tests.integration.factories import ADMIN_EMAIL
from tests.integration.oidc_mitm import alg_none, changed_claims, hmac_with, tampering_proxy

CLIENT_ID = "stemdeck-tests"
CLIENT_SECRET = "the test client's secret"
CALLBACK = "http://testserver/api/auth/oidc/callback"
ALLOWED_DOMAIN = "band.example"
STATE_KEY = "stemdeck:oidc:state:{}"


@pytest.fixture(scope="session")
def provider(iam_server: Server) -> Server:
    """Canaille with Stemdeck as a confidential client (code flow, PKCE required by
    Canaille), and an email_verified claim: Canaille's default claims have none, so its
    claim mapping gets one, true for the users whose title is "verified"."""
    mapping = iam_server.app.config["CANAILLE_OIDC"]["USERINFO_MAPPING"]
    mapping["EMAIL_VERIFIED"] = "{{ 'true' if user.title == 'verified' else 'false' }}"
    client = iam_server.models.Client(
        client_id=CLIENT_ID,
        client_secret=CLIENT_SECRET,
        client_name="Stemdeck",
        redirect_uris=[CALLBACK],
        grant_types=["authorization_code"],
        response_types=["code"],
        token_endpoint_auth_method="client_secret_basic",
        scope=["openid", "email", "profile"],
    )
    iam_server.backend.save(client)
    client.audience = [client]
    iam_server.backend.save(client)
    return iam_server


@pytest.fixture(autouse=True)
def no_codes_waiting(provider: Server) -> Iterator[None]:
    """No authorization code left over from another test. Canaille's in-memory store
    (pytest-iam's) matches a query on ANY of its filters, so with two codes of one
    client outstanding its token endpoint may look up the wrong one; each test keeps
    at most one code outstanding at a time, as a browser does."""

    clear_codes(provider)
    yield
    clear_codes(provider)


def clear_codes(provider: Server) -> None:
    for code in provider.backend.query(provider.models.AuthorizationCode):
        provider.backend.delete(code)


@pytest.fixture
def oidc_settings(accounts: Callable[..., Settings], provider: Server) -> Callable[..., Settings]:
    def build(**overrides: Any) -> Settings:
        values: dict[str, Any] = {
            "oidc_issuer": provider.url.rstrip("/"),
            "oidc_client_id": CLIENT_ID,
            "oidc_client_secret": CLIENT_SECRET,
            "oidc_allowed_domains": ALLOWED_DOMAIN,
        }
        return accounts(**{**values, **overrides})

    return build


@pytest.fixture
def settings(oidc_settings: Callable[..., Settings]) -> Settings:
    return oidc_settings()


@pytest.fixture
def redis(settings: Settings) -> Iterator[Redis]:
    connection = Redis.from_url(settings.require_redis_url())
    yield connection
    connection.close()


def person(provider: Server, email: str, *, verified: bool = True, consent: bool = True) -> Any:
    """A user of the provider, signed in there (and agreeing to share with Stemdeck)."""
    user = provider.random_user(
        user_name=f"user-{uuid.uuid4().hex[:12]}",
        emails=[email],
        title="verified" if verified else "unverified",
    )
    provider.login(user)
    if consent:
        # Our client only: Canaille's in-memory store ORs a query's filters (see
        # no_codes_waiting), so a consent to another client could be taken for this one.
        (ours,) = provider.backend.query(provider.models.Client, client_id=CLIENT_ID)
        provider.consent(user, ours)
    return user


def start(client: TestClient, next_path: str | None = "/jobs") -> str:
    """Our /login: the provider's authorization URL it redirects to."""
    params = {"next": next_path} if next_path is not None else {}
    answer = client.get("/api/auth/oidc/login", params=params, follow_redirects=False)
    assert answer.status_code == 302, answer.text
    return answer.headers["location"]


def at_provider(url: str) -> str:
    """The provider's authorize endpoint, over HTTP: the callback URL it sends back to."""
    answer = httpx.get(url, follow_redirects=False, trust_env=False, timeout=15)
    assert answer.status_code == 302, answer.text[:2000]
    location = answer.headers["location"]
    assert location.startswith(CALLBACK), location
    return location


def sign_in(client: TestClient, next_path: str | None = "/jobs") -> httpx.Response:
    return client.get(at_provider(start(client, next_path)), follow_redirects=False)


def set_cookies(answer: httpx.Response) -> dict[str, str]:
    return {header.split("=", 1)[0]: header for header in answer.headers.get_list("set-cookie")}


def assert_refused(answer: httpx.Response, code: str, next_path: str | None = None) -> None:
    assert answer.status_code == 302, answer.text
    location = urlsplit(answer.headers["location"])
    assert (location.scheme, location.netloc, location.path) == ("", "", "/sign-in")
    query = parse_qs(location.query)
    assert query["oidc_error"] == [code], answer.headers["location"]
    assert query.get("next") == ([next_path] if next_path else None)
    assert SESSION_COOKIE not in set_cookies(answer)


def stored(settings: Settings) -> tuple[int, int, int]:
    """(users, identities, sessions)."""
    with session_scope(settings.effective_database_url) as session:
        return tuple(  # type: ignore[return-value]
            session.scalar(select(func.count()).select_from(model)) or 0
            for model in (User, Identity, SignInSession)
        )


def flow_key(authorize_url: str) -> str:
    (state,) = parse_qs(urlsplit(authorize_url).query)["state"]
    return STATE_KEY.format(digest(state))


def test_a_code_and_pkce_sign_in_ends_signed_in(
    client: TestClient, provider: Server, settings: Settings
) -> None:
    """GIVEN someone at the allowlisted domain, unknown to Stemdeck, WHEN they sign in
    with the provider, THEN an account without a password is made, linked to their
    (issuer, subject), and the session cookie set on the callback's redirect works on
    /api/auth/me and the job routes."""
    user = person(provider, f"ada@{ALLOWED_DOMAIN}")
    planted = "planted-" + "x" * 40
    client.cookies.set(SESSION_COOKIE, planted, domain="testserver.local")
    begin = client.get("/api/auth/oidc/login?next=/jobs", follow_redirects=False)
    assert begin.status_code == 302
    url = begin.headers["location"]
    query = parse_qs(urlsplit(url).query)
    assert url.startswith(provider.url.rstrip("/") + "/oauth/authorize?")
    assert query["response_type"] == ["code"] and query["client_id"] == [CLIENT_ID]
    assert query["code_challenge_method"] == ["S256"] and len(query["code_challenge"][0]) == 43
    assert query["redirect_uri"] == [CALLBACK]
    assert {"openid", "email"} <= set(query["scope"][0].split())
    assert query["state"][0] and query["nonce"][0]
    flow_cookie = set_cookies(begin)[FLOW_COOKIE].lower()
    assert "httponly" in flow_cookie and "samesite=lax" in flow_cookie
    assert "path=/api/auth/oidc/callback" in flow_cookie

    done = client.get(at_provider(url), follow_redirects=False)
    assert done.status_code == 302, done.text
    assert done.headers["location"] == "/jobs"
    cookie = set_cookies(done)[SESSION_COOKIE].lower()
    assert "httponly" in cookie and "samesite=lax" in cookie and "path=/" in cookie
    assert client.cookies[SESSION_COOKIE] != planted

    me = client.get("/api/auth/me")
    assert me.status_code == 200, me.text
    assert me.json()["user"]["email"] == f"ada@{ALLOWED_DOMAIN}"
    assert me.json()["via"] == "session" and me.json()["user"]["is_admin"] is False
    jobs = client.get("/api/jobs")
    assert jobs.status_code == 200 and jobs.json()["count"] == 0
    with session_scope(settings.effective_database_url) as session:
        made = find_user(session, f"ada@{ALLOWED_DOMAIN}")
        assert made.password_hash is None
        identity = session.scalar(select(Identity).where(Identity.user_id == made.id))
        assert identity is not None
        assert (identity.issuer, identity.subject) == (settings.oidc_issuer, user.user_name)


def test_an_identity_signs_in_again_after_its_email_changed(
    client: TestClient, provider: Server, settings: Settings
) -> None:
    user = person(provider, f"bo@{ALLOWED_DOMAIN}")
    assert sign_in(client).status_code == 302
    first = client.cookies[SESSION_COOKIE]
    # At the provider, the email moves to a domain that is on no list.
    provider.backend.update(user, emails=["bo@elsewhere.example"])
    provider.backend.save(user)
    again = sign_in(client, "/")
    assert again.status_code == 302 and again.headers["location"] == "/"
    assert client.cookies[SESSION_COOKIE] != first, "each sign-in gets a fresh session id"
    assert client.get("/api/auth/me").json()["user"]["email"] == f"bo@{ALLOWED_DOMAIN}"
    assert stored(settings)[:2] == (2, 1)  # the first admin and bo; one identity


def test_an_account_an_admin_made_is_linked_by_its_verified_email(
    oidc_settings: Callable[..., Settings], provider: Server
) -> None:
    """The first admin (from the settings) is on no allowlist; their verified email
    finds their account."""
    settings = oidc_settings(oidc_allowed_domains=[])
    person(provider, ADMIN_EMAIL.upper())
    with TestClient(create_app(settings)) as client:
        assert sign_in(client).headers["location"] == "/jobs"
        me = client.get("/api/auth/me").json()["user"]
    assert me == {"id": LOCAL_ADMIN_ID, "email": ADMIN_EMAIL, "is_admin": True}
    assert stored(settings)[:2] == (1, 1)


def test_an_unverified_email_is_neither_linked_nor_allowlisted(
    client: TestClient, provider: Server, settings: Settings
) -> None:
    before = stored(settings)
    for email in (ADMIN_EMAIL, f"cy@{ALLOWED_DOMAIN}"):
        person(provider, email, verified=False)
        assert_refused(sign_in(client), "email_unverified", "/jobs")
    assert stored(settings) == before
    assert client.get("/api/auth/me").status_code == 401


def test_someone_not_on_the_list_is_refused(
    oidc_settings: Callable[..., Settings], provider: Server
) -> None:
    settings = oidc_settings(oidc_allowed_emails="dee@elsewhere.example")
    before = stored(settings)
    with TestClient(create_app(settings)) as client:
        for email in ("eve@elsewhere.example", f"eve@sub.{ALLOWED_DOMAIN}", "eve@band.example.org"):
            person(provider, email)
            assert_refused(sign_in(client, None), "not_allowed")
        assert stored(settings) == before
        # The listed email gets an account.
        person(provider, "Dee@Elsewhere.example")
        assert sign_in(client).headers["location"] == "/jobs"
        assert client.get("/api/auth/me").json()["user"]["email"] == "dee@elsewhere.example"


def test_a_disabled_user_is_refused(
    client: TestClient, provider: Server, settings: Settings
) -> None:
    person(provider, f"fay@{ALLOWED_DOMAIN}")
    assert sign_in(client).status_code == 302
    with session_scope(settings.effective_database_url) as session:
        disable_user(session, find_user(session, f"fay@{ALLOWED_DOMAIN}"))
    client.cookies.clear()
    before = stored(settings)
    assert_refused(sign_in(client), "account_disabled", "/jobs")
    assert stored(settings) == before
    # Their email taken over by an account made anew is still the disabled one.
    with session_scope(settings.effective_database_url) as session:
        add_user(session, f"gil@{ALLOWED_DOMAIN}", "gil's own password")
        disable_user(session, find_user(session, f"gil@{ALLOWED_DOMAIN}"))
    person(provider, f"gil@{ALLOWED_DOMAIN}")
    assert_refused(sign_in(client), "account_disabled", "/jobs")
    assert stored(settings)[1] == before[1]


def test_a_wrong_or_missing_state_is_refused(
    client: TestClient, provider: Server, settings: Settings
) -> None:
    person(provider, f"hal@{ALLOWED_DOMAIN}")
    before = stored(settings)
    back = at_provider(start(client))
    wrong = back.replace("state=", "state=x")
    assert_refused(client.get(wrong, follow_redirects=False), "state_mismatch")
    no_state = "&".join(p for p in back.split("&") if not p.startswith("state="))
    assert_refused(client.get(no_state, follow_redirects=False), "state_mismatch")
    # The right state from another browser (without this one's flow cookie): a forged
    # sign-in into someone else's account.
    with TestClient(create_app(settings)) as other:
        assert_refused(other.get(back, follow_redirects=False), "state_mismatch", "/jobs")
    assert stored(settings) == before


def test_an_answer_naming_another_issuer_is_refused(
    client: TestClient, provider: Server, settings: Settings
) -> None:
    """RFC 9207's iss on the callback (Canaille sends it): another issuer's answer is
    an authorization server mix-up."""
    person(provider, f"ivy@{ALLOWED_DOMAIN}")
    back = at_provider(start(client))
    assert "iss=" in back
    mixed = back.split("&iss=")[0] + "&iss=https%3A%2F%2Fevil.example"
    before = stored(settings)
    assert_refused(client.get(mixed, follow_redirects=False), "provider_error", "/jobs")
    assert stored(settings) == before


def test_a_replayed_callback_is_refused(
    client: TestClient, provider: Server, settings: Settings
) -> None:
    person(provider, f"ike@{ALLOWED_DOMAIN}")
    back = at_provider(start(client))
    assert client.get(back, follow_redirects=False).headers["location"] == "/jobs"
    after = stored(settings)
    assert_refused(client.get(back, follow_redirects=False), "state_mismatch")
    assert stored(settings) == after


def test_a_wrong_code_verifier_is_refused_by_the_provider(
    client: TestClient, provider: Server, settings: Settings, redis: Redis
) -> None:
    person(provider, f"jo@{ALLOWED_DOMAIN}")
    before = stored(settings)
    # The verifier kept for this flow is not the one its challenge was made from.
    url = start(client)
    kept = json.loads(redis.get(flow_key(url)) or b"{}")
    redis.set(flow_key(url), json.dumps({**kept, "code_verifier": "v" * 64}), ex=600)
    assert_refused(client.get(at_provider(url), follow_redirects=False), "exchange_failed", "/jobs")
    clear_codes(provider)  # the refused code, which the provider keeps until it expires
    # One flow's code with another flow's state, so with the other's verifier.
    code = parse_qs(urlsplit(at_provider(start(client))).query)["code"][0]
    state = parse_qs(urlsplit(start(client, "/account")).query)["state"][0]
    swapped = f"{CALLBACK}?code={code}&state={state}"
    assert_refused(client.get(swapped, follow_redirects=False), "exchange_failed", "/account")
    assert stored(settings) == before


def test_a_wrong_or_missing_nonce_is_refused(
    client: TestClient, provider: Server, settings: Settings, redis: Redis
) -> None:
    person(provider, f"kim@{ALLOWED_DOMAIN}")
    before = stored(settings)
    for changed, problem in [
        ({"nonce": "not-the-one-sent"}, "id_token_invalid"),
        ({"nonce": ""}, "state_mismatch"),
    ]:
        url = start(client)
        kept = json.loads(redis.get(flow_key(url)) or b"{}")
        redis.set(flow_key(url), json.dumps({**kept, **changed}), ex=600)
        assert_refused(client.get(at_provider(url), follow_redirects=False), problem, "/jobs")
    assert stored(settings) == before


def test_an_expired_id_token_is_refused(
    client: TestClient, provider: Server, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The provider is set to issue ID tokens that expired an hour before they were
    issued (its code grant's lifetime, which Canaille has no setting for)."""
    person(provider, f"lu@{ALLOWED_DOMAIN}")
    before = stored(settings)
    monkeypatch.setattr(OpenIDCode, "DEFAULT_EXPIRES_IN", -3600)
    assert_refused(sign_in(client), "id_token_invalid", "/jobs")
    assert stored(settings) == before


def test_an_id_token_for_another_client_is_refused(
    client: TestClient, provider: Server, settings: Settings
) -> None:
    person(provider, f"mo@{ALLOWED_DOMAIN}")
    (ours,) = provider.backend.query(provider.models.Client, client_id=CLIENT_ID)
    other = provider.models.Client(client_id=f"other-{uuid.uuid4().hex[:8]}", client_name="Other")
    provider.backend.save(other)
    ours.audience = [other]  # the provider now addresses our ID tokens to another app
    provider.backend.save(ours)
    try:
        before = stored(settings)
        assert_refused(sign_in(client), "id_token_invalid", "/jobs")
        assert stored(settings) == before
    finally:
        ours.audience = [ours]
        provider.backend.save(ours)


def _provider_public_pem(provider: Server) -> bytes:
    jwks = httpx.get(provider.url + "oauth/jwks.json", trust_env=False).json()
    key = RSAKey.import_key(jwks["keys"][0])
    return key.as_pem(private=False)


@pytest.mark.parametrize(
    "tamper",
    [
        pytest.param(lambda _: changed_claims(sub="someone-else"), id="claims-changed"),
        pytest.param(lambda _: changed_claims(email=ADMIN_EMAIL), id="email-changed"),
        pytest.param(lambda _: alg_none, id="alg-none"),
        pytest.param(lambda p: hmac_with(_provider_public_pem(p)), id="hs256-with-public-key"),
    ],
)
def test_a_tampered_id_token_is_refused(
    client: TestClient,
    provider: Server,
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
    tamper: Callable[[Server], Callable[[str], str]],
) -> None:
    """The token endpoint's answer is rewritten on its way to Stemdeck."""
    person(provider, f"ned@{ALLOWED_DOMAIN}")
    before = stored(settings)
    with tampering_proxy(tamper(provider)) as (proxy, tampered):
        monkeypatch.setenv("HTTP_PROXY", proxy)
        monkeypatch.delenv("NO_PROXY", raising=False)
        monkeypatch.delenv("no_proxy", raising=False)
        assert_refused(sign_in(client), "id_token_invalid", "/jobs")
    assert len(tampered) == 1, "the ID token went through the proxy"
    assert stored(settings) == before


def test_the_same_proxy_passing_the_token_unchanged_signs_in(
    client: TestClient, provider: Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The control for the test above: the proxy itself breaks nothing."""
    person(provider, f"ola@{ALLOWED_DOMAIN}")
    with tampering_proxy(lambda token: token) as (proxy, passed):
        monkeypatch.setenv("HTTP_PROXY", proxy)
        monkeypatch.delenv("NO_PROXY", raising=False)
        monkeypatch.delenv("no_proxy", raising=False)
        assert sign_in(client).headers["location"] == "/jobs"
    assert len(passed) == 1
    assert client.get("/api/auth/me").status_code == 200


def test_the_user_declining_at_the_provider(
    client: TestClient, provider: Server, settings: Settings
) -> None:
    person(provider, f"pat@{ALLOWED_DOMAIN}", consent=False)
    url = start(client, "/account")
    # The provider's consent page, answered "deny".
    declined = httpx.post(url, data={"answer": "deny"}, follow_redirects=False, trust_env=False)
    assert declined.status_code == 302, declined.text[:1000]
    back = declined.headers["location"]
    assert back.startswith(CALLBACK) and "error=access_denied" in back
    before = stored(settings)
    assert_refused(client.get(back, follow_redirects=False), "access_denied", "/account")
    assert stored(settings) == before


@pytest.mark.parametrize(
    "next_path",
    [
        "https://evil.example/",
        "//evil.example/jobs",
        "/\\evil.example",
        "/\tevil.example",
        "jobs",
        "/api/jobs",
        "/sign-in",
    ],
)
def test_next_never_leaves_the_app(client: TestClient, provider: Server, next_path: str) -> None:
    person(provider, f"quin@{ALLOWED_DOMAIN}")
    assert sign_in(client, next_path).headers["location"] == "/"


def test_a_provider_that_cannot_be_reached(oidc_settings: Callable[..., Settings]) -> None:
    settings = oidc_settings(oidc_issuer="http://127.0.0.1:9")
    with TestClient(create_app(settings)) as client:
        assert_refused(
            client.get("/api/auth/oidc/login?next=/jobs", follow_redirects=False),
            "provider_unreachable",
            "/jobs",
        )
        assert_refused(
            client.get("/api/auth/oidc/callback?code=c&state=s", follow_redirects=False),
            "state_mismatch",
        )


def test_oidc_only_turns_password_sign_in_off(
    oidc_settings: Callable[..., Settings], provider: Server
) -> None:
    settings = oidc_settings(oidc_only=True, oidc_button_label="Sign in with Canaille")
    with TestClient(create_app(settings)) as client:
        methods = client.get("/api/auth/methods").json()
        assert methods == {
            "auth": "accounts",
            "password": False,
            "oidc": {"label": "Sign in with Canaille", "login_url": "/api/auth/oidc/login"},
        }
        login = client.post("/api/auth/login", json={"email": ADMIN_EMAIL, "password": "x" * 20})
        assert login.status_code == 403, login.text
        assert login.json()["error"]["code"] == "password_sign_in_off"
        accept = client.post(
            "/api/auth/accept-invite", json={"token": "t" * 43, "password": "y" * 20}
        )
        assert accept.status_code == 403, accept.text
        assert "SESSION_COOKIE" not in login.headers.get("set-cookie", "")
        # The provider still signs the first admin in.
        person(provider, ADMIN_EMAIL)
        assert sign_in(client).headers["location"] == "/jobs"


def test_the_sign_in_methods_without_a_provider(
    accounts: Callable[..., Settings], make_settings: Callable[..., Settings]
) -> None:
    with TestClient(create_app(accounts())) as client:
        assert client.get("/api/auth/methods").json() == {
            "auth": "accounts",
            "password": True,
            "oidc": None,
        }
        assert_refused(client.get("/api/auth/oidc/login", follow_redirects=False), "oidc_off")
        assert_refused(
            client.get("/api/auth/oidc/callback?code=c&state=s", follow_redirects=False),
            "oidc_off",
        )
    with TestClient(create_app(make_settings())) as client:
        assert client.get("/api/auth/methods").json() == {
            "auth": "none",
            "password": False,
            "oidc": None,
        }
