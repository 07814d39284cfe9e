"""Sign-in with an OpenID Connect provider (STEMDECK_OIDC_ISSUER): the browser goes to
GET /api/auth/oidc/login, the provider, then GET /api/auth/oidc/callback, which signs
it in as POST /api/auth/login does (a fresh session id in the same cookie) and sends it
on to the page it came from.

Both are top-level browser navigations, so every outcome is a redirect, never JSON: a
refusal goes to the web app's sign-in page with ``?oidc_error=<code>``, which says in
plain words what happened and what to do (services/frontend/src/auth/oidc.ts). The
flow itself (state, nonce, PKCE, the ID token's checks) is auth/oidc.py's; who may sign
in is core's (core/accounts/oidc.py).
"""

from __future__ import annotations

import logging
import re
from typing import Any
from urllib.parse import urlencode, urlsplit

from fastapi import APIRouter, Query, Request
from fastapi.responses import RedirectResponse
from starlette.concurrency import run_in_threadpool

from stemdeck.api.auth.cookies import secure_cookie, set_session_cookie
from stemdeck.api.auth.oidc import FLOW_COOKIE, STATE_TTL_S, OidcFailure, OidcFlow, Problem
from stemdeck.api.auth.ratelimit import client_ip
from stemdeck.api.deps import get_context
from stemdeck.api.routes.auth import begin_session
from stemdeck.core.accounts.oidc import AllowList, OidcClaims, OidcRefused, oidc_user
from stemdeck.core.db import session_scope
from stemdeck.core.settings import AuthMode, Settings

log = logging.getLogger(__name__)

router = APIRouter(prefix="/auth/oidc", tags=["auth"])

SIGN_IN_PAGE = "/sign-in"
CALLBACK_PATH = "/api/auth/oidc/callback"
MAX_NEXT_LENGTH = 2048
_UNSAFE_NEXT = re.compile(r"[\\\x00-\x1f\x7f]")
_REDIRECT: dict[int | str, dict[str, Any]] = {
    302: {"description": "A browser redirect (see the route's description)"}
}


def local_path(next_path: str | None) -> str:
    """``next`` as a path of this site, or "/": never another site (no open redirect)."""
    if (
        not next_path
        or len(next_path) > MAX_NEXT_LENGTH
        or not next_path.startswith("/")
        or next_path.startswith("//")
        or _UNSAFE_NEXT.search(next_path)  # "/\\host" and "/\t/host" are other hosts too
    ):
        return "/"
    parts = urlsplit(next_path)
    if parts.scheme or parts.netloc or parts.path.startswith(("/api/", SIGN_IN_PAGE)):
        return "/"
    return next_path


def _flow(request: Request) -> OidcFlow | None:
    """This process's flow (made on first use, so start-up never waits on the
    provider), or None when sign-in with a provider is off."""
    settings = get_context(request).settings
    if settings.auth is not AuthMode.accounts or not settings.oidc_issuer:
        return None
    flow: OidcFlow | None = getattr(request.app.state, "oidc_flow", None)
    if flow is None:
        flow = OidcFlow(settings, get_context(request).redis)
        request.app.state.oidc_flow = flow
    return flow


def _refused(problem: str, next_path: str | None) -> RedirectResponse:
    query = {"oidc_error": problem}
    if next_path and next_path != "/":
        query["next"] = next_path
    return RedirectResponse(f"{SIGN_IN_PAGE}?{urlencode(query)}", status_code=302)


def _callback_url(request: Request, settings: Settings) -> str:
    # The exact redirect URI registered at the provider: the public URL's when set.
    base = settings.public_url or str(request.base_url).rstrip("/")
    return base + CALLBACK_PATH


@router.get("/login", status_code=302, response_class=RedirectResponse, responses=_REDIRECT)
async def oidc_login(
    request: Request,
    next: str | None = Query(None, description="A path of this site to come back to"),
) -> RedirectResponse:
    """Start signing in with the provider: redirects the browser to it (or, when
    sign-in with a provider is off, to the sign-in page saying so)."""
    next_path = local_path(next)
    flow = _flow(request)
    if flow is None:
        return _refused(Problem.off, next_path)
    settings = get_context(request).settings
    try:
        url, binding = await flow.begin(
            _callback_url(request, settings), next_path, request.cookies.get(FLOW_COOKIE)
        )
    except OidcFailure as failure:
        log.warning("OIDC sign-in could not start: %s", failure)
        return _refused(failure.problem, next_path)
    response = RedirectResponse(url, status_code=302)
    # Lax: sent back on the provider's top-level redirect to the callback, not on
    # another site's requests. Only the callback's path needs it.
    response.set_cookie(
        FLOW_COOKIE,
        binding,
        max_age=STATE_TTL_S,
        path=CALLBACK_PATH,
        secure=secure_cookie(request, settings),
        httponly=True,
        samesite="lax",
    )
    return response


@router.get("/callback", status_code=302, response_class=RedirectResponse, responses=_REDIRECT)
async def oidc_callback(request: Request) -> RedirectResponse:
    """Where the provider sends the browser back: checks the answer, signs in (the
    session cookie) and redirects to the page the sign-in began from; else to the
    sign-in page with ``?oidc_error=`` naming what went wrong. Stores nothing then."""
    flow = _flow(request)
    if flow is None:
        return _refused(Problem.off, None)
    try:
        claims, next_path = await flow.finish(request)
    except OidcFailure as failure:
        log.warning("OIDC sign-in refused: %s", failure)
        return _refused(failure.problem, failure.next_path)
    settings = get_context(request).settings
    try:
        session_id = await run_in_threadpool(_sign_in, request, settings, claims)
    except OidcRefused as refused:
        log.info("OIDC sign-in of %s refused: %s", claims.get("sub"), refused.reason)
        return _refused(refused.reason, next_path)
    except ValueError as error:  # a verified token that still names no subject
        log.warning("OIDC sign-in refused: %s", error)
        return _refused(Problem.id_token_invalid, next_path)
    response = RedirectResponse(next_path, status_code=302)
    set_session_cookie(response, request, settings, session_id)
    response.delete_cookie(FLOW_COOKIE, path=CALLBACK_PATH)
    return response


def _sign_in(request: Request, settings: Settings, claims: dict[str, Any]) -> str:
    """The new session's id for the user these claims are (OidcRefused: nobody's)."""
    identity = OidcClaims.of(settings.oidc_issuer, claims)
    allowed = AllowList.of(settings.oidc_allowed_emails, settings.oidc_allowed_domains)
    with session_scope(settings.effective_database_url) as session:
        user = oidc_user(session, identity, allowed)
        session_id, _ = begin_session(session, request, settings, user, client_ip(request))
    return session_id
