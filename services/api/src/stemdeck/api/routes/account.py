"""/api/account: the caller's own sessions, API tokens and password.

Only a signed-in browser, or the local admin under ``STEMDECK_AUTH=none``, may use
these: an API token gets 403 ``session_required``, so a leaked token can neither mint
more tokens nor sign its owner out nor change their password.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response

from stemdeck.api.auth.body import JsonBodyRoute
from stemdeck.api.auth.cookies import clear_session_cookie
from stemdeck.api.auth.principal import SESSION_COOKIE, Principal, PrincipalDep
from stemdeck.api.auth.ratelimit import SignInLimiter, client_ip
from stemdeck.api.deps import ContextDep
from stemdeck.api.errors import (
    ApiError,
    session_not_found,
    session_required,
    sign_in_off,
    token_not_found,
    wrong_current_password,
)
from stemdeck.api.schemas import (
    JSON_BODY_ERRORS,
    SIGN_IN_ERRORS,
    PasswordChange,
    SessionPublic,
    TokenCreate,
    TokenCreated,
    TokenPublic,
    error_responses,
)
from stemdeck.core.accounts.api_tokens import create_api_token, revoke_api_token, user_api_tokens
from stemdeck.core.accounts.errors import AccountError
from stemdeck.core.accounts.passwords import PasswordRefused, check_new_password
from stemdeck.core.accounts.sessions import (
    SessionLimits,
    end_session_by_handle,
    end_user_sessions,
    live_sessions,
    session_handle,
)
from stemdeck.core.accounts.tokens import digest
from stemdeck.core.accounts.users import change_password, ensure_password_changeable
from stemdeck.core.db import session_scope
from stemdeck.core.models import ApiToken, User

router = APIRouter(
    prefix="/account", tags=["account"], route_class=JsonBodyRoute, responses=SIGN_IN_ERRORS
)


def account_holder(principal: PrincipalDep) -> Principal:
    """The caller, if a signed-in browser or the local admin; an API token gets 403."""
    if principal.via not in ("session", "local"):
        raise session_required()
    return principal


AccountHolder = Annotated[Principal, Depends(account_holder)]


def _current_session(request: Request, principal: Principal) -> str | None:
    # via "session" means this request was proved by the cookie, not a token.
    return request.cookies.get(SESSION_COOKIE) if principal.via == "session" else None


# --- sessions ----------------------------------------------------------------------


@router.get("/sessions")
def list_sessions(
    principal: AccountHolder, request: Request, context: ContextDep
) -> list[SessionPublic]:
    """Your sessions that have not ended, newest first; ``current`` marks this browser's.
    Empty under STEMDECK_AUTH=none, where nobody signs in."""
    current = _current_session(request, principal)
    if current is None:
        return []
    settings = context.settings
    with session_scope(settings.effective_database_url) as session:
        rows = live_sessions(session, principal.user_id, SessionLimits.from_settings(settings))
        return [
            SessionPublic(
                id=session_handle(row),
                created_at=row.created_at,
                last_seen_at=row.last_seen_at,
                expires_at=row.expires_at,
                user_agent=row.user_agent,
                ip=row.ip,
                current=row.id_hash == digest(current),
            )
            for row in rows
        ]


@router.delete(
    "/sessions/{session_id}",
    status_code=204,
    responses=error_responses(e404="None of your sessions has this id"),
)
def end_one_session(
    session_id: str, principal: AccountHolder, request: Request, context: ContextDep
) -> Response:
    """Sign one of your sessions out (this one too: then its cookie is cleared)."""
    current = _current_session(request, principal)
    if current is None:
        raise session_not_found(session_id)
    settings = context.settings
    with session_scope(settings.effective_database_url) as session:
        if not end_session_by_handle(session, principal.user_id, session_id):
            raise session_not_found(session_id)
    context.principals.forget_user(principal.user_id)
    response = Response(status_code=204)
    if digest(current).startswith(session_id):
        clear_session_cookie(response, request, settings)
    return response


@router.delete("/sessions", status_code=204)
def end_all_sessions(principal: AccountHolder, request: Request, context: ContextDep) -> Response:
    """Sign every session of yours out, this one included, and clear its cookie."""
    settings = context.settings
    response = Response(status_code=204)
    if _current_session(request, principal) is None:
        return response  # STEMDECK_AUTH=none: nobody signs in
    with session_scope(settings.effective_database_url) as session:
        end_user_sessions(session, principal.user_id)
    context.principals.forget_user(principal.user_id)
    clear_session_cookie(response, request, settings)
    return response


# --- API tokens --------------------------------------------------------------------


def _token_fields(row: ApiToken) -> dict[str, Any]:
    return {
        "id": row.id,
        "name": row.name,
        "prefix": row.prefix,
        "scopes": row.scopes,
        "created_at": row.created_at,
        "last_used_at": row.last_used_at,
        "expires_at": row.expires_at,
    }


@router.get("/tokens")
def list_tokens(principal: AccountHolder, context: ContextDep) -> list[TokenPublic]:
    """Your API tokens not revoked (expired ones too), newest first; never their values."""
    with session_scope(context.settings.effective_database_url) as session:
        rows = user_api_tokens(session, principal.user_id)
        return [TokenPublic.model_validate(_token_fields(row)) for row in rows]


@router.post(
    "/tokens",
    status_code=201,
    responses=error_responses(
        e422="A name, scope or expiry that cannot be used (invalid_token_request), "
        "or a malformed body (invalid_request)",
        **JSON_BODY_ERRORS,
    ),
)
def create_token(body: TokenCreate, principal: AccountHolder, context: ContextDep) -> TokenCreated:
    """Create an API token; its value is in this answer only (the server keeps its hash)."""
    with session_scope(context.settings.effective_database_url) as session:
        user = session.get_one(User, principal.user_id)
        try:
            value, row = create_api_token(session, user, body.scopes, body.name, body.expires_days)
        except AccountError as error:
            raise ApiError(422, "invalid_token_request", f"{error}.") from None
        return TokenCreated.model_validate({"token": value, **_token_fields(row)})


@router.delete(
    "/tokens/{token_id}",
    status_code=204,
    responses=error_responses(e404="None of your tokens not yet revoked has this id"),
)
def revoke_token(token_id: str, principal: AccountHolder, context: ContextDep) -> Response:
    """Revoke one of your API tokens: it stops working at once."""
    with session_scope(context.settings.effective_database_url) as session:
        if not revoke_api_token(session, principal.user_id, token_id):
            raise token_not_found(token_id)
    context.principals.forget_user(principal.user_id)
    return Response(status_code=204)


# --- password ----------------------------------------------------------------------


@router.post(
    "/password",
    status_code=204,
    responses=error_responses(
        e401="The current password is wrong (invalid_credentials)",
        e409="STEMDECK_AUTH=none (sign_in_off), or the first admin, whose password is "
        "the server's STEMDECK_ADMIN_PASSWORD (password_from_settings)",
        e422="A new password that may not be set (invalid_password), or a malformed body",
        e429="Too many wrong passwords for this account, or from this address",
        **JSON_BODY_ERRORS,
    ),
)
def set_password(
    body: PasswordChange, principal: AccountHolder, request: Request, context: ContextDep
) -> Response:
    """Change your password: your other sessions end, this one stays signed in."""
    current = _current_session(request, principal)
    if current is None:
        raise sign_in_off()
    try:
        check_new_password(body.new_password)  # before any argon2 work or counted attempt
    except PasswordRefused as refused:
        raise ApiError(422, "invalid_password", f"The new password: {refused}.") from None
    settings = context.settings
    limiter = SignInLimiter.from_settings(context.redis, settings)
    ip = client_ip(request)
    with session_scope(settings.effective_database_url) as session:
        user = session.get_one(User, principal.user_id)
        try:
            ensure_password_changeable(user)
        except AccountError as error:
            raise ApiError(409, "password_from_settings", f"{error}.") from None
        # A wrong current password counts as a failed sign-in: a borrowed session must
        # not be a way to guess the password faster than the sign-in form allows.
        email = user.email
        limiter.count_attempt(email, ip)
        if not change_password(session, user, body.current_password, body.new_password, current):
            raise wrong_current_password()
    context.principals.forget_user(principal.user_id)  # the other sessions just ended
    limiter.succeeded(email, ip)
    return Response(status_code=204)
