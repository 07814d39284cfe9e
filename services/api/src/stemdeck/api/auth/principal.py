"""The principal of a request: who it acts for, and with which scopes.

``STEMDECK_AUTH=none`` (a laptop, loopback only): every request is the built-in
local admin. ``accounts``: an ``Authorization: Bearer sdk_…`` token (its scopes),
else the session cookie (everything its user may do), else 401. A cookie or token is
one database read, then trusted for STEMDECK_AUTH_CACHE_SECONDS (see auth/cache.py).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated

from fastapi import Depends, Request
from starlette.concurrency import run_in_threadpool

from stemdeck.api.context import AppContext
from stemdeck.api.deps import ContextDep
from stemdeck.api.errors import ApiError
from stemdeck.core.accounts.api_tokens import token_user
from stemdeck.core.accounts.sessions import SessionLimits, session_user
from stemdeck.core.accounts.tokens import (
    Scope,
    digest,
    looks_like_api_token,
    looks_like_session_id,
)
from stemdeck.core.db import session_scope
from stemdeck.core.models import LOCAL_ADMIN_EMAIL, LOCAL_ADMIN_ID, User, utcnow
from stemdeck.core.settings import AuthMode, Settings

SESSION_COOKIE = "stemdeck_session"


@dataclass(frozen=True)
class Principal:
    user_id: str
    email: str
    is_admin: bool
    # None: a signed-in browser, which may do all its user may; else a token's scopes.
    scopes: frozenset[Scope] | None
    # How the request proved it: "local" (auth none), "session" or "token".
    via: str

    def may(self, scope: Scope) -> bool:
        if scope == Scope.admin and not self.is_admin:
            return False
        return self.scopes is None or scope in self.scopes


def _of(user: User, scopes: frozenset[Scope] | None, via: str) -> Principal:
    return Principal(user.id, user.email, user.is_admin, scopes, via)


def not_signed_in() -> ApiError:
    return ApiError(
        401,
        "not_signed_in",
        "Sign in first (POST /api/auth/login, or the web app), or send an API token as "
        "'Authorization: Bearer sdk_…' (create one with `stemdeck tokens create`).",
        headers={"WWW-Authenticate": "Bearer"},
    )


def _api_token(header: str) -> str:
    scheme, _, token = header.partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not looks_like_api_token(token):
        raise ApiError(
            401,
            "invalid_token",
            "The Authorization header must be 'Bearer sdk_…' with a whole API token.",
            headers={"WWW-Authenticate": 'Bearer error="invalid_token"'},
        )
    return token


def _bearer(context: AppContext, header: str) -> Principal:
    token = _api_token(header)
    key, cache = digest(token), context.principals
    if cached := cache.get(key):
        return cached
    generation = cache.generation()
    with session_scope(context.settings.effective_database_url) as session:
        found = token_user(session, token)
        if found is None:
            raise ApiError(
                401,
                "invalid_token",
                "This API token is not valid: it was revoked or has expired, its user is "
                "disabled, or it is mistyped. Create a new one.",
                headers={"WWW-Authenticate": 'Bearer error="invalid_token"'},
            )
        user, row = found
        principal = _of(user, frozenset(Scope(scope) for scope in row.scopes), "token")
        expires_at = row.expires_at
    # Kept only once the lookup's own write (last used) is committed.
    cache.put(key, principal, _keep_for(context, expires_at), generation)
    return principal


def _keep_for(context: AppContext, ends_at: datetime | None) -> float:
    """Seconds to trust a credential just checked: the cache's time, never past its end."""
    seconds = context.settings.auth_cache_seconds
    if ends_at is None:
        return seconds
    return min(seconds, (ends_at - utcnow()).total_seconds())


def session_ended() -> ApiError:
    return ApiError(
        401,
        "session_expired",
        "Your session has ended (signed out, idle too long, or too old); sign in again.",
        # The dead cookie goes too, so the browser stops sending it.
        headers={
            "WWW-Authenticate": "Bearer",
            "Set-Cookie": f"{SESSION_COOKIE}=; HttpOnly; Max-Age=0; Path=/; SameSite=lax",
        },
    )


def _session_key(session_id: str) -> str:
    if not looks_like_session_id(session_id):
        raise session_ended()  # not one this server made: no database read
    return digest(session_id)


def _session(context: AppContext, session_id: str) -> Principal:
    key, cache = _session_key(session_id), context.principals
    if cached := cache.get(key):
        return cached
    generation = cache.generation()
    limits = SessionLimits.from_settings(context.settings)
    with session_scope(context.settings.effective_database_url) as session:
        found = session_user(session, session_id, limits)
        if found is None:
            raise session_ended()
        user, ends_at = found
        principal = _of(user, None, "session")
    cache.put(key, principal, _keep_for(context, ends_at), generation)
    return principal


def _local_admin(settings: Settings) -> Principal:
    return Principal(LOCAL_ADMIN_ID, settings.admin_email or LOCAL_ADMIN_EMAIL, True, None, "local")


def current_principal(request: Request, context: AppContext) -> Principal:
    """Blocking: a credential the cache does not hold is read from the database."""
    settings = context.settings
    if settings.auth == AuthMode.none:
        return _local_admin(settings)
    if header := request.headers.get("authorization"):
        return _bearer(context, header)
    if session_id := request.cookies.get(SESSION_COOKIE):
        return _session(context, session_id)
    raise not_signed_in()


def _known_principal(request: Request, context: AppContext) -> Principal | None:
    """current_principal when it needs no database read, else None; the same refusals
    for a missing or malformed credential."""
    settings = context.settings
    if settings.auth == AuthMode.none:
        return _local_admin(settings)
    if header := request.headers.get("authorization"):
        return context.principals.get(digest(_api_token(header)))
    if session_id := request.cookies.get(SESSION_COOKIE):
        return context.principals.get(_session_key(session_id))
    raise not_signed_in()


async def request_principal(request: Request, context: ContextDep) -> Principal:
    """The dependency: the local admin or a credential checked a moment ago at once, on
    the event loop (a threadpool hop cost more than a status request's own work); a
    database read in the threadpool."""
    known = _known_principal(request, context)
    if known is not None:
        return known
    return await run_in_threadpool(current_principal, request, context)


PrincipalDep = Annotated[Principal, Depends(request_principal)]


def requires(scope: Scope) -> Callable[[Principal], Awaitable[Principal]]:
    """A dependency: the principal, if it may use ``scope``; else 403 naming it."""

    async def check(principal: PrincipalDep) -> Principal:
        if not principal.may(scope):
            why = (
                "only admins may"
                if scope == Scope.admin and not principal.is_admin
                else f"this API token lacks the {scope.value!r} scope"
            )
            raise ApiError(
                403,
                "missing_scope",
                f"This needs the {scope.value!r} scope: {why}. Use a token that has it.",
            )
        return principal

    return check


JobsReader = Annotated[Principal, Depends(requires(Scope.jobs_read))]
JobsWriter = Annotated[Principal, Depends(requires(Scope.jobs_write))]
Admin = Annotated[Principal, Depends(requires(Scope.admin))]
