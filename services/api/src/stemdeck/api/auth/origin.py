"""Cross-site requests: a browser signed in by cookie changes nothing for another site.

Under ``STEMDECK_AUTH=accounts``, a POST, PUT, PATCH or DELETE that carries the
session cookie (and every sign-in) must come from Stemdeck's own origin:

1. ``Origin`` equal to STEMDECK_PUBLIC_URL's origin, or to the request's own
   scheme://host, passes;
2. else ``Sec-Fetch-Site`` decides when the browser sent it: ``same-origin`` or
   ``none`` (typed in the address bar) passes, anything else is refused;
3. else an ``Origin`` that did not match is refused;
4. a request with neither header was not sent by a browser (every current browser
   sends Origin with these methods), so it is no forgery: curl with a cookie jar passes.

Step 2 comes after step 1 so a proxy that hides the browser's scheme (TLS ended in
front) does not refuse the app's own requests: Sec-Fetch-Site is set by the browser,
which knows. Go's net/http CrossOriginProtection draws the same lines.
Requests with an Authorization header are exempt: a browser never adds one by itself.
"""

from __future__ import annotations

from starlette.datastructures import Headers
from starlette.requests import cookie_parser
from starlette.types import ASGIApp, Receive, Scope, Send

from stemdeck.api.auth.principal import SESSION_COOKIE
from stemdeck.api.errors import cross_site_request, error_response
from stemdeck.core.settings import AuthMode, Settings

UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
SIGN_IN_PATH = "/api/auth/login"
_TRUSTED_FETCH_SITES = frozenset({"same-origin", "none"})


def own_origins(scope: Scope, headers: Headers, public_origin: str | None) -> set[str]:
    """The origins this request may come from: the public URL's and its own address's."""
    origins = {public_origin} if public_origin else set()
    if host := headers.get("host"):
        origins.add(f"{scope.get('scheme', 'http')}://{host}".lower())
    return origins


def is_same_origin(scope: Scope, headers: Headers, public_origin: str | None) -> bool:
    origin = headers.get("origin")
    if origin and origin.lower() in own_origins(scope, headers, public_origin):
        return True
    fetch_site = headers.get("sec-fetch-site")
    if fetch_site is not None:
        return fetch_site.lower() in _TRUSTED_FETCH_SITES
    return origin is None


def _needs_check(scope: Scope, headers: Headers) -> bool:
    if scope["method"] not in UNSAFE_METHODS or "authorization" in headers:
        return False
    if scope["path"] == SIGN_IN_PATH:
        return True  # a forged sign-in would put the victim in the attacker's account
    return SESSION_COOKIE in cookie_parser(headers.get("cookie", ""))


class CrossSiteGuard:
    """Pure ASGI middleware: 403 ``cross_site_request`` for a forged cookie request."""

    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self.app = app
        self.enabled = settings.auth is AuthMode.accounts
        self.public_origin = settings.public_origin

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.enabled and scope["type"] == "http":
            headers = Headers(scope=scope)
            if _needs_check(scope, headers) and not is_same_origin(
                scope, headers, self.public_origin
            ):
                refused = cross_site_request()
                response = error_response(refused.status, refused.code, refused.message)
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)
