"""Invite links: admins create, list and revoke them (/api/admin/invites); whoever opens
one sets a password and is signed in (POST /api/auth/accept-invite).

Only under STEMDECK_AUTH=accounts: under none there is nobody to invite (409
sign_in_off). The rules are core's (core/accounts/invites.py).
"""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from stemdeck.api.auth.body import JsonBodyRoute
from stemdeck.api.auth.cookies import set_session_cookie
from stemdeck.api.auth.principal import Admin
from stemdeck.api.auth.ratelimit import SignInLimiter, client_ip
from stemdeck.api.deps import ContextDep
from stemdeck.api.errors import (
    ApiError,
    email_taken,
    invite_invalid,
    invite_not_found,
    password_sign_in_off,
    sign_in_off,
)
from stemdeck.api.routes.auth import begin_session, me_public
from stemdeck.api.schemas import (
    JSON_BODY_ERRORS,
    SIGN_IN_ERRORS,
    InviteAccept,
    InviteCreate,
    InviteCreated,
    InvitePublic,
    MePublic,
    error_responses,
)
from stemdeck.core.accounts.errors import AccountError
from stemdeck.core.accounts.invites import (
    EmailTaken,
    InviteInvalid,
    accept_invite,
    create_invite,
    open_invites,
    revoke_invite,
)
from stemdeck.core.accounts.passwords import PasswordRefused
from stemdeck.core.accounts.tokens import digest
from stemdeck.core.db import session_scope
from stemdeck.core.models import Invite
from stemdeck.core.settings import AuthMode, Settings

router = APIRouter(
    prefix="/admin", tags=["admin"], route_class=JsonBodyRoute, responses=SIGN_IN_ERRORS
)
accept_router = APIRouter(prefix="/auth", tags=["auth"], route_class=JsonBodyRoute)

SIGN_IN_OFF = "STEMDECK_AUTH=none: nobody signs in, so nobody is invited (sign_in_off)"


def _accounts_only(settings: Settings) -> None:
    if settings.auth is AuthMode.none:
        raise sign_in_off()


def _public(row: Invite) -> InvitePublic:
    return InvitePublic(
        id=row.id,
        email=row.email,
        is_admin=row.is_admin,
        created_by=row.created_by,
        created_at=row.created_at,
        expires_at=row.expires_at,
    )


@router.post(
    "/invites",
    status_code=201,
    responses=error_responses(
        e409=f"The email already has an account (email_taken), or {SIGN_IN_OFF}",
        e422="A bad email (invalid_email), or a malformed body: an unknown field, a "
        "wrong type, expires_hours out of range",
        **JSON_BODY_ERRORS,
    ),
)
def create(
    body: InviteCreate, principal: Admin, request: Request, context: ContextDep
) -> InviteCreated:
    """Invite someone: the link is in this answer only (the server keeps its hash). It
    works once, until it expires or is revoked."""
    settings = context.settings
    _accounts_only(settings)
    with session_scope(settings.effective_database_url) as session:
        try:
            token, row = create_invite(
                session, body.email, body.is_admin, body.expires_hours, principal.user_id
            )
        except EmailTaken as taken:
            raise email_taken(str(taken)) from None
        except AccountError as error:  # normalize_email's: not an address
            raise ApiError(422, "invalid_email", f"{error}.") from None
        # The fragment never reaches a server log or a Referer header.
        base = settings.public_url or str(request.base_url).rstrip("/")
        return InviteCreated(**_public(row).model_dump(), url=f"{base}/invite#{token}")


@router.get("/invites", responses=error_responses(e409=SIGN_IN_OFF))
def list_invites(principal: Admin, context: ContextDep) -> list[InvitePublic]:
    """Invites not used and not expired, newest first; never their links."""
    _accounts_only(context.settings)
    with session_scope(context.settings.effective_database_url) as session:
        return [_public(row) for row in open_invites(session)]


@router.delete(
    "/invites/{invite_id}",
    status_code=204,
    responses=error_responses(
        e404="No unused invite has this id (invite_not_found)", e409=SIGN_IN_OFF
    ),
)
def revoke(invite_id: str, principal: Admin, context: ContextDep) -> Response:
    """Revoke an unused invite: its link stops working at once."""
    _accounts_only(context.settings)
    with session_scope(context.settings.effective_database_url) as session:
        if not revoke_invite(session, invite_id):
            raise invite_not_found(invite_id)
    return Response(status_code=204)


@accept_router.post(
    "/accept-invite",
    responses=error_responses(
        e403="Password sign-in is off (STEMDECK_OIDC_ONLY=true: password_sign_in_off)",
        e409=f"The email has an account already (email_taken), or {SIGN_IN_OFF}",
        e410="The link was used, revoked or has expired, or is mistyped (invite_invalid)",
        e422="A password that may not be set (invalid_password), or a malformed body",
        e429="Too many failed sign-ins or invites from this address",
        **JSON_BODY_ERRORS,
    ),
)
def accept(
    body: InviteAccept, request: Request, response: Response, context: ContextDep
) -> MePublic:
    """Accept an invite: makes the account with this password and signs it in (sets the
    session cookie), answering as POST /api/auth/login does."""
    settings = context.settings
    _accounts_only(settings)
    if not settings.password_sign_in:
        raise password_sign_in_off()  # the account would sign in with a password
    # Counted as a sign-in attempt, per IP (and per link): guessing links is as slow
    # as guessing passwords.
    key, ip = f"invite:{digest(body.token)}", client_ip(request)
    limiter = SignInLimiter.from_settings(context.redis, settings)
    limiter.count_attempt(key, ip)
    with session_scope(settings.effective_database_url) as session:
        try:
            user = accept_invite(session, body.token, body.password)
        except InviteInvalid as error:
            raise invite_invalid(str(error)) from None
        except PasswordRefused as refused:
            raise ApiError(422, "invalid_password", f"The password: {refused}.") from None
        except EmailTaken as taken:
            raise email_taken(str(taken)) from None
        session_id, principal = begin_session(session, request, settings, user, ip)
    limiter.succeeded(key, ip)
    set_session_cookie(response, request, settings, session_id)
    return me_public(principal, settings)
