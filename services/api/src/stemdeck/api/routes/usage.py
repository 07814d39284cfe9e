"""/api/account/usage: the caller's usage against each of their quotas."""

from __future__ import annotations

from fastapi import APIRouter

from stemdeck.api.auth.principal import JobsReader
from stemdeck.api.deps import SessionDep, SettingsDep
from stemdeck.api.schemas import SIGN_IN_ERRORS, AudioUsagePublic, QuotaUsagePublic, UsagePublic
from stemdeck.core.accounts.audio_ledger import DAY
from stemdeck.core.accounts.quotas import Quota, Quotas, quotas_of, usage_of
from stemdeck.core.models import User
from stemdeck.core.settings import AuthMode

router = APIRouter(prefix="/account", tags=["account"], responses=SIGN_IN_ERRORS)

# Under auth=none the one local user has no quotas: the same figures, nothing allowed.
UNLIMITED = Quotas(*[Quota(None, False)] * 3)


@router.get("/usage", name="read_usage", summary="Your usage against each of your quotas")
def read_usage(session: SessionDep, settings: SettingsDep, principal: JobsReader) -> UsagePublic:
    """Jobs at once, audio minutes in the last 24 hours and stored bytes; `allowed` is
    null where there is no limit."""
    user = session.get(User, principal.user_id)
    quotas = (
        quotas_of(user, settings)
        if user is not None and settings.auth is AuthMode.accounts
        else UNLIMITED
    )
    usage = usage_of(session, principal.user_id)
    oldest = usage.oldest_counted_at
    return UsagePublic(
        active_jobs=QuotaUsagePublic(used=usage.active_jobs, allowed=quotas.active_jobs.allowed),
        audio_minutes_today=AudioUsagePublic(
            used=usage.audio_minutes,
            allowed=quotas.audio_minutes_per_day.allowed,
            resets_at=oldest + DAY if oldest is not None else None,
        ),
        storage_bytes=QuotaUsagePublic(
            used=usage.storage_bytes, allowed=quotas.storage_bytes.allowed
        ),
    )
