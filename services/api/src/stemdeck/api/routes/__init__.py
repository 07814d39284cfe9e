"""Every router, mounted in one place: the API under /api; health and compat at the root."""

from __future__ import annotations

from fastapi import APIRouter

from stemdeck.api.routes import (
    account,
    admin_users,
    auth,
    batches,
    compat,
    files,
    formats,
    health,
    invites,
    job_events,
    jobs,
    oidc,
    stems,
    strategies,
    system,
    usage,
    webhooks,
)

api_router = APIRouter(prefix="/api")
api_router.include_router(jobs.router)
api_router.include_router(job_events.router)
api_router.include_router(stems.router)
api_router.include_router(files.router)
api_router.include_router(strategies.router)
api_router.include_router(formats.router)
api_router.include_router(auth.router)
api_router.include_router(oidc.router)
api_router.include_router(usage.router)
api_router.include_router(account.router)
api_router.include_router(admin_users.router)
api_router.include_router(system.router)
api_router.include_router(invites.router)
api_router.include_router(invites.accept_router)
api_router.include_router(webhooks.router)
api_router.include_router(batches.router)

root_router = APIRouter()
root_router.include_router(api_router)
root_router.include_router(health.router)
root_router.include_router(compat.router)
