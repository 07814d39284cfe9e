"""Sign-in for the web app: a password for a session cookie, sign-out, and who am I.

The session lives on the server (core/accounts/sessions.py); the cookie holds only
its random id. Scripts skip all this and send an API token instead.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from sqlalchemy.orm import Session

from stemdeck.api.auth.body import JsonBodyRoute
from stemdeck.api.auth.cookies import clear_session_cookie, set_session_cookie
from stemdeck.api.auth.principal import SESSION_COOKIE, Principal, PrincipalDep
from stemdeck.api.auth.ratelimit import SignInLimiter, client_ip
from stemdeck.api.deps import ContextDep, get_context
from stemdeck.api.errors import invalid_credentials, password_sign_in_off, sign_in_off
from stemdeck.api.schemas import (
    ErrorPublic,
    LoginCredentials,
    MePublic,
    OidcMethodPublic,
    SignInMethodsPublic,
    UserPublic,
)
from stemdeck.core.accounts.sessions import SessionLimits, end_session, start_session
from stemdeck.core.accounts.signin import password_user
from stemdeck.core.accounts.tokens import digest
from stemdeck.core.db import session_scope
from stemdeck.core.models import User
from stemdeck.core.settings import AuthMode, Settings

router = APIRouter(prefix="/auth", tags=["auth"], route_class=JsonBodyRoute)


def _errors(*statuses: int) -> dict[int | str, dict[str, Any]]:
    return {status: {"model": ErrorPublic} for status in statuses}


def me_public(principal: Principal, settings: Settings) -> MePublic:
    user = UserPublic(id=principal.user_id, email=principal.email, is_admin=principal.is_admin)
    return MePublic.model_validate(
        {"user": user, "auth": settings.auth.value, "via": principal.via}
    )


@router.post("/login", responses=_errors(401, 403, 409, 413, 415, 422, 429, 503))
def login(
    credentials: LoginCredentials, request: Request, response: Response, context: ContextDep
) -> MePublic:
    """Sign in with an email and password: sets the session cookie and answers who you
    are. 403 password_sign_in_off under STEMDECK_OIDC_ONLY=true."""
    settings = context.settings
    if settings.auth is AuthMode.none:
        raise sign_in_off()
    if not settings.password_sign_in:
        raise password_sign_in_off()
    email, ip = credentials.email.strip().lower(), client_ip(request)
    limiter = SignInLimiter.from_settings(context.redis, settings)
    limiter.count_attempt(email, ip)  # 429 before any password work
    with session_scope(settings.effective_database_url) as session:
        user = password_user(session, email, credentials.password)
        if user is None:
            raise invalid_credentials()
        session_id, principal = begin_session(session, request, settings, user, ip)
    limiter.succeeded(email, ip)
    set_session_cookie(response, request, settings, session_id)
    return me_public(principal, settings)


def begin_session(
    session: Session, request: Request, settings: Settings, user: User, ip: str
) -> tuple[str, Principal]:
    """A new session for ``user`` (its id, for the cookie). Whatever id the browser had
    ends now: the new one is always fresh, so a planted id is never signed in."""
    if planted := request.cookies.get(SESSION_COOKIE):
        end_session(session, planted)
        get_context(request).principals.forget(digest(planted))
    session_id = start_session(
        session,
        user,
        SessionLimits.from_settings(settings),
        user_agent=request.headers.get("user-agent"),
        ip=ip,
    )
    return session_id, Principal(user.id, user.email, user.is_admin, None, "session")


@router.post("/logout", status_code=204, responses=_errors(403))
def logout(request: Request, context: ContextDep) -> Response:
    """Sign out: the session ends on the server and the cookie is cleared (204 even
    when not signed in)."""
    settings = context.settings
    if session_id := request.cookies.get(SESSION_COOKIE):
        with session_scope(settings.effective_database_url) as session:
            end_session(session, session_id)
        context.principals.forget(digest(session_id))
    response = Response(status_code=204)
    clear_session_cookie(response, request, settings)
    return response


@router.get("/methods")
def methods(context: ContextDep) -> SignInMethodsPublic:
    """How one signs in here, for the sign-in page (public: asked before signing in)."""
    settings = context.settings
    oidc = None
    if settings.auth is AuthMode.accounts and settings.oidc_issuer:
        oidc = OidcMethodPublic(label=settings.oidc_label, login_url="/api/auth/oidc/login")
    return SignInMethodsPublic.model_validate(
        {"auth": settings.auth.value, "password": settings.password_sign_in, "oidc": oidc}
    )


@router.get("/me", responses=_errors(401))
def me(principal: PrincipalDep, context: ContextDep) -> MePublic:
    """Who this request acts for, and how it proved it (401 when not signed in)."""
    return me_public(principal, context.settings)
