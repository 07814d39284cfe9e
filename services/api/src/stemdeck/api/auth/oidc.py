"""Sign-in with an OpenID Connect provider, through Authlib's Starlette client: the
authorization code flow with PKCE (S256), state and nonce.

``begin``: Authlib makes a fresh state, nonce and code verifier. They wait in Redis
(shared by every API replica) under the state's hash for ``STATE_TTL_S``, bound to
this browser by a random value whose hash they keep and which the browser holds in an
HttpOnly cookie: a callback carrying someone else's state (a forged sign-in into the
attacker's account) is refused.

``finish``: the state is taken out of Redis at once (GETDEL), so a replayed callback
finds nothing. The code is exchanged with the verifier, and Authlib verifies the ID
token with the issuer's published keys (JWKS): its signature, with one of the
algorithms the issuer advertises but never ``none`` nor an HMAC one (an HMAC "signed"
with a public key is the classic algorithm-confusion forgery); ``iss`` equal to the
issuer, which discovery must have confirmed; ``aud`` holding our client id; ``exp``
and ``iat`` within ``LEEWAY_S``; and ``nonce`` equal to ours.
Every failure is an ``OidcFailure`` whose code the sign-in page turns into words.
"""

from __future__ import annotations

import hmac
import importlib.util
import json
import logging
import secrets
from contextlib import suppress
from enum import StrEnum
from typing import Any

from authlib.common.errors import AuthlibBaseError
from authlib.integrations.starlette_client import OAuth
from joserfc.errors import JoseError
from redis import Redis
from redis.exceptions import RedisError
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request

from stemdeck.core.accounts.tokens import digest
from stemdeck.core.settings import OIDC_DISCOVERY_PATH, Settings

log = logging.getLogger(__name__)

