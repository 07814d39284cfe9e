"""What every response carries and every request must have: a known Host, security headers.

A Host outside STEMDECK_ALLOWED_HOSTS gets 400 before any route runs: a page on
another site whose name was re-pointed at this machine (DNS rebinding) sends its own
name as Host, so it reads nothing. /health and /ready stay open to any Host, because
orchestrators probe them by IP address and they say nothing about anyone's jobs.

The Content-Security-Policy allows only this origin (and the store's, for stems)
to supply scripts, styles, media and connections, and no site to frame the app. It
lets scripts compile WebAssembly ('wasm-unsafe-eval', which allows no JS eval) for the
player's tempo and pitch.
"""

from __future__ import annotations

from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from stemdeck.api.errors import error_response
from stemdeck.api.request_ids import PROBE_PATHS
from stemdeck.core.settings import ENV_PREFIX, Settings, host_name


def content_security_policy(store_origin: str | None) -> str:
    store = f" {store_origin}" if store_origin else ""
    directives = {
        "default-src": "'self'",
        # WebAssembly only (not JS eval): the player's time-stretcher is compiled WASM.
        "script-src": "'self' 'wasm-unsafe-eval'",
        "style-src": "'self'",
        "img-src": "'self' data: blob:",
        "font-src": "'self'",
        "media-src": f"'self' blob:{store}",
        "connect-src": f"'self'{store}",
        "worker-src": "'self' blob:",
        "object-src": "'none'",
        "base-uri": "'none'",
        "form-action": "'self'",
        "frame-ancestors": "'none'",
    }
    return "; ".join(f"{name} {value}" for name, value in directives.items())


def security_headers(store_origin: str | None) -> list[tuple[bytes, bytes]]:
    values = {
        "Content-Security-Policy": content_security_policy(store_origin),
        "X-Content-Type-Options": "nosniff",
        "X-Frame-Options": "DENY",
        "Referrer-Policy": "no-referrer",
        "Cross-Origin-Opener-Policy": "same-origin",
    }
    return [(name.lower().encode(), value.encode()) for name, value in values.items()]


def _host_not_allowed(host: str) -> tuple[int, str, str]:
    return (
        400,
        "host_not_allowed",
        f"This server does not answer to the host name {host!r}. If that is the address "
        f"people use, add it to {ENV_PREFIX}ALLOWED_HOSTS (or set {ENV_PREFIX}PUBLIC_URL "
        "to it) and restart.",
    )


class FrontDoor:
    """Pure ASGI middleware: refuses unknown Host names, adds the security headers."""

    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self.app = app
        self.allowed = settings.host_allowlist
        self.headers = security_headers(settings.store_origin)

    def _refuses(self, host: str, path: str) -> bool:
        return self.allowed is not None and host not in self.allowed and path not in PROBE_PATHS

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        handler = self.app
        host = host_name(Headers(scope=scope).get("host", ""))
        if self._refuses(host, scope["path"]):
            handler = error_response(*_host_not_allowed(host))

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in self.headers:
                    # A route that set its own (a stricter CSP, say) keeps it.
                    if name.decode() not in headers:
                        headers.raw.append((name, value))
            await send(message)

        await handler(scope, receive, send_with_headers)
