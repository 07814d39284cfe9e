"""/api/admin/users: admins list users with their quotas and usage, and change a
user's role, whether they may sign in, and their own quotas.

The rules are core's (core/accounts/users.py, quotas.py), shared with the
`stemdeck users` commands: no admin can disable or demote themself or the first
admin, and disabling ends the user's sessions and tokens in the same transaction.
"""

from __future__ import annotations

from fastapi import APIRouter
from sqlalchemy.orm import Session

from stemdeck.api.auth.body import JsonBodyRoute
from stemdeck.api.auth.principal import Admin
from stemdeck.api.deps import ContextDep
from stemdeck.api.errors import ApiError, user_not_found
from stemdeck.api.schemas import (
    JSON_BODY_ERRORS,
    SIGN_IN_ERRORS,
    AdminUsagePublic,
    AdminUserPublic,
    AdminUserUpdate,
    QuotaOverridesPublic,
    error_responses,
)
from stemdeck.core.accounts.errors import AccountError
from stemdeck.core.accounts.quotas import MIB, usage_of
from stemdeck.core.accounts.users import list_users, set_admin, set_disabled, set_user_quotas
from stemdeck.core.db import session_scope
from stemdeck.core.models import LOCAL_ADMIN_ID, User

router = APIRouter(
    prefix="/admin", tags=["admin"], route_class=JsonBodyRoute, responses=SIGN_IN_ERRORS
)


def admin_user(session: Session, user: User) -> AdminUserPublic:
    usage = usage_of(session, user.id)
    storage = user.storage_bytes
    return AdminUserPublic(
        id=user.id,
        email=user.email,
        is_admin=user.is_admin,
        disabled=user.disabled_at is not None,
        first_admin=user.id == LOCAL_ADMIN_ID,
        created_at=user.created_at,
        quotas=QuotaOverridesPublic(
            active_jobs=user.max_active_jobs,
            audio_minutes_per_day=user.audio_minutes_per_day,
            storage_mb=storage // MIB if storage is not None else None,
        ),
        usage=AdminUsagePublic(
            active_jobs=usage.active_jobs,
            audio_minutes_today=usage.audio_minutes,
            storage_bytes=usage.storage_bytes,
        ),
    )


@router.get("/users")
def list_all_users(principal: Admin, context: ContextDep) -> list[AdminUserPublic]:
    """Every user, oldest first, with their own quotas (null: the default) and usage."""
    with session_scope(context.settings.effective_database_url) as session:
        return [admin_user(session, user) for user in list_users(session)]


@router.patch(
    "/users/{user_id}",
    responses=error_responses(
        e404="No user has this id (user_not_found)",
        e409="Disabling or demoting yourself or the first admin (user_change_refused)",
        e422="A malformed body: an unknown field, a wrong type, a quota out of range",
        **JSON_BODY_ERRORS,
    ),
)
def update_user(
    user_id: str, body: AdminUserUpdate, principal: Admin, context: ContextDep
) -> AdminUserPublic:
    """Change a user's role, whether they are disabled (which ends all their sessions and
    tokens at once), and their own quotas. All or nothing: a refusal changes nothing."""
    with session_scope(context.settings.effective_database_url) as session:
        user = session.get(User, user_id, with_for_update=True)
        if user is None:
            raise user_not_found(user_id)
        try:
            if body.is_admin is not None:
                set_admin(user, body.is_admin, principal.user_id)
            if body.disabled is not None:
                set_disabled(session, user, body.disabled, principal.user_id)
        except AccountError as error:
            raise ApiError(409, "user_change_refused", f"{error}.") from None
        if body.quotas is not None:
            quotas = body.quotas
            changes = {name: getattr(quotas, name) for name in quotas.model_fields_set}
            try:
                set_user_quotas(user, changes)
            except AccountError as error:  # the schema's bounds are core's: a safety net
                raise ApiError(422, "invalid_request", f"{error}.") from None
        session.flush()
        changed = admin_user(session, user)
    # Committed: the user's cookies and tokens are looked up afresh (disabled, role).
    context.principals.forget_user(user_id)
    return changed
