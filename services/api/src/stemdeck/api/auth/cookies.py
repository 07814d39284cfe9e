"""The session cookie: set at sign-in, cleared at sign-out or when its session ended.

HttpOnly (scripts never see it), SameSite=Lax, Path=/, and Secure whenever browsers
reach Stemdeck over https (the public URL says so, or this request came that way).
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from stemdeck.api.auth.principal import SESSION_COOKIE
from stemdeck.core.accounts.sessions import SessionLimits
from stemdeck.core.settings import Settings


def secure_cookie(request: Request, settings: Settings) -> bool:
    """Whether cookies set now get ``Secure`` (the sign-in flow's too)."""
    return settings.public_url.startswith("https://") or request.url.scheme == "https"


def set_session_cookie(
    response: Response, request: Request, settings: Settings, session_id: str
) -> None:
    response.set_cookie(
        SESSION_COOKIE,
        session_id,
        max_age=int(SessionLimits.from_settings(settings).lifetime.total_seconds()),
        path="/",
        secure=secure_cookie(request, settings),
        httponly=True,
        samesite="lax",
    )


def clear_session_cookie(response: Response, request: Request, settings: Settings) -> None:
    response.delete_cookie(
        SESSION_COOKIE,
        path="/",
        secure=secure_cookie(request, settings),
        httponly=True,
        samesite="lax",
    )