STATE_TTL_S = 600
LEEWAY_S = 60
SCOPE = "openid email profile"
FLOW_COOKIE = "stemdeck_oidc"
# Asymmetric algorithms only: the keys come from the issuer's JWKS.
SIGNING_ALGS = frozenset(
    {"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}
)
_STATE_PREFIX = "stemdeck:oidc:state"
# Authlib talks over httpx2 where it is installed, else httpx: a provider that cannot
# be reached raises either's HTTPError.
HTTP_ERRORS: tuple[type[Exception], ...] = tuple(
    importlib.import_module(name).HTTPError
    for name in ("httpx", "httpx2")
    if importlib.util.find_spec(name)
)
# A provider that cannot be reached, or answers with something that is no JSON.
UNREACHABLE: tuple[type[Exception], ...] = (*HTTP_ERRORS, ValueError)


class Problem(StrEnum):
    """Why a sign-in with the provider did not end signed in (the sign-in page's
    ``?oidc_error=``)."""

    off = "oidc_off"
    access_denied = "access_denied"
    provider_error = "provider_error"
    state_mismatch = "state_mismatch"
    exchange_failed = "exchange_failed"
    id_token_invalid = "id_token_invalid"
    provider_unreachable = "provider_unreachable"
    provider_misconfigured = "provider_misconfigured"
    # Stemdeck's own Redis, where a sign-in waits for its callback, is down.
    unavailable = "sign_in_unavailable"


class OidcFailure(Exception):
    def __init__(self, problem: Problem, detail: str, next_path: str | None = None) -> None:
        super().__init__(f"{problem.value}: {detail}")
        self.problem = problem
        self.next_path = next_path


class OidcFlow:
    """One per API process: Authlib caches the provider's discovery document and keys."""

    def __init__(self, settings: Settings, redis: Redis) -> None:
        self.issuer = settings.oidc_issuer
        self.client_id = settings.oidc_client_id
        self.redis = redis
        self.client: Any = OAuth().register(
            name="stemdeck",
            client_id=settings.oidc_client_id,
            client_secret=settings.oidc_client_secret.get_secret_value(),
            server_metadata_url=self.issuer + OIDC_DISCOVERY_PATH,
            client_kwargs={"scope": SCOPE, "code_challenge_method": "S256", "timeout": 15},
        )

    async def _metadata(self) -> dict[str, Any]:
        try:
            metadata: dict[str, Any] = await self.client.load_server_metadata()
        except UNREACHABLE as error:
            raise OidcFailure(Problem.provider_unreachable, f"discovery: {error!r}") from None
        if metadata.get("issuer") != self.issuer:
            # OpenID Connect Discovery 1.0 §4.3: the issuer it names must be the one asked.
            self.client.server_metadata.pop("_loaded_at", None)
            raise OidcFailure(
                Problem.provider_misconfigured,
                f"the discovery document names issuer {metadata.get('issuer')!r}, not "
                f"STEMDECK_OIDC_ISSUER {self.issuer!r}",
            )
        advertised = metadata.get("id_token_signing_alg_values_supported") or ["RS256"]
        pinned = [alg for alg in advertised if alg in SIGNING_ALGS]
        if not pinned:
            raise OidcFailure(
                Problem.provider_misconfigured,
                f"the provider signs ID tokens only with {advertised}; Stemdeck accepts "
                f"{sorted(SIGNING_ALGS)}",
            )
        # Authlib verifies ID tokens with exactly this list.
        metadata["id_token_signing_alg_values_supported"] = pinned
        return metadata

    async def begin(
        self, redirect_uri: str, next_path: str, binding: str | None
    ) -> tuple[str, str]:
        """(the provider's authorization URL to send the browser to, the browser's
        binding value for the flow cookie: ``binding`` when it had a good one)."""
        await self._metadata()
        try:
            found = await self.client.create_authorization_url(redirect_uri)
        except (AuthlibBaseError, RuntimeError, *HTTP_ERRORS) as error:
            raise OidcFailure(Problem.provider_misconfigured, repr(error), next_path) from None
        if not binding or len(binding) != 43:
            binding = secrets.token_urlsafe(32)
        kept = {
            "nonce": found["nonce"],
            "code_verifier": found["code_verifier"],
            "redirect_uri": redirect_uri,
            "next": next_path,
            "binding": digest(binding),
        }
        try:
            await run_in_threadpool(self._keep, found["state"], kept)
        except RedisError as error:
            raise OidcFailure(Problem.unavailable, f"Redis: {error!r}", next_path) from None
        return str(found["url"]), binding

    def _keep(self, state: str, kept: dict[str, str]) -> None:
        self.redis.set(f"{_STATE_PREFIX}:{digest(state)}", json.dumps(kept), ex=STATE_TTL_S)

    def _take(self, state: str) -> dict[str, str] | None:
        raw = self.redis.getdel(f"{_STATE_PREFIX}:{digest(state)}")
        return json.loads(raw) if isinstance(raw, bytes | str) else None

    async def _started(self, request: Request) -> dict[str, str]:
        """The flow this callback ends, taken out of Redis: OidcFailure when there is
        none for its state, or it was begun in another browser."""
        state = request.query_params.get("state") or ""
        try:
            kept = await run_in_threadpool(self._take, state) if state else None
        except RedisError as error:
            raise OidcFailure(Problem.unavailable, f"Redis: {error!r}") from None
        if kept is None:
            raise OidcFailure(Problem.state_mismatch, "no sign-in waits for this state")
        binding = request.cookies.get(FLOW_COOKIE) or ""
        if not hmac.compare_digest(digest(binding), kept.get("binding", "")):
            raise OidcFailure(Problem.state_mismatch, "begun in another browser", kept.get("next"))
        if not (kept.get("nonce") and kept.get("code_verifier")):
            raise OidcFailure(
                Problem.state_mismatch,
                "the kept sign-in has no nonce or verifier",
                kept.get("next"),
            )
        return kept

    async def finish(self, request: Request) -> tuple[dict[str, Any], str]:
        """(the verified ID token's claims, with the userinfo's email when the token had
        none; the path to go on to)."""
        query = request.query_params
        if error := query.get("error"):
            # The flow ends here too; its state still says where the user was going.
            kept_next = None
            with suppress(OidcFailure):
                kept_next = (await self._started(request)).get("next")
            problem = Problem.access_denied if error == "access_denied" else Problem.provider_error
            raise OidcFailure(problem, f"{error}: {query.get('error_description')}", kept_next)
        kept = await self._started(request)
        next_path = kept.get("next") or "/"
        if (issuer := query.get("iss")) and issuer != self.issuer:
            # RFC 9207: the answer names who sent it; another issuer's is a mix-up.
            raise OidcFailure(Problem.provider_error, f"answered by {issuer!r}", next_path)
        if not query.get("code"):
            raise OidcFailure(Problem.provider_error, "the callback has no code", next_path)
        metadata = await self._metadata()
        try:
            token = await self.client.fetch_access_token(
                code=query["code"],
                redirect_uri=kept["redirect_uri"],
                code_verifier=kept["code_verifier"],
            )
        except AuthlibBaseError as refused:
            raise OidcFailure(Problem.exchange_failed, repr(refused), next_path) from None
        except UNREACHABLE as error:
            raise OidcFailure(Problem.provider_unreachable, repr(error), next_path) from None
        claims = await self._verified_claims(token, kept["nonce"], next_path)
        if "email" not in claims and metadata.get("userinfo_endpoint"):
            claims.update(await self._userinfo_email(token, str(claims.get("sub"))))
        return claims, next_path

    async def _verified_claims(
        self, token: dict[str, Any], nonce: str, next_path: str
    ) -> dict[str, Any]:
        if "id_token" not in token:
            raise OidcFailure(Problem.id_token_invalid, "no ID token", next_path)
        options = {
            "iss": {"essential": True, "values": [self.issuer]},
            "aud": {"essential": True, "values": [self.client_id]},
            "sub": {"essential": True},
        }
        try:
            claims = await self.client.parse_id_token(
                token, nonce=nonce, claims_options=options, leeway=LEEWAY_S
            )
        except (JoseError, AuthlibBaseError, ValueError, TypeError, KeyError) as error:
            raise OidcFailure(Problem.id_token_invalid, repr(error), next_path) from None
        except HTTP_ERRORS as error:
            raise OidcFailure(Problem.provider_unreachable, f"JWKS: {error!r}", next_path) from None
        return dict(claims)

    async def _userinfo_email(self, token: dict[str, Any], subject: str) -> dict[str, Any]:
        """The email claims of the userinfo endpoint, when it speaks of the same subject
        (OpenID Connect Core §5.3.2); nothing when it cannot be read."""
        try:
            info = await self.client.userinfo(token=token)
        except (AuthlibBaseError, *UNREACHABLE) as error:
            log.warning("OIDC userinfo could not be read: %r", error)
            return {}
        if info.get("sub") != subject:
            return {}
        return {key: info[key] for key in ("email", "email_verified") if key in info}
