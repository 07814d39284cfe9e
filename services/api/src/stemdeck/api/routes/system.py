"""/api/system: the workers, the queues and the latest failures, for admins.

The picture is core's (core/system.py), the same `stemdeck status` prints.
"""

from __future__ import annotations

from fastapi import APIRouter

from stemdeck.api.auth.principal import Admin
from stemdeck.api.deps import ContextDep
from stemdeck.api.schemas import SIGN_IN_ERRORS
from stemdeck.core.db import session_scope
from stemdeck.core.system import SystemStatus, system_status

router = APIRouter(tags=["admin"], responses=SIGN_IN_ERRORS)


@router.get("/system", summary="Workers, queue depths and the latest failures (admins)")
def read_system(principal: Admin, context: ContextDep) -> SystemStatus:
    """Each worker (device, current job, models loaded, memory, last report; ``stale``
    when it stopped reporting), each queue's depth and the wait of its oldest job, and
    the latest failed jobs with their reasons."""
    with session_scope(context.settings.effective_database_url) as session:
        return system_status(context.redis, session)
